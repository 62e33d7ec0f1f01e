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
 *    the data; unless every other node answered empty (nothing to save, and a Sentinel that never read
 *    the replicas from this node's INFO could promote none: the fence would last for good). The controller asks Sentinel for that failover (plan.ts: "master reports role replica");
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
 * 6. Else, when this node is the first, has run before (`restarted`: the supervisor restarts it, or the
 *    pod's container restarts) and some other node did not answer, fenced: what answered holds nothing,
 *    but one that did not answer may hold every write. A DNS or network failure hides the deployment
 *    from a restarted pod; made master, the empty node would wipe every replica that reconnects (seen
 *    on the test bed: a pod restarted while the cluster DNS did not yet resolve its peers came back as
 *    master, and both replicas resynced from it). The fenced pod applies this rule again every second
 *    until it names a role (scripts.ts `fenced_failover`); locally the controller sees the fenced node.
 * 7. Else the first node is master and every other node follows it (nobody holds data to lose).
 * A Sentinel starts monitoring 1, else 2, else 3, else the first node.
 *
 * With persistence on, every pod restarting at once (a host reboot, every pod deleted) would reach rule 7
 * and make the first pod master whatever the others hold on disk: they would resync from it and lose
 * what it missed. So there, when no Sentinel answers at all and no other node answers as master
 * (`entersElection`), a pod starts fenced and takes part in an election by loaded data
 * (`electionStep`): once every other pod has loaded its data, or `ELECTION_WAIT_SECONDS` have passed,
 * the best by data (`byData`: the planner's order, ties to the lower ordinal) makes itself master and
 * the others follow it; when the best is a replica outside the election (still following a master that
 * is gone), nobody does. The data cannot change while they wait: nobody is master. A starting Sentinel
 * waits for that master too (`sentinelWaits`, at most `SENTINEL_WAIT_SECONDS`) instead of monitoring
 * the first pod.
 *
 * Migrating in (`migrateFrom` on Kubernetes, until the switchover; `sourceAnswers`): the master is
 * outside, in the source's group, and our Sentinels join that group only once they run. A majority of
 * the SOURCE's Sentinels names the master to follow first (as `host port`: the source's port may differ,
 * and our Sentinels' answers carry no port), else rule 1 (our Sentinels, joined to that group); with
 * neither the node is fenced, never a master of its own: an empty master here would be a second master
 * with nothing. A starting Sentinel monitors the source's majority, else ours, else nothing yet (it
 * waits). After the switchover the normal rules apply again (the operator says so to the pods).
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
  /** This node has run before: a restart, not a first start (rule 6). */
  readonly restarted: boolean;
  /** Migrating in: what each of the source's Sentinels named as master, as `host port` (undefined: no answer). */
  readonly sourceAnswers?: readonly (string | undefined)[];
}

/** Migrating in: the master (`host port`) a majority of the source's Sentinels name, or undefined. */
export function sourceMajority(answers: readonly (string | undefined)[]): string | undefined {
  return sentinelMajority({ sentinels: answers.length, sentinelAnswers: answers });
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
  return bestByData(peers.filter((p) => p.role === 'master' || (p.role === 'replica' && p.keys > 0 && !followsMe(peers, p, me))));
}

/**
 * The order by data (`rankByData`'s, on what a starting node sees): a node with keys before an empty
 * one, a master before a replica, the higher offset, more keys. Negative when `a` comes first.
 */
export function byData(a: PeerView, b: PeerView): number {
  const score = (p: PeerView) => [p.keys > 0 ? 1 : 0, p.role === 'master' ? 1 : 0, p.offset, p.keys];
  const sa = score(a);
  const sb = score(b);
  for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return (sb[i] ?? 0) - (sa[i] ?? 0);
  return 0;
}

/** The first of `nodes` by data; a stable sort, so equal ones keep their (ordinal) order. */
function bestByData(nodes: readonly PeerView[]): string | undefined {
  return [...nodes].sort(byData)[0]?.address;
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
export function startMaster(v: Omit<StartView, 'me' | 'replicas' | 'restarted'>): string {
  if (v.sourceAnswers) return sourceMajority(v.sourceAnswers) ?? sentinelMajority(v) ?? '';
  return sentinelMajority(v) ?? bestPeer(v.peers) ?? firstAnswer(v) ?? v.first;
}

/** What the first Sentinel that answered names. */
function firstAnswer(v: Pick<StartView, 'sentinelAnswers'>): string | undefined {
  return v.sentinelAnswers.find((a): a is string => a !== undefined && a !== '');
}

/**
 * Rule 1 and 3: follow what the Sentinels name, or fence this node when they name it, unless every other
 * node answered and none holds data or is still loading it: then there is nothing a fence could save,
 * and Sentinel may know no replica to promote (it learns them from the master's INFO, which a fenced
 * node gives none of), so the node starts as the master they name.
 */
function following(v: StartView, named: string): StartRole {
  if (named !== v.me) return { kind: 'replicaof', master: named };
  return v.replicas > 0 && !nobodyHoldsData(v) ? { kind: 'fence' } : { kind: 'master' };
}

/** Every other node answered, and none holds a key or is still loading its data. */
function nobodyHoldsData(v: Pick<StartView, 'replicas' | 'peers'>): boolean {
  return v.peers.length >= v.replicas && v.peers.every((p) => p.role !== 'loading' && p.keys === 0);
}

/** The role a starting Redis node takes. */
export function startRole(v: StartView): StartRole {
  const named = sentinelMajority(v);
  if (v.sourceAnswers) {
    const outside = sourceMajority(v.sourceAnswers);
    if (outside !== undefined) return outside.split(' ')[0] === v.me ? following(v, v.me) : { kind: 'replicaof', master: outside };
    return named !== undefined ? following(v, named) : { kind: 'fence' };
  }
  if (named !== undefined) return following(v, named);
  const best = bestPeer(v.peers, v.me);
  if (best !== undefined) return { kind: 'replicaof', master: best };
  const lone = firstAnswer(v);
  if (lone !== undefined) return following(v, lone);
  const loading = v.peers.find((p) => p.role === 'loading' && !followsMe(v.peers, p, v.me));
  if (loading) return { kind: 'replicaof', master: loading.address };
  if (v.peers.some((p) => p.keys > 0)) return { kind: 'fence' };
  if (v.me !== v.first) return { kind: 'replicaof', master: v.first };
  return v.restarted && v.peers.length < v.replicas ? { kind: 'fence' } : { kind: 'master' };
}

/** How long a pod in the election waits for the other pods to load their data before it decides among those that have. */
export const ELECTION_WAIT_SECONDS = 30;
/** How long a starting Sentinel waits for the election's master before it falls back to `startMaster`. */
export const SENTINEL_WAIT_SECONDS = ELECTION_WAIT_SECONDS + 30;

/**
 * With persistence on: this pod starts fenced and elects (`electionStep`) rather than take the start
 * rule's answer, because no Sentinel answered at all and no other node answers as master. That is every
 * pod restarted at once; a Sentinel that answers knows better than the disks, and a live master is
 * followed by rule 2.
 */
export function entersElection(v: StartView): boolean {
  return v.sentinelAnswers.every((a) => a === undefined || a === '') && !v.peers.some((p) => p.role === 'master');
}

export interface ElectionView {
  /** This pod, as its own INFO describes it once it has loaded its data (fenced: a replica of itself). */
  readonly me: PeerView;
  /** Every Redis pod's address, by ordinal, this pod's among them. */
  readonly pods: readonly string[];
  readonly sentinels: number;
  readonly sentinelAnswers: readonly (string | undefined)[];
  /** The other pods that answered. */
  readonly peers: readonly PeerView[];
  /** `ELECTION_WAIT_SECONDS` have passed since this pod began to elect. */
  readonly waitedOut: boolean;
}

/**
 * One round of the election, for a fenced pod that has loaded its data: follow the master a Sentinel
 * majority names (this pod, when it is the one they name), else the best master among the peers (one
 * that won already), else wait while another pod has not loaded its data, unless the wait is over; then
 * the best by data among this pod and the loaded peers becomes master if it is this pod, and everyone
 * else waits until a pod answers as master.
 */
export function electionStep(v: ElectionView): StartRole | { readonly kind: 'wait' } {
  const named = sentinelMajority(v);
  if (named !== undefined) return named === v.me.address ? { kind: 'master' } : { kind: 'replicaof', master: named };
  const master = bestByData(v.peers.filter((p) => p.role === 'master'));
  if (master !== undefined) return { kind: 'replicaof', master };
  const loaded = v.peers.filter((p) => p.role !== 'loading');
  if (!v.waitedOut && loaded.length < v.pods.length - 1) return { kind: 'wait' };
  // Every loaded pod is ranked, those outside the election too (a replica still following a master
  // that is gone): one of them holding more never acts on the result, so this pod waits rather than
  // become a master the others would resync from.
  const ordinal = (p: PeerView) => v.pods.indexOf(p.address);
  const best = bestByData([v.me, ...loaded].sort((a, b) => ordinal(a) - ordinal(b)));
  return best === v.me.address ? { kind: 'master' } : { kind: 'wait' };
}

/**
 * With persistence on, a starting Sentinel waits (at most `SENTINEL_WAIT_SECONDS`) while no Sentinel
 * majority names a master and no Redis node answers as master: the pods may be electing one.
 */
export function sentinelWaits(v: Pick<StartView, 'sentinels' | 'sentinelAnswers' | 'peers'>): boolean {
  return sentinelMajority(v) === undefined && !v.peers.some((p) => p.role === 'master');
}
