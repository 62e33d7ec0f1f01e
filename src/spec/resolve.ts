/**
 * From user input to a resolved, frozen `RedisHASpec`: check the field table, apply the defaults that
 * depend on other fields, check the cross-field rules, generate missing passwords.
 */
import { randomBytes } from 'node:crypto';
import { checkFields } from './check.ts';
import { MIN_PASSWORD_LENGTH, SPEC_SCHEMA } from './schema.ts';
import { IMAGE_FLAVORS, belowFloor } from './images.ts';
import { ACL_RULES_OWNED, ACL_USERS, DEFAULT_APPLICATION_ACL_RULES, MIGRATED_ACL_RULES } from './acl.ts';
import { majorityOf } from '../topology/agreement.ts';
import type { KubernetesFields, LoadBalancerPreset, RedisHASpec, ServiceSpec, TimingProfile, TlsAuthClients, TlsSpec } from './types.ts';

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
  auth: {
    password?: string;
    sentinelPassword?: string;
    username: string;
    existingSecret?: string;
    existingSecretPasswordKey: string;
    allowShortPasswords: boolean;
    aclRules: string;
  };
  sentinel: { profile: TimingProfile; downAfterMilliseconds?: number; failoverTimeout?: number; parallelSyncs: number; masterName?: string };
  persistence: { enabled: boolean; size: string; storageClass?: string };
  tls: {
    enabled: boolean;
    authClients: TlsAuthClients;
    secretName?: string;
    certManager: { issuerRef: { name?: string; kind?: 'Issuer' | 'ClusterIssuer'; group?: string }; duration?: string; renewBefore?: string };
    clusterDomain: string;
  };
  minReplicasToWrite?: number;
  minReplicasMaxLag: number;
  redisConfig?: Record<string, string>;
  image: Omit<KubernetesFields['image'], 'repository' | 'tag'> & { repository?: string; tag?: string };
  services: { preset: LoadBalancerPreset } & Record<ServiceName, CheckedService>;
  metrics: KubernetesFields['metrics'];
  networkPolicy: KubernetesFields['networkPolicy'];
  resources: KubernetesFields['resources'];
  podDisruptionBudget: KubernetesFields['podDisruptionBudget'];
  endpoint: KubernetesFields['endpoint'];
  scheduling: KubernetesFields['scheduling'];
  naming: KubernetesFields['naming'];
  routing?: KubernetesFields['routing'];
  externalAccess: { enabled: boolean; addresses?: string[]; service: CheckedService };
  migrateFrom: { sentinels?: string[]; masterName?: string; secretName?: string; passwordKey: string; sentinelPasswordKey?: string; oldNodes: 'replicas' | 'leave' };
}

type ServiceName = 'master' | 'replicas' | 'sentinel';
const SERVICE_NAMES: readonly ServiceName[] = ['master', 'replicas', 'sentinel'];

interface CheckedService {
  type: ServiceSpec['type'];
  preset?: LoadBalancerPreset;
  annotations?: Record<string, string>;
  loadBalancerSourceRanges?: string[];
  externalTrafficPolicy?: 'Cluster' | 'Local';
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

  const quorum = given.quorum ?? majorityOf(given.sentinels ?? 1);
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

  problems.push(...persistenceOffProblems(given, usable));
  problems.push(...tlsProblems(given.tls, usable));
  problems.push(...kubernetesProblems(given, usable));

  if (problems.length > 0) throw new SpecError(withoutRepeatedPasswordProblem(problems, input));

