import type { Endpoint, TlsSource } from '../redis/connect.ts';
import { probeNode, probeSentinel, type NodeProbe, type SentinelProbe, type SentinelView } from '../redis/probe.ts';
import { keyCount, nodeFigures } from '../redis/parse.ts';
import { addressKey } from '../redis/address.ts';
import type { NodeObservation, Observation, SentinelObservation } from './observation.ts';
import { sentinelInfoPeriodMs, sentinelPingPeriodMs } from './sentinel-timing.ts';

/** What the controller watches and how it authenticates: the same shape for every runtime. */
export interface Topology {
  readonly masterName: string;
  readonly quorum: number;
  readonly timings: { readonly downAfterMilliseconds: number; readonly failoverTimeout: number; readonly parallelSyncs: number };
  readonly nodes: readonly { id: string; host: string; port: number }[];
  readonly sentinels: readonly { id: string; host: string; port: number }[];
  readonly nodeAuth: { readonly username?: string; readonly password?: string };
  readonly sentinelAuth: { readonly username?: string; readonly password?: string };
  /**
   * How the Sentinels log in to the nodes (`SENTINEL SET auth-user/auth-pass` after a repoint): the
   * Sentinel's own user, never `nodeAuth`. The controller's user may not SUBSCRIBE, nor PUBLISH on
   * Sentinel's channel, so a Sentinel logged in as it keeps its hello link down and lists every node
   * `disconnected`.
   */
  readonly monitorAuth: { readonly username?: string; readonly password?: string };
  /** Set when the deployment serves TLS only: the controller then speaks TLS with these files. */
  readonly tls?: TlsSource;
}

export function nodeEndpointIn(t: Topology, a: { host: string; port: number }): Endpoint {
  return { ...t.nodeAuth, host: a.host, port: a.port, ...(t.tls ? { tls: t.tls } : {}) };
}

export function sentinelEndpointIn(t: Topology, a: { host: string; port: number }): Endpoint {
  return { ...t.sentinelAuth, host: a.host, port: a.port, ...(t.tls ? { tls: t.tls } : {}) };
}

export function nodeObservation(id: string, p: NodeProbe): NodeObservation {
  const r = p.replication;
  if (!p.reachable || !r) return { id, host: p.host, port: p.port, reachable: false, role: 'unknown', offset: 0, replid: '', keys: 0, error: p.error };
  const loading = p.info?.get('loading') === '1';
  return {
    id,
    host: p.host,
    port: p.port,
    reachable: true,
    role: loading ? 'unknown' : r.role,
    ...(loading && r.role !== 'unknown' ? { loadingAs: r.role } : {}),
    replicaOf: r.role === 'replica' && r.masterHost ? { host: r.masterHost, port: r.masterPort ?? 0 } : undefined,
    linkUp: r.role === 'replica' ? r.linkUp : undefined,
    ...(r.role === 'master' ? { connectedReplicas: r.replicas.length } : {}),
    offset: r.offset,
    replid: r.replid,
    keys: keyCount(p.info),
    figures: p.info ? nodeFigures(p.info) : undefined,
  };
}

/** A member a Sentinel lists that it can talk to: neither subjectively down nor disconnected. */
export const talksTo = (m: { flags: ReadonlySet<string> }) => !m.flags.has('s_down') && !m.flags.has('disconnected');
const seen = (members: readonly { flags: ReadonlySet<string> }[]) => members.filter(talksTo).length;

/** Whether a Sentinel's settings for the master it monitors are the spec's (`SENTINEL SET`). */
export function masterSettingsMatch(v: Pick<SentinelView, 'quorum' | 'downAfterMilliseconds' | 'failoverTimeout' | 'parallelSyncs'>, t: Pick<Topology, 'quorum' | 'timings'>): boolean {
  return v.quorum === t.quorum &&
    v.downAfterMilliseconds === t.timings.downAfterMilliseconds &&
    v.failoverTimeout === t.timings.failoverTimeout &&
    v.parallelSyncs === t.timings.parallelSyncs;
}

/** `index`: the Sentinel's place in the topology, which sets its INFO period (`sentinelInfoPeriodMs`). */
export function sentinelObservation(id: string, p: SentinelProbe, t: Pick<Topology, 'quorum' | 'timings'>, index: number): SentinelObservation {
  const v = p.view;
  const base = { id, host: p.host, port: p.port, reachable: p.reachable, tilt: p.tilt };
  if (!v) return { ...base, monitoring: false, failoverInProgress: false, configEpoch: 0, settingsMatch: false, error: p.error };
  return {
    ...base,
    monitoring: true,
    master: { host: v.host, port: v.port },
    failoverInProgress: v.failoverInProgress,
    failoverState: v.failoverState,
    configEpoch: v.configEpoch,
    settingsMatch: masterSettingsMatch(v, t) &&
      (v.infoPeriodMs === undefined || v.infoPeriodMs === sentinelInfoPeriodMs(index)) &&
      (v.pingPeriodMs === undefined || v.pingPeriodMs === sentinelPingPeriodMs(t.timings.downAfterMilliseconds)),
    masterFlags: [...v.flags],
    replicasSeen: seen(v.replicas),
    otherSentinelsSeen: seen(v.sentinels),
    replicasKnown: v.replicas.length,
    replicasDown: v.replicas.filter((m) => m.flags.has('s_down')).length,
    replicasUnseen: v.replicas.filter((m) => !talksTo(m)).map((m) => `${addressKey(m)} (${[...m.flags].join(',')})`),
    otherSentinelsKnown: v.sentinels.length,
    ckquorum: v.ckquorum,
  };
}

/**
 * Asks every node and Sentinel at once; an unreachable one is listed as such, never left out. The one
 * probe round of the code: the planner reads the observation, and the status (with health, metrics and
 * the dashboard) is derived from it (`statusOf`, observe/status.ts).
 */
export async function observe(t: Topology, timeoutMs = 500): Promise<Observation> {
  const [nodes, sentinels] = await Promise.all([
    Promise.all(t.nodes.map(async (n) => nodeObservation(n.id, await probeNode(nodeEndpointIn(t, n), timeoutMs)))),
    Promise.all(t.sentinels.map(async (s, i) => sentinelObservation(s.id, await probeSentinel(sentinelEndpointIn(t, s), t.masterName, timeoutMs), t, i))),
  ]);
  return { at: Date.now(), nodes, sentinels };
}
