/** The Sentinel timing profile: `default` (down-after 5 s) or `fast` (down-after 1 s). */
export type TimingProfile = 'default' | 'fast';

/** Sentinel timings, resolved from a profile plus any explicit overrides. */
export interface SentinelTimings {
  readonly profile: TimingProfile;
  readonly downAfterMilliseconds: number;
  readonly failoverTimeout: number;
  readonly parallelSyncs: number;
}

export interface AuthSpec {
  /** The application's password. Generated (>= 32 random characters) when absent. */
  readonly password: string;
  /** The password Sentinels require from their clients. Generated when absent. */
  readonly sentinelPassword: string;
}

export interface PersistenceSpec {
  /** Off by default: this is a cache. On: RDB snapshots + AOF in the node's data dir (PVC on Kubernetes). */
  readonly enabled: boolean;
  readonly size: string;
  readonly storageClass?: string;
}

/**
 * A fully resolved RedisHA spec: every default applied, every rule checked, secrets present.
 * Produced only by `resolveSpec` in this folder; the rest of the code never applies defaults itself.
 */
export interface RedisHASpec {
  /** DNS-1123 label; also the Sentinel master-group name's suffix. */
  readonly name: string;
  /** Number of replicas besides the master. */
  readonly replicas: number;
  readonly sentinels: number;
  readonly quorum: number;
  readonly auth: AuthSpec;
  readonly sentinel: SentinelTimings;
  readonly persistence: PersistenceSpec;
  /** `min-replicas-to-write` on the master; 0 turns the write fence off. */
  readonly minReplicasToWrite: number;
  /** `min-replicas-max-lag` in seconds. */
  readonly minReplicasMaxLag: number;
  /** Allow-listed Redis config overrides, e.g. `{ maxmemory: '256mb' }`. */
  readonly redisConfig: Readonly<Record<string, string>>;
}
