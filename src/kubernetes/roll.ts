/**
 * Safe spec changes: the operator rolls the Redis pods itself, one at a time, replicas first, the
 * master last through a planned switchover, so a Sentinel-aware client sees no outage.
 *
 * The operator applies the Redis StatefulSet with `updateStrategy: OnDelete`, so a changed pod template
 * only moves the StatefulSet's `updateRevision`; each pod is replaced when the operator deletes it.
 * (`redis-ha render` for plain manifests keeps `RollingUpdate`: there the preStop hook hands the master
 * role over when Kubernetes deletes the master.) The Sentinels keep `RollingUpdate`, which already goes
 * one pod at a time; the Redis roll waits until it has finished, so a switchover never runs with a
 * Sentinel missing.
 *
 * A pod on an old revision that never became Ready (its image cannot be pulled, it crash-loops, it
 * cannot be scheduled) holds no data: it is replaced at once, all such pods together, without waiting
 * for the others to be healthy (they may never be: a broken image breaks every pod). Without that rule a
 * mistyped tag corrected in the spec left every pod stuck on the broken revision.
 *
 * `planRoll` is pure: it reads the pods, the StatefulSets' revisions and one topology observation and
 * returns one step with its reason; the runtime carries the step out and asks again on its next pass.
 */
import { addressKey } from '../redis/address.ts';
import { agreedMaster, busySentinel, linkedReplicaOf, nodeAt, sentinelFailingOver, type Memory, type NodeObservation, type Observation } from '../topology/observation.ts';
import { rankByData } from '../topology/plan-rank.ts';
import type { PodTrouble } from './pods.ts';

/** A Redis pod as the roll sees it. */
export interface RollPod {
  readonly name: string;
  /** Its `controller-revision-hash` label: the StatefulSet revision it was made from. */
  readonly revision?: string;
  readonly ready: boolean;
  readonly terminating: boolean;
  /** It has never been Ready (pods.ts `neverReady`): never scheduled, never ran, or never passed readiness. */
  readonly neverReady: boolean;
  /** Why it is not running, when its status says (pods.ts `podTrouble`). */
  readonly trouble?: PodTrouble;
}

export interface RollInput {
  /** The Redis StatefulSet's `status.updateRevision` (undefined until its controller has seen it). */
  readonly updateRevision: string | undefined;
  /** Whether the StatefulSet controller has seen the latest template (`observedGeneration == generation`). */
  readonly observedLatest: boolean;
  /** Pods the StatefulSet should have. */
  readonly replicas: number;
  /**
   * Pods the spec asks for. Fewer than `replicas`: a scale-down the operator holds back until the master
   * is one of the pods that stay (the StatefulSet removes the highest ordinals, whatever their role).
   */
  readonly desiredPods: number;
  readonly pods: readonly RollPod[];
  /** The Sentinel StatefulSet has no pod left on an old revision, and all are ready. */
  readonly sentinelsRolledOut: boolean;
  /** One observation of the Redis nodes and Sentinels (topology/observe.ts); node ids are pod names. */
  readonly observed: Observation;
  /** The controller's memory, for the planner's ranking of the switchover target (`rankByData`). */
  readonly memory: Memory;
}

export type RollStep =
  | { readonly kind: 'done'; readonly reason: string }
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'delete'; readonly pod: string; readonly reason: string }
  /** Pods that never became Ready on an old revision: they hold no data, so all go at once. */
  | { readonly kind: 'replace-stuck'; readonly pods: readonly string[]; readonly reason: string }
  | { readonly kind: 'switchover'; readonly from: string; readonly to: string; readonly reason: string }
  /** A scale-down may go ahead: the master is one of the pods that stay, and they are in sync. */
  | { readonly kind: 'shrink'; readonly pods: number; readonly reason: string };

/** A StatefulSet pod's ordinal (`x-10`: 10). */
const ordinal = (name: string) => Number(/-(\d+)$/.exec(name)?.[1] ?? 0);

/** Numeric order of StatefulSet pods (`x-10` after `x-9`). */
function byOrdinal(a: string, b: string): number {
  return ordinal(a) - ordinal(b) || a.localeCompare(b);
}

