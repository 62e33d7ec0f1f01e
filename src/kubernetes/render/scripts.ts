/**
 * The ConfigMap's contents: redis.conf, sentinel.conf and the POSIX sh scripts the pods run. None of
 * them holds a secret: the scripts read passwords from the Secret volume at start-up and write the
 * final configs (0600) into an in-memory emptyDir. ACL passwords are stored there as SHA-256 hashes.
 */
import type { RedisHASpec } from '../../spec/index.ts';
import { IMAGE_FLAVORS, type FlavorInfo, type ImageFlavor } from '../../spec/images.ts';
import { ACL_RULES, DEFAULT_USER_OFF, applicationRules, applicationUser } from '../../spec/acl.ts';
import { ACL_USERS, REDIS_PORT, SECRET_KEYS, SENTINEL_PORT, namesOf, passwordKeyOf } from './names.ts';
import { maxmemoryFor } from './quantity.ts';
import { CLI_TLS_FLAGS, tlsConfLines } from './tls.ts';
import { tlsEnabled } from '../../spec/index.ts';
import { SDOWN_SETTLE_MS, SDOWN_SETTLE_ROLE_MS, majorityOf } from '../../topology/agreement.ts';
import { ELECTION_WAIT_SECONDS, SENTINEL_WAIT_SECONDS } from '../../topology/start.ts';

/** Where things are mounted in the pods. */
export const PATHS = {
  config: '/etc/redis-ha/config',
  /** With migrateFrom: the migration ConfigMap (`state`), updated in place (not part of the config hash). */
  migration: '/etc/redis-ha/migration',
  secrets: '/etc/redis-ha/secrets',
  run: '/run/redis-ha',
  data: '/data',
} as const;

export { ACL_RULES } from '../../spec/acl.ts';

