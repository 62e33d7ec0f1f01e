/**
 * One RedisHA's runtime inside the operator: the topology controller (the same brain as the local
 * runtime) on the pods' stable hostnames, the master-pod label publisher, the status writer and the
 * Events. The operator makes one per resource and replaces it when the topology (pods, auth) changes.
 */
import type { RedisHASpec } from '../spec/index.ts';
import { Controller } from '../topology/controller.ts';
import type { MasterPublisher } from '../topology/act.ts';
import { observe, type Topology } from '../topology/observe.ts';
import type { Memory, Observation } from '../topology/observation.ts';
import { statusOf, type StatusTarget } from '../observe/status.ts';
import { TopologyMetrics } from '../observe/metrics.ts';
import { KubeApiError, PATCH, type KubeClient } from './client.ts';
import { MASTER_POD_LABEL, namesOf } from './render/index.ts';
import { objectPath, typeOfKind, pathOf } from './resources.ts';
import type { EventRecorder } from './events.ts';
import { planRoll, type RollInput, type RollPod, type RollStep } from './roll.ts';
import { goneNodes, groupTroubles, neverReady, podTrouble, troubleSentence, type PodObject, type PodTrouble } from './pods.ts';
import { switchover } from '../topology/switchover.ts';
import { COMPONENT_LABEL } from './render/index.ts';
import { buildStatus, memoryFromStatus, roleLabelChanges, sameStatus, type MigrationStatus, type PodLabels, type RedisHAResource, type RedisHAStatus } from './reconcile.ts';
import { addressKey, type Address } from '../redis/address.ts';
import { withConnection } from '../redis/connect.ts';
import { nodeEndpointIn } from '../topology/observe.ts';
import { pendingSwitchover, type SwitchoverAnswer, type SwitchoverRequest } from './switchover-request.ts';
import { Coalesced } from '../coalesce.ts';
import { KubeMigration, migratingFrom } from './migration.ts';

export const STATUS_FIELD_MANAGER = 'redis-ha-operator-status';

/** How long a deleted pod's last address is given to answer, and how soon it is asked again while it does. */
const STOPPING_PROBE_MS = 300;
const STOPPING_RECHECK_MS = 100;

/** How the plan's reason for a `sentinel-failover` begins (plan.ts `askFailover`). */
const FAILOVER_REASON = 'asking Sentinel to fail over: ';

export interface RuntimeOptions {
  readonly client: KubeClient;
  readonly spec: RedisHASpec;
  readonly namespace: string;
  readonly topology: Topology;
  /** The resource as the informer holds it now (undefined once deleted). */
  readonly resource: () => RedisHAResource | undefined;
  /** The Redis pods of this resource as the informer holds them. */
  readonly pods: () => PodLabels[];
  /** The same pods as whole objects (status, deletionTimestamp): the crash rule's facts (`goneNodes`). */
  readonly podObjects: () => PodObject[];
  readonly events: EventRecorder;
  readonly log: (line: string) => void;
  readonly metrics: TopologyMetrics;
  readonly statusIntervalMs?: number;
  readonly controllerResyncMs?: number;
  /** The Redis pods the spec asks for; fewer than the StatefulSet has is a scale-down the operator holds back (`mayShrinkTo`). */
  readonly desiredPods?: () => number;
  /** Told when the roll has found that a held scale-down may go ahead. */
  readonly shrinkReady?: () => void;
  /** Why the operator rejects the resource's current spec, when it does (status: Ready False, InvalidSpec). */
  readonly rejected?: () => string | undefined;
  /** With spec.migrateFrom: told each time the migration's record is kept (its pods may start, the switchover happened). */
  readonly migrationRecorded?: () => void;
  /** With spec.migrateFrom: the application's and the Sentinels' passwords (the source's, kept in our Secret). */
  readonly migrationPasswords?: { readonly password: string; readonly sentinelPassword: string };
}

