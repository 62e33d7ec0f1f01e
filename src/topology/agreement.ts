/**
 * How Sentinel votes are counted: the majority size, and which master a majority names. Pure
 * functions over what Sentinels answered, shared by the planner, the status model, the endpoint's
 * router, the switchover, the spec's quorum default and the rendered disruption budgets, so that all
 * of them count the same way.
 */
import { addressKey, addressOf, type Address } from '../redis/address.ts';

/** The number of votes that is a strict majority of `configured`: 2 of 3, 3 of 4, 3 of 5. */
export function majorityOf(configured: number): number {
  return Math.floor(configured / 2) + 1;
}

/**
 * How many Sentinels must be up for a failover: the quorum to agree the master is down, and a majority
 * of all `configured` Sentinels to authorize the failover.
 */
export function neededForFailover(quorum: number, configured: number): number {
  return Math.max(quorum, majorityOf(configured));
}

/**
 * The address that a majority of `configured` Sentinels name, given what each one that answered names
 * (undefined or null for none); undefined when no address has a majority. Epochs are not looked at.
 */
export function namedByMajority(named: readonly (Address | undefined | null)[], configured: number): Address | undefined {
  const votes = new Map<string, { address: Address; count: number }>();
  for (const m of named) {
    if (!m) continue;
    const vote = votes.get(addressKey(m)) ?? { address: addressOf(m), count: 0 };
    vote.count += 1;
    votes.set(addressKey(m), vote);
  }
  const needed = majorityOf(configured);
  for (const v of votes.values()) if (v.count >= needed) return v.address;
  return undefined;
}

/**
 * One Sentinel's answer about the master group, or why there is none. `failingOver` is set while that
 * Sentinel leads a failover: it then reports the new epoch with the old address until the failover
 * ends, so its address is not a vote.
 */
export type SentinelAnswer =
  | { readonly sentinel: string; readonly master: Address; readonly epoch: number; readonly failingOver: boolean }
  | { readonly sentinel: string; readonly error: string };

/**
 * The master the Sentinels agree on under the newest config epoch, or why none. Only the newest
 * configuration counts: the address named under the highest config epoch any reachable Sentinel
 * reports, by Sentinels not leading a failover, and only if a majority of all `total` Sentinels name
 * it. Mid-failover the leader is ahead (new epoch, old address) and the others follow a moment later:
 * until a majority has followed, there is no agreed master (the endpoint refuses rather than keep
 * sending writes to the old master).
 */
export function masterAgreedAtNewestEpoch(answers: readonly SentinelAnswer[], total: number): { master: Address; epoch: number } | { reason: string } {
  const needed = majorityOf(total);
  const named = answers.filter((a): a is Extract<SentinelAnswer, { master: Address }> => 'master' in a);
  if (named.length < needed) {
    const why = answers.filter((a) => 'error' in a).map((a) => `${a.sentinel}: ${(a as { error: string }).error}`);
    return { reason: `only ${named.length} of ${total} Sentinels answered and ${needed} must agree${why.length ? ` (${why.join('; ')})` : ''}` };
  }
  const epoch = Math.max(...named.map((a) => a.epoch));
  const voters = named.filter((a) => !a.failingOver);
  const latest = new Set(voters.filter((a) => a.epoch === epoch).map((a) => addressKey(a.master)));
  if (latest.size === 0) return { reason: `failover in progress: no Sentinel names the master of config epoch ${epoch} yet` };
  if (latest.size > 1) return { reason: `Sentinels at config epoch ${epoch} name different masters: ${[...latest].join(', ')}` };
  const [address] = latest;
  const agreeing = voters.filter((a) => addressKey(a.master) === address).length;
  if (agreeing < needed) {
    return { reason: `failover in progress: ${agreeing} of ${total} Sentinels name ${address} (epoch ${epoch}), ${needed} must agree` };
  }
  const master = voters.find((a) => addressKey(a.master) === address)!.master;
  return { master, epoch };
}

/** One Sentinel's `SENTINEL MASTER` answer, as the checks before a failover request read it. */
export interface SentinelMasterView {
  /** The Sentinel's `host:port`. */
  readonly sentinel: string;
  /** The master it names, `host:port`. */
  readonly master: string;
  /** Its `config-epoch`. */
  readonly epoch: number;
  readonly flags: ReadonlySet<string>;
  /** In TILT mode (`INFO sentinel`: `sentinel_tilt:1`). */
  readonly tilt?: boolean;
  /** With the flag `s_down`: how long it has seen the master down (`s-down-time`, ms). */
  readonly sDownMs?: number;
  /** The role the master reported in its last INFO (`role-reported`): `slave` for a fenced node. */
  readonly roleReported?: string;
}

/**
 * How long after a Sentinel sees the master subjectively down a failover request waits for it: with a
 * quorum agreeing it reaches objectively down and starts its own failover within a second or two (it
 * asks the others every second). A forced failover (`SENTINEL FAILOVER` holds no election) started
 * meanwhile would run beside that one, each promoting a replica: the lower epoch's master takes writes
 * until the higher epoch demotes it.
 */
export const SDOWN_SETTLE_MS = 5000;

/**
 * The same wait when the master is down because it reports itself a replica (a fenced node answers
 * PING): each Sentinel counts down-after + 2 INFO periods from its own INFO of it. At Sentinel's own
 * period (10 s, plain manifests) the Sentinels reach subjectively down up to 10 s apart; 2 x 10 s +
 * 1 s covers the last of them. The controller's period (about 1 s, sentinel-timing.ts) is covered too.
 */
