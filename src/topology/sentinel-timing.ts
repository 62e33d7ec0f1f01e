/**
 * When a Sentinel asked to fail over will see the promotion it makes: which Sentinel to ask, and the
 * INFO period the controller gives each Sentinel so that one of them sees it soon.
 *
 * A failover waits for the asking Sentinel to notice that the replica it sent `REPLICAOF NO ONE` took
 * the master role, and Sentinel notices that only on its next `INFO` of that replica. During a failover
 * it reads each replica's `INFO` once a second after the previous read (`FAILOVER_INFO_PERIOD_MS`,
 * hard-coded in sentinel.c). Outside one it reads every `INFO-PERIOD`, 10 s by default: the last read
 * is then mostly over a second old when the failover starts, so Sentinel reads at once, before the
 * promotion, and sees it a second later. The controller sets each Sentinel's period to about a second
 * (`sentinelInfoPeriodMs`, part of a Sentinel's settings). Then the moment of each Sentinel's next read
 * of the replica it would promote is known from the age of its last one (`info-refresh` in `SENTINEL
 * REPLICAS`), and asking does not move it: the one to ask is the one whose next read comes soonest
 * after the promotion. The periods differ by tens of ms from one Sentinel to the next, so their
 * reads, which start together when the controller sets them and after every failover, drift apart
 * within seconds. Timing only: each Sentinel still picks the replica by its own rule, and a wrong
 * guess costs time, never safety.
 */
import type { SentinelReplica } from '../redis/parse.ts';

/** Sentinel's own period for a replica's INFO while it fails over its master (sentinel.c). */
export const FAILOVER_INFO_PERIOD_MS = 1000;

/**
 * Between the INFO periods of two Sentinels in a row. Every Sentinel reads the replicas at once when it
 * switches to a new master (they are new instances to it), so after each failover their reads start
 * together; with this step, three Sentinels' reads are a third of a second apart some 7 s later. A
 * larger step would leave a Sentinel's last read more often over a second old when a failover starts.
 */
const INFO_PERIOD_STEP_MS = 50;

/**
 * The INFO period (`SENTINEL DEBUG INFO-PERIOD`) of the Sentinel at `index` in the topology: a second,
 * plus `INFO_PERIOD_STEP_MS` per place. Not a config directive: the controller sets it with the other
 * settings (`settingsMatch`), after every start of the Sentinel.
 */
export function sentinelInfoPeriodMs(index: number): number {
  return FAILOVER_INFO_PERIOD_MS + INFO_PERIOD_STEP_MS * index;
}

/**
 * A Sentinel's ping period (`SENTINEL DEBUG PING-PERIOD`; Sentinel's own is 1 s) for a down-after of
 * `downAfterMs`: half of it, at most a second. It is also the least time between two connection
 * attempts to an instance, the first one included: a Sentinel that switched to a new master by another
 * Sentinel's hello connects to it one ping period later, and counts the master down from the moment it
 * made the link. At 1 s that equals the fast profile's down-after, so the Sentinels that switched by
 * hello flagged the new master down and failed it over again, back to the node just killed (chaos 1
 * and 2, locally and in CI; docs/architecture.md, Crashes). At half of down-after the link is up and
 * answered first. The default profile (5 s) keeps Sentinel's own second.
 */
export function sentinelPingPeriodMs(downAfterMs: number): number {
  return Math.min(1000, Math.floor(downAfterMs / 2));
}

/**
 * The `SENTINEL DEBUG` arguments that give the Sentinel at `index` its INFO and ping periods, for a
 * down-after of `downAfterMs`: what the controller sets and the observation checks.
 */
export function sentinelPeriodArgs(index: number, downAfterMs: number): string[] {
  return ['INFO-PERIOD', String(sentinelInfoPeriodMs(index)), 'PING-PERIOD', String(sentinelPingPeriodMs(downAfterMs))];
}

/** The Sentinel flags that make a replica ineligible for promotion. */
export const INELIGIBLE = ['s_down', 'o_down', 'disconnected'];

