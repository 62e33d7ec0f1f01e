/**
 * Planned switchover: move the master role to a caught-up replica with zero acknowledged writes lost
 * and writes paused only briefly, while Sentinel stays the one that promotes.
 *
 * How, and why this way:
 *
 * 1. Sentinel has no "fail over to X". It picks the eligible replica with the LOWEST `replica-priority`
 *    first (then the highest offset), and never one with priority 0. So for the duration of the
 *    switchover the target gets priority 1 and every other replica priority 0: Sentinel can choose the
 *    target or nobody. Letting it choose a replica that had not caught up would lose the writes that
 *    replica lacks, which is why "lower on the target" alone is not enough. The original values are
 *    put back in a `finally`. Sentinel reads priorities from its periodic `INFO` (every `INFO-PERIOD`,
 *    which the controller sets to about 1 s: sentinelInfoPeriodMs), so we
 *    wait until one Sentinel reports them before touching writes, and ask THAT Sentinel to fail over
 *    (`SENTINEL FAILOVER` runs on the Sentinel asked, without an election), at a moment chosen so that
 *    it notices the promotion quickly (see `INFO_AGE_TARGET_MS`).
 *    Trade-off: while the switchover runs (seconds), a real failure could only promote the target. If
 *    this process dies in between, the other replicas keep priority 0 until their next restart (their
 *    config is regenerated on start) or until a switchover runs again.
 * 2. `CLIENT PAUSE <pauseMs> WRITE` on the master: reads go on, writes wait. The pause carries a
 *    deadline, so a crashed switchover cannot block writes for longer than `pauseMs`; while Sentinel
 *    is promoting we renew it, because letting writes through to a master that is being replaced is
 *    exactly how acknowledged writes get lost.
 * 3. Wait until the target's replication offset equals the master's (polled every few ms): it holds
 *    every acknowledged write.
 * 4. `SENTINEL FAILOVER`; wait until the target answers `role:master` and a majority of the configured
 *    Sentinels names it. Only then is the change committed (a failover Sentinel aborts before that
 *    point would be undone by Sentinel itself).
 * 5. Fence the old master with the controller's own `fence` action (act.ts): `REPLICAOF <target>`
 *    (what Sentinel's `+convert-to-slave` would do some 8 s later; Sentinel already names the target,
 *    so this follows Sentinel rather than fighting it), drop its normal clients, `CLIENT UNPAUSE`.
 *    Writes that waited in the pause now fail (connection closed or READONLY) without having been
 *    executed; clients retry on the master Sentinel names.
 *
 * The steps are explicit (`SwitchoverState`): read and set priorities, align with Sentinel's `INFO`,
 * pause, catch up, ask for the failover, await promotion and agreement, fence and release, restore
 * priorities, settle. A failure is undone in one place (`undo`), by the facts the last state holds.
 *
 * Beside the controller. Sentinel's failover makes the controller hold the old master's writes too
 * (`hold-writes`, the same `CLIENT PAUSE`), and it may fence the old master first (the same `fence`).
 * Who owns what: the switchover owns its pause from `CLIENT PAUSE` until the fence, and claims it by
 * its connection's name (`SWITCHOVER_CLIENT_NAME`); the controller owns its holds. One `CLIENT
 * UNPAUSE` would lift both, so neither lifts a pause but through `releaseWrites` (act.ts), which
 * leaves a claimed pause alone and keeps any pause on a node that still reports master while a
 * Sentinel may be replacing it; the fence lifts it once the node is a replica. So the controller never
 * lets a write through to the old master while the switchover runs, nor does a failed switchover lift
 * the controller's hold while Sentinel is promoting.
 */
import type { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, withConnection, type Endpoint } from '../redis/connect.ts';
import { parseFlags, parseFlatRecord, parseFlatRecords, parseReplication, parseSentinelReplicas } from '../redis/parse.ts';
import { INELIGIBLE } from './sentinel-timing.ts';
import { errorText } from '../redis/probe.ts';
import { act, releaseWrites, requestFailover, SWITCHOVER_CLIENT_NAME, WritesStillHeld } from './act.ts';
import {
  agreedMaster, busySentinel, byId, linkedReplicaOf, nameOf, nodeAt, type NodeObservation, type Observation,
} from './observation.ts';
import { rankByData } from './plan-rank.ts';
import { nodeEndpointIn, observe, sentinelEndpointIn, type Topology } from './observe.ts';
import { type Address, addressKey, sameAddress } from '../redis/address.ts';
import { majorityOf, namedByMajority } from './agreement.ts';

