/**
 * The operator's decisions, as pure functions: which objects a RedisHA resource should have, what its
 * status says, which role label each Redis pod should carry. No I/O and no clock (time is passed in),
 * so they are tested exhaustively in `reconcile.test.ts`; `operator.ts` does the talking.
 */
import type { SwitchoverAnswer } from './switchover-request.ts';
import { X509Certificate, createHash } from 'node:crypto';
import { imageChangeRefusal, parseServerName, resolveSpec, SpecError, type RedisHASpec, type ServerVersion } from '../spec/index.ts';
import { UserError } from '../errors.ts';
import type { TopologyStatus } from '../observe/status.ts';
import type { Memory } from '../topology/observation.ts';
import type { Topology } from '../topology/observe.ts';
import { ACL_USERS, API_VERSION, KIND, MASTER_POD_LABEL, REDIS_PORT, ROLE_MASTER, ROLE_REPLICA, SECRET_KEYS, SENTINEL_PORT, TLS_KEYS, announcedHost, migrationConfigMap, namesOf, podHost, renderManifests, tlsDnsNames, tlsSecretName } from './render/index.ts';
import type { K8sObject } from './render/index.ts';
import type { ConditionType } from './crd.ts';
import { type Address, addressKey, parseAddress } from '../redis/address.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  managedFields?: unknown[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface RedisHAStatus {
  observedGeneration?: number;
  master?: string;
  masterPod?: string;
  readyReplicas?: number;
  replicas?: { pod: string; address: string; role: string; linkUp?: boolean; lagBytes?: number }[];
  sentinelsAgreeing?: number;
  lastFailover?: { time: string; from: string; to: string; reason: string; epoch: number };
  /** The answer to the last switchover request (switchover-request.ts). */
  switchover?: SwitchoverAnswer;
  memory?: { master?: string; epoch: number };
  /** The migration from spec.migrateFrom (kubernetes/migration.ts): its step, and its record. */
  migration?: MigrationStatus;
  healthy?: boolean;
  masterName?: string;
  quorum?: number;
  nodes?: ObservedNode[];
  sentinels?: ObservedSentinel[];
  problems?: string[];
  conditions?: Condition[];
}

/** Where the migration from spec.migrateFrom is, and its record (topology/migration.ts `MigrationRecord`, flattened). */
export interface MigrationStatus {
  phase: 'Running' | 'Failed' | 'Done';
  step: string;
  message: string;
  oldNodes?: string[];
  oldSentinels?: string[];
  oldPriorities?: Record<string, string>;
  startedAt?: string;
  switchingAt?: number;
  switchedTo?: string;
  finishedAt?: string;
  writePauseMs?: number;
  /** The old Sentinels were gone and ours forgot them (a failover needs a majority of ours alone). */
  oldSentinelsForgotten?: boolean;
}

/** A Redis node in status: what `status` shows, less the figures and offsets that change with every write. */
export interface ObservedNode {
  id: string;
  host: string;
  port: number;
  role: string;
  reachable: boolean;
  following?: string;
  linkUp?: boolean;
  lagBytes?: number;
  /** What it runs, from `INFO server`: `redis 7.0.15`, `valkey 9.1.2`; kept while it does not answer. The spec check of an image change reads it. */
  server?: string;
}

export interface ObservedSentinel {
  id: string;
  host: string;
  port: number;
  reachable: boolean;
  master?: string;
  masterFlags: string[];
  replicasSeen: number;
  otherSentinelsSeen: number;
  quorumOk: boolean;
  configEpoch: number;
  failoverInProgress: boolean;
  tilt: boolean;
}

export interface RedisHAResource {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: RedisHAStatus;
}

/** The two passwords the operator keeps in its Secret across passes (the spec never holds them). */
export interface Passwords {
  readonly password: string;
  readonly sentinelPassword: string;
}

export type Desired =
  | { readonly ok: true; readonly spec: RedisHASpec; readonly objects: K8sObject[]; readonly warnings: string[] }
  | { readonly ok: false; readonly problem: string };

/** The owner reference every object of a RedisHA carries, so deleting the resource deletes them. */
export function ownerReferenceOf(cr: RedisHAResource): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: cr.metadata.name, uid: cr.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/**
 * The objects a RedisHA should have: exactly what `redis-ha render` prints for its spec (except the Redis
 * StatefulSet's `OnDelete` update strategy: the operator rolls those pods itself), with an owner
 * reference (same namespace only: Kubernetes has no cross-namespace owners) and the Secret's values as
 * `data` (what the API server stores, so a re-apply compares equal). `kept`: the passwords of the
 * Secret the operator made earlier; without them new ones are generated (first pass only).
 * A spec the rules reject is `{ ok: false }`: a terminal problem, reported, not retried. So is an image
 * the running servers cannot replicate to (`imageChangeRefusal`, against what `status.nodes` says each
 * pod runs): nothing of it is applied, so no pod is replaced with a server that could not follow the master.
 */