  const generate = opts.generateSecret ?? generatePassword;
  const { storageClass } = spec.persistence;
  // With an existing Secret the pods read that Secret; the passwords stay empty and are never rendered.
  const password = spec.auth.existingSecret !== undefined ? '' : (spec.auth.password ?? generate());
  // Migrating in, the set name is the source's: its clients keep asking for it.
  const masterName = spec.sentinel.masterName ?? (migrating(spec.migrateFrom) ? spec.migrateFrom.masterName : undefined);
  return deepFreeze({
    name: spec.name,
    replicas: spec.replicas,
    sentinels: spec.sentinels,
    quorum,
    auth: {
      password,
      // Bitnami's Sentinels take the application's password: apps built against that chart send it.
      sentinelPassword: spec.auth.existingSecret !== undefined ? '' : (spec.auth.sentinelPassword ?? (spec.naming === 'bitnami' ? password : generate())),
      username: spec.auth.username,
      ...(spec.auth.existingSecret !== undefined ? { existingSecret: spec.auth.existingSecret } : {}),
      existingSecretPasswordKey: spec.auth.existingSecretPasswordKey,
      allowShortPasswords: spec.auth.allowShortPasswords,
      // Migrating in, the source's Sentinels and nodes log in as the application (default): every right,
      // as the source's own default user had (CONFIG, REPLICAOF, CLIENT KILL in a failover).
      aclRules: migrating(spec.migrateFrom) && spec.auth.aclRules === DEFAULT_APPLICATION_ACL_RULES ? MIGRATED_ACL_RULES : spec.auth.aclRules,
    },
    sentinel: {
      profile: spec.sentinel.profile,
      downAfterMilliseconds,
      failoverTimeout,
      parallelSyncs: spec.sentinel.parallelSyncs,
      ...(masterName !== undefined ? { masterName } : spec.naming === 'bitnami' ? { masterName: BITNAMI_MASTER_SET } : {}),
    },
    persistence: {
      enabled: spec.persistence.enabled,
      size: spec.persistence.size,
      ...(storageClass !== undefined ? { storageClass } : {}),
    },
    tls: resolveTls(spec.tls),
    minReplicasToWrite,
    minReplicasMaxLag: spec.minReplicasMaxLag,
    redisConfig: { ...spec.redisConfig },
    ...resolveKubernetes(spec),
  });
}

/**
 * When both passwords are the same string (an imported Bitnami file uses one for both), a problem with
 * it is reported once, for auth.password.
 */
function withoutRepeatedPasswordProblem(problems: string[], input: unknown): string[] {
  const auth = (input as { auth?: { password?: unknown; sentinelPassword?: unknown } }).auth;
  if (auth?.password === undefined || auth.password !== auth.sentinelPassword) return problems;
  const passwordProblems = new Set(problems.filter((p) => p.startsWith('auth.password: ')).map((p) => p.slice('auth.password: '.length)));
  return problems.filter((p) => !(p.startsWith('auth.sentinelPassword: ') && passwordProblems.has(p.slice('auth.sentinelPassword: '.length))));
}

/**
 * With persistence off nothing may reach the disk, so the two replication settings that decide whether
 * a full sync goes through a file keep redis-ha's values: the master streams (`repl-diskless-sync yes`)
 * and the replica loads from the socket (`repl-diskless-load swapdb`).
 */
const DISKLESS_WHEN_PERSISTENCE_OFF: Readonly<Record<string, string>> = { 'repl-diskless-sync': 'yes', 'repl-diskless-load': 'swapdb' };

function persistenceOffProblems(given: Partial<CheckedInput>, usable: (...paths: string[]) => boolean): string[] {
  if (given.persistence?.enabled !== false || !usable('persistence.enabled', 'redisConfig')) return [];
  const problems: string[] = [];
  for (const [key, wanted] of Object.entries(DISKLESS_WHEN_PERSISTENCE_OFF)) {
    const value = given.redisConfig?.[key];
    if (value !== undefined && String(value).trim().toLowerCase() !== wanted)
      problems.push(
        `redisConfig.${key}: must be ${wanted} while persistence.enabled is false (got "${value}": a full sync would write an RDB file that Redis loads at its next start); remove it or set persistence.enabled: true`,
      );
  }
  return problems;
}

