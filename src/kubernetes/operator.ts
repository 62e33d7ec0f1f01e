/**
 * The operator loop. Informers (list + watch, resumed on 410) on RedisHA resources, their pods and the
 * StatefulSets and Services they own only enqueue the resource's `namespace/name`; one worker takes
 * names off the queue and reconciles each from the whole world (level-based):
 *
 *   1. read the resource and the Secret that holds its passwords;
 *   2. with TLS, read the certificate Secret (the user's, or cert-manager's); until it exists only what
 *      does not mount it is applied (the Certificate among it), and the pass is retried;
 *   3. render its objects (exactly what `redis-ha render` prints, plus the certificate's fingerprint on
 *      the pod templates) and server-side apply them under the fixed field manager; the API server
 *      turns an unchanged apply into no write at all;
 *   4. prune objects it owns that the spec no longer asks for (after a generation change);
 *   5. keep one runtime per resource (topology controller, label publisher, status writer), speaking
 *      TLS with the CA from the Secret when the pods serve TLS.
 *
 * A rejected spec is terminal: a condition and an Event, no retry until the spec changes.
 */
import { KubeApiError, transient, type KubeClient } from './client.ts';
import { Informer } from './informer.ts';
import { API_GROUP, BITNAMI_PASSWORD_KEY, COMPONENT_LABEL, SECRET_KEYS, namesOf, passwordKeyOf, tlsSecretName } from './render/index.ts';
import type { K8sObject } from './render/index.ts';
import { PLURAL, VERSION } from './crd.ts';
import { OWNED_KINDS, collectionPath, objectPath, pathOf, typeOfKind } from './resources.ts';
import { eventRecorder, type EventRecorder } from './events.ts';
import { DeploymentRuntime, writeStatus } from './runtime.ts';
import { desiredObjects, heldForMigration, withReplicas, invalidSpecStatus, keptPasswords, sameStatus, secretValue, type Passwords, tlsHash, tlsMaterialOf, topologyOf, uncoveredNames, withTlsHash, type ObjectMeta, type RedisHAResource, type TlsMaterial } from './reconcile.ts';
import { TopologyMetrics } from '../observe/metrics.ts';
import type { PodObject } from './pods.ts';
import type { RedisHASpec } from '../spec/index.ts';
import { Counter, Gauge, Registry } from 'prom-client';

/** The field manager of every object the operator applies. Fixed: a rename would orphan field ownership. */
export const FIELD_MANAGER = 'redis-ha-operator';

/** The label that gives a RedisHA to the operator of that class (`operator --class`). */
export const OPERATOR_CLASS_LABEL = 'redis-ha.io/operator';

/** The RedisHA resources an operator of class `operatorClass` (none: the default operator) acts on. */
export function classSelector(operatorClass: string | undefined): string {
  return operatorClass ? `${OPERATOR_CLASS_LABEL}=${operatorClass}` : `!${OPERATOR_CLASS_LABEL}`;
}

export interface OperatorOptions {
  readonly client: KubeClient;
  /** Watch one namespace; all when undefined. */
  readonly namespace?: string;
  /**
   * The operator class: with one, only RedisHA resources labelled `redis-ha.io/operator: <class>` are
   * this operator's; without, only those without that label. Two operators (say, one per namespace
   * from the Helm chart beside a cluster-wide one) then never act on the same resource.
   */
  readonly operatorClass?: string;
  readonly identity: string;
  readonly log: (line: string) => void;
  /** Start the topology controller per resource (off: apply and status only). Default true. */
  readonly controllers?: boolean;
  readonly statusIntervalMs?: number;
  readonly controllerResyncMs?: number;
  /** Every resource is reconciled again this often, whatever the watches say. */
  readonly resyncMs?: number;
  /**
   * Each TLS resource's certificate Secret is read again this often (one GET); a renewed certificate
   * queues the resource, whose pods then roll onto it. The operator does not watch Secrets: its RBAC
   * reads named Secrets only. Default 30 s.
   */
  readonly certificateCheckMs?: number;
}

