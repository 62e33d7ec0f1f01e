/**
 * List-and-watch cache of one collection, on the library's `Watch`. A watch that ends is resumed from
 * the last resourceVersion; one the server calls too old (410 Gone, as an HTTP status or an ERROR
 * event) is replaced by a fresh list; any other failure is retried with backoff. It never stops on its
 * own: only `stop()` ends it (the library's ListWatch gives up on a non-410 error).
 */
import type { KubeClient } from './client.ts';
import type { ObjectMeta } from './reconcile.ts';

export type ChangeType = 'added' | 'updated' | 'deleted';

export interface InformerOptions<T> {
  readonly labelSelector?: string;
  /** Told every change, including the differences a relist finds. Must not throw. */
  readonly onChange?: (type: ChangeType, object: T) => void;
  readonly log?: (line: string) => void;
  /** Seconds the server keeps one watch open before it ends it (then resumed). */
  readonly watchSeconds?: number;
}

interface Meta {
  metadata: ObjectMeta;
}

const keyOf = (o: Meta) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class Informer<T extends Meta> {
  readonly #client: KubeClient;
  readonly #path: string;
  readonly #o: InformerOptions<T>;
  #cache = new Map<string, T>();
  #rv = '';
  #stopped = false;
  #abort?: AbortController;
  #backoffMs = 0;
  #synced?: (v: void) => void;
  /** How many times the collection was listed (1 at start, +1 per 410 Gone). */
  lists = 0;
  /** Watches started (resumes included). */
  watches = 0;
  lastError?: string;

  constructor(client: KubeClient, collectionPath: string, o: InformerOptions<T> = {}) {
    this.#client = client;
    this.#path = collectionPath;
    this.#o = o;
  }

  /** Lists, then watches; resolves after the first list. `fromResourceVersion` skips that list (tests force a 410 with an old one). */
  start(fromResourceVersion?: string): Promise<void> {
    const synced = new Promise<void>((resolve) => (this.#synced = resolve));
    if (fromResourceVersion !== undefined) {
      this.#rv = fromResourceVersion;
      void this.#watch();
    } else void this.#relist();
    return synced;
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }

  list(namespace?: string): T[] {
    return [...this.#cache.values()].filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(`${namespace ?? ''}/${name}`);
  }

  #emit(type: ChangeType, o: T): void {
    try {
      this.#o.onChange?.(type, o);
    } catch (err) {
      this.#o.log?.(`informer handler failed: ${(err as Error).message}`);
    }
  }

  async #relist(): Promise<void> {
    while (!this.#stopped) {
      try {
        const list = await this.#client.get<{ items: T[]; metadata: { resourceVersion: string } }>(this.#path, { labelSelector: this.#o.labelSelector });
        this.lists++;
        const fresh = new Map(list.items.map((o) => [keyOf(o), o] as const));
        const old = this.#cache;
        this.#cache = fresh;
        this.#rv = list.metadata.resourceVersion;
        for (const [k, o] of old) if (!fresh.has(k)) this.#emit('deleted', o);
        for (const [k, o] of fresh) {
          const before = old.get(k);
          if (!before) this.#emit('added', o);
          else if (before.metadata.resourceVersion !== o.metadata.resourceVersion) this.#emit('updated', o);
        }
        this.#synced?.();
        this.#backoffMs = 0;
        void this.#watch();
        return;
      } catch (err) {
        await this.#failed(`list ${this.#path}`, err);
      }
    }
  }

  async #failed(what: string, err: unknown): Promise<void> {
    this.lastError = `${what}: ${(err as Error)?.message ?? String(err)}`;
    this.#o.log?.(`${this.lastError}; retrying in ${Math.max(this.#backoffMs, 500)} ms`);
    this.#backoffMs = Math.min(Math.max(this.#backoffMs * 2, 500), 30_000);
    await new Promise((r) => setTimeout(r, this.#backoffMs));
  }

  async #watch(): Promise<void> {
    if (this.#stopped) return;
    let gone = false;
    this.watches++;
    const done = (err: any) => {
      if (this.#stopped) return;
      if (gone || err?.statusCode === 410 || err?.code === 410) {
        this.#o.log?.(`watch ${this.#path}: resourceVersion ${this.#rv} is gone (410); listing again`);
        this.#rv = '';
        void this.#relist();
      } else if (err) {
        void this.#failed(`watch ${this.#path}`, err).then(() => this.#watch());
      } else {
        this.#backoffMs = 0;
        void this.#watch();
      }
    };
    const event = (phase: string, o: any) => {
      if (phase === 'ERROR') {
        if (o?.code === 410) gone = true;
        else this.lastError = `watch ${this.#path}: ${o?.message ?? 'error event'}`;
        return;
      }
      if (o?.metadata?.resourceVersion) this.#rv = o.metadata.resourceVersion;
      if (phase === 'BOOKMARK') return;
      const k = keyOf(o);
      if (phase === 'DELETED') {
        this.#cache.delete(k);
        this.#emit('deleted', o);
      } else {
        const existed = this.#cache.has(k);
        this.#cache.set(k, o);
        this.#emit(existed ? 'updated' : 'added', o);
      }
      // A watch started from an explicit resourceVersion is synced once it delivers anything.
      this.#synced?.();
    };
    try {
      this.#abort = await this.#client.watcher().watch(
        this.#path,
        { resourceVersion: this.#rv, allowWatchBookmarks: true, labelSelector: this.#o.labelSelector, timeoutSeconds: this.#o.watchSeconds ?? 300 },
        event,
        done,
      );
      if (this.#stopped) this.#abort.abort();
    } catch (err) {
      done(err);
    }
  }
}
