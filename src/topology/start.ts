/**
 * The role a Redis node takes when it (re)starts, and the master a starting Sentinel monitors: one rule
 * for both runtimes. The local supervisor applies it to the controller's observation
 * (src/topology/restart.ts); the pods' start scripts implement it in sh (src/kubernetes/render/scripts.ts,
 * `start_role` and `start_master`), and src/kubernetes/render/start-rule.test.ts runs both on the same
 * cases.
 *
 * A restarted node may have lost its data (persistence off), so it never comes back as master while
 * another node may hold data:
 * 1. A majority of the configured Sentinels names a master (the same count as `namedByMajority`): follow
 *    it. If it names this node and there are replicas, the node has just restarted and may be empty: it
 *    comes back fenced, a replica of itself serving nobody, so that Sentinel promotes the replica with
 *    the data. The controller asks Sentinel for that failover (plan.ts: "master reports role replica");
 *    on plain manifests the fenced pod asks itself, with the preStop hook's request and check
 *    (`failoverObjection`): answering as a replica it is never seen down, and with a short down-after
 *    Sentinel's own role check comes after it stops trusting the replicas (scripts.ts `fenced_failover`;
 *    test/e2e-plain-crash.test.ts).
 * 2. Else the best other node by data (`bestPeer`): a master, or a replica that holds keys and does not
 *    follow this node, directly or through other replicas (following it back would make a loop that
 *    serves nobody and that Sentinel cannot fail over from).
 * 3. Else the first Sentinel that answered at all, as in 1 (a lone Sentinel still naming this node
 *    fences it: an empty node never becomes master while a Sentinel may know better; Sentinel gossip and
 *    the controller correct a stale answer).
 * 4. Else another node still loading its dataset (and not following this node): it may hold data, so
 *    follow it (the first).
 * 5. Else, when a replica of this node holds keys, fenced: an empty node never becomes master while
 *    another holds data (its replicas would copy the empty dataset); Sentinel or the controller promotes
 *    that replica.
 * 6. Else the first node is master and every other node follows it (nobody holds data to lose).
 * A Sentinel starts monitoring 1, else 2, else 3, else the first node.
 *
 * Addresses are opaque strings, compared as they are: a pod's host name, or `host:port` locally.
 */
import { majorityOf } from './agreement.ts';

export type StartRole =
  | { readonly kind: 'master' }
  | { readonly kind: 'fence' }
  | { readonly kind: 'replicaof'; readonly master: string };

/** Another Redis node that answered, as its `INFO` describes it. */
export interface PeerView {
  readonly address: string;
  /** 'loading': it answers but is still loading its dataset, so what it holds is not known yet. */
  readonly role: 'master' | 'replica' | 'loading';
  /** Keys in its keyspace. */
  readonly keys: number;
  /** Its replication offset (`master_repl_offset`). */
  readonly offset: number;
  /** For a replica: the address it replicates from (`master_host`). */
  readonly master?: string;
}

export interface StartView {
  /** The address this node announces. */
  readonly me: string;
  /** The address of the first Redis node (ordinal 0). */
  readonly first: string;
  readonly replicas: number;
  /** The configured Sentinels: a majority is counted against all of them. */
  readonly sentinels: number;
  /** What each Sentinel asked named as master (undefined: no answer). */
  readonly sentinelAnswers: readonly (string | undefined)[];
  /** The other Redis nodes that answered, by ordinal. */
  readonly peers: readonly PeerView[];
}

/** The master a majority of the configured Sentinels name, or undefined. */
export function sentinelMajority(v: Pick<StartView, 'sentinels' | 'sentinelAnswers'>): string | undefined {
  const named = v.sentinelAnswers.filter((a): a is string => a !== undefined && a !== '');
  return named.find((a) => named.filter((b) => b === a).length >= majorityOf(v.sentinels));
}

/**
 * The node to follow by data, the planner's order (`rankByData`) on what a starting node can see: a
 * node with keys before an empty one, a master before a replica, the higher offset, more keys, the
 * lower ordinal. Only masters, and replicas holding keys that do not follow `me` (directly or through
 * other replicas, `followsMe`), are candidates: an empty replica follows a master of its own, which it
 * would only chain to.
 */
export function bestPeer(peers: readonly PeerView[], me?: string): string | undefined {
  const score = (p: PeerView) => [p.keys > 0 ? 1 : 0, p.role === 'master' ? 1 : 0, p.offset, p.keys];
  const candidates = peers.filter((p) => p.role === 'master' || (p.role === 'replica' && p.keys > 0 && !followsMe(peers, p, me)));
  // A stable sort: equal scores keep the ordinal order.
  return [...candidates].sort((a, b) => {
    const sa = score(a);
    const sb = score(b);
    for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return (sb[i] ?? 0) - (sa[i] ?? 0);
    return 0;
  })[0]?.address;
}

/**
 * The replica `p`'s chain of masters, as the peers report them, reaches `me`: `p` follows `me`, or a
 * replica that does, and so on (at most one step per peer, so a loop among the others ends too).
 */
function followsMe(peers: readonly PeerView[], p: PeerView, me: string | undefined): boolean {
  let next = p.master;
  for (let steps = 0; me !== undefined && next !== undefined && steps <= peers.length; steps++) {
    if (next === me) return true;
    next = peers.find((q) => q.address === next && q.role !== 'master')?.master;
  }
  return false;
}

/** The master a starting Sentinel monitors: rule 1, else 2, else 3, else the first node. */
export function startMaster(v: Omit<StartView, 'me' | 'replicas'>): string {
  return sentinelMajority(v) ?? bestPeer(v.peers) ?? firstAnswer(v) ?? v.first;
}

/** What the first Sentinel that answered names. */
function firstAnswer(v: Pick<StartView, 'sentinelAnswers'>): string | undefined {
  return v.sentinelAnswers.find((a): a is string => a !== undefined && a !== '');
}

/** Rule 1 and 3: follow what the Sentinels name, or fence this node when they name it. */
function following(v: StartView, named: string): StartRole {
  if (named !== v.me) return { kind: 'replicaof', master: named };
  return v.replicas > 0 ? { kind: 'fence' } : { kind: 'master' };
}

/** The role a starting Redis node takes. */
export function startRole(v: StartView): StartRole {
  const named = sentinelMajority(v);
  if (named !== undefined) return following(v, named);
  const best = bestPeer(v.peers, v.me);
  if (best !== undefined) return { kind: 'replicaof', master: best };
  const lone = firstAnswer(v);
  if (lone !== undefined) return following(v, lone);
  const loading = v.peers.find((p) => p.role === 'loading' && !followsMe(v.peers, p, v.me));
  if (loading) return { kind: 'replicaof', master: loading.address };
  if (v.peers.some((p) => p.keys > 0)) return { kind: 'fence' };
  return v.me === v.first ? { kind: 'master' } : { kind: 'replicaof', master: v.first };
}
