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

/** Every object name of one deployment. */
export function namesOf(spec: Pick<RedisHASpec, 'name'>) {
  const n = spec.name;
  return {
    redis: `${n}-redis`,
    sentinel: `${n}-sentinel`,
    headless: `${n}-headless`,
    master: `${n}-master`,
    replicas: `${n}-replicas`,
    sentinelService: `${n}-sentinel`,
    metrics: `${n}-metrics`,
    config: `${n}-config`,
    secret: `${n}-auth`,
    dashboard: `${n}-dashboard`,
    group: masterGroupName(spec),
  };
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
