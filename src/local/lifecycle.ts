import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../errors.ts';
import type { RedisHASpec } from '../spec/types.ts';
import { collectStatus, type StatusTarget, type TopologyStatus } from '../observe/status.ts';
import { masterForBootstrap, masterForReseededSentinel, replicaOfForRestart } from '../topology/restart.ts';
import { findBinaries } from './binaries.ts';
import { endpointsOf, loadDeployment, members, planDeployment, saveDeployment, type LocalDeployment, type Placement } from './deployment.ts';
import { MasterRouter } from '../endpoint/router.ts';
import { EndpointProxy } from '../endpoint/proxy.ts';
import { withConnection } from '../redis/connect.ts';
import { errorText, replicasAcknowledging } from '../redis/probe.ts';
import { Controller } from '../topology/controller.ts';
import type { Memory } from '../topology/observation.ts';
import { observe, type Topology } from '../topology/observe.ts';
import { privateDir, readJson, writeJson } from './fsutil.ts';
import { filesOf, stateDirFor } from './layout.ts';
import { assertPortsFree, waitPortsFree } from './ports.ts';
import { childEnv, isAlive, terminate } from './processes.ts';
import { liveMembers, readRuntime, Supervisor, type RoleAdvisor } from './supervisor.ts';
import { hurrySentinelLinks } from './sentinel-links.ts';
import { startHttpServer } from './http.ts';
import { clientTlsOf, issueCertificates } from './tls.ts';
import { REPLICATION_PROBE_CHANNEL, tlsEnabled } from '../spec/index.ts';
import { addressKey, type Address } from '../redis/address.ts';
import { CLI_BIN, NODE_FLAGS } from '../root.ts';

/** What the status (`status`, the dashboard, `/metrics`, `waitHealthy`) reads: the controller's topology under read-only users. */
export function statusTargetOf(d: LocalDeployment): StatusTarget {
  // Status, metrics and the dashboard only read: the exporter's user is enough.
  return { ...topologyOf(d), name: d.spec.name, nodeAuth: d.users.exporter };
}

/**
 * Every port a running deployment listens on in this network namespace: its processes and the
 * supervisor's endpoints (members placed in namespaces of their own listen there, not here).
 */
export function ownedPorts(d: LocalDeployment): { id: string; host: string; port: number }[] {
  const e = endpointsOf(d);
  return [...members(d).filter((m) => !m.netns), { id: 'the master endpoint', ...e.master }, { id: 'the replicas endpoint', ...e.replicas }];
}

/** Loads a deployment by name, or explains how to create it. */
export function requireDeployment(name: string): LocalDeployment {
  const d = loadDeployment(stateDirFor(name));
  if (!d) throw new UserError(`no local deployment named '${name}' (looked in ${stateDirFor(name)}); start one with 'redis-ha up --name ${name}'`);
  return d;
}

/** What runs of a deployment now: its supervisor (if alive) and its member processes. */
export function runState(d: LocalDeployment): { supervisorPid?: number; live: Map<string, number> } {
  const runtime = readRuntime(d.stateDir);
  const supervisorPid = runtime && isAlive(runtime.supervisorPid) ? runtime.supervisorPid : undefined;
  return { supervisorPid, live: liveMembers(d, runtime) };
}

export interface UpOptions {
  readonly spec: RedisHASpec;
  readonly portBase: number;
  readonly binaries: { redisServer?: string; redisSentinel?: string };
  /** Whether the spec's passwords were given explicitly (else a previous run's are kept). */
  readonly passwordsGiven: { password: boolean; sentinelPassword: boolean };
  /** Members that run in network namespaces of their own (see `Placement`). */
  readonly placement?: Placement;
}

export type Prepared = { kind: 'fresh' | 'adopt'; deployment: LocalDeployment; note?: string };

/**
 * Checks everything that can be checked before a process starts (binaries, ports, an instance already
 * running, stale state) and writes the deployment file. Nothing is started here.
 */