function q(value: string | number): string {
  return `"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** redis.conf without secrets, replication target or announce address: the start script adds those. */
export function redisConf(spec: RedisHASpec): string {
  const lines = [
    '# Rendered by redis-ha; start-redis.sh appends users, masterauth and replicaof at start-up.',
    ...(tlsEnabled(spec) ? tlsConfLines(spec, REDIS_PORT, 'redis') : [`port ${REDIS_PORT}`]),
    'bind * -::*',
    // Every user has a password; protected-mode would only refuse non-loopback clients of `default`.
    'protected-mode no',
    `dir ${PATHS.data}`,
    'replica-read-only yes',
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    `min-replicas-to-write ${spec.minReplicasToWrite}`,
    `min-replicas-max-lag ${spec.minReplicasMaxLag}`,
  ];
  if (spec.persistence.enabled) lines.push('save 3600 1 300 100 60 10000', 'appendonly yes', 'appendfsync everysec');
  // Off: nothing reaches the disk (the replica loads a full sync from the socket); see src/local/config.ts.
  else lines.push('save ""', 'appendonly no', 'repl-diskless-load swapdb');
  const maxmemory = spec.redisConfig.maxmemory ?? maxmemoryFor(spec.resources.redis.limits.memory);
  if (spec.redisConfig.maxmemory === undefined && maxmemory !== undefined) lines.push(`maxmemory ${maxmemory}`);
  for (const [key, value] of Object.entries(spec.redisConfig)) {
    const parts = value.trim().split(/\s+/).filter((p) => p !== '');
    lines.push(`${key} ${parts.length === 0 ? '""' : parts.map(q).join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** sentinel.conf without secrets or the monitored master: start-sentinel.sh adds those. */
export function sentinelConf(spec: RedisHASpec): string {
  return [
    '# Rendered by redis-ha; start-sentinel.sh appends passwords, announce-ip and the monitor line.',
    ...(tlsEnabled(spec) ? tlsConfLines(spec, SENTINEL_PORT, 'sentinel') : [`port ${SENTINEL_PORT}`]),
    `dir ${PATHS.data}`,
    'sentinel resolve-hostnames yes',
    'sentinel announce-hostnames yes',
    'sentinel deny-scripts-reconfig yes',
    '',
  ].join('\n');
}

/**
 * `addr_of POD`: the address a Redis pod announces and the Sentinels name it by (announcedHost): its
 * external load balancer's with externalAccess, else its stable hostname (Sentinels: always that).
 */
function announceFunction(spec: RedisHASpec): string {
  if (!spec.externalAccess.enabled) return 'addr_of() { echo "$1.$DOMAIN"; }';
  const names = namesOf(spec);
  const cases = spec.externalAccess.addresses.map((a, i) => `    ${names.redis}-${i}) echo ${a} ;;`);
  return ['addr_of() {', '  case "$1" in', ...cases, '    *) echo "$1.$DOMAIN" ;;', '  esac', '}'].join('\n');
}

/** The spec's image flavour, then the other one (whose binaries a pod on the previous image may have). */
function flavorsOf(spec: RedisHASpec): [FlavorInfo, FlavorInfo] {
  const [other] = (Object.keys(IMAGE_FLAVORS) as ImageFlavor[]).filter((f) => f !== spec.image.flavor);
  return [IMAGE_FLAVORS[spec.image.flavor], IMAGE_FLAVORS[other!]];
}

/** Shell variables and functions every script starts with. Values are validated names and numbers: no quoting issues. */
export function scriptPrelude(spec: RedisHASpec): string {
  const names = namesOf(spec);
  const [flavor, other] = flavorsOf(spec);
  // With TLS every redis-cli call speaks TLS, verified against the mounted CA (plaintext is closed).
  const cli = `$(binary ${flavor.cli} ${other.cli})`;
  return `#!/bin/sh
# Rendered by redis-ha. POD_NAME and POD_NAMESPACE come from the downward API.
set -eu
# This image's binary: the spec's flavour's, else the other flavour's. A change of flavour updates these
# scripts before it replaces the pods, and a pod still on the old image (its probes, a restart) must
# keep running what that image has.
binary() { if command -v "$1" >/dev/null 2>&1; then echo "$1"; else echo "$2"; fi; }
CLI=${tlsEnabled(spec) ? `"${cli} ${CLI_TLS_FLAGS}"` : `"${cli}"`}
GROUP=${names.group}
DOMAIN="${names.headless}.\${POD_NAMESPACE}.svc"
ME="\${POD_NAME}.\${DOMAIN}"
REDIS_PODS="${Array.from({ length: spec.replicas + 1 }, (_, i) => `${names.redis}-${i}`).join(' ')}"
SENTINEL_PODS="${Array.from({ length: spec.sentinels }, (_, i) => `${names.sentinel}-${i}`).join(' ')}"
SECRETS=${PATHS.secrets}

${announceFunction(spec)}
ME_ADDR=$(addr_of "$POD_NAME")
secret() { cat "$SECRETS/$1"; }
# Passwords reach redis-cli through its environment, never argv.
ask_redis() { host=$1; shift; REDISCLI_AUTH="$(secret ${SECRET_KEYS.operator})" VALKEYCLI_AUTH="$(secret ${SECRET_KEYS.operator})" timeout 3 $CLI --no-auth-warning --user ${ACL_USERS.operator} -h "$host" -p ${REDIS_PORT} "$@"; }
ask_sentinel() { host=$1; shift; REDISCLI_AUTH="$(secret ${SECRET_KEYS.sentinelPassword})" VALKEYCLI_AUTH="$(secret ${SECRET_KEYS.sentinelPassword})" timeout 3 $CLI --no-auth-warning -h "$host" -p ${SENTINEL_PORT} "$@"; }
# What the other Sentinels name as master, one answer per line (those that answered).
sentinel_answers() {
  for pod in $SENTINEL_PODS; do
    [ "$pod.$DOMAIN" = "$ME" ] && continue
    m=$(ask_sentinel "$pod.$DOMAIN" --raw SENTINEL get-master-addr-by-name "$GROUP" 2>/dev/null | head -n 1) || true
    if [ -n "$m" ]; then echo "$m"; fi
  done
  return 0
}
# The master a majority of the ${spec.sentinels} Sentinels (${majorityOf(spec.sentinels)}) name in ANSWERS, as "host", or nothing.
sentinel_master() {
  for m in \${ANSWERS:-}; do
    if [ "$(echo "$ANSWERS" | grep -Fcx "$m")" -ge ${majorityOf(spec.sentinels)} ]; then echo "$m"; return 0; fi
  done
  return 0
}
${migrationFunctions(spec)}# "ADDR ROLE KEYS OFFSET MASTER" of the Redis at HOST, announced as ADDR, or nothing when it does not
# answer: ROLE master, slave or loading (its INFO says loading:1), MASTER the address a replica follows
# (- for none).
facts_of() {
  info=$(ask_redis "$1" INFO 2>/dev/null | tr -d '\\r') || true
  role=$(echo "$info" | sed -n 's/^role://p')
  [ -n "$role" ] || return 0
  [ "$(echo "$info" | sed -n 's/^loading://p')" = 1 ] && role=loading
  keys=0
  for k in $(echo "$info" | sed -n 's/^db[0-9]*:keys=\\([0-9]*\\),.*/\\1/p'); do keys=$((keys + k)); done
  # A replica's own offset is slave_repl_offset (as src/redis/parse.ts reads it).
  offset=$(echo "$info" | sed -n 's/^slave_repl_offset://p')
  [ -n "$offset" ] || offset=$(echo "$info" | sed -n 's/^master_repl_offset://p')
  follows=$(echo "$info" | sed -n 's/^master_host://p')
  echo "$2 $role $keys \${offset:-0} \${follows:--}"
}
# The other Redis pods that answer, one line each by ordinal (facts_of).
peer_facts() {
  for pod in $REDIS_PODS; do
    [ "$pod.$DOMAIN" = "$ME" ] || facts_of "$pod.$DOMAIN" "$(addr_of "$pod")"
  done
  return 0
}
# The master the replica ADDR in PEERS follows, or nothing.
master_of() {
  echo "\${PEERS:-}" | while read -r addr role keys offset follows; do
    if [ "$addr" = "$1" ] && [ "$role" != master ]; then echo "$follows"; break; fi
  done
}
# The replica chain from FOLLOWS (the master a replica follows, then the master that one follows, ...)
# reaches this pod: at most one step per pod, so a loop among the others ends too.
follows_me() {
  next=$1; n=0
  while [ $n -le ${spec.replicas} ]; do
    [ "$next" = "$ME_ADDR" ] && return 0
    next=$(master_of "$next")
    if [ -z "$next" ] || [ "$next" = - ]; then return 1; fi
    n=$((n + 1))
  done
  return 1
}
# Of the facts_of lines on stdin, the first by data (src/topology/start.ts byData): keys before none, a
# master before a replica, the higher offset, more keys; ties to the earlier line.
best_by_data() {
  # This line comes before the best so far.
  better() {
    if [ "$data" -ne "$bd" ]; then [ "$data" -gt "$bd" ]; return; fi
    if [ "$master" -ne "$bm" ]; then [ "$master" -gt "$bm" ]; return; fi
    if [ "$offset" -ne "$bo" ]; then [ "$offset" -gt "$bo" ]; return; fi
    [ "$keys" -gt "$bk" ]
  }
  best=
  while read -r addr role keys offset follows; do
    [ -n "$addr" ] || continue
    data=0; [ "$keys" -gt 0 ] && data=1
    master=0; [ "$role" = master ] && master=1
    if [ -z "$best" ] || better; then best=$addr bd=$data bm=$master bo=$offset bk=$keys; fi
  done
  echo "$best"
}
# The pod in PEERS to follow by data (src/topology/start.ts bestPeer): a master, or a replica with keys
# that does not follow this pod, directly or through other replicas.
best_peer() {
  echo "\${PEERS:-}" | while read -r addr role keys offset follows; do
    [ -n "$addr" ] && [ "$role" != loading ] || continue
    [ "$role" = master ] || { [ "$keys" -gt 0 ] && ! follows_me "$follows"; } || continue
    echo "$addr $role $keys $offset $follows"
  done | best_by_data
}
# The best master in PEERS by data, or nothing.
master_peer() {
  echo "\${PEERS:-}" | while read -r addr role rest; do if [ "$role" = master ]; then echo "$addr $role $rest"; fi; done | best_by_data
}
# The first pod in PEERS still loading its dataset that does not follow this pod, or nothing.
loading_peer() {
  echo "\${PEERS:-}" | while read -r addr role keys offset follows; do
    if [ "$role" = loading ] && ! follows_me "$follows"; then echo "$addr"; break; fi
  done
}
# The rule of failoverObjection (src/topology/agreement.ts): why Sentinel must not be asked to fail this
# pod over now (a Sentinel is in TILT, names another master under an epoch as new as this pod's, is
# failing it over, or sees it down: objectively, or subjectively for less than ${SDOWN_SETTLE_MS} ms, or
# ${SDOWN_SETTLE_ROLE_MS} ms when it reported itself a replica), or nothing.
failover_objection() {
  # --raw: each field's name on one line, its value on the next.
  field() { echo "$view" | sed -n "/^$1\\$/{n;p;q;}"; }
  me="$ME_ADDR:${REDIS_PORT}"
  views=
  for pod in $SENTINEL_PODS; do
    view=$(ask_sentinel "$pod.$DOMAIN" --raw SENTINEL MASTER "$GROUP" 2>/dev/null) || continue
    # An error reply (no such master, NOAUTH) is no answer: a view starts with the field "name".
    [ "$(echo "$view" | head -n 1)" = name ] || continue
    epoch=$(field config-epoch)
    sdown=$(field s-down-time)
    settle=${SDOWN_SETTLE_MS}; [ "$(field role-reported)" != slave ] || settle=${SDOWN_SETTLE_ROLE_MS}
    tilt=$(ask_sentinel "$pod.$DOMAIN" INFO sentinel 2>/dev/null | grep -c '^sentinel_tilt:1' || true)
    views="$views$pod.$DOMAIN:${SENTINEL_PORT} $(field ip):$(field port) \${epoch:-0} \${tilt:-0} \${sdown:--} $settle ,$(field flags),
"
  done
  mine=$(echo "$views" | { m=-1; while read -r at named epoch rest; do if [ "$named" = "$me" ] && [ "$epoch" -gt "$m" ]; then m=$epoch; fi; done; echo "$m"; })
  # The first objection, in the order asked (the loop runs in the pipeline's subshell: exit ends it only).
  echo "$views" | { while read -r at named epoch tilt sdown settle flags; do
    [ -n "$at" ] || continue
    if [ "$tilt" = 1 ]; then echo "Sentinel $at is in TILT mode"; exit 0; fi
    if [ "$named" != "$me" ]; then
      if [ "$epoch" -ge "$mine" ]; then echo "Sentinel $at already names $named, not $me"; exit 0; fi
      continue
    fi
    case "$flags" in *,failover_in_progress,*) echo "Sentinel $at is already failing over $me"; exit 0 ;; esac
    case "$flags" in *,o_down,*) echo "Sentinel $at already sees $me objectively down; its own failover follows"; exit 0 ;; esac
    case "$flags" in *,s_down,*) if [ "$sdown" != - ] && [ "$sdown" -lt "$settle" ]; then echo "Sentinel $at has seen $me subjectively down for $sdown ms; its own failover follows if a quorum agrees"; exit 0; fi ;; esac
  done; }
  return 0
}
# Asks the first Sentinel that accepts for SENTINEL FAILOVER of this pod, unless failover_objection has a
# reason not to (said on stderr); succeeds when one accepted. The first Sentinel is asked last: the one
# that leads names the new master in SENTINEL MASTERS about a second after the others, and clients ask
# the first first (src/topology/sentinel-timing.ts firstListedLast).
ask_failover() {
  why=$(failover_objection)
  if [ -n "$why" ]; then echo "redis-ha: not asking Sentinel for a failover: $why" >&2; return 1; fi
  for pod in \${SENTINEL_PODS#* } \${SENTINEL_PODS%% *}; do
    if ask_sentinel "$pod.$DOMAIN" SENTINEL FAILOVER "$GROUP" 2>/dev/null | grep -q OK; then return 0; fi
  done
  return 1
}
# The rule of src/topology/start.ts. start_role: this Redis pod's role, "master", "fence" (a replica of
# itself: Sentinel still names it, and it may have restarted empty) or "replicaof ADDR";
# start_master: the master a starting Sentinel monitors.
follow() {
  if [ "$1" != "$ME_ADDR" ]; then echo "replicaof $1"; elif [ ${spec.replicas} -gt 0 ] && ! nobody_holds_data; then echo fence; else echo master; fi
}
# Every other Redis pod in PEERS answered, and none holds a key or is still loading.
nobody_holds_data() {
  [ "$(echo "\${PEERS:-}" | grep -c .)" -ge ${spec.replicas} ] || return 1
  echo "\${PEERS:-}" | { while read -r addr role keys rest; do [ -n "$addr" ] && { [ "$role" = loading ] || [ "$keys" -gt 0 ]; } && exit 1; done; exit 0; }
}
start_role() {
  ANSWERS=$(sentinel_answers)
  PEERS=$(peer_facts)
${spec.migrateFrom ? `  # Migrating in (until the switchover): the source's Sentinels name the master (at its port), else ours
  # (joined to the source's group); never a master of our own meanwhile.
  if migrating; then
    m=$(source_master)
    if [ -n "$m" ]; then if [ "\${m% *}" = "$ME_ADDR" ]; then follow "$ME_ADDR"; else echo "replicaof $m"; fi; return 0; fi
    m=$(sentinel_master)
    if [ -n "$m" ]; then follow "$m"; return 0; fi
    echo fence; return 0
  fi
` : ''}  m=$(sentinel_master)
  if [ -n "$m" ]; then follow "$m"; return 0; fi
${spec.persistence.enabled ? `  # Persistence on, no Sentinel answers and no peer is master: every pod restarted at once; elect by data.
  if [ -z "$ANSWERS" ] && [ -z "$(master_peer)" ]; then echo elect; return 0; fi
` : ''}  m=$(best_peer)
  if [ -n "$m" ]; then echo "replicaof $m"; return 0; fi
  m=$(echo "$ANSWERS" | head -n 1)
  if [ -n "$m" ]; then follow "$m"; return 0; fi
  m=$(loading_peer)
  if [ -n "$m" ]; then echo "replicaof $m"; return 0; fi
  # A replica of this pod holds keys: never master while another holds data.
  if echo "\${PEERS:-}" | { while read -r addr role keys rest; do [ -n "$addr" ] && [ "$keys" -gt 0 ] && exit 0; done; exit 1; }; then echo fence; return 0; fi
  first=$(addr_of ${names.redis}-0)
  if [ "$ME_ADDR" != "$first" ]; then echo "replicaof $first"; return 0; fi
  # Restarted in this pod while another Redis pod did not answer: fenced, never an empty master over a
  # pod that DNS or the network hides and that may hold every write.
  if [ "\${RESTARTED:-0}" = 1 ] && [ "$(echo "\${PEERS:-}" | grep -c .)" -lt ${spec.replicas} ]; then echo fence; return 0; fi
  echo master
}
start_master() {
  ANSWERS=$(sentinel_answers)
${spec.migrateFrom ? `  # Migrating in: the master the source's Sentinels name (at its port), else ours, else nothing (never
  # one of our pods on its own).
  if migrating; then
    m=$(source_master)
    [ -n "$m" ] || m=$(sentinel_master)
    echo "$m"
    return 0
  fi
` : ''}  m=$(sentinel_master)
  [ -n "$m" ] || PEERS=$(peer_facts)
  [ -n "$m" ] || m=$(best_peer)
  [ -n "$m" ] || m=$(echo "$ANSWERS" | head -n 1)
  [ -n "$m" ] || m=$(addr_of ${names.redis}-0)
  echo "$m"
}
# One round of the election by data (src/topology/start.ts electionStep) for this fenced pod, its own
# facts in MINE (facts_of), WAITED 1 once the wait is over: "master", "replicaof ADDR" or "wait".
election_step() {
  m=$(sentinel_master)
  if [ -n "$m" ]; then if [ "$m" = "$ME_ADDR" ]; then echo master; else echo "replicaof $m"; fi; return 0; fi
  m=$(master_peer)
  if [ -n "$m" ]; then echo "replicaof $m"; return 0; fi
  loaded=$(echo "\${PEERS:-}" | while read -r addr role rest; do if [ -n "$addr" ] && [ "$role" != loading ]; then echo "$addr $role $rest"; fi; done)
  if [ "\${WAITED:-0}" != 1 ] && [ "$(echo "$loaded" | grep -c .)" -lt ${spec.replicas} ]; then echo wait; return 0; fi
  # This pod and every loaded peer (one outside the election holding more never acts: wait), by ordinal:
  # ties go to the lower one.
  best=$(for pod in $REDIS_PODS; do
    a=$(addr_of "$pod")
    if [ "$a" = "$ME_ADDR" ]; then echo "$MINE"; continue; fi
    echo "$loaded" | while read -r addr rest; do if [ "$addr" = "$a" ]; then echo "$addr $rest"; fi; done
  done | best_by_data)
  if [ "$best" = "$ME_ADDR" ]; then echo master; else echo wait; fi
}
# The election's wait for a starting Sentinel (src/topology/start.ts sentinelWaits): "wait" while no
# majority of the Sentinels in ANSWERS names a master and no Redis pod in PEERS answers as master.
sentinel_waits() {
  if [ -z "$(sentinel_master)" ] && [ -z "$(master_peer)" ]; then echo wait; fi
  return 0
}
hash() { printf '%s' "$1" | sha256sum | cut -d ' ' -f 1; }
# "HOST PORT" of a role "replicaof HOST [PORT]" (our pods' port when the rule names none).
target_of() { set -- \${1#replicaof }; echo "$1 \${2:-${REDIS_PORT}}"; }
`;
}

/**
 * With migrateFrom: the source's Sentinels (SOURCE_SENTINELS) and the master a majority of them name
 * (source_master), asked with the Sentinel password (the source's, which the operator kept).
 */
function migrationFunctions(spec: RedisHASpec): string {
  const from = spec.migrateFrom;
  if (!from) return '';
  return `SOURCE_SENTINELS="${from.sentinels.join(' ')}"
# Migrating until the switchover (the operator then sets the ConfigMap's state to done).
migrating() { [ "$(cat ${PATHS.migration}/state 2>/dev/null)" = migrating ]; }
ask_source_sentinel() { host=$1; port=$2; shift 2; REDISCLI_AUTH="$(secret ${SECRET_KEYS.sentinelPassword})" VALKEYCLI_AUTH="$(secret ${SECRET_KEYS.sentinelPassword})" timeout 3 $CLI --no-auth-warning -h "$host" -p "$port" "$@"; }
# The master a majority of the ${from.sentinels.length} source Sentinels (${majorityOf(from.sentinels.length)}) name under $GROUP, as "HOST PORT", or nothing.
source_master() {
  answers=$(for s in $SOURCE_SENTINELS; do
    a=$(ask_source_sentinel "\${s%:*}" "\${s##*:}" --raw SENTINEL get-master-addr-by-name "$GROUP" 2>/dev/null | head -n 2 | tr '\\n' ' ') || true
    echo "\${a% }"
  done)
  echo "$answers" | while read -r h p; do
    if [ -n "$p" ] && [ "$(echo "$answers" | grep -Fcx "$h $p")" -ge ${majorityOf(from.sentinels.length)} ]; then echo "$h $p"; break; fi
  done
  return 0
}
`;
}

/** Starts redis-server: users and masterauth from the Secret, then master or replica of the right node. */
export function startRedisScript(spec: RedisHASpec): string {
  const [flavor, other] = flavorsOf(spec);
  const rules = applicationRules(spec);
  const user = applicationUser(spec);
  const passwordKey = passwordKeyOf(spec);
  return `${scriptPrelude(spec)}
umask 077
conf=${PATHS.run}/redis.conf
cat ${PATHS.config}/redis.conf > "$conf"
{
  echo "replica-announce-ip $ME_ADDR"
${spec.migrateFrom ? `  # Migrating in: the source's master knows the application's user only (default, the source's password).
  printf 'masterauth "%s"\\n' "$(secret ${passwordKey} | sed 's/[\\\\"]/\\\\&/g')"` : `  echo "masteruser ${ACL_USERS.replication}"
  printf 'masterauth "%s"\\n' "$(secret ${SECRET_KEYS.replication} | sed 's/[\\\\"]/\\\\&/g')"`}
${user === 'default' ? '' : `  echo "${DEFAULT_USER_OFF}"
`}  echo "user ${user} on #$(hash "$(secret ${passwordKey})") ${rules}"
  echo "user ${ACL_USERS.replication} on #$(hash "$(secret ${SECRET_KEYS.replication})") ${ACL_RULES.replication}"
  echo "user ${ACL_USERS.sentinel} on #$(hash "$(secret ${SECRET_KEYS.sentinelUser})") ${ACL_RULES.sentinel}"
  echo "user ${ACL_USERS.exporter} on #$(hash "$(secret ${SECRET_KEYS.exporter})") ${ACL_RULES.exporter}"
  echo "user ${ACL_USERS.operator} on #$(hash "$(secret ${SECRET_KEYS.operator})") ${ACL_RULES.operator}"
} >> "$conf"