/** Cross-field rules of the Kubernetes fields and of the passwords, one line each. */
function kubernetesProblems(given: Partial<CheckedInput>, usable: (...paths: string[]) => boolean): string[] {
  const problems: string[] = [];
  const auth = given.auth;
  if (auth !== undefined) {
    for (const key of ['password', 'sentinelPassword'] as const) {
      const value = auth[key];
      if (value === undefined || !usable(`auth.${key}`)) continue;
      if (auth.existingSecret !== undefined) {
        if (value !== '')
          problems.push(`auth.${key}: must not be set together with auth.existingSecret (the Secret ${auth.existingSecret} holds it); remove one`);
      } else if (value === '') {
        problems.push(`auth.${key}: must not be empty; remove it to have one generated`);
      } else if (!auth.allowShortPasswords && !migrating(given.migrateFrom) && [...value].length < MIN_PASSWORD_LENGTH) {
        problems.push(`auth.${key}: must be at least ${MIN_PASSWORD_LENGTH} characters (got ${[...value].length})`);
      }
    }
    if (auth.username !== undefined && usable('auth.username') && Object.values(ACL_USERS).includes(auth.username as never))
      problems.push(`auth.username: must not be one of redis-ha's own users ${Object.values(ACL_USERS).join(', ')} (got "${auth.username}"); pick another name, or 'default' for password-only clients`);
    const owned = auth.aclRules?.split(/\s+/).find((word) => ACL_RULES_OWNED.test(word));
    if (owned !== undefined)
      problems.push(`auth.aclRules: must only grant or deny commands, keys and channels (got ${JSON.stringify(owned.replace(/^([<>#!]).*/, '$1...'))}); redis-ha sets the user's password and state`);
  }

  const image = given.image;
  if (image?.tag !== undefined && usable('image.flavor', 'image.tag')) {
    const why = belowFloor(image.flavor, image.tag);
    if (why !== undefined && !image.allowUnpatched) problems.push(`image.tag: ${why}`);
  }

  for (const name of SERVICE_NAMES) {
    const svc = given.services?.[name];
    if (svc === undefined) continue;
    const path = `services.${name}`;
    const exposed = svc.type === 'LoadBalancer' || svc.type === 'NodePort';
    if (svc.externalTrafficPolicy !== undefined && !exposed && usable(`${path}.type`))
      problems.push(`${path}.externalTrafficPolicy: only for type LoadBalancer or NodePort (got type ${svc.type}); remove it or change the type`);
    if (svc.loadBalancerSourceRanges?.length && svc.type !== 'LoadBalancer' && usable(`${path}.type`))
      problems.push(`${path}.loadBalancerSourceRanges: only for type LoadBalancer (got type ${svc.type}); remove it or set type: LoadBalancer`);
    if (svc.preset !== undefined && svc.preset !== 'none' && svc.type !== 'LoadBalancer' && usable(`${path}.type`))
      problems.push(`${path}.preset: only for type LoadBalancer (got type ${svc.type}); set type: LoadBalancer or remove the preset`);
  }

  const external = given.externalAccess;
  if (external !== undefined && usable('externalAccess.enabled', 'externalAccess.addresses', 'replicas')) {
    const addresses = external.addresses ?? [];
    const pods = (given.replicas ?? 0) + 1;
    if (external.enabled && addresses.length !== pods)
      problems.push(`externalAccess.addresses: must give one address per Redis pod, ${pods} for replicas: ${given.replicas} (got ${addresses.length})`);
    if (!external.enabled && addresses.length > 0) problems.push('externalAccess.addresses: only with externalAccess.enabled: true; set it or remove the addresses');
    const repeated = addresses.find((a, i) => addresses.indexOf(a) !== i);
    if (repeated !== undefined) problems.push(`externalAccess.addresses: each pod needs an address of its own (got ${repeated} twice)`);
  }

  problems.push(...migrateFromProblems(given, usable));

  const metrics = given.metrics;
  if (metrics !== undefined && !metrics.enabled && usable('metrics.enabled')) {
    for (const part of ['serviceMonitor', 'prometheusRule', 'dashboard'] as const) {
      if (metrics[part]?.enabled) problems.push(`metrics.${part}.enabled: needs metrics.enabled: true (there is nothing to scrape without the exporters)`);
    }
  }
  return problems;
}

/** `tls` with the certificate source's defaults applied (issuerRef kind Issuer, group cert-manager.io). */
function resolveTls(tls: CheckedInput['tls']): TlsSpec {
  const cm = tls.certManager;
  const name = cm.issuerRef.name;
  return {
    enabled: tls.enabled,
    authClients: tls.authClients,
    ...(tls.secretName !== undefined ? { secretName: tls.secretName } : {}),
    ...(name !== undefined
      ? {
          certManager: {
            issuerRef: { name, kind: cm.issuerRef.kind ?? 'Issuer', group: cm.issuerRef.group ?? 'cert-manager.io' },
            ...(cm.duration !== undefined ? { duration: cm.duration } : {}),
            ...(cm.renewBefore !== undefined ? { renewBefore: cm.renewBefore } : {}),
          },
        }
      : {}),
    clusterDomain: tls.clusterDomain,
  };
}

/** Seconds in a Go duration such as `2160h` or `720h30m` (the field's pattern is already checked). */
export function durationSeconds(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)(h|m|s)/g)) total += Number(n) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
  return total;
}

/**
 * The certificate source's rules, one line per wrong combination. Whether tls.enabled needs a source at
 * all is a Kubernetes question (locally the certificates are generated): render and the operator ask it.
 */
