import type { Endpoint, TlsSource } from '../redis/connect.ts';
import { keyCount } from '../redis/parse.ts';
import { probeNode, probeSentinel, type NodeProbe, type SentinelProbe } from '../redis/probe.ts';
import { addressKey } from '../redis/address.ts';
import { namedByMajority, neededForFailover } from '../topology/agreement.ts';

/** What to look at: the same for a local deployment and (later) a Kubernetes one. */
export interface StatusTarget {
  readonly name: string;
  readonly masterName: string;
  readonly quorum: number;
  readonly nodes: readonly { id: string; host: string; port: number }[];
  readonly sentinels: readonly { id: string; host: string; port: number }[];
  readonly nodeAuth: { readonly username?: string; readonly password?: string };
  readonly sentinelAuth: { readonly username?: string; readonly password?: string };
  /** Set when the deployment serves TLS only: every probe then speaks TLS with these files. */
  readonly tls?: TlsSource;
}

export interface NodeStatus {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly role: 'master' | 'replica' | 'down' | 'unknown';
  readonly reachable: boolean;
  /** For a replica: the `host:port` it follows, and whether its link is up. */
  readonly following?: string;
  readonly linkUp?: boolean;
  readonly offset?: number;
  /** Bytes behind the master's offset (replicas only, when the master is known). */
  readonly lagBytes?: number;
  /** Selected `INFO` figures, under Redis's own field names (see `NODE_FIGURES`), plus `keys`. */
  readonly figures?: NodeFigures;
  readonly error?: string;
}

/**
 * The `INFO` fields a status carries for each reachable node: what people read from redis_exporter
 * (memory, clients, ops/s, keyspace hits and misses). Kept under Redis's names so the mapping to
 * exporter names lives in one place (`metrics.ts`).
 */
export const NODE_FIGURES = [
  'used_memory', 'used_memory_rss', 'maxmemory', 'connected_clients', 'blocked_clients', 'connected_slaves',
  'total_connections_received', 'rejected_connections', 'total_commands_processed', 'instantaneous_ops_per_sec',
  'keyspace_hits', 'keyspace_misses', 'expired_keys', 'evicted_keys', 'total_net_input_bytes',
  'total_net_output_bytes', 'uptime_in_seconds',
] as const;

/** A node's figures: each of `NODE_FIGURES` it reported, `keys` (over every database, and per database) and its version. */
export type NodeFigures = { readonly [K in (typeof NODE_FIGURES)[number] | 'keys']?: number } & {
  readonly redisVersion?: string;
  /** Keys per database that holds any, e.g. `{ db0: 12 }`. */
  readonly dbKeys?: Readonly<Record<string, number>>;
};

/** Picks `NODE_FIGURES` out of a parsed `INFO` reply; fields the node did not report are left out. */
export function nodeFigures(info: ReadonlyMap<string, string>): NodeFigures {
  const figures: Record<string, number | string | Record<string, number>> = {};
  for (const field of NODE_FIGURES) {
    const value = Number(info.get(field));
    if (info.has(field) && Number.isFinite(value)) figures[field] = value;
  }
  figures.keys = keyCount(info);
  const dbKeys: Record<string, number> = {};
  for (const [field, value] of info) if (/^db\d+$/.test(field)) dbKeys[field] = keyCount(new Map([[field, value]]));
  figures.dbKeys = dbKeys;
  const version = info.get('redis_version');
  if (version) figures.redisVersion = version;
  return figures as NodeFigures;
}

export interface SentinelStatus {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly reachable: boolean;
  /** The master this Sentinel names, or null when it names none. */
  readonly master: { host: string; port: number } | null;
  readonly masterFlags: string[];
  readonly replicasSeen: number;
  readonly otherSentinelsSeen: number;
  readonly quorumOk: boolean;
  readonly quorumMessage: string;
  readonly failoverInProgress: boolean;
  readonly configEpoch: number;
  readonly tilt: boolean;
  readonly error?: string;
}

/** One status model, rendered as a table by the CLI and as JSON for programs. */
export interface TopologyStatus {
  readonly name: string;
  readonly healthy: boolean;
  /** Why it is not healthy, one sentence each; empty when healthy. */
  readonly problems: string[];
  readonly masterName: string;
  readonly master: { host: string; port: number } | null;
  readonly quorum: number;
  readonly nodes: NodeStatus[];
  readonly sentinels: SentinelStatus[];
}

function nodeStatus(id: string, p: NodeProbe): NodeStatus {
  if (!p.reachable || !p.replication) return { id, host: p.host, port: p.port, role: 'down', reachable: false, error: p.error };
  const r = p.replication;
  const base = { id, host: p.host, port: p.port, role: r.role, reachable: true, offset: r.offset, figures: p.info ? nodeFigures(p.info) : undefined };
  if (r.role !== 'replica') return base;
  return { ...base, following: `${r.masterHost}:${r.masterPort}`, linkUp: r.linkUp };
}

