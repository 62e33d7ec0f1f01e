/**
 * The optional master/replicas endpoint on Kubernetes (`endpoint.enabled`): a Deployment of
 * `redis-ha proxy` and its Service, for clients that cannot speak Sentinel. Each proxy pod checks the
 * Sentinels itself (a majority must name the master, which must answer ROLE as master), follows
 * `+switch-master` at once and refuses with one `-ERR` line when there is no agreed master.
 */
import type { RedisHASpec } from '../../spec/index.ts';
import type { K8sObject } from './object.ts';
import { meta } from './object.ts';
import { COMPONENT_LABEL, REDIS_PORT, SECRET_KEYS, SENTINEL_PORT, commonLabels, namesOf } from './names.ts';
import { CONTAINER_SECURITY, schedulingOf } from './workloads.ts';
import { TLS_FILES, TLS_VOLUME_MOUNT, tlsSecretName, tlsVolume } from './tls.ts';

/** The endpoint's replicas port; its master port is Redis's own, 6379. */
export const ENDPOINT_REPLICAS_PORT = 6380;
/** The endpoint's HTTP health port (`redis-ha proxy --health-port`): the kubelet's probes only. */
export const ENDPOINT_HEALTH_PORT = 8081;

/** The UID the redis-ha image runs as (as the operator does). */
const REDIS_HA_UID = 65532;

/** The labels the endpoint's pods carry and its Services select (`-endpoint`, and -master/-replicas with `routing: endpoint`). */
export function endpointSelector(spec: Pick<RedisHASpec, 'name'>): Record<string, string> {
  return { 'app.kubernetes.io/instance': spec.name, [COMPONENT_LABEL]: 'endpoint' };
}

/**
 * The endpoint Deployment, and its own Service `<name>-endpoint` when `opts.service` (the spec's
 * `endpoint.enabled`; with `routing: endpoint` alone, -master and -replicas already lead to it).
 */
export function endpointObjects(spec: RedisHASpec, namespace: string, opts: { service: boolean } = { service: true }): K8sObject[] {
  const names = namesOf(spec);
  const name = names.endpoint;
  const labels = { ...commonLabels(spec.name), [COMPONENT_LABEL]: 'endpoint' };
  const selector = endpointSelector(spec);
  const secretName = spec.auth.existingSecret ?? names.secret;
  const tlsSecret = tlsSecretName(spec);
  const sentinels = Array.from({ length: spec.sentinels }, (_, i) => `${names.sentinel}-${i}.${names.headless}.${namespace}.svc:${SENTINEL_PORT}`);
  const deployment: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, namespace, labels),
    spec: {
      replicas: spec.endpoint.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...schedulingOf(spec, selector),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: REDIS_HA_UID,
            runAsGroup: REDIS_HA_UID,
            // The certificate volume is group-readable (0440) by this group.
            ...(tlsSecret !== undefined ? { fsGroup: REDIS_HA_UID } : {}),
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'proxy',
              image: spec.endpoint.image,
              imagePullPolicy: 'IfNotPresent',
              args: [
                'proxy', '--sentinels', sentinels.join(','), '--master-name', names.group, '--bind', '0.0.0.0',
                '--master-port', String(REDIS_PORT), '--replicas-port', String(ENDPOINT_REPLICAS_PORT), '--health-port', String(ENDPOINT_HEALTH_PORT),
                // Its own checks speak TLS and present the deployment's certificate; clients' TLS passes through.
                ...(tlsSecret !== undefined ? ['--tls', '--cacert', TLS_FILES.ca, '--cert', TLS_FILES.cert, '--key', TLS_FILES.key] : []),
              ],
              // Its own checks (ROLE, INFO replication) run as the operator's ACL user; clients log in themselves.
              env: [
                { name: 'REDIS_HA_USER', value: 'operator' },
                { name: 'REDIS_HA_PASSWORD', valueFrom: { secretKeyRef: { name: secretName, key: SECRET_KEYS.operator } } },
                { name: 'REDIS_HA_SENTINEL_PASSWORD', valueFrom: { secretKeyRef: { name: secretName, key: SECRET_KEYS.sentinelPassword } } },
              ],
              ports: [
                { name: 'master', containerPort: REDIS_PORT, protocol: 'TCP' },
                { name: 'replicas', containerPort: ENDPOINT_REPLICAS_PORT, protocol: 'TCP' },
                { name: 'health', containerPort: ENDPOINT_HEALTH_PORT, protocol: 'TCP' },
              ],
              // Ready while it routes to a master: a load balancer then never sends a client to an
              // endpoint that would refuse it (one still finding the Sentinels at start, one cut off).
              // Three failed looks (6 s) take it out, so a failover's second of no master does not.
              readinessProbe: { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 2, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/livez', port: 'health' }, periodSeconds: 10, failureThreshold: 6 },
              resources: { requests: { cpu: '20m', memory: '96Mi' }, limits: { memory: '256Mi' } },
              securityContext: CONTAINER_SECURITY,
              // The root filesystem is read-only; Node.js gets a writable /tmp.
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(tlsSecret !== undefined ? [TLS_VOLUME_MOUNT] : [])],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }, ...(tlsSecret !== undefined ? [tlsVolume(tlsSecret)] : [])],
        },
      },
    },
  };
  const service: K8sObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, namespace, labels),
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [
        { name: 'master', port: REDIS_PORT, targetPort: 'master', protocol: 'TCP' },
        { name: 'replicas', port: ENDPOINT_REPLICAS_PORT, targetPort: 'replicas', protocol: 'TCP' },
      ],
    },
  };
  // At most one proxy down at a time through a drain (with one replica, none may be evicted: drain waits).
  const budget: K8sObject = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(name, namespace, labels),
    spec: { maxUnavailable: spec.endpoint.replicas > 1 ? 1 : 0, selector: { matchLabels: selector } },
  };
  return [...(opts.service ? [service] : []), deployment, ...(spec.podDisruptionBudget.enabled ? [budget] : [])];
}