function tlsProblems(tls: Partial<CheckedInput['tls']> | undefined, usable: (...paths: string[]) => boolean): string[] {
  if (tls === undefined) return [];
  const problems: string[] = [];
  const cm = tls.certManager;
  const certManagerGiven = cm !== undefined && (Object.keys(cm.issuerRef ?? {}).length > 0 || cm.duration !== undefined || cm.renewBefore !== undefined);
  if (certManagerGiven && cm.issuerRef?.name === undefined && usable('tls.certManager.issuerRef.name'))
    problems.push('tls.certManager.issuerRef.name: must be set when tls.certManager is given (the Issuer or ClusterIssuer that signs the certificate)');
  if (tls.secretName !== undefined && certManagerGiven)
    problems.push('tls.secretName: must not be set together with tls.certManager (one certificate source: your Secret, or cert-manager issuing one); remove one');
  if (!tls.enabled && usable('tls.enabled') && (tls.secretName !== undefined || certManagerGiven))
    problems.push(`tls.${tls.secretName !== undefined ? 'secretName' : 'certManager'}: only with tls.enabled: true; set tls.enabled: true or remove it`);
  if (cm?.duration !== undefined && durationSeconds(cm.duration) < 3600)
    problems.push(`tls.certManager.duration: must be at least 1h (cert-manager's minimum) (got "${cm.duration}")`);
  if (cm?.duration !== undefined && cm.renewBefore !== undefined && durationSeconds(cm.renewBefore) >= durationSeconds(cm.duration))
    problems.push(`tls.certManager.renewBefore: must be shorter than tls.certManager.duration (got ${cm.renewBefore} >= ${cm.duration})`);
  return problems;
}

/** One Service's settings with its preset resolved (its own, else `services.preset` for a load balancer). */
function resolveService(svc: CheckedService, preset: LoadBalancerPreset): ServiceSpec {
  return {
    type: svc.type,
    preset: svc.preset ?? (svc.type === 'LoadBalancer' ? preset : 'none'),
    annotations: { ...svc.annotations },
    loadBalancerSourceRanges: [...(svc.loadBalancerSourceRanges ?? [])],
    ...(svc.externalTrafficPolicy !== undefined ? { externalTrafficPolicy: svc.externalTrafficPolicy } : {}),
  };
}

/** The Kubernetes fields with every default applied. */
function resolveKubernetes(spec: CheckedInput): KubernetesFields {
  const flavor = IMAGE_FLAVORS[spec.image.flavor];
  const services = {} as Record<ServiceName, ServiceSpec>;
  for (const name of SERVICE_NAMES) services[name] = resolveService(spec.services[name], spec.services.preset);
  const withLabels = <T extends { labels?: Record<string, string> }>(part: T): T & { labels: Record<string, string> } => ({
    ...part,
    labels: { ...part.labels },
  });
  return {
    image: {
      ...spec.image,
      repository: spec.image.repository ?? flavor.repository,
      tag: spec.image.tag ?? flavor.defaultTag,
    },
    services,
    metrics: {
      ...spec.metrics,
      serviceMonitor: withLabels(spec.metrics.serviceMonitor),
      prometheusRule: withLabels(spec.metrics.prometheusRule),
      dashboard: withLabels(spec.metrics.dashboard),
    },
    networkPolicy: {
      ...spec.networkPolicy,
      allowedNamespaces: [...(spec.networkPolicy.allowedNamespaces ?? [])],
      allowedCidrs: [...(spec.networkPolicy.allowedCidrs ?? [])],
    },
    resources: spec.resources,
    podDisruptionBudget: spec.podDisruptionBudget,
    endpoint: spec.endpoint,
    scheduling: { ...spec.scheduling, nodeSelector: { ...spec.scheduling.nodeSelector }, tolerations: [...(spec.scheduling.tolerations ?? [])] },
    naming: spec.naming,
    ...(migrating(spec.migrateFrom)
      ? {
          migrateFrom: {
            sentinels: [...(spec.migrateFrom.sentinels ?? [])],
            masterName: spec.migrateFrom.masterName as string,
            secretName: spec.migrateFrom.secretName as string,
            passwordKey: spec.migrateFrom.passwordKey,
            sentinelPasswordKey: spec.migrateFrom.sentinelPasswordKey ?? spec.migrateFrom.passwordKey,
            oldNodes: spec.migrateFrom.oldNodes,
          },
        }
      : {}),
    ...(spec.routing !== undefined ? { routing: spec.routing } : {}),
    externalAccess: {
      enabled: spec.externalAccess.enabled,
      addresses: spec.externalAccess.enabled ? [...(spec.externalAccess.addresses ?? [])] : [],
      service: resolveService(spec.externalAccess.service, spec.services.preset),
    },
  };
}

