/**
 * Named observations for the planner's tests, one per situation the controller must handle.
 * Nodes are `node-N` at `node-N:6379`, Sentinels `sentinel-N` at `sentinel-N:26379`.
 */
import type { NodeObservation, Observation, SentinelObservation } from './observation.ts';
import type { PlanSpec } from './plan.ts';
import type { Address } from '../redis/address.ts';

export const spec: PlanSpec = { masterName: 'mymaster', quorum: 2 };

export function nodeAddress(i: number): Address {
  return { host: `node-${i}`, port: 6379 };
}

export function sentinelAddress(i: number): Address {
  return { host: `sentinel-${i}`, port: 26379 };
}

/** A reachable master holding 100 keys; override what the situation needs. */
export function node(i: number, over: Partial<NodeObservation> = {}): NodeObservation {
  return { id: `node-${i}`, ...nodeAddress(i), reachable: true, role: 'master', offset: 1000, replid: 'r1', keys: 100, ...over };
}

/** A reachable, in-sync replica of `node-<of>` with the same data. */
export function replica(i: number, of: number, over: Partial<NodeObservation> = {}): NodeObservation {
  return node(i, { role: 'replica', replicaOf: nodeAddress(of), linkUp: true, ...over });
}

/** A reachable Sentinel monitoring `node-<of>` at epoch 1 with the spec's settings. */
export function sentinel(i: number, of: number, over: Partial<SentinelObservation> = {}): SentinelObservation {
  return {
    id: `sentinel-${i}`, ...sentinelAddress(i), reachable: true, monitoring: true, master: nodeAddress(of),
    failoverInProgress: false, tilt: false, configEpoch: 1, settingsMatch: true, ...over,
  };
}

export function observation(nodes: NodeObservation[], sentinels: SentinelObservation[]): Observation {
  return { at: 1_700_000_000_000, nodes, sentinels };
}

const threeSentinelsOn = (of: number, over: Partial<SentinelObservation> = {}): SentinelObservation[] =>
  [0, 1, 2].map((i) => sentinel(i, of, over));

/** The healthy steady state: node-0 master, node-1 and node-2 in sync, three Sentinels agree. */
export function clusterWithMasterAndTwoReplicas(): Observation {
  return observation([node(0), replica(1, 0), replica(2, 0)], threeSentinelsOn(0));
}

/**
 * node-0 was killed and restarted faster than down-after, with persistence off: it came back empty and,
 * as a restarted node must, as a replica. Sentinel still names it; node-1 and node-2 hold the data.
 */
export function restartedEmptyMaster(): Observation {
  return observation(
    [node(0, { role: 'replica', replicaOf: nodeAddress(1), linkUp: false, keys: 0, offset: 0, replid: 'r2' }),
      replica(1, 0, { linkUp: false }), replica(2, 0, { linkUp: false, offset: 990 })],
    threeSentinelsOn(0),
  );
}

/** Like `restartedEmptyMaster`, but node-0 came back as an empty MASTER (started without our config). */
export function restartedEmptyMasterAsMaster(): Observation {
  return observation(
    [node(0, { keys: 0, offset: 0, replid: 'r2' }), replica(1, 0, { linkUp: false }), replica(2, 0, { linkUp: false })],
    threeSentinelsOn(0),
  );
}

/** Sentinel-1 is mid-failover from node-0 to node-1; node-1 already reports master. */
export function failoverInProgress(): Observation {
  const o = clusterWithMasterAndTwoReplicas();
  return observation([node(0), node(1), replica(2, 0)],
    o.sentinels.map((s) => (s.id === 'sentinel-1' ? { ...s, failoverInProgress: true } : s)));
}

/** Sentinel-2 is in TILT (its clock jumped); its view cannot be trusted for 30 s. */
export function sentinelInTilt(): Observation {
  const o = clusterWithMasterAndTwoReplicas();
  return { ...o, sentinels: o.sentinels.map((s) => (s.id === 'sentinel-2' ? { ...s, tilt: true } : s)) };
}

/** Every Sentinel restarted without its config file: nobody monitors anything. */
export function sentinelsLostConfig(): Observation {
  const o = clusterWithMasterAndTwoReplicas();
  return { ...o, sentinels: o.sentinels.map((s) => ({ ...s, monitoring: false, master: undefined, configEpoch: 0 })) };
}

/** After Sentinel failed over to node-1 (epoch 2), the old master node-0 came back as a master with stale data. */
export function strayOldMaster(): Observation {
  return observation([node(0, { keys: 90, offset: 900 }), node(1, { replid: 'r3' }), replica(2, 1)],
    threeSentinelsOn(1, { configEpoch: 2 }));
}

/** node-0 is dead; Sentinel has not yet marked it down. */
export function masterUnreachable(): Observation {
  return observation(
    [node(0, { reachable: false, role: 'unknown', keys: 0 }), replica(1, 0, { linkUp: false }), replica(2, 0, { linkUp: false })],
    threeSentinelsOn(0),
  );
}

/** Two of three Sentinels are down: no failover can be authorised, but node-0 is healthy. */
export function majorityOfSentinelsDown(): Observation {
  const o = clusterWithMasterAndTwoReplicas();
  return { ...o, sentinels: o.sentinels.map((s) => (s.id === 'sentinel-0' ? s : { ...s, reachable: false })) };
}

/** Sentinel-2 still names node-0's old IP and sentinel-1 has a stale down-after. */
export function staleSentinel(): Observation {
  const o = clusterWithMasterAndTwoReplicas();
  return {
    ...o,
    sentinels: o.sentinels.map((s) =>
      s.id === 'sentinel-2' ? { ...s, master: { host: '10.0.0.7', port: 6379 } } : s.id === 'sentinel-1' ? { ...s, settingsMatch: false } : s),
  };
}

/** A first start: three empty masters, Sentinels not yet monitoring. */
export function freshDeployment(): Observation {
  return observation([0, 1, 2].map((i) => node(i, { keys: 0, offset: 0, replid: `r${i}` })),
    [0, 1, 2].map((i) => sentinel(i, 0, { monitoring: false, master: undefined, configEpoch: 0, settingsMatch: false })));
}

/** Sentinel names node-0, which restarted empty as a replica; the only data is on node-1, a master Sentinel forgot. */
export function onlyStrayHoldsData(): Observation {
  return observation(
    [node(0, { role: 'replica', replicaOf: nodeAddress(2), linkUp: false, keys: 0, offset: 0 }), node(1, { keys: 50 }),
      replica(2, 0, { linkUp: false, keys: 0, offset: 0 })],
    threeSentinelsOn(0),
  );
}
