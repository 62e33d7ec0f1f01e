/**
 * Moving an outside master–replica + Sentinel deployment (Bitnami's, or any) into a redis-ha one with
 * no acknowledged write lost: the checks made before anything changes, which master the outside
 * Sentinels name, the joint topology the planned switchover runs on, and the verified re-pointing of
 * the outside Sentinels. The runtime (local CLI) brings up the new nodes and orchestrates the steps.
 *
 * How the two deployments become one: our Sentinels monitor the outside master under the outside
 * master set name with the outside Sentinel password, so Sentinel's own discovery (hello messages)
 * joins them to the outside group; our nodes replicate from the outside master (the planner's
 * `migrateFrom` rule keeps them there). The switchover is `switchover()` on the joint topology: only
 * our best replica may be promoted, writes are paused until it has caught up, and the outside
 * Sentinels name it under the old name when the group switches, so applications that ask them follow.
 */
import { withConnection, type Endpoint } from '../redis/connect.ts';
import { parseFlags, parseFlatRecord, parseFlatRecords, parseReplication } from '../redis/parse.ts';
import { errorText, probeNode, probeSentinel, type NodeProbe, type SentinelProbe } from '../redis/probe.ts';
import { type Address, addressKey, addressOf, sameAddress } from '../redis/address.ts';
import { majorityOf, namedByMajority, neededForFailover } from './agreement.ts';
import { act, releaseWrites } from './act.ts';
import { plan } from './plan.ts';
import { observe, type Topology } from './observe.ts';
import { agreedMaster, busySentinel, byId, nameOf } from './observation.ts';

/** The outside deployment as the user describes it; passwords come from the environment. */
export interface Source {
  readonly sentinels: readonly Address[];
  readonly masterName: string;
  /** The password of the outside nodes' default user (what clients and the outside Sentinels use). */
  readonly password?: string;
  /** The outside Sentinels' password. */
  readonly sentinelPassword?: string;
}

/** What one look at the outside deployment found. */
export interface SourceObservation {
  readonly sentinels: readonly SentinelProbe[];
  /** The master named by a majority of the known Sentinels, if any. */
  readonly master?: Address;
  /** Every Sentinel of the group: the given ones and those they know (our own excluded by the caller). */
  readonly knownSentinels: readonly Address[];
  /** The replicas the Sentinels naming `master` list. */
  readonly replicas: readonly Address[];
  readonly masterProbe?: NodeProbe;
  /** `redis_version` of the master. */
  readonly masterVersion?: string;
}

export function sourceSentinelEndpoint(s: Source, a: Address): Endpoint {
  return { host: a.host, port: a.port, ...(s.sentinelPassword ? { password: s.sentinelPassword } : {}) };
}

export function sourceNodeEndpoint(s: Source, a: Address): Endpoint {
  return { host: a.host, port: a.port, ...(s.password ? { password: s.password } : {}) };
}

/** Asks every given Sentinel, then the master they agree on. Reads only. */
export async function observeSource(s: Source, exclude: readonly Address[] = [], timeoutMs = 1000): Promise<SourceObservation> {
  const sentinels = await Promise.all(s.sentinels.map((a) => probeSentinel(sourceSentinelEndpoint(s, a), s.masterName, timeoutMs)));
  const known = new Map<string, Address>(s.sentinels.map((a) => [addressKey(a), addressOf(a)]));
  for (const p of sentinels) for (const o of p.view?.sentinels ?? []) if (!o.flags.has('s_down')) known.set(addressKey(o), { host: o.host, port: o.port });
  for (const a of exclude) known.delete(addressKey(a));
  const named = sentinels.map((p) => (p.view ? { host: p.view.host, port: p.view.port } : undefined));
  const master = namedByMajority(named, Math.max(s.sentinels.length, known.size));
  if (!master) return { sentinels, knownSentinels: [...known.values()], replicas: [] };
  const replicas = new Map<string, Address>();
  for (const p of sentinels) {
    if (!p.view || !sameAddress(p.view, master)) continue;
    for (const r of p.view.replicas) if (!r.flags.has('s_down')) replicas.set(addressKey(r), { host: r.host, port: r.port });
  }
  const masterProbe = await probeNode(sourceNodeEndpoint(s, master), timeoutMs);
  return {
    sentinels,
    master,
    knownSentinels: [...known.values()],
    replicas: [...replicas.values()],
    masterProbe,
    masterVersion: masterProbe.info?.get('redis_version'),
  };
}

