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
 *    put back in a `finally`. Sentinel reads priorities from its periodic `INFO` (every 10 s), so we
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
 * 5. Fence the old master: `REPLICAOF <target>` (what Sentinel's `+convert-to-slave` would do some 8 s
 *    later, and what the controller's `fence` does; Sentinel already names the target, so this follows
 *    Sentinel rather than fighting it), drop its normal clients, `CLIENT UNPAUSE`. Writes that waited
 *    in the pause now fail (connection closed or READONLY) without having been executed; clients retry
 *    on the master Sentinel names.
 */
import type { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, withConnection, type Endpoint } from '../redis/connect.ts';
import { parseFlags, parseFlatRecord, parseFlatRecords, parseReplication } from '../redis/parse.ts';
import { errorText } from '../redis/probe.ts';
import { requestFailover } from './act.ts';
import {
  agreedMaster, busySentinel, byId, nameOf, nodeAt, type NodeObservation, type Observation,
} from './observation.ts';
import { nodeEndpointIn, observe, sentinelEndpointIn, type Topology } from './observe.ts';
import { type Address, addressKey, sameAddress } from '../redis/address.ts';
import { majorityOf, namedByMajority } from './agreement.ts';

export interface SwitchoverOptions {
  /** The replica to promote (resolved from an id or `host:port` by the caller); default: the most caught-up replica. */
  readonly to?: Address;
  /** Bound on the whole switchover, including the wait for Sentinel to see the new priorities (up to ~10 s). */
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

/** The Sentinel flags that make a replica ineligible for promotion. */
const INELIGIBLE = ['s_down', 'o_down', 'disconnected'];

const POLL_MS = 5;

/**
 * One connection kept open for fast polling, reopened after an error (Sentinel kills the normal
 * clients of the replica it promotes, which includes ours).
 */
class Link {
  readonly #endpoint: Endpoint;
  #client?: Redis;

  constructor(endpoint: Endpoint) {
    this.#endpoint = endpoint;
  }

