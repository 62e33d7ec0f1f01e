/** The two StatefulSets: Redis nodes and Sentinels, with Pod Security "restricted" pods. */
import type { RedisHASpec, ResourceSpec } from '../../spec/index.ts';
import type { K8sObject } from './object.ts';
import { meta } from './object.ts';
import { PATHS } from './scripts.ts';
import { TLS_FILES, TLS_VOLUME_MOUNT, tlsSecretName, tlsVolume } from './tls.ts';
import {
  COMPONENT_LABEL,
  METRICS_PORT,
  REDIS_PORT,
  RUN_AS_USER,
  SECRET_KEYS,
  SENTINEL_PORT,
  commonLabels,
  namesOf,
  selectorOf,
} from './names.ts';

type Component = 'redis' | 'sentinel';

/** The size limit of a Sentinel's `data` emptyDir, which holds its config file. */
export const SENTINEL_DATA_LIMIT = '16Mi';

/** The container securityContext every container gets: what Pod Security "restricted" asks, and more. */
export const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

function resourcesOf(r: ResourceSpec): Record<string, unknown> {
  return {
    requests: { cpu: r.requests.cpu, memory: r.requests.memory },
    limits: { ...(r.limits.cpu !== undefined ? { cpu: r.limits.cpu } : {}), memory: r.limits.memory },
  };
}

function imageOf(spec: RedisHASpec): string {
  const { repository, tag, digest } = spec.image;
  return `${repository}:${tag}${digest !== undefined ? `@${digest}` : ''}`;
}

const POD_ENV = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];

const exec = (script: string, ...args: string[]) => ({ exec: { command: ['sh', `${PATHS.config}/${script}`, ...args] } });

function exporter(spec: RedisHASpec, component: Component, secretName: string): Record<string, unknown> {
  const port = component === 'redis' ? REDIS_PORT : SENTINEL_PORT;
  const tls = tlsSecretName(spec) !== undefined;
  // With TLS the exporter verifies the server's name, so it connects by the pod's stable hostname (which
  // the certificate names) rather than localhost; Kubernetes expands $(POD_NAME) from the env above it.
  const env: Record<string, unknown>[] = tls
    ? [
        ...POD_ENV,
        { name: 'REDIS_ADDR', value: `rediss://$(POD_NAME).${namesOf(spec).headless}.$(POD_NAMESPACE).svc:${port}` },
        { name: 'REDIS_EXPORTER_TLS_CA_CERT_FILE', value: TLS_FILES.ca },
        { name: 'REDIS_EXPORTER_TLS_CLIENT_CERT_FILE', value: TLS_FILES.cert },
        { name: 'REDIS_EXPORTER_TLS_CLIENT_KEY_FILE', value: TLS_FILES.key },
      ]
    : [{ name: 'REDIS_ADDR', value: `redis://localhost:${port}` }];
  if (component === 'redis') env.push({ name: 'REDIS_USER', value: 'exporter' });
  const key = component === 'redis' ? SECRET_KEYS.exporter : SECRET_KEYS.sentinelPassword;
  env.push({ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: secretName, key } } });
  return {
    name: 'exporter',
    image: spec.metrics.image,
    imagePullPolicy: 'IfNotPresent',
    env,
    ports: [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }],
    resources: resourcesOf(spec.resources.exporter),
    securityContext: CONTAINER_SECURITY,
    readinessProbe: { httpGet: { path: '/health', port: 'metrics' }, periodSeconds: 10 },
    livenessProbe: { httpGet: { path: '/health', port: 'metrics' }, periodSeconds: 10, failureThreshold: 6 },
    ...(tls ? { volumeMounts: [TLS_VOLUME_MOUNT] } : {}),
  };
}

/**
 * Where a component's pods go (spec.scheduling): spread over nodes (anti-affinity) and zones, on the
 * nodes and with the priority and service account the spec names. `selector`: the component's pods.
 */
export function schedulingOf(spec: RedisHASpec, selector: Record<string, string>): Record<string, unknown> {
  const s = spec.scheduling;
  const term = { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' };
  return {
    ...(s.serviceAccountName !== undefined ? { serviceAccountName: s.serviceAccountName } : {}),
    ...(s.priorityClassName !== undefined ? { priorityClassName: s.priorityClassName } : {}),
    ...(Object.keys(s.nodeSelector).length ? { nodeSelector: { ...s.nodeSelector } } : {}),
    ...(s.tolerations.length ? { tolerations: s.tolerations.map(tolerationOf) } : {}),
    ...(s.podAntiAffinity === 'none'
      ? {}
      : {
          affinity: {
            podAntiAffinity:
              s.podAntiAffinity === 'hard'
                ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
                : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
          },
        }),
    ...(s.zoneSpread === 'none'
      ? {}
      : {
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: s.zoneSpread === 'hard' ? 'DoNotSchedule' : 'ScheduleAnyway',
              labelSelector: { matchLabels: selector },
            },
          ],
        }),
  };
}

/** A toleration from the spec's `key[=value][:Effect]`: Equal with a value, Exists without one. */
export function tolerationOf(taint: string): Record<string, string> {
  // Neither a key nor a value holds ':' (the spec's pattern), so the first one starts the effect.
  const [keyValue = '', effect] = taint.split(':');
  const eq = keyValue.indexOf('=');
  return {
    key: eq < 0 ? keyValue : keyValue.slice(0, eq),
    ...(eq < 0 ? { operator: 'Exists' } : { operator: 'Equal', value: keyValue.slice(eq + 1) }),
    ...(effect !== undefined ? { effect } : {}),
  };
}

