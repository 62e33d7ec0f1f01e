/**
 * Which Redis settings `redisConfig` may override.
 *
 * An allow-list rather than a deny-list: a setting redis-ha has not thought about is rejected, so a new
 * Redis release cannot quietly let users switch off something the tool relies on. Settings the tool
 * owns are rejected with the reason, so the user knows which spec field to use instead.
 */
import { closeNames } from './suggest.ts';

/** Tunables a user may set. Keys are lowercase; `redisConfig` keys are lowercased before lookup. */
export const ALLOWED_REDIS_SETTINGS: ReadonlySet<string> = new Set([
  // memory and eviction
  'maxmemory', 'maxmemory-policy', 'maxmemory-samples', 'maxmemory-eviction-tenacity', 'maxmemory-clients',
  'lfu-log-factor', 'lfu-decay-time',
  'lazyfree-lazy-eviction', 'lazyfree-lazy-expire', 'lazyfree-lazy-server-del', 'lazyfree-lazy-user-del',
  'lazyfree-lazy-user-flush', 'replica-lazy-flush',
  'activedefrag', 'active-defrag-ignore-bytes', 'active-defrag-threshold-lower', 'active-defrag-threshold-upper',
  'active-defrag-cycle-min', 'active-defrag-cycle-max', 'active-defrag-max-scan-fields', 'jemalloc-bg-thread',
  // clients and connections
  'timeout', 'tcp-keepalive', 'tcp-backlog', 'maxclients', 'client-output-buffer-limit', 'client-query-buffer-limit',
  'proto-max-bulk-len', 'tracking-table-max-keys',
  // server
  'hz', 'dynamic-hz', 'databases', 'io-threads', 'io-threads-do-reads', 'activerehashing', 'loglevel',
  'busy-reply-threshold', 'lua-time-limit', 'stop-writes-on-bgsave-error',
  // diagnostics
  'slowlog-log-slower-than', 'slowlog-max-len', 'latency-monitor-threshold', 'latency-tracking', 'acllog-max-len',
  'notify-keyspace-events',
  // encodings
  'hash-max-listpack-entries', 'hash-max-listpack-value', 'hash-max-ziplist-entries', 'hash-max-ziplist-value',
  'list-max-listpack-size', 'list-max-ziplist-size', 'list-compress-depth',
  'set-max-intset-entries', 'set-max-listpack-entries', 'set-max-listpack-value',
  'zset-max-listpack-entries', 'zset-max-listpack-value', 'zset-max-ziplist-entries', 'zset-max-ziplist-value',
  'stream-node-max-bytes', 'stream-node-max-entries', 'hll-sparse-max-bytes',
  // replication tuning (who replicates from whom stays with the controller)
  'repl-backlog-size', 'repl-backlog-ttl', 'repl-timeout', 'repl-ping-replica-period', 'repl-disable-tcp-nodelay',
  'repl-diskless-sync', 'repl-diskless-sync-delay', 'repl-diskless-sync-max-replicas', 'repl-diskless-load',
  'replica-serve-stale-data',
  // persistence tuning (whether and where data is saved stays with `persistence`)
  'appendfsync', 'auto-aof-rewrite-percentage', 'auto-aof-rewrite-min-size', 'aof-use-rdb-preamble',
  'rdbcompression', 'rdbchecksum',
]);

const DATA_LOCATION = 'persistence decides where data lives';
const DATA_ON_OFF = 'persistence.enabled decides whether data is saved';
const AUTH = 'auth sets the passwords and users';
const NETWORK = 'redis-ha owns networking';
const REPLICATION = 'the controller owns replication';
const PROCESS = 'redis-ha runs the process and keeps its logs';
const UNSAFE = 'it would let clients change or bypass what redis-ha sets';

/** Settings redis-ha owns, each with the reason shown to the user. Legacy `slave` spellings included. */
const OWNED: Readonly<Record<string, string>> = {
  dir: DATA_LOCATION,
  dbfilename: DATA_LOCATION,
  appendfilename: DATA_LOCATION,
  appenddirname: DATA_LOCATION,
  appendonly: DATA_ON_OFF,
  save: DATA_ON_OFF,
  requirepass: AUTH,
  masterauth: AUTH,
  masteruser: AUTH,
  aclfile: AUTH,
  user: AUTH,
  port: NETWORK,
  bind: NETWORK,
  'bind-source-addr': NETWORK,
  unixsocket: NETWORK,
  unixsocketperm: NETWORK,
  'protected-mode': NETWORK,
  'replica-announce-ip': NETWORK,
  'replica-announce-port': NETWORK,
  'slave-announce-ip': NETWORK,
  'slave-announce-port': NETWORK,
  replicaof: REPLICATION,
  slaveof: REPLICATION,
  'replica-read-only': REPLICATION,
  'slave-read-only': REPLICATION,
  'replica-priority': REPLICATION,
  'slave-priority': REPLICATION,
  'replica-announced': REPLICATION,
  'min-replicas-to-write': 'set the spec field minReplicasToWrite instead',
  'min-slaves-to-write': 'set the spec field minReplicasToWrite instead',
  'min-replicas-max-lag': 'set the spec field minReplicasMaxLag instead',
  'min-slaves-max-lag': 'set the spec field minReplicasMaxLag instead',
  daemonize: PROCESS,
  supervised: PROCESS,
  logfile: PROCESS,
  pidfile: PROCESS,
  'syslog-enabled': PROCESS,
  'syslog-ident': PROCESS,
  'syslog-facility': PROCESS,
  include: 'it would load settings redis-ha cannot check',
  'rename-command': 'the controller and Sentinel need every command under its own name',
  'enable-debug-command': UNSAFE,
  'enable-module-command': UNSAFE,
  'enable-protected-configs': UNSAFE,
  loadmodule: UNSAFE,
};

/** Owned families, matched by prefix. */
const OWNED_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['tls-', NETWORK],
  ['cluster-', 'redis-ha uses Sentinel, not Redis Cluster'],
  ['sentinel', 'Sentinel is configured from the spec fields sentinels, quorum and sentinel'],
];

/** Why redis-ha owns `key` (lowercase), or undefined when it does not. */
export function ownedReason(key: string): string | undefined {
  if (Object.hasOwn(OWNED, key)) return OWNED[key];
  return OWNED_PREFIXES.find(([prefix]) => key.startsWith(prefix))?.[1];
}

/**
 * The problem with one `redisConfig` entry (key already lowercased), without the field path, or
 * undefined when it may be set. Values are checked for control characters and length by the schema.
 */
export function checkRedisConfigEntry(key: string, _value: string): string | undefined {
  const reason = ownedReason(key);
  if (reason !== undefined) return `owned by redis-ha (${reason}); remove it`;
  if (ALLOWED_REDIS_SETTINGS.has(key)) return undefined;
  const near = closeNames(key, [...ALLOWED_REDIS_SETTINGS]);
  return near.length
    ? `not an allowed Redis setting (did you mean ${near.join(' or ')}?)`
    : 'not an allowed Redis setting (redis-ha allows tunables such as maxmemory, maxmemory-policy, timeout and hz)';
}