interface Pod {
  metadata: ObjectMeta;
}

export interface OperatorStats {
  reconciles: number;
  /** Applies that changed an object (its resourceVersion moved). */
  writes: number;
  /** Applies the API server found unchanged. */
  unchanged: number;
  deletes: number;
}

const MANAGED = 'app.kubernetes.io/managed-by=redis-ha';

/** What of a RedisHA a reconcile acts on: everything but its status (the spec shows in the generation). */
function whatReconcileReads(cr: RedisHAResource): string {
  const m = cr.metadata;
  return JSON.stringify([m.uid, m.generation, m.labels ?? {}, m.annotations ?? {}, m.deletionTimestamp ?? null]);
}

export class Operator {
  readonly #o: OperatorOptions;
  readonly #events: EventRecorder;
  readonly #resources: Informer<RedisHAResource>;
  readonly #pods: Informer<Pod>;
  readonly #owned: Informer<{ metadata: ObjectMeta }>[];
  readonly #runtimes = new Map<string, { key: string; runtime: DeploymentRuntime; metrics: TopologyMetrics }>();
  readonly #queue = new Set<string>();
  readonly #pruned = new Map<string, number>();
  /** Per resource, the generation of the spec it rejects and why: reported once, and kept in the runtime's status. */
  readonly #rejected = new Map<string, { generation: number; problem: string }>();
  /** Per resource, the last certificate problem or name warning an Event was recorded for (one Event each, not one per retry). */
  readonly #tlsTold = new Map<string, string>();
  /** Per resource: the Redis pods its spec asks for (the runtime's roll reads it), and the held scale-down last told. */
  readonly #desiredPods = new Map<string, number>();
  readonly #scaleTold = new Map<string, string>();
  /** Per TLS resource, the certificate its pods were last given: what the certificate check compares with. */
  readonly #certificates = new Map<string, { secret: string; spec: RedisHASpec; hash: string }>();
  #certificateCheck?: NodeJS.Timeout;
  /** Per resource, whatReconcileReads() at its last queued change. */
  readonly #seen = new Map<string, string>();
  #working = false;
  #stopped = false;
  #resync?: NodeJS.Timeout;
  #worker: Promise<void> = Promise.resolve();
  readonly registry = new Registry();
  readonly #reconcileCounter: Counter;
  readonly stats: OperatorStats = { reconciles: 0, writes: 0, unchanged: 0, deletes: 0 };
  synced = false;

