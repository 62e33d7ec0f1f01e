import { loadSpecFile, resolveSpec, SpecError } from '../../spec/index.ts';
import type { RedisHASpec } from '../../spec/types.ts';
import type { TopologyStatus } from '../../observe/status.ts';
import type { LocalDeployment } from '../../local/deployment.ts';
import { ownedPorts, prepareUp, spawnDetachedSupervisor, startSupervisor, waitHealthy } from '../../local/lifecycle.ts';
import { waitPortsFree } from '../../local/ports.ts';
import { endpointsOf, type Placement } from '../../local/deployment.ts';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { servedHttp } from '../../local/status.ts';
import { clientTlsOf } from '../../local/tls.ts';
import { intFlag, NAME_OPTIONS, parse, portBaseOf } from '../options.ts';
import { UsageError } from '../errors.ts';
import { addressKey } from '../../redis/address.ts';

export const UP_HELP = `Usage: redis-ha up [options]

Starts a local HA topology: 1 master, replicas and Sentinels on loopback, password-protected.

Options:
  -n, --name NAME          deployment name (default: local); several can run side by side
  -f, --file FILE          RedisHA spec in YAML; flags below override its fields
      --port-base P        first port; nodes use P.., Sentinels P+10.. (default: 6400)
      --profile NAME       Sentinel timings: default (down-after 5 s) or fast (1 s)
      --replicas N         replicas besides the master (default: 2)
      --sentinels N        Sentinels (default: 3)
      --quorum N           Sentinels that must agree a master is down (default: majority)
      --tls                TLS only, end to end: clients, replication, Sentinel (plaintext refused); a CA
                           and certificates are made in the state directory (status --json: tlsFiles)
  -d, --detach             return once healthy and leave it running in the background
      --timeout SECONDS    how long to wait for healthy (default: 30)
      --placement FILE     JSON {"node-0": {"netns": "NS", "host": "IP"}, ...}: run those members as hosts
                           of their own in network namespaces you made (ip netns + veth), e.g. to
                           test a partition; the supervisor and endpoints stay in this namespace
      --redis-server PATH  redis-server binary (default: $REDIS_HA_REDIS_SERVER, then PATH)
      --redis-sentinel PATH
                           redis-sentinel binary (default: $REDIS_HA_REDIS_SENTINEL, then PATH)

Passwords are generated (or kept from the previous run) unless the spec file sets auth.password /
auth.sentinelPassword or REDIS_HA_PASSWORD / REDIS_HA_SENTINEL_PASSWORD are set; never pass them as flags.`;

const OPTIONS = {
  ...NAME_OPTIONS,
  file: { type: 'string', short: 'f' },
  'port-base': { type: 'string' },
  profile: { type: 'string' },
  replicas: { type: 'string' },
  sentinels: { type: 'string' },
  quorum: { type: 'string' },
  detach: { type: 'boolean', short: 'd' },
  tls: { type: 'boolean' },
  timeout: { type: 'string' },
  'redis-server': { type: 'string' },
  'redis-sentinel': { type: 'string' },
  placement: { type: 'string' },
} as const;

/** Reads `--placement`: member id → namespace and address; each namespace must exist. */
function placementOf(file: string | undefined): Placement | undefined {
  if (file === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--placement: cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`--placement: ${file} must hold an object of member id -> {"netns": ..., "host": ...}`);
  const placement: Record<string, { host: string; netns: string }> = {};
  for (const [id, where] of Object.entries(raw)) {
    const { host, netns } = (where ?? {}) as { host?: unknown; netns?: unknown };
    if (typeof host !== 'string' || isIP(host) === 0) throw new UsageError(`--placement: ${id}.host must be an IP address (got ${JSON.stringify(host)})`);
    if (typeof netns !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(netns)) throw new UsageError(`--placement: ${id}.netns must be a network namespace name (got ${JSON.stringify(netns)})`);
    if (!existsSync(`/run/netns/${netns}`)) throw new UsageError(`--placement: network namespace '${netns}' for ${id} does not exist; create it first (ip netns add ${netns})`);
    placement[id] = { host, netns };
  }
  return placement;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
}