/** The master-pod label publisher: the `-master` Service selects the pod Sentinel names, and only it. */
export class LabelPublisher implements MasterPublisher {
  readonly #o: RuntimeOptions;
  readonly #hosts: Map<string, string>;
  /** undefined: nothing published yet, so labels are left as they are. */
  #masterPod: string | null | undefined;
  readonly #passes = new Coalesced(() => this.#label());

  constructor(o: RuntimeOptions) {
    this.#o = o;
    this.#hosts = new Map(o.topology.nodes.map((n) => [addressKey(n), n.id] as const));
  }

  get masterPod(): string | null | undefined {
    return this.#masterPod;
  }

  publish(master: Address | null): void {
    const pod = master ? (this.#hosts.get(addressKey(master)) ?? null) : null;
    if (pod === this.#masterPod) return;
    this.#masterPod = pod;
    this.sync();
  }

  /** Brings the labels in line with the last published master (also after a pod is recreated). */
  sync(): void {
    if (this.#masterPod !== undefined) void this.#passes.run();
  }

  /** One pass of `sync`: true (another pass) when a patch failed, after a short pause. */
  async #label(): Promise<boolean> {
    let failed = false;
    for (const change of roleLabelChanges(this.#o.pods(), this.#masterPod ?? null)) {
      try {
        await this.#o.client.request('PATCH', objectPath(typeOfKind('Pod'), change.pod, this.#o.namespace), {
          contentType: PATCH.merge,
          body: { metadata: { labels: { [MASTER_POD_LABEL]: change.role } } },
        });
        this.#o.log(`Patched Pod label pod=${this.#o.namespace}/${change.pod} ${MASTER_POD_LABEL}=${change.role ?? '(removed)'}`);
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 404)) this.#o.log(`could not label pod ${change.pod}: ${(err as Error).message}`);
        failed = true;
      }
    }
    if (failed) await new Promise((r) => setTimeout(r, 200));
    return failed && this.#masterPod !== undefined;
  }

  idle(): Promise<void> {
    return this.#passes.idle();
  }
}

export class DeploymentRuntime {
  readonly #o: RuntimeOptions;
  readonly publisher: LabelPublisher;
  readonly #controller: Controller;
  readonly #target: StatusTarget;
  #memory: Memory;
  #lastFailover?: NonNullable<RedisHAStatus['lastFailover']>;
  #requestedAt = 0;
  #troubleAt = 0;
  #timer?: NodeJS.Timeout;
  #writing: Promise<void> = Promise.resolve();
  #statusQueued = false;
  #stopped = false;
  #lastWritten?: RedisHAStatus;
  #rolling = false;
  #rollEnabled = false;
  /** The last roll step's verdict on a held scale-down: to this many pods, at this time. */
  #shrink?: { pods: number; at: number };
  #lastRollReason = '';
  /** Causes of pods not starting (pods.ts troubleKey) already told in an Event: one Event per cause until the resource is healthy again. */
  readonly #toldTroubles = new Set<string>();
  #podsUnreadable = '';
  #switchover?: SwitchoverAnswer;
  /** The pod facts last handed to the controller, as text: a change wakes it (`podsChanged`). */
  #goneSeen = '';
  /**
   * Every IP seen for each Redis pod name, kept after the pod object is gone or replaced until nothing
   * answers there: a force-deleted pod's Redis may still run at its old address, beside its replacement.
   */
  readonly #addresses = new Map<string, Set<string>>();
  #stoppingRecheck?: NodeJS.Timeout;
  /** The controller's last reason: why a `sentinel-failover` was asked, for its Event. */
  #reason = '';
  /** With spec.migrateFrom: the migration's steps (migration.ts), run by the leader. */
  readonly #migration?: KubeMigration;

