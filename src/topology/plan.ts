import type { Memory, NodeObservation, Observation, SentinelObservation } from './observation.ts';
import {
  agreedMaster, busySentinel, byId, hasData, linkedReplicaOf, nameOf, nodeAt, sentinelAhead, sentinelEpoch,
} from './observation.ts';
import { rankByData } from './plan-rank.ts';
import { type Address, addressKey, addressOf, sameAddress } from '../redis/address.ts';
import { neededForFailover } from './agreement.ts';

/** The part of the RedisHA spec the planner needs. */
export interface PlanSpec {
  /** The Sentinel master-group name, unique to the deployment. */
  readonly masterName: string;
  /** Sentinel quorum; a failover also needs a majority of the configured Sentinels. */
  readonly quorum: number;
  /**
   * Sentinel's down-after. The crash rule (2.a) asks for a failover only above `CRASH_RULE_MIN_DOWN_AFTER_MS`;
   * unknown counts as above.
   */
  readonly downAfterMilliseconds?: number;
  /** Sentinel's failover-timeout: how long a failover we asked for is left to Sentinel. Unknown: 60 s (the default profile's). */
  readonly failoverTimeout?: number;
}

const DEFAULT_FAILOVER_TIMEOUT_MS = 60_000;

/**
 * Below this down-after the crash rule stays off. A forced failover (`SENTINEL FAILOVER`: no election,
 * so nothing holds the other Sentinels back) takes about 1.2 s; with down-after near that, the other
 * Sentinels' own detection fires meanwhile, and after the switch a fresh link's first PING comes one
 * ping period (1 s) later, so at down-after 1 s they flag the new master down and fail it over again
 * (seen locally in chaos 1 under the fast profile). At 5 s (the default) neither happens.
 */
export const CRASH_RULE_MIN_DOWN_AFTER_MS = 2000;

/** One step for the actor. Node steps name a reachable node; Sentinel steps one reachable Sentinel. */
export type Action =
  /** Point a replica at the master (`REPLICAOF host port`). */
  | { readonly kind: 'replicaof'; readonly node: Address; readonly master: Address }
  /** A stray or returning master: `REPLICAOF master`, `CLIENT KILL TYPE normal`, then `CLIENT UNPAUSE` (a replica refuses writes). */
  | { readonly kind: 'fence'; readonly node: Address; readonly master: Address }
  /** Make a replica the master (`REPLICAOF NO ONE`); only when Sentinel cannot (see `plan`). */
  | { readonly kind: 'promote'; readonly node: Address }
  /** `SENTINEL FAILOVER name`: Sentinel promotes its best replica and reconfigures everyone. */
  /**
   * `from`: the master it replaces; the request is dropped when a Sentinel objects (agreement.ts
   * `failoverObjection`: it no longer names `from`, is in TILT, or its own failover follows: it sees
   * `from` objectively down, or subjectively down a moment ago), the last two not with `afterAbort`:
   * Sentinel's own attempt aborted for want of a good replica and will not retry before 2 x failover-timeout.
   */
  | { readonly kind: 'sentinel-failover'; readonly from: Address; readonly afterAbort?: boolean }
  /** (Re)point ONE Sentinel: `SENTINEL REMOVE` + `MONITOR` + `SET`, verified by the actor. */
  | { readonly kind: 'sentinel-monitor'; readonly sentinel: Address; readonly master: Address }
  /** `SENTINEL SET` the spec's settings on one Sentinel. */
  | { readonly kind: 'sentinel-configure'; readonly sentinel: Address }
  /**
   * `SENTINEL RESET name` on ONE Sentinel that still lists removed replicas or Sentinels: it forgets
   * them and finds the members that exist again (the master's INFO, the other Sentinels' hellos).
   */
  | { readonly kind: 'sentinel-reset'; readonly sentinel: Address }
  /** Tell the master endpoint where writes go; null = no trustworthy master, fail closed. */
  | { readonly kind: 'publish-master'; readonly master: Address | null }
  /**
   * `CLIENT PAUSE <failover-timeout> WRITE` on a master that a Sentinel failover is replacing: a write it
   * acknowledged after Sentinel promoted a replica would be lost when it is demoted. Reads go on; the
   * held writes run (and get READONLY) once it is fenced. Repeated every pass the plan asks for it; the
   * controller releases (`CLIENT UNPAUSE`) a node once a pass that completed no longer holds it and
   * `writesMustStayHeld` agrees, so an aborted failover costs no more than the passes that saw it.
   */
  | { readonly kind: 'hold-writes'; readonly node: Address };

