/** The headless, -master, -replicas, -sentinel and -metrics Services, with load balancer presets. */
import type { LoadBalancerPreset, RedisHASpec, Routing, ServiceSpec } from '../../spec/index.ts';
import { endpointSelector } from './endpoint.ts';
import type { K8sObject } from './object.ts';
import { meta } from './object.ts';
import {
  COMPONENT_LABEL,
  MASTER_POD_LABEL,
  METRICS_PORT,
  REDIS_PORT,
  ROLE_MASTER,
  ROLE_REPLICA,
  SENTINEL_PORT,
  commonLabels,
  externalServiceName,
  namesOf,
  selectorOf,
} from './names.ts';

/** The annotations each internal load balancer preset adds. */
export const LOAD_BALANCER_PRESETS: Readonly<Record<LoadBalancerPreset, Readonly<Record<string, string>>>> = {
  none: {},
  // The in-tree AWS cloud provider reads the first, the AWS Load Balancer Controller the second.
  'aws-internal': {
    'service.beta.kubernetes.io/aws-load-balancer-internal': 'true',
    'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal',
  },
  'gcp-internal': { 'networking.gke.io/load-balancer-type': 'Internal' },
  'azure-internal': { 'service.beta.kubernetes.io/azure-load-balancer-internal': 'true' },
};

/** What to use instead of an `alb.ingress.kubernetes.io/*` annotation on a Service, by its name. */
const ALB_REPLACEMENTS: Readonly<Record<string, string>> = {
  scheme: 'service.beta.kubernetes.io/aws-load-balancer-internal: "true" (or preset: aws-internal)',
  'inbound-cidrs': 'loadBalancerSourceRanges',
  'security-groups': 'service.beta.kubernetes.io/aws-load-balancer-security-groups',
  'subnets': 'service.beta.kubernetes.io/aws-load-balancer-subnets',
  'tags': 'service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags',
  'target-type': 'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type',
};

/**
 * Warnings for annotations that do nothing on a Service: `alb.ingress.kubernetes.io/*` is read only by
 * the AWS Load Balancer Controller on Ingress objects (the brief's lesson).
 */
export function serviceAnnotationWarnings(spec: RedisHASpec): string[] {
  const warnings: string[] = [];
  for (const [which, svc] of Object.entries(spec.services)) {
    for (const key of Object.keys(svc.annotations)) {
      if (!key.startsWith('alb.ingress.kubernetes.io/')) continue;
      const short = key.slice('alb.ingress.kubernetes.io/'.length);
      const instead = ALB_REPLACEMENTS[short] ?? 'the service.beta.kubernetes.io/aws-load-balancer-* annotations';
      warnings.push(
        `services.${which}.annotations: ${key} does nothing on a Service (only the AWS Load Balancer Controller reads it, on an Ingress); use ${instead}`,
      );
    }
  }
  return warnings;
}

interface Port {
  readonly name: string;
  readonly port: number;
  /** The container port's name; default: `name`. */
  readonly targetPort?: string;
}

function exposed(name: string, namespace: string, svc: ServiceSpec, labels: Record<string, string>, selector: Record<string, string>, ports: Port[], extra: Record<string, unknown> = {}): K8sObject {
  const annotations = svc.type === 'LoadBalancer' ? { ...LOAD_BALANCER_PRESETS[svc.preset], ...svc.annotations } : { ...svc.annotations };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, namespace, labels, annotations),
    spec: {
      type: svc.type,
      selector,
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.name, protocol: 'TCP' })),
      ...(svc.loadBalancerSourceRanges.length ? { loadBalancerSourceRanges: [...svc.loadBalancerSourceRanges] } : {}),
      ...(trafficPolicyOf(svc) !== undefined ? { externalTrafficPolicy: trafficPolicyOf(svc) } : {}),
      ...extra,
    },
  };
}

/**
 * The Service's externalTrafficPolicy: the spec's, else `Local` for a load balancer narrowed by source
 * ranges, so the pods see the client's own address and the NetworkPolicy's ipBlock rules for those
 * ranges match it (with `Cluster` the traffic arrives from node addresses, which the policy drops).
 * The load balancer then sends traffic only to nodes running a ready pod of the Service (its health check).
 */
export function trafficPolicyOf(svc: ServiceSpec): 'Cluster' | 'Local' | undefined {
  if (svc.externalTrafficPolicy !== undefined) return svc.externalTrafficPolicy;
  return svc.type === 'LoadBalancer' && svc.loadBalancerSourceRanges.length > 0 ? 'Local' : undefined;
}

