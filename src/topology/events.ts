/**
 * What the controller reports while it works, so a runtime can turn it into metrics and a timeline
 * without the brain importing either (prom-client stays in `src/observe`). Every method is optional
 * and must not throw or block: it is called inside the controller's pass.
 */
import { agreedMaster, busySentinel, nameOf, nodeAt, type Observation } from './observation.ts';
import type { Action } from './plan.ts';
import { addressKey } from '../redis/address.ts';

/** A node as events name it: its id (`node-1`) and `host:port`. */
export interface NamedAddress {
  readonly id: string;
  readonly address: string;
}

export interface ActionEvent {
  readonly at: number;
  readonly kind: Action['kind'];
  /** e.g. `fence node-0 -> node-1` */
  readonly description: string;
  readonly ok: boolean;
  readonly error?: string;
}

export interface MasterChangeEvent {
  readonly at: number;
  readonly from: NamedAddress;
  readonly to: NamedAddress;
  /**
   * From the first sign of trouble (the master unreachable or demoted in a pass, a Sentinel's `+sdown`,
   * `+odown` or `+try-failover` about it, or our own `sentinel-failover`) until a majority of the
   * Sentinels named the new master. Undefined when no such sign was seen (e.g. the controller started
   * mid-failover).
   */
  readonly durationMs?: number;
}

export interface SentinelEvent {
  readonly at: number;
  /** The Sentinel that published it, e.g. `sentinel-0`. */
  readonly sentinel: string;
  /** The event type, which is also its channel: `+sdown`, `+switch-master`, `-failover-abort-no-good-slave`, ... */
  readonly type: string;
  /** The rest, in Sentinel's fixed instance format: `master redis-ha-x 127.0.0.1 6400`. */
  readonly message: string;
}

/** Receives what the controller does and sees. Implementations must be cheap and never throw. */
export interface ControllerObserver {
  /** One action that changes the deployment was carried out (`ok`) or failed; `publish-master` is not reported. */
  action?(e: ActionEvent): void;
  /** The master named by a majority of the configured Sentinels is now another node. */
  masterChanged?(e: MasterChangeEvent): void;
  /** A Sentinel event about this deployment's master group (hello messages excluded). */
  sentinelEvent?(e: SentinelEvent): void;
  /** The sentence a pass explains itself with, when it differs from the previous pass's. */
  reason?(e: { readonly at: number; readonly text: string }): void;
}

/** Sentinel events that mean the master is failing or being replaced: a failover clock starts. */
const TROUBLE_EVENTS = new Set(['+sdown', '+odown', '+try-failover']);

/**
 * Times failovers as the controller sees them: from the first sign of trouble with the agreed master
 * to the pass in which a majority of Sentinels names another node. Fed by passes and Sentinel events;
 * its clock is the `at` it is given, so it is deterministic in tests.
 */
export class FailoverClock {
  readonly #masterName: string;
  /** The agreed master in the last pass that had one, as `host:port`, with its id. */
  #master?: NamedAddress;
  #troubleSince?: number;

  constructor(masterName: string) {
    this.#masterName = masterName;
  }

  /** A Sentinel event; a trouble event about the master group (not a replica) starts the clock. */
  sentinelEvent(type: string, message: string, at: number): void {
    if (TROUBLE_EVENTS.has(type) && message.startsWith(`master ${this.#masterName} `)) this.trouble(at);
  }

  /** Something else showed trouble (e.g. the controller asked Sentinel to fail over). Keeps the earliest. */
  trouble(at: number): void {
    this.#troubleSince ??= at;
  }

  /**
   * One pass's observation. Returns the master change it completes, if any. The first agreed master
   * this clock sees is where it starts, not a change.
   */
  pass(obs: Observation): MasterChangeEvent | undefined {
    const agreed = agreedMaster(obs);
    if (!agreed) return undefined;
    const now: NamedAddress = { id: nameOf(obs, agreed), address: addressKey(agreed) };
    const previous = this.#master;
    this.#master = now;
    if (previous && previous.address !== now.address) {
      const durationMs = this.#troubleSince === undefined ? undefined : Math.max(0, obs.at - this.#troubleSince);
      this.#troubleSince = undefined;
      return { at: obs.at, from: previous, to: now, durationMs };
    }
    const node = nodeAt(obs, agreed);
    const fine = node?.reachable === true && node.role === 'master';
    if (!fine) this.trouble(obs.at);
    // The master is well and no Sentinel is acting: whatever trouble there was passed without a change.
    else if (!busySentinel(obs)) this.#troubleSince = undefined;
    return undefined;
  }
}