/** What one pass decided, and why, in one sentence. */
export interface Plan {
  /** In order: `publish-master` first, then promote, fences, replicaofs, failover, one Sentinel step; or holds alone. */
  readonly actions: readonly Action[];
  /** e.g. "no action: node-0 is master, 2 replicas in sync". Log it once per pass. */
  readonly reason: string;
  /** The memory to persist once the actions are done. */
  readonly memory: Memory;
}

/**
 * The actions that change the deployment: all but `publish-master`, which every settled plan repeats.
 * A plan whose `changes` are empty is at rest.
 */
export function changes(p: Plan): readonly Action[] {
  return p.actions.filter((a) => a.kind !== 'publish-master');
}

/**
 * Decides one pass. Pure and deterministic: nodes and Sentinels are walked by id, so neither the
 * input order nor the clock changes the answer.
 *
 * 1. A reachable Sentinel in TILT or with a failover in progress, or one that names another master
 *    under a newer config epoch than the majority's (a failover has just ended and the others are about
 *    to follow it): no action that changes roles, memory unchanged. Sentinel is acting (or blind);
 *    acting now could undo what it does. The one exception: a failover past the promotion whose new
 *    master the majority already names (`promotedAndFollowed`): replicas may be pointed at that master,
 *    nothing else (`helpFinish`); if it is not a reachable master fit to serve, no such action.
 *    With a Sentinel ahead and none failing over, the master it names (which answers as master) is
 *    published: the newest epoch is the one every Sentinel adopts.
 *    While it waits, the plan holds the writes (`hold-writes`) of the master a failover in progress
 *    replaces (or, for a Sentinel ahead, of the master the majority still names) if it is reachable and
 *    still reports master: Sentinel fails over a master it saw down for down-after, and one that came
 *    back meanwhile (restarted, unfrozen, reconnected) would take writes until it is demoted, writes
 *    the promoted replica never receives.
 * 2. A majority of the configured Sentinels names master M, and M is one of our nodes:
 *    memory becomes {M, highest epoch seen}; `publish-master M` is always the first action (the
 *    endpoint ignores repeats; stating it every pass heals a restarted endpoint). Then:
 *    a. M unreachable, or its role unknown: wait; Sentinel's down-after handles a dead master. Except
 *       when M is unreachable and the runtime knows its process is gone (`gone`: the process exited, its
 *       pod is deleted or its Redis container is not running) and another reachable replica holds data:
 *       fence the other masters to M and `sentinel-failover` at once, as in c.2. Waiting for down-after
 *       would only keep writes out longer; Sentinel still picks the replica. Rule 1 has already ruled out
 *       a failover in progress and a Sentinel ahead, and the actor asks every Sentinel again first.
 *       Not once Sentinel has answered that it has no replica fit to promote (`noGoodReplica`). A
 *       gone master that still answers (the kubelet is stopping it) is waited for: it may still be
 *       handing its last writes to the replicas.
 *    b. M is fit (role master, and has data or no other reachable node has any): converge on M —
 *       fence every other master to M, point every replica at M, repair one Sentinel.
 *    c. M is unfit (a replica, e.g. restarted; or empty while another node holds data):
 *       1. if we remember S ≠ M, S is a master with data, some Sentinel already names S and no
 *          Sentinel epoch is newer than our memory: we are moving Sentinel to S; carry on (converge on S);
 *       2. else if Sentinel said it has no replica fit to promote from M (`noGoodReplica`) and another
 *          node holds data (no role unknown): converge on the best of them by data, without touching
 *          a Sentinel, and once every other node is its replica with the link up, `sentinel-failover`
 *          again (`afterAbort`); Sentinel then promotes one of them. Else if another replica holds data: fence the other masters to M and
 *          `sentinel-failover`; Sentinel picks the replica, so we never choose against it;
 *       3. else if a reachable node's role is unknown: wait, its data cannot be judged;
 *       4. else if another master holds data: it is the only data left; converge on the best one
 *          (remembered as S, so step 2.c.1 finishes the move);
 *       5. else nobody else holds data and M is a replica: promote M (Sentinel already names it) and
 *          converge on it.
 * 3. No agreement (Sentinels disagree, lost their config, name an address that is not ours, or are down):
 *    a. fewer reachable Sentinels than max(quorum, majority): no failover can happen and none can be
 *       arranged. Keep publishing the remembered master only while it is reachable, reports master,
 *       is the only master and no reachable Sentinel names another; otherwise publish null. No other action.
 *    b. a reachable node with an unknown role: wait (publish null), the choice by data would be blind.
 *    c. otherwise choose the master by data (`rankByData`), remember it, converge on it (promoting it
 *       if it is a replica) and publish null until a majority of Sentinels names it.
 *
 * Converging never acts twice on one node, never fences or repoints the chosen master itself, and
 * changes at most one Sentinel per pass (`sentinel-monitor` before `sentinel-configure`).
 */
