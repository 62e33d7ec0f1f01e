import { Redis } from 'ioredis';
import { redisOptions } from '../redis/connect.ts';
import { agreedMaster, nameOf, withGone, type Memory, type Observation } from './observation.ts';
import { act, ActionOvertaken, releaseWrites, WritesStillHeld, type MasterPublisher } from './act.ts';
import { observe, sentinelEndpointIn, type Topology } from './observe.ts';
import { describeAction, plan, type Action } from './plan.ts';
import { FailoverClock, type ControllerObserver } from './events.ts';
import { type Address, addressKey, sameAddress } from '../redis/address.ts';
import { Coalesced } from '../coalesce.ts';

/** Where the controller keeps its memory (local: a 0600 file written atomically; Kubernetes: CR status). */
export interface MemoryStore {
  load(): Memory;
  /** Atomic: a crash leaves the old memory or the new one, never half. */
  save(memory: Memory): void;
}

/** Sentinel channels that mean "look again now". The event type is also the channel name. */
const WAKE_EVENTS = new Set([
  '+switch-master', '+sdown', '-sdown', '+odown', '-odown', '+failover-end', '+failover-end-for-timeout',
  // A failover's first steps: the master it replaces must stop taking writes before a replica is promoted.
  '+try-failover', '+elected-leader', '+selected-slave', '+promoted-slave',
  '-failover-abort-not-elected', '-failover-abort-no-good-slave', '-failover-abort-slave-timeout',
  '+tilt', '-tilt', '+convert-to-slave', '+reboot', '+slave', '+fix-slave-config', '+new-epoch',
]);

export interface ControllerOptions {
  readonly memory: MemoryStore;
  readonly publisher: MasterPublisher;
  readonly log: (line: string) => void;
  /** The safety-net resync period; events wake the controller sooner. */
  readonly resyncMs?: number;
  /** Told about actions, master changes and Sentinel events (metrics, timeline); see `addObserver`. */
  readonly observer?: ControllerObserver;
  /**
   * The runtime's facts: nodes (by id) whose Redis process it knows is not running, and why (a process
   * that exited, a pod being deleted, a container not running). Read every pass into the observation
   * (`NodeObservation.gone`); the plan decides what they mean. Call `trigger()` when they change.
   */
  readonly gone?: () => ReadonlyMap<string, string> | Promise<ReadonlyMap<string, string>>;
}

/** How soon to look again while a node the runtime knows is gone still answers (it is being stopped). */
const GONE_RECHECK_MS = 100;

/**
 * The topology brain's loop: observe → plan → act, one pass at a time. It wakes on Sentinel events
 * (within milliseconds of `+switch-master`) and every `resyncMs` as a safety net. It spawns nothing
 * and knows no runtime: it talks to Redis and Sentinel over the network only.
 */
