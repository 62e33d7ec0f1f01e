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
 * `up`): the master remembered from the last run (`memory.master`) when it is one of `nodes`, since it
 * took the last acknowledged writes and, with persistence on, every other node resyncs from the one
 * chosen here; else the first node (a first start: all are empty). The memory survives `down` in the
 * state directory.
 */
export function masterForBootstrap(memory: Memory, nodes: readonly Address[]): Address {
  return addressOf((memory.master && nodes.find((n) => sameAddress(n, memory.master))) || nodes[0]);
}
