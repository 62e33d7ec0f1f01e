/**
 * The operator's runtime for the migration's steps (topology/migration.ts): `spec.migrateFrom` moves a
 * running Sentinel deployment into this RedisHA. The objects are the reconcile's (rendered in migration
 * mode: the pods follow the master the source's Sentinels name, and ours join their group); this runs
 * the steps once the pods are there, keeps the record in `status.migration`, tells each step in an Event
 * and retries a failed run. Nothing here decides: the steps do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisHASpec } from '../spec/types.ts';
import { type Address, parseAddress } from '../redis/address.ts';
import { errorText } from '../redis/probe.ts';
import type { Source, SourceObservation } from '../topology/migrate.ts';
import {
  forgetOldSentinels, migrate, MigrationFailed, progressLine, type MigrationRecord, type MigrationRuntime, type MigrationStep, type Member, type OwnDeployment,
} from '../topology/migration.ts';
import { observe, type Topology } from '../topology/observe.ts';
import { agreedMaster } from '../topology/observation.ts';
import type { EventRecorder } from './events.ts';
import type { MigrationStatus, RedisHAResource } from './reconcile.ts';

/** How long a failed run waits before the next (the failure is in status and an Event meanwhile). */
const RETRY_MS = 10_000;
/** How long the new nodes may take to get in sync with the source master before a run fails (and is retried). */
const SYNC_TIMEOUT_MS = 600_000;

export interface KubeMigrationOptions {
  readonly spec: RedisHASpec;
  /** Our deployment, as the controller watches it (the operator's user). */
  readonly topology: Topology;
  /** The application's and the Sentinels' passwords: the source's, kept in our Secret. */
  readonly password: string;
  readonly sentinelPassword: string;
  readonly resource: () => RedisHAResource | undefined;
  readonly events: EventRecorder;
  readonly log: (line: string) => void;
  /** Writes the status now (the record must be kept before the step that needs it goes on). */
  readonly persist: () => Promise<void>;
  /** The record was kept (the checks passed, or the switchover happened): the reconcile looks again (pods held at 0, the migration ConfigMap's state). */
  readonly recorded: () => void;
}

/** The first source Sentinel: what the controller's memory starts with while migrating (plan rule 2.5). */
export function migratingFrom(spec: RedisHASpec): Address | undefined {
  return spec.migrateFrom ? parseAddress(spec.migrateFrom.sentinels[0] ?? '') : undefined;
}

export class KubeMigration implements MigrationRuntime {
  readonly source: Source;
  readonly #o: KubeMigrationOptions;
  #status: MigrationStatus | undefined;
  #stopped = false;
  #running?: Promise<void>;
  #lastStep?: MigrationStep;

  constructor(o: KubeMigrationOptions) {
    this.#o = o;
    const from = o.spec.migrateFrom!;
    this.source = {
      sentinels: from.sentinels.map((s) => parseAddress(s) as Address),
      masterName: from.masterName,
      password: o.password,
      sentinelPassword: o.sentinelPassword,
    };
    this.#status = o.resource()?.status?.migration;
  }

  /** What status.migration shows now. */
  status(): MigrationStatus | undefined {
    return this.#status;
  }

