/**
 * Where each kind lives in the REST API. A fixed table of the kinds render produces (and the few the
 * operator itself touches), so the operator needs no discovery calls and its RBAC can list them exactly.
 */
import { API_GROUP } from './render/index.ts';
import { PLURAL, VERSION } from './crd.ts';

export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const TYPES: readonly ResourceType[] = [
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', plural: 'servicemonitors', namespaced: true },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', plural: 'prometheusrules', namespaced: true },
  { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', plural: 'certificates', namespaced: true },
  { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', plural: 'clusterroles', namespaced: false },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', plural: 'clusterrolebindings', namespaced: false },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
  { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', namespaced: false },
  { apiVersion: `${API_GROUP}/${VERSION}`, kind: 'RedisHA', plural: PLURAL, namespaced: true },
];

/** The kinds the operator applies for a RedisHA (and prunes when the spec no longer asks for them). */
export const OWNED_KINDS = ['Secret', 'ConfigMap', 'Service', 'StatefulSet', 'Deployment', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule', 'Certificate'] as const;

export function resourceType(apiVersion: string, kind: string): ResourceType {
  const t = TYPES.find((x) => x.apiVersion === apiVersion && x.kind === kind);
  if (!t) throw new Error(`no REST path known for ${apiVersion} ${kind}; add it to src/kubernetes/resources.ts`);
  return t;
}

export function typeOfKind(kind: string): ResourceType {
  const t = TYPES.find((x) => x.kind === kind);
  if (!t) throw new Error(`no REST path known for kind ${kind}`);
  return t;
}

/** `/api/v1/namespaces/ns/pods` or `/apis/apps/v1/namespaces/ns/statefulsets[/name]`. */
export function collectionPath(t: ResourceType, namespace?: string): string {
  const root = t.apiVersion.includes('/') ? `/apis/${t.apiVersion}` : `/api/${t.apiVersion}`;
  return t.namespaced && namespace !== undefined ? `${root}/namespaces/${namespace}/${t.plural}` : `${root}/${t.plural}`;
}

export function objectPath(t: ResourceType, name: string, namespace?: string): string {
  return `${collectionPath(t, namespace)}/${encodeURIComponent(name)}`;
}

/** The path of an object as it is written (apiVersion, kind, metadata.name/namespace). */
export function pathOf(o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): string {
  return objectPath(resourceType(o.apiVersion, o.kind), o.metadata.name, o.metadata.namespace);
}
