/** The headless, -master, -replicas, -sentinel and -metrics Services, with load balancer presets. */
import type { LoadBalancerPreset, RedisHASpec, ServiceSpec } from '../../spec/index.ts';
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

function exposed(name: string, namespace: string, svc: ServiceSpec, labels: Record<string, string>, selector: Record<string, string>, port: { name: string; port: number }): K8sObject {
  const annotations = svc.type === 'LoadBalancer' ? { ...LOAD_BALANCER_PRESETS[svc.preset], ...svc.annotations } : { ...svc.annotations };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, namespace, labels, annotations),
    spec: {
      type: svc.type,
      selector,
      ports: [{ name: port.name, port: port.port, targetPort: port.name, protocol: 'TCP' }],
      ...(svc.loadBalancerSourceRanges.length ? { loadBalancerSourceRanges: [...svc.loadBalancerSourceRanges] } : {}),
      ...(svc.externalTrafficPolicy !== undefined ? { externalTrafficPolicy: svc.externalTrafficPolicy } : {}),
    },
  };
}

export function services(spec: RedisHASpec, namespace: string): K8sObject[] {
  const names = namesOf(spec);
  const labels = commonLabels(spec.name);
  const redis = selectorOf(spec.name, 'redis');
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
    exposed(names.master, namespace, spec.services.master, { ...labels, [COMPONENT_LABEL]: 'redis' }, { ...redis, [MASTER_POD_LABEL]: ROLE_MASTER }, { name: 'redis', port: REDIS_PORT }),
    exposed(names.replicas, namespace, spec.services.replicas, { ...labels, [COMPONENT_LABEL]: 'redis' }, { ...redis, [MASTER_POD_LABEL]: ROLE_REPLICA }, { name: 'redis', port: REDIS_PORT }),
    exposed(names.sentinelService, namespace, spec.services.sentinel, { ...labels, [COMPONENT_LABEL]: 'sentinel' }, selectorOf(spec.name, 'sentinel'), { name: 'sentinel', port: SENTINEL_PORT }),
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