export async function prepareUp(o: UpOptions): Promise<Prepared> {
  const stateDir = stateDirFor(o.spec.name);
  const previous = loadDeployment(stateDir);
  if (previous) {
    const { supervisorPid, live } = runState(previous);
    if (supervisorPid) {
      throw new UserError(`deployment '${o.spec.name}' is already running (supervisor pid ${supervisorPid}); see 'redis-ha status --name ${o.spec.name}' or stop it with 'redis-ha down --name ${o.spec.name}'`);
    }
    if (live.size > 0) {
      return { kind: 'adopt', deployment: previous, note: `the supervisor of '${o.spec.name}' had died; adopting its ${live.size} running processes (their data is kept)` };
    }
  }
  const binaries = findBinaries(o.binaries);
  const spec: RedisHASpec = previous
    ? {
        ...o.spec,
        auth: {
          ...o.spec.auth,
          password: o.passwordsGiven.password ? o.spec.auth.password : previous.spec.auth.password,
          sentinelPassword: o.passwordsGiven.sentinelPassword ? o.spec.auth.sentinelPassword : previous.spec.auth.sentinelPassword,
        },
      }
    : o.spec;
  const d = planDeployment(spec, stateDir, o.portBase, binaries, o.placement, previous?.users);
  await assertPortsFree(ownedPorts(d).map((m) => ({ host: m.host, port: m.port, use: `${m.id} of '${spec.name}'` })));
  privateDir(stateDir);
  if (tlsEnabled(d.spec)) issueCertificates(d);
  saveDeployment(d);
  const note = previous ? `found state of a previous run of '${spec.name}' with nothing running; starting fresh (passwords kept)` : undefined;
  return { kind: 'fresh', deployment: d, note };
}

/** The topology as the controller sees it: addresses, timings and credentials of one deployment. */
export function topologyOf(d: LocalDeployment): Topology {
  return {
    masterName: d.masterName,
    quorum: d.spec.quorum,
    timings: d.spec.sentinel,
    nodes: d.nodes,
    sentinels: d.sentinels,
    nodeAuth: d.users.operator,
    sentinelAuth: d.users.sentinelClient,
    monitorAuth: d.users.sentinel,
    ...(tlsEnabled(d.spec) ? { tls: clientTlsOf(d) } : {}),
  };
}

/** A running local deployment: its processes, the controller that keeps the invariants, the endpoints. */
export interface Running {
  readonly supervisor: Supervisor;
  readonly controller: Controller;
  readonly endpoints: EndpointProxy;
  stop(): Promise<void>;
}

/** Reads of the replicas endpoint go to replicas at most this many seconds behind. */
const MAX_REPLICA_LAG_SECONDS = 5;
/** How long a fresh deployment's Sentinels get a short ping period to link up (see hurrySentinelLinks). */
const SENTINEL_LINK_HURRY_MS = 2000;
/** How long one check waits for the replicas to acknowledge the replication stream. */
const STREAM_WAIT_MS = 200;

/**
 * Starts (or adopts) the processes of a prepared deployment in this process, with the topology
 * controller beside them. Before a node restarts, the brain's restart rule gives its role.
 */