/** Whether the spec asks to take over an outside deployment: `migrateFrom` with anything in it. */
function migrating(m: CheckedInput['migrateFrom'] | undefined): boolean {
  return m !== undefined && (m.sentinels !== undefined || m.masterName !== undefined || m.secretName !== undefined || m.sentinelPasswordKey !== undefined);
}

/**
 * `migrateFrom`: all three of sentinels, masterName and secretName; the master set name is the source's
 * (clients keep asking for it); the passwords are the source's, so the operator makes the Secret itself.
 */
function migrateFromProblems(given: Partial<CheckedInput>, usable: (...paths: string[]) => boolean): string[] {
  const m = given.migrateFrom;
  if (!migrating(m) || !usable('migrateFrom')) return [];
  const problems: string[] = [];
  const from = m as CheckedInput['migrateFrom'];
  if (!from.sentinels?.length) problems.push("migrateFrom.sentinels: must list the source's Sentinels (host:port) to migrate from");
  if (from.masterName === undefined) problems.push("migrateFrom.masterName: must be set: the source's master set name (the Bitnami chart: mymaster)");
  if (from.secretName === undefined) problems.push("migrateFrom.secretName: must name the Secret holding the source's passwords (the Bitnami chart: its release's Secret, key redis-password)");
  const setName = given.sentinel?.masterName;
  if (from.masterName !== undefined && setName !== undefined && setName !== from.masterName && usable('sentinel.masterName'))
    problems.push(`sentinel.masterName: must be the source's, migrateFrom.masterName "${from.masterName}" (got "${setName}"), or left out: clients keep asking for it`);
  const rules = given.auth?.aclRules;
  if (rules !== undefined && rules !== DEFAULT_APPLICATION_ACL_RULES && rules !== MIGRATED_ACL_RULES && usable('auth.aclRules'))
    problems.push(`auth.aclRules: not with migrateFrom (got "${rules}"): the source's Sentinels and replicas log in as the application and need every right (${MIGRATED_ACL_RULES}); remove it`);
  if (given.tls?.enabled === true && usable('tls.enabled')) problems.push('tls.enabled: not with migrateFrom yet: the migration speaks plaintext to the source; migrate first, then enable TLS');
  if (given.auth?.username !== undefined && given.auth.username !== 'default' && usable('auth.username'))
    problems.push(`auth.username: not with migrateFrom (got "${given.auth.username}"): the source's nodes and Sentinels know only the default user; remove it`);
  if (given.auth?.existingSecret !== undefined && usable('auth.existingSecret'))
    problems.push("auth.existingSecret: not with migrateFrom: the operator makes the deployment's Secret with the source's passwords; remove it");
  return problems;
}

/** A new random password: 30 bytes from the CSPRNG as base64url, i.e. 40 characters of [A-Za-z0-9_-]. */
export function generatePassword(): string {
  return randomBytes(30).toString('base64url');
}

/** The Bitnami chart's default master set (`sentinel.masterSet`), the default with `naming: bitnami`. */
export const BITNAMI_MASTER_SET = 'mymaster';

/**
 * The Sentinel master-group name of a deployment: `sentinel.masterName` when the spec gives one (or
 * `naming: bitnami` implies it), else `redis-ha-<name>`, unique per deployment.
 */
export function masterGroupName(spec: Pick<RedisHASpec, 'name'> & { readonly sentinel?: Pick<RedisHASpec['sentinel'], 'masterName'> }): string {
  return spec.sentinel?.masterName ?? `redis-ha-${spec.name}`;
}

/** What replaces secrets in `redactSpec`'s output. */
export const REDACTED = '<redacted>';

/** A frozen copy of `spec` safe to log or print: both passwords replaced by `"<redacted>"`. */
export function redactSpec(spec: RedisHASpec): RedisHASpec {
  return deepFreeze({
    ...structuredClone(spec),
    auth: { ...spec.auth, password: REDACTED, sentinelPassword: REDACTED },
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Whether a resolved spec (or one saved before TLS existed) turns TLS on. */
export function tlsEnabled(spec: { readonly tls?: { readonly enabled: boolean } }): boolean {
  return spec.tls?.enabled === true;
}
