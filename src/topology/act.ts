import type { Redis } from 'ioredis';
import { withConnection, type Endpoint } from '../redis/connect.ts';
import { errorText } from '../redis/probe.ts';
import { parseFlags, parseFlatRecord, parseFlatRecords, parseInfo, parseSentinelReplicas } from '../redis/parse.ts';
import { firstListedLast, sentinelPeriodArgs, soonestToSeePromotion } from './sentinel-timing.ts';
import { writesMustStayHeld, type Action } from './plan.ts';
import { masterSettingsMatch, nodeEndpointIn, observe, sentinelEndpointIn, type Topology } from './observe.ts';
import { type Address, addressKey, sameAddress } from '../redis/address.ts';
import { failoverObjection, fenceOvertaken, type SentinelNowView } from './agreement.ts';

/** Where the master endpoint learns the master: the proxy locally, the master-pod label on Kubernetes. */
export interface MasterPublisher {
  /** Idempotent; null means "no trustworthy master": the endpoint fails closed. `why`: the plan's reason. */
  publish(master: Address | null, why: string): void;
}

/**
 * Sentinel moved on between the observation a plan was made from and the action: the action would
 * undo what Sentinel just did, so it is dropped (not a failure; the next pass looks again).
 */
export class ActionOvertaken extends Error {}

/** Every Sentinel asked at once what it names now, with its epoch and failover state (`fenceOvertaken`). */
async function sentinelsNow(t: Topology): Promise<SentinelNowView[]> {
  const views = await Promise.all(t.sentinels.map((s) =>
    withConnection(sentinelEndpointIn(t, s), async (c) => {
      const m = parseFlatRecord(await c.call('SENTINEL', 'MASTER', t.masterName));
      const named = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', t.masterName)) as string[] | null;
      if (!Array.isArray(named) || named.length !== 2) return undefined;
      return { sentinel: addressKey(s), named: `${named[0]}:${named[1]}`, epoch: Number(m.get('config-epoch') ?? 0) || 0, failoverState: m.get('failover-state') ?? 'none' };
    }, 300).catch(() => undefined)));
  return views.filter((v): v is SentinelNowView => v !== undefined);
}

/**
 * Asks every Sentinel at once, and applies `failoverObjection` (agreement.ts) to those that answered.
 * Returns the Sentinels in the order to ask them (`soonestToSeePromotion`, the first listed last:
 * `firstListedLast`).
 */
async function assertNoSentinelMoved(sentinels: readonly Endpoint[], masterName: string, from: Address, afterAbort: boolean): Promise<Endpoint[]> {
  const views = await Promise.all(sentinels.map((s) => withConnection(s, async (c) => {
    // Pipelined on the one connection, within its 300 ms.
    const [master, tilt, replicas] = await Promise.all([
      c.call('SENTINEL', 'MASTER', masterName).then(parseFlatRecord),
      // As the pods' failover_objection: a Sentinel whose INFO fails still counts, as not in TILT.
      c.info('sentinel').then((text) => parseInfo(text as string).get('sentinel_tilt') === '1', () => false),
      // Only for the order of asking: a Sentinel that cannot list them is asked last, not left out.
      c.call('SENTINEL', 'REPLICAS', masterName).then((r) => parseSentinelReplicas(parseFlatRecords(r)), () => undefined),
    ]);
    return { master, tilt, replicas };
  }, 300).catch(() => undefined)));
  const answered = views.flatMap((seen, i) => (seen ? [{
    sentinel: addressKey(sentinels[i]),
    master: `${seen.master.get('ip')}:${seen.master.get('port')}`,
    epoch: Number(seen.master.get('config-epoch') ?? 0) || 0,
    flags: parseFlags(seen.master.get('flags')),
    tilt: seen.tilt,
    ...(seen.master.has('s-down-time') ? { sDownMs: Number(seen.master.get('s-down-time')) } : {}),
    ...(seen.master.has('role-reported') ? { roleReported: seen.master.get('role-reported') } : {}),
  }] : []));
  const why = failoverObjection(answered, addressKey(from), afterAbort);
  if (why) throw new ActionOvertaken(why);
  return firstListedLast(soonestToSeePromotion(sentinels, views.map((v) => v?.replicas)), sentinels[0]);
}

/**
 * Asks one Sentinel to fail over now (`SENTINEL FAILOVER`): Sentinel itself picks the replica with the
 * most data and reconfigures everyone, so we never fight it. A Sentinel that is already failing over
 * counts as accepted; one that refuses or does not answer makes us ask the next, and the first that
 * accepts ends it (so no two start a failover). After a crash (`from`), the one that will see its
 * promotion soonest is asked first, the topology's first Sentinel last (sentinel-timing.ts).
 */