/**
 * Pods a roll replaces without waiting: on an old revision, never Ready, not terminating, and not
 * answering as Redis in this observation (so neither a master nor a replica with data, even one the
 * Sentinels still name: a name that never answered holds nothing).
 */
export function stuckPods(i: Pick<RollInput, 'observed'>, outdated: readonly RollPod[]): RollPod[] {
  const answering = new Set(i.observed.nodes.filter((n) => n.reachable).map((n) => n.id));
  return outdated.filter((p) => p.neverReady && !p.terminating && !answering.has(p.name));
}

/**
 * Outdated replicas once the master a Sentinel majority names runs the update revision: step 4 replaces
 * them next, so their readiness and their link do not hold the roll up. After the switchover of a change
 * of server, the old master may be unable to follow the new one at all (Redis 7.0 cannot load the RDB a
 * Valkey 9 master sends: CI, 2026-12-03, the roll waited 10 minutes on it); the master holds everything it
 * had (the switchover waited for that), so nothing is lost with it.
 */
function leavingReplicas(master: NodeObservation | undefined, outdated: readonly RollPod[]): ReadonlySet<string> {
  if (!master || !master.reachable || master.role !== 'master' || outdated.some((p) => p.name === master.id)) return new Set();
  return new Set(outdated.map((p) => p.name));
}

/**
 * The next step of a roll:
 * 1. nothing on an old revision: done;
 * 2. pods on an old revision that never became Ready and do not answer as Redis now: replace them all at
 *    once (they hold no data, so none of them can be the master a client writes to), unless a Sentinel
 *    reports a failover in progress; no other pod needs to be healthy for this;
 * 3. wait while the StatefulSet controller has not caught up, a pod is missing, terminating or not
 *    ready, the Sentinels are still rolling, a Sentinel is failing over (any state, even past the
 *    promotion, which the planner's `busySentinel` lets through) or in TILT, or the Redis topology is not whole (no master a majority of Sentinels names and
 *    that reports master, a replica not following it with its link up): a roll never adds a disruption
 *    to one in progress. Once the master is updated, outdated replicas are exempt (`leavingReplicas`):
 *    they go next;
 * 4. an outdated replica: delete it (the highest ordinal first), one at a time;
 * 4a. a scale-down held back (`desiredPods` < `replicas`), before any pod is replaced: when the master is
 *    a pod that stays, `shrink` (the operator then applies the smaller count, and the roll goes on with
 *    fewer pods); else switch over to the best in-sync replica that stays (`rankByData`), whatever its
 *    revision;
 * 5. only the master is outdated: switch over to an updated, in-sync replica, the best by the planner's
 *    ranking by data (`rankByData`: in practice the most data, the highest offset); after it, the old
 *    master is an outdated replica and goes by step 4.
 */
