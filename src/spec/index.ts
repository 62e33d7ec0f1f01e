/** The RedisHA spec: one schema for validation, defaults and the CRD's OpenAPI schema. Import from here. */
export type {
  AuthSpec,
  CertManagerSpec,
  ExternalAccessSpec,
  ImageSpec,
  IssuerRef,
  KubernetesFields,
  LoadBalancerPreset,
  MetricsSpec,
  Naming,
  NetworkPolicySpec,
  PersistenceSpec,
  RedisHASpec,
  ResourceSpec,
  Routing,
  SchedulingSpec,
  SentinelTimings,
  ServiceSpec,
  ServiceType,
  TimingProfile,
  TlsAuthClients,
  TlsSpec,
} from './types.ts';
export type { ImageFlavor, ServerVersion } from './images.ts';
export { IMAGE_FLAVORS, LUA_CVES, REDIS_HA_IMAGE, belowFloor, imageChangeRefusal, parseServerName, replicationGap, serverName } from './images.ts';
export type { ResolveOptions } from './resolve.ts';
export { BITNAMI_MASTER_SET, REDACTED, SpecError, TIMING_PROFILES, generatePassword, masterGroupName, redactSpec, resolveSpec, tlsEnabled } from './resolve.ts';
export { MAX_SPEC_FILE_BYTES, MAX_YAML_ALIASES, loadSpecFile, parseSpecText } from './load.ts';
export type { OpenAPISchema } from './openapi.ts';
export { specToOpenAPI } from './openapi.ts';
export { ALLOWED_REDIS_SETTINGS, ownedReason } from './redis-config.ts';
export { SPEC_SCHEMA } from './schema.ts';
export type { Credentials, InternalUser } from './acl.ts';
export {
  ACL_RULES,
  ACL_USERS,
  DEFAULT_APPLICATION_ACL_RULES,
  DEFAULT_APPLICATION_USER,
  DEFAULT_USER_OFF,
  INTERNAL_USERS,
  REPLICATION_PROBE_CHANNEL,
  aclPasswordHash,
  aclUserLine,
  applicationRules,
  applicationUser,
} from './acl.ts';
