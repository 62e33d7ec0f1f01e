import { Redis } from 'ioredis';

/**
 * A client that writes unique keys one after another through Sentinel and records every write the
 * master acknowledged, so a test can count acknowledged writes lost after a fault.
 */
export class AckedWriter {
  readonly acked: string[] = [];
  failures = 0;
  #client: Redis;
  #stopped = false;
  #loop?: Promise<void>;
  #n = 0;
  readonly #prefix: string;

  constructor(o: { masterName: string; sentinels: { host: string; port: number }[]; password: string; sentinelPassword: string; prefix: string }) {
    this.#prefix = o.prefix;
    this.#client = new Redis({
      name: o.masterName,
      sentinels: o.sentinels,
      password: o.password,
      sentinelPassword: o.sentinelPassword,
      sentinelRetryStrategy: () => 50,
      retryStrategy: () => 50,
      reconnectOnError: (err) => /READONLY/.test(err.message),
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
    });
    this.#client.on('error', () => {});
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const key = `${this.#prefix}:${this.#n++}`;
        try {
          await this.#client.set(key, '1');
          this.acked.push(key);
        } catch {
          this.failures++;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    this.#client.disconnect();
  }

  /** Acknowledged keys missing on the node at `address`. */
  async lostOn(address: { host: string; port: number }, password: string): Promise<number> {
    const c = new Redis({ ...address, password, lazyConnect: true });
    try {
      await c.connect();
      let lost = 0;
      for (let i = 0; i < this.acked.length; i += 1000) {
        const values = await c.mget(...this.acked.slice(i, i + 1000));
        lost += values.filter((v) => v === null).length;
      }
      return lost;
    } finally {
      c.disconnect();
    }
  }
}