export async function startSupervisor(p: Prepared, log: (line: string) => void): Promise<Running> {
  const d = p.deployment;
  // Everything the processes write (RDB and AOF files, rewritten configs) is for this user only.
  process.umask(0o077);
  const files = filesOf(d.stateDir);
  const t = topologyOf(d);
  const router = new MasterRouter({
    masterName: t.masterName,
    sentinels: t.sentinels,
    sentinelAuth: t.sentinelAuth,
    nodeAuth: t.nodeAuth,
    tls: t.tls,
    maxReplicaLagSeconds: MAX_REPLICA_LAG_SECONDS,
    // The endpoint routes writes to the master the controller's plan publishes (as the master-pod
    // label does on Kubernetes), while it answers ROLE as master.
    followPublished: true,
    log,
  });
  const endpoints = new EndpointProxy(router, { ...endpointsOf(d), replicaFallback: 'master' });
  await endpoints.listen();
  let published = '';
  const memory = {
    // A migration's deployment starts following the outside master (rule 2.5 of the planner).
    load: () => readJson<Memory>(files.memory) ?? { epoch: 0, ...(d.bootstrapFrom ? { migrateFrom: d.bootstrapFrom } : {}) },
    save: (m: Memory) => writeJson(files.memory, m),
  };
  const controller = new Controller(t, {
    log,
    memory,
    // No `gone` facts here, although the supervisor sees every exit: asked to fail over within
    // milliseconds of a kill, Sentinel's forced failover (no election) raced the other Sentinels' own
    // detection under the fast profile and a second failover followed (chaos 1 failed 1 run in 2; see
    // docs/architecture.md, Crashes). A restarted node comes back as a replica within ~100 ms, and
    // rule 2c asks for the failover then.
    publisher: {
      publish(master, why) {
        const now = master ? addressKey(master) : 'none';
        if (now !== published) log(`controller: master ${now}`);
        published = now;
        router.publish(master, why);
      },
    },
  });
  const advisor: RoleAdvisor = {
    // The brain's rules on the brain's own observation.
    replicaOfFor: async (node) => replicaOfForRestart(await observe(t), node),
    currentMaster: async () => masterForReseededSentinel(await observe(t)),
    restarted: (member) => {
      // The dashboard's timeline shows the supervisor's own repairs beside the controller's.
      http?.timeline.add('process', `${member.id} stopped and was restarted by the supervisor`, true);
      controller.trigger();
    },
    exited: () => controller.trigger(),
    restartAtOnce: (member) => member.kind === 'node' && published === addressKey(member),
  };
  let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  const supervisor = new Supervisor(d, log, advisor);
  if (p.kind === 'adopt') await supervisor.adopt(runState(d).live);
  else {
    // With persistence on, what each node has on disk: the remembered master may have lost its files.
    const onDisk = d.spec.persistence.enabled ? new Map(d.nodes.map((n) => [addressKey(n), persistedBytes(files.dataOf(n.id))])) : undefined;
    supervisor.bootstrap(d.bootstrapFrom ?? masterForBootstrap(memory.load(), d.nodes, onDisk && ((n) => onDisk.get(addressKey(n)) ?? 0)));
    // Once the fresh Sentinels see each other, a pass at once rather than at the next resync.
    void hurrySentinelLinks(t, SENTINEL_LINK_HURRY_MS).then(() => controller.trigger());
  }
  http = await startHttpServer(d, { controller, log, endpointConnections: () => endpoints.stats() });
  controller.start();
  void router.start();
  return {
    supervisor,
    controller,
    endpoints,
    async stop() {
      await http.stop();
      await controller.stop();
      router.stop();
      await endpoints.close();
      await supervisor.stop();
    },
  };
}

/**
 * Starts the supervisor as a background process (no secret in its argv: it reads deployment.json)
 * and returns its pid. Its output goes to supervisor.log.
 */
export function spawnDetachedSupervisor(d: LocalDeployment): number {
  const out = openSync(filesOf(d.stateDir).supervisorLog, 'a', 0o600);
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI_BIN, 'supervise', '--state-dir', d.stateDir], { detached: true, env: childEnv(), stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  return child.pid ?? -1;
}

function lastLines(path: string, n: number): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n).join(' | ');
}

/** Why the master endpoint does not reach the master yet, or undefined when it does. */
async function masterEndpointProblem(d: LocalDeployment): Promise<string | undefined> {
  const at = endpointsOf(d).master;
  try {
    const role = await withConnection({ ...at, ...d.users.application, tls: clientTlsOf(d) }, (c) => c.call('ROLE'), 500);
    return Array.isArray(role) && role[0] === 'master' ? undefined : `the master endpoint ${addressKey(at)} reaches a ${String((role as unknown[])[0])}`;
  } catch (err) {
    return `the master endpoint ${addressKey(at)}: ${errorText(err)}`;
  }
}

/**
 * Why a write acknowledged now might exist on the master alone: some replica, although linked, does not
 * acknowledge the replication stream yet (see `replicasAcknowledging`). A master killed in that window
 * loses every write it took; `up` is not healthy until it is over.
 */
