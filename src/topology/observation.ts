/**
 * The one value the planner reads: what every Redis node and every Sentinel of a deployment reported at
 * one instant, plus the controller's memory. Built at the edge from parsed replies; a node or Sentinel
 * that could not be asked is still listed (`reachable: false`), never left out, so "configured" counts
 * stay true.
 */
import { addressKey, sameAddress, type Address } from '../redis/address.ts';
import type { NodeFigures } from '../redis/parse.ts';
import { namedByMajority } from './agreement.ts';

/** One Redis node as `ROLE` / `INFO replication` / `INFO keyspace` described it. */
export interface NodeObservation {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly reachable: boolean;
  /** 'unknown' when the node answered but its role could not be read (e.g. still loading). */
  readonly role: 'master' | 'replica' | 'unknown';
  /**
   * Set while the node loads its dataset (`INFO loading:1`): the role it reports meanwhile, which
   * `role` does not trust ('unknown' until it has loaded). The status shows it.
   */
  readonly loadingAs?: 'master' | 'replica';
  /** For a replica (one still loading too): the master it follows. */
  readonly replicaOf?: Address;
  /** For a replica: `master_link_status:up`. */
  readonly linkUp?: boolean;
  /** For a master: how many replicas are connected to it (INFO replication). */
  readonly connectedReplicas?: number;
  /** Replication offset; only comparable between nodes sharing a replid history. */
  readonly offset: number;
  readonly replid: string;
  /** Total keys in the keyspace; 0 = empty. */
  readonly keys: number;
  /**
   * Set when the runtime knows the node's Redis process is not running, with why in a few words: its
   * process exited (local supervisor), its pod is being deleted or is gone, its Redis container is not
   * running (Kubernetes). The network alone cannot tell a dead process from a slow link; the runtime can.
   * Absent when nothing is known, which is never a reason to act.
   */
  readonly gone?: string;
  /** For a reachable node: the selected `INFO` figures (memory, clients, ops/s, keyspace), for status and metrics. */
  readonly figures?: NodeFigures;
  /** For an unreachable node: why, in one line (`errorText`). */
  readonly error?: string;
}

/** One Sentinel's view of the deployment's master group. */
export interface SentinelObservation {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly reachable: boolean;
  /** It monitors the deployment's master name. */
  readonly monitoring: boolean;
  /** The master it names (`SENTINEL GET-MASTER-ADDR-BY-NAME`). */
  readonly master?: Address;
  readonly failoverInProgress: boolean;
  /** The state of that failover (`reconf_slaves` once the new master is promoted), when known. */
  readonly failoverState?: string;
  readonly tilt: boolean;
  readonly configEpoch: number;
  /** quorum, down-after, failover-timeout, parallel-syncs and auth-pass are as the spec says. */
  readonly settingsMatch: boolean;
  // What the status shows besides (set when it monitors the deployment's master name):
  /** The master's flags as this Sentinel reports them (`master`, `s_down`, `o_down`, ...). */
  readonly masterFlags?: readonly string[];
  /** Replicas it knows that are neither `s_down` nor `disconnected`. */
  readonly replicasSeen?: number;
  /** Other Sentinels it knows that are neither `s_down` nor `disconnected`. */
  readonly otherSentinelsSeen?: number;
  /**
   * Every replica and other Sentinel it lists, down or not (`SENTINEL REPLICAS`, `SENTINEL SENTINELS`).
   * Sentinel forgets no member by itself: after a scale-down these count the removed ones, and a
   * Sentinel that counts removed Sentinels needs more votes than are left to fail over.
   */
  readonly replicasKnown?: number;
  /** Replicas it lists as down for longer than down-after (`s_down`). */
  readonly replicasDown?: number;
  /** The replicas it lists but does not see, each as `host:port (flags)`: why a status says it sees fewer. */
  readonly replicasUnseen?: readonly string[];
  readonly otherSentinelsKnown?: number;
  /** Its `SENTINEL CKQUORUM` answer. */
  readonly ckquorum?: { readonly ok: boolean; readonly message: string };
  /** For an unreachable Sentinel: why, in one line (`errorText`). */
  readonly error?: string;
}

/** Everything observed in one pass. `sentinels` lists every CONFIGURED Sentinel, reachable or not. */
export interface Observation {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly nodes: readonly NodeObservation[];
  readonly sentinels: readonly SentinelObservation[];
  /**
   * The master a Sentinel last said it cannot fail over for want of a replica fit to promote (its event
   * `-failover-abort-no-good-slave`, or `NOGOODSLAVE` in reply to `SENTINEL FAILOVER`), until a Sentinel
   * switches master. Sentinel skips a replica whose link to the master has been down longer than ten
   * times down-after, so after a long outage it keeps aborting, every 2 x failover-timeout, for ever.
   */
  readonly noGoodReplica?: Address;
}

/** What the controller remembers across passes and restarts (persisted by the runtime). */
export interface Memory {
  readonly master?: Address;
  /** The highest Sentinel config epoch seen; never decreases. */
  readonly epoch: number;
  /**
   * Set while `redis-ha migrate` moves an outside deployment in: the master (not one of our nodes) our
   * nodes replicate from until Sentinel's switchover makes one of ours the master. Dropped by the first
   * pass in which a Sentinel majority names one of our nodes.
   */
  readonly migrateFrom?: Address;
  /**
   * A `sentinel-failover` of `from` asked at `at` (the observation's clock): under way until a Sentinel
   * majority names another master or failover-timeout has passed, and not asked again meanwhile.
   * Recorded only once the request was accepted.
   */
  readonly failoverAsked?: { readonly from: Address; readonly at: number };
}