export interface SwitchoverOptions {
  /** The replica to promote (resolved from an id or `host:port` by the caller); default: the most caught-up replica. */
  readonly to?: Address;
  /** Bound on the whole switchover, including the wait for Sentinel to see the new priorities (one INFO period: about 1 s under the controller, 10 s at Sentinel's default). */
  readonly timeoutMs: number;
  /** The deadline of each `CLIENT PAUSE` (renewed while Sentinel promotes). Default 5000. */
  readonly pauseMs?: number;
  /** How long the target may take, with writes paused, to reach the master's offset. Default 2000. */
  readonly catchUpMs?: number;
  /** Progress, one line per step. */
  readonly log: (line: string) => void;
}

export interface SwitchoverNode {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface SwitchoverResult {
  readonly from: SwitchoverNode;
  readonly to: SwitchoverNode;
  /** From `CLIENT PAUSE` on the old master until the new master answered `role:master`. */
  readonly writePauseMs: number;
  /** From `CLIENT PAUSE` until a majority of the Sentinels named the new master (what Sentinel clients wait for). */
  readonly sentinelsAgreedMs: number;
  /** From `CLIENT PAUSE` until the old master was fenced and unpaused (how long its clients waited). */
  readonly oldMasterReleasedMs: number;
  /** The replication offset the target had reached, equal to the master's, when the failover was asked. */
  readonly offsetAtSwitch: number;
  /** The Sentinel that carried out the failover. */
  readonly sentinel: string;
  readonly tookMs: number;
  /** Things that went wrong after the switch was committed (e.g. a priority that could not be restored). */
  readonly warnings: readonly string[];
}

/** A switchover refused or failed for a reason the operator can act on; the message is one line. */
export class SwitchoverError extends Error {
  override readonly name = 'SwitchoverError';
}

const POLL_MS = 5;

/**
 * One connection kept open for fast polling, reopened after an error (Sentinel kills the normal
 * clients of the replica it promotes, which includes ours). `name`: set on every (re)connection.
 */
class Link {
  readonly #endpoint: Endpoint;
  readonly #name?: string;
  #client?: Redis;

  constructor(endpoint: Endpoint, name?: string) {
    this.#endpoint = endpoint;
    this.#name = name;
  }