export const SDOWN_SETTLE_ROLE_MS = 21_000;

/**
 * Why Sentinel must not be asked to fail over `from` (`host:port`) now, or undefined. The first
 * Sentinel, in the order given:
 * - in TILT mode. It accepts the request but acts on it only when TILT ends, and then another
 *   Sentinel's own checks may start a failover too: a forced failover holds no election, so nothing
 *   stops the two (CI, 2026-12-04: the runtime contract lost 343 writes after a fenced pod asked; on the
 *   test bed a Sentinel in TILT accepted that request and ran it 29 s later, when TILT ended);
 * - that names another master under a config epoch at least that of every Sentinel naming `from` (it
 *   has moved on: asking would fail over the new master; a Sentinel naming another master under an older
 *   epoch is stale and left out);
 * - that names `from` and reports a failover in progress (a forced one would run as a second failover),
 *   sees it objectively down (its own failover follows), or has seen it subjectively down for less than
 *   `SDOWN_SETTLE_MS` (`SDOWN_SETTLE_ROLE_MS` when it reports itself a replica; with a quorum agreeing,
 *   its own failover follows). `afterAbort`: neither of the last two; Sentinel's own attempt has just
 *   aborted for want of a good replica.
 * Sentinels that did not answer are not in `views`. The controller (act.ts `requestFailover`) and the
 * pods' preStop hook and fenced loop (scripts.ts `failover_objection`, held against this on shared
 * cases) apply it.
 */
export function failoverObjection(views: readonly SentinelMasterView[], from: string, afterAbort = false): string | undefined {
  const fromEpoch = Math.max(-1, ...views.filter((v) => v.master === from).map((v) => v.epoch));
  for (const v of views) {
    if (v.tilt) return `Sentinel ${v.sentinel} is in TILT mode`;
    if (v.master !== from) {
      if (v.epoch >= fromEpoch) return `Sentinel ${v.sentinel} already names ${v.master}, not ${from}`;
      continue;
    }
    if (v.flags.has('failover_in_progress')) return `Sentinel ${v.sentinel} is already failing over ${from}`;
    if (afterAbort) continue;
    if (v.flags.has('o_down')) return `Sentinel ${v.sentinel} already sees ${from} objectively down; its own failover follows`;
    if (v.flags.has('s_down') && (v.sDownMs ?? Infinity) < (v.roleReported === 'slave' ? SDOWN_SETTLE_ROLE_MS : SDOWN_SETTLE_MS)) {
      return `Sentinel ${v.sentinel} has seen ${from} subjectively down for ${v.sDownMs} ms; its own failover follows if a quorum agrees`;
    }
  }
  return undefined;
}

/** What a Sentinel says now, for the guard in front of a fence: see `fenceOvertaken`. */
export interface SentinelNowView {
  readonly sentinel: string;
  /** `GET-MASTER-ADDR-BY-NAME`, `host:port`: the promoted replica from `reconf_slaves` on. */
  readonly named: string;
  /** `config-epoch` of `SENTINEL MASTER`. */
  readonly epoch: number;
  /** `failover-state` of `SENTINEL MASTER` ('none' when none is in progress). */
  readonly failoverState: string;
}

/** Sentinel's failover states before the promotion is known to the others (before `reconf_slaves`). */
const BEFORE_PROMOTION = new Set(['wait_start', 'select_slave', 'send_slaveof_noone', 'wait_promotion']);

/**
 * Why a fence of `node` to `master` (both `host:port`) planned a moment ago must be dropped now, or
 * undefined: a Sentinel is failing over and has not reached `reconf_slaves` (it may be promoting any
 * replica, `node` included); or a Sentinel names `node` under a config epoch newer than that of every
 * Sentinel naming `master` (it has just promoted `node`; the newest epoch is the one all adopt). A stale
 * Sentinel naming `node` under an older epoch, or a slower one still naming `node` while the others
 * name `master` at the new epoch (the switchover's fence of the master it replaced), is no reason.
 */
export function fenceOvertaken(views: readonly SentinelNowView[], node: string, master: string): string | undefined {
  const promoting = views.find((v) => BEFORE_PROMOTION.has(v.failoverState));
  if (promoting) return `Sentinel ${promoting.sentinel} is failing over (${promoting.failoverState})`;
  const fenceEpoch = Math.max(-1, ...views.filter((v) => v.named === master).map((v) => v.epoch));
  const ahead = views.find((v) => v.named === node && v.epoch > fenceEpoch);
  return ahead ? `Sentinel ${ahead.sentinel} now names ${node} as master under a newer config epoch` : undefined;
}

/**
 * Where no controller runs (the standalone endpoint): with too few Sentinels answering to agree (a DNS
 * or network blip), the master admitted last stays the candidate, still to be checked with `ROLE`, as
 * long as every Sentinel that did answer names it at no newer epoch than it was admitted under. The
 * planner's rule 3a for the same case (`lastMasterStillAlone`): keep the remembered master while
 * nothing contradicts it. Any Sentinel naming another master, or a newer epoch, ends it; a switch
 * announced meanwhile has already closed the route (the router then has no admitted master).
 */
export function keepAdmitted(answers: readonly SentinelAnswer[], total: number, admitted: { master: Address; epoch: number } | undefined): boolean {
  if (!admitted) return false;
  const named = answers.filter((a): a is Extract<SentinelAnswer, { master: Address }> => 'master' in a);
  if (named.length >= majorityOf(total)) return false;
  return named.every((a) => addressKey(a.master) === addressKey(admitted.master) && a.epoch <= admitted.epoch && !a.failingOver);
}