/**
 * The master named by a strict majority of the CONFIGURED Sentinels (`obs.sentinels.length`), counting
 * only reachable Sentinels that monitor the deployment; undefined when no address has a majority.
 * Counting against the configured number, not the reachable one, keeps a partitioned minority from
 * "agreeing" on its own.
 */
export function agreedMaster(obs: Observation): Address | undefined {
  return namedByMajority(obs.sentinels.filter((s) => s.reachable && s.monitoring).map((s) => s.master), obs.sentinels.length);
}

/**
 * The first reachable Sentinel (by id) that is in TILT or reports a failover in progress: while one
 * exists, Sentinel is acting or cannot be trusted, so the controller must not.
 */
export function busySentinel(obs: Observation): SentinelObservation | undefined {
  const agreed = agreedMaster(obs);
  return byId(obs.sentinels).find((s) => s.reachable && (s.tilt || (s.failoverInProgress && !promotedAndFollowed(s, agreed))));
}

/**
 * A Sentinel whose failover has promoted a replica that the majority already names, and that is now
 * only reconfiguring the other replicas (which can take until failover-timeout when one is slow): the
 * controller may help with that (point replicas at the new master) without undoing anything, as long
 * as it leaves that Sentinel itself alone.
 * Sentinel's states after the promotion are `reconf_slaves` and `update_config` (sentinel.c: from
 * `reconf_slaves` on, `sentinelGetCurrentMasterAddress` gives the promoted replica, which is how the
 * other Sentinels learn it); the earlier ones (`wait_start`, `select_slave`, `send_slaveof_noone`,
 * `wait_promotion`) always block.
 */
export function promotedAndFollowed(s: SentinelObservation, agreed: Address | undefined): boolean {
  // It names the old master (SENTINEL MASTER's address changes only at the switch), never nothing.
  return (s.failoverState === 'reconf_slaves' || s.failoverState === 'update_config') && s.monitoring && s.master !== undefined && agreed !== undefined && !sameAddress(s.master, agreed);
}

/**
 * A reachable Sentinel that names a master other than `agreed` under a config epoch newer than that of
 * every Sentinel naming `agreed`, and that master reports role master: Sentinel has just switched and
 * the majority has not followed yet.
 * Sentinel's own rule (the newest epoch wins) will bring them over; the controller must not pull the
 * other way meanwhile.
 */
export function sentinelAhead(obs: Observation, agreed: Address): SentinelObservation | undefined {
  const monitoring = byId(obs.sentinels).filter((s) => s.reachable && s.monitoring && s.master);
  const majorityEpoch = Math.max(0, ...monitoring.filter((s) => sameAddress(s.master, agreed)).map((s) => s.configEpoch));
  return monitoring.find((s) => {
    if (sameAddress(s.master, agreed) || s.configEpoch <= majorityEpoch) return false;
    // A Sentinel still failing over names the master it replaces, under the new epoch from the
    // promotion on (`reconf_slaves`): not ahead, behind (`promotedAndFollowed`).
    if (s.failoverInProgress) return false;
    // Only a switch Sentinel carried out: the master it names has been promoted. (A newer epoch that
    // names a replica is a stale config the controller's own repairs are replacing.)
    const named = s.master && nodeAt(obs, s.master);
    return named !== undefined && named.reachable && named.role === 'master';
  });
}

/**
 * The observation with the runtime's facts about processes known not to run (`gone`, by node id)
 * added to its nodes. Pure; ids the observation does not list are ignored.
 */
export function withGone(obs: Observation, gone: ReadonlyMap<string, string> | undefined): Observation {
  if (!gone || gone.size === 0) return obs;
  return { ...obs, nodes: obs.nodes.map((n) => (gone.has(n.id) ? { ...n, gone: gone.get(n.id) } : n)) };
}

/**
 * The first reachable Sentinel (by id) that reports a failover in progress, whatever its state; unlike
 * `busySentinel`, TILT does not count. For what only a failover makes unsafe.
 */
export function sentinelFailingOver(obs: Observation): SentinelObservation | undefined {
  return byId(obs.sentinels).find((s) => s.reachable && s.failoverInProgress);
}

/** A reachable replica of `master` with its replication link up: one Sentinel may promote, a switchover may hand over to. */
export function linkedReplicaOf(n: NodeObservation, master: Address): boolean {
  return n.reachable && n.role === 'replica' && sameAddress(n.replicaOf, master) && n.linkUp === true;
}

/** The configured node at `address`, reachable or not; undefined when it is not one of ours. */
export function nodeAt(obs: Observation, address: Address): NodeObservation | undefined {
  return obs.nodes.find((n) => sameAddress(n, address));
}

/** True when the node holds at least one key, i.e. making it a replica could lose data. */
export function hasData(node: NodeObservation): boolean {
  return node.keys > 0;
}

/** The highest config epoch among reachable Sentinels that monitor the deployment (0 when none). */
export function sentinelEpoch(obs: Observation): number {
  let epoch = 0;
  for (const s of obs.sentinels) if (s.reachable && s.monitoring) epoch = Math.max(epoch, s.configEpoch);
  return epoch;
}

/** A copy sorted by id, so every walk over nodes or Sentinels is independent of input order. */
export function byId<T extends { readonly id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** How to name an address in a reason: the node's or Sentinel's id, or `host:port` if it is not ours. */
export function nameOf(obs: Observation, address: Address): string {
  const known = obs.nodes.find((n) => sameAddress(n, address)) ?? obs.sentinels.find((s) => sameAddress(s, address));
  return known ? known.id : addressKey(address);
}
