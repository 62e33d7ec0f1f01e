/**
 * The role a Redis pod takes when its container starts on Kubernetes, and the master a Sentinel starts
 * monitoring. The pods' start scripts implement this rule in sh (src/kubernetes/render/scripts.ts,
 * `start_role` and `start_master`); src/kubernetes/render/start-rule.test.ts runs both on the same cases.
 *
 * 1. A majority of the configured Sentinels names a master (the same count as `namedByMajority`): follow
 *    it. If it names this pod and there are replicas, the pod has just restarted and may be empty: it
 *    comes back as a replica of itself (serving nobody) so that Sentinel promotes the replica with the data.
 *    While the Sentinels still name it, the fenced pod asks them to fail it over (the preStop hook's
 *    request and check, `failoverObjection`): answering as a replica it is never seen down, and with a
 *    short down-after Sentinel's own role check comes after it stops trusting the replicas (scripts.ts
 *    `fenced_failover`; test/e2e-plain-crash.test.ts).
 * 2. Else a peer that reports itself master: follow the first, by ordinal.
 * 3. Else the first Sentinel that answered at all, as in 1 (a lone Sentinel still naming this pod fences
 *    it: an empty node never becomes master while a Sentinel may know better; Sentinel gossip and the
 *    controller correct a stale answer).
 * 4. Else the first pod is master and every other pod follows it.
 * A Sentinel starts monitoring 1, else 2, else 3, else the first pod.
 */
import { majorityOf } from './agreement.ts';

export type StartRole =
  | { readonly kind: 'master' }
  | { readonly kind: 'fence' }
  | { readonly kind: 'replicaof'; readonly master: string };

export interface StartView {
  /** The address this pod announces (its hostname, or its external load balancer's). */
  readonly me: string;
  /** The address of the first Redis pod (ordinal 0). */
  readonly first: string;
  readonly replicas: number;
  /** The configured Sentinels: a majority is counted against all of them. */
  readonly sentinels: number;
  /** What each Sentinel asked named as master (undefined: no answer). */
  readonly sentinelAnswers: readonly (string | undefined)[];
  /** The other Redis pods that report themselves master, by ordinal. */
  readonly peerMasters: readonly string[];
}

/** The master a majority of the configured Sentinels name, or undefined. */
export function sentinelMajority(v: Pick<StartView, 'sentinels' | 'sentinelAnswers'>): string | undefined {
  const named = v.sentinelAnswers.filter((a): a is string => a !== undefined && a !== '');
  return named.find((a) => named.filter((b) => b === a).length >= majorityOf(v.sentinels));
}

/** The master a starting Sentinel monitors: rule 1, else 2, else 3. */
export function startMaster(v: Omit<StartView, 'me' | 'replicas'>): string {
  return sentinelMajority(v) ?? v.peerMasters[0] ?? firstAnswer(v) ?? v.first;
}

/** What the first Sentinel that answered names. */
function firstAnswer(v: Pick<StartView, 'sentinelAnswers'>): string | undefined {
  return v.sentinelAnswers.find((a): a is string => a !== undefined && a !== '');
}

/** Rule 1 and 3: follow what the Sentinels name, or fence this pod when they name it. */
function following(v: StartView, named: string): StartRole {
  if (named !== v.me) return { kind: 'replicaof', master: named };
  return v.replicas > 0 ? { kind: 'fence' } : { kind: 'master' };
}

/** The role a starting Redis pod takes. */
export function startRole(v: StartView): StartRole {
  const named = sentinelMajority(v);
  if (named !== undefined) return following(v, named);
  const peer = v.peerMasters[0];
  if (peer !== undefined) return { kind: 'replicaof', master: peer };
  const lone = firstAnswer(v);
  if (lone !== undefined) return following(v, lone);
  return v.me === v.first ? { kind: 'master' } : { kind: 'replicaof', master: v.first };
}