# Makes the fenced node what a rule named: master, or a replica (\`replicaof HOST\`); fails on anything
# else (fence, wait) or when Redis does not take it.
take_role() {
  case "$1" in
    master) ask_redis localhost REPLICAOF NO ONE >/dev/null ;;
    replicaof*) ask_redis localhost REPLICAOF $(target_of "$1") >/dev/null ;;
    *) return 1 ;;
  esac
}
# While the Sentinels still name this fenced pod: ask them to fail it over, as its preStop hook would
# have (a crash or a kill skips the hook). Answering as a replica, it is never seen down by PING, and
# Sentinel's own check of a master that reports itself a replica comes after down-after + 20 s: with a
# short down-after that is later than Sentinel still trusts replicas whose link went down with this pod
# (10 x down-after), and every failover it starts then aborts with no good replica, for good. Every
# second for as long as they name it and it is a replica: the failover's own Sentinel checks
# (failover_objection) come first, and a failover that Sentinel started itself before the pod came
# back (it was down longer than down-after) may end without a master (a split vote waits out the
# election, up to 10 s, then aborts, and Sentinel's next try comes 2 x failover-timeout later): the pod
# asks once it has. Fenced for another reason (start rules 3, 5 and 6), or once the Sentinels name
# another master: the start rule again, every second, acted on once it names a master or a role.
# Promoted, or pointed at another node (Sentinel's failover, the operator), the pod is no longer fenced
# and the loop ends: applied later, on what a minority of the Sentinels and the pods say during some
# other fault, the start rule would re-point a replica that is in sync.
fenced_failover() {
  while sleep 1; do
    now=$(ask_redis localhost --raw ROLE 2>/dev/null) || continue
    case "$(echo "$now" | head -n 1)" in
      slave) ;;
      master) return 0 ;;
      *) continue ;;
    esac
    if [ "$(echo "$now" | sed -n 2p)" != "$ME_ADDR" ]; then
      echo "redis-ha: fenced until now; replicating from $(echo "$now" | sed -n 2p) as Sentinel or the operator set" >&2
      return 0
    fi
    ANSWERS=$(sentinel_answers)
    role=$(start_role)
    case "$role" in
      fence)
        if [ "$(sentinel_master)" = "$ME_ADDR" ] && ask_failover 2>/dev/null; then echo "redis-ha: restarted while the Sentinels name this pod: asked Sentinel to fail it over" >&2; fi
        continue ;;
      *) take_role "$role" || continue ;;
    esac
    echo "redis-ha: fenced until now; the start rule names: $role" >&2
    return 0
  done
}
# Every pod restarted at once with persistence on: fenced, this pod loads its data, then takes part in
# the election by data (election_step) every second until it is master or follows the one that is.
elect() {
  i=0
  while :; do
    sleep 1
    i=$((i + 1))
    WAITED=0; [ $i -lt ${ELECTION_WAIT_SECONDS} ] || WAITED=1
    MINE=$(facts_of localhost "$ME_ADDR")
    case "$MINE" in ''|*" loading "*) continue ;; esac
    PEERS=$(peer_facts)
    ANSWERS=$(sentinel_answers)
    step=$(election_step)
    take_role "$step" || continue
    echo "redis-ha: every pod restarted at once: elected by data after $i s: $step ($MINE)" >&2
    return 0
  done
}
# Whether Redis ran in this pod before (a container restart, not a new pod): start rule 6.
RESTARTED=0
[ ! -e ${PATHS.run}/started ] || RESTARTED=1
: > ${PATHS.run}/started
role=$(start_role)
case "$role" in
  # Every pod restarted at once with persistence on: the pod with the best data becomes master.
  elect)
    echo "replicaof $ME_ADDR ${REDIS_PORT}" >> "$conf"
    elect &
    ;;
  # Sentinel still names this pod, which has just restarted and may be empty, or another pod may hold
  # data (start rules 1, 3, 5, 6). Come back as a replica (of itself, so it serves nobody) and let
  # Sentinel promote the replica that has the data, or wait until the start rule names a role.
  fence)
    echo "replicaof $ME_ADDR ${REDIS_PORT}" >> "$conf"
    fenced_failover &
    ;;
  replicaof*) echo "replicaof $(target_of "$role")" >> "$conf" ;;
