/**
 * From user input to a resolved, frozen `RedisHASpec`: check the field table, apply the defaults that
 * depend on other fields, check the cross-field rules, generate missing passwords.
 */
import { randomBytes } from 'node:crypto';
import { checkFields } from './check.ts';
import { SPEC_SCHEMA } from './schema.ts';
import type { RedisHASpec, TimingProfile } from './types.ts';

/**
 * A spec a user got wrong. `problems` holds one line per problem, each naming the field path, the rule
 * and the value (`quorum: must be <= sentinels (got 4 > 3)`); `message` is all of them joined with
 * `'; '`, so it is still one line and, for the usual single problem, exactly that problem.
 */
export class SpecError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join('; '));
    this.name = 'SpecError';
    this.problems = problems;
  }
}

/** Sentinel timings each profile stands for; explicit `sentinel.*` fields override them. */
export const TIMING_PROFILES: Readonly<Record<TimingProfile, { downAfterMilliseconds: number; failoverTimeout: number }>> =
  Object.freeze({
    default: Object.freeze({ downAfterMilliseconds: 5000, failoverTimeout: 60_000 }),
    fast: Object.freeze({ downAfterMilliseconds: 1000, failoverTimeout: 10_000 }),
  });

export interface ResolveOptions {
  /** Makes passwords that were not given. Defaults to `generatePassword`. */
  readonly generateSecret?: () => string;
}

/** The input after the field table's checks: types are right, static defaults applied. */
interface CheckedInput {
  name: string;
  replicas: number;
  sentinels: number;
  quorum?: number;
  auth: { password?: string; sentinelPassword?: string };
  sentinel: { profile: TimingProfile; downAfterMilliseconds?: number; failoverTimeout?: number; parallelSyncs: number };
  persistence: { enabled: boolean; size: string; storageClass?: string };
  minReplicasToWrite?: number;
  minReplicasMaxLag: number;
  redisConfig?: Record<string, string>;
}

/**
 * Validates `input` (a parsed YAML/JSON mapping), applies every default and returns a deeply frozen
 * spec. Passing an already resolved spec returns an equal one. Throws `SpecError` listing every problem.
 */
export function resolveSpec(input: unknown, opts: ResolveOptions = {}): RedisHASpec {
  const { value, problems, invalid } = checkFields(SPEC_SCHEMA, input);
  if (value === undefined) throw new SpecError(problems);
  // Cross-field rules only look at fields that were valid (or absent, hence defaulted).
  const usable = (...paths: string[]): boolean =>
    paths.every((path) => ![...invalid].some((bad) => path === bad || path.startsWith(`${bad}.`)));
  // Until `problems` is known to be empty, any field may be missing: read through `given`.
  const given = value as Partial<CheckedInput>;
  const spec = value as unknown as CheckedInput;

  const quorum = given.quorum ?? Math.floor((given.sentinels ?? 1) / 2) + 1;
  if (given.quorum !== undefined && usable('sentinels', 'quorum') && quorum > spec.sentinels)
    problems.push(`quorum: must be <= sentinels (got ${quorum} > ${spec.sentinels})`);

  const minReplicasToWrite = given.minReplicasToWrite ?? Math.min(1, given.replicas ?? 0);
  if (usable('replicas', 'minReplicasToWrite') && minReplicasToWrite > spec.replicas)
    problems.push(`minReplicasToWrite: must be <= replicas (got ${minReplicasToWrite} > ${spec.replicas})`);

  const timings = TIMING_PROFILES[given.sentinel?.profile ?? 'default'];
  const downAfterMilliseconds = given.sentinel?.downAfterMilliseconds ?? timings.downAfterMilliseconds;
  const failoverTimeout = given.sentinel?.failoverTimeout ?? timings.failoverTimeout;
  const timingPaths = ['sentinel.profile', 'sentinel.downAfterMilliseconds', 'sentinel.failoverTimeout'];
  if (usable(...timingPaths) && failoverTimeout <= downAfterMilliseconds)
    problems.push(
      `sentinel.failoverTimeout: must be greater than sentinel.downAfterMilliseconds (got ${failoverTimeout} <= ${downAfterMilliseconds})`,
    );

  if (problems.length > 0) throw new SpecError(problems);

  const generate = opts.generateSecret ?? generatePassword;
  const { storageClass } = spec.persistence;
  return deepFreeze({
    name: spec.name,
    replicas: spec.replicas,
    sentinels: spec.sentinels,
    quorum,
    auth: {
      password: spec.auth.password ?? generate(),
      sentinelPassword: spec.auth.sentinelPassword ?? generate(),
    },
    sentinel: { profile: spec.sentinel.profile, downAfterMilliseconds, failoverTimeout, parallelSyncs: spec.sentinel.parallelSyncs },
    persistence: {
      enabled: spec.persistence.enabled,
      size: spec.persistence.size,
      ...(storageClass !== undefined ? { storageClass } : {}),
    },
    minReplicasToWrite,
    minReplicasMaxLag: spec.minReplicasMaxLag,
    redisConfig: { ...spec.redisConfig },
  });
}

/** A new random password: 30 bytes from the CSPRNG as base64url, i.e. 40 characters of [A-Za-z0-9_-]. */
export function generatePassword(): string {
  return randomBytes(30).toString('base64url');
}

/** The Sentinel master-group name of a deployment: unique per deployment, never `mymaster`. */
export function masterGroupName(spec: Pick<RedisHASpec, 'name'>): string {
  return `redis-ha-${spec.name}`;
}

/** What replaces secrets in `redactSpec`'s output. */
export const REDACTED = '<redacted>';

/** A frozen copy of `spec` safe to log or print: both passwords replaced by `"<redacted>"`. */
export function redactSpec(spec: RedisHASpec): RedisHASpec {
  return deepFreeze({
    ...structuredClone(spec),
    auth: { password: REDACTED, sentinelPassword: REDACTED },
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
