import type { LocalDeployment, Member } from './deployment.ts';
import { filesOf } from './layout.ts';
import { tlsFilesOf } from './tls.ts';
import { ACL_RULES, DEFAULT_USER_OFF, INTERNAL_USERS, aclUserLine, applicationRules, tlsEnabled } from '../spec/index.ts';

/** Quotes one argument for redis.conf (double quotes, backslash escapes). Values are validated upstream. */
function q(value: string | number): string {
  return `"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A setting's value as redis.conf arguments: `client-output-buffer-limit` takes several, `""` is one. */
function args(value: string): string {
  const parts = value.trim().split(/\s+/).filter((p) => p !== '');
  return parts.length === 0 ? '""' : parts.map(q).join(' ');
}

const HEADER = '# Written by redis-ha. It holds secrets (mode 0600) and is regenerated on start; edit the spec instead.';

/**
 * redis.conf for one node. `replicaOf` is the node it starts replicating from, or undefined to start
 * as master. A node never decides this itself: bootstrap and the controller do.
 */
export function renderRedisConf(d: LocalDeployment, node: Member, replicaOf: { host: string; port: number } | undefined): string {
  const files = filesOf(d.stateDir);
  const { spec } = d;
  const lines = [
    HEADER,
    `bind ${node.host}`,
    ...portLines(d, node.port),
    // What a replica tells its master to reach it by (and so what Sentinel learns): its TLS port.
    ...(tlsEnabled(spec) ? [`replica-announce-port ${node.port}`] : []),
    'protected-mode yes',
    'daemonize no',
    `dir ${q(files.dataOf(node.id))}`,
    `logfile ${q(files.logOf(node.id))}`,
    ...aclLines(d),
    `masteruser ${d.users.replication.username}`,
    `masterauth ${q(d.users.replication.password)}`,
    `replica-announce-ip ${node.host}`,
    'replica-read-only yes',
    // Replicas get the data straight from the master's memory, without the default 5 s wait for more
    // replicas to batch with: bootstrap and re-sync after a failover are then sub-second.
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    `min-replicas-to-write ${spec.minReplicasToWrite}`,
    `min-replicas-max-lag ${spec.minReplicasMaxLag}`,
  ];
  if (spec.persistence.enabled) {
    lines.push('save 3600 1 300 100 60 10000', 'appendonly yes', 'appendfsync everysec');
  } else {
    // Persistence off: nothing reaches the disk. No snapshots, no AOF, and a replica's full sync is
    // loaded straight from the socket (swapdb keeps the old dataset in memory until the new one is in,
    // the only mode that never writes a file once the replica has data). SIGTERM and SHUTDOWN save
    // only when save points are set, so `save ""` covers them. Leftovers are removed before each start.
    lines.push('save ""', 'appendonly no', 'repl-diskless-load swapdb');
  }
  for (const [key, value] of Object.entries(spec.redisConfig)) lines.push(`${key} ${args(value)}`);
  if (replicaOf) lines.push(`replicaof ${replicaOf.host} ${replicaOf.port}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Where a member listens. With TLS: TLS only on its port (`port 0` closes plaintext), and TLS for the
 * links it opens itself (replication, Sentinel to nodes and to other Sentinels), presenting the
 * server certificate, which also carries clientAuth. `tls-auth-clients` comes from `tls.authClients`:
 * `optional` by default, so a client with the CA alone gets in and the ACL password authenticates it.
 */
function portLines(d: LocalDeployment, port: number): string[] {
  if (!tlsEnabled(d.spec)) return [`port ${port}`];
  const f = tlsFilesOf(d.stateDir);
  return [
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${q(f.cert)}`,
    `tls-key-file ${q(f.key)}`,
    `tls-ca-cert-file ${q(f.ca)}`,
    `tls-auth-clients ${d.spec.tls?.authClients ?? 'optional'}`,
    'tls-replication yes',
  ];
}

/**
 * The ACL users, passwords as SHA-256 hashes: the application's (`default`, or a user of its own with
 * `default` switched off) and one least-privilege user per component.
 */
function aclLines(d: LocalDeployment): string[] {
  const app = d.users.application;
  const lines = app.username === 'default' ? [] : [DEFAULT_USER_OFF];
  lines.push(aclUserLine(app.username, app.password, applicationRules(d.spec)));
  // A migrated deployment replicates and is monitored as the application (see `bootstrapFrom`): no second line for that user.
  for (const u of INTERNAL_USERS) if (d.users[u].username !== app.username) lines.push(aclUserLine(d.users[u].username, d.users[u].password, ACL_RULES[u]));
  return lines;
}

/**
 * sentinel.conf for one Sentinel. Every Sentinel is told its own run id and those of the others and
 * the replicas up front, so they agree within a second instead of after several hello rounds.
 */
export function renderSentinelConf(d: LocalDeployment, sentinel: Member, master: { host: string; port: number }): string {
  const files = filesOf(d.stateDir);
  const { spec, masterName: name } = d;
  const index = d.sentinels.findIndex((s) => s.id === sentinel.id);
  const lines = [
    HEADER,
    `bind ${sentinel.host}`,
    ...portLines(d, sentinel.port),
    // What this Sentinel tells the others (hello messages) to reach it by: its TLS port.
    ...(tlsEnabled(spec) ? [`sentinel announce-port ${sentinel.port}`] : []),
    'daemonize no',
    `dir ${q(files.dirOf(sentinel.id))}`,
    `logfile ${q(files.logOf(sentinel.id))}`,
    `requirepass ${q(d.users.sentinelClient.password)}`,
    `sentinel sentinel-pass ${q(d.users.sentinelClient.password)}`,
    `sentinel myid ${d.sentinelIds[index]}`,
    'sentinel resolve-hostnames no',
    'sentinel deny-scripts-reconfig yes',
    `sentinel monitor ${name} ${master.host} ${master.port} ${spec.quorum}`,
    `sentinel auth-user ${name} ${d.users.sentinel.username}`,
    `sentinel auth-pass ${name} ${q(d.users.sentinel.password)}`,
    `sentinel down-after-milliseconds ${name} ${spec.sentinel.downAfterMilliseconds}`,
    `sentinel failover-timeout ${name} ${spec.sentinel.failoverTimeout}`,
    `sentinel parallel-syncs ${name} ${spec.sentinel.parallelSyncs}`,
  ];
  for (const node of d.nodes) {
    if (node.host !== master.host || node.port !== master.port) lines.push(`sentinel known-replica ${name} ${node.host} ${node.port}`);
  }
  d.sentinels.forEach((other, i) => {
    if (i !== index) lines.push(`sentinel known-sentinel ${name} ${other.host} ${other.port} ${d.sentinelIds[i]}`);
  });
  return `${lines.join('\n')}\n`;
}