/** One pre-switchover check: what it looks at, and whether it passed (with the one line why not). */
export interface Check {
  readonly name: 'sentinels' | 'auth' | 'failover' | 'quorum' | 'master' | 'version';
  readonly ok: boolean;
  readonly detail: string;
}

/** `7.2.4` → [7, 2, 4]; unknown parts are 0. */
function versionParts(v: string): number[] {
  return v.split('.').map((p) => Number.parseInt(p, 10) || 0);
}

/** True when a replica running `replica` can load what a master running `master` sends (not older in major.minor). */
export function canReplicate(master: string, replica: string): boolean {
  const [mMajor = 0, mMinor = 0] = versionParts(master);
  const [rMajor = 0, rMinor = 0] = versionParts(replica);
  return rMajor > mMajor || (rMajor === mMajor && rMinor >= mMinor);
}

/**
 * The checks made before anything changes, in order; the first failing one stops the migration.
 * Pure: works on what `observeSource` saw and the local `redis-server` version.
 */
export function checkSource(s: Source, obs: SourceObservation, localVersion: string): Check[] {
  const checks: Check[] = [];
  const list = (xs: readonly { host: string; port: number }[]) => xs.map(addressKey).join(', ');
  const refused = obs.sentinels.filter((p) => !p.reachable && /^(login refused|login required)/.test(p.error ?? ''));
  if (refused.length > 0) {
    const p = refused[0];
    const how = s.sentinelPassword ? 'refused the password in REDIS_HA_SOURCE_SENTINEL_PASSWORD' : 'wants a password; set REDIS_HA_SOURCE_SENTINEL_PASSWORD';
    checks.push({ name: 'auth', ok: false, detail: `source Sentinel ${addressKey(p)} ${how} (${p.error})` });
    return checks;
  }
  const answering = obs.sentinels.filter((p) => p.reachable);
  if (answering.length === 0) {
    checks.push({ name: 'sentinels', ok: false, detail: `no source Sentinel answers (${obs.sentinels.map((p) => `${addressKey(p)}: ${p.error}`).join('; ')})` });
    return checks;
  }
  const monitoring = answering.filter((p) => p.view);
  if (monitoring.length === 0) {
    checks.push({ name: 'sentinels', ok: false, detail: `no source Sentinel monitors a master named '${s.masterName}' (asked ${list(answering)})` });
    return checks;
  }
  checks.push({ name: 'sentinels', ok: true, detail: `${monitoring.length} of ${obs.sentinels.length} given Sentinels monitor '${s.masterName}'; the group has ${obs.knownSentinels.length}` });
  const busy = answering.find((p) => p.tilt || p.view?.failoverInProgress);
  if (busy) {
    const what = busy.tilt ? 'is in TILT mode' : `reports a failover of '${s.masterName}' in progress`;
    checks.push({ name: 'failover', ok: false, detail: `source Sentinel ${addressKey(busy)} ${what}; run again once it is over` });
    return checks;
  }
  checks.push({ name: 'failover', ok: true, detail: 'no failover in progress, no Sentinel in TILT' });
  const quorum = Math.max(0, ...monitoring.map((p) => p.view?.quorum ?? 0));
  const configured = Math.max(obs.knownSentinels.length, obs.sentinels.length);
  const needed = neededForFailover(quorum, configured);
  const agreeing = obs.master ? monitoring.filter((p) => sameAddress(p.view, obs.master)).length : 0;
  if (!obs.master || agreeing < needed) {
    const counts = new Map<string, number>();
    for (const p of monitoring) if (p.view) counts.set(addressKey(p.view), (counts.get(addressKey(p.view)) ?? 0) + 1);
    const named = obs.master
      ? `${agreeing} name ${addressKey(obs.master)}`
      : [...counts].sort((a, b) => b[1] - a[1]).map(([a, n]) => `${n} name${n === 1 ? 's' : ''} ${a}`).join(', ') || 'none names a master';
    checks.push({ name: 'quorum', ok: false, detail: `no quorum: ${answering.length} of ${configured} source Sentinels answer and ${named}; a failover needs ${needed} (quorum ${quorum}, majority ${majorityOf(configured)})` });
    return checks;
  }
  checks.push({ name: 'quorum', ok: true, detail: `${agreeing} of ${configured} Sentinels name ${addressKey(obs.master)}; a failover needs ${needed}` });
  const m = obs.masterProbe;
  if (!m || !m.reachable) {
    const err = m?.error ?? 'no answer';
    if (/^(login refused|login required)/.test(err)) {
      const how = s.password ? 'refused the password in REDIS_HA_SOURCE_PASSWORD' : 'wants a password; set REDIS_HA_SOURCE_PASSWORD';
      checks.push({ name: 'auth', ok: false, detail: `the source master ${addressKey(obs.master)} ${how} (${err})` });
    } else {
      checks.push({ name: 'master', ok: false, detail: `the source master ${addressKey(obs.master)} does not answer: ${err}` });
    }
    return checks;
  }
  checks.push({ name: 'auth', ok: true, detail: 'the source Sentinels and master accept the given passwords' });
  if (m.replication?.role !== 'master') {
    checks.push({ name: 'master', ok: false, detail: `the source master ${addressKey(obs.master)} reports role ${m.replication?.role ?? 'unknown'}; run again once the source Sentinels agree` });
    return checks;
  }
  checks.push({ name: 'master', ok: true, detail: `${addressKey(obs.master)} is master with ${obs.replicas.length} replica${obs.replicas.length === 1 ? '' : 's'}` });
  const version = obs.masterVersion ?? 'unknown';
  if (!canReplicate(version, localVersion)) {
    checks.push({ name: 'version', ok: false, detail: `the source master runs Redis ${version} and the local redis-server is ${localVersion}: a replica cannot load a newer master's data; use redis-server ${versionParts(version).slice(0, 2).join('.')} or newer` });
    return checks;
  }
  checks.push({ name: 'version', ok: true, detail: `source Redis ${version}, local ${localVersion}` });
  return checks;
}