function sentinelStatus(id: string, p: SentinelProbe): SentinelStatus {
  const v = p.view;
  return {
    id,
    host: p.host,
    port: p.port,
    reachable: p.reachable,
    master: v ? { host: v.host, port: v.port } : null,
    masterFlags: v ? [...v.flags] : [],
    replicasSeen: v ? v.replicas.filter((r) => !r.flags.has('s_down') && !r.flags.has('disconnected')).length : 0,
    otherSentinelsSeen: v ? v.sentinels.filter((s) => !s.flags.has('s_down') && !s.flags.has('disconnected')).length : 0,
    quorumOk: v?.ckquorum.ok ?? false,
    quorumMessage: v ? v.ckquorum.message : p.reachable ? 'not monitoring this master' : 'unreachable',
    failoverInProgress: v?.failoverInProgress ?? false,
    configEpoch: v?.configEpoch ?? 0,
    tilt: p.tilt,
    error: p.error,
  };
}

/** The problems that keep a topology from being healthy; empty when it is. */
export function assessHealth(t: StatusTarget, nodes: NodeStatus[], sentinels: SentinelStatus[], master: { host: string; port: number } | null): string[] {
  const problems: string[] = [];
  const agreeing = sentinels.filter((s) => s.master && master && addressKey(s.master) === addressKey(master)).length;
  if (!master) {
    problems.push(`no master is named by a majority of the ${t.sentinels.length} Sentinels`);
  } else {
    const m = nodes.find((n) => addressKey(n) === addressKey(master));
    if (!m) problems.push(`the Sentinels name ${addressKey(master)}, which is not a node of this deployment`);
    else if (m.role !== 'master') problems.push(`${m.id} (${addressKey(m)}) is named master by the Sentinels but reports role ${m.role}`);
  }
  for (const n of nodes) {
    if (!n.reachable) problems.push(`${n.id} (${addressKey(n)}) is unreachable: ${n.error ?? 'no answer'}`);
    else if (master && addressKey(n) !== addressKey(master)) {
      if (n.role === 'master') problems.push(`${n.id} (${addressKey(n)}) also reports role master`);
      else if (n.following !== addressKey(master)) problems.push(`${n.id} follows ${n.following}, not the master ${addressKey(master)}`);
      else if (!n.linkUp) problems.push(`${n.id} replication link to ${addressKey(master)} is down`);
    }
  }
  for (const s of sentinels) {
    const label = `${s.id} (${addressKey(s)})`;
    if (!s.reachable) problems.push(`${label} is unreachable: ${s.error ?? 'no answer'}`);
    else if (!s.master) problems.push(`${label} does not monitor ${t.masterName}`);
    else if (master && addressKey(s.master) !== addressKey(master)) problems.push(`${label} names ${addressKey(s.master)} as master`);
    else {
      if (s.failoverInProgress) problems.push(`${label} reports a failover in progress`);
      // More than ours is not a problem: after `redis-ha migrate` the outside deployment's nodes and
      // Sentinels stay in the group until they are removed.
      if (s.replicasSeen < t.nodes.length - 1) problems.push(`${label} sees ${s.replicasSeen} of ${t.nodes.length - 1} replicas`);
      if (s.otherSentinelsSeen < t.sentinels.length - 1) problems.push(`${label} sees ${s.otherSentinelsSeen} of ${t.sentinels.length - 1} other Sentinels`);
      if (!s.quorumOk) problems.push(`${label} CKQUORUM: ${s.quorumMessage}`);
      if (s.tilt) problems.push(`${label} is in TILT mode`);
    }
  }
  if (master && agreeing < t.quorum) problems.push(`only ${agreeing} Sentinels agree on the master; quorum is ${t.quorum}`);
  // Sentinel needs the quorum to agree a master is down and a majority to authorize the failover.
  const reachable = sentinels.filter((s) => s.reachable).length;
  const needed = neededForFailover(t.quorum, t.sentinels.length);
  if (reachable < needed) problems.push(`failover is impossible: only ${reachable} of ${t.sentinels.length} Sentinels are reachable and a failover needs ${needed}`);
  return problems;
}

/** Probes every node and Sentinel in parallel and builds the status. Never throws for an unreachable member. */
export async function collectStatus(t: StatusTarget, timeoutMs = 1000): Promise<TopologyStatus> {
  const tls = t.tls ? { tls: t.tls } : {};
  const nodeEndpoint = (m: { host: string; port: number }): Endpoint => ({ ...t.nodeAuth, host: m.host, port: m.port, ...tls });
  const sentinelEndpoint = (m: { host: string; port: number }): Endpoint => ({ ...t.sentinelAuth, host: m.host, port: m.port, ...tls });
  const [nodeProbes, sentinelProbes] = await Promise.all([
    Promise.all(t.nodes.map((n) => probeNode(nodeEndpoint(n), timeoutMs))),
    Promise.all(t.sentinels.map((s) => probeSentinel(sentinelEndpoint(s), t.masterName, timeoutMs))),
  ]);
  const sentinels = t.sentinels.map((s, i) => sentinelStatus(s.id, sentinelProbes[i]));
  const master = namedByMajority(sentinels.map((s) => s.master), t.sentinels.length) ?? null;
  const masterOffset = nodeProbes.find((p) => master && addressKey(p) === addressKey(master))?.replication?.offset;
  const nodes = t.nodes.map((n, i) => {
    const s = nodeStatus(n.id, nodeProbes[i]);
    return s.role === 'replica' && masterOffset !== undefined && s.offset !== undefined ? { ...s, lagBytes: Math.max(0, masterOffset - s.offset) } : s;
  });
  const problems = assessHealth(t, nodes, sentinels, master);
  return { name: t.name, healthy: problems.length === 0, problems, masterName: t.masterName, master, quorum: t.quorum, nodes, sentinels };
}
