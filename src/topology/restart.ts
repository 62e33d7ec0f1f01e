import type { Memory, Observation } from './observation.ts';
import { addressKey, addressOf, parseAddress, sameAddress, type Address } from '../redis/address.ts';
import { startMaster, startRole, type StartView } from './start.ts';

/**
 * The start rule's view (src/topology/start.ts) of the controller's observation, from `me` (undefined for
 * a Sentinel): addresses as `host:port`, the first node the first configured one.
 */
function startViewOf(obs: Observation, me: Address | undefined): StartView {
  return {
    // Every start the supervisor asks the rule for is a restart: a first start bootstraps (masterForBootstrap).
    restarted: true,
    me: me ? addressKey(me) : '',
    first: obs.nodes[0] ? addressKey(obs.nodes[0]) : '',
    replicas: obs.nodes.length - 1,
    sentinels: obs.sentinels.length,
    sentinelAnswers: obs.sentinels.map((s) => (s.reachable && s.monitoring && s.master ? addressKey(s.master) : undefined)),
    peers: obs.nodes
      .filter((n) => n.reachable && !sameAddress(n, me))
      .map((n) => ({ address: addressKey(n), role: n.role === 'unknown' ? 'loading' : n.role, keys: n.keys, offset: n.offset, ...(n.replicaOf ? { master: addressKey(n.replicaOf) } : {}) })),
  };
}

/** Back from the view's text: every address in it came from `addressKey`. */
const asAddress = (key: string): Address => parseAddress(key)!;

/**
 * Where a Redis node the supervisor (re)starts replicates from; undefined means "start as master". The
 * start rule of both runtimes (`startRole`): a node the Sentinels still name comes back fenced, a
 * replica of itself, and the controller asks Sentinel to fail it over.
 */
export function replicaOfForRestart(obs: Observation, node: Address): Address | undefined {
  const role = startRole(startViewOf(obs, node));
  return role.kind === 'master' ? undefined : role.kind === 'fence' ? addressOf(node) : asAddress(role.master);
}

/**
 * The master a Sentinel that lost its config starts out monitoring (the supervisor rewrites its file):
 * the start rule's (`startMaster`), the same a starting Sentinel pod monitors.
 */
export function masterForReseededSentinel(obs: Observation): Address {
  return asAddress(startMaster(startViewOf(obs, undefined)));
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
