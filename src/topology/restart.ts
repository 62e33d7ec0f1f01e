import { agreedMaster, type Memory, type Observation } from './observation.ts';
import { rankByData } from './plan-rank.ts';
import { addressOf, sameAddress, type Address } from '../redis/address.ts';

/**
 * Where a Redis node that is (re)starting should replicate from; undefined means "start as master".
 *
 * A restarted node may have lost its data (persistence off), so it never comes back as master while
 * another node may hold data:
 * 1. if a Sentinel majority names another node as master, follow it (`agreedMaster`, the planner's rule);
 * 2. otherwise (the Sentinels still name this node, or agree on none) follow the best of the other
 *    nodes by the planner's ranking by data (`rankByData`: data before none, a master before a replica,
 *    Sentinel's newest epoch, the remembered master, offset, keys), or, when none of them can be
 *    ranked (still loading), the first other node that answers;
 * 3. only when no other node answers does it start as master (nobody has data to lose).
 */
export function replicaOfForRestart(obs: Observation, node: Address, memory: Memory): Address | undefined {
  const agreed = agreedMaster(obs);
  if (agreed && !sameAddress(agreed, node)) return agreed;
  const others = obs.nodes.filter((n) => n.reachable && !sameAddress(n, node));
  const best = rankByData({ ...obs, nodes: others }, memory)[0] ?? others[0];
  return best ? addressOf(best) : undefined;
}

/**
 * The master a Sentinel that lost its config starts out monitoring (the supervisor rewrites its file):
 * the one a Sentinel majority names, else the node the planner would converge on without agreement
 * (`rankByData`, rule 3c), so a re-seeded Sentinel never votes for an empty node while one has data.
 * Undefined when no node can be ranked; the caller then has nothing better than its first node.
 */
export function masterForReseededSentinel(obs: Observation, memory: Memory): Address | undefined {
  const agreed = agreedMaster(obs);
  if (agreed) return agreed;
  const best = rankByData(obs, memory)[0];
  return best ? addressOf(best) : undefined;
}

/**
 * The master a deployment starts from when none of its processes runs (`up` after `down`, or the first
 * `up`); every other node resyncs from it. `persisted(n)`: the bytes node `n` has on disk (its RDB and
 * AOF files), when persistence is on. The master remembered from the last run (`memory.master`, kept in
 * the state directory) when it is one of `nodes` and, with persistence on, has anything on disk: it
 * took the last acknowledged writes. Else, with persistence on, the node with the most on disk (the
 * remembered one's files are gone). Else the first node (a first start, or nothing persisted: all empty).
 */
export function masterForBootstrap(memory: Memory, nodes: readonly Address[], persisted?: (n: Address) => number): Address {
  const remembered = memory.master && nodes.find((n) => sameAddress(n, memory.master));
  if (remembered && (!persisted || persisted(remembered) > 0)) return addressOf(remembered);
  const most = persisted && [...nodes].sort((a, b) => persisted(b) - persisted(a))[0];
  if (most && persisted(most) > 0) return addressOf(most);
  return addressOf(remembered || nodes[0]);
}
