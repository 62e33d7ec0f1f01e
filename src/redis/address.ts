/**
 * Where a Redis node or Sentinel listens, and the one way to write, read and compare it. Every runtime
 * (local, Kubernetes, the endpoint) and every model (observation, status) uses these, so two addresses
 * that are the same compare and print the same everywhere.
 */

/** A `host:port` pair. Hostnames on Kubernetes, IPs or `127.0.0.1` locally. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/**
 * The canonical `host:port` text of an address: the map key, and how addresses are written in messages
 * and in `status`.
 * @example addressKey({ host: '127.0.0.1', port: 6379 }) // '127.0.0.1:6379'
 */
export function addressKey(a: Address): string {
  return `${a.host}:${a.port}`;
}

/**
 * The inverse of `addressKey`: `"host:port"` (the last colon splits) → an address; undefined when it
 * is not one.
 * @example parseAddress('10.0.0.1:6379') // { host: '10.0.0.1', port: 6379 }
 */
export function parseAddress(text: string | undefined): Address | undefined {
  const at = text?.lastIndexOf(':') ?? -1;
  if (!text || at <= 0 || !/^\d{1,5}$/.test(text.slice(at + 1))) return undefined;
  const port = Number(text.slice(at + 1));
  return port > 0 && port <= 65535 ? { host: text.slice(0, at), port } : undefined;
}

/**
 * True when both addresses are given and equal.
 * @example sameAddress({ host: 'a', port: 1 }, { host: 'a', port: 1 }) // true
 */
export function sameAddress(a: Address | null | undefined, b: Address | null | undefined): boolean {
  return !!a && !!b && a.host === b.host && a.port === b.port;
}

/** The bare address of a node or Sentinel (drops the other fields so actions stay small). */
export function addressOf(x: Address): Address {
  return { host: x.host, port: x.port };
}