  constructor(o: RuntimeOptions) {
    this.#o = o;
    this.publisher = new LabelPublisher(o);
    this.#memory = memoryFromStatus(o.resource()?.status, migratingFrom(o.spec));
    if (o.spec.migrateFrom && o.migrationPasswords) {
      this.#migration = new KubeMigration({
        spec: o.spec,
        topology: o.topology,
        ...o.migrationPasswords,
        resource: o.resource,
        events: o.events,
        log: o.log,
        recorded: () => o.migrationRecorded?.(),
        persist: async () => {
          this.writeStatusSoon();
          await this.#writing;
          // The write swallows its errors (and skips a resource being deleted): the record must be in status.
          const want = JSON.stringify(this.#migration?.status());
          if (![this.#lastWritten?.migration, o.resource()?.status?.migration].some((m) => JSON.stringify(m) === want)) {
            throw new Error("could not keep the migration's record in status (see the operator's log)");
          }
        },
      });
    }
    this.#target = { name: o.spec.name, ...o.topology };
    const name = `${o.namespace}/${o.spec.name}`;
    this.#controller = new Controller(o.topology, {
      memory: {
        load: () => this.#memory,
        save: (m) => {
          this.#memory = m;
          this.writeStatusSoon();
        },
      },
      publisher: this.publisher,
      log: (line) => o.log(`${name}: ${line}`),
      resyncMs: o.controllerResyncMs ?? 2000,
      gone: () => this.#gone(),
    });
    this.#controller.addObserver(o.metrics.observer);
    this.#controller.addObserver({
      reason: (e) => {
        this.#reason = e.text;
      },
      action: (e) => {
        const cr = o.resource();
        if (e.kind === 'sentinel-failover' && e.ok) this.#requestedAt = e.at;
        // A failover's Event says why it was asked (a master gone, a restarted one empty): the plan's reason.
        const why = e.kind === 'sentinel-failover' && this.#reason.startsWith(FAILOVER_REASON) ? `: ${this.#reason.slice(FAILOVER_REASON.length)}` : '';
        if (cr) o.events.record(cr, e.ok ? 'Normal' : 'Warning', e.ok ? 'Repaired' : 'RepairFailed', e.ok ? `did ${e.description}${why}` : `could not ${e.description}${why}: ${e.error}`);
      },
      sentinelEvent: (e) => {
        if (e.type === '+odown' || e.type === '+sdown' || e.type === '+try-failover') this.#troubleAt = e.at;
      },
      masterChanged: (e) => {
        const window = o.spec.sentinel.failoverTimeout * 2;
        const reason = e.at - this.#requestedAt < window ? 'Requested' : e.at - this.#troubleAt < window ? 'MasterDown' : 'Observed';
        this.#lastFailover = { time: new Date(e.at).toISOString(), from: e.from.id, to: e.to.id, reason, epoch: 0 };
        const cr = o.resource();
        const took = e.durationMs !== undefined ? ` in ${e.durationMs} ms` : '';
        if (cr) o.events.record(cr, reason === 'Requested' ? 'Normal' : 'Warning', 'Failover', `master moved from ${e.from.id} to ${e.to.id}${took} (${reason})`);
        this.writeStatusSoon();
      },
    });
  }

  /**
   * The pod facts the plan reads as `gone` (pods.ts `goneNodes`), from the informer's cache, less the
   * nodes whose Redis still answers at an address its pod had. Force-deleted, a pod's object is gone at
   * once and the StatefulSet creates its replacement under the same name, but the old Redis runs on
   * through the preStop hook (which pauses writes and hands the master over) until the kubelet stops
   * it: a master still taking writes is not gone, and a failover forced meanwhile loses what it
   * acknowledges before its preStop pauses it (seen in CI: 836 writes). While one still answers, this
   * looks again every 100 ms and wakes the controller once it stops.
   */
  async #gone(): Promise<Map<string, string>> {
    const pods = this.#o.podObjects();
    for (const p of pods) {
      const ip = p.status?.podIP;
      if (!ip) continue;
      // An address belongs to one pod at a time: another pod's old claim to it goes.
      for (const [name, ips] of this.#addresses) if (name !== p.metadata.name) ips.delete(ip);
      const seen = this.#addresses.get(p.metadata.name) ?? new Set<string>();
      this.#addresses.set(p.metadata.name, seen.add(ip));
    }
    const facts = goneNodes(this.#o.topology.nodes.map((n) => n.id), pods, this.#o.resource()?.metadata.annotations);
    const answering = await Promise.all(this.#o.topology.nodes.filter((n) => facts.has(n.id)).map(async (n) => {
      const ips = [...(this.#addresses.get(n.id) ?? [])];
      const answers = await Promise.all(ips.map(async (ip) => {
        const ok = await withConnection({ ...nodeEndpointIn(this.#o.topology, { host: ip, port: n.port }), servername: n.host }, (c) => c.call('PING'), STOPPING_PROBE_MS).then(() => true, () => false);
        // Nothing runs there any more; a pod that gets this address again is seen again.
        if (!ok) this.#addresses.get(n.id)?.delete(ip);
        return ok;
      }));
      return answers.some(Boolean) ? n.id : undefined;
    }));
    for (const id of answering) {
      if (!id) continue;
      facts.delete(id);
      if (!this.#stoppingRecheck && !this.#stopped) {
        this.#stoppingRecheck = setTimeout(() => {
          this.#stoppingRecheck = undefined;
          this.podsChanged();
        }, STOPPING_RECHECK_MS);
      }
    }
    return facts;
  }

  /**
   * A Redis pod of this resource changed (informer): when what the crash rule knows changed (a pod
   * deleted, a container that stopped or started, a deleted pod's Redis that stopped answering), the
   * controller looks at once rather than at its next resync; Sentinel says nothing until down-after.
   */
  podsChanged(): void {
    void this.#gone().then((facts) => {
      const seen = JSON.stringify([...facts]);
      if (seen === this.#goneSeen) return;
      this.#goneSeen = seen;
      if (facts.size) this.#o.log(`${this.#o.namespace}/${this.#o.spec.name}: not running: ${[...facts.values()].join('; ')}`);
      this.#controller.trigger();
    });
  }

  /** With spec.migrateFrom: the migration's state as this runtime has it (ahead of the informer's copy of the status). */
  migrationStatus(): MigrationStatus | undefined {
    return this.#migration?.status();
  }

  /**
   * Whether the Redis StatefulSet may go down to `pods` now: the roll found, within the last 5 s, that
   * the master is one of the pods that stay and that they are in sync (roll.ts `shrink`).
   */
  mayShrinkTo(pods: number): boolean {
    return this.#shrink !== undefined && this.#shrink.pods === pods && Date.now() - this.#shrink.at < 5000;
  }

  /** The topology this runtime watches, as a comparable key (passwords included as they are, never logged). */
  static keyOf(t: Topology): string {
    return JSON.stringify(t);
  }

  start(runController: boolean): void {
    this.#rollEnabled = runController;
    if (runController) this.#controller.start();
    if (runController) this.#migration?.start();
    const tick = () => {
      this.writeStatusSoon();
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.statusIntervalMs ?? 5000);
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#stoppingRecheck);
    // The migration's loop ends at its next check (a step under way finishes first; not awaited).
    void this.#migration?.stop();
    await this.#controller.stop();
    await this.#writing;
    await this.publisher.idle();
  }

  /**
   * Observes the pods and writes the status if it says something new; one write at a time, and at
   * most one more queued behind it: a burst of reasons (pod and StatefulSet events during a roll) is
   * served by one fresh look, not one write each.
   */
  writeStatusSoon(): void {
    if (this.#statusQueued) return;
    this.#statusQueued = true;
    this.#writing = this.#writing
      .then(() => {
        this.#statusQueued = false;
        return this.#writeStatus();
      })
      .catch((err) => this.#o.log(`${this.#o.namespace}/${this.#o.spec.name}: could not write status: ${(err as Error).message}`));
  }

  /**
   * One step of a roll (roll.ts), in the background: a switchover takes seconds and status keeps being
   * written meanwhile. The next status pass plans the next step from a fresh observation.
   */
  #roll(input: RollInput): void {
    this.#rolling = true;
    const name = `${this.#o.namespace}/${this.#o.spec.name}`;
    void (async () => {
      let step: RollStep | undefined;
      try {
        step = planRoll(input);
        this.#shrink = step.kind === 'shrink' ? { pods: step.pods, at: Date.now() } : undefined;
        if (step.kind === 'shrink') {
          if (step.reason !== this.#lastRollReason) this.#o.log(`${name}: scale-down: ${step.reason}`);
          this.#lastRollReason = step.reason;
          this.#o.shrinkReady?.();
          return;
        }
        if (step.kind === 'done') {
          if (this.#lastRollReason !== '' && this.#lastRollReason !== step.reason) {
            this.#o.log(`${name}: rolling update finished: ${step.reason}`);
            const cr = this.#o.resource();
            if (cr) this.#o.events.record(cr, 'Normal', 'RollingUpdateDone', step.reason);
          }
          this.#lastRollReason = '';
          return;
        }
        if (step.reason !== this.#lastRollReason) this.#o.log(`${name}: rolling update: ${step.kind}: ${step.reason}`);
        this.#lastRollReason = step.reason;
        const cr = this.#o.resource();
        if (step.kind === 'delete') {
          await this.#o.client.request('DELETE', objectPath(typeOfKind('Pod'), step.pod, this.#o.namespace)).catch((err) => {
            if (!(err instanceof KubeApiError && err.status === 404)) throw err;
          });
          if (cr) this.#o.events.record(cr, 'Normal', 'RollingUpdate', `deleted pod ${step.pod}: ${step.reason}`);
        } else if (step.kind === 'replace-stuck') {
          for (const pod of step.pods) {
            await this.#o.client.request('DELETE', objectPath(typeOfKind('Pod'), pod, this.#o.namespace)).catch((err) => {
              if (!(err instanceof KubeApiError && err.status === 404)) throw err;
            });
          }
          if (cr) this.#o.events.record(cr, 'Normal', 'RollingUpdate', `deleted ${step.pods.length === 1 ? 'pod' : 'pods'} ${step.pods.join(', ')}: ${step.reason}`);
        } else if (step.kind === 'switchover') {
          const target = step.to;
          const to = this.#o.topology.nodes.find((n) => n.id === target);
          if (!to) return;
          this.#requestedAt = Date.now(); // the master move this causes is Requested, not MasterDown
          const r = await switchover(this.#o.topology, { to, timeoutMs: 60_000, log: (line) => this.#o.log(`${name}: switchover: ${line}`) });
          if (cr) this.#o.events.record(cr, 'Normal', 'RollingUpdate', `switched the master over from ${r.from.id} to ${r.to.id} (writes paused ${Math.round(r.writePauseMs)} ms): ${step.reason}`);
        }
      } catch (err) {
        this.#o.log(`${name}: rolling update step failed: ${(err as Error).message}`);
        const cr = this.#o.resource();
        if (cr && step && step.kind !== 'wait') this.#o.events.record(cr, 'Warning', 'RollingUpdateFailed', `${step.kind === 'delete' ? `could not delete ${step.pod}` : step.kind === 'replace-stuck' ? `could not delete ${step.pods.join(', ')}` : step.kind === 'switchover' ? `could not switch over to ${step.to}` : step.reason}: ${(err as Error).message}`);
      } finally {
        this.#rolling = false;
        // A step changes the world: look again soon rather than at the next status tick.
        if (step && step.kind !== 'done' && !this.#stopped) setTimeout(() => this.writeStatusSoon(), step.kind === 'wait' || step.kind === 'replace-stuck' || step.kind === 'shrink' ? 1000 : 2000).unref();
      }
    })();
  }

  /**
   * The pods' causes of not starting as one sentence each (pods.ts), and one Warning Event per cause,
   * its reason the kubelet's: told once, not on every pass, until the resource is healthy again.
   */
  #podProblems(cr: RedisHAResource, troubles: readonly PodTrouble[], healthy: boolean): { reason: string; message: string }[] {
    if (healthy && troubles.length === 0) this.#toldTroubles.clear();
    return groupTroubles(troubles).map((g) => {
      const message = troubleSentence(g, this.#o.namespace);
      if (!this.#toldTroubles.has(g.key)) {
        this.#toldTroubles.add(g.key);
        this.#o.log(`${this.#o.namespace}/${this.#o.spec.name}: ${message}`);
        this.#o.events.record(cr, 'Warning', g.first.reason, message);
      }
      return { reason: g.first.reason, message };
    });
  }

  /** Runs the switchover a user asked for (`kubectl redisha failover`); answers in status and an Event. */
  #requestedSwitchover(request: SwitchoverRequest): void {
    this.#rolling = true;
    const name = `${this.#o.namespace}/${this.#o.spec.name}`;
    void (async () => {
      let answer: SwitchoverAnswer;
      try {
        const to = request.to === undefined ? undefined : this.#o.topology.nodes.find((n) => n.id === request.to);
        if (request.to !== undefined && !to) throw new Error(`no Redis pod ${request.to} in ${name} (its pods: ${this.#o.topology.nodes.map((n) => n.id).join(', ')})`);
        this.#o.log(`${name}: switchover requested (${request.token})${to ? ` to ${to.id}` : ''}`);
        this.#requestedAt = Date.now();
        const r = await switchover(this.#o.topology, { ...(to ? { to } : {}), timeoutMs: 60_000, log: (line) => this.#o.log(`${name}: switchover: ${line}`) });
        answer = { request: request.token, time: new Date().toISOString(), result: 'Succeeded', message: `master moved from ${r.from.id} to ${r.to.id}, writes paused ${Math.round(r.writePauseMs)} ms`, from: r.from.id, to: r.to.id };
      } catch (err) {
        answer = { request: request.token, time: new Date().toISOString(), result: 'Failed', message: (err as Error).message };
      }
      this.#switchover = answer;
      const cr = this.#o.resource();
      if (cr) this.#o.events.record(cr, answer.result === 'Succeeded' ? 'Normal' : 'Warning', answer.result === 'Succeeded' ? 'Switchover' : 'SwitchoverFailed', answer.message);
      this.#rolling = false;
      this.writeStatusSoon();
    })();
  }

  async #writeStatus(): Promise<void> {
    if (this.#stopped) return;
    const cr = this.#o.resource();
    if (!cr || cr.metadata.deletionTimestamp) return;
    // One probe round: the status, the metrics and the roll all read it.
    const observation = await observe(this.#target, 1000);
    const observed = statusOf(this.#target, observation);
    this.#o.metrics.update(observed);
    let world: (RollInput & { troubles: PodTrouble[] }) | undefined;
    try {
      world = await rollInputOf(this.#o.client, this.#o.spec, this.#o.namespace, observation, this.#memory, this.#o.desiredPods?.());
      this.#podsUnreadable = '';
    } catch (err) {
      const problem = (err as Error).message;
      if (problem !== this.#podsUnreadable) this.#o.log(`${this.#o.namespace}/${this.#o.spec.name}: could not read the pods and StatefulSets: ${problem}`);
      this.#podsUnreadable = problem;
    }
    // A switchover asked with the annotation goes first; it and a roll step never run at once.
    const pending = pendingSwitchover(cr.metadata.annotations, (this.#switchover ?? cr.status?.switchover)?.request);
    if (pending && this.#rollEnabled && !this.#rolling) this.#requestedSwitchover(pending);
    else if (world && this.#rollEnabled && !this.#rolling) this.#roll(world);
    const podProblems = this.#podProblems(cr, world?.troubles ?? [], observed.healthy);
    const lastFailover = this.#lastFailover ? { ...this.#lastFailover, epoch: this.#lastFailover.epoch || this.#memory.epoch } : undefined;
    const previous = this.#lastWritten ?? cr.status;
    const status = buildStatus({ generation: cr.metadata.generation, observed, memory: this.#memory, previous, lastFailover, podProblems, switchover: this.#switchover, migration: this.#migration?.status(), now: new Date().toISOString(), rejected: this.#o.rejected?.() });
    if (sameStatus(status, cr.status) || (this.#lastWritten && sameStatus(status, this.#lastWritten) && sameStatus(this.#lastWritten, cr.status))) return;
    await writeStatus(this.#o.client, cr, status);
    const changed = Object.keys(status).filter((k) => JSON.stringify((status as Record<string, unknown>)[k]) !== JSON.stringify((cr.status as Record<string, unknown> | undefined)?.[k]));
    this.#o.log(`Wrote status ${this.#o.namespace}/${this.#o.spec.name} (changed: ${changed.join(', ') || 'field order'})`);
    this.#lastWritten = status;
  }
}

interface StatefulSetObject {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; updateRevision?: string; currentRevision?: string; readyReplicas?: number; updatedReplicas?: number; replicas?: number };
}

/**
 * The roll's view of the world: the Redis pods, both StatefulSets' revisions, `observed` and `memory`;
 * and why any Redis or Sentinel pod is not starting (`troubles`, Redis pods first), for status and Events.
 */
export async function rollInputOf(client: KubeClient, spec: RedisHASpec, namespace: string, observed: Observation, memory: Memory, desiredPods?: number): Promise<RollInput & { troubles: PodTrouble[] }> {
  const names = namesOf(spec);
  const stsType = typeOfKind('StatefulSet');
  const [redis, sentinels, podList] = await Promise.all([
    client.find<StatefulSetObject>(objectPath(stsType, names.redis, namespace)),
    client.find<StatefulSetObject>(objectPath(stsType, names.sentinel, namespace)),
    client.get<{ items: PodObject[] }>(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: `app.kubernetes.io/instance=${spec.name},${COMPONENT_LABEL} in (redis,sentinel)` }),
  ]);
  const component = (p: PodObject) => p.metadata.labels?.[COMPONENT_LABEL];
  const byName = (a: PodObject, b: PodObject) => (component(a) === component(b) ? a.metadata.name.localeCompare(b.metadata.name, 'en', { numeric: true }) : component(a) === 'redis' ? -1 : 1);
  const all = [...podList.items].sort(byName);
  const pods: RollPod[] = all.filter((p) => component(p) === 'redis').map((p) => {
    const trouble = podTrouble(p);
    return {
      name: p.metadata.name,
      revision: p.metadata.labels?.['controller-revision-hash'],
      ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      terminating: p.metadata.deletionTimestamp !== undefined,
      neverReady: neverReady(p),
      ...(trouble ? { trouble } : {}),
    };
  });
  const troubles = all.map(podTrouble).filter((t) => t !== undefined);
  const want = (s: StatefulSetObject | undefined) => s?.spec?.replicas ?? 0;
  const sentinelsRolledOut = sentinels !== undefined && sentinels.status?.observedGeneration === sentinels.metadata.generation &&
    sentinels.status?.updateRevision === sentinels.status?.currentRevision && (sentinels.status?.updatedReplicas ?? 0) === want(sentinels) && (sentinels.status?.readyReplicas ?? 0) === want(sentinels);
  return {
    updateRevision: redis?.status?.updateRevision,
    observedLatest: redis !== undefined && redis.status?.observedGeneration === redis.metadata.generation,
    replicas: want(redis),
    desiredPods: desiredPods ?? want(redis),
    pods,
    sentinelsRolledOut,
    observed,
    memory,
    troubles,
  };
}

/** Server-side apply of `status` through the status subresource, under the status field manager. */
export async function writeStatus(client: KubeClient, cr: RedisHAResource, status: RedisHAStatus): Promise<void> {
  const body = { apiVersion: cr.apiVersion, kind: cr.kind, metadata: { name: cr.metadata.name, namespace: cr.metadata.namespace }, status };
  await client.apply(`${pathOf(cr)}/status`, body, STATUS_FIELD_MANAGER);
}
