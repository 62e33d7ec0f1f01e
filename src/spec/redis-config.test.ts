import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALLOWED_REDIS_SETTINGS, ownedReason } from './index.ts';

describe('redisConfig allow-list', () => {
  it('never allows a setting redis-ha owns', () => {
    for (const key of ALLOWED_REDIS_SETTINGS) assert.equal(ownedReason(key), undefined, key);
  });

  it('owns what persistence, auth, networking, replication and supervision decide', () => {
    const owned = [
      'dir', 'dbfilename', 'appendonly', 'appendfilename', 'save', 'requirepass', 'masterauth', 'masteruser', 'aclfile',
      'user', 'port', 'bind', 'unixsocket', 'tls-port', 'tls-cert-file', 'replicaof', 'slaveof', 'min-replicas-to-write',
      'min-replicas-max-lag', 'protected-mode', 'daemonize', 'logfile', 'pidfile', 'include', 'rename-command',
      'enable-debug-command', 'cluster-enabled',
    ];
    for (const key of owned) assert.ok(ownedReason(key), key);
  });

  it('allows the common tunables', () => {
    const tunables = [
      'maxmemory', 'maxmemory-policy', 'maxmemory-samples', 'timeout', 'tcp-keepalive', 'hz', 'databases', 'maxclients',
      'lazyfree-lazy-eviction', 'activedefrag', 'slowlog-log-slower-than', 'latency-monitor-threshold',
      'notify-keyspace-events', 'io-threads', 'hash-max-listpack-entries', 'client-output-buffer-limit',
      'repl-backlog-size', 'repl-timeout', 'repl-diskless-sync',
    ];
    for (const key of tunables) assert.ok(ALLOWED_REDIS_SETTINGS.has(key), key);
    for (const key of ALLOWED_REDIS_SETTINGS) assert.equal(key, key.toLowerCase());
  });
});
