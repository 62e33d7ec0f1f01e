/**
 * What installs the operator (`redis-ha operator manifests`): the CRD, a Namespace, a ServiceAccount,
 * least-privilege RBAC (a ClusterRole for what it manages in every namespace, a Role for its Lease in
 * its own), and a Deployment of two replicas with leader election, Pod Security "restricted".
 * The Helm chart (charts/redis-ha-operator) is generated from this function (chart.ts).
 */
import { API_GROUP, OPERATOR_POD_LABELS } from './render/index.ts';
import type { K8sObject } from './render/index.ts';
import { PLURAL, redisHACRD } from './crd.ts';
import { CONTAINER_SECURITY } from './render/index.ts';
import { REDIS_HA_IMAGE } from '../spec/index.ts';

export const OPERATOR_NAME = 'redis-ha-operator';
export const DEFAULT_OPERATOR_NAMESPACE = 'redis-ha-system';
export const DEFAULT_OPERATOR_IMAGE = REDIS_HA_IMAGE;
export const LEASE_NAME = OPERATOR_NAME;
export const OPERATOR_HTTP_PORT = 8080;

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/**
 * Every permission the operator uses, and why. No `*`, no `escalate`/`bind`, no cluster-scoped writes.
 * Secrets: get (the user's existingSecret, our own), create and patch (the one it makes); never list,
 * watch or delete, so it cannot enumerate or remove the cluster's Secrets.
 */
export const CLUSTER_RULES: readonly Rule[] = [
  { apiGroups: [API_GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [API_GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'patch'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'patch'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  // Pods: watched for discovery; patch only to set the master-pod label; delete to roll a changed
  // spec one Redis pod at a time (the StatefulSet's update strategy is OnDelete).
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  // The optional master/replicas endpoint (spec.endpoint): a Deployment of `redis-ha proxy`.
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { apiGroups: ['monitoring.coreos.com'], resources: ['servicemonitors', 'prometheusrules'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  // tls.certManager: the Certificate cert-manager issues the pods' certificate from (its Secret is read with the secrets get above).
  { apiGroups: ['cert-manager.io'], resources: ['certificates'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
];

/** In the operator's own namespace only: its Lease. */
export const NAMESPACE_RULES: readonly Rule[] = [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }];

export interface ManifestOptions {
  readonly namespace?: string;
  readonly image?: string;
  readonly imagePullPolicy?: string;
  readonly replicas?: number;
  readonly resources?: Record<string, unknown>;
  /** Watch only this namespace: a Role and RoleBinding there instead of the ClusterRole and its binding. */
  readonly watchNamespace?: string;
  /** `operator --class`: act only on RedisHA resources labelled `redis-ha.io/operator: <class>`. */
  readonly operatorClass?: string;
  /** The Lease's name (in the operator's namespace); the Helm chart makes it the release's name. */
  readonly leaseName?: string;
  /** Added to every object's and the pods' labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Print the Namespace (default true; false when it exists already, e.g. `helm install --create-namespace`). */
  readonly createNamespace?: boolean;
  /** Print the CRD (default true; false where another install already put it in the cluster). */
  readonly crds?: boolean;
}

export const DEFAULT_OPERATOR_RESOURCES = { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } };
/** The Role that grants CLUSTER_RULES in the watched namespace when the operator watches one. */
export const WATCH_ROLE_NAME = `${OPERATOR_NAME}-watch`;

export function operatorManifests(o: ManifestOptions = {}): K8sObject[] {
  const namespace = o.namespace ?? DEFAULT_OPERATOR_NAMESPACE;
  const labels = { ...OPERATOR_POD_LABELS, 'app.kubernetes.io/part-of': 'redis-ha', ...o.labels };
  const meta = (name: string, ns?: string) => ({ name, ...(ns ? { namespace: ns } : {}), labels: { ...labels } });
  const subject = [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace }];
  const rbac = 'rbac.authorization.k8s.io/v1';
  const watchRBAC: K8sObject[] = o.watchNamespace
    ? [
        { apiVersion: rbac, kind: 'Role', metadata: meta(WATCH_ROLE_NAME, o.watchNamespace), rules: CLUSTER_RULES.map((r) => ({ ...r })) },
        { apiVersion: rbac, kind: 'RoleBinding', metadata: meta(WATCH_ROLE_NAME, o.watchNamespace), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: WATCH_ROLE_NAME }, subjects: subject },
      ]
    : [
        { apiVersion: rbac, kind: 'ClusterRole', metadata: meta(OPERATOR_NAME), rules: CLUSTER_RULES.map((r) => ({ ...r })) },
        { apiVersion: rbac, kind: 'ClusterRoleBinding', metadata: meta(OPERATOR_NAME), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME }, subjects: subject },
      ];
  const args = ['operator', '--http', `0.0.0.0:${OPERATOR_HTTP_PORT}`, '--lease-namespace', namespace, '--lease-name', o.leaseName ?? LEASE_NAME];
  if (o.watchNamespace) args.push('--namespace', o.watchNamespace);
  if (o.operatorClass) args.push('--class', o.operatorClass);
  return [
    ...(o.crds === false ? [] : [redisHACRD()]),
    ...(o.createNamespace === false ? [] : [{ apiVersion: 'v1', kind: 'Namespace', metadata: { ...meta(namespace), labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted' } } }]),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(OPERATOR_NAME, namespace), automountServiceAccountToken: true },
    ...watchRBAC,
    { apiVersion: rbac, kind: 'Role', metadata: meta(OPERATOR_NAME, namespace), rules: NAMESPACE_RULES.map((r) => ({ ...r })) },
    {
      apiVersion: rbac,
      kind: 'RoleBinding',
      metadata: meta(OPERATOR_NAME, namespace),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: OPERATOR_NAME },
      subjects: subject,
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(OPERATOR_NAME, namespace),
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: { ...OPERATOR_POD_LABELS } },
        template: {
          metadata: { labels: { ...labels } },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'operator',
                image: o.image ?? DEFAULT_OPERATOR_IMAGE,
                imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
                args,
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                ports: [{ name: 'http', containerPort: OPERATOR_HTTP_PORT, protocol: 'TCP' }],
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
                readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5 },
                resources: o.resources ?? DEFAULT_OPERATOR_RESOURCES,
                securityContext: CONTAINER_SECURITY,
              },
            ],
          },
        },
      },
    },
  ];
}
