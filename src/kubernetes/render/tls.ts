/**
 * TLS on Kubernetes: where the certificate comes from, the names it must carry, and what the pods add to
 * use it. Two sources, one shape: a cert-manager `Certificate` (render emits it; cert-manager writes the
 * Secret `<name>-tls`) or a Secret the user manages (`tls.secretName`). Either Secret holds `tls.crt`,
 * `tls.key` and `ca.crt`, mounted read-only at TLS_DIR in every pod that speaks to Redis or Sentinel.
 *
 * One certificate serves every Redis node and Sentinel and is also what they present as clients
 * (replication, Sentinel links, redis-ha's own probes and the endpoint's checks), so it carries both
 * server auth and client auth, and `tls.authClients: yes` works without another certificate.
 */
import { SpecError, tlsEnabled, type RedisHASpec } from '../../spec/index.ts';
import type { K8sObject } from './object.ts';
import { meta } from './object.ts';
import { commonLabels, namesOf } from './names.ts';

/** Where the certificate Secret is mounted. */
export const TLS_DIR = '/etc/redis-ha/tls';

/** The keys of the certificate Secret, as cert-manager writes them (and `kubernetes.io/tls` plus `ca.crt`). */
export const TLS_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

/** The mounted files. */
export const TLS_FILES = { cert: `${TLS_DIR}/${TLS_KEYS.cert}`, key: `${TLS_DIR}/${TLS_KEYS.key}`, ca: `${TLS_DIR}/${TLS_KEYS.ca}` } as const;

/** The cert-manager API the Certificate is written for. */
export const CERT_MANAGER_API_VERSION = 'cert-manager.io/v1';

/**
 * The Secret holding the deployment's certificate: the user's (`tls.secretName`) or the one
 * cert-manager writes (`<name>-tls`); undefined without TLS.
 * Throws a SpecError (bad input, exit 2) when TLS is on without a source: on Kubernetes nothing
 * generates certificates.
 */
export function tlsSecretName(spec: RedisHASpec): string | undefined {
  if (!tlsEnabled(spec)) return undefined;
  const tls = spec.tls!;
  if (tls.secretName !== undefined) return tls.secretName;
  if (tls.certManager !== undefined) return `${spec.name}-tls`;
  throw new SpecError([
    'tls.enabled: on Kubernetes the certificate must come from somewhere: set tls.certManager.issuerRef.name (cert-manager issues it) or tls.secretName (a Secret you manage with tls.crt, tls.key and ca.crt)',
  ]);
}

/**
 * Every name a client, a replica, a Sentinel, the endpoint or the operator may connect by, which the
 * certificate's SANs must list: each pod's stable hostname (`<pod>.<name>-headless.<ns>.svc`, what the
 * pods announce to Sentinel, and its fully qualified form), and each Service (`-headless`, `-master`,
 * `-replicas`, `-sentinel`, and `-endpoint` when enabled) as `svc`, `svc.ns`, `svc.ns.svc` and
 * `svc.ns.svc.<clusterDomain>`.
 * @example tlsDnsNames(resolveSpec({ name: 'shop', tls: { enabled: true, secretName: 's' } }), 'apps')
 */
export function tlsDnsNames(spec: RedisHASpec, namespace: string): string[] {
  const names = namesOf(spec);
  const domain = spec.tls?.clusterDomain ?? 'cluster.local';
  const pods = [
    ...Array.from({ length: spec.replicas + 1 }, (_, i) => `${names.redis}-${i}`),
    ...Array.from({ length: spec.sentinels }, (_, i) => `${names.sentinel}-${i}`),
  ];
  const services = [names.headless, names.master, names.replicas, names.sentinelService, ...(spec.endpoint.enabled ? [`${spec.name}-endpoint`] : [])];
  return [
    ...pods.flatMap((pod) => [`${pod}.${names.headless}.${namespace}.svc`, `${pod}.${names.headless}.${namespace}.svc.${domain}`]),
    ...services.flatMap((svc) => [svc, `${svc}.${namespace}`, `${svc}.${namespace}.svc`, `${svc}.${namespace}.svc.${domain}`]),
  ];
}

/** The cert-manager Certificate of a deployment whose spec has `tls.certManager`; undefined otherwise. */
export function certificate(spec: RedisHASpec, namespace: string): K8sObject | undefined {
  const cm = spec.tls?.certManager;
  if (!tlsEnabled(spec) || cm === undefined) return undefined;
  return {
    apiVersion: CERT_MANAGER_API_VERSION,
    kind: 'Certificate',
    metadata: meta(`${spec.name}-tls`, namespace, commonLabels(spec.name)),
    spec: {
      secretName: tlsSecretName(spec),
      // Labelled like the rest, so `kubectl get secret -l app.kubernetes.io/instance=<name>` shows it.
      secretTemplate: { labels: commonLabels(spec.name) },
      dnsNames: tlsDnsNames(spec, namespace),
      ...(cm.duration !== undefined ? { duration: cm.duration } : {}),
      ...(cm.renewBefore !== undefined ? { renewBefore: cm.renewBefore } : {}),
      // A fresh key on every renewal: a leaked key stops working at the next one.
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      // Served to clients and presented to peers (replication, Sentinel links, probes).
      usages: ['digital signature', 'server auth', 'client auth'],
      issuerRef: { name: cm.issuerRef.name, kind: cm.issuerRef.kind, group: cm.issuerRef.group },
    },
  };
}

/**
 * redis.conf / sentinel.conf lines of a member listening on `port`: TLS only (`port 0` closes
 * plaintext), TLS for the links it opens (`tls-replication yes`: replication, and Sentinel's links to
 * the nodes and to the other Sentinels), and the port it tells others to reach it by.
 */
export function tlsConfLines(spec: RedisHASpec, port: number, component: 'redis' | 'sentinel'): string[] {
  return [
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${TLS_FILES.cert}`,
    `tls-key-file ${TLS_FILES.key}`,
    `tls-ca-cert-file ${TLS_FILES.ca}`,
    `tls-auth-clients ${spec.tls?.authClients ?? 'optional'}`,
    'tls-replication yes',
    component === 'redis' ? `replica-announce-port ${port}` : `sentinel announce-port ${port}`,
  ];
}

/** redis-cli's TLS flags in the pods' scripts: verify against the CA and present the certificate (works in every authClients mode). */
export const CLI_TLS_FLAGS = `--tls --cacert ${TLS_FILES.ca} --cert ${TLS_FILES.cert} --key ${TLS_FILES.key}`;

/**
 * The certificate volume. `items` names the three keys, so a Secret lacking one keeps the pod from
 * starting with the kubelet naming the key, instead of a Redis that fails on a missing file.
 */
export function tlsVolume(secretName: string): Record<string, unknown> {
  return {
    name: 'tls',
    secret: {
      secretName,
      defaultMode: 0o440,
      items: Object.values(TLS_KEYS).map((key) => ({ key, path: key })),
    },
  };
}

export const TLS_VOLUME_MOUNT = { name: 'tls', mountPath: TLS_DIR, readOnly: true } as const;
