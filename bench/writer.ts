import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { redisOptions, sentinelClientOptions, type TlsFiles } from '../src/redis/connect.ts';

/** How the writer finds the master: through Sentinel, as a Sentinel-aware application does, or a fixed endpoint. */
export type WriterTarget =
  | { readonly masterName: string; readonly sentinels: readonly { host: string; port: number }[]; readonly sentinelPassword: string }
  | { readonly endpoint: { readonly host: string; readonly port: number } };

/**
 * Writes unique keys back to back, as an application would, and records every write the master
 * acknowledged and when: tests and benchmarks count acknowledged writes lost after a fault and
 * measure write unavailability as the longest silence between two acknowledgements.
 *
 * A write that reaches a demoted master fails with READONLY without being executed; the client
 * reconnects (to the master Sentinel or the endpoint names now) and sends it again. A write that times
 * out drops the client and connects anew, as redis-py and Jedis drop a connection on a socket timeout:
 * by itself ioredis keeps a connection to a node that went silent (a stopped or cut-off node sends
 * nothing, not even a reset) and sends every later write into it.
 */
export class AckedWriter {
  readonly acked: string[] = [];
  /** `performance.now()` of each acknowledgement, parallel to `acked`. */
  readonly ackTimes: number[] = [];
  /** `performance.now()` of each (re)connection and the ROLE of the server it reached, for diagnostics. */
  readonly connections: { at: number; server: string }[] = [];
  /** `performance.now()` and message of each write that was not acknowledged (nothing is expected of them). */
  readonly failureLog: { at: number; message: string }[] = [];

  /** Writes that were not acknowledged. */
  get failures(): number {
    return this.failureLog.length;
  }

  /** How often each error message was seen among the failures (for diagnostics). */
  get errors(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { message } of this.failureLog) counts.set(message, (counts.get(message) ?? 0) + 1);
    return counts;
  }

  #client: Redis;
  readonly #connect: () => Redis;
  readonly #prefix: string;
  readonly #tls?: TlsFiles;
  #stopped = false;
  #loop?: Promise<void>;

  /** `tls`: the deployment serves TLS only; the writer then connects with these files. */
  constructor(o: { target: WriterTarget; password: string; username?: string; prefix: string; options?: Partial<RedisOptions>; tls?: TlsFiles }) {
    this.#prefix = o.prefix;
    this.#tls = o.tls;
    const common = {
      username: o.username,
      password: o.password,
      retryStrategy: () => 20,
      reconnectOnError: (err: Error) => (/READONLY/.test(err.message) ? (2 as const) : false),
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      commandTimeout: 5000,
      // e.g. natMap: Sentinel's hostnames as addresses reachable from where the writer runs.
      ...o.options,
    };
    const t = o.target;
    this.#connect = () => {
      const client =
        'endpoint' in t
          ? new Redis({ ...common, ...redisOptions({ ...t.endpoint, username: o.username, password: o.password, tls: o.tls }) })
          : new Redis({ ...common, name: t.masterName, sentinels: [...t.sentinels], sentinelPassword: t.sentinelPassword, sentinelRetryStrategy: () => 20, ...sentinelClientOptions(o.tls) });
      client.on('error', () => {});
      // For diagnostics: which server each (re)connection reached, and what it said it was.
      client.on('ready', () => {
        const at = performance.now();
        client.call('ROLE').then((r) => {
          const [role, ...rest] = r as unknown[];
          this.connections.push({ at, server: `${String(role)} ${JSON.stringify(role === 'master' ? rest[1] : rest.slice(0, 2))}` });
        }, () => {});
      });
      return client;
    };
    this.#client = this.#connect();
  }

  start(): void {
    this.#loop = (async () => {
      let n = 0;
      while (!this.#stopped) {
        const key = `${this.#prefix}:${n++}`;
        try {
          await this.#client.set(key, '1');
          this.ackTimes.push(performance.now());
          this.acked.push(key);
        } catch (err) {
          const message = (err as Error).message.split('\n')[0]!.slice(0, 120);
          this.failureLog.push({ at: performance.now(), message });
          // A new client, not ioredis's disconnect(true): that ends its graceful close with a 2 s
          // wait, and a reconnect it cuts short while asking Sentinel ends the client for good
          // (every later write: "Connection is closed").
          if (/timed out/i.test(message)) {
            this.#client.disconnect();
            this.#client = this.#connect();
          }
          await sleep(5);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    this.#client.disconnect();
  }

  /** Resolves once `more` further writes have been acknowledged; rejects after `timeoutMs`. */
  async ackedMore(more: number, timeoutMs = 30_000): Promise<void> {
    const target = this.acked.length + more;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < target) {
      if (Date.now() > deadline) throw new Error(`the writer got ${this.acked.length - target + more} of ${more} more acknowledgements within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** The longest time without an acknowledgement among those after `since` (performance.now() time). */
  longestGapSince(since: number): number {
    const times = this.ackTimes.filter((t) => t >= since);
    let longest = 0;
    for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1]);
    return longest;
  }

  /** The first acknowledgement at or after `since`, or undefined. */
  firstAckAfter(since: number): number | undefined {
    return this.ackTimes.find((t) => t >= since);
  }

  /**
   * For diagnostics: when `key` was acknowledged, how long after its neighbours, and the failures
   * within `windowMs` of it, in ms relative to the acknowledgement.
   */
  around(key: string, windowMs = 3000): string {
    const i = this.acked.indexOf(key);
    if (i < 0) return `${key}: not acknowledged`;
    const at = this.ackTimes[i]!;
    const rel = (t: number | undefined) => (t === undefined ? '-' : `${Math.round(t - at)}`);
    const near = this.failureLog.filter((f) => Math.abs(f.at - at) <= windowMs).map((f) => `${rel(f.at)} ms ${f.message}`);
    const reached = this.connections.filter((c) => Math.abs(c.at - at) <= windowMs).map((c) => `${rel(c.at)} ms ${c.server}`);
    return `${key} acknowledged at ${Math.round(at)} ms (previous ${rel(this.ackTimes[i - 1])} ms, next +${rel(this.ackTimes[i + 1])} ms); failures within ${windowMs} ms: ${near.join(' | ') || 'none'}; connections: ${reached.join(' | ') || 'none'}`;
  }

  /** Acknowledged keys that the node at `address` does not hold. */
  async missingOn(address: { host: string; port: number }, password: string, username?: string): Promise<string[]> {
    const c = new Redis({ ...redisOptions({ host: address.host, port: address.port, username, password, tls: this.#tls }), lazyConnect: true });
    try {
      await c.connect();
      const missing: string[] = [];
      for (let i = 0; i < this.acked.length; i += 1000) {
        const keys = this.acked.slice(i, i + 1000);
        (await c.mget(...keys)).forEach((v, j) => {
          if (v === null) missing.push(keys[j]);
        });
      }
      return missing;
    } finally {
      c.disconnect();
    }
  }
}
