import { randomBytes } from 'node:crypto';
import type { RedisHASpec } from '../spec/types.ts';
import { UserError } from '../errors.ts';
import { INTERNAL_USERS, ACL_USERS, applicationUser, generatePassword, masterGroupName, type Credentials, type InternalUser } from '../spec/index.ts';
import type { Endpoint } from '../redis/connect.ts';
import type { Address } from '../redis/address.ts';
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
  /**
   * The ACL users and their passwords: the application's (from the spec) and one per component, each
   * with its own random password, so knowing one never gives another.
   */
  readonly users: DeploymentUsers;
  /**
   * Set by `redis-ha migrate` until its switchover: the outside master every node starts replicating
   * from (and the Sentinels start monitoring, under the outside deployment's master name). In that
   * case `users.replication` and `users.sentinel` are the application's credentials, the only ones
   * the outside nodes know.
   */
  readonly bootstrapFrom?: Address;
}

/** Who logs in where: `application` is what clients use, the others are redis-ha's own users. */
export type DeploymentUsers = { readonly application: Credentials; readonly sentinelClient: Credentials } & {
  readonly [K in InternalUser]: Credentials;
};

/**
 * The users of a deployment of `spec`. Internal passwords are kept from `previous` (a past run of the
 * same deployment) and generated otherwise; the application's and the Sentinels' come from the spec.
 */
export function usersFor(spec: RedisHASpec, previous?: Partial<DeploymentUsers>): DeploymentUsers {
  const internal = Object.fromEntries(
    INTERNAL_USERS.map((u) => [u, { username: ACL_USERS[u], password: previous?.[u]?.password ?? generatePassword() }]),
  ) as { [K in InternalUser]: Credentials };
  return {
    application: { username: applicationUser(spec), password: spec.auth.password },
    // Sentinels have one user, `default`, with the Sentinel password: every Sentinel client sends only that.
    sentinelClient: { username: 'default', password: spec.auth.sentinelPassword },
    ...internal,
  };
}

export function planDeployment(
  spec: RedisHASpec,
  stateDir: string,
  portBase: number,
  binaries: Binaries,
  placement: Placement = {},
  previousUsers?: Partial<DeploymentUsers>,
): LocalDeployment {
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
  return { spec, masterName: masterGroupName(spec), stateDir, portBase, binaries, nodes, sentinels, sentinelIds, users: usersFor(spec, previousUsers) };
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

/** How `user` logs in to a node of this deployment. */
export function nodeEndpoint(d: LocalDeployment, m: { host: string; port: number }, user: keyof DeploymentUsers = 'operator'): Endpoint {
  return { host: m.host, port: m.port, ...d.users[user] };
}

/** How redis-ha (and any Sentinel client) logs in to a Sentinel of this deployment. */
export function sentinelEndpoint(d: LocalDeployment, m: { host: string; port: number }): Endpoint {
  return { host: m.host, port: m.port, ...d.users.sentinelClient };
}

export function saveDeployment(d: LocalDeployment): void {
  writeJson(filesOf(d.stateDir).deployment, d);
}

export function loadDeployment(stateDir: string): LocalDeployment | undefined {
  const d = readJson<LocalDeployment>(filesOf(stateDir).deployment);
  // Written before there were ACL users: give it some (they take effect at its next fresh start).
  return d && !d.users ? { ...d, users: usersFor(d.spec) } : d;
}