export function plan(obs: Observation, spec: PlanSpec, memory: Memory): Plan {
  return askedOnce(obs, spec, memory, decide(obs, spec, memory));
}

/**
 * The last rule: a failover asked for by an earlier pass (`memory.failoverAsked`) is Sentinel's until
 * the majority names another master (the record is then forgotten) or failover-timeout has passed. A
 * plan that would ask for it again meanwhile waits instead, publishing only (asking again, Sentinel
 * would start a second failover or answer INPROG). A plan that asks records the request in its memory;
 * the runtime keeps the previous record if the request failed.
 */
function askedOnce(obs: Observation, spec: PlanSpec, memory: Memory, p: Plan): Plan {
  const asked = memory.failoverAsked;
  const agreed = agreedMaster(obs);
  const pending = asked && agreed && sameAddress(asked.from, agreed) && obs.at - asked.at < (spec.failoverTimeout ?? DEFAULT_FAILOVER_TIMEOUT_MS) ? asked : undefined;
  const { failoverAsked: _, ...rest } = p.memory;
  const ask = p.actions.find((a) => a.kind === 'sentinel-failover');
  // Kept as it was while Sentinel acts (no majority yet, it still names that master, or a Sentinel is
  // busy or ahead of the majority: rule 1 changes no memory), and forgotten once, at rest, the majority
  // names another master: that failover is over. Kept, it came back to life when the same node was master again and died
  // within failover-timeout, and the plan waited for a failover nobody was running (the runtime
  // contract test's third scenario: 30 s, until Sentinel's own failover).
  const over = asked && agreed && !sameAddress(asked.from, agreed) && !busySentinel(obs) && !sentinelAhead(obs, agreed);
  if (!ask) return { ...p, memory: asked && !over ? { ...rest, failoverAsked: asked } : rest };
  if (!pending) return { ...p, memory: { ...rest, failoverAsked: { from: ask.from, at: obs.at } } };
  // Like rule 1: Sentinel is acting, so nothing that changes a role (the fences that came with the
  // request were done with it); the master stays published.
  const ago = ((obs.at - pending.at) / 1000).toFixed(1);
  return {
    actions: p.actions.filter((a) => a.kind === 'publish-master'),
    reason: `waiting: the failover of ${nameOf(obs, ask.from)} asked ${ago} s ago is under way`,
    memory: { ...rest, failoverAsked: pending },
  };
}

function decide(obs: Observation, spec: PlanSpec, memory: Memory): Plan {
  const busy = busySentinel(obs);
  if (busy) {
    const what = busy.failoverInProgress ? 'reports a failover in progress' : 'is in TILT mode';
    return waitOnSentinel(obs, `waiting: ${busy.id} ${what}`, memory);
  }
  const agreed = agreedMaster(obs);
  const ahead = agreed && sentinelAhead(obs, agreed);
  if (ahead) {
    // Sentinel's newest config epoch wins: the others are about to adopt it, so its master (promoted,
    // answering as master) is the one to publish now, not after the majority's next hello.
    const next = ahead.master as Address;
    const reason = `waiting: ${ahead.id} names ${nameOf(obs, next)} under config epoch ${ahead.configEpoch}, newer than the majority's; the others follow it`;
    const wait = waitOnSentinel(obs, reason, memory);
    // Not while another Sentinel is still failing over (one finishing, `promotedAndFollowed`): the
    // master it names is the one it replaces.
    if (obs.sentinels.some((s) => s.reachable && s.failoverInProgress)) return wait;
    return { ...wait, actions: [{ kind: 'publish-master', master: addressOf(next) }, ...wait.actions] };
  }
  const master = agreed && nodeAt(obs, agreed);
  // Past busySentinel, a Sentinel still failing over has promoted the master the majority names.
  const finishing = byId(obs.sentinels).find((s) => s.reachable && s.failoverInProgress);
  if (finishing) return helpFinish(obs, finishing, master || undefined, memory);
  if (master) return followSentinel(obs, master, memory, spec);
  if (memory.migrateFrom) return followOutside(obs, memory, agreed);
  return withoutAgreement(obs, spec, memory, agreed);
}

/**
 * Rule 2.5, migrating in (`memory.migrateFrom`): the Sentinels (ours, joined to the outside deployment's
 * group under its master name) name a master that is not one of our nodes. That master holds the data
 * and the group's Sentinels, most of which we do not watch, decide about it: our nodes start as its
 * replicas (bootstrap and the restart rule), and the plan changes nothing. In particular it never
 * fences a node of ours that reports master: Sentinel promotes one in the migration's switchover (or
 * when the outside master fails), and our Sentinels may name it a moment later than the one that
 * did it. The endpoint stays closed. Once a majority names one of our nodes, rule 2 applies and
 * forgets `migrateFrom`.
 */
