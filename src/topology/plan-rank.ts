import type { Memory, NodeObservation, Observation } from './observation.ts';
import { hasData } from './observation.ts';
import { type Address, addressKey, sameAddress } from '../redis/address.ts';

/**
 * The master named by the reachable, monitoring Sentinel(s) with the highest config epoch, when they
 * all name the same address: the winner of the newest failover Sentinel knows of. Undefined when no
 * Sentinel names a master or the newest ones disagree.
 */
export function newestSentinelMaster(obs: Observation): Address | undefined {
  let epoch = -1;
  const named = new Map<string, Address>();
  for (const s of obs.sentinels) {
    if (!s.reachable || !s.monitoring || !s.master) continue;
    if (s.configEpoch > epoch) {
      epoch = s.configEpoch;
      named.clear();
    }
    if (s.configEpoch === epoch) named.set(addressKey(s.master), s.master);
  }
  return named.size === 1 ? [...named.values()][0] : undefined;
}

/**
 * Reachable nodes with a known role, best master candidate first. Choosing the master by data:
 *
 * 1. a node with data before an empty one: an empty node is never chosen while a node with data exists
 *    (its replicas would copy the empty dataset);
 * 2. a node reporting role master before a replica: it is the one clients were writing to;
 * 3. the node the newest Sentinel epoch names: never undo Sentinel's latest failover;
 * 4. the remembered master (`memory.master`): a controller restart does not re-guess;
 * 5. the higher replication offset. Offsets only compare within one replid history, so across
 *    histories this is a heuristic, which is why 2–4 come first;
 * 6. more keys;
 * 7. the smaller id, so the order is total and the choice deterministic.
 */
export function rankByData(obs: Observation, memory: Memory): NodeObservation[] {
  const newest = newestSentinelMaster(obs);
  const score = (n: NodeObservation): number[] => [
    hasData(n) ? 1 : 0,
    n.role === 'master' ? 1 : 0,
    sameAddress(n, newest) ? 1 : 0,
    sameAddress(n, memory.master) ? 1 : 0,
    n.offset,
    n.keys,
  ];
  return obs.nodes
    .filter((n) => n.reachable && n.role !== 'unknown')
    .sort((a, b) => {
      const sa = score(a);
      const sb = score(b);
      for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return (sb[i] ?? 0) - (sa[i] ?? 0);
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
}
