/**
 * `redis-ha status --k8s NAME`: the status of a RedisHA resource as its operator last observed it (the
 * resource's status subresource), in the same table and JSON shape as the local status. Reading the
 * resource needs only `get` on redishas; the pods' hostnames need not resolve where this runs.
 */
import { contextNamespace, KubeApiError, KubeClient, loadKubeConfig } from '../../kubernetes/client.ts';
import { objectPath, resourceType } from '../../kubernetes/resources.ts';
import { API_VERSION, REDIS_PORT, SENTINEL_PORT, namesOf } from '../../kubernetes/render/index.ts';
import type { RedisHAResource } from '../../kubernetes/reconcile.ts';
import type { NodeStatus, SentinelStatus, TopologyStatus } from '../../observe/status.ts';
import { UserError } from '../../errors.ts';
import { UsageError } from '../errors.ts';
import { membersTable } from './status.ts';
import { addressKey, parseAddress } from '../../redis/address.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export async function kubernetesStatus(name: string, namespace: string | undefined, kubeconfig: string | undefined) {
  if (!DNS_LABEL.test(name)) throw new UsageError(`--k8s: must be the name of a RedisHA resource (DNS-1123 label) (got "${name}")`);
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) throw new UsageError(`-n/--namespace: must be a namespace name (got "${namespace}")`);
  const kc = loadKubeConfig(kubeconfig);
  const ns = namespace ?? contextNamespace(kc);
  const client = new KubeClient(kc);
  let cr: RedisHAResource;
  try {
    cr = await client.get<RedisHAResource>(objectPath(resourceType(API_VERSION, 'RedisHA'), name, ns));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) throw new UserError(`no RedisHA ${ns}/${name}: list them with 'kubectl get redisha -A', or pass -n NAMESPACE`);
    throw new UserError(`cannot read RedisHA ${ns}/${name}: ${(err as Error).message}`);
  }
  return kubernetesStatusOf(cr, ns);
}

/** The status document of a RedisHA already read (`kubectl redisha status` shares it). */
export function kubernetesStatusOf(cr: RedisHAResource, ns: string) {
  const name = cr.metadata.name;
  const s = cr.status ?? {};
  const names = namesOf({ name, naming: cr.spec?.naming === 'bitnami' ? 'bitnami' : 'redis-ha' });
  // The spec as stored (the API server applied the CRD's defaults); TLS needs a source there, else the operator rejects it.
  const tlsSpec = cr.spec?.tls as { enabled?: boolean; authClients?: string; secretName?: string; certManager?: unknown } | undefined;
  const tls = tlsSpec?.enabled === true;
  const nodes: NodeStatus[] = (s.nodes ?? []).map((n) => ({ ...n, role: n.role as NodeStatus['role'] }));
  const sentinels: SentinelStatus[] = (s.sentinels ?? []).map((x) => ({ ...x, master: parseAddress(x.master) ?? null, quorumMessage: x.quorumOk ? 'OK' : 'NOQUORUM' }));
  const status: TopologyStatus = {
    name,
    healthy: s.healthy === true,
    problems: s.problems ?? (cr.status ? [] : ['the operator has not written a status yet: is it running?']),
    masterName: s.masterName ?? names.group,
    master: parseAddress(s.master) ?? null,
    quorum: s.quorum ?? 0,
    nodes,
    sentinels,
  };
  return {
    ...status,
    user: 'default',
    sentinelUser: 'default',
    endpoints: { master: `${names.master}.${ns}.svc:${REDIS_PORT}`, replicas: `${names.replicas}.${ns}.svc:${REDIS_PORT}`, sentinel: `${names.sentinelService}.${ns}.svc:${SENTINEL_PORT}` },
    // With TLS, clients need ca.crt of this Secret (and, with tlsAuthClients 'yes', a certificate it signed).
    tls,
    ...(tls ? { tlsSecret: tlsSpec.secretName ?? `${name}-tls`, tlsAuthClients: tlsSpec.authClients ?? 'optional' } : {}),
    namespace: ns,
    resource: `${ns}/${name}`,
    observedGeneration: s.observedGeneration ?? null,
    generation: cr.metadata.generation ?? null,
    conditions: s.conditions ?? [],
    lastFailover: s.lastFailover ?? null,
  };
}

export type KubernetesStatusDocument = ReturnType<typeof kubernetesStatusOf>;

export function kubernetesStatusTable(doc: KubernetesStatusDocument): string {
  const master = doc.master ? addressKey(doc.master) : 'none';
  const failover = doc.lastFailover ? `, last failover ${doc.lastFailover.time} ${doc.lastFailover.from} -> ${doc.lastFailover.to} (${doc.lastFailover.reason}, epoch ${doc.lastFailover.epoch})` : '';
  const tls = doc.tls ? `, TLS only (CA: ca.crt in Secret ${doc.tlsSecret}${doc.tlsAuthClients === 'yes' ? '; client certificates required' : ''})` : '';
  const head = `${doc.resource} (Sentinel master name ${doc.masterName}): ${doc.healthy ? 'healthy' : 'NOT HEALTHY'}, master ${master} (endpoint ${doc.endpoints.master}, reads ${doc.endpoints.replicas}), quorum ${doc.quorum} of ${doc.sentinels.length}${tls}, as observed by the operator${failover}`;
  const why = notReadyLine(doc);
  return `${head}\n${why ? `${why}\n` : ''}\n${membersTable(doc)}`;
}

/**
 * Why the resource is not Ready, in one line a person can act on: the Ready condition's reason and
 * message as the operator wrote them (for a pod that cannot start: the pods, the kubelet's reason and
 * message, and the fix). Empty when it is Ready, or when the operator has not said yet.
 */
export function notReadyLine(doc: Pick<KubernetesStatusDocument, 'conditions' | 'healthy' | 'problems'>): string {
  if (doc.healthy) return '';
  const ready = doc.conditions.find((c) => c.type === 'Ready');
  if (ready && ready.status !== 'True') return `Not Ready (${ready.reason}): ${ready.message}`;
  return doc.problems[0] ? `Not Ready: ${doc.problems[0]}` : '';
}
