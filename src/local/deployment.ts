import { randomBytes } from 'node:crypto';
import type { RedisHASpec } from '../spec/types.ts';
import { UserError } from '../errors.ts';
import { masterGroupName } from '../spec/index.ts';
import type { Endpoint } from '../redis/connect.ts';
import type { Binaries } from './binaries.ts';
import { filesOf, LOCAL_HOST, PORT_OFFSETS } from './layout.ts';
import { readJson, writeJson } from './fsutil.ts';

export type MemberKind = 'node' | 'sentinel';

/** One process of a local deployment: a Redis node (`node-0`…) or a Sentinel (`sentinel-0`…). */
export interface Member {
  readonly id: string;
  readonly kind: MemberKind;
  readonly host: string;
  readonly port: number;
  /** The network namespace the process runs in (`ip netns exec`), when placed as a host of its own. */
  readonly netns?: string;
}

/**
 * Where members run when they are not all on loopback: member id → the network namespace (made
 * beforehand, e.g. with `ip netns add` and a veth on a bridge) and the address it has there. Used to
 * test what crosses a network, such as a partition of the master.
 */
export type Placement = Readonly<Record<string, { readonly host: string; readonly netns: string }>>;

/**
 * Everything needed to run (or re-adopt) one local deployment. Stored as `deployment.json` (0600:
 * it carries the passwords) so that `down`, `status` and a restarted supervisor read the same facts.
 */
export interface LocalDeployment {
  readonly spec: RedisHASpec;
  readonly masterName: string;
  readonly stateDir: string;
  readonly portBase: number;
  readonly binaries: Binaries;
  readonly nodes: readonly Member[];
  readonly sentinels: readonly Member[];
  /** Each Sentinel's fixed run id, so all of them can be told about each other before they start. */
  readonly sentinelIds: readonly string[];
}

export function planDeployment(spec: RedisHASpec, stateDir: string, portBase: number, binaries: Binaries, placement: Placement = {}): LocalDeployment {
  const place = (id: string): { host: string; netns?: string } => placement[id] ?? { host: LOCAL_HOST };
  const nodes = Array.from({ length: spec.replicas + 1 }, (_, i) => ({
    id: `node-${i}`,
    kind: 'node' as const,
    ...place(`node-${i}`),
    port: portBase + PORT_OFFSETS.node + i,
  }));
  const sentinels = Array.from({ length: spec.sentinels }, (_, i) => ({
    id: `sentinel-${i}`,
    kind: 'sentinel' as const,
    ...place(`sentinel-${i}`),
    port: portBase + PORT_OFFSETS.sentinel + i,
  }));
  const unknown = Object.keys(placement).filter((id) => ![...nodes, ...sentinels].some((m) => m.id === id));
  if (unknown.length > 0) throw new UserError(`placement names ${unknown.join(', ')}, which this deployment does not have (it has node-0..node-${nodes.length - 1}, sentinel-0..sentinel-${sentinels.length - 1})`);
  const sentinelIds = sentinels.map(() => randomBytes(20).toString('hex'));
  return { spec, masterName: masterGroupName(spec), stateDir, portBase, binaries, nodes, sentinels, sentinelIds };
}

/** Where the local master and replicas endpoints (the proxy in the supervisor) listen. */
export function endpointsOf(d: { portBase: number }): { master: Endpoint; replicas: Endpoint } {
  return {
    master: { host: LOCAL_HOST, port: d.portBase + PORT_OFFSETS.masterEndpoint },
    replicas: { host: LOCAL_HOST, port: d.portBase + PORT_OFFSETS.replicaEndpoint },
  };
}

export function members(d: LocalDeployment): Member[] {
  return [...d.nodes, ...d.sentinels];
}

/** How clients authenticate to a node of this deployment. */
export function nodeEndpoint(d: LocalDeployment, m: { host: string; port: number }): Endpoint {
  return { host: m.host, port: m.port, password: d.spec.auth.password };
}

export function sentinelEndpoint(d: LocalDeployment, m: { host: string; port: number }): Endpoint {
  return { host: m.host, port: m.port, password: d.spec.auth.sentinelPassword };
}

export function saveDeployment(d: LocalDeployment): void {
  writeJson(filesOf(d.stateDir).deployment, d);
}

export function loadDeployment(stateDir: string): LocalDeployment | undefined {
  return readJson<LocalDeployment>(filesOf(stateDir).deployment);
}
