import { Redis } from 'ioredis';
import { GuardedConnector } from './guard.ts';

/** Where a Redis server or Sentinel listens, and how to authenticate to it. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
}

/** `host:port`, the one way addresses are written in messages and in `status`. */
export function addressOf(e: { host: string; port: number }): string {
  return `${e.host}:${e.port}`;
}

/**
 * A connection that fails fast instead of queueing: probes and controller actions must see an
 * unreachable node as unreachable within `timeoutMs`, never hang on ioredis's reconnect loop.
 */
export function connect(e: Endpoint, timeoutMs = 1000): Redis {
  const client = new Redis({
    host: e.host,
    port: e.port,
    username: e.username,
    password: e.password,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    enableReadyCheck: false,
    Connector: GuardedConnector,
  });
  rememberErrors(client);
  return client;
}

const connectionErrors = new WeakMap<Redis, Error>();

/**
 * Keeps a client's connection errors (instead of letting them go unhandled) for `causeOf`: a refused
 * login (WRONGPASS) or a reply that is not RESP closes the connection, and the command in flight then
 * only says "Stream isn't writeable".
 */
export function rememberErrors(client: Redis): void {
  client.on('error', (err: Error) => {
    if (!CLOSED.test(err.message)) connectionErrors.set(client, err);
  });
}

const CLOSED = /Stream isn't writeable|Connection is closed/i;

/** Why a command failed: the connection's own error when the command only saw it closing. */
export function causeOf(client: Redis, err: unknown): unknown {
  const closed = err instanceof Error && CLOSED.test(err.message);
  return (closed && connectionErrors.get(client)) || err;
}

/**
 * Runs `fn` on a fresh connection and closes it. The one-shot form used by the CLI and by probes.
 * @example const role = await withConnection(node, (c) => c.call('ROLE'));
 */
export async function withConnection<T>(e: Endpoint, fn: (c: Redis) => Promise<T>, timeoutMs = 1000): Promise<T> {
  const client = connect(e, timeoutMs);
  try {
    await client.connect();
    return await fn(client);
  } catch (err) {
    throw causeOf(client, err);
  } finally {
    client.disconnect();
  }
}
