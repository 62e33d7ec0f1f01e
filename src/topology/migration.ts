/**
 * The migration's steps, in order, for any runtime: check, deploy, sync, switchover, sentinels, old
 * nodes, healthy. Which node is promoted, when the switchover may start, how a run killed inside it is
 * resumed, and what the old nodes and Sentinels become are decided here; the runtime (the local CLI,
 * later the operator) only brings its own deployment up or down, keeps the record, and reports.
 *
 * Resumable by construction: whether the switchover is done is read from the Sentinels, never from the
 * record; the record keeps only what cannot be seen again (the source as first seen, the old nodes'
 * priorities, when a switchover was last started).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { withConnection } from '../redis/connect.ts';
import { errorText } from '../redis/probe.ts';
import { parseReplication } from '../redis/parse.ts';
import { type Address, addressKey, parseAddress, sameAddress } from '../redis/address.ts';
import {
  checkSource, failedCheck, forgetGone, jointTopology, observeSource, repointSentinel, settle, sourceNodeEndpoint, sourceSentinelEndpoint, syncStates,
  type Check, type Source, type SourceObservation,
} from './migrate.ts';
import { observe, sentinelEndpointIn, type Topology } from './observe.ts';
import { agreedMaster } from './observation.ts';
import { switchover, SwitchoverError, type SwitchoverResult } from './switchover.ts';

export type MigrationStep = 'check' | 'deploy' | 'sync' | 'switchover' | 'sentinels' | 'old-nodes' | 'healthy';
export const MIGRATION_STEPS: readonly MigrationStep[] = ['check', 'deploy', 'sync', 'switchover', 'sentinels', 'old-nodes', 'healthy'];

/** The deadline of the switchover's CLIENT PAUSE (as `redis-ha failover`): what a killed run leaves at most. */
export const SWITCHOVER_PAUSE_MS = 5000;
const SWITCHOVER_TIMEOUT_MS = 60_000;
/** A new node this many bytes behind the source master counts as in sync (the switchover's pause covers the rest). */
export const MAX_SYNC_LAG_BYTES = 1024 * 1024;

/** What a runtime keeps between runs: the source as first seen (no secrets). */
export interface MigrationRecord {
  readonly source: { readonly sentinels: readonly string[]; readonly masterName: string };
  readonly oldNodes: readonly string[];
  readonly oldSentinels: readonly string[];
  /** Each old node's `replica-priority` before the migration, restored when the old nodes are left alone. */
  readonly oldPriorities: Readonly<Record<string, string>>;
  readonly startedAt: string;
  /** When a run last started the switchover (ms since the epoch); a run killed inside it left a pause. */
  switchingAt?: number;
  switchedTo?: string;
  finishedAt?: string;
}

export interface StepRecord {
  step: MigrationStep;
  status: 'done' | 'skipped' | 'failed';
  detail: string;
  ms: number;
}

