/**
 * Which server images redis-ha runs on Kubernetes, and the version floor every one of them must meet.
 *
 * The floor is the first release of each line that carries the October 2025 Lua fixes: CVE-2025-49844
 * ("RediShell", use-after-free in the Lua parser, CVSS 10), CVE-2025-46817 (unpack integer overflow),
 * CVE-2025-46818 (metatable cross-user code execution) and CVE-2025-46819 (out-of-bounds read). A line
 * that got no fixed release (Redis 7.0, 8.1; Valkey 8.0 before 8.0.6) has no floor and is refused;
 * lines newer than the newest one listed are assumed fixed.
 */

/** The two server images redis-ha knows how to run. */
export type ImageFlavor = 'redis' | 'valkey';

export interface FlavorInfo {
  /** The official image's repository. */
  readonly repository: string;
  /** The version pinned when the spec names none. */
  readonly defaultTag: string;
  /** Binary names inside the image. */
  readonly server: string;
  readonly sentinel: string;
  readonly cli: string;
  /** `major.minor` line -> first fixed patch release on that line. */
  readonly floor: Readonly<Record<string, string>>;
}

/** The official images. Both run as the unprivileged user 999 and carry `sh`, which the start scripts need. */
export const IMAGE_FLAVORS: Readonly<Record<ImageFlavor, FlavorInfo>> = {
  redis: {
    repository: 'docker.io/library/redis',
    defaultTag: '8.2.3',
    server: 'redis-server',
    sentinel: 'redis-sentinel',
    cli: 'redis-cli',
    floor: { '6.2': '6.2.20', '7.2': '7.2.11', '7.4': '7.4.6', '8.0': '8.0.4', '8.2': '8.2.2' },
  },
  valkey: {
    repository: 'docker.io/valkey/valkey',
    defaultTag: '8.1.4',
    server: 'valkey-server',
    sentinel: 'valkey-sentinel',
    cli: 'valkey-cli',
    floor: { '7.2': '7.2.11', '8.0': '8.0.6', '8.1': '8.1.4' },
  },
};

/** The CVE family the floor stands for, for messages and docs. */
export const LUA_CVES = 'CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819';

/** An exact version tag, optionally with a variant suffix: `8.2.3`, `8.2.3-alpine`, `7.4.6-bookworm`. */
export const VERSION_TAG_PATTERN = '^[0-9]+\\.[0-9]+\\.[0-9]+(-[a-z0-9][a-z0-9.]*)?$';

/**
 * Why `tag` of `flavor` is below the floor, or undefined when it is at or above it. The tag has already
 * matched VERSION_TAG_PATTERN.
 */
export function belowFloor(flavor: ImageFlavor, tag: string): string | undefined {
  const info = IMAGE_FLAVORS[flavor];
  const version = parseVersion(tag);
  const line = `${version[0]}.${version[1]}`;
  const floor = info.floor[line];
  if (floor !== undefined) {
    return compareVersions(version, parseVersion(floor)) < 0
      ? `${flavor} ${tag} lacks the fixes for ${LUA_CVES}; use ${floor} or newer on the ${line} line`
      : undefined;
  }
  const newest = Object.values(info.floor).map(parseVersion).sort(compareVersions).at(-1)!;
  if (compareVersions(version, newest) > 0) return undefined;
  return `${flavor} ${line} has no release with the fixes for ${LUA_CVES}; use ${info.defaultTag} (or another fixed line: ${Object.values(info.floor).join(', ')} or newer)`;
}