function followOutside(obs: Observation, memory: Memory, agreed: Address | undefined): Plan {
  const epoch = Math.max(memory.epoch, sentinelEpoch(obs));
  const closed: Action = { kind: 'publish-master', master: null };
  if (!agreed) {
    return { actions: [closed], reason: `migrating in: waiting for the Sentinels to agree on the outside master (last ${addressKey(memory.migrateFrom as Address)})`, memory: { ...memory, epoch } };
  }
  const outside = addressOf(agreed);
  const reachable = byId(obs.nodes).filter((n) => n.reachable);
  const following = reachable.filter((n) => linkedReplicaOf(n, outside)).length;
  const masters = reachable.filter((n) => n.role === 'master');
  const note = masters.length ? `; ${names(masters)} reports master (left to Sentinel)` : '';
  return {
    actions: [closed],
    reason: `migrating in from ${addressKey(outside)}: ${following} of ${obs.nodes.length} nodes replicating from it${note}`,
    memory: { ...memory, epoch, migrateFrom: outside },
  };
}

/**
 * Rule 1, the exception: `s` is still failing over, but past the promotion (`reconf_slaves`,
 * `update_config`) and the majority names its new master `m`. Sentinel is only reconfiguring replicas,
 * which can take until failover-timeout: the plan may point nodes at `m`, and do nothing else. It
 * never promotes, never asks for a failover, never touches a Sentinel (invariant 6); when `m` is not a
 * reachable master fit to serve, it waits like rule 1, memory unchanged.
 */
function helpFinish(obs: Observation, s: SentinelObservation, m: NodeObservation | undefined, memory: Memory): Plan {
  const failover = `${s.id} is finishing a failover (${s.failoverState})`;
  const wait = (why: string): Plan => waitOnSentinel(obs, `waiting: ${failover} and ${why}`, memory);
  if (!m) return wait('the master the majority names is not a node of ours');
  if (!m.reachable) return wait(`its new master ${m.id} is unreachable`);
  if (m.role !== 'master') return wait(`its new master ${m.id} reports role ${m.role}`);
  const holder = byId(obs.nodes).find((n) => n.reachable && !sameAddress(n, m) && hasData(n));
  if (!hasData(m) && holder) return wait(`its new master ${m.id} is empty while ${holder.id} holds data`);
  const remembered: Memory = { master: addressOf(m), epoch: Math.max(memory.epoch, sentinelEpoch(obs)) };
  return converge(obs, m, [{ kind: 'publish-master', master: addressOf(m) }], remembered, `helping: ${failover} to ${m.id}`, false);
}

/**
 * Rule 1's wait: nothing that changes a role, but the masters that a failover in progress is replacing
 * take no writes meanwhile (`hold-writes`).
 */
function waitOnSentinel(obs: Observation, reason: string, memory: Memory): Plan {
  const held = replacedMasters(obs);
  const actions: Action[] = held.map((n) => ({ kind: 'hold-writes', node: addressOf(n) }));
  return { actions, reason: held.length ? `${reason}; holding writes on ${names(held)}` : reason, memory };
}

/**
 * The reachable nodes that report role master and that Sentinel is replacing: the master a Sentinel
 * with a failover in progress still names (until the switch it names the old master, never the
 * replica it selected, so the new master is never among them), and the master the majority names
 * while a Sentinel is ahead of it (`sentinelAhead`: they follow it and demote that master).
 */
function replacedMasters(obs: Observation): NodeObservation[] {
  const named = obs.sentinels.filter((s) => s.reachable && s.monitoring && s.failoverInProgress && s.master).map((s) => s.master as Address);
  const agreed = agreedMaster(obs);
  if (agreed && sentinelAhead(obs, agreed)) named.push(agreed);
  return byId(obs.nodes).filter((n) => n.reachable && n.role === 'master' && named.some((a) => sameAddress(a, n)));
}

/**
 * Why a write pause on `node` must stay, or undefined when lifting it lets no write through that a
 * failover would discard. The release side of `hold-writes`, and of a switchover's pause: both end
 * only through this rule (act.ts `releaseWrites`). A node that is not a reachable master refuses
 * writes anyway (a fenced replica answers READONLY), so it may always be released. A master is
 * released only when every configured Sentinel answers, none is failing over, a majority names it
 * and none is ahead of them (`sentinelAhead`): one Sentinel missing from the look could be the one
 * promoting a replica, and a write the old master acknowledges then is lost when it is demoted.
 */
