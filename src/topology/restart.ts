import type { TopologyStatus } from '../observe/status.ts';
import { addressKey, type Address } from '../redis/address.ts';

/**
 * Where a Redis node that is (re)starting should replicate from; undefined means "start as master".
 *
 * A restarted node may have lost its data (persistence off), so it never comes back as master while
 * another node may hold data:
 * 1. if a Sentinel majority names another node as master, follow it;
 * 2. otherwise (the Sentinels still name this node, or agree on none) follow the reachable node with
 *    the most data: a node reporting role master first, then the highest replication offset;
 * 3. only when no other node is reachable does it start as master (nobody has data to lose).
 */
export function replicaOfForRestart(status: TopologyStatus, node: Address): Address | undefined {
  const self = addressKey(node);
  if (status.master && addressKey(status.master) !== self) return status.master;
  const others = status.nodes.filter((n) => n.reachable && addressKey(n) !== self);
  others.sort((a, b) => Number(b.role === 'master') - Number(a.role === 'master') || (b.offset ?? 0) - (a.offset ?? 0));
  const best = others[0];
  return best ? { host: best.host, port: best.port } : undefined;
}