function parseVersion(tag: string): [number, number, number] {
  const [major, minor, patch] = tag.split('-')[0]!.split('.').map(Number);
  return [major!, minor!, patch!];
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** A server as it runs (`INFO server`) or as a spec's image names it. */
export interface ServerVersion {
  readonly flavor: ImageFlavor;
  /** `major.minor.patch`; a tag's variant suffix is ignored. */
  readonly version: string;
}

/** `valkey 9.1.2`: how status and messages name a server. */
export function serverName(s: ServerVersion): string {
  return `${s.flavor} ${s.version.split('-')[0]}`;
}

/** `valkey 9.1.2` / `redis 7.0.15` back into a ServerVersion; undefined for anything else. */
export function parseServerName(text: string): ServerVersion | undefined {
  const m = /^(redis|valkey) ([0-9]+\.[0-9]+\.[0-9]+)$/.exec(text);
  return m ? { flavor: m[1] as ImageFlavor, version: m[2]! } : undefined;
}

/**
 * The RDB format version a master sends a replica of the other flavour in a full resynchronisation.
 * Redis writes its own: 9 up to 6.2, 10 in 7.0, 11 in 7.2, 12 from 7.4 (a lower bound for newer lines).
 * Valkey sends a Redis replica 11: before 9 it writes nothing newer, and 9 writes 80 (`VALKEY080` on
 * disk) but 11 to a replica that is not Valkey 9, measured with 9.1.2 and a Redis 7.0.15 replica, which
 * then failed with "Can't handle RDB format version 11".
 */
function rdbSent(master: ServerVersion): number {
  const [major, minor] = parseVersion(master.version);
  if (master.flavor === 'valkey') return 11;
  if (major < 7) return 9;
  if (major === 7 && minor < 2) return 10;
  if (major === 7 && minor < 4) return 11;
  return 12;
}

/** Whether a replica running `replica` loads RDB format `rdb`: Redis up to its own; Valkey up to 11 (12 to 79 are Redis's, which Valkey 9 calls foreign and refuses). */
function loadsRdb(replica: ServerVersion, rdb: number): boolean {
  if (replica.flavor === 'valkey') return rdb <= 11;
  return rdb <= rdbSent(replica);
}

/**
 * Why a replica running `replica` cannot take a full copy of a master running `master`, or undefined when
 * it can. Within a flavour the replica may not be older than the master in `major.minor` (a newer server
 * may write what an older one cannot read); across flavours the RDB format decides (`rdbSent`, `loadsRdb`).
 */
export function replicationGap(master: ServerVersion, replica: ServerVersion): string | undefined {
  const [mMajor, mMinor] = parseVersion(master.version);
  const [rMajor, rMinor] = parseVersion(replica.version);
  if (master.flavor === replica.flavor) {
    return rMajor > mMajor || (rMajor === mMajor && rMinor >= mMinor) ? undefined : `a ${serverName(replica)} replica cannot load what a newer ${serverName(master)} master sends`;
  }
  const rdb = rdbSent(master);
  return loadsRdb(replica, rdb) ? undefined : `a ${serverName(replica)} replica cannot load the RDB format ${rdb} a ${serverName(master)} master sends`;
}

/** The oldest `major.minor` of `flavor` that replicates from `master`, or undefined when no release does. */
function oldestReplicaLine(master: ServerVersion, flavor: ImageFlavor): string | undefined {
  const [major, minor] = parseVersion(master.version);
  if (flavor === master.flavor) return `${major}.${minor}`;
  const lines = flavor === 'redis' ? ['6.2', '7.0', '7.2', '7.4', '8.0', '8.2'] : ['7.2', '8.0', '8.1', '9.0'];
  return lines.find((line) => !replicationGap(master, { flavor, version: `${line}.0` }));
}

/**
 * Why a server `target` cannot start on the data file a server `written` left on a volume, or undefined.
 * Valkey 9 writes `VALKEY080`, whose signature no Redis reads ("Wrong signature trying to load DB from
 * file", measured with 7.0.15; the server then exits); otherwise the replication rule applies.
 */
function fileGap(written: ServerVersion, target: ServerVersion): string | undefined {
  if (written.flavor === 'valkey' && target.flavor === 'redis' && parseVersion(written.version)[0] >= 9) return `${target.flavor} cannot read the VALKEY080 data file ${serverName(written)} leaves on each pod's volume`;
  return undefined;
}

/**
 * The spec check of an image change against what runs. A roll replaces the replicas first, and each new
 * pod takes a full copy from the master, which may be any pod that runs now; so `target` must be able to
 * replicate from every server running (`running`: what each Redis pod reported in `INFO server`). With
 * `persistent` volumes each new pod first loads the file the old one left, so it must read that too.
 * Undefined when it can; else one line naming the versions, the pods and the fix.
 */
export function imageChangeRefusal(running: readonly { readonly pod: string; readonly server: ServerVersion }[], target: ServerVersion, persistent = false): string | undefined {
  /** `cannot move from valkey 9.1.2 (running on a, b) to redis 7.0.15`: every pod that runs what `from` runs. */
  const move = (from: ServerVersion) =>
    `cannot move from ${serverName(from)} (running on ${running.filter((x) => serverName(x.server) === serverName(from)).map((x) => x.pod).join(', ')}) to ${serverName(target)}`;
  for (const r of running) {
    const file = persistent ? fileGap(r.server, target) : undefined;
    if (file) return `image: ${move(r.server)} with persistence enabled: ${file}; keep ${serverName(r.server)}`;
  }
  for (const r of running) {
    const gap = replicationGap(r.server, target);
    if (!gap) continue;
    const line = oldestReplicaLine(r.server, target.flavor);
    const fix = line ? `keep ${serverName(r.server)}, or use ${target.flavor} ${line} or newer` : `keep ${serverName(r.server)} (no ${target.flavor} release loads what it sends)`;
    return `image: ${move(r.server)}: ${gap}, and each new pod starts as a replica of the running master; ${fix}`;
  }
  return undefined;
}

/** The redis-ha image (Node.js 24 and this CLI): the operator, and the optional endpoint Deployment. */
export const REDIS_HA_IMAGE = 'ghcr.io/redis-ha/operator:0.1.0';
