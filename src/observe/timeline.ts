/**
 * The live timeline the dashboard shows: failovers, repairs and the Sentinel events around them, as
 * the controller reports them (a `ControllerObserver`), plus what callers add (switchovers). It keeps
 * the last `capacity` entries and tells subscribers about each new one.
 */
import type { ControllerObserver } from '../topology/events.ts';

export type TimelineKind = 'failover' | 'repair' | 'sentinel' | 'controller' | 'switchover' | 'process';

export interface TimelineEntry {
  /** Increasing from 1; a client that saw up to N asks for what is after N. */
  readonly id: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly kind: TimelineKind;
  readonly text: string;
  /** False for a failed action or switchover. */
  readonly ok: boolean;
}

/**
 * The Sentinel events worth a line: a master going down or coming back, a failover's start, end or
 * abort, TILT, and Sentinel reconfiguring a node. Discovery chatter (`+slave`, `+sentinel`,
 * `+failover-state-*`, votes) is left out.
 */
const SHOWN_SENTINEL_EVENTS = new Set([
  '+sdown', '-sdown', '+odown', '-odown', '+try-failover', '+elected-leader', '+promoted-slave', '+switch-master',
  '+failover-end', '+failover-end-for-timeout', '-failover-abort-not-elected', '-failover-abort-no-good-slave',
  '-failover-abort-slave-timeout', '+tilt', '-tilt', '+convert-to-slave', '+fix-slave-config', '+reboot',
]);

/** The same event from several Sentinels within this window is one line naming them all. */
const SAME_EVENT_MS = 3000;

export class Timeline {
  readonly #entries: TimelineEntry[] = [];
  readonly #capacity: number;
  readonly #names: ReadonlyMap<string, string>;
  readonly #listeners = new Set<(e: TimelineEntry) => void>();
  #next = 1;
  /** The last line per Sentinel event, to fold repeats from other Sentinels into it. */
  readonly #recent = new Map<string, { id: number; at: number; sentinels: string[] }>();

  /** `names`: `host:port` → member id, so lines say `node-1` rather than an address. */
  constructor(names: ReadonlyMap<string, string>, capacity = 200) {
    this.#names = names;
    this.#capacity = capacity;
  }

  /** Adds a line; returns it. */
  add(kind: TimelineKind, text: string, ok = true, at = Date.now()): TimelineEntry {
    const entry: TimelineEntry = { id: this.#next++, at, kind, text, ok };
    this.#push(entry);
    return entry;
  }

  /** Every kept line, oldest first, or only those after `afterId`. */
  entries(afterId = 0): TimelineEntry[] {
    return this.#entries.filter((e) => e.id > afterId);
  }

  /** Calls `listener` with each new (or updated) line until the returned function is called. */
  subscribe(listener: (e: TimelineEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  readonly observer: ControllerObserver = {
    masterChanged: (e) => {
      const took = e.durationMs === undefined ? '' : ` in ${(e.durationMs / 1000).toFixed(1)} s`;
      this.add('failover', `master ${e.from.id} → ${e.to.id}${took} (Sentinels agree on ${e.to.address})`, true, e.at);
    },
    action: (e) => {
      this.add('repair', e.ok ? `did ${e.description}` : `could not ${e.description}: ${e.error ?? 'failed'}`, e.ok, e.at);
    },
    reason: (e) => {
      this.add('controller', e.text, !/impossible|could not/.test(e.text), e.at);
    },
    sentinelEvent: (e) => {
      if (!SHOWN_SENTINEL_EVENTS.has(e.type)) return;
      const key = `${e.type} ${e.message}`;
      const recent = this.#recent.get(key);
      if (recent && e.at - recent.at < SAME_EVENT_MS) {
        if (!recent.sentinels.includes(e.sentinel)) recent.sentinels.push(e.sentinel);
        const i = this.#entries.findIndex((x) => x.id === recent.id);
        if (i >= 0) {
          this.#entries[i] = { ...this.#entries[i], text: this.#sentinelText(e.type, e.message, recent.sentinels) };
          for (const l of this.#listeners) l(this.#entries[i]);
        }
        return;
      }
      const entry = this.add('sentinel', this.#sentinelText(e.type, e.message, [e.sentinel]), !e.type.startsWith('-failover-abort'), e.at);
      this.#recent.set(key, { id: entry.id, at: e.at, sentinels: [e.sentinel] });
      for (const [k, v] of this.#recent) if (e.at - v.at > SAME_EVENT_MS) this.#recent.delete(k);
    },
  };

  #name(host: string | undefined, port: string | undefined): string {
    const address = `${host}:${port}`;
    return this.#names.get(address) ?? address;
  }

  /**
   * Sentinel writes instances as `<type> <name> <ip> <port> [@ <master> <ip> <port>]`, and
   * `+switch-master` as `<master> <old-ip> <old-port> <new-ip> <new-port>`.
   */
  #sentinelText(type: string, message: string, sentinels: string[]): string {
    const by = `(${sentinels.join(', ')})`;
    const words = message.split(' ');
    if (type === '+switch-master') return `${type} ${this.#name(words[1], words[2])} → ${this.#name(words[3], words[4])} ${by}`;
    const [instanceType, , host, port] = words;
    const what = instanceType === 'slave' ? 'replica' : instanceType;
    return `${type} ${what} ${this.#name(host, port)} ${by}`;
  }

  #push(entry: TimelineEntry): void {
    this.#entries.push(entry);
    if (this.#entries.length > this.#capacity) this.#entries.shift();
    for (const l of this.#listeners) l(entry);
  }
}
