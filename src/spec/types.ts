import type { ImageFlavor } from './images.ts';

/** The Sentinel timing profile: `default` (down-after 5 s) or `fast` (down-after 1 s). */
export type TimingProfile = 'default' | 'fast';

/** Sentinel timings, resolved from a profile plus any explicit overrides. */
export interface SentinelTimings {
  readonly profile: TimingProfile;
  readonly downAfterMilliseconds: number;
  readonly failoverTimeout: number;
  readonly parallelSyncs: number;
  /** The Sentinel master set name when the spec gives one; read it through `masterGroupName(spec)`. */
  readonly masterName?: string;
}

export interface AuthSpec {
  /** The application's password. Generated (>= 32 random characters) when absent. */
  readonly password: string;
  /** The password Sentinels require from their clients. Generated when absent. */
  readonly sentinelPassword: string;
  /**
   * The application's ACL user: `default` (password-only clients work) or a name of its own, which
   * switches the `default` user off. Optional for code that rebuilds `auth`; read it through
   * `applicationUser(spec)`.
   */
  readonly username?: string;
  /**
   * Kubernetes: a Secret the user manages with the keys `existingSecretPasswordKey` and
   * `sentinel-password`. When set, `password` and `sentinelPassword` above are placeholders
   * (generated, never rendered) and the pods read the Secret instead.
   */
  readonly existingSecret?: string;
  // The three below are always set by resolveSpec; they are optional so that code rebuilding `auth` from
  // two passwords (the local runtime keeping a previous run's) stays valid. Read them through
  // `kubernetesAuth` in src/kubernetes, which supplies the same defaults.
  readonly existingSecretPasswordKey?: string;
  readonly allowShortPasswords?: boolean;
  /** ACL rules of the application user (both runtimes); DEFAULT_APPLICATION_ACL_RULES unless set. */
  readonly aclRules?: string;
}

export interface PersistenceSpec {
  /** Off by default: this is a cache. On: RDB snapshots + AOF in the node's data dir (PVC on Kubernetes). */
  readonly enabled: boolean;
  readonly size: string;
  readonly storageClass?: string;
}

/** `tls-auth-clients`: whether clients must present a certificate signed by the deployment's CA. */
export type TlsAuthClients = 'optional' | 'yes' | 'no';

/** A cert-manager issuer reference (`tls.certManager.issuerRef`), defaults applied. */
export interface IssuerRef {
  readonly name: string;
  readonly kind: 'Issuer' | 'ClusterIssuer';
  readonly group: string;
}

/** Kubernetes: have cert-manager issue the deployment's certificate. */
export interface CertManagerSpec {
  readonly issuerRef: IssuerRef;
  readonly duration?: string;
  readonly renewBefore?: string;
}

export interface TlsSpec {
  /** TLS only: Redis and Sentinel listen with `tls-port`, `port 0`; replication and Sentinel links use TLS. */
  readonly enabled: boolean;
  readonly authClients: TlsAuthClients;
  /** Kubernetes: a Secret the user manages with tls.crt, tls.key and ca.crt. Never with `certManager`. */
  readonly secretName?: string;
  /** Kubernetes: cert-manager issues the certificate into the Secret `<name>-tls`. Never with `secretName`. */
  readonly certManager?: CertManagerSpec;
  /** Kubernetes: the cluster DNS domain (`cluster.local`), for the certificate's fully qualified names. */
  readonly clusterDomain?: string;
}

/**
 * A fully resolved RedisHA spec: every default applied, every rule checked, secrets present.
 * Produced only by `resolveSpec` in this folder; the rest of the code never applies defaults itself.
 */