export async function requestFailover(sentinels: readonly Endpoint[], masterName: string, from?: Address, afterAbort = false): Promise<Endpoint> {
  const order = from ? await assertNoSentinelMoved(sentinels, masterName, from, afterAbort) : sentinels;
  const refusals: string[] = [];
  for (const s of order) {
    try {
      await withConnection(s, async (c) => {
        if (from) {
          // The plan was made a moment ago; Sentinel may have failed over by itself since. Asking now
          // would fail over the new master and move it back, so check on this very connection first.
          const seen = parseFlatRecord(await c.call('SENTINEL', 'MASTER', masterName));
          const now = `${seen.get('ip')}:${seen.get('port')}`;
          if (now !== addressKey(from)) throw new ActionOvertaken(`Sentinel ${addressKey(s)} already names ${now}, not ${addressKey(from)}`);
          if (parseFlags(seen.get('flags')).has('failover_in_progress')) return;
        }
        await c.call('SENTINEL', 'FAILOVER', masterName);
      });
      return s;
    } catch (err) {
      if (err instanceof ActionOvertaken) throw err;
      const text = errorText(err);
      if (/INPROG/i.test(text)) return s;
      // Each Sentinel judges the replicas by its own view: one reset a moment ago has not read their INFO
      // yet and answers NOGOODSLAVE while the others would promote one (a local run, 2026-12-04: the
      // master stayed fenced for 27 s until Sentinel's own backstop failed over).
      refusals.push(`${addressKey(s)}: ${text}`);
    }
  }
  throw new Error(`no Sentinel accepted a failover of ${masterName}: ${refusals.join('; ')}`);
}

function settingsArgs(t: Topology): string[] {
  const args = [
    'down-after-milliseconds', String(t.timings.downAfterMilliseconds),
    'failover-timeout', String(t.timings.failoverTimeout),
    'parallel-syncs', String(t.timings.parallelSyncs),
    'quorum', String(t.quorum),
  ];
  const auth = t.monitorAuth;
  if (auth.password) args.push('auth-pass', auth.password);
  if (auth.username) args.push('auth-user', auth.username);
  return args;
}

/**
 * The spec's settings on one Sentinel: those of the master it monitors (`SENTINEL SET`, only when one
 * differs: setting `auth-pass` drops the Sentinel's links to every node, which then count as
 * disconnected until it reconnects) and its INFO and ping periods.
 */
async function configure(c: Redis, t: Topology, sentinel: Address, always = false): Promise<void> {
  const m = always ? undefined : parseFlatRecord(await c.call('SENTINEL', 'MASTER', t.masterName));
  const now = m && { quorum: Number(m.get('quorum')), downAfterMilliseconds: Number(m.get('down-after-milliseconds')), failoverTimeout: Number(m.get('failover-timeout')), parallelSyncs: Number(m.get('parallel-syncs')) };
  if (!now || !masterSettingsMatch(now, t)) await c.call('SENTINEL', 'SET', t.masterName, ...settingsArgs(t));
  // A Sentinel without SENTINEL DEBUG (before Redis 7) keeps its own period; its probe says so. Any
  // other refusal fails the action, which says why.
  const index = Math.max(0, t.sentinels.findIndex((s) => sameAddress(s, sentinel)));
  await c.call('SENTINEL', 'DEBUG', ...sentinelPeriodArgs(index, t.timings.downAfterMilliseconds)).catch((err: unknown) => {
    if (!/unknown (sub)?command/i.test(errorText(err))) throw err;
  });
}

async function monitor(c: Redis, t: Topology, sentinel: Address, master: Address): Promise<void> {
  await c.call('SENTINEL', 'REMOVE', t.masterName).catch(() => undefined);
  await c.call('SENTINEL', 'MONITOR', t.masterName, master.host, String(master.port), String(t.quorum));
  await configure(c, t, sentinel, true);
  const seen = parseFlatRecord(await c.call('SENTINEL', 'MASTER', t.masterName));
  if (seen.get('ip') !== master.host || seen.get('port') !== String(master.port)) {
    throw new Error(`after MONITOR the Sentinel names ${seen.get('ip')}:${seen.get('port')}, not ${addressKey(master)}`);
  }
}

/**
 * Carries out one action against the real processes. Each is idempotent; a Sentinel change is
 * verified by reading it back. Throws with the Redis error when the target refuses. `why`: the plan's
 * reason, told to the publisher.
 */