const IPV4 = /^[0-9]+(\.[0-9]+){3}$/;

/**
 * One LoadBalancer Service per Redis pod (`externalAccess`), at the address the pod announces, so the
 * master and replicas the Sentinels name are reachable from outside the cluster. It publishes a pod
 * that is not ready too: the address is the pod's identity, which Sentinel must reach while it starts
 * (a restarted master comes back as a replica of itself until Sentinel reconfigures it).
 */
export function externalServices(spec: RedisHASpec, namespace: string): K8sObject[] {
  if (!spec.externalAccess.enabled) return [];
  const names = namesOf(spec);
  return spec.externalAccess.addresses.map((address, i) =>
    exposed(
      externalServiceName(spec, i),
      namespace,
      spec.externalAccess.service,
      { ...commonLabels(spec.name), [COMPONENT_LABEL]: 'redis' },
      { ...selectorOf(spec.name, 'redis'), 'statefulset.kubernetes.io/pod-name': `${names.redis}-${i}` },
      [{ name: 'redis', port: REDIS_PORT }],
      { publishNotReadyAddresses: true, ...(IPV4.test(address) ? { loadBalancerIP: address } : {}) },
    ),
  );
}

/**
 * The Services. `routing`: whether -master and -replicas select the Redis pods by the role label the
 * operator keeps, or the endpoint Deployment's pods (their `master` and `replicas` ports).
 */
export function services(spec: RedisHASpec, namespace: string, routing: Routing): K8sObject[] {
  const names = namesOf(spec);
  const labels = commonLabels(spec.name);
  const redis = selectorOf(spec.name, 'redis');
  const byLabel = routing === 'label';
  const masterSelector = byLabel ? { ...redis, [MASTER_POD_LABEL]: ROLE_MASTER } : endpointSelector(spec);
  const replicasSelector = byLabel ? { ...redis, [MASTER_POD_LABEL]: ROLE_REPLICA } : endpointSelector(spec);
  // With naming: bitnami the Sentinels' Service is `<name>` with the chart's two ports: each selects the
  // pods that have a container port of that name (the Redis pods, the Sentinels).
  const sentinelPorts: Port[] =
    spec.naming === 'bitnami'
      ? [{ name: 'tcp-redis', port: REDIS_PORT, targetPort: 'redis' }, { name: 'tcp-sentinel', port: SENTINEL_PORT, targetPort: 'sentinel' }]
      : [{ name: 'sentinel', port: SENTINEL_PORT }];
  const sentinelSelector = spec.naming === 'bitnami' ? { 'app.kubernetes.io/name': 'redis-ha', 'app.kubernetes.io/instance': spec.name } : selectorOf(spec.name, 'sentinel');
  const out: K8sObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(names.headless, namespace, labels),
      spec: {
        clusterIP: 'None',
        // Pods must resolve each other while starting, before any is ready.
        publishNotReadyAddresses: true,
        selector: { 'app.kubernetes.io/name': 'redis-ha', 'app.kubernetes.io/instance': spec.name },
        ports: [
          { name: 'redis', port: REDIS_PORT, targetPort: 'redis', protocol: 'TCP' },
          { name: 'sentinel', port: SENTINEL_PORT, targetPort: 'sentinel', protocol: 'TCP' },
        ],
      },
    },
    exposed(names.master, namespace, spec.services.master, { ...labels, [COMPONENT_LABEL]: 'redis' }, masterSelector, [{ name: 'redis', port: REDIS_PORT, targetPort: byLabel ? 'redis' : 'master' }]),
    exposed(names.replicas, namespace, spec.services.replicas, { ...labels, [COMPONENT_LABEL]: 'redis' }, replicasSelector, [{ name: 'redis', port: REDIS_PORT, targetPort: byLabel ? 'redis' : 'replicas' }]),
    exposed(names.sentinelService, namespace, spec.services.sentinel, { ...labels, [COMPONENT_LABEL]: 'sentinel' }, sentinelSelector, sentinelPorts),
    ...externalServices(spec, namespace),
  ];
  if (spec.metrics.enabled) {
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(names.metrics, namespace, { ...labels, 'redis-ha.io/metrics': 'true' }),
      spec: {
        type: 'ClusterIP',
        selector: { 'app.kubernetes.io/name': 'redis-ha', 'app.kubernetes.io/instance': spec.name },
        ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' }],
      },
    });
  }
  return out;
}