export class Controller {
  readonly #t: Topology;
  readonly #o: ControllerOptions;
  readonly #subscribers: Redis[] = [];
  #timer?: NodeJS.Timeout;
  #recheck?: NodeJS.Timeout;
  #stopped = false;
  #lastReason = '';
  /** Why the last overtaken action was skipped; repeats are not retried at once. */
  #lastOvertaken = '';
  #memory: Memory;
  readonly #observers: ControllerObserver[] = [];
  readonly #clock: FailoverClock;
  /** The master a Sentinel last said it cannot fail over (`Observation.noGoodReplica`), until a switch. */
  #noGoodReplica?: Address;
  /**
   * Nodes whose writes a plan held (`hold-writes`), by address, with when the last hold was placed and
   * why the last release was refused: released once a completed pass no longer holds them and
   * `releaseWrites` agrees; forgotten once the hold's own deadline (failover-timeout) has passed.
   */
  readonly #held = new Map<string, { node: Address; at: number; kept?: string }>();
  readonly #passes = new Coalesced(async () => {
    try {
      await this.#pass();
    } catch (err) {
      this.#o.log(`controller pass failed: ${(err as Error).message}`);
    }
  });

  constructor(t: Topology, o: ControllerOptions) {
    this.#t = t;
    this.#o = o;
    this.#memory = o.memory.load();
    this.#clock = new FailoverClock(t.masterName);
    if (o.observer) this.#observers.push(o.observer);
  }

  /** Adds an observer (metrics, a timeline); each is told every event from now on. */
  addObserver(o: ControllerObserver): void {
    this.#observers.push(o);
  }

  #tell(fn: (o: ControllerObserver) => void): void {
    for (const o of this.#observers) {
      try {
        fn(o);
      } catch (err) {
        this.#o.log(`controller observer failed: ${(err as Error).message}`);
      }
    }
  }

  start(): void {
    for (const s of this.#t.sentinels) this.#subscribe(s);
    this.#timer = setInterval(() => this.trigger(), this.#o.resyncMs ?? 1000);
    this.trigger();
  }

  /** Runs a pass now, or right after the one in flight. */
  trigger(): void {
    // Once stopped (`stop`), `Coalesced` starts no pass.
    void this.#passes.run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const passes = this.#passes.stop();
    clearInterval(this.#timer);
    clearTimeout(this.#recheck);
    for (const s of this.#subscribers) s.disconnect();
    await passes;
  }

  #subscribe(s: { id: string; host: string; port: number }): void {
    const sub = new Redis({ ...redisOptions(sentinelEndpointIn(this.#t, s)), lazyConnect: false, retryStrategy: () => 500, maxRetriesPerRequest: null });
    sub.on('error', () => {});
    sub.psubscribe('*').catch(() => {});
    sub.on('pmessage', (_pattern: string, channel: string, message: string) => {
      if ((channel.startsWith('+') || channel.startsWith('-')) && message.includes(this.#t.masterName)) {
        const at = Date.now();
        this.#clock.sentinelEvent(channel, message, at);
        this.#tell((o) => o.sentinelEvent?.({ at, sentinel: s.id, type: channel, message }));
      }
      if (!WAKE_EVENTS.has(channel) || !message.includes(this.#t.masterName)) return;
      if (channel === '-failover-abort-no-good-slave') {
        // `master <name> <ip> <port>`
        const [, name, host, port] = message.split(' ');
        if (name === this.#t.masterName) this.#noGoodReplica = { host, port: Number(port) };
      }
      if (channel === '+switch-master') {
        this.#noGoodReplica = undefined;
        // One Sentinel's switch is news, not a decision: the pass it wakes publishes what the plan says
        // (the master of the newest config epoch; the endpoint has already closed on this event itself).
        this.#o.log(`${channel} ${message}`);
      }
      this.trigger();
    });
    this.#subscribers.push(sub);
  }

  /**
   * After a pass that ran to its end: ends the holds it no longer asks for, except on a node an action
   * of this pass failed on (its fence may not have happened). A pass cut short (`ActionOvertaken`)
   * releases nothing. A node that cannot be reached is forgotten; its hold ends by its own deadline.
   *
   * Who owns a pause: the controller owns its holds, a switchover the pause it placed on the master it
   * replaces (switchover.ts). Both use `CLIENT PAUSE`, so one `CLIENT UNPAUSE` would lift both; hence
   * neither lifts one but through `releaseWrites`, which leaves a running switchover's pause alone and
   * keeps any pause on a node that reports master while a Sentinel may be replacing it. A refused
   * release is tried again after the next pass, until the hold's own deadline has passed.
   */
  async #release(obs: Observation, actions: readonly Action[], failedOn: ReadonlySet<string>): Promise<void> {
    const wanted = new Set(actions.flatMap((a) => (a.kind === 'hold-writes' ? [addressKey(a.node)] : [])));
    for (const [key, held] of this.#held) {
      if (wanted.has(key) || failedOn.has(key)) continue;
      if (Date.now() - held.at > this.#t.timings.failoverTimeout) {
        this.#held.delete(key);
        continue;
      }
      try {
        await releaseWrites(this.#t, held.node);
        this.#held.delete(key);
        this.#o.log(`released writes on ${nameOf(obs, held.node)}`);
      } catch (err) {
        const why = (err as Error).message;
        if (err instanceof WritesStillHeld) {
          if (held.kept !== why) this.#o.log(`kept writes held on ${nameOf(obs, held.node)}: ${why}`);
          held.kept = why;
          continue;
        }
        this.#held.delete(key);
        this.#o.log(`could not release writes on ${nameOf(obs, held.node)}: ${why}`);
      }
    }
  }

  async #pass(): Promise<void> {
    // Read before the look: a process that died and is already being restarted died all the same.
    const gone = await this.#o.gone?.();
    const obs: Observation = { ...withGone(await observe(this.#t), gone), ...(this.#noGoodReplica ? { noGoodReplica: this.#noGoodReplica } : {}) };
    const named = agreedMaster(obs);
    if (!this.#recheck && obs.nodes.some((n) => n.gone && n.reachable && sameAddress(n, named))) {
      // The master is being stopped; no Sentinel event comes before down-after, so the next look is ours.
      this.#recheck = setTimeout(() => {
        this.#recheck = undefined;
        this.trigger();
      }, GONE_RECHECK_MS);
    }
    const { masterName, quorum, timings: { downAfterMilliseconds, failoverTimeout } } = this.#t;
    const p = plan(obs, { masterName, quorum, downAfterMilliseconds, failoverTimeout }, this.#memory);
    const actions = p.actions;
    if (p.reason !== this.#lastReason) {
      this.#o.log(p.reason);
      this.#tell((o) => o.reason?.({ at: obs.at, text: p.reason }));
    }
    this.#lastReason = p.reason;
    const change = this.#clock.pass(obs);
    if (change) this.#tell((o) => o.masterChanged?.(change));
    if (!actions.some((a) => a.kind !== 'publish-master')) this.#lastOvertaken = '';
    /** Nodes an action failed on this pass: a hold of theirs is kept (its fence may not have happened). */
    const failedOn = new Set<string>();
    /** A refused `sentinel-failover` is not under way: the memory keeps the previous record of one. */
    let askFailed = false;
    for (const a of actions) {
      if (this.#stopped) return;
      try {
        if (a.kind === 'sentinel-failover') this.#clock.trouble(Date.now());
        await act(this.#t, a, this.#o.publisher, p.reason);
        // A hold is repeated every pass that asks for it; only the first is news.
        const repeated = a.kind === 'hold-writes' && this.#held.has(addressKey(a.node));
        if (a.kind === 'hold-writes') this.#held.set(addressKey(a.node), { node: a.node, at: Date.now() });
        if (a.kind !== 'publish-master' && !repeated) {
          const description = describeAction(obs, a);
          this.#o.log(`did ${description}`);
          this.#tell((o) => o.action?.({ at: Date.now(), kind: a.kind, description, ok: true }));
        }
      } catch (err) {
        const description = describeAction(obs, a);
        const error = (err as Error).message;
        if (err instanceof ActionOvertaken) {
          // The world moved: look again at once, but only for news. The same reason again means
          // Sentinel has not moved on yet (e.g. it sees the master down and keeps retrying its own
          // failover); its events and the resync wake the next pass instead of a loop of passes.
          if (error !== this.#lastOvertaken) {
            this.#o.log(`skipped ${description}: ${error}`);
            this.trigger();
          }
          this.#lastOvertaken = error;
          return;
        }
        if ('node' in a) failedOn.add(addressKey(a.node));
        if (a.kind === 'sentinel-failover') askFailed = true;
        if (a.kind === 'sentinel-failover' && /NOGOODSLAVE/.test(error)) this.#noGoodReplica = a.from;
        this.#o.log(`could not ${description}: ${error}`);
        if (a.kind !== 'publish-master') this.#tell((o) => o.action?.({ at: Date.now(), kind: a.kind, description, ok: false, error }));
      }
    }
    await this.#release(obs, actions, failedOn);
    const { failoverAsked: _, ...rest } = p.memory;
    const kept = this.#memory.failoverAsked;
    const memory: Memory = askFailed ? { ...rest, ...(kept ? { failoverAsked: kept } : {}) } : p.memory;
    const key = (a: Address | undefined) => (a ? addressKey(a) : '');
    if (memory.epoch !== this.#memory.epoch || key(memory.master) !== key(this.#memory.master) || key(memory.migrateFrom) !== key(this.#memory.migrateFrom)) {
      this.#o.memory.save(memory);
    }
    this.#memory = memory;
  }
}