  /** Runs the steps until done (leader only), retrying a failed run. */
  start(): void {
    if (this.#running) return;
    this.#running = (this.#status?.phase === 'Done' ? Promise.resolve() : this.#loop()).then(() => this.#forgetWhenGone());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #loop(): Promise<void> {
    const name = `${this.#o.resource()?.metadata.namespace}/${this.#o.spec.name}`;
    while (!this.#stopped) {
      try {
        const result = await migrate(this, {
          syncTimeoutMs: SYNC_TIMEOUT_MS,
          leaveOldNodes: this.#o.spec.migrateFrom!.oldNodes === 'leave',
          onLag: 'the operator runs it again',
        });
        const pause = result.switchover ? `, writes paused ${result.switchover.writePauseMs} ms` : '';
        const message = `migrated '${this.source.masterName}': master ${result.master.id}${pause}; the old nodes (${result.oldNodes.length}) and the old Sentinels (${result.oldSentinels.length}) may be removed once no application asks them`;
        this.#update({ phase: 'Done', step: 'healthy', message, ...(result.switchover ? { writePauseMs: result.switchover.writePauseMs } : {}) });
        this.#event('Normal', 'Migrated', message);
        await this.#o.persist();
        return;
      } catch (err) {
        if (this.#stopped) return;
        const step = err instanceof MigrationFailed ? err.step : (this.#lastStep ?? 'check');
        const detail = err instanceof MigrationFailed ? err.detail : errorText(err);
        this.#o.log(`${name}: migration: ${step}: ${detail}; again in ${RETRY_MS / 1000} s`);
        this.#update({ phase: 'Failed', step, message: detail });
        this.#event('Warning', 'MigrationFailed', `${step}: ${detail}; the operator runs it again in ${RETRY_MS / 1000} s`);
        await this.#o.persist().catch(() => undefined);
        await this.#pause();
      }
    }
  }

  /**
   * Once Done, until it has happened: when the old Sentinels are all gone (the chart's release removed),
   * ours forget them (`forgetOldSentinels`), so that a failover needs a majority of ours alone. Looked at
   * every 10 s; what still holds it back is logged when it changes.
   */
  async #forgetWhenGone(): Promise<void> {
    const name = `${this.#o.resource()?.metadata.namespace}/${this.#o.spec.name}`;
    let told = '';
    while (!this.#stopped && this.#status?.phase === 'Done' && !this.#status.oldSentinelsForgotten) {
      const old = (this.#status.oldSentinels ?? []).map((k) => parseAddress(k) as Address);
      const done = await forgetOldSentinels(this.#o.topology, this.source, old, (line) => this.#o.log(`${name}: migration: ${line}`)).catch((err: unknown) => errorText(err));
      if (typeof done !== 'string') {
        const message = `the old Sentinels (${done.forgotten.length}) are gone and each of ours forgot them: a failover needs a majority of the ${this.#o.topology.sentinels.length} Sentinels of this deployment alone`;
        this.#update({ oldSentinelsForgotten: true });
        this.#event('Normal', 'OldSentinelsForgotten', message);
        await this.#o.persist();
        return;
      }
      if (done !== told) this.#o.log(`${name}: migration: not forgetting the old Sentinels yet: ${done}`);
      told = done;
      await this.#pause();
    }
  }

  /** The wait before the next try: RETRY_MS, cut short by `stop()`. */
  async #pause(): Promise<void> {
    for (let waited = 0; waited < RETRY_MS && !this.#stopped; waited += 500) await sleep(500);
  }

  #update(change: Partial<MigrationStatus>): void {
    this.#status = { phase: 'Running', step: 'check', message: '', ...this.#status, ...change };
  }

  #event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    const cr = this.#o.resource();
    if (cr) this.#o.events.record(cr, type, reason, message);
  }

  own(): OwnDeployment {
    const t = this.#o.topology;
    return {
      nodes: t.nodes,
      sentinels: t.sentinels,
      auth: { password: this.#o.password },
      quorum: t.quorum,
      timings: t.timings,
      replicaPriority: this.#o.spec.redisConfig['replica-priority'] ?? '100',
    };
  }

  running(): boolean {
    return true;
  }

  stopped(): boolean {
    return this.#stopped;
  }

  localVersion(): string {
    return this.#o.spec.image.tag;
  }

  loadRecord(): MigrationRecord | undefined {
    const s = this.#status;
    if (!s?.oldNodes || !s.startedAt) return undefined;
    return {
      source: { sentinels: this.#o.spec.migrateFrom!.sentinels, masterName: this.source.masterName },
      oldNodes: s.oldNodes,
      oldSentinels: s.oldSentinels ?? [],
      oldPriorities: s.oldPriorities ?? {},
      startedAt: s.startedAt,
      ...(s.switchingAt !== undefined ? { switchingAt: s.switchingAt } : {}),
      ...(s.switchedTo !== undefined ? { switchedTo: s.switchedTo } : {}),
      ...(s.finishedAt !== undefined ? { finishedAt: s.finishedAt } : {}),
    };
  }

  async saveRecord(r: MigrationRecord): Promise<void> {
    const { switchingAt: _s, switchedTo: _t, finishedAt: _f, ...rest } = this.#status ?? { phase: 'Running' as const, step: 'check', message: '' };
    this.#status = {
      ...rest,
      oldNodes: [...r.oldNodes],
      oldSentinels: [...r.oldSentinels],
      oldPriorities: { ...r.oldPriorities },
      startedAt: r.startedAt,
      ...(r.switchingAt !== undefined ? { switchingAt: r.switchingAt } : {}),
      ...(r.switchedTo !== undefined ? { switchedTo: r.switchedTo } : {}),
      ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
    };
    await this.#o.persist();
    this.#o.recorded();
  }

  /**
   * The pods are the reconcile's, held at 0 until the checks have passed (`heldForMigration`): this keeps
   * the record, lets the reconcile start them, and waits until every node and Sentinel answers.
   */
  async deploy(obs: SourceObservation, first: MigrationRecord | undefined, log: (line: string) => void): Promise<string> {
    if (first) await this.saveRecord(first);
    this.#o.recorded();
    const t = this.#o.topology;
    const from = obs.master as Address;
    const deadline = Date.now() + 300_000;
    let last = '';
    for (;;) {
      const o = await observe(t, 1000);
      const answering = o.nodes.filter((n) => n.reachable);
      const line = `${answering.length} of ${t.nodes.length} Redis pods answer; ${o.sentinels.filter((s) => s.reachable).length} of ${t.sentinels.length} Sentinels`;
      if (answering.length === t.nodes.length && o.sentinels.every((s) => s.reachable)) return `${t.nodes.length} Redis pods following ${from.host}:${from.port} and ${t.sentinels.length} Sentinels in the '${this.source.masterName}' group`;
      if (line !== last) log(`waiting for the pods: ${line}`);
      last = line;
      if (Date.now() > deadline || this.#stopped) throw new Error(`the pods did not all answer within 300 s: ${line}`);
      await sleep(1000);
    }
  }

  /** The controller forgets the source once its Sentinels name one of ours; this waits until the status is healthy. */
  async standAlone(master: Member, log: (line: string) => void): Promise<string> {
    const deadline = Date.now() + 180_000;
    let last = '';
    for (;;) {
      const o = await observe(this.#o.topology, 1000);
      const agreed = agreedMaster(o);
      const ready = this.#o.resource()?.status?.conditions?.find((c) => c.type === 'Ready');
      if (agreed && agreed.host === master.host && ready?.status === 'True') return `healthy, master ${master.id}`;
      const line = ready ? `Ready ${ready.status}: ${ready.message}` : 'no status yet';
      if (line !== last) log(`waiting: ${line}`);
      last = line;
      if (Date.now() > deadline || this.#stopped) throw new Error(`not healthy within 180 s: ${line}`);
      await sleep(1000);
    }
  }

  say(step: MigrationStep, text: string): void {
    this.#lastStep = step;
    const line = progressLine(step, text);
    this.#o.log(`${this.#o.resource()?.metadata.namespace}/${this.#o.spec.name}: migration ${line}`);
    this.#update({ phase: 'Running', step, message: text });
    // One Event per step's outcome and per waiting line would flood; the outcomes and the first line of each step.
    if (/^(done|skipped|failed): /.test(text) || step !== this.#toldStep) this.#event('Normal', 'MigrationStep', line);
    this.#toldStep = step;
  }

  #toldStep?: MigrationStep;
}