  async call(command: string, ...args: string[]): Promise<unknown> {
    try {
      if (!this.#client) {
        const client = connect(this.#endpoint, 1000);
        this.#client = client;
        await client.connect();
        if (this.#name) await client.call('CLIENT', 'SETNAME', this.#name);
      }
      return await this.#client.call(command, ...args);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Like `call`, but never opens a connection: undefined when none is open. */
  async callIfOpen(command: string, ...args: string[]): Promise<unknown> {
    return this.#client ? this.call(command, ...args) : undefined;
  }

  close(): void {
    this.#client?.disconnect();
    this.#client = undefined;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function nodeOf(n: NodeObservation): SwitchoverNode {
  return { id: n.id, host: n.host, port: n.port };
}

function label(n: SwitchoverNode): string {
  return `${n.id} (${addressKey(n)})`;
}

/** Checks the observation and picks master and target, or says in one line why not. */
export function chooseSwitchover(obs: Observation, to: Address | undefined): { master: NodeObservation; target: NodeObservation } {
  const busy = busySentinel(obs);
  if (busy) {
    throw new SwitchoverError(`${busy.id} ${busy.tilt ? 'is in TILT mode' : 'reports a failover in progress'}; try again once it is over`);
  }
  const agreed = agreedMaster(obs);
  if (!agreed) throw new SwitchoverError('no master is named by a majority of the Sentinels, so there is nothing to switch over from');
  const master = nodeAt(obs, agreed);
  if (!master) throw new SwitchoverError(`the Sentinels name ${addressKey(agreed)}, which is not a node of this deployment`);
  if (!master.reachable) throw new SwitchoverError(`the master ${master.id} is unreachable; Sentinel fails it over by itself once it is down`);
  if (master.role !== 'master') throw new SwitchoverError(`${master.id}, the master the Sentinels name, reports role ${master.role}`);
  const ready = (n: NodeObservation) => linkedReplicaOf(n, master);
  if (to) {
    const target = nodeAt(obs, to);
    if (!target) throw new SwitchoverError(`${addressKey(to)} is not a node of this deployment`);
    if (sameAddress(target, master)) throw new SwitchoverError(`${target.id} is already the master`);
    if (!ready(target)) {
      const state = !target.reachable
        ? 'it is unreachable'
        : target.role !== 'replica'
          ? `it reports role ${target.role}`
          : !sameAddress(target.replicaOf, master)
            ? `it follows ${target.replicaOf ? nameOf(obs, target.replicaOf) : 'nobody'}`
            : 'its replication link is down';
      throw new SwitchoverError(`${target.id} is not a caught-up replica of ${master.id}: ${state}`);
    }
    return { master, target };
  }
  // The topology's one ranking by data (no memory: the switchover remembers nothing), among the ready.
  const target = rankByData(obs, { epoch: 0 }).find(ready);
  if (!target) throw new SwitchoverError(`no replica of ${master.id} is caught up (reachable, following it, link up); nothing to switch over to`);
  return { master, target };
}

/**
 * How one Sentinel would act now: whether it monitors `master` and would promote `target` and nobody
 * else (the target eligible with priority 1, every other replica it knows priority 0 or ineligible),
 * and how long ago it last read the target's `INFO` (`info-refresh`). Undefined when unreachable.
 */
async function sentinelChoice(t: Topology, e: Endpoint, master: Address, target: Address): Promise<{ wouldChoose: boolean; infoAgeMs: number } | undefined> {
  return withConnection(e, async (c) => {
    const m = parseFlatRecord(await c.call('SENTINEL', 'MASTER', t.masterName));
    if (m.get('ip') !== master.host || m.get('port') !== String(master.port)) return { wouldChoose: false, infoAgeMs: 0 };
    const replicas = parseSentinelReplicas(parseFlatRecords(await c.call('SENTINEL', 'REPLICAS', t.masterName)));
    let targetOk = false;
    let othersOk = true;
    let infoAgeMs = 0;
    for (const r of replicas) {
      const eligible = !INELIGIBLE.some((f) => r.flags.has(f)) && r.linkUp;
      if (sameAddress(r, target)) {
        targetOk = eligible && r.priority === 1;
        infoAgeMs = r.infoAgeMs;
      } else if (eligible && r.priority !== 0) {
        othersOk = false;
      }
    }
    return { wouldChoose: targetOk && othersOk, infoAgeMs };
  }, 1000).catch(() => undefined);
}

/**
 * Sentinel notices the promotion on its next `INFO` to the target, which during a failover it sends
 * once a second after the previous one; it sends `REPLICAOF NO ONE` some 100–300 ms (three timer
 * ticks) after `SENTINEL FAILOVER`. Asking when its last `INFO` to the target is about this old makes
 * that next `INFO` come right after the promotion instead of up to a second later. Only timing: if
 * Sentinel behaves otherwise, the switchover is as correct, just slower.
 */
const INFO_AGE_TARGET_MS = 650;
const INFO_AGE_WINDOW_MS = [620, 720] as const;
/** Sentinel's own INFO period outside failovers is 10 s (the controller sets 1 s): one covers every phase. */
const ALIGN_BUDGET_MS = 10_500;

/** A Sentinel, with one connection kept open for polling. */
interface SentinelLink {
  readonly id: string;
  readonly address: Address;
  readonly link: Link;
}

/** A node's `replica-priority` before the switchover, to put back. */
interface Priority {
  readonly node: SwitchoverNode;
  readonly priority: string;
}

/** What stays the same for a whole switchover: the nodes, the links, the clock and the options. */
interface Run {
  readonly t: Topology;
  readonly obs: Observation;
  readonly from: SwitchoverNode;
  readonly to: SwitchoverNode;
  /** The other reachable replicas: priority 0 while the switchover runs. */
  readonly others: readonly SwitchoverNode[];
  readonly started: number;
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly pauseMs: number;
  readonly catchUpMs: number;
  readonly log: (line: string) => void;
  readonly warnings: string[];
  readonly sentinels: readonly SentinelLink[];
  /** The old master's connection, named `SWITCHOVER_CLIENT_NAME`: it carries the pause and the claim on it. */
  readonly master: Link;
  readonly target: Link;
}

/*
 * The facts each step establishes, each state carrying those of the steps before it. Which undo a
 * failure needs follows from the facts alone (`undo`): `original` set means priorities to put back,
 * `pausedAt` without `releasedAt` a pause to lift.
 */
interface Prepared { readonly original: readonly Priority[] }
interface Aligned extends Prepared {
  /** Sentinels that would promote the target and nobody else, the best-timed first. */
  readonly ready: readonly SentinelLink[];
}
interface Paused extends Aligned {
  readonly pausedAt: number;
  /** When the pause was last (re)placed. */
  readonly renewedAt: number;
}
interface CaughtUp extends Paused { readonly offsetAtSwitch: number }
interface Asked extends CaughtUp { readonly asked: SentinelLink }
interface Agreed extends Asked {
  readonly promotedAt: number;
  readonly agreedAt: number;
}
interface Released extends Agreed { readonly releasedAt: number }

/**
 * Where a switchover is: the step to run next and the facts established so far. Every step is one
 * function from a state to the next; `switchover` drives them and, on a failure, undoes by the last
 * state reached.
 */
export type SwitchoverState =
  | { readonly step: 'read-priorities' }
  | ({ readonly step: 'set-priorities' } & Prepared)
  | ({ readonly step: 'align' } & Prepared)
  | ({ readonly step: 'pause' } & Aligned)
  | ({ readonly step: 'catch-up' } & Paused)
  | ({ readonly step: 'ask-failover' } & CaughtUp)
  | ({ readonly step: 'await-agreement' } & Asked)
  | ({ readonly step: 'fence-and-release' } & Agreed)
  | ({ readonly step: 'restore-priorities' } & Released)
  | ({ readonly step: 'settle' } & Released)
  | { readonly step: 'done'; readonly result: SwitchoverResult };

/**
 * Sentinel did not finish in time. The undo completes the message with what became of the old
 * master's writes ("resumed", or why they stay paused).
 */
class Unfinished extends SwitchoverError {}

/**
 * Moves the master role to a caught-up replica through Sentinel; see the module comment for how.
 * Throws `SwitchoverError` (one line) when refused or when it could not complete; in that case the old
 * master is unpaused unless a Sentinel may be replacing it, and, unless Sentinel already moved, still
 * the master.
 */
export async function switchover(t: Topology, opts: SwitchoverOptions): Promise<SwitchoverResult> {
  const started = performance.now();
  const obs = await observe(t);
  const chosen = chooseSwitchover(obs, opts.to);
  const from = nodeOf(chosen.master);
  const to = nodeOf(chosen.target);
  const run: Run = {
    t,
    obs,
    from,
    to,
    others: byId(obs.nodes).filter((n) => n.reachable && n.role === 'replica' && !sameAddress(n, to)).map(nodeOf),
    started,
    deadline: started + opts.timeoutMs,
    timeoutMs: opts.timeoutMs,
    pauseMs: opts.pauseMs ?? 5000,
    catchUpMs: opts.catchUpMs ?? 2000,
    log: opts.log,
    warnings: [],
    sentinels: t.sentinels.map((s) => ({ id: s.id, address: { host: s.host, port: s.port }, link: new Link(sentinelEndpointIn(t, s)) })),
    master: new Link(nodeEndpointIn(t, from), SWITCHOVER_CLIENT_NAME),
    target: new Link(nodeEndpointIn(t, to)),
  };
  run.log(`switching master ${label(from)} -> ${label(to)}`);
  let state: SwitchoverState = { step: 'read-priorities' };
  try {
    while (state.step !== 'done') state = await advance(run, state);
    return state.result;
  } catch (err) {
    throw await undo(run, state, err);
  } finally {
    run.master.close();
    run.target.close();
    for (const s of run.sentinels) s.link.close();
  }
}

/** Runs the state's step. */
async function advance(run: Run, s: SwitchoverState): Promise<SwitchoverState> {
  switch (s.step) {
    case 'read-priorities': return { step: 'set-priorities', original: await readPriorities(run) };
    case 'set-priorities': return setPriorities(run, s);
    case 'align': return alignWithSentinelInfo(run, s);
    case 'pause': return pause(run, s);
    case 'catch-up': return catchUp(run, s);
    case 'ask-failover': return askFailover(run, s);
    case 'await-agreement': return awaitAgreement(run, s);
    case 'fence-and-release': return fenceAndRelease(run, s);
    case 'restore-priorities': return { ...s, step: 'settle', original: await restorePriorities(run, s.original) };
    case 'settle': return settle(run, s);
    case 'done': return s;
  }
}

/**
 * The one place a failed switchover is undone, by the facts of the last state reached: a pause not
 * yet released is handed back and lifted through `releaseWrites` (which keeps it while a Sentinel may
 * be replacing the old master: then it ends by its own deadline, or the controller's hold and fence
 * take over), and changed priorities are put back. Returns the error to throw.
 */
async function undo(run: Run, s: SwitchoverState, err: unknown): Promise<unknown> {
  let outcome = '';
  if ('pausedAt' in s && !('releasedAt' in s)) {
    const kept = await releasePause(run);
    // Once the failover was asked the pause was extended to failover-timeout (askFailover).
    const bound = 'asked' in s ? Math.max(run.pauseMs, run.t.timings.failoverTimeout) : run.pauseMs;
    if (kept) outcome = `; writes on ${run.from.id} stay paused: ${kept} (until it is fenced, at most ${bound} ms)`;
    else if (err instanceof Unfinished) outcome = `; writes on ${run.from.id} resumed`;
  }
  if ('original' in s) await restorePriorities(run, s.original);
  return err instanceof SwitchoverError && outcome ? new SwitchoverError(`${err.message}${outcome}`) : err;
}

/** Gives up the claim on the old master's pause and lifts it through `releaseWrites`; undefined once lifted, else why not. */
async function releasePause(run: Run): Promise<string | undefined> {
  await run.master.callIfOpen('CLIENT', 'SETNAME', '').catch(() => undefined);
  run.master.close();
  try {
    await releaseWrites(run.t, run.from);
    return undefined;
  } catch (err) {
    const why = err instanceof WritesStillHeld ? err.message : errorText(err);
    run.log(`could not unpause ${run.from.id}: ${why}`);
    return why;
  }
}

/** Step 1a: the priorities to put back afterwards. Changes nothing. */
async function readPriorities(run: Run): Promise<Priority[]> {
  const original: Priority[] = [];
  for (const node of [run.to, ...run.others]) {
    const priority = await withConnection(nodeEndpointIn(run.t, node), async (c) => ((await c.call('CONFIG', 'GET', 'replica-priority')) as [string, string])[1]).catch((err: unknown) => {
      throw new SwitchoverError(`could not read replica-priority on ${node.id}: ${errorText(err)}`);
    });
    original.push({ node, priority });
  }
  return original;
}

/** Step 1b: the target or nobody: priority 1 on the target, 0 on every other replica. */
async function setPriorities(run: Run, s: Prepared): Promise<SwitchoverState> {
  for (const { node } of s.original) {
    const priority = sameAddress(node, run.to) ? '1' : '0';
    await withConnection(nodeEndpointIn(run.t, node), (c) => c.call('CONFIG', 'SET', 'replica-priority', priority)).catch((err: unknown) => {
      throw new SwitchoverError(`could not set replica-priority on ${node.id}: ${errorText(err)}`);
    });
  }
  run.log(`replica-priority: ${run.to.id} 1${run.others.map((n) => `, ${n.id} 0`).join('')} (restored afterwards)`);
  return { step: 'align', original: s.original };
}

/**
 * Step 2: wait until a Sentinel would choose the target, then for a good moment to ask it (see
 * INFO_AGE_TARGET_MS); writes are not paused yet, so this waiting costs nothing but time.
 */
async function alignWithSentinelInfo(run: Run, s: Prepared): Promise<SwitchoverState> {
  const { sentinels, from, to, started, deadline } = run;
  let ready: SentinelLink[] = [];
  let best: SentinelLink | undefined;
  let alignUntil = Infinity;
  for (;;) {
    const views = await Promise.all(sentinels.map((x) => sentinelChoice(run.t, sentinelEndpointIn(run.t, x.address), from, to)));
    const now = performance.now();
    ready = sentinels.filter((_, i) => views[i]?.wouldChoose);
    if (ready.length > 0 && alignUntil === Infinity) {
      alignUntil = Math.min(now + ALIGN_BUDGET_MS, now + (deadline - now) / 2);
      run.log(`${ready.map((x) => x.id).join(', ')} would promote ${to.id} (after ${seconds(now - started)})`);
    }
    const ages = sentinels.map((_, i) => (views[i]?.wouldChoose ? (views[i]?.infoAgeMs ?? 0) : -1));
    const inWindow = ages.findIndex((a) => a >= INFO_AGE_WINDOW_MS[0] && a <= INFO_AGE_WINDOW_MS[1]);
    if (inWindow >= 0) {
      best = sentinels[inWindow];
      break;
    }
    if (ready.length > 0 && now >= alignUntil) break;
    if (ready.length === 0 && now > deadline) {
      throw new SwitchoverError(`no Sentinel saw ${to.id} as the only promotable replica within ${seconds(run.timeoutMs)} (Sentinel reads them every INFO period: about 1 s once redis-ha has set it, else 10 s); nothing was changed`);
    }
    const early = ages.filter((a) => a >= 0 && a < INFO_AGE_TARGET_MS).map((a) => INFO_AGE_TARGET_MS - a);
    await sleep(Math.max(5, Math.min(50, ...early)));
  }
  // The well-timed Sentinel first; the others only if it cannot be reached.
  return { step: 'pause', original: s.original, ready: best ? [best, ...ready.filter((x) => x !== best)] : ready };
}

/** Step 3: `CLIENT PAUSE <pauseMs> WRITE` on the master, over the connection that claims the pause. */
async function pause(run: Run, s: Aligned): Promise<SwitchoverState> {
  await run.master.call('CLIENT', 'PAUSE', String(run.pauseMs), 'WRITE').catch((err: unknown) => {
    throw new SwitchoverError(`could not pause writes on ${run.from.id}: ${errorText(err)}; nothing was changed`);
  });
  const pausedAt = performance.now();
  run.log(`paused writes on ${run.from.id} (CLIENT PAUSE ${run.pauseMs} WRITE)`);
  return { ...s, step: 'catch-up', pausedAt, renewedAt: pausedAt };
}

/** Renews the pause once half of it has run; returns when it was last placed. */
async function renewPause(run: Run, s: Paused): Promise<number> {
  if (performance.now() - s.renewedAt < run.pauseMs / 2) return s.renewedAt;
  await run.master.call('CLIENT', 'PAUSE', String(run.pauseMs), 'WRITE').catch(() => undefined);
  return performance.now();
}

/** Step 4: the target's replication offset reaches the master's: it holds every acknowledged write. */
async function catchUp(run: Run, s: Paused): Promise<SwitchoverState> {
  const { from, to } = run;
  for (;;) {
    const m = parseReplication(String(await run.master.call('INFO', 'replication').catch(() => '')));
    const r = parseReplication(String(await run.target.call('INFO', 'replication').catch(() => '')));
    if (m.role !== 'master' && m.role !== 'unknown') throw new SwitchoverError(`${from.id} stopped being master before the switch; nothing was changed`);
    if (m.role === 'master' && r.role === 'replica' && r.offset >= m.offset) {
      run.log(`${to.id} caught up at offset ${m.offset} after ${Math.round(performance.now() - s.pausedAt)} ms`);
      return { ...s, step: 'ask-failover', offsetAtSwitch: m.offset };
    }
    if (performance.now() - s.pausedAt > run.catchUpMs) {
      throw new SwitchoverError(`${to.id} did not catch up with ${from.id} within ${run.catchUpMs} ms of pausing writes (offset ${r.offset} of ${m.offset}); nothing was changed`);
    }
    await sleep(POLL_MS);
  }
}

/** Step 5: `SENTINEL FAILOVER`, asked of the well-timed Sentinel first. */
async function askFailover(run: Run, s: CaughtUp): Promise<SwitchoverState> {
  // From the request on, Sentinel may replace this master even if this process dies: the pause then
  // lasts as long as Sentinel's own bound on a failover (failover-timeout, as a controller's
  // hold-writes), not pauseMs, so the old master cannot take writes the promoted one never gets before
  // it is fenced (by a rerun, the controller or Sentinel). A pause only ever extends (CLIENT PAUSE keeps
  // the later end), so the renewals do not shorten it; the fence or the undo lifts it.
  await run.master.call('CLIENT', 'PAUSE', String(Math.max(run.pauseMs, run.t.timings.failoverTimeout)), 'WRITE').catch(() => undefined);
  let accepted: Endpoint;
  try {
    accepted = await requestFailover(s.ready.map((x) => sentinelEndpointIn(run.t, x.address)), run.t.masterName);
  } catch (err) {
    throw new SwitchoverError(`${errorText(err)}; nothing was changed`);
  }
  const asked = s.ready.find((x) => sameAddress(x.address, accepted)) ?? s.ready[0];
  run.log(`asked ${asked.id} to fail over`);
  return { ...s, step: 'await-agreement', asked };
}

/**
 * Step 6: the pause renewed meanwhile, wait until the target answers `role:master` and a majority of
 * the configured Sentinels names it: only then is the change committed. A Sentinel that ends the
 * failover without promoting, a majority naming a third node, or the deadline ends the switchover.
 */
async function awaitAgreement(run: Run, s: Asked): Promise<SwitchoverState> {
  const { t, from, to, sentinels } = run;
  const needed = majorityOf(t.sentinels.length);
  let renewedAt = s.renewedAt;
  let promotedAt: number | undefined;
  let lastAbortCheck = performance.now();
  for (;;) {
    renewedAt = await renewPause(run, { ...s, renewedAt });
    if (promotedAt === undefined && (await roleOf(run.target)) === 'master') {
      promotedAt = performance.now();
      run.log(`${to.id} answers role master after ${Math.round(promotedAt - s.pausedAt)} ms`);
    }
    const named = await Promise.all(sentinels.map((x) => x.link.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', t.masterName).catch(() => null)));
    const addresses = named.map((a) => (Array.isArray(a) && a.length >= 2 ? { host: String(a[0]), port: Number(a[1]) } : undefined));
    const majority = namedByMajority(addresses, t.sentinels.length);
    if (majority && !sameAddress(majority, from) && !sameAddress(majority, to)) {
      const fenced = await fence(run, majority);
      throw new SwitchoverError(`the Sentinels promoted ${nameOf(run.obs, majority)} instead of ${to.id}${fenced ? `; ${from.id} was fenced as its replica` : ''}`);
    }
    if (promotedAt !== undefined && majority && sameAddress(majority, to)) {
      const agreedAt = performance.now();
      run.log(`${addresses.filter((a) => sameAddress(a, to)).length} of ${t.sentinels.length} Sentinels name ${to.id} after ${Math.round(agreedAt - s.pausedAt)} ms`);
      return { ...s, step: 'fence-and-release', renewedAt, promotedAt, agreedAt };
    }
    if (promotedAt === undefined && performance.now() - lastAbortCheck > 100) {
      // Sentinel gives up (e.g. -failover-abort-no-good-slave) without promoting: stop waiting.
      lastAbortCheck = performance.now();
      const m = parseFlatRecord(await s.asked.link.call('SENTINEL', 'MASTER', t.masterName).catch(() => []));
      const stillMaster = m.get('ip') === from.host && m.get('port') === String(from.port);
      if (m.get('failover-state') === 'none' && stillMaster && (await roleOf(run.target)) !== 'master') {
        throw new SwitchoverError(`${s.asked.id} ended the failover without promoting ${to.id} (see 'redis-ha logs ${s.asked.id}'); ${from.id} is still master`);
      }
    }
    if (performance.now() > run.deadline) {
      const what = promotedAt === undefined
        ? `${to.id} was not promoted`
        : `${to.id} was promoted but fewer than ${needed} Sentinels name it; the controller fences whichever master the Sentinels do not name`;
      throw new Unfinished(`Sentinel did not complete the switchover within ${seconds(run.timeoutMs)}: ${what}`);
    }
    await sleep(POLL_MS);
  }
}

/**
 * Fences the old master as a replica of `master` (what a Sentinel majority names, never our own
 * choice) with the controller's own `fence` action, which also lifts the pause: the switchover's claim
 * ends with it (the fence drops every normal client, ours included). True once the old master is a
 * replica of `master` and unpaused, whoever fenced it.
 */
async function fence(run: Run, master: Address): Promise<boolean> {
  try {
    await act(run.t, { kind: 'fence', node: run.from, master }, { publish: () => {} });
    return true;
  } catch (err) {
    // The controller (or Sentinel) may have fenced it first; then only the pause may be left to lift.
    const kept = await releasePause(run);
    if (kept === undefined && (await followsOn(run, master))) return true;
    run.warnings.push(`could not fence ${run.from.id} (${errorText(err)}); Sentinel and the controller demote it`);
    return false;
  } finally {
    run.master.close();
  }
}

/** Whether the old master now replicates from `master`, asked over a fresh connection. */
async function followsOn(run: Run, master: Address): Promise<boolean> {
  return withConnection(nodeEndpointIn(run.t, run.from), async (c) => {
    const r = parseReplication(String(await c.call('INFO', 'replication')));
    return r.role === 'replica' && r.masterHost === master.host && r.masterPort === master.port;
  }).catch(() => false);
}

/** Step 7: fence the old master to the target and let its waiting clients go. */
async function fenceAndRelease(run: Run, s: Agreed): Promise<SwitchoverState> {
  const fenced = await fence(run, run.to);
  const releasedAt = performance.now();
  run.log(fenced ? `fenced ${run.from.id} as a replica of ${run.to.id} and unpaused it after ${Math.round(releasedAt - s.pausedAt)} ms` : (run.warnings.at(-1) ?? ''));
  return { ...s, step: 'restore-priorities', releasedAt };
}

/**
 * Step 9: return once Sentinel has finished (reconfiguring the other replicas), so a next switchover,
 * or a status check, does not find a failover in progress.
 */
async function settle(run: Run, s: Released): Promise<SwitchoverState> {
  let settled = false;
  while (!settled && performance.now() < run.deadline) {
    const states = await Promise.all(run.sentinels.map((x) => x.link.call('SENTINEL', 'MASTER', run.t.masterName).then(parseFlatRecord).catch(() => undefined)));
    settled = states.every((m) => !m || ((m.get('failover-state') ?? 'none') === 'none' && !parseFlags(m.get('flags')).has('failover_in_progress')));
    if (!settled) await sleep(50);
  }
  if (!settled) run.warnings.push(`a Sentinel still reports the failover in progress after ${seconds(run.timeoutMs)}`);
  return {
    step: 'done',
    result: {
      from: run.from,
      to: run.to,
      writePauseMs: Math.round(s.promotedAt - s.pausedAt),
      sentinelsAgreedMs: Math.round(s.agreedAt - s.pausedAt),
      oldMasterReleasedMs: Math.round(s.releasedAt - s.pausedAt),
      offsetAtSwitch: s.offsetAtSwitch,
      sentinel: s.asked.id,
      tookMs: Math.round(performance.now() - run.started),
      warnings: run.warnings,
    },
  };
}

async function roleOf(link: Link): Promise<string> {
  return parseReplication(String(await link.call('INFO', 'replication').catch(() => ''))).role;
}

/** Step 8 (and the undo): puts back each node's `replica-priority`; returns those that remain (none: a failure is a warning). */
async function restorePriorities(run: Run, original: readonly Priority[]): Promise<Priority[]> {
  const restored: string[] = [];
  for (const { node, priority } of original) {
    try {
      await withConnection(nodeEndpointIn(run.t, node), (c) => c.call('CONFIG', 'SET', 'replica-priority', priority));
      restored.push(`${node.id} ${priority}`);
    } catch (err) {
      const warning = `could not restore replica-priority ${priority} on ${node.id}: ${errorText(err)}`;
      run.warnings.push(warning);
      run.log(warning);
    }
  }
  if (restored.length > 0) run.log(`replica-priority restored: ${restored.join(', ')}`);
  return [];
}