/** Builds the spec input from the file (if any), then the flags and environment on top. */
function specInput(values: { [K in keyof typeof OPTIONS]?: string | boolean }): { input: Record<string, unknown>; given: { password: boolean; sentinelPassword: boolean } } {
  const input = values.file ? record(loadSpecFile(values.file as string)) : {};
  if (values.name !== undefined) input.name = values.name;
  if (input.name === undefined) input.name = 'local';
  const ints: [string, string, number, number][] = [
    ['replicas', 'replicas', 0, 1000],
    ['sentinels', 'sentinels', 0, 1000],
    ['quorum', 'quorum', 0, 1000],
  ];
  for (const [flag, field, min, max] of ints) {
    const n = intFlag(flag, values[flag as keyof typeof values] as string | undefined, min, max);
    if (n !== undefined) input[field] = n;
  }
  if (values.tls) input.tls = { ...record(input.tls), enabled: true };
  if (values.profile !== undefined) input.sentinel = { ...record(input.sentinel), profile: values.profile };
  const auth = record(input.auth);
  if (process.env.REDIS_HA_PASSWORD) auth.password = process.env.REDIS_HA_PASSWORD;
  if (process.env.REDIS_HA_SENTINEL_PASSWORD) auth.sentinelPassword = process.env.REDIS_HA_SENTINEL_PASSWORD;
  if (Object.keys(auth).length > 0) input.auth = auth;
  return { input, given: { password: auth.password !== undefined, sentinelPassword: auth.sentinelPassword !== undefined } };
}