export function writesMustStayHeld(obs: Observation, node: Address): string | undefined {
  const n = nodeAt(obs, node);
  if (!n || !n.reachable || n.role !== 'master') return undefined;
  const silent = byId(obs.sentinels).find((s) => !s.reachable);
  if (silent) return `${n.id} reports master and ${silent.id} did not answer`;
  const failing = byId(obs.sentinels).find((s) => s.failoverInProgress);
  if (failing) return `${failing.id} reports a failover in progress (${failing.failoverState ?? 'unknown state'})`;
  const agreed = agreedMaster(obs);
  if (!agreed) return `${n.id} reports master and no master is named by a majority of the Sentinels`;
  if (!sameAddress(agreed, n)) return `${n.id} reports master and the Sentinels name ${nameOf(obs, agreed)}`;
  const ahead = sentinelAhead(obs, agreed);
  if (ahead) return `${ahead.id} names ${nameOf(obs, ahead.master as Address)} under a newer config epoch`;
  return undefined;
}

/** Rule 2: a Sentinel majority names `m`. */
function followSentinel(obs: Observation, m: NodeObservation, memory: Memory, spec: PlanSpec): Plan {
  const epoch = Math.max(memory.epoch, sentinelEpoch(obs));
  const remembered: Memory = { master: addressOf(m), epoch };
  const publish: Action = { kind: 'publish-master', master: addressOf(m) };
  if (!m.reachable) {
    const replicaWithData = byId(obs.nodes).find((n) => n.reachable && !sameAddress(n, m) && n.role === 'replica' && hasData(n));
    // Sentinel answered that it has no replica fit to promote from M: asking again every pass would only
    // repeat that answer (and its Event); its own attempts go on.
    const refused = obs.noGoodReplica !== undefined && sameAddress(obs.noGoodReplica, m);
    const crashRule = (spec.downAfterMilliseconds ?? Infinity) > CRASH_RULE_MIN_DOWN_AFTER_MS;
    if (m.gone && replicaWithData && !refused && crashRule) return askFailover(obs, m, publish, `master ${m.id} is gone (${m.gone}) and ${replicaWithData.id} holds data`, remembered);
    const known = !m.gone ? '' : refused ? ` and gone (${m.gone}), but Sentinel found no replica fit to promote`
      : !crashRule ? ` and gone (${m.gone}); with down-after at ${spec.downAfterMilliseconds} ms Sentinel decides (a forced failover would race it)`
      : ` and gone (${m.gone}), but no reachable replica holds data`;
    return { actions: [publish], reason: `waiting for Sentinel: master ${m.id} unreachable${known}`, memory: remembered };
  }
  if (m.role === 'unknown') {
    return { actions: [publish], reason: `waiting: master ${m.id} answers but its role is unknown`, memory: remembered };
  }
  const others = obs.nodes.filter((n) => n.reachable && !sameAddress(n, m));
  const holder = byId(others).find(hasData);
  if (m.role === 'master' && (hasData(m) || !holder)) {
    return converge(obs, m, [publish], remembered, `converging on ${m.id}, Sentinel's master`);
  }
  const why = m.role === 'replica' ? `master ${m.id} reports role replica` : `master ${m.id} is empty while ${holder?.id} holds data`;

  const target = memory.master && nodeAt(obs, memory.master);
  const moving = target && !sameAddress(target, m) && target.reachable && target.role === 'master' && hasData(target)
    && obs.sentinels.some((s) => s.reachable && s.monitoring && sameAddress(s.master, target))
    && sentinelEpoch(obs) <= memory.epoch;
  if (moving) return converge(obs, target, [publish], { master: addressOf(target), epoch }, `recovering: ${why}; moving Sentinel to ${target.id}`);

  const dataMaster = rankByData(obs, memory).find((n) => n.role === 'master' && hasData(n) && !sameAddress(n, m));
  // The Sentinels that name M know no replica of it: fresh ones, seeded or repointed while M was a
  // replica (Sentinel learns the replicas from the master's INFO, and a replica's lists none). Their
  // failover of M can never promote anyone (NOGOODSLAVE, for ever; CI: a node holding the master and
  // two of the three Sentinels rebooted, and the two came back naming a replica). A master holding data
  // is where the writes go: the Sentinels move to it.
  const naming = obs.sentinels.filter((s) => s.reachable && s.monitoring && sameAddress(s.master, m));
  if (m.role === 'replica' && dataMaster && naming.every((s) => s.replicasKnown === 0) && !others.some((n) => n.role === 'unknown')) {
    return converge(obs, dataMaster, [publish], { master: addressOf(dataMaster), epoch },
      `recovering: ${why} and the Sentinels naming it know no replica of it; ${dataMaster.id} holds data, moving Sentinel to it`);
  }

  const dataReplica = byId(others).find((n) => n.role === 'replica' && hasData(n));
  const best = rankByData({ ...obs, nodes: others }, memory)[0];
  if (obs.noGoodReplica && sameAddress(obs.noGoodReplica, m) && best && hasData(best) && !others.some((n) => n.role === 'unknown')) {
    // Sentinel cannot fail over: no replica's link is recent enough for it. Give it one: the node with
    // the most data becomes the master the others follow (links up again), and Sentinel is asked once
    // more; it promotes one of them, which holds that data, and reconfigures everyone. Sentinel is never
    // repointed here: a Sentinel moved by MONITOR starts at config epoch 0 and the others' newer epoch
    // would pull it back.
    const headline = `recovering: ${why} and Sentinel found no replica fit to promote; ${best.id} holds the most data`;
    const p = converge(obs, best, [publish], { master: addressOf(best), epoch }, headline, false);
    // Sentinel then picks any of best's replicas: ask only once each is linked (a full sync in
    // progress would be promoted without the data).
    const linked = obs.nodes.filter((n) => n.reachable && !sameAddress(n, best)).every((n) => linkedReplicaOf(n, best));
    const settled = changes(p).length === 0;
    if (settled && linked) {
      return { ...p, actions: [...p.actions, { kind: 'sentinel-failover', from: addressOf(m), afterAbort: true }], reason: `${headline} and is master, its replicas linked; asking Sentinel to fail over again` };
    }
    return { ...p, reason: `${settled ? `${headline} and is master` : p.reason}; asking Sentinel again once its replicas are linked` };
  }
  if (dataReplica) {
    const named = m.role === 'master' && holder?.id === dataReplica.id ? '' : ` and ${dataReplica.id} holds data`;
    return askFailover(obs, m, publish, `${why}${named}`, remembered);
  }
  const unknown = byId(others).find((n) => n.role === 'unknown');
  if (unknown) return { actions: [publish], reason: `waiting: ${why} and ${unknown.id}'s role is unknown`, memory: remembered };

  if (dataMaster) {
    return converge(obs, dataMaster, [publish], { master: addressOf(dataMaster), epoch },
      `recovering: ${why}; ${dataMaster.id} holds the only data, moving Sentinel to it`);
  }
  return converge(obs, m, [publish], remembered, `${why} and no other node holds data`);
}