  async call(command: string, ...args: string[]): Promise<unknown> {
    try {
      if (!this.#client) {
        const client = connect(this.#endpoint, 1000);
        this.#client = client;
        await client.connect();
      }
      return await this.#client.call(command, ...args);
    } catch (err) {
      this.close();
      throw err;
    }
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
  const ready = (n: NodeObservation) => n.reachable && n.role === 'replica' && sameAddress(n.replicaOf, master) && n.linkUp === true;
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
  const candidates = byId(obs.nodes).filter(ready).sort((a, b) => b.offset - a.offset);
  const target = candidates[0];
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
    const replicas = parseFlatRecords(await c.call('SENTINEL', 'REPLICAS', t.masterName));
    let targetOk = false;
    let othersOk = true;
    let infoAgeMs = 0;
    for (const r of replicas) {
      const flags = parseFlags(r.get('flags'));
      const eligible = !INELIGIBLE.some((f) => flags.has(f)) && r.get('master-link-status') === 'ok';
      const isTarget = r.get('ip') === target.host && r.get('port') === String(target.port);
      if (isTarget) {
        targetOk = eligible && r.get('slave-priority') === '1';
        infoAgeMs = Number(r.get('info-refresh') ?? 0);
      } else if (eligible && r.get('slave-priority') !== '0') {
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
/** Sentinel reads a replica's INFO every 10 s outside failovers: one period covers every phase. */
const ALIGN_BUDGET_MS = 10_500;

/**
 * Moves the master role to a caught-up replica through Sentinel; see the module comment for how.
 * Throws `SwitchoverError` (one line) when refused or when it could not complete; in that case the old
 * master is unpaused and, unless Sentinel already moved, still the master.
 */
export async function switchover(t: Topology, opts: SwitchoverOptions): Promise<SwitchoverResult> {
  const started = performance.now();
  const deadline = started + opts.timeoutMs;
  const pauseMs = opts.pauseMs ?? 5000;
  const catchUpMs = opts.catchUpMs ?? 2000;
  const log = opts.log;
  const warnings: string[] = [];

  const obs = await observe(t);
  const chosen = chooseSwitchover(obs, opts.to);
  const from = nodeOf(chosen.master);
  const to = nodeOf(chosen.target);
  const others = byId(obs.nodes).filter((n) => n.reachable && n.role === 'replica' && !sameAddress(n, to));
  log(`switching master ${label(from)} -> ${label(to)}`);

  const original = new Map<string, { node: SwitchoverNode; priority: string }>();
  const sentinelLinks = t.sentinels.map((s) => ({ id: s.id, address: { host: s.host, port: s.port }, link: new Link(sentinelEndpointIn(t, s)) }));
  const masterLink = new Link(nodeEndpointIn(t, from));
  const targetLink = new Link(nodeEndpointIn(t, to));
  let pausedAt: number | undefined;
  let released = false;
  try {
    // 1. Priorities: the target or nobody.
    const wanted = [{ node: to, priority: '1' }, ...others.map((n) => ({ node: nodeOf(n), priority: '0' }))];
    for (const { node, priority } of wanted) {
      await withConnection(nodeEndpointIn(t, node), async (c) => {
        const [, was] = (await c.call('CONFIG', 'GET', 'replica-priority')) as [string, string];
        original.set(node.id, { node, priority: was });
        await c.call('CONFIG', 'SET', 'replica-priority', priority);
      }).catch((err: unknown) => {
        throw new SwitchoverError(`could not set replica-priority on ${node.id}: ${errorText(err)}`);
      });
    }
    log(`replica-priority: ${to.id} 1${others.map((n) => `, ${n.id} 0`).join('')} (restored afterwards)`);

    // Wait until a Sentinel would choose the target, then for a good moment to ask it (see
    // INFO_AGE_TARGET_MS); writes are not paused yet, so this waiting costs nothing but time.
    let ready: typeof sentinelLinks = [];
    let best: (typeof sentinelLinks)[number] | undefined;
    let alignUntil = Infinity;
    for (;;) {
      const views = await Promise.all(sentinelLinks.map((s) => sentinelChoice(t, sentinelEndpointIn(t, s.address), from, to)));
      const now = performance.now();
      ready = sentinelLinks.filter((_, i) => views[i]?.wouldChoose);
      if (ready.length > 0 && alignUntil === Infinity) {
        alignUntil = Math.min(now + ALIGN_BUDGET_MS, now + (deadline - now) / 2);
        log(`${ready.map((s) => s.id).join(', ')} would promote ${to.id} (after ${seconds(now - started)})`);
      }
      const ages = sentinelLinks.map((_, i) => (views[i]?.wouldChoose ? (views[i]?.infoAgeMs ?? 0) : -1));
      const inWindow = ages.findIndex((a) => a >= INFO_AGE_WINDOW_MS[0] && a <= INFO_AGE_WINDOW_MS[1]);
      if (inWindow >= 0) {
        best = sentinelLinks[inWindow];
        break;
      }
      if (ready.length > 0 && now >= alignUntil) break;
      if (ready.length === 0 && now > deadline) {
        throw new SwitchoverError(`no Sentinel saw ${to.id} as the only promotable replica within ${seconds(opts.timeoutMs)} (Sentinel reads priorities every 10 s); nothing was changed`);
      }
      const early = ages.filter((a) => a >= 0 && a < INFO_AGE_TARGET_MS).map((a) => INFO_AGE_TARGET_MS - a);
      await sleep(Math.max(5, Math.min(50, ...early)));
    }
    // The well-timed Sentinel first; the others only if it cannot be reached.
    ready = best ? [best, ...ready.filter((s) => s !== best)] : ready;

    // 2. Pause writes on the master.
    await masterLink.call('CLIENT', 'PAUSE', String(pauseMs), 'WRITE').catch((err: unknown) => {
      throw new SwitchoverError(`could not pause writes on ${from.id}: ${errorText(err)}; nothing was changed`);
    });
    pausedAt = performance.now();
    let renewedAt = pausedAt;
    const renewPause = async () => {
      if (performance.now() - renewedAt < pauseMs / 2) return;
      await masterLink.call('CLIENT', 'PAUSE', String(pauseMs), 'WRITE').catch(() => undefined);
      renewedAt = performance.now();
    };
    log(`paused writes on ${from.id} (CLIENT PAUSE ${pauseMs} WRITE)`);

    // 3. The target catches up.
    let offsetAtSwitch = 0;
    for (;;) {
      const m = parseReplication(String(await masterLink.call('INFO', 'replication').catch(() => '')));
      const r = parseReplication(String(await targetLink.call('INFO', 'replication').catch(() => '')));
      if (m.role !== 'master' && m.role !== 'unknown') throw new SwitchoverError(`${from.id} stopped being master before the switch; nothing was changed`);
      if (m.role === 'master' && r.role === 'replica' && r.offset >= m.offset) {
        offsetAtSwitch = m.offset;
        break;
      }
      if (performance.now() - pausedAt > catchUpMs) {
        throw new SwitchoverError(`${to.id} did not catch up with ${from.id} within ${catchUpMs} ms of pausing writes (offset ${r.offset} of ${m.offset}); nothing was changed`);
      }
      await sleep(POLL_MS);
    }
    log(`${to.id} caught up at offset ${offsetAtSwitch} after ${Math.round(performance.now() - pausedAt)} ms`);

    // 4. Sentinel promotes.
    let asked: (typeof sentinelLinks)[number];
    try {
      const accepted = await requestFailover(ready.map((s) => sentinelEndpointIn(t, s.address)), t.masterName);
      asked = ready.find((s) => sameAddress(s.address, accepted)) ?? ready[0];
    } catch (err) {
      throw new SwitchoverError(`${errorText(err)}; nothing was changed`);
    }
    const askedAt = performance.now();
    log(`asked ${asked.id} to fail over`);

    // Fencing the old master follows whatever a Sentinel majority names, never our own choice.
    const fence = async (master: Address): Promise<boolean> => {
      try {
        await masterLink.call('REPLICAOF', master.host, String(master.port));
        await masterLink.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        await masterLink.call('CLIENT', 'UNPAUSE');
        await masterLink.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        released = true;
      } catch (err) {
        // The controller (or Sentinel) may have fenced it first: that kills our link too. If it already
        // follows the new master, only the pause is left to lift, over a fresh connection.
        const demoted = await withConnection(nodeEndpointIn(t, from), async (c) => {
          const r = parseReplication(String(await c.call('INFO', 'replication')));
          if (r.role !== 'replica' || r.masterHost !== master.host || r.masterPort !== master.port) return false;
          await c.call('CLIENT', 'UNPAUSE');
          await c.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
          return true;
        }).catch(() => false);
        if (demoted) released = true;
        else warnings.push(`could not fence ${from.id} (${errorText(err)}); Sentinel and the controller demote it`);
      }
      return released;
    };

    const needed = majorityOf(t.sentinels.length);
    let promotedAt: number | undefined;
    let agreedAt: number | undefined;
    let lastAbortCheck = askedAt;
    for (;;) {
      await renewPause();
      if (promotedAt === undefined) {
        const role = parseReplication(String(await targetLink.call('INFO', 'replication').catch(() => ''))).role;
        if (role === 'master') {
          promotedAt = performance.now();
          log(`${to.id} answers role master after ${Math.round(promotedAt - pausedAt)} ms`);
        }
      }
      const named = await Promise.all(sentinelLinks.map((s) => s.link.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', t.masterName).catch(() => null)));
      const addresses = named.map((a) => (Array.isArray(a) && a.length >= 2 ? { host: String(a[0]), port: Number(a[1]) } : undefined));
      const majority = namedByMajority(addresses, t.sentinels.length);
      if (majority && !sameAddress(majority, from) && !sameAddress(majority, to)) {
        const fenced = await fence(majority);
        throw new SwitchoverError(`the Sentinels promoted ${nameOf(obs, majority)} instead of ${to.id}${fenced ? `; ${from.id} was fenced as its replica` : ''}`);
      }
      if (promotedAt !== undefined && majority && sameAddress(majority, to)) {
        agreedAt = performance.now();
        log(`${addresses.filter((a) => sameAddress(a, to)).length} of ${t.sentinels.length} Sentinels name ${to.id} after ${Math.round(agreedAt - pausedAt)} ms`);
        break;
      }
      if (promotedAt === undefined && performance.now() - lastAbortCheck > 100) {
        // Sentinel gives up (e.g. -failover-abort-no-good-slave) without promoting: stop waiting.
        lastAbortCheck = performance.now();
        const m = parseFlatRecord(await asked.link.call('SENTINEL', 'MASTER', t.masterName).catch(() => []));
        const stillMaster = m.get('ip') === from.host && m.get('port') === String(from.port);
        if (m.get('failover-state') === 'none' && stillMaster) {
          const role = parseReplication(String(await targetLink.call('INFO', 'replication').catch(() => ''))).role;
          if (role !== 'master') {
            throw new SwitchoverError(`${asked.id} ended the failover without promoting ${to.id} (see 'redis-ha logs ${asked.id}'); ${from.id} is still master`);
          }
        }
      }
      if (performance.now() > deadline) {
        const what = promotedAt === undefined
          ? `${to.id} was not promoted; writes on ${from.id} resumed`
          : `${to.id} was promoted but fewer than ${needed} Sentinels name it; ${from.id} was unpaused and the controller fences whichever master the Sentinels do not name`;
        throw new SwitchoverError(`Sentinel did not complete the switchover within ${seconds(opts.timeoutMs)}: ${what}`);
      }
      await sleep(POLL_MS);
    }

    // 5. Fence the old master, then let its waiting clients go.
    await fence(to);
    const releasedAt = performance.now();
    log(released ? `fenced ${from.id} as a replica of ${to.id} and unpaused it after ${Math.round(releasedAt - pausedAt)} ms` : warnings[warnings.length - 1]);

    await restorePriorities(t, original, warnings, log);

    // Return once Sentinel has finished (reconfiguring the other replicas), so a next switchover, or a
    // status check, does not find a failover in progress.
    let settled = false;
    while (!settled && performance.now() < deadline) {
      const states = await Promise.all(sentinelLinks.map((s) => s.link.call('SENTINEL', 'MASTER', t.masterName).then(parseFlatRecord).catch(() => undefined)));
      settled = states.every((m) => !m || ((m.get('failover-state') ?? 'none') === 'none' && !parseFlags(m.get('flags')).has('failover_in_progress')));
      if (!settled) await sleep(50);
    }
    if (!settled) warnings.push(`a Sentinel still reports the failover in progress after ${seconds(opts.timeoutMs)}`);

    return {
      from,
      to,
      writePauseMs: Math.round(promotedAt - pausedAt),
      sentinelsAgreedMs: Math.round(agreedAt - pausedAt),
      oldMasterReleasedMs: Math.round(releasedAt - pausedAt),
      offsetAtSwitch,
      sentinel: asked.id,
      tookMs: Math.round(performance.now() - started),
      warnings,
    };
  } finally {
    if (pausedAt !== undefined && !released) {
      await masterLink.call('CLIENT', 'UNPAUSE').catch((err: unknown) => log(`could not unpause ${from.id}: ${errorText(err)} (the pause ends by itself within ${pauseMs} ms)`));
    }
    if (original.size > 0) await restorePriorities(t, original, warnings, log);
    masterLink.close();
    targetLink.close();
    for (const s of sentinelLinks) s.link.close();
  }
}

/** Puts back each node's `replica-priority`; idempotent (restored entries are removed). */
async function restorePriorities(
  t: Topology,
  original: Map<string, { node: SwitchoverNode; priority: string }>,
  warnings: string[],
  log: (line: string) => void,
): Promise<void> {
  const restored: string[] = [];
  for (const [id, { node, priority }] of original) {
    original.delete(id);
    try {
      await withConnection(nodeEndpointIn(t, node), (c) => c.call('CONFIG', 'SET', 'replica-priority', priority));
      restored.push(`${id} ${priority}`);
    } catch (err) {
      const warning = `could not restore replica-priority ${priority} on ${id}: ${errorText(err)}`;
      warnings.push(warning);
      log(warning);
    }
  }
  if (restored.length > 0) log(`replica-priority restored: ${restored.join(', ')}`);
}
