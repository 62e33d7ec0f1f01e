/**
 * The RedisHA input spec (what a user writes in YAML) as one declarative field table.
 *
 * The same table drives validation with defaults (`checkFields` in check.ts, used by `resolveSpec`) and the
 * Kubernetes CRD's OpenAPI v3 schema (`specToOpenAPI`). Defaults that depend on other fields
 * (quorum, profile timings, the write fence, passwords) are applied in `resolve.ts`; their rule is
 * stated in the field's description so the CRD documents it too.
 */
import { checkRedisConfigEntry } from './redis-config.ts';
import { KUBERNETES_AUTH_FIELDS, KUBERNETES_FIELDS, KUBERNETES_TLS_FIELDS } from './schema-kubernetes.ts';
import { DEFAULT_APPLICATION_USER, USERNAME_PATTERN } from './acl.ts';

interface FieldBase {
  readonly description: string;
}

export interface IntegerField extends FieldBase {
  readonly kind: 'integer';
  readonly min: number;
  readonly max: number;
  readonly default?: number;
}

export interface StringField extends FieldBase {
  readonly kind: 'string';
  readonly default?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  /** A regular expression both JavaScript and the Kubernetes API server (RE2) understand. */
  readonly pattern?: string;
  /** What the pattern means, for messages: `must be ...`. */
  readonly rule?: string;
  /** Never echo the value in a message. */
  readonly secret?: boolean;
}

export interface BooleanField extends FieldBase {
  readonly kind: 'boolean';
  readonly default?: boolean;
}

export interface EnumField extends FieldBase {
  readonly kind: 'enum';
  readonly values: readonly string[];
  readonly default?: string;
}

/** A map of string keys to string values (numbers are accepted and stringified). */
export interface StringMapField extends FieldBase {
  readonly kind: 'stringMap';
  readonly maxValueLength: number;
  /** Keys are normalized with this before any check, e.g. lowercased. */
  readonly normalizeKey: (key: string) => string;
  /** A problem with the entry, without the path (e.g. `not an allowed Redis setting`), or undefined. */
  readonly checkEntry: (key: string, value: string) => string | undefined;
}

export interface ObjectField extends FieldBase {
  readonly kind: 'object';
  readonly fields: Readonly<Record<string, Field>>;
  readonly required?: readonly string[];
}

/** A list of strings, each checked like a string field (e.g. CIDRs). */
export interface ListField extends FieldBase {
  readonly kind: 'list';
  readonly items: StringField;
  readonly maxItems: number;
}

export type Field = IntegerField | StringField | BooleanField | EnumField | StringMapField | ObjectField | ListField;

/** Passwords shorter than this are refused unless `auth.allowShortPasswords` is set. */
export const MIN_PASSWORD_LENGTH = 16;

/** Characters a password may not contain: ASCII control characters, space and DEL. */
const NO_SPACE_OR_CONTROL = '^[^\\x00-\\x20\\x7f]*$';

function password(description: string): StringField {
  return {
    kind: 'string',
    description,
    // At least MIN_PASSWORD_LENGTH unless auth.allowShortPasswords: resolve.ts checks the length.
    maxLength: 512,
    pattern: NO_SPACE_OR_CONTROL,
    rule: 'must not contain whitespace or control characters',
    secret: true,
  };
}

