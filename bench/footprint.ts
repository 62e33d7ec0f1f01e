import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI_BIN, NODE_FLAGS } from '../src/root.ts';
import { collectStatus } from '../src/observe/status.ts';
import { statusTargetOf } from '../src/local/lifecycle.ts';
import { readRuntime } from '../src/local/supervisor.ts';
import { removedAfter, withBenchDeployment } from './harness.ts';
import { median, prepareSide, requireBinary } from './proxy.ts';

const MIB = 1024 * 1024;

/** A process's resident memory and how much of it is anonymous (heap, stacks) rather than mapped files (its binary). */
interface Memory {
  readonly rssBytes: number;
  readonly anonymousBytes: number;
}

function memoryOf(pid: number): Memory {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN) * 1024;
  return { rssBytes: kb('Rss'), anonymousBytes: kb('Anonymous') };
}

/** Runs the CLI as a user's shell does (npx runs it with the shebang's NODE_FLAGS) and times it to its exit. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; ms: number; stderr: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...NODE_FLAGS, CLI_BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, ms: performance.now() - started, stderr }));
  });
}

/** `up --detach` from the shell until it returns healthy, in a state directory of its own; then `down`. */
async function timeUpDetach(portBase: number): Promise<number> {
  const name = 'bench-footprint-up';
  const home = mkdtempSync(join(tmpdir(), 'redis-ha-bench-footprint-'));
  const env = { ...process.env, REDIS_HA_HOME: home };
  const remove = async () => {
    await runCli(['down', '--name', name], env);
    rmSync(home, { recursive: true, force: true });
  };
  return removedAfter(name, remove, async () => {
    const up = await runCli(['up', '--detach', '--name', name, '--port-base', String(portBase)], env);
    if (up.code !== 0) throw new Error(`up --detach exited ${up.code}: ${up.stderr.trim().split('\n').at(-1)}`);
    return up.ms;
  });
}

/** Bare Node with NODE_FLAGS, idle: what any Node.js process of ours costs before our code. */
async function bareNode(idleMs: number): Promise<Memory> {
  const child = spawn(process.execPath, [...NODE_FLAGS, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(idleMs);
    return memoryOf(child.pid as number);
  } finally {
    child.kill('SIGTERM');
  }
}

interface Sample {
  readonly upDetachMs: number;
  readonly supervisor: Memory;
  readonly redisServer: Memory;
  readonly proxyWorker: Memory;
  readonly haproxy: Memory;
  readonly bareNode: Memory;
}

/**
 * One run: `up --detach` timed from the shell; then a deployment with one `redis-ha proxy` worker and
 * HAProxy in front of it (as bench proxy starts them), left idle for `idleMs`, and the resident memory of
 * its supervisor, its master's redis-server, the proxy worker and HAProxy read together.
 */
async function sample(portBase: number, idleMs: number, haproxyBin: string): Promise<Sample> {
  const upDetachMs = await timeUpDetach(portBase + 40);
  const work = mkdtempSync(join(tmpdir(), 'redis-ha-bench-footprint-'));
  const children: ChildProcess[] = [];
  try {
    // bench proxy's side adds a user of its own (ACL SETUSER), which the default application rules forbid.
    return await withBenchDeployment({ name: 'bench-footprint', auth: { aclRules: '~* &* +@all' } }, portBase, async (d, supervisor) => {
      const side = await prepareSide(d, supervisor, portBase, haproxyBin, work, children, 1, false);
      const masterId = (await collectStatus(statusTargetOf(d))).nodes.find((n) => n.role === 'master')?.id;
      const masterPid = masterId ? readRuntime(d.stateDir)?.members[masterId]?.pid : undefined;
      if (!masterPid) throw new Error(`no master process found in ${d.stateDir}`);
      const bare = bareNode(idleMs);
      await sleep(idleMs);
      return {
        upDetachMs,
        supervisor: memoryOf(supervisor),
        redisServer: memoryOf(masterPid),
        proxyWorker: memoryOf(side.targets.ours.pid),
        haproxy: memoryOf(side.targets.haproxy.pid),
        bareNode: await bare,
      };
    });
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
}

function mib(bytes: number): number {
  return Math.round((bytes / MIB) * 10) / 10;
}

/** Medians over the runs, in MiB, of one process's memory. */
function memorySummary(samples: Sample[], pick: (s: Sample) => Memory) {
  const rss = median(samples.map((s) => pick(s).rssBytes));
  const anonymous = median(samples.map((s) => pick(s).anonymousBytes));
  return { rssMiB: mib(rss), anonymousMiB: mib(anonymous), fileBackedMiB: mib(rss - anonymous) };
}

export async function benchFootprint(o: { runs: number; idleMs: number; portBase: number; log: (line: string) => void }) {
  const haproxyBin = requireBinary('haproxy', 'haproxy');
  requireBinary('redis-benchmark', 'redis-tools');
  const samples: Sample[] = [];
  for (let i = 0; i < o.runs; i++) {
    const s = await sample(o.portBase, o.idleMs, haproxyBin);
    samples.push(s);
    o.log(`run ${i + 1}/${o.runs}: up --detach ${Math.round(s.upDetachMs)} ms; RSS supervisor ${mib(s.supervisor.rssBytes)} MiB, redis-server ${mib(s.redisServer.rssBytes)}, proxy worker ${mib(s.proxyWorker.rssBytes)}, HAProxy ${mib(s.haproxy.rssBytes)}, bare Node ${mib(s.bareNode.rssBytes)}`);
  }
  const rssOf = (pick: (s: Sample) => Memory) => median(samples.map((s) => pick(s).rssBytes));
  return {
    benchmark: 'footprint',
    runs: o.runs,
    idleMs: o.idleMs,
    nodeFlags: NODE_FLAGS,
    /** What every process of the run loaded (bin/load.js): the compiled build, or the sources when a source file is newer. */
    build: import.meta.url.endsWith('.ts') ? 'TypeScript sources (a source file is newer than dist/: npm run build)' : 'dist/ (compiled)',
    note: 'RSS after idleMs with no client (the proxy worker and HAProxy after the 20 probe connections that check they route); medians of the runs. fileBacked is mostly the Node binary itself.',
    upDetachWallMs: { p50: Math.round(median(samples.map((s) => s.upDetachMs))), max: Math.round(Math.max(...samples.map((s) => s.upDetachMs))) },
    memory: {
      supervisor: memorySummary(samples, (s) => s.supervisor),
      redisServer: memorySummary(samples, (s) => s.redisServer),
      proxyWorker: memorySummary(samples, (s) => s.proxyWorker),
      haproxy: memorySummary(samples, (s) => s.haproxy),
      bareNode: memorySummary(samples, (s) => s.bareNode),
    },
    ratios: {
      supervisorOverRedisServer: Number((rssOf((s) => s.supervisor) / rssOf((s) => s.redisServer)).toFixed(2)),
      proxyWorkerOverHaproxy: Number((rssOf((s) => s.proxyWorker) / rssOf((s) => s.haproxy)).toFixed(2)),
      supervisorOverBareNode: Number((rssOf((s) => s.supervisor) / rssOf((s) => s.bareNode)).toFixed(2)),
    },
  };
}