function elapsed(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/**
 * How far a bootstrap has come, in one line: `nodes 3/3 up · replicas 1/2 following · Sentinels 2/3 agree`.
 */
export function bootProgress(status: TopologyStatus): string {
  const master = status.master ? addressKey(status.master) : undefined;
  const up = status.nodes.filter((n) => n.reachable).length;
  const following = status.nodes.filter((n) => n.role === 'replica' && n.linkUp && n.following === master).length;
  const agree = status.sentinels.filter((s) => s.master && addressKey(s.master) === master).length;
  return `nodes ${up}/${status.nodes.length} up · replicas ${following}/${status.nodes.length - 1} following · Sentinels ${agree}/${status.sentinels.length} agree`;
}

/**
 * Progress on stderr, so stdout stays the summary scripts read. On a terminal one line is rewritten in
 * place; into a pipe or file each step is its own line.
 */
function progressReporter(started: number) {
  const tty = process.stderr.isTTY === true;
  let open = false;
  const report = (line: string, status?: TopologyStatus) => {
    const text = `[${elapsed(started)}] ${status ? `${bootProgress(status)} — ${line}` : line}`;
    if (tty && status) {
      process.stderr.write(`\r\x1b[K${text.slice(0, Math.max(20, (process.stderr.columns || 100) - 1))}`);
      open = true;
      return;
    }
    if (open) process.stderr.write('\n');
    open = false;
    process.stderr.write(`${text}\n`);
  };
  /** Ends an in-place line before other output. */
  report.done = () => {
    if (open) process.stderr.write('\r\x1b[K');
    open = false;
  };
  return report;
}

/** The summary a person reads after `up`: where everything is and how to connect. */
export function summary(d: LocalDeployment, status: TopologyStatus, took: string): string {
  const http = servedHttp(d);
  const master = status.master ? addressKey(status.master) : 'none';
  const replicas = status.nodes.filter((n) => n.role === 'replica').map(addressKey);
  const sentinels = d.sentinels.map(addressKey);
  const nameFlag = d.spec.name === 'local' ? '' : ` --name ${d.spec.name}`;
  const s0 = d.sentinels[0];
  const endpoints = endpointsOf(d);
  const user = d.users.application.username;
  const userFlag = user === 'default' ? '' : ` --user ${user}`;
  const userOption = user === 'default' ? '' : `username: '${user}', `;
  const tls = clientTlsOf(d);
  // Clients need only the CA: the ACL password authenticates them (unless tls.authClients is 'yes').
  const tlsFlags = tls ? ` --tls --cacert ${tls.ca}${d.spec.tls?.authClients === 'yes' ? ` --cert ${tls.cert} --key ${tls.key}` : ''}` : '';
  const tlsOption = tls ? `tls: { ca: readFileSync('${tls.ca}') }, ` : '';
  return [
    `redis-ha '${d.spec.name}' is healthy (took ${took})`,
    '',
    `  master      ${master}`,
    `  replicas    ${replicas.join(', ') || 'none'}`,
    `  sentinels   ${sentinels.join(', ')}   master name: ${d.masterName}, quorum ${d.spec.quorum}`,
    `  endpoints   ${addressKey(endpoints.master)} (always the master)   ${addressKey(endpoints.replicas)} (reads, replicas)`,
    `  password    npx redis-ha password${nameFlag}            (Sentinels: npx redis-ha password${nameFlag} --sentinel)`,
    ...(tls ? [`  tls         TLS only (plaintext refused); CA ${tls.ca}${d.spec.tls?.authClients === 'yes' ? `; client certificate required: ${tls.cert}, ${tls.key}` : ''}`] : []),
    `  users       ${user} (the application's: no CONFIG, FLUSHALL, DEBUG, ...)${user === 'default' ? '' : '; the default user is off'}`,
    `  state       ${d.stateDir}`,
    `  dashboard   ${http ? `${http.url}   (Prometheus metrics: ${http.url}metrics)` : 'not served (see redis-ha logs)'}`,
    '',
    'Connect:',
    `  REDISCLI_AUTH="$(npx redis-ha password${nameFlag})" redis-cli${tlsFlags}${userFlag} -h ${endpoints.master.host} -p ${endpoints.master.port} PING`,
    `  REDISCLI_AUTH="$(npx redis-ha password${nameFlag} --sentinel)" redis-cli${tlsFlags} -p ${s0.port} SENTINEL get-master-addr-by-name ${d.masterName}`,
    '  // ioredis, finding the master through Sentinel:',
    `  new Redis({ name: '${d.masterName}', sentinels: [${d.sentinels.map((s) => `{ host: '${s.host}', port: ${s.port} }`).join(', ')}],`,
    `              ${userOption}password: process.env.REDIS_PASSWORD, sentinelPassword: process.env.SENTINEL_PASSWORD${tls ? `,
              ${tlsOption}sentinelTLS: { ca: readFileSync('${tls.ca}') }, enableTLSForSentinelMode: true` : ''} })`,
  ].join('\n');
}

export async function upCommand(argv: string[]): Promise<number> {
  const { values } = parse('up', argv, OPTIONS);
  if (values.help) {
    console.log(UP_HELP);
    return 0;
  }
  const started = performance.now();
  const portBase = portBaseOf(values['port-base']);
  const timeoutSeconds = intFlag('timeout', values.timeout, 1, 3600) ?? 30;
  const { input, given } = specInput(values);
  let spec: RedisHASpec;
  try {
    spec = resolveSpec(input);
  } catch (err) {
    if (err instanceof SpecError && values.file) throw new SpecError(err.problems.map((p) => `${values.file}: ${p}`));
    throw err;
  }
  if (spec.sentinels < 1) throw new UsageError('sentinels: must be at least 1');
  const prepared = await prepareUp({
    spec,
    portBase,
    binaries: { redisServer: values['redis-server'], redisSentinel: values['redis-sentinel'] },
    passwordsGiven: given,
    placement: placementOf(values.placement),
  });
  const d = prepared.deployment;
  const progress = progressReporter(started);
  if (prepared.note) progress(prepared.note);
  progress(`starting ${d.nodes.length} Redis nodes and ${d.sentinels.length} Sentinels of '${d.spec.name}' from port ${d.portBase}`);

  if (values.detach) {
    const pid = spawnDetachedSupervisor(d);
    const status = await waitHealthy(d, pid, timeoutSeconds * 1000, progress).finally(progress.done);
    console.log(summary(d, status, elapsed(started)));
    return 0;
  }

  const sup = await startSupervisor(prepared, (line) => progress(line));
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      progress('stopping…');
      await sup.stop();
      await waitPortsFree(ownedPorts(d), 10_000);
      progress('stopped; no process left');
    })();
    return stopping;
  };
  const done = new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stop().then(resolve));
  });
  try {
    const status = await waitHealthy(d, process.pid, timeoutSeconds * 1000, progress).finally(progress.done);
    console.log(summary(d, status, elapsed(started)));
    console.log('\nRunning in the foreground; Ctrl-C stops it (or use --detach).');
  } catch (err) {
    await stop();
    throw err;
  }
  await done;
  return 0;
}
