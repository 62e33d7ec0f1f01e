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

/** The redis-ha image (Node.js 24 and this CLI): the operator, and the optional endpoint Deployment. */
export const REDIS_HA_IMAGE = 'ghcr.io/redis-ha/operator:0.1.0';
