import net from 'node:net';
import type { Address } from '../redis/address.ts';
import { fastestDatapath, splice, type Datapath } from './datapath.ts';

/**
 * Where a new client connection goes, decided when the client first speaks: a backend, or a refusal
 * sent back as one RESP error line before the connection closes.
 */
export type Target = { readonly backend: Address; readonly key: string } | { readonly refuse: string };

/** How long a client may stay connected without sending anything before the endpoint drops it. */
export const UNBOUND_IDLE_MS = 10_000;

export interface BridgeOptions {
  /** A client silent this long after connecting is dropped (UNBOUND_IDLE_MS unless set). */
  readonly silentMs?: number;
  /** The data path to use when both legs allow it (datapath.ts); the default is the fastest available. */
  readonly datapath?: Datapath;
}

/**
 * One client connection piped to one backend. The data path is bytes only (datapath.ts): no parsing,
 * `noDelay` on both legs, and flow control by stopping reads on the side whose peer's send buffer is
 * full, so a connection never holds more than its sockets' buffers plus one chunk each way.
 *
 * The backend is dialled only when the client first sends something (Redis clients always speak
 * first), so an idle client costs one socket and no backend connection.
 */
export class Bridge {
  readonly client: net.Socket;
  /** The routing key of the backend this bridge is bound to, once bound. */
  key?: string;
  #backend?: net.Socket;
  #closed = false;
  #clientEnded = false;
  readonly #onClose: (b: Bridge) => void;
  readonly #datapath: Datapath;
  /** The data path carrying this connection, once bound. */
  datapath?: Datapath;

  constructor(client: net.Socket, route: () => Target, onClose: (b: Bridge) => void, o: BridgeOptions = {}) {
    this.client = client;
    this.#onClose = onClose;
    this.#datapath = o.datapath ?? fastestDatapath;
    const silentMs = o.silentMs ?? UNBOUND_IDLE_MS;
    client.setNoDelay(true);
    client.on('error', () => this.close());
    client.on('close', () => this.close());
    // A connection that never speaks (a scanner, a half-open socket) is dropped instead of held forever.
    client.setTimeout(silentMs, () => this.close());
    client.once('end', () => {
      if (this.key === undefined) this.close(); // said goodbye before saying anything
      else this.#clientEnded = true; // before the backend answered: passed on once it has
    });
    client.once('data', (first: Buffer) => {
      client.setTimeout(0);
      const target = route();
      if ('refuse' in target) {
        this.refuse(target.refuse);
        return;
      }
      this.key = target.key;
      this.#connect(target.backend, first);
    });
  }

  /** Answers with `-ERR <reason>` and closes: what a client sees when no backend may be used. */
  refuse(reason: string): void {
    if (this.#closed) return;
    this.client.pause();
    this.client.end(`-ERR ${reason.replace(/[\r\n]+/g, ' ')}\r\n`);
    this.#closed = true;
    this.client.once('finish', () => this.client.destroy());
    this.#onClose(this);
  }

  #connect(to: Address, first: Buffer): void {
    const client = this.client;
    client.pause();
    const backend = net.connect({ host: to.host, port: to.port, noDelay: true, allowHalfOpen: true });
    this.#backend = backend;
    backend.on('error', () => this.close());
    backend.on('close', () => this.close());
    backend.once('connect', () => {
      if (this.#closed) return;
      this.datapath = splice(client, backend, first, this.#clientEnded, () => this.close(), this.#datapath);
    });
  }

  /** Closes both legs at once; the client sees the connection drop and reconnects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.destroy();
    this.#backend?.destroy();
    this.#onClose(this);
  }
}