function statefulSet(spec: RedisHASpec, namespace: string, component: Component): K8sObject {
  const names = namesOf(spec);
  const secretName = spec.auth.existingSecret ?? names.secret;
  const isRedis = component === 'redis';
  const tlsSecret = tlsSecretName(spec);
  const persistent = isRedis && spec.persistence.enabled;
  const labels = { ...commonLabels(spec.name), [COMPONENT_LABEL]: component };
  const main: Record<string, unknown> = {
    name: component,
    image: imageOf(spec),
    imagePullPolicy: spec.image.pullPolicy,
    command: ['sh', `${PATHS.config}/${isRedis ? 'start-redis.sh' : 'start-sentinel.sh'}`],
    env: POD_ENV,
    ports: [{ name: component, containerPort: isRedis ? REDIS_PORT : SENTINEL_PORT, protocol: 'TCP' }],
    resources: resourcesOf(isRedis ? spec.resources.redis : spec.resources.sentinel),
    securityContext: CONTAINER_SECURITY,
    startupProbe: { ...exec(isRedis ? 'probe-redis.sh' : 'probe-sentinel.sh', 'live'), periodSeconds: 2, failureThreshold: 150, timeoutSeconds: 5 },
    livenessProbe: { ...exec(isRedis ? 'probe-redis.sh' : 'probe-sentinel.sh', 'live'), periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 5 },
    readinessProbe: { ...exec(isRedis ? 'probe-redis.sh' : 'probe-sentinel.sh'), periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 5 },
    volumeMounts: [
      { name: 'config', mountPath: PATHS.config, readOnly: true },
      { name: 'secrets', mountPath: PATHS.secrets, readOnly: true },
      { name: 'run', mountPath: PATHS.run },
      { name: 'data', mountPath: PATHS.data },
      ...(tlsSecret !== undefined ? [TLS_VOLUME_MOUNT] : []),
      ...(spec.migrateFrom ? [{ name: 'migration', mountPath: PATHS.migration, readOnly: true }] : []),
    ],
  };
  if (isRedis) main.lifecycle = { preStop: exec('prestop-redis.sh') };
  const containers = [main];
  if (spec.metrics.enabled) containers.push(exporter(spec, component, secretName));

  const volumes: Record<string, unknown>[] = [
    { name: 'config', configMap: { name: names.config, defaultMode: 0o444 } },
    { name: 'secrets', secret: { secretName, defaultMode: 0o440 } },
    { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    ...(tlsSecret !== undefined ? [tlsVolume(tlsSecret)] : []),
    // Updated in place by the kubelet: the scripts read it at each start, and no pod restarts for it.
    ...(spec.migrateFrom ? [{ name: 'migration', configMap: { name: names.migration, optional: true, defaultMode: 0o444 } }] : []),
  ];
  // Persistence off writes nothing there (diskless replication; Sentinel keeps its small config). The
  // bound, Redis's memory limit (what a snapshot of its data could take at most), gets a runaway write
  // the pod evicted instead of filling the node's disk.
  if (!persistent) volumes.push({ name: 'data', emptyDir: { sizeLimit: isRedis ? spec.resources.redis.limits.memory : SENTINEL_DATA_LIMIT } });

  const failoverSeconds = Math.ceil(spec.sentinel.failoverTimeout / 1000);
  const podSpec: Record<string, unknown> = {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      fsGroup: RUN_AS_USER,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    // Room for the preStop hook's hand-over, which waits at most failoverTimeout.
    terminationGracePeriodSeconds: isRedis ? failoverSeconds + 15 : 30,
    ...schedulingOf(spec, selectorOf(spec.name, component)),
    containers,
    volumes,
  };

  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(isRedis ? names.redis : names.sentinel, namespace, labels),
    spec: {
      serviceName: names.headless,
      replicas: isRedis ? spec.replicas + 1 : spec.sentinels,
      // Pods start together: each finds the master through the Sentinels and its peers, not by order.
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: selectorOf(spec.name, component) },
      template: {
        metadata: {
          labels,
          // Restart pods when the scripts or configs change; the hash covers no secret.
          annotations: { 'redis-ha.io/config-hash': '' },
        },
        spec: podSpec,
      },
      ...(persistent
        ? {
            persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
            volumeClaimTemplates: [
              {
                apiVersion: 'v1',
                kind: 'PersistentVolumeClaim',
                metadata: { name: 'data', labels },
                spec: {
                  accessModes: ['ReadWriteOnce'],
                  ...(spec.persistence.storageClass !== undefined ? { storageClassName: spec.persistence.storageClass } : {}),
                  resources: { requests: { storage: spec.persistence.size } },
                },
              },
            ],
          }
        : {}),
    },
  };
}

/** The Redis and Sentinel StatefulSets. */
export function statefulSets(spec: RedisHASpec, namespace: string): K8sObject[] {
  return [statefulSet(spec, namespace, 'redis'), statefulSet(spec, namespace, 'sentinel')];
}