/** The first failed check, if any. */
export function failedCheck(checks: readonly Check[]): Check | undefined {
  return checks.find((c) => !c.ok);
}

/** How far one node is behind `master`: bytes, and whether its link is up. */
export interface SyncState {
  readonly id: string;
  readonly address: Address;
  readonly following: boolean;
  readonly linkUp: boolean;
  readonly lagBytes: number;
}

/** Whether each of `nodes` replicates from `master` with its link up, and how many bytes behind. */
export async function syncStates(master: Endpoint, nodes: readonly { id: string; endpoint: Endpoint }[]): Promise<SyncState[]> {
  const masterOffset = await withConnection(master, async (c) => parseReplication(String(await c.call('INFO', 'replication'))).offset, 1000);
  return Promise.all(nodes.map(async (n) => {
    const address = { host: n.endpoint.host, port: n.endpoint.port };
    try {
      const r = await withConnection(n.endpoint, async (c) => parseReplication(String(await c.call('INFO', 'replication'))), 1000);
      const following = r.role === 'replica' && r.masterHost === master.host && r.masterPort === master.port;
      return { id: n.id, address, following, linkUp: following && r.linkUp === true, lagBytes: following ? Math.max(0, masterOffset - r.offset) : masterOffset };
    } catch {
      return { id: n.id, address, following: false, linkUp: false, lagBytes: masterOffset };
    }
  }));
}

/**
 * The topology the switchover runs on: the outside nodes and ours under the outside master set name,
 * watched by the outside Sentinels and ours (one group once ours have joined). Everyone logs in as the
 * application: the outside nodes know no other user.
 */