/**
 * Sentinel picks the replica a timer tick or two after it is asked (measured: the failover's first step
 * some 100 ms after the request); a replica whose INFO it reads before then is judged by that read.
 */
const SELECTED_AFTER_MS = 120;

/**
 * The replica a Sentinel asked now promotes, by its own order (`sentinelSelectSlave`): of those it can
 * reach with a priority other than 0, the lowest priority, then the largest replication offset, then
 * the smaller run id. The offsets it compares are those of its last INFO of each. A replica read since
 * the master died (its link to the master reported down) or read before the pick has its final offset,
 * which is at least any other's read while the master still took writes: those are compared by run id
 * alone. Its other tests (how old the INFO and the link loss are) pass in the failovers the controller
 * asks for, a moment after the master died.
 */
export function sentinelsPick(replicas: readonly SentinelReplica[]): SentinelReplica | undefined {
  const final = (r: SentinelReplica) => !r.linkUp || FAILOVER_INFO_PERIOD_MS - r.infoAgeMs < SELECTED_AFTER_MS;
  const offset = (r: SentinelReplica) => (final(r) ? Infinity : r.offset);
  return replicas
    .filter((r) => r.priority !== 0 && !INELIGIBLE.some((f) => r.flags.has(f)))
    .sort((a, b) => a.priority - b.priority || (offset(a) === offset(b) ? 0 : offset(b) > offset(a) ? 1 : -1) || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0))[0];
}

/**
 * Sentinel sends `REPLICAOF NO ONE` a few timer ticks after it is asked (measured: 160–250 ms, its
 * timer runs at 10–19 Hz). A read before then finds the replica not yet promoted and the next one
 * comes a second later, so a read sooner than this after the request counts as that next one.
 */
export const PROMOTION_SENT_MS = 260;

/**
 * In how many ms from now a Sentinel asked now reads the promoted replica's INFO once it is promoted,
 * from the age of its last read (`infoAgeMs`). A read older than the period is due at once, before the promotion
 * (a Sentinel still at its default INFO-PERIOD of 10 s, most of the time).
 */
export function promotionSeenInMs(infoAgeMs: number): number {
  const next = Math.max(0, FAILOVER_INFO_PERIOD_MS - infoAgeMs);
  return next >= PROMOTION_SENT_MS ? next : next + FAILOVER_INFO_PERIOD_MS;
}

/**
 * `order` with the topology's first Sentinel (`first`) moved to its end. The Sentinel that runs a
 * failover switches last, about a second after the others: it ends the failover only once its INFO,
 * read once a second and of every replica in one round, shows the other replicas following, and
 * until then `SENTINEL MASTERS` on it names the old master. Clients ask the Sentinels in the order
 * they were given, the first first (redis-py, which reads `SENTINEL MASTERS`, keeps asking it while it
 * answers), and redis-ha lists them in the topology's order. So the first leads only when no other
 * accepts.
 */
export function firstListedLast<T>(order: readonly T[], first: T | undefined): T[] {
  return [...order.filter((s) => s !== first), ...order.filter((s) => s === first)];
}

/**
 * `sentinels` ordered for a `SENTINEL FAILOVER`: the one that would see its promotion soonest first
 * (`promotionSeenInMs` of the replica it would pick); those it could not list (undefined) last, in
 * their order, as are ties.
 */
export function soonestToSeePromotion<T>(sentinels: readonly T[], listed: readonly (readonly SentinelReplica[] | undefined)[]): T[] {
  const seenIn = listed.map((replicas) => {
    const pick = replicas && sentinelsPick(replicas);
    return pick ? promotionSeenInMs(pick.infoAgeMs) : Infinity;
  });
  return sentinels.map((s, i) => ({ s, i })).sort((a, b) => (seenIn[a.i] ?? Infinity) - (seenIn[b.i] ?? Infinity) || a.i - b.i).map((x) => x.s);
}
