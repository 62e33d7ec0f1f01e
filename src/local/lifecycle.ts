import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../errors.ts';
import type { RedisHASpec } from '../spec/types.ts';
import { collectStatus, type StatusTarget, type TopologyStatus } from '../observe/status.ts';
import { replicaOfForRestart } from '../topology/restart.ts';
import { findBinaries } from './binaries.ts';
import { loadDeployment, members, nodeEndpoint, planDeployment, saveDeployment, sentinelEndpoint, type LocalDeployment } from './deployment.ts';
import { addressOf, withConnection } from '../redis/connect.ts';
import { requestFailover } from '../topology/act.ts';
import { privateDir } from './fsutil.ts';
import { filesOf, stateDirFor } from './layout.ts';
import { assertPortsFree, waitPortsFree } from './ports.ts';
import { isAlive, terminate } from './processes.ts';
import { liveMembers, readRuntime, Supervisor, type RoleAdvisor } from './supervisor.ts';

export function statusTargetOf(d: LocalDeployment): StatusTarget {
  return {
    name: d.spec.name,
    masterName: d.masterName,
    quorum: d.spec.quorum,
    nodes: d.nodes,
    sentinels: d.sentinels,
    nodeAuth: { password: d.spec.auth.password },
    sentinelAuth: { password: d.spec.auth.sentinelPassword },
  };
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
          password: o.passwordsGiven.password ? o.spec.auth.password : previous.spec.auth.password,
          sentinelPassword: o.passwordsGiven.sentinelPassword ? o.spec.auth.sentinelPassword : previous.spec.auth.sentinelPassword,
        },
      }
    : o.spec;
  const d = planDeployment(spec, stateDir, o.portBase, binaries);
  await assertPortsFree(members(d).map((m) => ({ host: m.host, port: m.port, use: `${m.id} of '${spec.name}'` })));
  privateDir(stateDir);
  saveDeployment(d);
  const note = previous ? `found state of a previous run of '${spec.name}' with nothing running; starting fresh (passwords kept)` : undefined;
  return { kind: 'fresh', deployment: d, note };
}

/** The advisor a local supervisor consults before restarting a process: the topology brain's rule. */
export function localAdvisor(d: LocalDeployment, log: (line: string) => void): RoleAdvisor {
  return {
    async restartPlan(node) {
      const status = await collectStatus(statusTargetOf(d), 500);
      const replicaOf = replicaOfForRestart(status, node);
      const wasMaster = status.master !== null && addressOf(status.master) === addressOf(node);
      if (!wasMaster || !replicaOf) return { replicaOf };
      // The Sentinels still name this node master but it restarted (and may be empty): it comes back
      // as a replica, and Sentinel promotes the replica with the most data right away instead of
      // waiting ~down-after + 20 s to notice that its master now reports role slave.
      return {
        replicaOf,
        afterStart: async () => {
          const by = await requestFailover(d.sentinels.map((s) => sentinelEndpoint(d, s)), d.masterName);
          log(`${node.id} restarted while named master; asked Sentinel ${addressOf(by)} to fail over`);
          // Sentinel picks the new master itself and would only re-point this node after
          // failover-timeout; point it at the winner as soon as the switch is done.
          const deadline = Date.now() + d.spec.sentinel.failoverTimeout;
          while (Date.now() < deadline) {
            await sleep(100);
            const now = await collectStatus(statusTargetOf(d), 500);
            if (!now.master || addressOf(now.master) === addressOf(node) || now.sentinels.some((s) => s.failoverInProgress)) continue;
            const self = now.nodes.find((n) => addressOf(n) === addressOf(node));
            if (self?.following !== addressOf(now.master)) {
              await withConnection(nodeEndpoint(d, node), (c) => c.call('REPLICAOF', now.master!.host, String(now.master!.port)));
              log(`${node.id} now replicates from the new master ${addressOf(now.master)}`);
            }
            return;
          }
        },
      };
    },
    async currentMaster() {
      return (await collectStatus(statusTargetOf(d), 500)).master ?? undefined;
    },
  };
}

/** Starts (or adopts) the processes of a prepared deployment in this process. */
export async function startSupervisor(p: Prepared, log: (line: string) => void): Promise<Supervisor> {
  const sup = new Supervisor(p.deployment, log, localAdvisor(p.deployment, log));
  if (p.kind === 'adopt') await sup.adopt(runState(p.deployment).live);
  else sup.bootstrap(p.deployment.nodes[0]);
  return sup;
}

/**
 * Starts the supervisor as a background process (no secret in its argv: it reads deployment.json)
 * and returns its pid. Its output goes to supervisor.log.
 */
export function spawnDetachedSupervisor(d: LocalDeployment): number {
  const bin = fileURLToPath(new URL('../../bin/redis-ha.js', import.meta.url));
  const out = openSync(filesOf(d.stateDir).supervisorLog, 'a', 0o600);
  const child = spawn(process.execPath, [bin, 'supervise', '--state-dir', d.stateDir], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  return child.pid ?? -1;
}

function lastLines(path: string, n: number): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n).join(' | ');
}

/**
 * Polls until the deployment is healthy. Reports each new reason for waiting through `progress`.
 * Fails with the last problems when `timeoutMs` passes or the supervisor dies.
 */
export async function waitHealthy(d: LocalDeployment, supervisorPid: number, timeoutMs: number, progress: (line: string) => void): Promise<TopologyStatus> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = '';
  for (;;) {
    const status = await collectStatus(statusTargetOf(d), 500);
    if (status.healthy) return status;
    const problem = status.problems[0] ?? '';
    if (problem !== lastProblem) progress(`waiting: ${problem}`);
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
  const free = await waitPortsFree(members(d).map((m) => ({ host: m.host, port: m.port })), 10_000);
  if (!free) throw new UserError(`some ports of '${d.spec.name}' (from ${d.portBase}) are still in use after stopping it; check with 'ss -ltnp'`);
  return { supervisor: supervisorPid !== undefined, processes: live.size };
}