export function planRoll(i: RollInput): RollStep {
  const outdated = i.pods.filter((p) => i.updateRevision !== undefined && p.revision !== i.updateRevision);
  if (i.updateRevision === undefined || !i.observedLatest) return { kind: 'wait', reason: 'the StatefulSet controller has not observed the latest template yet' };
  const shrinking = i.desiredPods < i.replicas;
  if (outdated.length === 0 && !shrinking && i.pods.length >= i.replicas) return { kind: 'done', reason: `all ${i.pods.length} Redis pods run revision ${i.updateRevision}` };
  const stuck = stuckPods(i, outdated);
  if (stuck.length) {
    const busy = sentinelFailingOver(i.observed);
    if (busy) return { kind: 'wait', reason: `${busy.id} reports a failover in progress` };
    const names = stuck.map((p) => p.name).sort(byOrdinal);
    const causes = [...new Set(stuck.map((p) => p.trouble?.reason ?? 'not ready'))].join(', ');
    return { kind: 'replace-stuck', pods: names, reason: `${names.join(', ')} never became ready on an old revision (${causes}) and ${names.length === 1 ? 'holds' : 'hold'} no data: replacing ${names.length === 1 ? 'it' : 'them'} with revision ${i.updateRevision} now` };
  }
  const terminating = i.pods.find((p) => p.terminating);
  if (terminating) return { kind: 'wait', reason: `${terminating.name} is terminating` };
  if (i.pods.length < i.replicas) return { kind: 'wait', reason: `${i.replicas - i.pods.length} Redis pod(s) missing; waiting for the StatefulSet to recreate them` };
  const o = i.observed;
  const agreed = agreedMaster(o);
  const master = agreed && nodeAt(o, agreed);
  const leaving = leavingReplicas(master, outdated);
  const unready = i.pods.find((p) => !p.ready && !leaving.has(p.name));
  if (unready) return { kind: 'wait', reason: `${unready.name} is not ready` };
  if (outdated.length === 0 && !shrinking) return { kind: 'done', reason: `all ${i.pods.length} Redis pods run revision ${i.updateRevision}` };
  if (!i.sentinelsRolledOut) return { kind: 'wait', reason: 'the Sentinels are still rolling' };
  // Stricter than the planner's busy rule (busySentinel lets a failover past its promotion through, for
  // repointing replicas): a roll deletes pods and switches over, so it waits for any failover to end.
  const busy = sentinelFailingOver(o) ?? busySentinel(o);
  if (busy) return { kind: 'wait', reason: `${busy.id} ${busy.failoverInProgress ? 'reports a failover in progress' : 'is in TILT mode'}` };
  if (!agreed) return { kind: 'wait', reason: 'no master is named by a majority of the Sentinels' };
  if (!master || !master.reachable || master.role !== 'master') return { kind: 'wait', reason: `the master the Sentinels name (${addressKey(agreed)}) does not answer as master` };
  const lagging = o.nodes.find((n) => n !== master && !linkedReplicaOf(n, master) && !leaving.has(n.id));
  if (lagging) return { kind: 'wait', reason: `${lagging.id} is not an in-sync replica of ${master.id}` };

  if (shrinking) {
    const removed = `${i.replicas - i.desiredPods} pod(s) from ordinal ${i.desiredPods}`;
    if (ordinal(master.id) < i.desiredPods) return { kind: 'shrink', pods: i.desiredPods, reason: `the master ${master.id} stays: scaling down to ${i.desiredPods} Redis pods removes ${removed}` };
    const stay = o.nodes.filter((n) => n !== master && ordinal(n.id) < i.desiredPods && linkedReplicaOf(n, master));
    const heir = rankByData({ ...o, nodes: stay }, i.memory)[0];
    if (!heir) return { kind: 'wait', reason: `scaling down to ${i.desiredPods} Redis pods removes the master ${master.id}, and no replica that stays is in sync to take over` };
    return { kind: 'switchover', from: master.id, to: heir.id, reason: `scaling down to ${i.desiredPods} Redis pods removes the master ${master.id}: switching over to ${heir.id} first` };
  }

  const outdatedReplicas = outdated.filter((p) => p.name !== master.id).map((p) => p.name).sort(byOrdinal);
  const victim = outdatedReplicas.at(-1);
  if (victim) return { kind: 'delete', pod: victim, reason: `${victim} is a replica on an old revision (${outdatedReplicas.length} such replica(s) left${outdated.some((p) => p.name === master.id) ? ', then the master' : ''})` };

  if (i.pods.length === 1) return { kind: 'delete', pod: master.id, reason: `${master.id} is the only Redis pod (no replica to hand over to): replacing it` };
  const updated = new Set(i.pods.filter((p) => p.revision === i.updateRevision).map((p) => p.name));
  const candidates = o.nodes.filter((n) => n !== master && updated.has(n.id) && linkedReplicaOf(n, master));
  const target = rankByData({ ...o, nodes: candidates }, i.memory)[0];
  if (!target) return { kind: 'wait', reason: `the master ${master.id} is the last pod on an old revision, but no updated replica is in sync to take over` };
  return { kind: 'switchover', from: master.id, to: target.id, reason: `the master ${master.id} is the last pod on an old revision: switching over to ${target.id} before replacing it` };
}
