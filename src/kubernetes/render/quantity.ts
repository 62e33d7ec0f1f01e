/** Kubernetes memory quantities, as far as render needs them. */

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Bytes of a memory quantity such as `512Mi` or `1G`; undefined when it is not one. */
export function bytesOf(quantity: string): number | undefined {
  const match = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!match) return undefined;
  return Math.floor(Number(match[1]) * UNITS[match[2] ?? '']!);
}

/**
 * The maxmemory a Redis container with this memory limit gets when the spec sets none: 80% of the
 * limit, leaving room for replication buffers and fragmentation so the kernel does not OOM-kill it.
 */
export function maxmemoryFor(limit: string | undefined): string | undefined {
  const bytes = limit === undefined ? undefined : bytesOf(limit);
  return bytes === undefined ? undefined : String(Math.floor(bytes * 0.8));
}