export interface RedisHASpec extends KubernetesFields {
  /** DNS-1123 label; also the Sentinel master-group name's suffix. */
  readonly name: string;
  /** Number of replicas besides the master. */
  readonly replicas: number;
  readonly sentinels: number;
  readonly quorum: number;
  readonly auth: AuthSpec;
  readonly sentinel: SentinelTimings;
  readonly persistence: PersistenceSpec;
  /** Optional for deployments saved before TLS existed; read it through `tlsEnabled(spec)`. */
  readonly tls?: TlsSpec;
  /** `min-replicas-to-write` on the master; 0 turns the write fence off. */
  readonly minReplicasToWrite: number;
  /** `min-replicas-max-lag` in seconds. */
  readonly minReplicasMaxLag: number;
  /** Allow-listed Redis config overrides, e.g. `{ maxmemory: '256mb' }`. */
  readonly redisConfig: Readonly<Record<string, string>>;
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
export type LoadBalancerPreset = 'none' | 'aws-internal' | 'gcp-internal' | 'azure-internal';

export interface ServiceSpec {
  readonly type: ServiceType;
  /** The preset in force for this Service (its own, else `services.preset`). */
  readonly preset: LoadBalancerPreset;
  readonly annotations: Readonly<Record<string, string>>;
  readonly loadBalancerSourceRanges: readonly string[];
  readonly externalTrafficPolicy?: 'Cluster' | 'Local';
}

export interface ImageSpec {
  readonly flavor: ImageFlavor;
  readonly repository: string;
  readonly tag: string;
  readonly digest?: string;
  readonly pullPolicy: 'IfNotPresent' | 'Always' | 'Never';
  /**
   * Runs a tag below the CVE floor (render warns). Only for images whose builder backported the fixes
   * under an old version number, such as Debian's redis 7.0.15 in the Kubernetes test bed.
   */
  readonly allowUnpatched: boolean;
}

export interface ResourceSpec {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu?: string; readonly memory: string };
}

export interface NamespacedExtra {
  readonly enabled: boolean;
  readonly namespace?: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Kubernetes-only parts of the spec; the local runtime ignores them. */
export interface MetricsSpec {
  readonly enabled: boolean;
  readonly image: string;
  readonly serviceMonitor: NamespacedExtra & { readonly interval: string };
  readonly prometheusRule: NamespacedExtra;
  readonly dashboard: NamespacedExtra;
}

/** A running Sentinel deployment the operator moves into this one (`migrateFrom`). */
export interface MigrateFromSpec {
  readonly sentinels: readonly string[];
  readonly masterName: string;
  readonly secretName: string;
  readonly passwordKey: string;
  readonly sentinelPasswordKey: string;
  readonly oldNodes: 'replicas' | 'leave';
}

export interface NetworkPolicySpec {
  readonly enabled: boolean;
  readonly operatorNamespace?: string;
  readonly allowedNamespaces: readonly string[];
  readonly allowedCidrs: readonly string[];
}

export interface SchedulingSpec {
  readonly podAntiAffinity: 'soft' | 'hard' | 'none';
  readonly zoneSpread: 'soft' | 'hard' | 'none';
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** Taints the pods tolerate, `key[=value][:Effect]` (kubectl taint's form). */
  readonly tolerations: readonly string[];
  readonly priorityClassName?: string;
  readonly serviceAccountName?: string;
}

/** The fields of the spec only Kubernetes reads (render and the operator). */
export interface KubernetesFields {
  readonly image: ImageSpec;
  readonly services: { readonly master: ServiceSpec; readonly replicas: ServiceSpec; readonly sentinel: ServiceSpec };
  readonly metrics: MetricsSpec;
  readonly networkPolicy: NetworkPolicySpec;
  readonly resources: { readonly redis: ResourceSpec; readonly sentinel: ResourceSpec; readonly exporter: ResourceSpec };
  readonly podDisruptionBudget: { readonly enabled: boolean };
  readonly scheduling: SchedulingSpec;
  readonly endpoint: { readonly enabled: boolean; readonly replicas: number; readonly image: string };
  /** Object names: this project's own, or the Bitnami chart's where apps depend on them. */
  readonly naming: Naming;
  /** What -master and -replicas select; absent: the runtime decides (label under the operator, endpoint in plain render output). */
  readonly routing?: Routing;
  readonly externalAccess: ExternalAccessSpec;
  /** Set while (and after) the operator takes over an outside deployment. */
  readonly migrateFrom?: MigrateFromSpec;
}

export type Naming = 'redis-ha' | 'bitnami';
export type Routing = 'label' | 'endpoint';

/** Clients outside the cluster: a LoadBalancer Service per Redis pod, whose address the pod announces. */
export interface ExternalAccessSpec {
  readonly enabled: boolean;
  /** One per Redis pod, in ordinal order (empty when not enabled). */
  readonly addresses: readonly string[];
  readonly service: ServiceSpec;
}
