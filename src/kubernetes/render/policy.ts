/** The NetworkPolicy and the PodDisruptionBudgets. */
import type { RedisHASpec, Routing, ServiceSpec } from '../../spec/index.ts';
import { neededForFailover } from '../../topology/agreement.ts';
import type { K8sObject } from './object.ts';
import { meta } from './object.ts';
import { ENDPOINT_REPLICAS_PORT } from './endpoint.ts';
import { METRICS_PORT, OPERATOR_POD_LABELS, REDIS_PORT, SENTINEL_PORT, clientLabel, commonLabels, namesOf, selectorOf } from './names.ts';

const ANYWHERE = ['0.0.0.0/0', '::/0'];

/**
 * Ingress to the deployment's pods: from its own pods, the operator, pods labelled as its clients and the
 * namespaces and CIDRs the spec names; the ports of exposed (LoadBalancer, NodePort) Services from their
 * loadBalancerSourceRanges, or from anywhere when they have none (with a warning); metrics from the
 * ServiceMonitor's namespace. Egress is not restricted: Sentinel and replicas only talk to each other.
 */
export function networkPolicy(spec: RedisHASpec, namespace: string, routing: Routing): { object: K8sObject; warnings: string[] } {
  const warnings: string[] = [];
  const endpoint = spec.endpoint.enabled || routing === 'endpoint';
  const data = [
    { protocol: 'TCP', port: REDIS_PORT },
    { protocol: 'TCP', port: SENTINEL_PORT },
    ...(endpoint ? [{ protocol: 'TCP', port: ENDPOINT_REPLICAS_PORT }] : []),
  ];
  const instance = { 'app.kubernetes.io/name': 'redis-ha', 'app.kubernetes.io/instance': spec.name };
  const np = spec.networkPolicy;
  const from: Record<string, unknown>[] = [
    { podSelector: { matchLabels: instance } },
    { podSelector: { matchLabels: { [clientLabel(spec.name)]: 'true' } } },
    {
      namespaceSelector: np.operatorNamespace !== undefined ? { matchLabels: { 'kubernetes.io/metadata.name': np.operatorNamespace } } : {},
      podSelector: { matchLabels: { ...OPERATOR_POD_LABELS } },
    },
    ...np.allowedNamespaces.map((ns) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } })),
    ...np.allowedCidrs.map((cidr) => ({ ipBlock: { cidr } })),
  ];
  const ingress: Record<string, unknown>[] = [{ from, ports: data }];
  // The pods' ports behind each exposed Service (through the endpoint, -replicas is its port 6380).
  // With naming: bitnami the Sentinels' Service also carries the chart's tcp-redis port (any Redis pod).
  const exposedPorts: Array<[string, ServiceSpec, number[]]> = [
    ['services.master', spec.services.master, [REDIS_PORT]],
    ['services.replicas', spec.services.replicas, [routing === 'endpoint' ? ENDPOINT_REPLICAS_PORT : REDIS_PORT]],
    ['services.sentinel', spec.services.sentinel, spec.naming === 'bitnami' ? [SENTINEL_PORT, REDIS_PORT] : [SENTINEL_PORT]],
    ...(spec.externalAccess.enabled ? [['externalAccess.service', spec.externalAccess.service, [REDIS_PORT]] as [string, ServiceSpec, number[]]] : []),
  ];
  for (const [which, svc, ports] of exposedPorts) {
    const port = ports.join(' and ');
    if (svc.type === 'ClusterIP') continue;
    let cidrs = svc.loadBalancerSourceRanges;
    if (cidrs.length === 0 && np.allowedCidrs.length === 0) {
      cidrs = ANYWHERE;
      warnings.push(
        `${which}: type ${svc.type} without loadBalancerSourceRanges, so the NetworkPolicy lets any address reach port ${port} (the password still applies); set ${which}.loadBalancerSourceRanges or networkPolicy.allowedCidrs to narrow it`,
      );
    }
    if (cidrs.length) ingress.push({ from: cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: ports.map((p) => ({ protocol: 'TCP', port: p })) });
  }
  if (spec.metrics.enabled) {
    const ns = spec.metrics.serviceMonitor.namespace;
    ingress.push({
      from: [{ namespaceSelector: ns !== undefined ? { matchLabels: { 'kubernetes.io/metadata.name': ns } } : {} }],
      ports: [{ protocol: 'TCP', port: METRICS_PORT }],
    });
  }
  return {
    object: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(spec.name, namespace, commonLabels(spec.name)),
      spec: { podSelector: { matchLabels: instance }, policyTypes: ['Ingress'], ingress },
    },
    warnings,
  };
}

/**
 * Redis: at most one node down at a time. Sentinels: enough left up to reach the quorum and to
 * authorize a failover (a majority).
 */
export function disruptionBudgets(spec: RedisHASpec, namespace: string): K8sObject[] {
  const names = namesOf(spec);
  const needed = neededForFailover(spec.quorum, spec.sentinels);
  const budget = (name: string, component: 'redis' | 'sentinel', maxUnavailable: number): K8sObject => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(name, namespace, commonLabels(spec.name)),
    spec: { maxUnavailable, selector: { matchLabels: selectorOf(spec.name, component) } },
  });
  return [budget(names.redis, 'redis', 1), budget(names.sentinel, 'sentinel', Math.max(1, spec.sentinels - needed))];
}