async function streamProblem(d: LocalDeployment, master: Address): Promise<string | undefined> {
  const replicas = d.nodes.length - 1;
  if (replicas === 0) return undefined;
  const at = { ...master, ...d.users.operator, tls: clientTlsOf(d) };
  try {
    const acked = await replicasAcknowledging(at, REPLICATION_PROBE_CHANNEL, replicas, STREAM_WAIT_MS);
    return acked >= replicas ? undefined : `${acked} of ${replicas} replicas acknowledge the replication stream of ${addressKey(master)} (a replica gets it up to 1 s after its full sync)`;
  } catch (err) {
    return `the replication stream of ${addressKey(master)}: ${errorText(err)}`;
  }
}

/**
 * Polls until the deployment is healthy and its master endpoint reaches the master. Reports each new reason for waiting through `progress`.
 * Fails with the last problems when `timeoutMs` passes or the supervisor dies.
 */
export async function waitHealthy(d: LocalDeployment, supervisorPid: number, timeoutMs: number, progress: (line: string, status: TopologyStatus) => void): Promise<TopologyStatus> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = '';
  for (;;) {
    const status = await collectStatus(statusTargetOf(d), 500);
    const endpointProblem = status.healthy ? (await masterEndpointProblem(d)) ?? (await streamProblem(d, status.master!)) : undefined;
    if (status.healthy && !endpointProblem) return status;
    const problem = endpointProblem ?? status.problems[0] ?? '';
    if (problem !== lastProblem) progress(`waiting: ${problem}`, status);
    lastProblem = problem;
    if (!isAlive(supervisorPid)) {
      throw new UserError(`the supervisor of '${d.spec.name}' stopped while starting: ${lastLines(filesOf(d.stateDir).supervisorLog, 3) || 'no output'}; see 'redis-ha logs --name ${d.spec.name}'`);
    }
    if (Date.now() > deadline) {
      throw new UserError(`'${d.spec.name}' did not become healthy within ${timeoutMs / 1000} s: ${status.problems.slice(0, 3).join('; ')}; see 'redis-ha logs --name ${d.spec.name}'`);
    }
    await sleep(100);
  }
}

/**
 * Stops a deployment: its supervisor (which stops its processes), then any process a dead supervisor
 * left behind; waits until none of its ports listens. Returns what it stopped.
 */
export async function downLocal(d: LocalDeployment): Promise<{ supervisor: boolean; processes: number }> {
  const { supervisorPid, live } = runState(d);
  if (supervisorPid) await terminate(supervisorPid, 15_000);
  // Left behind when the supervisor had died (or could not stop them): stop them the same way it would.
  const leftover = liveMembers(d, readRuntime(d.stateDir));
  for (const kind of ['sentinel', 'node']) {
    const pids = members(d).filter((m) => m.kind === kind && leftover.has(m.id)).map((m) => leftover.get(m.id) as number);
    await Promise.all(pids.map((pid) => terminate(pid)));
  }
  rmSync(filesOf(d.stateDir).runtime, { force: true });
  const free = await waitPortsFree(ownedPorts(d).map((m) => ({ host: m.host, port: m.port })), 10_000);
  if (!free) throw new UserError(`some ports of '${d.spec.name}' (from ${d.portBase}) are still in use after stopping it; check with 'ss -ltnp'`);
  return { supervisor: supervisorPid !== undefined, processes: live.size };
}

/** The bytes of a node's RDB and AOF files in `dataDir` (0 when there are none). */
function persistedBytes(dataDir: string): number {
  const sizeOf = (f: string): number => (existsSync(f) ? statSync(f).size : 0);
  const aof = join(dataDir, 'appendonlydir');
  const aofFiles = existsSync(aof) ? readdirSync(aof).map((f) => join(aof, f)) : [];
  return [join(dataDir, 'dump.rdb'), ...aofFiles].reduce((sum, f) => sum + sizeOf(f), 0);
}