/** A node or Sentinel of the new deployment. */
export interface Member {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/** The new deployment as the migration sees it. */
export interface OwnDeployment {
  readonly nodes: readonly Member[];
  readonly sentinels: readonly Member[];
  /** How the migration logs in to every node, ours and the old ones: the application's user. */
  readonly auth: { readonly username?: string; readonly password?: string };
  readonly quorum: number;
  readonly timings: Topology['timings'];
  /** The `replica-priority` its nodes are configured with. */
  readonly replicaPriority: string;
}

/** What a runtime provides. Everything here acts on the new deployment only; the steps act on the rest. */
export interface MigrationRuntime {
  readonly source: Source;
  /** The new deployment as recorded now, or undefined before the first deploy. */
  own(): OwnDeployment | undefined;
  /** Whether processes of the new deployment run now (a previous run may have been killed). */
  running(): boolean;
  /** The Redis version the new deployment runs (a replica cannot load a newer master's data). */
  localVersion(): string;
  loadRecord(): MigrationRecord | undefined;
  /** Keeps the record; a runtime that returns a promise has kept it once it resolves. */
  saveRecord(r: MigrationRecord): void | Promise<void>;
  /**
   * Starts (or reuses) the new deployment, its nodes following `obs.master` and its Sentinels joining
   * the source's group. `first`, when given, is the record of a migration that starts now: saved
   * before any process of the new deployment starts, so a run killed right after finds it. Returns a
   * one-line summary.
   */
  deploy(obs: SourceObservation, first: MigrationRecord | undefined, log: (line: string) => void): Promise<string>;
  /** The new deployment stops following the outside master and is healthy on its own. Returns a one-line summary. */
  standAlone(master: Member, log: (line: string) => void): Promise<string>;
  /** One progress line of a step. */
  say(step: MigrationStep, text: string): void;
  /** True once this runtime must stop (replaced, or shutting down): checked before each step and while waiting for the sync. */
  stopped?(): boolean;
}

export interface MigrationOptions {
  readonly syncTimeoutMs: number;
  /** After the switchover, leave the old nodes as Sentinel left them (their old priority back). */
  readonly leaveOldNodes: boolean;
  /** What to tell when the sync runs out of time (how to resume or roll back, in the runtime's words). */
  readonly onLag: string;
}

export interface MigrationResult {
  readonly master: Member;
  readonly switchover?: SwitchoverResult;
  readonly steps: readonly StepRecord[];
  readonly oldNodes: readonly Address[];
  readonly oldSentinels: readonly Address[];
}

/** A step failed: `detail` is its one line; the source is left as it was when `step` comes before the switchover. */
export class MigrationFailed extends Error {
  override readonly name = 'MigrationFailed';
  readonly step: MigrationStep;
  readonly detail: string;
  readonly steps: readonly StepRecord[];
  constructor(step: MigrationStep, detail: string, steps: readonly StepRecord[]) {
    super(detail);
    this.step = step;
    this.detail = detail;
    this.steps = steps;
  }
}

export function progressLine(step: MigrationStep, text: string): string {
  return `[${MIGRATION_STEPS.indexOf(step) + 1}/${MIGRATION_STEPS.length} ${step}] ${text}`;
}

/** The old nodes and Sentinels, as recorded and as seen now, without the new deployment's own. */
function joint(rt: MigrationRuntime, own: OwnDeployment, rec: MigrationRecord, o: SourceObservation): Topology {
  const unique = (as: Address[]) => [...new Map(as.map((a) => [addressKey(a), a])).values()];
  return jointTopology({
    source: rt.source,
    sourceNodes: unique([...rec.oldNodes.map((k) => parseAddress(k) as Address), ...(o.master ? [o.master] : []), ...o.replicas]),
    sourceSentinels: unique([...rec.oldSentinels.map((k) => parseAddress(k) as Address), ...o.knownSentinels]),
    ownNodes: own.nodes,
    ownSentinels: own.sentinels,
    quorum: own.quorum,
    timings: own.timings,
  });
}

/**
 * Every node's `replica-priority` as it should be outside a switchover: ours as configured, the old
 * nodes as recorded before the migration. A run killed inside the switchover leaves the target at 1 and
 * the others at 0; the next switchover would keep those as the "original" values.
 */
async function resetPriorities(own: OwnDeployment, rec: MigrationRecord): Promise<void> {
  const wanted: [Address, string][] = [
    ...own.nodes.map((n): [Address, string] => [n, own.replicaPriority]),
    ...Object.entries(rec.oldPriorities).map(([k, v]): [Address, string] => [parseAddress(k) as Address, v]),
  ];
  for (const [a, priority] of wanted) await withConnection({ ...own.auth, host: a.host, port: a.port }, (c) => c.call('CONFIG', 'SET', 'replica-priority', priority)).catch(() => undefined);
}

/** The record of a migration that starts now: the old nodes (with their priorities) and Sentinels as first seen. */
async function firstRecord(source: Source, obs: SourceObservation): Promise<MigrationRecord> {
  const from = obs.master as Address;
  const oldNodes = [from, ...obs.replicas];
  const oldPriorities: Record<string, string> = {};
  for (const n of oldNodes) {
    const p = await withConnection(sourceNodeEndpoint(source, n), (c) => c.call('CONFIG', 'GET', 'replica-priority'), 1000).catch(() => undefined);
    if (Array.isArray(p) && p.length === 2) oldPriorities[addressKey(n)] = String(p[1]);
  }
  return {
    source: { sentinels: source.sentinels.map(addressKey), masterName: source.masterName },
    oldNodes: oldNodes.map(addressKey),
    oldSentinels: obs.knownSentinels.map(addressKey),
    oldPriorities,
    startedAt: new Date().toISOString(),
  };
}

/** The checks as a run would make them now, and the node of ours the source Sentinels already name, if any (the switchover is done). */
export async function lookAtSource(rt: MigrationRuntime): Promise<{ obs: SourceObservation; checks: Check[]; switchedTo?: Member }> {
  const own = rt.own();
  const obs = await observeSource(rt.source, own ? [...own.nodes, ...own.sentinels] : []);
  const switchedTo = own && obs.master ? own.nodes.find((n) => sameAddress(n, obs.master)) : undefined;
  return { obs, checks: switchedTo ? [] : checkSource(rt.source, obs, rt.localVersion()), switchedTo };
}

/** Runs the migration from wherever a previous run left it. Throws `MigrationFailed` with the step and its one line. */
export async function migrate(rt: MigrationRuntime, opts: MigrationOptions): Promise<MigrationResult> {
  const { source } = rt;
  const steps: StepRecord[] = [];
  let stepStarted = performance.now();
  const finish = (step: MigrationStep, status: StepRecord['status'], detail: string) => {
    const now = performance.now();
    steps.push({ step, status, detail, ms: Math.round(now - stepStarted) });
    stepStarted = now;
    rt.say(step, `${status === 'done' ? 'done' : status}: ${detail}`);
  };
  const fail = (step: MigrationStep, detail: string): never => {
    finish(step, 'failed', detail);
    throw new MigrationFailed(step, detail, steps);
  };
  // A runtime that must stop never starts another step: the one that replaced it resumes.
  const go = (step: MigrationStep) => {
    if (rt.stopped?.()) fail(step, 'stopped before this step (the runtime was replaced or is shutting down); the next run resumes here');
  };

  // 1. Checks.
  rt.say('check', `asking ${source.sentinels.map(addressKey).join(', ')} about '${source.masterName}'`);
  const before = rt.own();
  const record = rt.loadRecord();
  if (before && record && rt.running()) await resumeAtRest(rt, before, record, (line) => rt.say('check', line)).catch((err: unknown) => fail('check', `${errorText(err)}; nothing was changed; run again`));
  let { obs, checks, switchedTo } = await lookAtSource(rt);
  if (switchedTo) {
    finish('check', 'skipped', `the source Sentinels already name ${switchedTo.id} (${addressKey(switchedTo)}): the switchover is done; resuming after it`);
  } else {
    for (const c of checks) if (c.ok) rt.say('check', `${c.name}: ${c.detail}`);
    const failed = failedCheck(checks);
    if (failed) fail('check', `check '${failed.name}' failed: ${failed.detail}; nothing was changed`);
    finish('check', 'done', `all ${checks.length} checks passed`);
  }
  const sourceMaster = obs.master as Address;

  // 2. The new deployment, following the source master.
  go('deploy');
  if (switchedTo) {
    finish('deploy', 'skipped', 'the new deployment exists');
  } else {
    const first = record ? undefined : await firstRecord(source, obs);
    finish('deploy', 'done', await rt.deploy(obs, first, (line) => rt.say('deploy', line)));
  }
  const own = rt.own() as OwnDeployment;
  const rec = rt.loadRecord() as MigrationRecord;

  // 3. Sync.
  go('sync');
  let target = switchedTo;
  if (!switchedTo) {
    const deadline = Date.now() + opts.syncTimeoutMs;
    let last = '';
    for (;;) {
      go('sync');
      obs = await observeSource(source, [...own.nodes, ...own.sentinels]);
      if (obs.master && own.nodes.some((n) => sameAddress(n, obs.master))) break; // Sentinel switched meanwhile (a source failover to one of ours)
      const master = obs.master ?? sourceMaster;
      const states = await syncStates(sourceNodeEndpoint(source, master), own.nodes.map((n) => ({ id: n.id, endpoint: { ...own.auth, host: n.host, port: n.port } }))).catch(() => []);
      const synced = states.filter((s) => s.linkUp && s.lagBytes <= MAX_SYNC_LAG_BYTES);
      const behind = states.filter((s) => !s.linkUp || s.lagBytes > MAX_SYNC_LAG_BYTES)
        .map((s) => `; ${s.id} ${s.following ? (s.linkUp ? `${s.lagBytes} bytes behind` : 'link down (syncing)') : 'not following yet'}`);
      const line = `${synced.length} of ${own.nodes.length} nodes in sync with ${addressKey(master)}${behind.join('')}`;
      if (line !== last) rt.say('sync', line);
      last = line;
      if (states.length > 0 && synced.length === own.nodes.length) {
        target = own.nodes.find((n) => sameAddress(n, [...states].sort((a, b) => a.lagBytes - b.lagBytes)[0].address));
        break;
      }
      if (Date.now() > deadline) fail('sync', `lag: ${line} after ${opts.syncTimeoutMs / 1000} s; nothing was switched over (${opts.onLag})`);
      await sleep(200);
    }
    finish('sync', 'done', 'every node of the new deployment is in sync with the source master');
  } else {
    finish('sync', 'skipped', 'after the switchover');
  }

  // 4. Switchover.
  go('switchover');
  let result: SwitchoverResult | undefined;
  if (!switchedTo && target && !(obs.master && sameAddress(obs.master, target))) {
    const t = joint(rt, own, rec, obs);
    rec.switchingAt = Date.now();
    await rt.saveRecord(rec);
    try {
      result = await switchover(t, { to: target, timeoutMs: SWITCHOVER_TIMEOUT_MS, pauseMs: SWITCHOVER_PAUSE_MS, log: (line) => rt.say('switchover', line) });
    } catch (err) {
      // It ended cleanly (writes unpaused): nothing for the next run to wait out.
      rec.switchingAt = undefined;
      await rt.saveRecord(rec);
      if (err instanceof SwitchoverError) fail('switchover', `switchover: ${err.message}; run again to retry`);
      throw err;
    }
    finish('switchover', 'done', `${result.from.id} (${addressKey(result.from)}) -> ${result.to.id} (${addressKey(result.to)}); writes paused ${result.writePauseMs} ms, Sentinels agreed after ${result.sentinelsAgreedMs} ms`);
  } else {
    finish('switchover', 'skipped', `${target?.id ?? 'a node of ours'} is already the master`);
  }
  obs = await observeSource(source, [...own.nodes, ...own.sentinels]);
  const nm = own.nodes.find((n) => sameAddress(n, obs.master)) ?? target;
  if (!nm) return fail('switchover', `the source Sentinels name ${obs.master ? addressKey(obs.master) : 'no master'}, not a node of the new deployment; run again`);
  rec.switchedTo = addressKey(nm);
  await rt.saveRecord(rec);

  // 5. The source's Sentinels, one at a time, verified.
  go('sentinels');
  const t = joint(rt, own, rec, obs);
  const oldSentinels = t.sentinels.filter((s) => s.id.startsWith('old-'));
  let named = 0;
  for (const s of oldSentinels) {
    try {
      const how = await repointSentinel(t, s, nm, 5000, 2 * own.timings.failoverTimeout + 5000);
      named++;
      rt.say('sentinels', `${addressKey(s)} names ${nm.id} (${addressKey(nm)}) under '${source.masterName}' (${how === 'named' ? 'already' : how === 'followed' ? 'followed by itself' : 're-pointed'})`);
    } catch (err) {
      const detail = errorText(err);
      // An old Sentinel that is down cannot be re-pointed now; it follows by itself (newer config epoch) once back.
      if (/ECONNREFUSED|timeout|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN/i.test(detail)) rt.say('sentinels', `${addressKey(s)} does not answer (${detail}); once back it follows the group's newer configuration`);
      else fail('sentinels', `could not make source Sentinel ${addressKey(s)} name ${addressKey(nm)}: ${detail}; run again`);
    }
  }
  finish('sentinels', 'done', `${named} of ${oldSentinels.length} source Sentinels name ${nm.id} under '${source.masterName}'`);

  // 6. The old nodes.
  go('old-nodes');
  const oldNodes = t.nodes.filter((n) => n.id.startsWith('old-'));
  if (opts.leaveOldNodes) {
    for (const n of oldNodes) {
      const was = rec.oldPriorities[addressKey(n)];
      if (was !== undefined) await withConnection({ ...own.auth, host: n.host, port: n.port }, (c) => c.call('CONFIG', 'SET', 'replica-priority', was)).catch(() => undefined);
    }
    finish('old-nodes', 'done', `left as they are (replica-priority as before): ${oldNodes.map(addressKey).join(', ') || 'none'}`);
  } else {
    await oldNodesFollow(own, oldNodes, nm, (line) => rt.say('old-nodes', line)).catch((err: unknown) => fail('old-nodes', errorText(err)));
    finish('old-nodes', 'done', `${oldNodes.length} old nodes replicate from ${nm.id}`);
  }

  // 7. The new deployment on its own feet.
  go('healthy');
  for (const n of own.nodes) await withConnection({ ...own.auth, host: n.host, port: n.port }, (c) => c.call('CONFIG', 'SET', 'replica-priority', own.replicaPriority)).catch(() => undefined);
  const healthy = await rt.standAlone(nm, (line) => rt.say('healthy', line)).catch((err: unknown) => fail('healthy', errorText(err)));
  rec.finishedAt ??= new Date().toISOString();
  await rt.saveRecord(rec);
  finish('healthy', 'done', healthy);
  return { master: nm, ...(result ? { switchover: result } : {}), steps, oldNodes, oldSentinels };
}

/**
 * A previous run may have been killed inside the switchover: let the group come to rest first. Its
 * CLIENT PAUSE ends by itself after SWITCHOVER_PAUSE_MS; a pause longer than down-after makes Sentinel
 * see the old master down (its PINGs queue behind a paused PUBLISH) and fail it over itself. Watch until
 * either has had time to happen, so we never race Sentinel's own failover. (The pause may have started
 * up to the switchover's own timeout after `switchingAt`.)
 */
async function resumeAtRest(rt: MigrationRuntime, own: OwnDeployment, record: MigrationRecord, log: (line: string) => void): Promise<void> {
  const quiet = SWITCHOVER_PAUSE_MS + own.timings.downAfterMilliseconds + 2000;
  const quietAt = Math.min((record.switchingAt ?? 0) + SWITCHOVER_TIMEOUT_MS + quiet, Date.now() + quiet);
  const t = joint(rt, own, record, await observeSource(rt.source, [...own.nodes, ...own.sentinels]));
  const rest = () => settle(t, Math.max(30_000, 2 * own.timings.failoverTimeout), log);
  let settled = await rest();
  if (!record.switchedTo && Date.now() < quietAt) {
    // Meanwhile keep fencing: an old master whose pause has ended while the Sentinels name our node
    // would otherwise acknowledge writes that are lost when Sentinel demotes it.
    log(`a previous run was killed inside the switchover; watching ${Math.ceil((quietAt - Date.now()) / 1000)} s for its write pause to end and Sentinel to act on it`);
    while (Date.now() < quietAt) {
      await sleep(100);
      settled = await rest();
    }
  }
  log(`resuming: the Sentinels are at rest and name ${addressKey(settled)}`);
  if (!own.nodes.some((n) => sameAddress(n, settled))) await resetPriorities(own, record);
}

/** Makes each old node a replica of `master` with `replica-priority 0` (never promoted back: they are to be removed). */
async function oldNodesFollow(own: OwnDeployment, oldNodes: readonly Member[], master: Member, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const n of oldNodes) {
    const e = { ...own.auth, host: n.host, port: n.port };
    for (;;) {
      try {
        const r = await withConnection(e, async (c) => {
          await c.call('CONFIG', 'SET', 'replica-priority', '0');
          const now = parseReplication(String(await c.call('INFO', 'replication')));
          if (now.role !== 'replica' || now.masterHost !== master.host || now.masterPort !== master.port) await c.call('REPLICAOF', master.host, String(master.port));
          return now;
        });
        if (r.role === 'replica' && r.masterHost === master.host && r.masterPort === master.port && r.linkUp) break;
      } catch (err) {
        if (Date.now() > deadline) {
          log(`${addressKey(n)} does not answer (${errorText(err)}); Sentinel makes it a replica of ${master.id} once it is back`);
          break;
        }
      }
      if (Date.now() > deadline) throw new Error(`old node ${addressKey(n)} is not in sync with ${addressKey(master)} after 60 s; run again`);
      await sleep(200);
    }
    log(`${addressKey(n)} is a replica of ${master.id} (replica-priority 0)`);
  }
}

