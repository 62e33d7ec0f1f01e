/**
 * Names, labels, ports and Secret keys of the rendered objects, defined once. The operator (a later
 * issue) finds and patches objects through these, so they are part of the contract.
 */
import { masterGroupName } from '../../spec/index.ts';
import type { RedisHASpec } from '../../spec/index.ts';

/** API group and version of the RedisHA custom resource (`render --as-resource`). */
export const API_GROUP = 'redis-ha.io';
export const API_VERSION = `${API_GROUP}/v1alpha1`;
export const KIND = 'RedisHA';

/**
 * The label the operator keeps on Redis pods: `master` on the one Sentinel names master, `replica` on
 * the others. The `-master` Service selects `MASTER_POD_LABEL: master`, `-replicas` selects `replica`.
 * Render never sets it: a pod without it receives no traffic through those two Services.
 */
export const MASTER_POD_LABEL = `${API_GROUP}/role`;
export const ROLE_MASTER = 'master';
export const ROLE_REPLICA = 'replica';

/** Which part of the deployment a pod or object belongs to: `redis` or `sentinel`. */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';

/** Clients allowed through the NetworkPolicy carry `clientLabel(name): "true"`. */
export function clientLabel(name: string): string {
  return `${API_GROUP}/client-${name}`;
}

/** Labels the operator's own pods carry, so the NetworkPolicy lets it in. */
export const OPERATOR_POD_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': 'redis-ha-operator' };

export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
export const METRICS_PORT = 9121;

/** The unprivileged user the official redis and valkey images run as. */
export const RUN_AS_USER = 999;

/**
 * The keys of the auth Secret (rendered, or the user's `auth.existingSecret`). The application password
 * key can be renamed with `auth.existingSecretPasswordKey`; every other key must be there as named.
 */
export const SECRET_KEYS = {
  password: 'password',
  sentinelPassword: 'sentinel-password',
  replication: 'replication-password',
  sentinelUser: 'sentinel-user-password',
  exporter: 'exporter-password',
  operator: 'operator-password',
} as const;

/** ACL users redis-ha creates on every Redis node besides the application's (`auth.username`). */
export { ACL_USERS } from '../../spec/acl.ts';

/** The application password's key in the Secret the Bitnami chart makes (`naming: bitnami`). */
export const BITNAMI_PASSWORD_KEY = 'redis-password';

/** What `namesOf` needs of a spec: the name, and the naming and master set when the spec has them. */
export type NamedSpec = Pick<RedisHASpec, 'name'> & Partial<Pick<RedisHASpec, 'naming' | 'sentinel'>>;

/**
 * Every object name of one deployment. With `naming: bitnami` the Secret and the Sentinels' Service are
 * called `<name>`, as the Bitnami chart calls them, so apps built against it keep working.
 */
export function namesOf(spec: NamedSpec) {
  const n = spec.name;
  const bitnami = spec.naming === 'bitnami';
  return {
    redis: `${n}-redis`,
    sentinel: `${n}-sentinel`,
    headless: `${n}-headless`,
    master: `${n}-master`,
    replicas: `${n}-replicas`,
    sentinelService: bitnami ? n : `${n}-sentinel`,
    metrics: `${n}-metrics`,
    config: `${n}-config`,
    /** With migrateFrom: the ConfigMap whose `state` (migrating, then done) the pods' scripts read at each start. */
    migration: `${n}-migration`,
    secret: bitnami ? n : `${n}-auth`,
    dashboard: `${n}-dashboard`,
    endpoint: `${n}-endpoint`,
    group: masterGroupName(spec),
  };
}

/** The key of the application's password in the deployment's Secret (rendered, or the user's). */
export function passwordKeyOf(spec: Pick<RedisHASpec, 'auth'> & Partial<Pick<RedisHASpec, 'naming'>>): string {
  if (spec.auth.existingSecret !== undefined) return spec.auth.existingSecretPasswordKey ?? SECRET_KEYS.password;
  return spec.naming === 'bitnami' ? BITNAMI_PASSWORD_KEY : SECRET_KEYS.password;
}

/** A pod's stable hostname, as the pods announce themselves to Sentinel (`announce-hostnames`). */
export function podHost(spec: Pick<RedisHASpec, 'name'>, namespace: string, pod: string): string {
  return `${pod}.${namesOf(spec).headless}.${namespace}.svc`;
}

/**
 * The address a Redis pod announces, which the Sentinels name it by and clients connect to: its
 * external load balancer's (`externalAccess`), else its stable hostname. Sentinels always announce
 * their hostname.
 */
export function announcedHost(spec: Pick<RedisHASpec, 'name' | 'replicas'> & Partial<Pick<RedisHASpec, 'externalAccess'>>, namespace: string, pod: string): string {
  const ordinal = Number(pod.slice(`${namesOf(spec).redis}-`.length));
  const external = spec.externalAccess?.enabled ? spec.externalAccess.addresses[ordinal] : undefined;
  return pod.startsWith(`${namesOf(spec).redis}-`) && external !== undefined ? external : podHost(spec, namespace, pod);
}

/** The Service that exposes one Redis pod outside the cluster (`externalAccess`). */
export function externalServiceName(spec: Pick<RedisHASpec, 'name'>, ordinal: number): string {
  return `${namesOf(spec).redis}-${ordinal}-external`;
}

/** Labels every object and pod of the deployment carries. */
export function commonLabels(name: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'redis-ha',
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/managed-by': 'redis-ha',
  };
}

/** The selector of one component's pods. */
export function selectorOf(name: string, component: 'redis' | 'sentinel'): Record<string, string> {
  return { 'app.kubernetes.io/name': 'redis-ha', 'app.kubernetes.io/instance': name, [COMPONENT_LABEL]: component };
}
