/**
 * The status model: what `status`, health, `/metrics`, the dashboard and the operator's status and
 * roll show. A pure derivation of one `Observation` (topology/observe.ts, the one probe round), never
 * a second look at the nodes.
 */
import { addressKey } from '../redis/address.ts';
import { serverOf, type NodeFigures } from '../redis/parse.ts';
import { neededForFailover } from '../topology/agreement.ts';
import { agreedMaster, nodeAt, type NodeObservation, type Observation, type SentinelObservation } from '../topology/observation.ts';
import { observe, type Topology } from '../topology/observe.ts';

/** What to look at: the topology the controller watches (with the credentials to read it), and the deployment's name. */
export interface StatusTarget extends Topology {
  readonly name: string;
}

/** What the status is about: the deployment's name, master group, quorum and configured members. */
export type StatusScope = Pick<StatusTarget, 'name' | 'masterName' | 'quorum' | 'nodes' | 'sentinels'>;

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
  /** What it runs, from `INFO server`: `redis 7.0.15`, `valkey 9.1.2` (on Kubernetes: as the resource's status last recorded it). */
  readonly server?: string;
  readonly error?: string;
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
  /** The replicas it lists but does not see, as `host:port (flags)`; omitted when it sees every one it lists. */
  readonly replicasUnseen?: string[];
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

function nodeStatus(n: NodeObservation): NodeStatus {
  if (!n.reachable) return { id: n.id, host: n.host, port: n.port, role: 'down', reachable: false, error: n.error };
  const role = n.loadingAs ?? n.role;
  const server = serverOf(n.figures);
  const base = { id: n.id, host: n.host, port: n.port, role, reachable: true, offset: n.offset, figures: n.figures, ...(server ? { server } : {}) };
  if (role !== 'replica') return base;
  return { ...base, following: n.replicaOf ? addressKey(n.replicaOf) : undefined, linkUp: n.linkUp };
}

function sentinelStatus(s: SentinelObservation): SentinelStatus {
  return {
    id: s.id,
    host: s.host,
    port: s.port,
    reachable: s.reachable,
    master: s.master ? { host: s.master.host, port: s.master.port } : null,
    masterFlags: s.masterFlags ? [...s.masterFlags] : [],
    replicasSeen: s.replicasSeen ?? 0,
    ...(s.replicasUnseen?.length ? { replicasUnseen: [...s.replicasUnseen] } : {}),
    otherSentinelsSeen: s.otherSentinelsSeen ?? 0,
    quorumOk: s.ckquorum?.ok ?? false,
    quorumMessage: s.ckquorum ? s.ckquorum.message : s.reachable ? 'not monitoring this master' : 'unreachable',
    failoverInProgress: s.failoverInProgress,
    configEpoch: s.configEpoch,
    tilt: s.tilt,
    error: s.error,
  };
}

/** The problems that keep a topology from being healthy; empty when it is. */
export function assessHealth(t: StatusScope, nodes: NodeStatus[], sentinels: SentinelStatus[], master: { host: string; port: number } | null): string[] {
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
      if (s.replicasSeen < t.nodes.length - 1) problems.push(`${label} sees ${s.replicasSeen} of ${t.nodes.length - 1} replicas${s.replicasUnseen?.length ? `; it lists ${s.replicasUnseen.join(', ')}` : ''}`);
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

/**
 * The status of one observation: each member as it answered, the master a majority of the configured
 * Sentinels names, each replica's lag behind it, and the problems. Pure.
 */
export function statusOf(t: StatusScope, obs: Observation): TopologyStatus {
  const sentinels = obs.sentinels.map(sentinelStatus);
  const master = agreedMaster(obs) ?? null;
  const named = master ? nodeAt(obs, master) : undefined;
  const masterOffset = named?.reachable ? named.offset : undefined;
  const nodes = obs.nodes.map((n) => {
    const s = nodeStatus(n);
    return s.role === 'replica' && masterOffset !== undefined && s.offset !== undefined ? { ...s, lagBytes: Math.max(0, masterOffset - s.offset) } : s;
  });
  const problems = assessHealth(t, nodes, sentinels, master);
  return { name: t.name, healthy: problems.length === 0, problems, masterName: t.masterName, master, quorum: t.quorum, nodes, sentinels };
}

/** One probe round (`observe`) and its status. Never throws for an unreachable member. */
export async function collectStatus(t: StatusTarget, timeoutMs = 1000): Promise<TopologyStatus> {
  return statusOf(t, await observe(t, timeoutMs));
}