/**
 * Rules 2.a (a gone master) and 2.c.2: `sentinel-failover` of `m`. Stray masters stop taking writes now
 * (fenced to M, chained until Sentinel reconfigures M's replicas); Sentinel leaves masters it does not
 * know alone, so without this two would remain.
 */
function askFailover(obs: Observation, m: NodeObservation, publish: Action, why: string, memory: Memory): Plan {
  const strays = byId(obs.nodes).filter((n) => n.reachable && !sameAddress(n, m) && n.role === 'master');
  const fences: Action[] = strays.map((n) => ({ kind: 'fence', node: addressOf(n), master: addressOf(m) }));
  const fencing = strays.length ? `; fencing ${names(strays)}` : '';
  return {
    actions: [publish, ...fences, { kind: 'sentinel-failover', from: addressOf(m) }],
    reason: `asking Sentinel to fail over: ${why}${fencing}`,
    memory,
  };
}

/** Rule 3: no Sentinel majority names one of our nodes. */
function withoutAgreement(obs: Observation, spec: PlanSpec, memory: Memory, agreed: Address | undefined): Plan {
  const epoch = Math.max(memory.epoch, sentinelEpoch(obs));
  const configured = obs.sentinels.length;
  const reachable = obs.sentinels.filter((s) => s.reachable).length;
  const needed = neededForFailover(spec.quorum, configured);
  if (reachable < needed) {
    const kept = lastMasterStillAlone(obs, memory);
    return {
      actions: [{ kind: 'publish-master', master: kept ? addressOf(kept) : null }],
      reason: `failover impossible: ${reachable} of ${configured} sentinels reachable, ${needed} needed; `
        + (kept ? `${kept.id} stays master` : 'master endpoint closed'),
      memory: { ...memory, epoch },
    };
  }
  const closed: Action = { kind: 'publish-master', master: null };
  const why = agreed ? `sentinels name ${addressKey(agreed)}, which is not a node of ${spec.masterName}` : 'no master agreed by Sentinel';
  const unknown = byId(obs.nodes).find((n) => n.reachable && n.role === 'unknown');
  if (unknown) return { actions: [closed], reason: `waiting: ${why} and ${unknown.id}'s role is unknown`, memory: { ...memory, epoch } };
  const chosen = rankByData(obs, memory)[0];
  if (!chosen) return { actions: [closed], reason: `waiting: ${why} and no node is reachable`, memory: { ...memory, epoch } };
  const data = hasData(chosen) ? `${chosen.keys} keys` : 'all nodes empty';
  return converge(obs, chosen, [closed], { master: addressOf(chosen), epoch }, `${why}: chose ${chosen.id} by data (${data})`);
}