export function desiredObjects(cr: RedisHAResource, kept: Passwords | undefined, generateSecret?: () => string): Desired {
  const input: Record<string, unknown> = structuredClone(cr.spec ?? {});
  const name = cr.metadata.name;
  const namespace = cr.metadata.namespace ?? 'default';
  if (input.name !== undefined && input.name !== name) return { ok: false, problem: `spec.name: must equal metadata.name "${name}" or be left out (got "${String(input.name)}")` };
  input.name = name;
  const auth = { ...((input.auth as Record<string, unknown> | undefined) ?? {}) };
  delete auth.password;
  delete auth.sentinelPassword;
  if (auth.existingSecret === undefined && kept) {
    auth.password = kept.password;
    auth.sentinelPassword = kept.sentinelPassword;
  }
  input.auth = auth;
  let spec: RedisHASpec;
  try {
    spec = resolveSpec(input, generateSecret ? { generateSecret } : {});
  } catch (err) {
    if (err instanceof SpecError) return { ok: false, problem: err.message.replace(/\s*\n\s*/g, '; ') };
    throw err;
  }
  const refusal = imageChangeRefusal(runningServers(cr.status), { flavor: spec.image.flavor, version: spec.image.tag }, spec.persistence.enabled);
  if (refusal) return { ok: false, problem: refusal };
  let rendered: ReturnType<typeof renderManifests>;
  try {
    // The operator keeps the master-pod label, so -master and -replicas select the pods themselves.
    rendered = renderManifests(spec, { namespace, routing: 'label' });
  } catch (err) {
    // What render refuses (tls.enabled without a certificate source) is the spec's problem: terminal, not retried.
    if (err instanceof SpecError || err instanceof UserError) return { ok: false, problem: err.message };
    throw err;
  }
  const owner = ownerReferenceOf(cr);
  // Once the source's Sentinels name one of ours, the pods start by the normal rules again.
  const migrated = spec.migrateFrom !== undefined && cr.status?.migration?.switchedTo !== undefined;
  const objects = rendered.objects.map((o) => {
    if (migrated && o.kind === 'ConfigMap' && o.metadata.name === namesOf(spec).migration) return { ...migrationConfigMap(spec, namespace, 'done'), metadata: { ...o.metadata, ownerReferences: [owner] } };
    const copy = structuredClone(o);
    if ((copy.metadata.namespace ?? namespace) === namespace) (copy.metadata as ObjectMeta).ownerReferences = [owner];
    // The operator rolls the Redis pods itself (replicas first, the master last through a switchover:
    // roll.ts); the StatefulSet controller only records the new revision.
    if (copy.kind === 'StatefulSet' && copy.metadata.name === namesOf(spec).redis) (copy.spec as Record<string, unknown>).updateStrategy = { type: 'OnDelete' };
    if (copy.kind === 'Secret' && copy.stringData) {
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(copy.stringData as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
      delete copy.stringData;
      copy.data = data;
    }
    return copy;
  });
  return { ok: true, spec, objects, warnings: rendered.warnings };
}

/** What each Redis pod runs, as the last status recorded it from the pods' `INFO server` (pods that did not answer are left out). */
export function runningServers(status: RedisHAStatus | undefined): { pod: string; server: ServerVersion }[] {
  return (status?.nodes ?? []).flatMap((n) => {
    const server = n.server === undefined ? undefined : parseServerName(n.server);
    return server ? [{ pod: n.id, server }] : [];
  });
}

/** Decodes a Secret's `data` field. */
export function secretValue(secret: { data?: Record<string, string> } | undefined, key: string): string | undefined {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/**
 * The passwords of the operator's own Secret, to render the same Secret again. `passwordKey`: the
 * application password's key (`redis-password` with `naming: bitnami`).
 */
export function keptPasswords(secret: { data?: Record<string, string> } | undefined, passwordKey: string = SECRET_KEYS.password): Passwords | undefined {
  const password = secretValue(secret, passwordKey);
  const sentinelPassword = secretValue(secret, SECRET_KEYS.sentinelPassword);
  return password && sentinelPassword ? { password, sentinelPassword } : undefined;
}

/** The name of the Secret holding a deployment's passwords: the user's, or the one the operator makes. */
export function secretNameOf(spec: RedisHASpec): string {
  return spec.auth.existingSecret ?? namesOf(spec).secret;
}


/** The Redis and Sentinel pods a spec asks for, by StatefulSet ordinal. */
export function podsOf(spec: RedisHASpec): { redis: string[]; sentinels: string[] } {
  const names = namesOf(spec);
  return {
    redis: Array.from({ length: spec.replicas + 1 }, (_, i) => `${names.redis}-${i}`),
    sentinels: Array.from({ length: spec.sentinels }, (_, i) => `${names.sentinel}-${i}`),
  };
}

/** The certificate Secret's contents as the operator uses them (held in memory, never written out). */
export interface TlsMaterial {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** The pod-template annotation holding the certificate's fingerprint: a renewed certificate rolls the pods. */
export const TLS_HASH_ANNOTATION = 'redis-ha.io/tls-hash';

/**
 * The deployment's certificate from its Secret (`tls.secretName`, or the one cert-manager writes), or
 * why it cannot be used yet, in one line naming the fix. Only for a spec with TLS on.
 */
export function tlsMaterialOf(spec: RedisHASpec, namespace: string, secret: { data?: Record<string, string> } | undefined): { ok: true; material: TlsMaterial } | { ok: false; problem: string } {
  const name = tlsSecretName(spec)!;
  if (!secret) {
    return {
      ok: false,
      problem: spec.tls?.certManager
        ? `Secret ${namespace}/${name} does not exist yet: waiting for cert-manager to issue Certificate ${namespace}/${name} (kubectl describe certificate -n ${namespace} ${name} says why when it does not)`
        : `Secret ${namespace}/${name} named by tls.secretName does not exist; create it with the keys ${Object.values(TLS_KEYS).join(', ')}`,
    };
  }
  const missing = Object.values(TLS_KEYS).filter((k) => !secretValue(secret, k)?.trim());
  if (missing.length) return { ok: false, problem: `Secret ${namespace}/${name} lacks the key(s) ${missing.join(', ')}; it must hold tls.crt, tls.key and ca.crt (the CA that signed tls.crt)` };
  const material = { caPem: secretValue(secret, TLS_KEYS.ca)!, certPem: secretValue(secret, TLS_KEYS.cert)!, keyPem: secretValue(secret, TLS_KEYS.key)! };
  for (const [key, pem] of [[TLS_KEYS.cert, material.certPem], [TLS_KEYS.ca, material.caPem]] as const) {
    try {
      new X509Certificate(pem);
    } catch {
      return { ok: false, problem: `Secret ${namespace}/${name}: ${key} is not a PEM certificate; put the PEM text there (-----BEGIN CERTIFICATE-----)` };
    }
  }
  return { ok: true, material };
}

/** A fingerprint of the certificate and the CA (public parts only), for TLS_HASH_ANNOTATION. */
export function tlsHash(m: TlsMaterial): string {
  return createHash('sha256').update(m.certPem).update('\0').update(m.caPem).digest('hex').slice(0, 16);
}

/**
 * The names (tlsDnsNames) the certificate does not cover, wildcards honoured. A pod hostname missing
 * breaks the operator's and the endpoint's checks; a Service name missing breaks clients that verify it.
 */
export function uncoveredNames(spec: RedisHASpec, namespace: string, certPem: string): string[] {
  const cert = new X509Certificate(certPem);
  return tlsDnsNames(spec, namespace).filter((name) => cert.checkHost(name) === undefined);
}

/**
 * `objects` with the certificate's fingerprint on both StatefulSets' pod templates. Redis reads its
 * certificate at start-up and Sentinel cannot reload one at all, so a renewed certificate is taken up
 * by replacing the pods: the Sentinels one at a time (RollingUpdate), the Redis pods through the
 * operator's own roll (replicas first, a switchover, the old master last).
 */
export function withTlsHash(objects: K8sObject[], material: TlsMaterial): K8sObject[] {
  const hash = tlsHash(material);
  return objects.map((o) => {
    if (o.kind !== 'StatefulSet') return o;
    const copy = structuredClone(o);
    const template = (copy.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
    template.metadata.annotations = { ...template.metadata.annotations, [TLS_HASH_ANNOTATION]: hash };
    return copy;
  });
}

/**
 * What the topology controller watches for this resource: every pod by its stable hostname (a pod
 * that does not exist yet is simply unreachable), the operator's ACL user, the Sentinel password, the
 * Sentinels' own ACL user for the nodes (what the pods' sentinel.conf says, kept by a repoint), and
 * with TLS the CA (plus the certificate and key when the pods require client certificates).
 * Throws when the Secret lacks a key, naming it.
 */
export function topologyOf(spec: RedisHASpec, namespace: string, secret: { data?: Record<string, string> } | undefined, tls?: TlsMaterial): Topology {
  const operatorPassword = secretValue(secret, SECRET_KEYS.operator);
  const sentinelPassword = secretValue(secret, SECRET_KEYS.sentinelPassword);
  const sentinelUserPassword = secretValue(secret, SECRET_KEYS.sentinelUser);
  const missing = [!operatorPassword && SECRET_KEYS.operator, !sentinelPassword && SECRET_KEYS.sentinelPassword, !sentinelUserPassword && SECRET_KEYS.sentinelUser].filter(Boolean);
  if (missing.length) throw new Error(`Secret ${namespace}/${secretNameOf(spec)} lacks the key(s) ${missing.join(', ')}`);
  const pods = podsOf(spec);
  return {
    masterName: namesOf(spec).group,
    quorum: spec.quorum,
    timings: { downAfterMilliseconds: spec.sentinel.downAfterMilliseconds, failoverTimeout: spec.sentinel.failoverTimeout, parallelSyncs: spec.sentinel.parallelSyncs },
    nodes: pods.redis.map((p) => ({ id: p, host: announcedHost(spec, namespace, p), port: REDIS_PORT })),
    sentinels: pods.sentinels.map((p) => ({ id: p, host: podHost(spec, namespace, p), port: SENTINEL_PORT })),
    nodeAuth: { username: ACL_USERS.operator, password: operatorPassword },
    sentinelAuth: { password: sentinelPassword },
    monitorAuth: { username: ACL_USERS.sentinel, password: sentinelUserPassword },
    // The key stays out of memory unless the pods demand a client certificate.
    ...(tls ? { tls: spec.tls?.authClients === 'yes' ? { caPem: tls.caPem, certPem: tls.certPem, keyPem: tls.keyPem } : { caPem: tls.caPem } } : {}),
  };
}

/** Memory read back from `status.memory`; epoch 0 and no master when there is none. */
/**
 * With spec.migrateFrom, until the migration's checks have passed (`checked`: its record exists): both
 * StatefulSets at 0 pods. A check that fails must change nothing, and our pods would: each Redis pod
 * becomes a replica of the source's master and each Sentinel joins the source's group as it starts.
 */
export function heldForMigration(objects: K8sObject[], spec: RedisHASpec, checked: boolean): K8sObject[] {
  if (!spec.migrateFrom || checked) return objects;
  const names = namesOf(spec);
  return withReplicas(objects, [names.redis, names.sentinel], 0);
}

/** `objects` with the StatefulSets named `names` at `replicas` pods: a hold on what the spec asks for. */
export function withReplicas(objects: K8sObject[], names: readonly string[], replicas: number): K8sObject[] {
  return objects.map((o) => (o.kind === 'StatefulSet' && names.includes(o.metadata.name) ? { ...o, spec: { ...(o.spec as object), replicas } } : o));
}

/**
 * The controller's memory as the status keeps it. `migratingFrom` (the first source Sentinel, while
 * spec.migrateFrom is set and the source's Sentinels have not switched to a node of ours): the planner's
 * rule 2.5 then leaves our nodes to the source's group (its first pass replaces the address with the
 * master that group names).
 */
export function memoryFromStatus(status: RedisHAStatus | undefined, migratingFrom?: Address): Memory {
  const m = status?.memory;
  const migrating = migratingFrom && !status?.migration?.switchedTo ? { migrateFrom: migratingFrom } : {};
  if (!m) return { epoch: 0, ...migrating };
  const master = parseAddress(m.master);
  return master ? { master, epoch: m.epoch ?? 0, ...migrating } : { epoch: m.epoch ?? 0, ...migrating };
}

function condition(type: ConditionType, ok: boolean | 'unknown', reason: string, message: string, generation: number | undefined, previous: Condition[] | undefined, now: string): Condition {
  const status = ok === 'unknown' ? 'Unknown' : ok ? 'True' : 'False';
  const before = previous?.find((c) => c.type === type);
  const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : now;
  return { type, status, observedGeneration: generation, lastTransitionTime, reason, message };
}

export interface StatusInput {
  readonly generation: number | undefined;
  readonly observed: TopologyStatus;
  readonly memory: Memory;
  readonly previous: RedisHAStatus | undefined;
  readonly lastFailover?: RedisHAStatus['lastFailover'];
  /**
   * Why pods are not starting, one sentence per cause with the kubelet's reason (pods.ts): when the
   * resource is not healthy the first is the Ready condition's reason and message (a pod that cannot
   * start is the cause of what the topology then shows) and they lead the problems.
   */
  readonly podProblems?: readonly { readonly reason: string; readonly message: string }[];
  /** The answer to the last switchover request, when this runtime gave one (else the previous status's stays). */
  readonly switchover?: RedisHAStatus['switchover'];
  /** The migration's state, when spec.migrateFrom is set (else the previous status's stays). */
  readonly migration?: MigrationStatus;
  /** ISO time, used only for conditions that change now. */
  readonly now: string;
  /**
   * Why the current spec is rejected (the operator applies nothing of it), when it is: the resource keeps
   * running on what was applied before, and Ready stays False with reason InvalidSpec and this message.
   */
  readonly rejected?: string;
}

/**
 * The status of a RedisHA, rebuilt from what was observed (never from the old status, except to keep
 * a condition's lastTransitionTime while its value holds, and the last failover).
 */
export function buildStatus(i: StatusInput): RedisHAStatus {
  const s = i.observed;
  const masterNode = s.master ? s.nodes.find((n) => addressKey(n) === addressKey(s.master!)) : undefined;
  const masterOk = masterNode !== undefined && masterNode.reachable && masterNode.role === 'master';
  const agreeing = s.master ? s.sentinels.filter((x) => x.master && addressKey(x.master) === addressKey(s.master!)).length : 0;
  const replicas = s.nodes
    .filter((n) => !masterNode || n.id !== masterNode.id)
    .map((n) => ({ pod: n.id, address: addressKey(n), role: n.role, ...(n.linkUp !== undefined ? { linkUp: n.linkUp } : {}), ...(n.lagBytes !== undefined ? { lagBytes: n.lagBytes } : {}) }));
  const readyReplicas = masterOk ? s.nodes.filter((n) => n.role === 'replica' && n.linkUp && s.master && n.following === addressKey(s.master)).length : 0;
  const g = i.generation;
  const prev = i.previous?.conditions;
  const pods = s.healthy ? [] : (i.podProblems ?? []);
  const problems = [...(i.rejected ? [i.rejected] : []), ...pods.map((p) => p.message), ...s.problems.map(stableProblem)];
  const first = problems[0] ?? '';
  const notReady = pods[0] ?? { reason: 'NotHealthy', message: `${problems.length} problem(s): ${first}` };
  const conditions: Condition[] = [
    i.rejected
      ? condition('Ready', false, 'InvalidSpec', i.rejected, g, prev, i.now)
      : condition('Ready', s.healthy, s.healthy ? 'Healthy' : notReady.reason, s.healthy ? `master ${masterNode?.id}, ${readyReplicas} replicas in sync, ${agreeing} of ${s.sentinels.length} Sentinels agree` : notReady.message, g, prev, i.now),
    condition('MasterAvailable', masterOk, masterOk ? 'MasterElected' : s.master ? 'MasterNotWritable' : 'NoAgreedMaster', masterOk ? `${masterNode!.id} is master` : s.master ? `the Sentinels name ${addressKey(s.master)}, which does not report role master` : `no master is named by a majority of the ${s.sentinels.length} Sentinels`, g, prev, i.now),
    condition('SentinelsAgree', s.sentinels.length > 0 && agreeing === s.sentinels.length, agreeing === s.sentinels.length ? 'AllAgree' : 'Disagree', `${agreeing} of ${s.sentinels.length} Sentinels name ${s.master ? addressKey(s.master) : 'the same master'}`, g, prev, i.now),
    i.rejected
      ? condition('Degraded', true, 'InvalidSpec', i.rejected, g, prev, i.now)
      : condition('Degraded', !s.healthy, s.healthy ? 'Healthy' : masterOk ? 'ServingWithProblems' : 'Unavailable', s.healthy ? 'no problems' : first, g, prev, i.now),
  ];
  const migration = i.migration ?? i.previous?.migration;
  if (migration) {
    const done = migration.phase === 'Done';
    const reason = done ? 'Migrated' : migration.phase === 'Failed' ? 'StepFailed' : `Step${migration.step.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`;
    conditions.push(condition('Migrated', done, reason, migration.message, g, prev, i.now));
  }
  return {
    observedGeneration: g,
    ...(s.master ? { master: addressKey(s.master) } : {}),
    ...(masterNode ? { masterPod: masterNode.id } : {}),
    readyReplicas,
    replicas,
    sentinelsAgreeing: agreeing,
    ...(i.lastFailover ?? i.previous?.lastFailover ? { lastFailover: i.lastFailover ?? i.previous!.lastFailover } : {}),
    ...(i.switchover ?? i.previous?.switchover ? { switchover: i.switchover ?? i.previous!.switchover } : {}),
    memory: { ...(i.memory.master ? { master: addressKey(i.memory.master) } : {}), epoch: i.memory.epoch },
    ...(migration ? { migration } : {}),
    healthy: s.healthy,
    masterName: s.masterName,
    quorum: s.quorum,
    nodes: s.nodes.map((n) => {
      const server = n.server ?? i.previous?.nodes?.find((p) => p.id === n.id)?.server;
      return {
        id: n.id, host: n.host, port: n.port, role: n.role, reachable: n.reachable,
        ...(n.following !== undefined ? { following: n.following } : {}),
        ...(n.linkUp !== undefined ? { linkUp: n.linkUp } : {}),
        ...(n.lagBytes !== undefined ? { lagBytes: n.lagBytes } : {}),
        // What it said now, else what it said last: a pod that does not answer keeps its server in status.
        ...(server ? { server } : {}),
      };
    }),
    sentinels: s.sentinels.map((x) => ({
      id: x.id, host: x.host, port: x.port, reachable: x.reachable,
      ...(x.master ? { master: addressKey(x.master) } : {}),
      masterFlags: [...x.masterFlags], replicasSeen: x.replicasSeen, otherSentinelsSeen: x.otherSentinelsSeen, quorumOk: x.quorumOk,
      configEpoch: x.configEpoch, failoverInProgress: x.failoverInProgress, tilt: x.tilt,
    })),
    problems,
    conditions,
  };
}

/**
 * Why a member could not be asked varies from one probe to the next (a lookup failure, then a timeout
 * under load) without anything having changed; status keeps only that it is unreachable, so it is not
 * rewritten for nothing. The operator's log has the details.
 */
function stableProblem(p: string): string {
  return p.replace(/ is unreachable: .*$/, ' is unreachable');
}

/** The status of a resource whose spec is rejected: terminal until the spec changes. */
export function invalidSpecStatus(problem: string, generation: number | undefined, previous: RedisHAStatus | undefined, now: string): RedisHAStatus {
  const prev = previous?.conditions;
  return {
    ...previous,
    observedGeneration: generation,
    problems: [problem],
    conditions: [
      condition('Ready', false, 'InvalidSpec', problem, generation, prev, now),
      condition('MasterAvailable', 'unknown', 'InvalidSpec', 'the spec is rejected; nothing is applied until it is fixed', generation, prev, now),
      condition('SentinelsAgree', 'unknown', 'InvalidSpec', 'the spec is rejected; nothing is applied until it is fixed', generation, prev, now),
      condition('Degraded', true, 'InvalidSpec', problem, generation, prev, now),
    ],
  };
}

/** True when two statuses say the same thing (so no write is needed). */
export function sameStatus(a: RedisHAStatus | undefined, b: RedisHAStatus | undefined): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).filter(([, y]) => y !== undefined).sort(([p], [q]) => p.localeCompare(q))) : x));
}

export interface PodLabels {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The role-label changes that make `masterPod` (null: none trusted) the only pod the `-master`
 * Service selects: demotions first, the new master last, so two pods are never selected at once.
 * `null` as a role removes the label (the pod then gets no traffic through either Service).
 */
export function roleLabelChanges(pods: readonly PodLabels[], masterPod: string | null): { pod: string; role: string | null }[] {
  const demote: { pod: string; role: string | null }[] = [];
  const promote: { pod: string; role: string | null }[] = [];
  for (const p of [...pods].sort((a, b) => a.name.localeCompare(b.name))) {
    const now = p.labels?.[MASTER_POD_LABEL];
    const want = masterPod === null ? (now === ROLE_MASTER ? null : now ?? null) : p.name === masterPod ? ROLE_MASTER : ROLE_REPLICA;
    if ((now ?? null) === want) continue;
    (want === ROLE_MASTER ? promote : demote).push({ pod: p.name, role: want });
  }
  return [...demote, ...promote];
}