  constructor(o: OperatorOptions) {
    this.#o = o;
    this.#events = eventRecorder(o.client, o.identity, o.log);
    const crType = { apiVersion: `${API_GROUP}/${VERSION}`, kind: 'RedisHA', plural: PLURAL, namespaced: true };
    const log = (line: string) => o.log(line);
    this.#resources = new Informer<RedisHAResource>(o.client, collectionPath(crType, o.namespace), {
      log,
      labelSelector: classSelector(o.operatorClass),
      onChange: (type, cr) => {
        const key = `${cr.metadata.namespace}/${cr.metadata.name}`;
        // The operator's own status writes come back as updates too. Reconciling on them would refresh
        // the status again at once: under write load (replica lag changes every look) a loop of several
        // writes a second. Only a change to what the operator acts on queues the resource.
        const seen = whatReconcileReads(cr);
        if (type === 'deleted') this.#seen.delete(key);
        else if (type === 'updated' && this.#seen.get(key) === seen) return;
        else this.#seen.set(key, seen);
        this.enqueue(key);
      },
    });
    this.#pods = new Informer<Pod>(o.client, collectionPath(typeOfKind('Pod'), o.namespace), {
      log,
      labelSelector: `${MANAGED},${COMPONENT_LABEL}=redis`,
      onChange: (_t, pod) => {
        const instance = pod.metadata.labels?.['app.kubernetes.io/instance'];
        const runtime = instance ? this.#runtimes.get(`${pod.metadata.namespace}/${instance}`)?.runtime : undefined;
        runtime?.publisher.sync();
        runtime?.podsChanged();
      },
    });
    // Drift in what we own (an edited or deleted StatefulSet or Service) brings its owner back in line.
    this.#owned = (['StatefulSet', 'Service'] as const).map(
      (kind) =>
        new Informer<{ metadata: ObjectMeta }>(o.client, collectionPath(typeOfKind(kind), o.namespace), {
          log,
          labelSelector: MANAGED,
          onChange: (_t, obj) => {
            const owner = obj.metadata.ownerReferences?.find((r) => r.kind === 'RedisHA' && r.controller);
            if (owner) this.enqueue(`${obj.metadata.namespace}/${owner.name}`);
          },
        }),
    );
    this.#reconcileCounter = new Counter({ name: 'redis_ha_operator_reconciles_total', help: 'Reconcile passes, by result', labelNames: ['result'], registers: [this.registry] });
    const self = this;
    new Gauge({ name: 'redis_ha_operator_resources', help: 'RedisHA resources the operator runs', registers: [this.registry], collect() { this.set(self.#runtimes.size); } });
    new Gauge({
      name: 'redis_ha_operator_watch_lists_total', help: 'Lists per watched collection (1 at start, +1 after each 410 Gone)', labelNames: ['collection'], registers: [this.registry],
      collect() {
        this.reset();
        for (const [name, inf] of [['redishas', self.#resources], ['pods', self.#pods], ['statefulsets', self.#owned[0]!], ['services', self.#owned[1]!]] as const) this.set({ collection: name }, inf.lists);
      },
    });
  }

  /** Starts the informers (resolves once each has listed) and the worker. */
  async start(): Promise<void> {
    await Promise.all([this.#resources.start(), this.#pods.start(), ...this.#owned.map((i) => i.start())]);
    this.synced = true;
    this.#o.log(`Synced caches: ${this.#resources.list().length} RedisHA resource(s)${this.#o.namespace ? ` in ${this.#o.namespace}` : ''}`);
    for (const cr of this.#resources.list()) this.enqueue(`${cr.metadata.namespace}/${cr.metadata.name}`);
    const resync = () => {
      for (const cr of this.#resources.list()) this.enqueue(`${cr.metadata.namespace}/${cr.metadata.name}`);
      if (!this.#stopped) this.#resync = setTimeout(resync, this.#o.resyncMs ?? 300_000);
    };
    this.#resync = setTimeout(resync, this.#o.resyncMs ?? 300_000);
    const checkCertificates = () => {
      void this.#checkCertificates().finally(() => {
        if (!this.#stopped) this.#certificateCheck = setTimeout(checkCertificates, this.#o.certificateCheckMs ?? 30_000);
      });
    };
    this.#certificateCheck = setTimeout(checkCertificates, this.#o.certificateCheckMs ?? 30_000);
  }

  /** Queues every TLS resource whose certificate Secret no longer holds the certificate its pods were given. */
  async #checkCertificates(): Promise<void> {
    for (const [key, c] of this.#certificates) {
      const namespace = key.split('/')[0]!;
      try {
        const secret = await this.#secret(c.secret, namespace);
        const m = tlsMaterialOf(c.spec, namespace, secret);
        if (!m.ok || tlsHash(m.material) !== c.hash) {
          this.#o.log(`${key}: ${m.ok ? `the certificate in Secret ${namespace}/${c.secret} changed; rolling it out` : m.problem}`);
          this.enqueue(key);
        }
      } catch (err) {
        this.#o.log(`${key}: could not read certificate Secret ${namespace}/${c.secret}: ${(err as Error).message}`);
      }
    }
  }

  /** Stops watching and every runtime; the work in flight finishes first. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#resync);
    clearTimeout(this.#certificateCheck);
    for (const i of [this.#resources, this.#pods, ...this.#owned]) i.stop();
    await this.#worker;
    await Promise.all([...this.#runtimes.values()].map((r) => r.runtime.stop()));
    this.#runtimes.clear();
  }

  /** Queues a resource by `namespace/name`; a name already queued is not queued twice. */
  enqueue(key: string): void {
    if (this.#stopped) return;
    this.#queue.add(key);
    if (!this.#working) this.#worker = this.#work();
  }

  /** Resolves when the queue is empty and nothing is being reconciled (tests). */
  async idle(): Promise<void> {
    while (this.#working || this.#queue.size) await this.#worker;
  }

  /** /metrics: the operator's own series and every resource's topology series, labelled by resource. */
  async metricsText(): Promise<string> {
    const all = [await this.registry.getMetricsAsJSON()];
    for (const r of this.#runtimes.values()) all.push(await r.metrics.registry.getMetricsAsJSON());
    const { AggregatorRegistry } = await import('prom-client');
    return AggregatorRegistry.aggregate(all).metrics();
  }

  async #work(): Promise<void> {
    this.#working = true;
    try {
      while (this.#queue.size && !this.#stopped) {
        const key = this.#queue.values().next().value as string;
        this.#queue.delete(key);
        try {
          const sentence = await this.reconcile(key);
          this.#reconcileCounter.inc({ result: 'ok' });
          if (sentence) this.#o.log(`${key}: ${sentence}`);
        } catch (err) {
          this.#reconcileCounter.inc({ result: 'error' });
          this.#o.log(`${key}: reconcile failed: ${(err as Error).message}${transient(err) ? '; retrying in 2 s' : ''}`);
          if (transient(err)) setTimeout(() => this.enqueue(key), 2000).unref();
        }
      }
    } finally {
      this.#working = false;
    }
  }

  /** One level-based pass for one resource; returns a sentence saying what changed ('' when nothing). */
  async reconcile(key: string): Promise<string> {
    this.stats.reconciles++;
    const [namespace, name] = key.split('/') as [string, string];
    const cr = this.#resources.get(namespace, name);
    if (!cr || cr.metadata.deletionTimestamp) return this.#forget(key);
    // 1. The Secret and the desired objects.
    const wanted = await this.#desired(cr, key);
    if (typeof wanted === 'string') return wanted;
    // 2. The certificate (tls.enabled).
    const { objects, tls } = await this.#certificate(cr, key, wanted.desired);
    // 3. A scale-down of the Redis pods waits until the master is one that stays.
    const scaled = await this.#holdScaleDown(cr, key, objects, wanted.desired.spec);
    // 4. Apply and prune (with spec.migrateFrom, no pods until the migration's checks have passed).
    const checked = this.#withMigration(cr, key).status?.migration?.startedAt !== undefined;
    const changed = await this.#applyAll(cr, key, heldForMigration(scaled.objects, scaled.spec, checked));
    // 5. The runtime.
    const runtime = await this.#ensureRuntime(cr, key, scaled.spec, wanted.appliedSecret, tls);
    if (runtime) changed.push(runtime);
    return changed.length ? changed.join(', ') : '';
  }

  /**
   * The StatefulSet controller removes the highest ordinals on a scale-down, whatever their role. So
   * while the spec asks for fewer Redis pods than the StatefulSet has, the StatefulSet keeps its count
   * (and the runtime watches every pod) until the runtime's roll has found the master among the pods
   * that stay, switching over to one of them first if need be (roll.ts, step 4a; `mayShrinkTo`). One
   * Event says it is held, and why.
   */
  async #holdScaleDown(cr: RedisHAResource, key: string, objects: K8sObject[], spec: RedisHASpec): Promise<{ objects: K8sObject[]; spec: RedisHASpec }> {
    const want = spec.replicas + 1;
    this.#desiredPods.set(key, want);
    const name = namesOf(spec).redis;
    const current = await this.#o.client.find<{ spec?: { replicas?: number } }>(objectPath(typeOfKind('StatefulSet'), name, cr.metadata.namespace));
    const now = current?.spec?.replicas;
    if (now === undefined || want >= now || this.#runtimes.get(key)?.runtime.mayShrinkTo(want)) {
      this.#scaleTold.delete(key);
      return { objects, spec };
    }
    const why = `scaling down from ${now} to ${want} Redis pods: held until the master is one of the pods that stay and they are in sync`;
    if (this.#scaleTold.get(key) !== why) {
      this.#scaleTold.set(key, why);
      this.#o.log(`${key}: ${why}`);
      this.#events.record(cr, 'Normal', 'ScaleDownHeld', why);
    }
    return { objects: withReplicas(objects, [name], now), spec: { ...spec, replicas: now - 1 } };
  }

  /** The resource is gone (or going): its controller stops; its objects go through their owner references. */
  async #forget(key: string): Promise<string> {
    this.#desiredPods.delete(key);
    this.#scaleTold.delete(key);
    this.#tlsTold.delete(key);
    this.#certificates.delete(key);
    const r = this.#runtimes.get(key);
    if (!r) return '';
    this.#runtimes.delete(key);
    await r.runtime.stop();
    return 'resource deleted: stopped its controller (its objects go with it through their owner references)';
  }

  /**
   * The Secret (the user's, or the one we made, whose passwords we keep) and the objects the spec asks
   * for; a string when the spec is rejected (the reconcile's result). Throws when the user's Secret is missing.
   */
  async #desired(cr: RedisHAResource, key: string): Promise<{ desired: Extract<ReturnType<typeof desiredObjects>, { ok: true }>; appliedSecret: { data?: Record<string, string> } | undefined } | string> {
    const { namespace, name } = cr.metadata as { namespace: string; name: string };
    const existing = (cr.spec?.auth as { existingSecret?: string } | undefined)?.existingSecret;
    const naming = cr.spec?.naming === 'bitnami' ? 'bitnami' : 'redis-ha';
    const secretName = existing ?? namesOf({ name, naming }).secret;
    const secret = await this.#secret(secretName, namespace);
    const kept = existing === undefined ? keptPasswords(secret, naming === 'bitnami' ? BITNAMI_PASSWORD_KEY : undefined) : undefined;
    const desired = desiredObjects(this.#withMigration(cr, key), kept ?? (await this.#sourcePasswords(cr)));
    if (!desired.ok) return this.#rejectSpec(cr, desired.problem);
    if (desired.spec.migrateFrom && !cr.status?.migration && cr.status?.masterPod) {
      return this.#rejectSpec(cr, `migrateFrom: ${namespace}/${name} already runs as a deployment of its own (master ${cr.status.masterPod}); a migration starts a new RedisHA: apply one under another name, and remove migrateFrom here`);
    }
    this.#rejected.delete(key);
    if (existing !== undefined && !secret) {
      this.#events.record(cr, 'Warning', 'MissingSecret', `Secret ${namespace}/${existing} (auth.existingSecret) does not exist; create it with the keys the README lists`);
      throw new KubeApiError(409, 'MissingSecret', `Secret ${namespace}/${existing} named by auth.existingSecret does not exist`);
    }
    const appliedSecret = existing === undefined ? { data: (desired.objects.find((o) => o.kind === 'Secret')?.data as Record<string, string>) } : secret;
    return { desired, appliedSecret };
  }

  /**
   * The certificate, read from its Secret through the API, never written anywhere; the objects with its
   * hash. Until it exists, applies what does not mount it (cert-manager needs its Certificate to issue
   * it) and throws: a pod would only wait for the volume, then roll when it appears.
   */
  async #certificate(cr: RedisHAResource, key: string, desired: Extract<ReturnType<typeof desiredObjects>, { ok: true }>): Promise<{ objects: K8sObject[]; tls?: TlsMaterial }> {
    const namespace = cr.metadata.namespace as string;
    const tlsName = tlsSecretName(desired.spec);
    if (tlsName === undefined) {
      this.#certificates.delete(key);
      return { objects: desired.objects };
    }
    const tlsSecret = await this.#secret(tlsName, namespace);
    const m = tlsMaterialOf(desired.spec, namespace, tlsSecret);
    if (!m.ok) {
      const changed: string[] = [];
      for (const o of desired.objects) if (o.kind !== 'StatefulSet' && o.kind !== 'Deployment' && (await this.#apply(o, cr))) changed.push(`${o.kind}/${o.metadata.name}`);
      if (changed.length) this.#events.record(cr, 'Normal', 'Applied', `applied ${changed.join(', ')}`);
      // Waiting for cert-manager is what a new resource does first (Normal); a user Secret that is missing or incomplete is not.
      const issuing = desired.spec.tls?.certManager !== undefined && tlsSecret === undefined;
      this.#tellOnce(cr, issuing ? 'Normal' : 'Warning', issuing ? 'WaitingForCertificate' : 'MissingTlsSecret', m.problem);
      throw new KubeApiError(409, 'WaitingForCertificate', m.problem);
    }
    const tls = m.material;
    this.#certificates.set(key, { secret: tlsName, spec: desired.spec, hash: tlsHash(tls) });
    const uncovered = uncoveredNames(desired.spec, namespace, tls.certPem);
    if (uncovered.length)
      this.#tellOnce(cr, 'Warning', 'CertificateNames', `the certificate in Secret ${namespace}/${tlsName} does not name ${uncovered.length} of the hosts clients and peers connect by, so TLS clients that verify names fail on them: ${uncovered.join(', ')}`, tlsHash(tls));
    else this.#tlsTold.delete(key);
    return { objects: withTlsHash(desired.objects, tls), tls };
  }

  /**
   * Applies in render's order (Secret and ConfigMaps before the StatefulSets that mount them), then
   * prunes what a previous generation made and this one does not ask for; one Event for what changed.
   */
  async #applyAll(cr: RedisHAResource, key: string, objects: K8sObject[]): Promise<string[]> {
    const changed: string[] = [];
    for (const o of objects) if (await this.#apply(o, cr)) changed.push(`${o.kind}/${o.metadata.name}`);
    const generation = cr.metadata.generation ?? 0;
    if (this.#pruned.get(key) !== generation) {
      changed.push(...(await this.#prune(cr, objects)));
      this.#pruned.set(key, generation);
    }
    if (changed.length) this.#events.record(cr, 'Normal', 'Applied', `applied ${changed.join(', ')}`);
    return changed;
  }

  /**
   * The resource's runtime (topology controller, labels, status, roll), replaced when what it watches
   * changed (a renewed certificate too); what was done, or undefined when it runs on.
   */
  async #ensureRuntime(cr: RedisHAResource, key: string, spec: RedisHASpec, appliedSecret: { data?: Record<string, string> } | undefined, tls: TlsMaterial | undefined): Promise<string | undefined> {
    const { namespace, name } = cr.metadata as { namespace: string; name: string };
    const topology = topologyOf(spec, namespace, appliedSecret, tls);
    const runtimeKey = DeploymentRuntime.keyOf(topology);
    const current = this.#runtimes.get(key);
    if (current?.key === runtimeKey) {
      current.runtime.writeStatusSoon();
      return undefined;
    }
    if (current) await current.runtime.stop();
    const metrics = new TopologyMetrics();
    metrics.registry.setDefaultLabels({ namespace, redisha: name });
    const runtime = new DeploymentRuntime({
      client: this.#o.client,
      spec,
      namespace,
      topology,
      resource: () => this.#resources.get(namespace, name),
      pods: () => this.#pods.list(namespace).filter((p) => p.metadata.labels?.['app.kubernetes.io/instance'] === name).map((p) => ({ name: p.metadata.name, labels: p.metadata.labels })),
      // The informer holds whole Pods; `Pod` here types only what the operator itself reads.
      podObjects: () => this.#pods.list(namespace).filter((p) => p.metadata.labels?.['app.kubernetes.io/instance'] === name) as unknown as PodObject[],
      events: this.#events,
      log: this.#o.log,
      metrics,
      statusIntervalMs: this.#o.statusIntervalMs,
      controllerResyncMs: this.#o.controllerResyncMs,
      desiredPods: () => this.#desiredPods.get(key) ?? spec.replicas + 1,
      shrinkReady: () => this.enqueue(key),
      migrationRecorded: () => this.enqueue(key),
      rejected: () => this.#rejected.get(key)?.problem,
      ...(spec.migrateFrom
        ? { migrationPasswords: { password: secretValue(appliedSecret, passwordKeyOf(spec)) ?? '', sentinelPassword: secretValue(appliedSecret, SECRET_KEYS.sentinelPassword) ?? '' } }
        : {}),
    });
    this.#runtimes.set(key, { key: runtimeKey, runtime, metrics });
    runtime.start(this.#o.controllers !== false);
    return current ? 'restarted its topology controller' : 'started its topology controller';
  }

  /**
   * With spec.migrateFrom, before the deployment's own Secret exists: the source's passwords, from the
   * Secret it names (the Secret the operator then makes keeps them: clients and the source's Sentinels
   * go on using them). Throws, with an Event, when that Secret or key is missing.
   */
  async #sourcePasswords(cr: RedisHAResource): Promise<Passwords | undefined> {
    const from = cr.spec?.migrateFrom as { secretName?: string; passwordKey?: string; sentinelPasswordKey?: string } | undefined;
    if (!from?.secretName) return undefined;
    const namespace = cr.metadata.namespace as string;
    const secret = await this.#secret(from.secretName, namespace);
    const key = from.passwordKey ?? 'redis-password';
    const password = secretValue(secret, key);
    const sentinelPassword = secretValue(secret, from.sentinelPasswordKey ?? key);
    if (!password || !sentinelPassword) {
      const what = !secret ? 'does not exist' : `has no key ${!password ? key : from.sentinelPasswordKey}`;
      this.#events.record(cr, 'Warning', 'MissingSecret', `Secret ${namespace}/${from.secretName} (migrateFrom.secretName) ${what}; it must hold the source's passwords`);
      throw new KubeApiError(409, 'MissingSecret', `Secret ${namespace}/${from.secretName} named by migrateFrom.secretName ${what}`);
    }
    return { password, sentinelPassword };
  }

  /** The resource with its migration's state as the runtime has it now (the informer's copy of the status may lag behind the write). */
  #withMigration(cr: RedisHAResource, key: string): RedisHAResource {
    const migration = this.#runtimes.get(key)?.runtime.migrationStatus();
    return migration ? { ...cr, status: { ...cr.status, migration } } : cr;
  }

  /** A Secret read by name (the operator may not list Secrets); undefined when there is none. */
  #secret(name: string, namespace: string): Promise<{ data?: Record<string, string> } | undefined> {
    return this.#o.client.find<{ data?: Record<string, string> }>(objectPath(typeOfKind('Secret'), name, namespace));
  }

  /** One Warning Event per distinct problem of a resource (`token` tells one occurrence from the next), not one per retry. */
  #tellOnce(cr: RedisHAResource, type: 'Normal' | 'Warning', reason: string, message: string, token = ''): void {
    const key = `${cr.metadata.namespace}/${cr.metadata.name}`;
    const said = `${reason}:${token}:${message}`;
    if (this.#tlsTold.get(key) === said) return;
    this.#tlsTold.set(key, said);
    this.#events.record(cr, type, reason, message);
  }

  /** Server-side apply; true when the object changed (created, or its resourceVersion moved). */
  async #apply(o: K8sObject, cr: RedisHAResource): Promise<boolean> {
    const path = pathOf(o);
    let before: string | undefined;
    try {
      before = (await this.#o.client.find<{ metadata: ObjectMeta }>(path))?.metadata.resourceVersion;
      const after = await this.#o.client.apply<{ metadata: ObjectMeta }>(path, o, FIELD_MANAGER);
      const wrote = after.metadata.resourceVersion !== before;
      if (wrote) {
        this.stats.writes++;
        this.#o.log(`Applied ${o.kind} ${o.metadata.namespace}/${o.metadata.name} (${before ? 'updated' : 'created'})`);
      } else this.stats.unchanged++;
      return wrote;
    } catch (err) {
      // Kinds whose CRD is not installed (ServiceMonitor, PrometheusRule): say so, do not block the rest.
      if (err instanceof KubeApiError && err.status === 404 && o.apiVersion.startsWith('monitoring.coreos.com/')) {
        this.#o.log(`skipped ${o.kind} ${o.metadata.name}: the prometheus-operator CRDs are not installed`);
        return false;
      }
      // No Certificate kind: without cert-manager nothing would ever issue the certificate the pods need.
      if (err instanceof KubeApiError && err.status === 404 && o.apiVersion.startsWith('cert-manager.io/')) {
        const problem = `cert-manager is not installed (the API server has no ${o.apiVersion} ${o.kind}): install cert-manager, or put your own certificate in a Secret and name it in tls.secretName`;
        this.#tellOnce(cr, 'Warning', 'CertManagerMissing', problem);
        throw new KubeApiError(409, 'CertManagerMissing', problem);
      }
      throw err;
    }
  }

  /** Deletes objects of the owned kinds that this resource controls and no longer wants. Secrets are never pruned. */
  async #prune(cr: RedisHAResource, desired: K8sObject[]): Promise<string[]> {
    const namespace = cr.metadata.namespace!;
    const wanted = new Set(desired.map((o) => `${o.kind}/${o.metadata.name}`));
    const deleted: string[] = [];
    for (const kind of OWNED_KINDS) {
      if (kind === 'Secret') continue;
      const t = typeOfKind(kind);
      let items: { metadata: ObjectMeta }[];
      try {
        items = (await this.#o.client.get<{ items: { metadata: ObjectMeta }[] }>(collectionPath(t, namespace), { labelSelector: `${MANAGED},app.kubernetes.io/instance=${cr.metadata.name}` })).items;
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) continue;
        throw err;
      }
      for (const item of items) {
        const owned = item.metadata.ownerReferences?.some((r) => r.uid === cr.metadata.uid && r.controller);
        if (!owned || wanted.has(`${kind}/${item.metadata.name}`)) continue;
        await this.#o.client.request('DELETE', objectPath(t, item.metadata.name, namespace)).catch((err) => {
          if (!(err instanceof KubeApiError && err.status === 404)) throw err;
        });
        this.stats.deletes++;
        deleted.push(`deleted ${kind}/${item.metadata.name}`);
      }
    }
    return deleted;
  }

  async #rejectSpec(cr: RedisHAResource, problem: string): Promise<string> {
    const key = `${cr.metadata.namespace}/${cr.metadata.name}`;
    const generation = cr.metadata.generation ?? 0;
    const told = cr.status?.conditions?.some((c) => c.type === 'Ready' && c.reason === 'InvalidSpec' && c.observedGeneration === generation);
    const before = this.#rejected.get(key);
    this.#rejected.set(key, { generation, problem });
    // A resource that runs keeps running on what was applied before; its runtime writes the status (what
    // it observes, with Ready False for this reason), so the two writers never undo each other.
    const runtime = this.#runtimes.get(key)?.runtime;
    if (runtime) runtime.writeStatusSoon();
    else {
      const status = invalidSpecStatus(problem, generation, cr.status, new Date().toISOString());
      if (!sameStatus(status, cr.status)) await writeStatus(this.#o.client, cr, status);
    }
    if (before?.generation === generation || told) return '';
    this.#events.record(cr, 'Warning', 'InvalidSpec', problem);
    return `spec rejected (nothing applied until it changes): ${problem}`;
  }
}