/** The remembered master, if nothing contradicts it: reachable, the only master, named by no rival. */
function lastMasterStillAlone(obs: Observation, memory: Memory): NodeObservation | undefined {
  const m = memory.master && nodeAt(obs, memory.master);
  if (!m || !m.reachable || m.role !== 'master') return undefined;
  if (obs.nodes.some((n) => n.reachable && n.role === 'master' && !sameAddress(n, m))) return undefined;
  if (obs.sentinels.some((s) => s.reachable && s.monitoring && s.master && !sameAddress(s.master, m))) return undefined;
  return m;
}

/**
 * Brings every reachable node and (one at a time) every reachable Sentinel in line with `target`.
 * Nodes whose role is unknown are left alone: acting on a node we cannot read could lose its data.
 */
function converge(obs: Observation, target: NodeObservation, lead: Action[], memory: Memory, headline: string, sentinelSteps = true): Plan {
  const master = addressOf(target);
  const actions: Action[] = [...lead];
  const done: string[] = [];
  if (target.role !== 'master') {
    actions.push({ kind: 'promote', node: master });
    done.push(`promoting ${target.id}`);
  }
  const reachable = byId(obs.nodes).filter((n) => n.reachable && !sameAddress(n, target));
  const strays = reachable.filter((n) => n.role === 'master');
  const astray = reachable.filter((n) => n.role === 'replica' && !sameAddress(n.replicaOf, target));
  for (const n of strays) actions.push({ kind: 'fence', node: addressOf(n), master });
  for (const n of astray) actions.push({ kind: 'replicaof', node: addressOf(n), master });
  if (strays.length) done.push(`fencing ${names(strays)}`);
  if (astray.length) done.push(`pointing ${names(astray)} at ${target.id}`);

  // Never touch one mid-failover; none at all while any is (helpFinish).
  const sentinels = sentinelSteps ? byId(obs.sentinels).filter((s) => s.reachable && !s.failoverInProgress) : [];
  // The newest config epoch first: a Sentinel repointed by MONITOR starts at epoch 0, and the hellos of
  // one still naming another master under a newer epoch pull it back there, until that one is
  // repointed too.
  const stale = [...sentinels].sort((a, b) => b.configEpoch - a.configEpoch).find((s) => !s.monitoring || !sameAddress(s.master, target));
  const unset = sentinels.find((s) => !s.settingsMatch);
  if (stale) {
    actions.push({ kind: 'sentinel-monitor', sentinel: addressOf(stale), master });
    done.push(`repointing ${stale.id}`);
  } else if (unset) {
    actions.push({ kind: 'sentinel-configure', sentinel: addressOf(unset) });
    done.push(`configuring ${unset.id}`);
  }
  const forgetful = sentinelSteps && done.length === 0 ? rememberingRemoved(obs, target) : undefined;
  if (forgetful) {
    actions.push({ kind: 'sentinel-reset', sentinel: addressOf(forgetful) });
    const down = forgetful.replicasDown ? `, ${forgetful.replicasDown} of them down to it while linked to the master` : '';
    done.push(`resetting ${forgetful.id}, which lists ${forgetful.replicasKnown} replicas${down} and ${forgetful.otherSentinelsKnown} other Sentinels (there are ${obs.nodes.length - 1} and ${obs.sentinels.length - 1})`);
  }
  if (done.length) return { actions, reason: `${headline}: ${done.join('; ')}`, memory };
  return { actions, reason: `no action: ${target.id} is master, ${replicaSummary(obs, target)}`, memory };
}

/**
 * The Sentinel to reset (`sentinel-reset`), or undefined: one that lists more replicas or other
 * Sentinels than the deployment has, some of them down (members removed by a scale-down, which
 * Sentinel never forgets by itself), or one that holds a replica down while it is linked to the master
 * (a stale address: `blind` below). Only at rest, one at a time, each verified before the next: every node answers and follows
 * `target` with its link up, every Sentinel answers, names `target` with the spec's settings, and every
 * Sentinel but the one reset sees all the others and all the replicas (so one reset earlier has found
 * them again). A reset Sentinel knows no replica until the master's next INFO, and no other Sentinel
 * until their hellos: while it relearns, the others can still fail over without it.
 */