/** The RedisHA input spec. Field order here is the order problems are reported in. */
export const SPEC_SCHEMA: ObjectField = {
  kind: 'object',
  description: 'A Redis master with replicas, watched by Sentinels that fail over when the master is down.',
  required: ['name'],
  fields: {
    name: {
      kind: 'string',
      description: 'Deployment name (DNS-1123 label); the Sentinel master group is called redis-ha-<name>.',
      minLength: 1,
      maxLength: 40,
      // The bounded repetition encodes the 40-character limit, so one rule message covers both.
      pattern: '^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$',
      rule:
        "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40 characters",
    },
    replicas: { kind: 'integer', description: 'Replicas besides the master.', min: 0, max: 8, default: 2 },
    sentinels: { kind: 'integer', description: 'Number of Sentinels.', min: 1, max: 9, default: 3 },
    quorum: {
      kind: 'integer',
      description:
        'Sentinels that must agree the master is down. Default: a majority, floor(sentinels/2)+1. At most sentinels.',
      min: 1,
      max: 9,
    },
    auth: {
      kind: 'object',
      description: 'Users and passwords. Each password is generated (40 random characters) when absent.',
      fields: {
        password: password("The application user's password. 16 to 512 characters."),
        sentinelPassword: password('The password Sentinel clients must give. 16 to 512 characters.'),
        username: {
          kind: 'string',
          description:
            "The application's ACL user. 'default' (the default) lets clients that send only a password in; any other name switches the default user off, so clients must give the name too.",
          default: DEFAULT_APPLICATION_USER,
          maxLength: 64,
          pattern: USERNAME_PATTERN,
          rule: "must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        },
        ...KUBERNETES_AUTH_FIELDS,
      },
    },
    sentinel: {
      kind: 'object',
      description: 'Sentinel timings: a profile plus optional overrides.',
      fields: {
        profile: {
          kind: 'enum',
          description: 'default: down after 5 s, failover timeout 60 s. fast: down after 1 s, failover timeout 10 s.',
          values: ['default', 'fast'],
          default: 'default',
        },
        downAfterMilliseconds: {
          kind: 'integer',
          description: 'down-after-milliseconds. Default from the profile: 5000 (default) or 1000 (fast).',
          min: 100,
          max: 600_000,
        },
        failoverTimeout: {
          kind: 'integer',
          description:
            'failover-timeout in milliseconds; greater than downAfterMilliseconds. Default from the profile: 60000 (default) or 10000 (fast).',
          min: 1000,
          max: 3_600_000,
        },
        parallelSyncs: {
          kind: 'integer',
          description: 'Replicas that resync with a new master at the same time.',
          min: 1,
          max: 16,
          default: 1,
        },
        masterName: {
          kind: 'string',
          description:
            "The Sentinel master set name clients ask for. Default: redis-ha-<name>, unique per deployment (mymaster with naming: bitnami, as the Bitnami chart's sentinel.masterSet).",
          maxLength: 64,
          pattern: '^[A-Za-z0-9][-A-Za-z0-9_.]*$',
          rule: "must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        },
      },
    },
    persistence: {
      kind: 'object',
      description: 'Off by default: this is a cache. On: RDB snapshots and AOF in the data directory (a PVC on Kubernetes).',
      fields: {
        enabled: { kind: 'boolean', description: 'Keep data across restarts.', default: false },
        size: {
          kind: 'string',
          description: 'Volume size on Kubernetes.',
          default: '1Gi',
          maxLength: 64,
          pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$',
          rule: 'must be a Kubernetes quantity such as 1Gi or 500Mi',
        },
        storageClass: {
          kind: 'string',
          description: 'StorageClass for the volumes; the cluster default when absent.',
          maxLength: 253,
          pattern: '^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$',
          rule: "must be a StorageClass name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
        },
      },
    },
    tls: {
      kind: 'object',
      description:
        'TLS for every connection: clients, replication, Sentinel and the endpoints (passed through). Locally a CA and certificates are generated in the state directory; on Kubernetes the certificate comes from cert-manager (tls.certManager) or a Secret you manage (tls.secretName).',
      fields: {
        enabled: { kind: 'boolean', description: 'Serve TLS only: the plaintext port is closed.', default: false },
        authClients: {
          kind: 'enum',
          description:
            "tls-auth-clients: 'optional' (default) lets clients in with the CA alone (the ACL password authenticates them) and checks a certificate when one is given; 'yes' requires a client certificate signed by the CA (mutual TLS); 'no' never asks for one.",
          values: ['optional', 'yes', 'no'],
          default: 'optional',
        },
        ...KUBERNETES_TLS_FIELDS,
      },
    },
    minReplicasToWrite: {
      kind: 'integer',
      description:
        'min-replicas-to-write: an isolated master stops accepting writes. 0 turns it off. Default: 1, or 0 when replicas is 0. At most replicas.',
      min: 0,
      max: 8,
    },
    minReplicasMaxLag: {
      kind: 'integer',
      description: 'min-replicas-max-lag in seconds.',
      min: 1,
      max: 3600,
      default: 10,
    },
    redisConfig: {
      kind: 'stringMap',
      description:
        'Redis settings to override, e.g. maxmemory: 256mb. Allow-listed tunables only; settings redis-ha owns are rejected.',
      maxValueLength: 1024,
      normalizeKey: (key) => key.toLowerCase(),
      checkEntry: checkRedisConfigEntry,
    },
    ...KUBERNETES_FIELDS,
  },
};
