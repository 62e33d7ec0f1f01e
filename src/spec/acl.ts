/**
 * The ACL users of a deployment, the same on both runtimes: the application's user (named by
 * `auth.username`, `default` unless set) and one least-privilege user per component. The rules are
 * Redis's and redis_exporter's documented minimal sets.
 */
import { createHash } from 'node:crypto';

/** ACL users redis-ha creates on every Redis node besides the application's. */
export const ACL_USERS = {
  replication: 'replication',
  sentinel: 'sentinel',
  exporter: 'exporter',
  operator: 'operator',
} as const;

export type InternalUser = keyof typeof ACL_USERS;
export const INTERNAL_USERS = Object.keys(ACL_USERS) as InternalUser[];

/** Least-privilege ACL rules of the internal users (from the Redis and redis_exporter docs). */
export const ACL_RULES = {
  // https://redis.io/docs/latest/operate/oss_and_stack/management/replication/ (the replica user)
  replication: '+psync +replconf +ping',
  // https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/#redis-access-control-list-authentication
  sentinel:
    '&* +multi +slaveof +replicaof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill',
  // https://github.com/oliver006/redis_exporter#authenticating-with-redis (the documented ACL)
  exporter:
    '-@all +@connection +memory -readonly +strlen +config|get +xinfo +pfcount -quit +zcard +type +xlen -readwrite -command +client -wait +scard +llen +hlen +get +eval +slowlog +cluster|info -hello -echo +info +latency +scan -reset -auth -asking',
  // The controller / operator: observe, re-point replicas, fence, switch over. No data access; it may
  // PUBLISH on redis-ha's own channel only, to prove the replicas receive the stream (REPLICATION_PROBE_CHANNEL).
  operator:
    '-@all +@connection +ping +info +role +replicaof +slaveof +client|kill +client|list +client|pause +client|unpause +config|get +config|set +wait +failover +publish &__redis-ha__:*',
} as const;

/**
 * The channel the controller's user publishes on to prove that the replicas receive the replication
 * stream (`replicasAcknowledging`): nobody subscribes to it, and a PUBLISH reaches every replica.
 */
export const REPLICATION_PROBE_CHANNEL = '__redis-ha__:replication';

/**
 * The application user's rules unless `auth.aclRules` says otherwise: every key and channel and every
 * command except the `@dangerous` ones (CONFIG, DEBUG, MODULE, FLUSHALL, FLUSHDB, KEYS, SHUTDOWN,
 * REPLICAOF, ACL, ...), with INFO and ROLE given back because clients and tools read them.
 */
export const DEFAULT_APPLICATION_ACL_RULES = '~* &* +@all -@dangerous +info +role';

/**
 * The application user's rules in a migrated deployment (`redis-ha migrate`, `migrateFrom`): every right
 * the source's default user had, since the source's Sentinels and replicas log in as it.
 */
export const MIGRATED_ACL_RULES = '~* &* +@all';

/**
 * The application user unless `auth.username` names another: `default`, so clients that send only a
 * password (`AUTH <password>`) work. Any other name switches the `default` user off.
 */
export const DEFAULT_APPLICATION_USER = 'default';

/** ACL rule words that would change a user's passwords or switch it off; `auth.aclRules` may not hold them. */
export const ACL_RULES_OWNED = /^(on|off|nopass|resetpass|reset|[<>#!].*)$/i;

/** `auth.username`: what Redis accepts as a user name and a shell script can echo unquoted. */
export const USERNAME_PATTERN = '^[A-Za-z0-9][-._A-Za-z0-9]{0,63}$';

/** A name and the password that goes with it. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** SHA-256 of a password as ACL `#<hash>` takes it, so config files need not hold the password itself. */
export function aclPasswordHash(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

/**
 * One `user` directive of redis.conf: `reset` first so nothing a previous rule (or the built-in
 * `default` user's `nopass +@all`) granted survives.
 * @example aclUserLine('replication', pw, ACL_RULES.replication) // 'user replication reset on #… +psync +replconf +ping'
 */
export function aclUserLine(username: string, password: string, rules: string): string {
  return `user ${username} reset on #${aclPasswordHash(password)} ${rules}`;
}

/** The `user default ...` line when the application has its own user: off, no password, no commands. */
export const DEFAULT_USER_OFF = 'user default reset off';

/** The application's ACL user name of a resolved spec. */
export function applicationUser(spec: { readonly auth: { readonly username?: string } }): string {
  return spec.auth.username ?? DEFAULT_APPLICATION_USER;
}

/** The application user's ACL rules of a resolved spec. */
export function applicationRules(spec: { readonly auth: { readonly aclRules?: string } }): string {
  return spec.auth.aclRules ?? DEFAULT_APPLICATION_ACL_RULES;
}
