import net from 'node:net';
import tls from 'node:tls';
import { AbstractConnector } from 'ioredis';
import { lookup } from './lookup.ts';

interface GuardedOptions {
  readonly host?: string;
  readonly port?: number;
  readonly tls?: tls.ConnectionOptions;
  readonly disconnectTimeout?: number;
}

/**
 * ioredis's standalone connector, plus a guard: a reply the parser cannot take (arrays nested so deep
 * that parsing them overflows the stack) would otherwise throw out of the socket's `data` event and
 * take the whole process down. Here it closes that one connection with the reason instead, and
 * ioredis reconnects as after any dropped connection. Names resolve through `lookup` (lookup.ts), which
 * rides out a DNS blip. Pass it as the `Connector` option.
 */
export class GuardedConnector extends AbstractConnector {
  readonly #o: GuardedOptions;

  constructor(options: unknown) {
    const o = options as GuardedOptions;
    super(o.disconnectTimeout ?? 2000);
    this.#o = o;
  }

  connect(): Promise<net.Socket> {
    this.connecting = true;
    return new Promise((resolve, reject) => {
      process.nextTick(() => {
        if (!this.connecting) {
          reject(new Error('Connection is closed.'));
          return;
        }
        const host = this.#o.host ?? '127.0.0.1';
        const port = this.#o.port ?? 6379;
        let stream: net.Socket;
        try {
          stream = this.#o.tls ? tls.connect({ host, port, lookup, ...this.#o.tls }) : net.createConnection({ host, port, lookup });
        } catch (err) {
          reject(err);
          return;
        }
        guardData(stream);
        this.stream = stream;
        stream.once('error', (err: Error) => {
          this.firstError = err;
        });
        resolve(stream);
      });
    });
  }

  /**
   * ioredis ends the stream and arms a timer (disconnectTimeout, 2 s) that its `close` event clears. A
   * stream that is already destroyed (its connection was refused or dropped) never emits `close`
   * again, so that timer held the process open for 2 s: a command finished 2 s late after probing
   * anything that was not listening yet, as `up` does while the processes start.
   */
  override disconnect(): void {
    if (this.stream?.destroyed) {
      this.connecting = false;
      return;
    }
    super.disconnect();
  }
}

/** Makes an exception thrown by a `data` listener close the stream with that reason instead of escaping. */
function guardData(stream: net.Socket): void {
  const emit = stream.emit.bind(stream) as (event: string | symbol, ...args: unknown[]) => boolean;
  stream.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== 'data') return emit(event, ...args);
    try {
      return emit(event, ...args);
    } catch (err) {
      stream.destroy(new Error(`the server sent a reply that cannot be parsed (${err instanceof Error ? err.message : String(err)}); connection closed`));
      return false;
    }
  }) as typeof stream.emit;
}