export function jointTopology(o: {
  source: Source;
  sourceNodes: readonly Address[];
  sourceSentinels: readonly Address[];
  ownNodes: readonly { id: string; host: string; port: number }[];
  ownSentinels: readonly { id: string; host: string; port: number }[];
  quorum: number;
  timings: Topology['timings'];
}): Topology {
  const own = (a: Address) => o.ownNodes.some((n) => sameAddress(n, a)) || o.ownSentinels.some((n) => sameAddress(n, a));
  const auth = o.source.password ? { password: o.source.password } : {};
  return {
    masterName: o.source.masterName,
    quorum: o.quorum,
    timings: o.timings,
    nodes: [...o.sourceNodes.filter((a) => !own(a)).map((a, i) => ({ id: `old-node-${i}`, ...addressOf(a) })), ...o.ownNodes.map((n) => ({ id: n.id, host: n.host, port: n.port }))],
    sentinels: [...o.sourceSentinels.filter((a) => !own(a)).map((a, i) => ({ id: `old-sentinel-${i}`, ...addressOf(a) })), ...o.ownSentinels.map((n) => ({ id: n.id, host: n.host, port: n.port }))],
    nodeAuth: auth,
    sentinelAuth: o.source.sentinelPassword ? { password: o.source.sentinelPassword } : {},
    monitorAuth: auth,
  };
}

/**
 * What one Sentinel names under the master set name now (`SENTINEL MASTER`: during a failover its
 * leader still names the old master there until the failover ends), and whether it is failing over;
 * or why it could not say.
 */
export async function sentinelNames(t: Topology, s: Address): Promise<{ master: Address; failingOver: boolean } | string> {
  try {
    return await withConnection({ ...t.sentinelAuth, ...addressOf(s) }, async (c) => {
      const m = parseFlatRecord(await c.call('SENTINEL', 'MASTER', t.masterName));
      const failingOver = parseFlags(m.get('flags')).has('failover_in_progress') || (m.get('failover-state') ?? 'none') !== 'none';
      return { master: { host: m.get('ip') ?? '', port: Number(m.get('port')) }, failingOver };
    }, 1000);
  } catch (err) {
    return errorText(err);
  }
}

/**
 * Makes ONE outside Sentinel name `master` under the old set name, verified: if it already does, nothing
 * changes; otherwise it gets `waitMs` to follow by itself (Sentinel's hello messages), then it is
 * re-pointed (`SENTINEL REMOVE` + `MONITOR` + `SET`, the controller's `sentinel-monitor`) and read back.
 * A Sentinel that is failing over is never touched: it is waited for (up to `failoverWaitMs`).
 * Returns what was done, or throws with the reason.
 */