function rememberingRemoved(obs: Observation, target: NodeObservation): SentinelObservation | undefined {
  const replicas = obs.nodes.length - 1;
  const others = obs.sentinels.length - 1;
  if (obs.nodes.some((n) => !n.reachable || (!sameAddress(n, target) && !linkedReplicaOf(n, target)))) return undefined;
  if (obs.sentinels.some((s) => !s.reachable || !s.monitoring || s.failoverInProgress || !s.settingsMatch || !sameAddress(s.master, target))) return undefined;
  // A master with more replicas than ours is joined with another deployment (a migration, whose steps
  // forget its members themselves): its Sentinels list live members they cannot talk to. Left alone.
  if ((target.connectedReplicas ?? 0) > replicas) return undefined;
  // It lists more than the deployment has while it sees no more than that: the extra ones are down.
  // One that sees more (a live replica that is not ours, attached by hand; the outside deployment's
  // nodes and Sentinels during and after a migration) would relearn them at once: never reset then.
  const remembers = (known: number | undefined, seen: number | undefined, actual: number) => (known ?? 0) > actual && (seen ?? 0) <= actual;
  // It lists every replica but holds one down while every replica is linked to the master: Sentinel
  // resolves a replica's hostname once, when it first learns it, so a replica pod recreated with a new
  // IP stays down for it for good (CI: "sees 0 of 1 replicas" for 10 minutes after a roll). A reset
  // makes it learn the replicas again from the master, resolving them anew.
  const blind = (s: SentinelObservation) => (s.replicasKnown ?? 0) >= replicas && (s.replicasDown ?? 0) > 0 && (s.replicasSeen ?? 0) < replicas;
  const candidate = byId(obs.sentinels).find((s) => remembers(s.replicasKnown, s.replicasSeen, replicas) || remembers(s.otherSentinelsKnown, s.otherSentinelsSeen, others) || blind(s));
  if (!candidate) return undefined;
  // One relearning at a time: another Sentinel that does not list everyone yet (one reset earlier). A
  // blind one lists everyone; it is a candidate of its own, next.
  const relearning = obs.sentinels.find((s) => s !== candidate && !blind(s) && ((s.replicasSeen ?? 0) < replicas || (s.otherSentinelsSeen ?? 0) < others));
  return relearning ? undefined : candidate;
}

/** "2 replicas in sync", "1 of 2 replicas in sync", plus unreachable nodes, for the at-rest reason. */
function replicaSummary(obs: Observation, master: NodeObservation): string {
  const replicas = obs.nodes.filter((n) => n.reachable && n.role === 'replica' && sameAddress(n.replicaOf, master));
  const synced = replicas.filter((n) => n.linkUp === true).length;
  const plural = replicas.length === 1 ? 'replica' : 'replicas';
  const count = synced === replicas.length ? `${synced} ${plural}` : `${synced} of ${replicas.length} ${plural}`;
  const down = byId(obs.nodes).filter((n) => !n.reachable);
  return `${count} in sync` + (down.length ? `, ${names(down)} unreachable` : '');
}

function names(items: readonly { readonly id: string }[]): string {
  const ids = items.map((i) => i.id);
  return ids.length <= 1 ? ids.join('') : `${ids.slice(0, -1).join(', ')} and ${ids.at(-1)}`;
}

/** For callers that log an action: "fence node-2 -> node-0", "sentinel-monitor sentinel-1 -> node-0". */
export function describeAction(obs: Observation, a: Action): string {
  switch (a.kind) {
    case 'replicaof':
    case 'fence':
      return `${a.kind} ${nameOf(obs, a.node)} -> ${nameOf(obs, a.master)}`;
    case 'promote':
      return `promote ${nameOf(obs, a.node)}`;
    case 'sentinel-failover':
      return `sentinel-failover of ${nameOf(obs, a.from)}${a.afterAbort ? ' (after an abort)' : ''}`;
    case 'sentinel-monitor':
      return `sentinel-monitor ${nameOf(obs, a.sentinel)} -> ${nameOf(obs, a.master)}`;
    case 'sentinel-configure':
      return `sentinel-configure ${nameOf(obs, a.sentinel)}`;
    case 'sentinel-reset':
      return `sentinel-reset ${nameOf(obs, a.sentinel)}`;
    case 'publish-master':
      return `publish-master ${a.master ? nameOf(obs, a.master) : 'none'}`;
    case 'hold-writes':
      return `hold-writes on ${nameOf(obs, a.node)}`;
  }
}
