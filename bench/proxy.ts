import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withConnection, type TlsFiles } from '../src/redis/connect.ts';
import { clientTlsOf } from '../src/local/tls.ts';
import { collectStatus } from '../src/observe/status.ts';
import { statusTargetOf } from '../src/local/lifecycle.ts';
import { withBenchDeployment } from './harness.ts';
import { writePrivateFile } from '../src/local/fsutil.ts';
import { UserError } from '../src/errors.ts';
import { addressKey } from '../src/redis/address.ts';
import { CLI_BIN, NODE_FLAGS } from '../src/root.ts';
import { endpointsOf, type LocalDeployment } from '../src/local/deployment.ts';

/**
 * A throwaway ACL user for redis-benchmark, created on each node of the bench's own deployment only:
 * `nopass`, so the `-a` that redis-benchmark needs in its argv carries no secret.
 */
const BENCH_USER = 'redis-ha-bench';
const BENCH_PASS = 'unused-nopass';

interface Run {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time the proxy's processes spent per request (none for direct). */
  readonly cpuUs?: number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function requireBinary(name: string, pkg: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new UserError(`bench needs ${name}; install it with 'apt-get install -y ${pkg}'`);
  return found;
}

/** One redis-benchmark run (SET and GET), parsed from its CSV: requests/s and latency, averaged over the two tests. */
function redisBenchmark(target: Target, pipeline: number, requests: number, clients: number): Run {
  const { port, tls, pid, alone } = target;
  const cpuBefore = pid ? cpuMicros(pid, alone) : 0;
  const r = spawnSync(
    'redis-benchmark',
    // With TLS, the CA alone: the bench deployment lets clients in without a certificate (tls.authClients optional).
    ['-h', '127.0.0.1', '-p', String(port), ...(tls ? ['--tls', '--cacert', tls.ca] : []), '--user', BENCH_USER, '-a', BENCH_PASS, '-c', String(clients), '-n', String(requests), '-P', String(pipeline), '-t', 'set,get', '--csv'],
    { encoding: 'utf8', timeout: 300_000 },
  );
  const rows = r.stdout.split('\n').filter((l) => /^"(SET|GET)"/.test(l)).map((l) => l.split(',').map((f) => Number(f.replace(/"/g, ''))));
  if (r.status !== 0 || rows.length !== 2) throw new Error(`redis-benchmark against port ${port} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const avg = (i: number) => (rows[0][i] + rows[1][i]) / 2;
  const cpuUs = pid ? Number(((cpuMicros(pid, alone) - cpuBefore) / (2 * requests)).toFixed(2)) : undefined;
  return { rps: avg(1), p50Ms: avg(4), p99Ms: avg(6), cpuUs };
}

/** Where redis-benchmark connects, the CA when that port serves TLS, and the proxy's pid when it is one. */
export interface Target {
  readonly port: number;
  readonly tls?: TlsFiles;
  readonly pid?: number;
  /** Count `pid` alone, not its child processes (the supervisor's children are the Redis nodes). */
  readonly alone?: boolean;
}

/**
 * HAProxy in `mode tcp`: clients' bytes (TLS or not) pass through untouched. With TLS its own
 * role:master check speaks TLS to the nodes (`check-ssl`), verifying them against the CA.
 */
function haproxyConfig(d: LocalDeployment, port: number, tls?: TlsFiles): string {
  const check = [
    `  tcp-check send "AUTH ${BENCH_USER} ${BENCH_PASS}\\r\\n"`,
    '  tcp-check expect string +OK',
    '  tcp-check send PING\\r\\n',
    '  tcp-check expect string +PONG',
    '  tcp-check send info\\ replication\\r\\n',
    '  tcp-check expect string role:master',
    '  tcp-check send QUIT\\r\\n',
    '  tcp-check expect string +OK',
  ];
  return [
    'global',
    '  maxconn 8000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 1h',
    '  timeout server 1h',
    `frontend redis_master`,
    `  bind 127.0.0.1:${port}`,
    '  default_backend redis_nodes',
    'backend redis_nodes',
    '  option tcp-check',
    ...check,
    ...d.nodes.map((n) => `  server ${n.id} ${addressKey(n)} check inter 1s${tls ? ` check-ssl verify required ca-file ${tls.ca}` : ''}`),
    '',
  ].join('\n');
}

/** Waits until 20 connections in a row reach the master (HAProxy counts servers up until its first checks fail). */
async function waitRoutesToMaster(port: number, password: string, what: string, tls?: TlsFiles): Promise<void> {
  const deadline = Date.now() + 20_000;
  let inARow = 0;
  for (;;) {
    try {
      const role = await withConnection({ host: '127.0.0.1', port, password, tls }, (c) => c.call('ROLE'), 500);
      inARow = Array.isArray(role) && role[0] === 'master' ? inARow + 1 : 0;
      if (inARow >= 20) return;
      continue;
    } catch {
      inARow = 0;
    }
    if (Date.now() > deadline) throw new Error(`${what} on port ${port} did not reach the master within 20 s`);
    await sleep(200);
  }
}

/** A process and its child processes (our proxy's workers, HAProxy's master-worker). */
function processTree(root: number): number[] {
  const pids = [root];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === root) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Resident memory of a process tree. */
function rssBytes(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    total += m ? Number(m[1]) * 1024 : 0;
  }
  return total;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time (user + system) a process tree (or the process `alone`) has used so far, in microseconds. */
function cpuMicros(root: number, alone = false): number {
  let ticks = 0;
  for (const pid of alone ? [root] : processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      // gone meanwhile
    }
  }
  return (ticks * 1e6) / CLOCK_TICKS;
}

/**
 * Opens `count` idle client connections to `port`, measures the proxy's RSS, closes them. With
 * `speak`, each first sends PING and waits for the answer (NOAUTH: the bench sends no password), so
 * the proxy has bound it to a backend: what a pool of idle application connections costs.
 */
async function idleConnections(port: number, pid: number, count: number, speak = false): Promise<{ connections: number; rssBeforeBytes: number; rssWithConnectionsBytes: number; perConnectionBytes: number }> {
  const before = rssBytes(pid);
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < count; i += 500) {
      const batch = Array.from({ length: Math.min(500, count - i) }, () => new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          if (!speak) return resolve(s);
          s.once('data', () => resolve(s));
          s.write('PING\r\n');
        });
        s.on('error', reject);
      }));
      sockets.push(...(await Promise.all(batch)));
    }
    await sleep(1000);
    const during = rssBytes(pid);
    return { connections: sockets.length, rssBeforeBytes: before, rssWithConnectionsBytes: during, perConnectionBytes: Math.round((during - before) / sockets.length) };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

export interface ProxyBenchOptions {
  readonly runs: number;
  readonly requests: number;
  readonly clients: number;
  readonly idle: number;
  /** Our proxy's processes; default one per CPU, as HAProxy runs one thread per CPU. */
  readonly workers?: number;
  readonly portBase: number;
  /** Also a TLS deployment (at portBase + 30), measured in the same interleaved runs: the TLS cost. */
  readonly tls?: boolean;
  /** Also our endpoint on the streams data path (REDIS_HA_DATAPATH=streams), to compare the data paths. */
  readonly streams?: boolean;
  readonly log: (line: string) => void;
}

type Figures = { opsPerSec: number; p50Ms: number; p99Ms: number; cpuUsPerRequest?: number; runs: number };

/**
 * One deployment under test: its master directly, our endpoint (`redis-ha proxy`), HAProxy in front of
 * it, and the master endpoint `up` itself serves (inside the supervisor, which is what users of `up` get).
 */
export interface Side {
  readonly targets: { direct: Target; ours: Target & { pid: number }; haproxy: Target & { pid: number }; up: Target & { pid: number; alone: true }; oursStreams?: Target };
  /**
   * Starts another pair, our endpoint and HAProxy, fresh, on the two ports given (an idle-connection
   * count must not be read on a process whose memory earlier connections already grew); `stop` ends them.
   */
  readonly freshPair: (ours: number, haproxy: number) => Promise<{ ours: number; haproxy: number; stop: () => Promise<void> }>;
}

/**
 * Readies one deployment for the benchmark: the nopass bench user on every node, our endpoint as its
 * own process (`--workers` one per CPU, as HAProxy runs threads) and HAProxy, both routing to the master.
 */
export async function prepareSide(d: LocalDeployment, supervisor: number, portBase: number, haproxyBin: string, work: string, children: ChildProcess[], workers: number, streams: boolean): Promise<Side> {
  const tls = clientTlsOf(d);
  const ours = portBase + 25;
  const haproxyPort = portBase + 26;
  const oursStreams = portBase + 27;
  const status = await collectStatus(statusTargetOf(d));
  const master = status.master;
  if (!master) throw new Error(`no master after up of ${d.spec.name}`);
  for (const n of d.nodes) {
    await withConnection({ ...n, password: d.spec.auth.password, tls }, (c) => c.call('ACL', 'SETUSER', BENCH_USER, 'reset', 'on', 'nopass', '~*', '&*', '+@all'));
  }
  const tlsFlags = tls ? ['--tls', '--cacert', tls.ca, '--cert', tls.cert!, '--key', tls.key!] : [];
  const startOurs = (port: number, datapath: 'handles' | 'streams'): ChildProcess => {
    const child = spawn(process.execPath, [...NODE_FLAGS, CLI_BIN, 'proxy', '--sentinels', d.sentinels.map(addressKey).join(','), '--master-name', d.masterName, '--master-port', String(port), '--replicas-port', '0', '--workers', String(workers), ...tlsFlags], {
      env: { ...process.env, REDIS_HA_PASSWORD: d.spec.auth.password, REDIS_HA_SENTINEL_PASSWORD: d.spec.auth.sentinelPassword, REDIS_HA_DATAPATH: datapath },
      stdio: 'ignore',
    });
    children.push(child);
    return child;
  };
  const startHaproxy = (port: number): ChildProcess => {
    const configFile = join(work, `haproxy-${d.spec.name}-${port}.cfg`);
    writePrivateFile(configFile, haproxyConfig(d, port, tls));
    const child = spawn(haproxyBin, ['-f', configFile, '-db'], { stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const proxy = startOurs(ours, 'handles');
  const streamsProxy = streams ? startOurs(oursStreams, 'streams') : undefined;
  const haproxy = startHaproxy(haproxyPort);
  await waitRoutesToMaster(ours, d.spec.auth.password, 'redis-ha proxy', tls);
  await waitRoutesToMaster(haproxyPort, d.spec.auth.password, 'HAProxy', tls);
  if (streamsProxy) await waitRoutesToMaster(oursStreams, d.spec.auth.password, 'redis-ha proxy (streams data path)', tls);
  const freshPair = async (oursPort: number, haproxyAt: number) => {
    const pair = [startOurs(oursPort, 'handles'), startHaproxy(haproxyAt)];
    const stop = () => Promise.all(pair.map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve(undefined);
      c.once('exit', resolve);
      c.kill('SIGTERM');
    }))).then(() => {});
    try {
      await waitRoutesToMaster(oursPort, d.spec.auth.password, 'redis-ha proxy', tls);
      await waitRoutesToMaster(haproxyAt, d.spec.auth.password, 'HAProxy', tls);
    } catch (err) {
      await stop();
      throw err;
    }
    return { ours: pair[0].pid as number, haproxy: pair[1].pid as number, stop };
  };
  return {
    targets: {
      direct: { port: master.port, tls },
      ours: { port: ours, tls, pid: proxy.pid as number },
      haproxy: { port: haproxyPort, tls, pid: haproxy.pid as number },
      up: { port: endpointsOf(d).master.port, tls, pid: supervisor, alone: true },
      ...(streamsProxy ? { oursStreams: { port: oursStreams, tls, pid: streamsProxy.pid } } : {}),
    },
    freshPair,
  };
}

/** `tls` over `plain`: the throughput kept and the latency added by TLS. */
function tlsCost(plain: Figures, tls: Figures) {
  return { opsPerSecRatio: Number((tls.opsPerSec / plain.opsPerSec).toFixed(3)), addedP50Us: Math.round((tls.p50Ms - plain.p50Ms) * 1000) };
}

/**
 * redis-benchmark against the master directly, through our master endpoint (`redis-ha proxy`, its own
 * process) and through HAProxy (`mode tcp` with the usual `role:master` tcp-check), all in one run on
 * one deployment, runs interleaved so that machine noise falls on all three alike. With `tls`, the same
 * three against a second deployment that serves TLS only (the proxies pass TLS through), interleaved
 * with the plaintext runs, and the cost of TLS for each.
 */
/** Our proxy's processes: as many as HAProxy runs threads by default (one per CPU), unless told. */
function workersOf(o: ProxyBenchOptions): number {
  return o.workers ?? availableParallelism();
}

export async function benchProxy(o: ProxyBenchOptions) {
  requireBinary('redis-benchmark', 'redis-tools');
  const haproxyBin = requireBinary('haproxy', 'haproxy');
  const work = mkdtempSync(join(tmpdir(), 'redis-ha-bench-proxy-'));
  const children: ChildProcess[] = [];
  // The benchmark adds a user of its own (ACL SETUSER), which the default application rules forbid.
  const auth = { aclRules: '~* &* +@all' };
  try {
    return await withBenchDeployment({ name: 'bench-proxy', auth }, o.portBase, async (d, supervisor) => {
      const plain = await prepareSide(d, supervisor, o.portBase, haproxyBin, work, children, workersOf(o), o.streams ?? false);
      if (!o.tls) return await measure(o, plain);
      return await withBenchDeployment({ name: 'bench-proxy-tls', auth, tls: { enabled: true } }, o.portBase + 30, async (dt, supervisorTls) =>
        measure(o, plain, await prepareSide(dt, supervisorTls, o.portBase + 30, haproxyBin, work, children, workersOf(o), o.streams ?? false)),
      );
    });
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
}

async function measure(o: ProxyBenchOptions, plain: Side, tls?: Side) {
  const targets: Record<string, Target> = { ...plain.targets };
  if (tls) for (const [name, t] of Object.entries(tls.targets)) targets[`${name}Tls`] = t;
  const runs: Record<string, Record<string, Run[]>> = {};
  // Throughput at -c clients with -P 1 and -P 16; then latency unloaded (one client, -P 1), where the
  // added p50 is what the proxy hop itself costs rather than queueing on a saturated machine.
  const settings = [
    { key: 'P1', pipeline: 1, clients: o.clients, requests: o.requests },
    { key: 'P16', pipeline: 16, clients: o.clients, requests: o.requests * 8 },
    { key: 'oneClient', pipeline: 1, clients: 1, requests: Math.max(1000, Math.round(o.requests / 5)) },
  ];
  for (const setting of settings) {
    for (let i = 0; i < o.runs; i++) {
      // Rotate the order each round: no target always runs first (or last) on a warming machine.
      const order = Object.keys(targets).map((_, k, all) => all[(k + i) % all.length]);
      for (const name of order) {
        const run = redisBenchmark(targets[name], setting.pipeline, setting.requests, setting.clients);
        ((runs[setting.key] ??= {})[name] ??= []).push(run);
        o.log(`${setting.key} run ${i + 1}/${o.runs} ${name}: ${Math.round(run.rps)} ops/s, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms`);
      }
    }
  }
  const results: Record<string, unknown> = {};
  for (const [depth, byTarget] of Object.entries(runs)) {
    const m = Object.fromEntries(
      Object.entries(byTarget).map(([name, rs]) => {
        const cpu = rs.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
        return [name, { opsPerSec: Math.round(median(rs.map((r) => r.rps))), p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)), ...(cpu.length ? { cpuUsPerRequest: median(cpu) } : {}), runs: rs.length }];
      }),
    ) as Record<string, Figures>;
    results[depth] = {
      ...m,
      oursOverHaproxy: Number((m.ours.opsPerSec / m.haproxy.opsPerSec).toFixed(3)),
      /** The endpoint inside `up`'s supervisor (one process beside the controller), over HAProxy. */
      upOverHaproxy: Number((m.up.opsPerSec / m.haproxy.opsPerSec).toFixed(3)),
      oursOverDirect: Number((m.ours.opsPerSec / m.direct.opsPerSec).toFixed(3)),
      haproxyOverDirect: Number((m.haproxy.opsPerSec / m.direct.opsPerSec).toFixed(3)),
      addedP50Us: { ours: Math.round((m.ours.p50Ms - m.direct.p50Ms) * 1000), up: Math.round((m.up.p50Ms - m.direct.p50Ms) * 1000), haproxy: Math.round((m.haproxy.p50Ms - m.direct.p50Ms) * 1000) },
      // CPU per request is steadier than throughput on a busy machine: what each proxy itself spends.
      cpuOursOverHaproxy: Number(((m.ours.cpuUsPerRequest ?? 0) / (m.haproxy.cpuUsPerRequest ?? 1)).toFixed(3)),
      cpuUpOverHaproxy: Number(((m.up.cpuUsPerRequest ?? 0) / (m.haproxy.cpuUsPerRequest ?? 1)).toFixed(3)),
      ...(m.oursStreams ? { oursStreamsOverHaproxy: Number((m.oursStreams.opsPerSec / m.haproxy.opsPerSec).toFixed(3)), oursOverOursStreams: Number((m.ours.opsPerSec / m.oursStreams.opsPerSec).toFixed(3)) } : {}),
      ...(tls
        ? {
            oursOverHaproxyTls: Number((m.oursTls.opsPerSec / m.haproxyTls.opsPerSec).toFixed(3)),
            tlsCost: { direct: tlsCost(m.direct, m.directTls), ours: tlsCost(m.ours, m.oursTls), haproxy: tlsCost(m.haproxy, m.haproxyTls) },
          }
        : {}),
    };
  }
  o.log(`opening ${o.idle} idle connections to each proxy`);
  // Bound connections hold a Redis client each: stay well inside Redis's maxclients (10,000) and HAProxy's maxconn.
  const bound = Math.min(o.idle, 5000);
  // Each count on a fresh pair of proxies (ports P+28, P+29), so that neither reads memory an earlier
  // count grew: the proxies under load above, or the other count.
  const onFreshPair = async (count: (pair: { ours: number; haproxy: number }) => Promise<Record<string, Awaited<ReturnType<typeof idleConnections>>>>) => {
    const pair = await plain.freshPair(o.portBase + 28, o.portBase + 29);
    try {
      return await count(pair);
    } finally {
      await pair.stop();
    }
  };
  const idle = {
    ...(await onFreshPair(async (p) => ({
      ours: await idleConnections(o.portBase + 28, p.ours, o.idle),
      haproxy: await idleConnections(o.portBase + 29, p.haproxy, Math.min(o.idle, 7000)),
    }))),
    ...(await onFreshPair(async (p) => ({
      oursBound: await idleConnections(o.portBase + 28, p.ours, bound, true),
      haproxyBound: await idleConnections(o.portBase + 29, p.haproxy, bound, true),
    }))),
  };
  return {
    benchmark: 'proxy',
    tool: `redis-benchmark -t set,get: -c ${o.clients} at -P 1 (${o.requests} requests) and -P 16 (${o.requests * 8}); oneClient: -c 1 -P 1; median of ${o.runs} interleaved runs each`,
    machine: { cpus: availableParallelism(), note: 'client, proxies and Redis share these cores' },
    ourWorkers: workersOf(o),
    ourDatapath: 'handles (src/endpoint/datapath.ts)',
    ...(o.streams ? { oursStreams: 'our endpoint on the streams data path (REDIS_HA_DATAPATH=streams), same workers' } : {}),
    ...(tls ? { tls: 'xTls targets: a second deployment serving TLS only (redis-benchmark --tls --cacert; our endpoint and HAProxy pass TLS through in tcp mode); tlsCost = TLS over plaintext' } : {}),
    results,
    idleConnections: idle,
  };
}