/**
 * After a migration, once the old Sentinels are gone: makes each of ours forget them (`forgetGone`:
 * `SENTINEL RESET`, one at a time, verified), so the group counts ours alone when it needs a majority
 * to fail over. A Sentinel never forgets one it has seen: with 3 old ones of 6 gone, no failover could
 * reach the majority of 6 it needs. Refuses (changing nothing) while any old Sentinel may still run: one
 * that answers, or one that does not answer for another reason than being gone (refused, or its name
 * does not exist), since a partitioned one is still a member. Returns why not, or the master and the
 * Sentinels forgotten; throws when a reset Sentinel does not come back as expected.
 */
export async function forgetOldSentinels(t: Topology, source: Source, oldSentinels: readonly Address[], log: (line: string) => void): Promise<{ master: Address; forgotten: Address[] } | string> {
  const own = (a: Address) => t.sentinels.some((m) => sameAddress(m, a));
  const old = [...new Map([...oldSentinels, ...source.sentinels].filter((a) => !own(a)).map((a) => [addressKey(a), a])).values()];
  for (const s of old) {
    // EAI_AGAIN is a lookup that may succeed later: not gone.
    const gone = await withConnection(sourceSentinelEndpoint(source, s), (c) => c.call('PING'), 1000).then(() => false, (err: unknown) => /ECONNREFUSED|ENOTFOUND/.test(errorText(err)));
    if (!gone) return `the old Sentinel ${addressKey(s)} still runs; stop it first (safe once no application asks it)`;
  }
  const master = agreedMaster(await observe(t));
  if (!master || !t.nodes.some((n) => sameAddress(n, master))) return 'the Sentinels do not agree on one of our nodes as master';
  for (const s of t.sentinels) {
    await forgetGone(sentinelEndpointIn(t, s), t.masterName, { master, otherSentinels: t.sentinels.length - 1, replicas: t.nodes.length - 1 }, 30_000);
    log(`${s.id} (${addressKey(s)}) forgot the old members: it names ${addressKey(master)} and sees ${t.sentinels.length - 1} other Sentinels`);
  }
  return { master, forgotten: old };
}