export async function repointSentinel(t: Topology, s: Address, master: Address, waitMs: number, failoverWaitMs: number): Promise<'named' | 'followed' | 'repointed'> {
  const started = Date.now();
  let deadline = started + waitMs;
  for (let first = true; ; first = false) {
    const now = await sentinelNames(t, s);
    if (typeof now !== 'string' && !now.failingOver && sameAddress(now.master, master)) return first ? 'named' : 'followed';
    if (typeof now !== 'string' && now.failingOver) deadline = Math.max(deadline, Math.min(Date.now() + waitMs, started + failoverWaitMs));
    if (Date.now() > deadline) {
      if (typeof now !== 'string' && now.failingOver) throw new Error(`Sentinel ${addressKey(s)} is still failing over after ${Math.round(failoverWaitMs / 1000)} s`);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await act(t, { kind: 'sentinel-monitor', sentinel: addressOf(s), master: addressOf(master) }, { publish: () => {} });
  const after = await sentinelNames(t, s);
  if (typeof after === 'string' || !sameAddress(after.master, master)) {
    throw new Error(`Sentinel ${addressKey(s)} still names ${typeof after === 'string' ? after : addressKey(after.master)} after being re-pointed at ${addressKey(master)}`);
  }
  return 'repointed';
}

/**
 * Makes ONE Sentinel forget members that are gone (`SENTINEL RESET <name>`), verified: afterwards it
 * must name `master` again and, within `waitMs`, see `otherSentinels` other Sentinels and `replicas`
 * replicas with their link up (rediscovered through hello messages and the master's `INFO`). Sentinel
 * never forgets a Sentinel it has seen, and counts it when it needs a majority to fail over: once
 * another deployment's Sentinels have left the group, a reset is what lets the rest fail over again.
 * One Sentinel at a time, so the others keep the group's quorum meanwhile.
 */
export async function forgetGone(
  e: Endpoint,
  masterName: string,
  expect: { master: Address; otherSentinels: number; replicas: number },
  waitMs: number,
): Promise<void> {
  await withConnection(e, (c) => c.call('SENTINEL', 'RESET', masterName), 1000);
  const deadline = Date.now() + waitMs;
  let seen = 'no answer';
  for (;;) {
    try {
      const now = await withConnection(e, async (c) => {
        const m = await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName);
        const named = Array.isArray(m) && m.length === 2 ? `${m[0]}:${m[1]}` : 'nothing';
        const sentinels = ((await c.call('SENTINEL', 'SENTINELS', masterName)) as unknown[]).length;
        const replicas = parseFlatRecords(await c.call('SENTINEL', 'REPLICAS', masterName))
          .filter((r) => r.get('master-link-status') === 'ok' && !/s_down|disconnected/.test(r.get('flags') ?? '')).length;
        return { named, sentinels, replicas };
      }, 1000);
      seen = `it names ${now.named} and sees ${now.sentinels} other Sentinels and ${now.replicas} replicas`;
      if (now.named === addressKey(expect.master) && now.sentinels === expect.otherSentinels && now.replicas >= expect.replicas) return;
    } catch (err) {
      seen = errorText(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`after SENTINEL RESET, Sentinel ${addressKey(e)} did not see ${addressKey(expect.master)} with ${expect.otherSentinels} other Sentinels and ${expect.replicas} replicas within ${Math.round(waitMs / 1000)} s (${seen})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until the joint group is at rest and returns its master: no Sentinel failing over or in TILT,
 * a majority of all the Sentinels naming one master, and no other reachable node reporting master.
 * A run killed inside the switchover can leave that otherwise: Sentinel finishing (or having aborted)
 * the failover it was asked for, the old master not yet fenced. A stray master is fenced to the master
 * the Sentinels name (the controller's `fence`: follow Sentinel, never choose against it), and only
 * while no Sentinel is failing over. Throws with the reason after `waitMs`.
 */
export async function settle(t: Topology, waitMs: number, log: (line: string) => void): Promise<Address> {
  const deadline = Date.now() + waitMs;
  const held = new Map<string, Address>();
  let last = '';
  for (;;) {
    const obs = await observe(t);
    const busy = busySentinel(obs);
    const agreed = agreedMaster(obs);
    let why: string;
    if (busy) {
      why = `${busy.id} ${busy.tilt ? 'is in TILT mode' : `reports a failover in progress (${busy.failoverState ?? 'unknown state'})`}`;
      // The planner's rule 1: the master a failover replaces takes no writes meanwhile (a killed
      // switchover's pause ends by itself while Sentinel may still be promoting).
      const holds = plan(obs, { masterName: t.masterName, quorum: t.quorum }, { epoch: 0 }).actions.filter((a) => a.kind === 'hold-writes');
      for (const a of holds) {
        await act(t, a, { publish: () => {} }).then(() => held.set(addressKey(a.node), a.node), (err: unknown) => log(`could not hold the writes of ${nameOf(obs, a.node)}: ${errorText(err)}`));
      }
      if (holds.length) why += `; holding the writes of ${holds.map((a) => nameOf(obs, a.node)).join(', ')}`;
    } else if (!agreed) {
      why = 'no master is named by a majority of the Sentinels';
    } else {
      const strays = byId(obs.nodes).filter((n) => n.reachable && n.role === 'master' && !sameAddress(n, agreed));
      if (strays.length === 0) {
        // Held masters are replicas now (or the master again, after an aborted failover): let their clients go.
        for (const a of held.values()) await releaseWrites(t, a).catch(() => undefined);
        return agreed;
      }
      for (const n of strays) {
        log(`fencing ${n.id} (${addressKey(n)}): it reports master while the Sentinels name ${nameOf(obs, agreed)}`);
        await act(t, { kind: 'fence', node: addressOf(n), master: addressOf(agreed) }, { publish: () => {} }).catch((err: unknown) => log(`could not fence ${n.id}: ${errorText(err)}`));
      }
      why = `fenced ${strays.map((n) => n.id).join(', ')}`;
    }
    if (why !== last) log(`waiting: ${why}`);
    last = why;
    if (Date.now() > deadline) {
      // Giving up must not leave a master (perhaps the source's own) paused until failover-timeout;
      // releaseWrites keeps the pause only while a Sentinel may still be replacing it.
      for (const a of held.values()) await releaseWrites(t, a).catch(() => undefined);
      throw new Error(`the Sentinels did not settle within ${Math.round(waitMs / 1000)} s: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
