/**
 * Lease-based leader election (coordination.k8s.io/v1), as client-go's leaderelection does it: every
 * write is compare-and-set on the Lease's resourceVersion; a candidate takes the Lease over only when
 * the holder's renewTime has not moved for leaseDuration as measured on the candidate's own clock (so
 * clock skew between pods does not matter); the holder that cannot renew within renewDeadline stops
 * leading. On graceful shutdown the holder releases the Lease so a standby takes over at once.
 */
import { KubeApiError, type KubeClient } from './client.ts';
import { collectionPath, objectPath, typeOfKind } from './resources.ts';

export interface LeaderOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly log: (line: string) => void;
  readonly onStartedLeading: () => void;
  /** Leadership lost (not renewed in time, or taken): the caller must stop acting at once. */
  readonly onStoppedLeading: () => void;
  /** Injected clock (tests); defaults to Date.now. */
  readonly now?: () => number;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** MicroTime: RFC 3339 with microseconds, as the Lease API stores it. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  readonly #c: KubeClient;
  readonly #o: LeaderOptions;
  readonly #lease: number;
  readonly #deadline: number;
  readonly #retry: number;
  #leading = false;
  #stopped = false;
  #timer?: NodeJS.Timeout;
  #lastRenew = 0;
  /** The last record seen and when (our clock) it was first seen unchanged. */
  #observed?: { key: string; at: number };
  #loop: Promise<void> = Promise.resolve();

  constructor(client: KubeClient, o: LeaderOptions) {
    this.#c = client;
    this.#o = o;
    this.#lease = o.leaseDurationMs ?? 15_000;
    this.#deadline = o.renewDeadlineMs ?? 10_000;
    this.#retry = o.retryPeriodMs ?? 2_000;
  }

  get leading(): boolean {
    return this.#leading;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      this.#loop = this.#tryAcquireOrRenew().catch((err) => this.#o.log(`Lease ${this.#o.namespace}/${this.#o.name}: ${(err as Error).message}`));
      await this.#loop;
      if (this.#leading && this.#now() - this.#lastRenew > this.#deadline) this.#lose('not renewed within the renew deadline');
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#retry);
    };
    void tick();
  }

  /** Stops campaigning; a leader releases the Lease (holder cleared) so a standby need not wait. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#loop;
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#get();
      if (lease?.spec.holderIdentity === this.#o.identity) {
        const now = microTime(this.#now());
        await this.#c.request('PUT', this.#path(), { body: { ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: now } } });
        this.#o.log(`Released Lease ${this.#o.namespace}/${this.#o.name}`);
      }
    } catch (err) {
      this.#o.log(`could not release Lease ${this.#o.namespace}/${this.#o.name}: ${(err as Error).message}`);
    }
  }

  #path(): string {
    return objectPath(typeOfKind('Lease'), this.#o.name, this.#o.namespace);
  }

  #get(): Promise<Lease | undefined> {
    return this.#c.find<Lease>(this.#path());
  }

  #lose(why: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#o.log(`Lost leadership of Lease ${this.#o.namespace}/${this.#o.name}: ${why}`);
    this.#o.onStoppedLeading();
  }

  #won(): void {
    this.#lastRenew = this.#now();
    if (this.#leading) return;
    this.#leading = true;
    this.#o.log(`Became leader: Lease ${this.#o.namespace}/${this.#o.name}, identity ${this.#o.identity}`);
    this.#o.onStartedLeading();
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const now = this.#now();
    const spec = (base: LeaseSpec, transitions: number, acquire: boolean): LeaseSpec => ({
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: Math.ceil(this.#lease / 1000),
      acquireTime: acquire ? microTime(now) : base.acquireTime,
      renewTime: microTime(now),
      leaseTransitions: transitions,
    });
    const lease = await this.#get();
    if (!lease) {
      try {
        await this.#c.request('POST', collectionPath(typeOfKind('Lease'), this.#o.namespace), {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.#o.name, namespace: this.#o.namespace }, spec: spec({}, 0, true) },
        });
        this.#won();
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409)) throw err;
      }
      return;
    }
    const holder = lease.spec.holderIdentity ?? '';
    const key = `${holder}|${lease.spec.renewTime ?? ''}|${lease.metadata.resourceVersion}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: now };
    const durationMs = (lease.spec.leaseDurationSeconds ?? Math.ceil(this.#lease / 1000)) * 1000;
    const mine = holder === this.#o.identity;
    const expired = holder === '' || now - this.#observed.at >= durationMs;
    if (!mine && !expired) {
      if (this.#leading) this.#lose(`${holder} holds it`);
      return;
    }
    const transitions = (lease.spec.leaseTransitions ?? 0) + (mine ? 0 : 1);
    try {
      // PUT with the resourceVersion read: a concurrent writer makes this 409, never a double leader.
      await this.#c.request('PUT', this.#path(), { body: { ...lease, spec: spec(lease.spec, transitions, !mine) } });
      this.#won();
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) return;
      throw err;
    }
  }
}