esac
${spec.persistence.enabled ? '' : `# Persistence is off: nothing an earlier run of this container left in the emptyDir may be loaded.
rm -rf ${PATHS.data}/dump.rdb ${PATHS.data}/temp-*.rdb ${PATHS.data}/temp-*.aof ${PATHS.data}/appendonly.aof ${PATHS.data}/appendonlydir
`}exec "$(binary ${flavor.server} ${other.server})" "$conf"
`;
}

/** Starts Sentinel monitoring the master the other Sentinels (or the Redis pods) name. */
export function startSentinelScript(spec: RedisHASpec): string {
  const [flavor, other] = flavorsOf(spec);
  return `${scriptPrelude(spec)}
umask 077
conf=${PATHS.data}/sentinel.conf
${spec.persistence.enabled ? `# Persistence on: while nothing names a master, the Redis pods may be electing one by data (every pod
# restarted at once); wait for it rather than monitor the first pod.
i=0
while [ $i -lt ${SENTINEL_WAIT_SECONDS} ]; do
  ANSWERS=$(sentinel_answers)
  PEERS=$(peer_facts)
  [ "$(sentinel_waits)" = wait ] || break
  [ $i -gt 0 ] || echo "redis-ha: no Sentinel and no Redis pod names a master yet: waiting for the Redis pods (at most ${SENTINEL_WAIT_SECONDS} s)" >&2
  sleep 1
  i=$((i + 1))
done
` : ''}master=$(start_master)
${spec.migrateFrom ? `while [ -z "$master" ] && migrating; do
  echo "redis-ha: migrating in: neither our Sentinels nor the source's (\$SOURCE_SENTINELS) name a master of \$GROUP yet; asking again in 2 s" >&2
  sleep 2
  master=$(start_master)
done
# The migration ended while this Sentinel waited: the normal rules name a master.
[ -n "$master" ] || master=$(start_master)
` : ''}cat ${PATHS.config}/sentinel.conf > "$conf"
esc() { sed 's/[\\\\"]/\\\\&/g'; }
{
  echo "sentinel announce-ip $ME"
  printf 'requirepass "%s"\\n' "$(secret ${SECRET_KEYS.sentinelPassword} | esc)"
  printf 'sentinel sentinel-pass "%s"\\n' "$(secret ${SECRET_KEYS.sentinelPassword} | esc)"
  echo "sentinel monitor $GROUP $(target_of "replicaof $master") ${spec.quorum}"
${spec.migrateFrom ? `  # Migrating in: the source's nodes know the application's user only (default, the source's password).
  printf 'sentinel auth-pass %s "%s"\\n' "$GROUP" "$(secret ${passwordKeyOf(spec)} | esc)"` : `  echo "sentinel auth-user $GROUP ${ACL_USERS.sentinel}"
  printf 'sentinel auth-pass %s "%s"\\n' "$GROUP" "$(secret ${SECRET_KEYS.sentinelUser} | esc)"`}
  echo "sentinel down-after-milliseconds $GROUP ${spec.sentinel.downAfterMilliseconds}"
  echo "sentinel failover-timeout $GROUP ${spec.sentinel.failoverTimeout}"
  echo "sentinel parallel-syncs $GROUP ${spec.sentinel.parallelSyncs}"
} >> "$conf"
exec "$(binary ${flavor.sentinel} ${other.sentinel})" "$conf"
`;
}

/**
 * preStop of a Redis pod: when this pod is master, hand the master over before it stops, losing no
 * acknowledged write. Writes are paused first (reads go on), until a replica has every write; then a
 * Sentinel is asked for SENTINEL FAILOVER, and the hook waits (at most failoverTimeout) until this node
 * is no longer master, or the Sentinels name another one. The second case is a pod that was
 * force-deleted: its name and address already lead to its replacement, so no Sentinel can reach this
 * process to demote it, and its clients' connections would otherwise stay on it. Its clients are
 * disconnected instead (the pause is never lifted, so nothing they sent is acknowledged here), and they
 * reconnect to the master the Sentinels name.
 */
export function preStopScript(spec: RedisHASpec): string {
  const wait = Math.ceil(spec.sentinel.failoverTimeout / 1000);
  return `${scriptPrelude(spec)}
