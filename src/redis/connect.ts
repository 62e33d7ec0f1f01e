import { readFileSync, statSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import type { Address } from './address.ts';
import { GuardedConnector } from './guard.ts';

/**
 * What a TLS client of a deployment needs, as file paths: the CA that signed the servers'
 * certificates and, for mutual TLS (`tls-auth-clients yes`), a client certificate and its key.
 */
export interface TlsFiles {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * The same as PEM text held in memory: the operator reads the CA (and, for mutual TLS, the certificate
 * and key) from a Secret through the API and never writes them to a file.
 */
export interface TlsPems {
  readonly caPem: string;
  readonly certPem?: string;
  readonly keyPem?: string;
}

/** Where a TLS client's trust (and client certificate) comes from: files, or PEM text in memory. */
export type TlsSource = TlsFiles | TlsPems;

/** Where a Redis server or Sentinel listens, and how to authenticate to it (and, with `tls`, verify it). */
export interface Endpoint extends Address {
  readonly username?: string;
  readonly password?: string;
  readonly tls?: TlsSource;
  /** With `tls`, the name the server's certificate must carry when `host` is an address (a pod's IP). */
  readonly servername?: string;
}

const pemCache = new Map<string, { mtimeMs: number; pem: Buffer }>();

/** A PEM file, read once per version of it: probes connect many times a second. */
function pem(path: string): Buffer {
  const { mtimeMs } = statSync(path);
  const cached = pemCache.get(path);
  if (cached && cached.mtimeMs === mtimeMs) return cached.pem;
  const value = readFileSync(path);
  pemCache.set(path, { mtimeMs, pem: value });
  return value;
}

/**
 * Node's TLS options for `files`: the server's certificate must chain to the CA and name the host
 * connected to (an IP address or name in its SANs); the client certificate is sent when there is one.
 */
export function tlsOptions(source: TlsSource): ConnectionOptions {
  if ('caPem' in source) return { ca: source.caPem, ...(source.certPem && source.keyPem ? { cert: source.certPem, key: source.keyPem } : {}) };
  return { ca: pem(source.ca), ...(source.cert && source.key ? { cert: pem(source.cert), key: pem(source.key) } : {}) };
}

/**
 * The ioredis options that reach `e`: address, credentials and TLS. Every client redis-ha opens (the
 * controller, probes, the endpoints' checks, the CLI, benchmarks) builds its options here, so a TLS
 * deployment is spoken to over TLS everywhere.
 * @example new Redis({ ...redisOptions(node), lazyConnect: true })
 */
export function redisOptions(e: Endpoint): Pick<RedisOptions, 'host' | 'port' | 'username' | 'password' | 'tls' | 'Connector'> {
  return {
    host: e.host,
    port: e.port,
    username: e.username,
    password: e.password,
    ...(e.tls ? { tls: { ...tlsOptions(e.tls), ...(e.servername ? { servername: e.servername } : {}) } } : {}),
    Connector: GuardedConnector,
  };
}

/**
 * ioredis options for a Sentinel-aware client (`name` + `sentinels`): TLS to the Sentinels and to the
 * nodes they name, with the same CA, when `tls` is given.
 */
export function sentinelClientOptions(tls: TlsSource | undefined): Pick<RedisOptions, 'tls' | 'sentinelTLS' | 'enableTLSForSentinelMode'> {
  if (!tls) return {};
  const options = tlsOptions(tls);
  return { tls: options, sentinelTLS: options, enableTLSForSentinelMode: true };
}

/**
 * A connection that fails fast instead of queueing: probes and controller actions must see an
 * unreachable node as unreachable within `timeoutMs`, never hang on ioredis's reconnect loop.
 */
export function connect(e: Endpoint, timeoutMs = 1000): Redis {
  const client = new Redis({
    ...redisOptions(e),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    enableReadyCheck: false,
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