export async function act(t: Topology, a: Action, publisher: MasterPublisher, why = ''): Promise<void> {
  switch (a.kind) {
    case 'publish-master':
      publisher.publish(a.master, why);
      return;
    case 'replicaof':
      await withConnection(nodeEndpointIn(t, a.node), (c) => c.call('REPLICAOF', a.master.host, String(a.master.port)));
      return;
    case 'fence': {
      // Never fence the node a Sentinel has just promoted (the plan may predate the promotion). A
      // slower Sentinel that still names the node under the older epoch (the switchover's fence of the
      // master it replaced) does not stop it.
      const overtaken = fenceOvertaken(await sentinelsNow(t), addressKey(a.node), addressKey(a.master));
      if (overtaken) throw new ActionOvertaken(overtaken);
      // Demote first, then drop the clients that may still hold the old role in mind; a writer
      // reconnecting finds the master through Sentinel or the endpoint. Then lift any write pause (a
      // controller's hold, a switchover's): a replica refuses writes (READONLY), so the pause only
      // keeps clients waiting; those that connected meanwhile are dropped too.
      await withConnection(nodeEndpointIn(t, a.node), async (c) => {
        await c.call('REPLICAOF', a.master.host, String(a.master.port));
        await c.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        await c.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'SKIPME', 'yes');
        await c.call('CLIENT', 'UNPAUSE');
        await c.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      });
      return;
    }
    case 'promote':
      await withConnection(nodeEndpointIn(t, a.node), (c) => c.call('REPLICAOF', 'NO', 'ONE'));
      return;
    case 'sentinel-failover':
      await requestFailover(t.sentinels.map((s) => sentinelEndpointIn(t, s)), t.masterName, a.from, a.afterAbort);
      return;
    case 'sentinel-monitor':
      await withConnection(sentinelEndpointIn(t, a.sentinel), (c) => monitor(c, t, a.sentinel, a.master));
      return;
    case 'sentinel-configure':
      await withConnection(sentinelEndpointIn(t, a.sentinel), (c) => configure(c, t, a.sentinel));
      return;
    case 'sentinel-reset':
      await withConnection(sentinelEndpointIn(t, a.sentinel), async (c) => {
        // RESET takes a glob pattern: the name's own glob characters are escaped so it matches only itself.
        const reset = await c.call('SENTINEL', 'RESET', t.masterName.replace(/[*?[\]\\]/g, '\\$&'));
        if (Number(reset) !== 1) throw new Error(`SENTINEL RESET matched ${String(reset)} master names, not 1`);
      });
      return;
    case 'hold-writes':
      // Bounded by Sentinel's own bound on a failover, so a hold outlives neither it nor a dead controller by much.
      await withConnection(nodeEndpointIn(t, a.node), (c) => c.call('CLIENT', 'PAUSE', String(t.timings.failoverTimeout), 'WRITE'));
      return;
  }
}

/**
 * The connection name a switchover gives its connection to the master it pauses. While a client by
 * that name is connected to a node, the write pause on it is the switchover's: `releaseWrites` leaves
 * it alone, and the switchover lifts it itself (by fencing the node, or through `releaseWrites` once it
 * has cleared the name). A switchover that dies loses its connection, and with it the claim.
 */
export const SWITCHOVER_CLIENT_NAME = 'redis-ha-switchover';

/** `releaseWrites` refused: lifting the pause now could let through writes a failover discards. */
export class WritesStillHeld extends Error {
  override readonly name = 'WritesStillHeld';
}

/** The `addr` of a connected client named `SWITCHOVER_CLIENT_NAME`, from a `CLIENT LIST` reply. */
function switchoverClient(clientList: string): string | undefined {
  for (const line of clientList.split('\n')) {
    const fields = new Map(line.trim().split(' ').map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
    if (fields.get('name') === SWITCHOVER_CLIENT_NAME) return fields.get('addr') ?? '?';
  }
  return undefined;
}

/**
 * Ends a write pause (`CLIENT UNPAUSE`): a `hold-writes` the plan no longer asks for, or a switchover's
 * pause it could not finish. The one way either is lifted. Refuses (`WritesStillHeld`, with why) while
 * the pause is a running switchover's, or while the node still reports master and a Sentinel may be
 * replacing it (`writesMustStayHeld`, on a fresh look); the pause then ends by its own deadline, or
 * when the node is fenced (the `fence` action lifts it). A failover that starts between the look and
 * the `UNPAUSE` is held again by the controller's next pass.
 */
export async function releaseWrites(t: Topology, node: Address): Promise<void> {
  const why = writesMustStayHeld(await observe(t), node);
  if (why) throw new WritesStillHeld(why);
  await withConnection(nodeEndpointIn(t, node), async (c) => {
    const owner = switchoverClient(String(await c.call('CLIENT', 'LIST', 'TYPE', 'normal')));
    if (owner) throw new WritesStillHeld(`a switchover holds them (its connection from ${owner} is open)`);
    await c.call('CLIENT', 'UNPAUSE');
  });
}
