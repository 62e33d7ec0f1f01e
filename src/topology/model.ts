import type { Action } from './plan.ts';
import type { NodeObservation, Observation, SentinelObservation } from './observation.ts';
import { agreedMaster, byId, nodeAt, sentinelEpoch } from './observation.ts';
import { type Address, addressOf, sameAddress } from '../redis/address.ts';

/**
 * A small in-memory model of a Redis + Sentinel deployment, for property tests of the planner: it
 * applies actions the way Redis and Sentinel would, in order, and returns the next observation.
 * It has no clock, so nothing happens on its own: no down-after, no automatic failover. That makes
 * the planner's own moves the only way a generated state can converge, which is what we want to test.
 *
 * Simplifications, each on the safe side for the properties:
 * - an action on an unreachable node or Sentinel does nothing (the actor's command would fail);
 * - a replica syncs at once, and only from a reachable master (chained replication is not modelled):
 *   it then copies the master's keys, offset and replid, like a full resync;
 * - `sentinel-failover` behaves like Sentinel: it promotes the reachable replica with the most keys
 *   (then offset, then id) among nodes other than the agreed master, reconfigures the other replicas
 *   and the old master, and leaves stray masters alone — fencing them is the planner's job.
 */
export function applyActions(obs: Observation, actions: readonly Action[]): Observation {
  const nodes = new Map(obs.nodes.map((n) => [n.id, n] as const));
  const sentinels = new Map(obs.sentinels.map((s) => [s.id, s] as const));
  const current = (): Observation => ({ at: obs.at, nodes: [...nodes.values()], sentinels: [...sentinels.values()] });
  const updateNode = (at: Address, change: (n: NodeObservation) => NodeObservation): void => {
    const n = [...nodes.values()].find((x) => sameAddress(x, at));
    if (n && n.reachable) nodes.set(n.id, change(n));
  };
  const updateSentinel = (at: Address, change: (s: SentinelObservation) => SentinelObservation): void => {
    const s = [...sentinels.values()].find((x) => sameAddress(x, at));
    if (s && s.reachable) sentinels.set(s.id, change(s));
  };

  for (const a of actions) {
    switch (a.kind) {
      case 'replicaof':
      case 'fence':
        updateNode(a.node, (n) => follow(n, a.master, current()));
        break;
      case 'promote':
        updateNode(a.node, promoted);
        break;
      case 'sentinel-monitor':
        // MONITOR starts a fresh master entry: config epoch 0, settings from the SET that follows.
        // A fresh entry lists no removed member (the model finds the others again at once).
        updateSentinel(a.sentinel, (s) => ({ ...s, monitoring: true, master: addressOf(a.master), configEpoch: 0, settingsMatch: true, replicasKnown: obs.nodes.length - 1, otherSentinelsKnown: obs.sentinels.length - 1 }));
        break;
      case 'sentinel-configure':
        updateSentinel(a.sentinel, (s) => ({ ...s, settingsMatch: true }));
        break;
      case 'sentinel-reset':
        // It forgets the removed members and (no clock here) finds the others again at once, at their
        // current addresses.
        updateSentinel(a.sentinel, (s) => ({ ...s, replicasKnown: obs.nodes.length - 1, otherSentinelsKnown: obs.sentinels.length - 1, replicasSeen: obs.nodes.length - 1, replicasDown: 0 }));
        break;
      case 'sentinel-failover':
        sentinelFailover(nodes, sentinels, current());
        break;
      case 'publish-master':
      case 'hold-writes': // the model has no writes to hold
        break;
    }
  }
  return { at: obs.at + 1000, nodes: [...nodes.values()], sentinels: [...sentinels.values()] };
}

function promoted(n: NodeObservation): NodeObservation {
  return { ...n, role: 'master', replicaOf: undefined, linkUp: undefined };
}

/** `REPLICAOF master`: becomes a replica at once; copies the master's data only if it can sync. */
function follow(n: NodeObservation, master: Address, obs: Observation): NodeObservation {
  const m = nodeAt(obs, master);
  const canSync = m !== undefined && m.reachable && m.role === 'master' && !sameAddress(m, n);
  const replica: NodeObservation = { ...n, role: 'replica', replicaOf: addressOf(master), linkUp: canSync };
  return canSync ? { ...replica, keys: m.keys, offset: m.offset, replid: m.replid } : replica;
}

/** What `SENTINEL FAILOVER` does when it succeeds; a no-op when Sentinel would refuse (no good replica). */
function sentinelFailover(nodes: Map<string, NodeObservation>, sentinels: Map<string, SentinelObservation>, obs: Observation): void {
  const old = agreedMaster(obs);
  if (!old) return;
  const best = byId(obs.nodes)
    .filter((n) => n.reachable && n.role === 'replica' && !sameAddress(n, old))
    .sort((a, b) => b.keys - a.keys || b.offset - a.offset)[0];
  if (!best) return;
  const chosen = promoted(best);
  nodes.set(best.id, chosen);
  const after: Observation = { ...obs, nodes: [...nodes.values()] };
  for (const n of after.nodes) {
    if (!n.reachable || n.id === best.id) continue;
    if (n.role === 'replica' || sameAddress(n, old)) nodes.set(n.id, follow(n, chosen, after));
  }
  const epoch = sentinelEpoch(obs) + 1;
  for (const s of obs.sentinels) {
    if (s.reachable) sentinels.set(s.id, { ...s, monitoring: true, master: addressOf(chosen), configEpoch: epoch });
  }
}

/**
 * The target state: exactly one reachable master, every other reachable node a replica of it, and
 * every reachable Sentinel monitoring it with the spec's settings. Returns the master, or undefined.
 */
export function settledMaster(obs: Observation): NodeObservation | undefined {
  const reachable = obs.nodes.filter((n) => n.reachable);
  const masters = reachable.filter((n) => n.role === 'master');
  const m = masters[0];
  if (masters.length !== 1 || !m) return undefined;
  if (!reachable.every((n) => n === m || (n.role === 'replica' && sameAddress(n.replicaOf, m)))) return undefined;
  if (!obs.sentinels.every((s) => !s.reachable || (s.monitoring && sameAddress(s.master, m) && s.settingsMatch))) return undefined;
  return m;
}
