/** Parsers for Redis and Sentinel replies. They never throw: unknown shapes give empty or "unknown" values. */

/** `INFO` text → flat `field → value` map (section headers dropped). */
export function parseInfo(text: string): Map<string, string> {
  // The reply is typed by the caller's cast: a server that is not Redis may send an array.
  if (typeof text !== 'string') throw new Error('INFO answered with something other than text');
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** A replica as the master lists it in `INFO replication` (`slaveN:ip=...,port=...,state=online,offset=...,lag=...`). */
export interface ListedReplica {
  readonly host: string;
  readonly port: number;
  readonly state: string;
  readonly offset: number;
  readonly lag: number;
}

/** What `INFO replication` says about one node. */
export interface ReplicationInfo {
  readonly role: 'master' | 'replica' | 'unknown';
  readonly replid: string;
  readonly offset: number;
  /** For a replica: whom it follows and whether the link is up. */
  readonly masterHost?: string;
  readonly masterPort?: number;
  readonly linkUp?: boolean;
  /** For a master: the replicas connected to it. */
  readonly replicas: readonly ListedReplica[];
}

function int(v: string | undefined, fallback = 0): number {
  const n = Number(v);
  return v !== undefined && Number.isFinite(n) ? n : fallback;
}

function keyValues(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) m.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return m;
}

export function parseReplication(text: string): ReplicationInfo {
  const f = parseInfo(text);
  const rawRole = f.get('role');
  const role = rawRole === 'master' ? 'master' : rawRole === 'slave' ? 'replica' : 'unknown';
  const replicas: ListedReplica[] = [];
  for (const [key, value] of f) {
    if (!/^slave\d+$/.test(key)) continue;
    const kv = keyValues(value);
    replicas.push({
      host: kv.get('ip') ?? '',
      port: int(kv.get('port')),
      state: kv.get('state') ?? 'unknown',
      offset: int(kv.get('offset')),
      lag: int(kv.get('lag'), -1),
    });
  }
  const base = { role, replid: f.get('master_replid') ?? '', offset: int(f.get('master_repl_offset')), replicas } as const;
  if (role !== 'replica') return base;
  return {
    ...base,
    masterHost: f.get('master_host'),
    masterPort: int(f.get('master_port')),
    linkUp: f.get('master_link_status') === 'up',
    offset: int(f.get('slave_repl_offset'), base.offset),
  };
}

/** Sentinel's flat `[k1, v1, k2, v2, ...]` replies (`SENTINEL MASTER`, each entry of `SENTINEL REPLICAS`). */
export function parseFlatRecord(reply: unknown): Map<string, string> {
  const m = new Map<string, string>();
  if (!Array.isArray(reply)) return m;
  for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), String(reply[i + 1]));
  return m;
}

export function parseFlatRecords(reply: unknown): Map<string, string>[] {
  return Array.isArray(reply) ? reply.map(parseFlatRecord) : [];
}

/** Sentinel's comma-separated `flags` field, e.g. `master,s_down,o_down`. */
export function parseFlags(flags: string | undefined): Set<string> {
  return new Set((flags ?? '').split(',').filter((s) => s !== ''));
}

/** Total keys over every database in `INFO keyspace` (`db0:keys=3,expires=0,...`). */
export function keyCount(info: ReadonlyMap<string, string> | undefined): number {
  let keys = 0;
  for (const [field, value] of info ?? []) {
    if (/^db\d+$/.test(field)) keys += Number(/keys=(\d+)/.exec(value)?.[1] ?? 0);
  }
  return keys;
}

/**
 * The `INFO` fields an observation carries for each reachable node: what people read from
 * redis_exporter (memory, clients, ops/s, keyspace hits and misses). Kept under Redis's names so the
 * mapping to exporter names lives in one place (`observe/metrics.ts`).
 */
export const NODE_FIGURES = [
  'used_memory', 'used_memory_rss', 'maxmemory', 'connected_clients', 'blocked_clients', 'connected_slaves',
  'total_connections_received', 'rejected_connections', 'total_commands_processed', 'instantaneous_ops_per_sec',
  'keyspace_hits', 'keyspace_misses', 'expired_keys', 'evicted_keys', 'total_net_input_bytes',
  'total_net_output_bytes', 'uptime_in_seconds',
] as const;

/** A node's figures: each of `NODE_FIGURES` it reported, `keys` (over every database, and per database) and its version. */
export type NodeFigures = { readonly [K in (typeof NODE_FIGURES)[number] | 'keys']?: number } & {
  /** `redis_version`. Valkey reports 7.2.4 there, the Redis release it forked from, and its own in `valkeyVersion`. */
  readonly redisVersion?: string;
  /** `valkey_version`, or `redis_version` where `server_name` is valkey and there is no `valkey_version`: only Valkey has one. */
  readonly valkeyVersion?: string;
  /** Keys per database that holds any, e.g. `{ db0: 12 }`. */
  readonly dbKeys?: Readonly<Record<string, number>>;
};

/** Picks `NODE_FIGURES` out of a parsed `INFO` reply; fields the node did not report are left out. */
export function nodeFigures(info: ReadonlyMap<string, string>): NodeFigures {
  const figures: Record<string, number | string | Record<string, number>> = {};
  for (const field of NODE_FIGURES) {
    const value = Number(info.get(field));
    if (info.has(field) && Number.isFinite(value)) figures[field] = value;
  }
  figures.keys = keyCount(info);
  const dbKeys: Record<string, number> = {};
  for (const [field, value] of info) if (/^db\d+$/.test(field)) dbKeys[field] = keyCount(new Map([[field, value]]));
  figures.dbKeys = dbKeys;
  const version = info.get('redis_version');
  if (version) figures.redisVersion = version;
  // A Valkey that reports server_name:valkey but no valkey_version: its redis_version is then its own.
  const valkey = info.get('valkey_version') ?? (info.get('server_name') === 'valkey' ? version : undefined);
  if (valkey) figures.valkeyVersion = valkey;
  return figures as NodeFigures;
}

/** The server a node runs, as status names it: `valkey 9.1.2` or `redis 7.0.15`; undefined when it did not say. */
export function serverOf(figures: NodeFigures | undefined): string | undefined {
  if (figures?.valkeyVersion) return `valkey ${figures.valkeyVersion}`;
  return figures?.redisVersion ? `redis ${figures.redisVersion}` : undefined;
}

/** A replica as one Sentinel lists it (`SENTINEL REPLICAS`). */
export interface SentinelReplica {
  readonly host: string;
  readonly port: number;
  readonly flags: ReadonlySet<string>;
  readonly priority: number;
  readonly offset: number;
  readonly runId: string;
  /** Its own link to the master is up (`master-link-status` ok), as its last INFO said. */
  readonly linkUp: boolean;
  /** Since Sentinel last read its INFO (`info-refresh`). */
  readonly infoAgeMs: number;
}

export function parseSentinelReplicas(records: readonly Map<string, string>[]): SentinelReplica[] {
  return records.map((r) => ({
    host: r.get('ip') ?? '',
    port: Number(r.get('port') ?? 0),
    flags: parseFlags(r.get('flags')),
    priority: Number(r.get('slave-priority') ?? r.get('replica-priority') ?? 100),
    offset: Number(r.get('slave-repl-offset') ?? r.get('replica-repl-offset') ?? 0),
    runId: r.get('run-id') ?? r.get('runid') ?? '',
    linkUp: r.get('master-link-status') === 'ok',
    infoAgeMs: Number(r.get('info-refresh') ?? 0),
  }));
}