[ ${spec.replicas} -gt 0 ] || exit 0
role=$(ask_redis localhost --raw ROLE 2>/dev/null | head -n 1) || true
[ "$role" = master ] || exit 0
ask_redis localhost CLIENT PAUSE ${spec.sentinel.failoverTimeout} WRITE >/dev/null 2>&1 || true
# A replica's offset equal to the master's: it has every write the master acknowledged.
caught_up() {
  info=$(ask_redis localhost INFO replication 2>/dev/null | tr -d '\\r') || return 1
  offset=$(echo "$info" | sed -n 's/^master_repl_offset://p')
  [ -n "$offset" ] && echo "$info" | grep '^slave[0-9]*:' | sed 's/.*offset=\\([0-9]*\\).*/\\1/' | grep -qx "$offset"
}
i=0
while ! caught_up && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
asked=0
if ask_failover; then asked=1; fi
i=0
m=
while [ $i -lt ${wait * 10} ]; do
  role=$(ask_redis localhost --raw ROLE 2>/dev/null | head -n 1) || true
  [ "$role" = master ] || break
  ANSWERS=$(sentinel_answers)
  m=$(sentinel_master)
  [ -z "$m" ] || [ "$m" = "$ME_ADDR" ] || break
  # A request held back (a Sentinel in TILT, or one that saw this pod down a moment ago): again every second.
  if [ $asked = 0 ] && [ $((i % 10)) = 9 ] && ask_failover 2>/dev/null; then asked=1; fi
  sleep 0.1
  i=$((i + 1))
done
[ "$role" = master ] && [ "$m" = "$ME_ADDR" ] && echo "redis-ha: still master after ${wait} s; stopping anyway" >&2
ask_redis localhost CLIENT KILL TYPE normal >/dev/null 2>&1 || true
ask_redis localhost CLIENT KILL TYPE pubsub >/dev/null 2>&1 || true
exit 0
`;
}

/** Readiness of a Redis pod: answers PING, and as a replica has its link to the master up. */
export function probeRedisScript(spec: RedisHASpec): string {
  return `${scriptPrelude(spec)}
[ "$(ask_redis localhost PING)" = PONG ]
[ "\${1:-}" = live ] && exit 0
info=$(ask_redis localhost INFO replication | tr -d '\\r')
echo "$info" | grep -q '^role:master' && exit 0
echo "$info" | grep -q '^master_link_status:up'
`;
}

export function probeSentinelScript(spec: RedisHASpec): string {
  return `${scriptPrelude(spec)}
[ "$(ask_sentinel localhost PING)" = PONG ]
`;
}
