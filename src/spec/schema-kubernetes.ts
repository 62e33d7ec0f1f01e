/**
 * The spec fields that only matter on Kubernetes (render and the operator): images, Services, metrics,
 * NetworkPolicy, resources, disruption budgets and scheduling. The local runtime ignores them, and every
 * one of them is optional with a default, so a spec written for the local runtime means what it meant.
 * They are part of SPEC_SCHEMA, so validation and the CRD's OpenAPI schema follow this table.
 */
import { DEFAULT_APPLICATION_ACL_RULES } from './acl.ts';
import type { EnumField, Field, ObjectField, StringField, StringMapField } from './schema.ts';
import { IMAGE_FLAVORS, LUA_CVES, REDIS_HA_IMAGE, VERSION_TAG_PATTERN } from './images.ts';

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN_BODY = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const DNS_SUBDOMAIN = `^${DNS_SUBDOMAIN_BODY}$`;
const QUALIFIED_NAME = new RegExp(`^(${DNS_SUBDOMAIN_BODY}/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`);
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
// A taint key (an optional DNS-subdomain prefix and a name of at most 63), an optional value (at most 63)
// and an optional effect.
const TAINT_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const TOLERATION = `^(${DNS_SUBDOMAIN_BODY}/)?${TAINT_NAME}(=(${TAINT_NAME})?)?(:(NoSchedule|PreferNoSchedule|NoExecute))?$`;
const MEMORY = '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$';
const CPU = '^[0-9]+(\\.[0-9]+)?m?$';
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const ADDRESS = `^((${OCTET}\\.){3}${OCTET}|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$`;
const CIDR = `^((${OCTET}\\.){3}${OCTET}/([0-9]|[12][0-9]|3[0-2])|[0-9a-fA-F:]*:[0-9a-fA-F:.]*/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$`;

/** The problem with a label or annotation key, or undefined. */
function keyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = key.slice(slash + 1);
  if (!QUALIFIED_NAME.test(key) || name.length > 63 || (slash >= 0 && slash > 253))
    return "must be a Kubernetes key: an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.'";
  return undefined;
}

function stringMap(description: string, checkValue?: (value: string) => string | undefined, maxValueLength = 4096): StringMapField {
  return {
    kind: 'stringMap',
    description,
    maxValueLength,
    normalizeKey: (key) => key,
    checkEntry: (key, value) => keyProblem(key) ?? checkValue?.(value),
  };
}

const labels = (description: string): StringMapField =>
  stringMap(description, (v) => (LABEL_VALUE.test(v) && v.length <= 63 ? undefined : "must be a label value: at most 63 letters, digits, '-', '_' or '.'"), 63);

function str(description: string, pattern: string, rule: string, extra: Partial<StringField> = {}): StringField {
  return { kind: 'string', description, pattern, rule, maxLength: 253, ...extra };
}

function enumOf(description: string, values: readonly string[], def?: string): EnumField {
  return { kind: 'enum', description, values, ...(def !== undefined ? { default: def } : {}) };
}

const PRESETS = ['none', 'aws-internal', 'gcp-internal', 'azure-internal'] as const;

function service(what: string): ObjectField {
  return {
    kind: 'object',
    description: `The ${what} Service.`,
    fields: {
      type: enumOf('Service type.', ['ClusterIP', 'NodePort', 'LoadBalancer'], 'ClusterIP'),
      preset: enumOf('Internal load balancer preset for this Service; default: services.preset.', PRESETS),
      annotations: stringMap('Annotations on the Service (added after the preset\'s, so they win).'),
      loadBalancerSourceRanges: {
        kind: 'list',
        description: 'CIDRs allowed through the load balancer (type LoadBalancer only); also opened in the NetworkPolicy.',
        maxItems: 64,
        items: str('A CIDR.', CIDR, 'must be a CIDR such as 10.0.0.0/8', { maxLength: 64 }),
      },
      externalTrafficPolicy: enumOf('Cluster or Local (type LoadBalancer or NodePort only).', ['Cluster', 'Local']),
    },
  };
}

function resources(what: string, cpu: string, memory: string, memoryLimit: string): ObjectField {
  const quantity = (d: string, pattern: string, def?: string): StringField =>
    str(d, pattern, pattern === CPU ? 'must be a CPU quantity such as 100m or 0.5' : 'must be a memory quantity such as 256Mi or 1Gi', {
      maxLength: 32,
      ...(def !== undefined ? { default: def } : {}),
    });
  return {
    kind: 'object',
    description: `Resources of the ${what} container.`,
    fields: {
      requests: {
        kind: 'object',
        description: 'Requests.',
        fields: { cpu: quantity('CPU request.', CPU, cpu), memory: quantity('Memory request.', MEMORY, memory) },
      },
      limits: {
        kind: 'object',
        description: 'Limits. No CPU limit by default: a throttled Redis misses Sentinel pings.',
        fields: { cpu: quantity('CPU limit.', CPU), memory: quantity('Memory limit.', MEMORY, memoryLimit) },
      },
    },
  };
}

const namespace = (d: string): StringField => str(d, DNS_LABEL, 'must be a namespace name (DNS-1123 label)', { maxLength: 63 });

/** Kubernetes-only fields, merged into SPEC_SCHEMA after the runtime-neutral ones. */
export const KUBERNETES_FIELDS: Readonly<Record<string, Field>> = {
  image: {
    kind: 'object',
    description: `Server image (Kubernetes). The official redis or valkey image, pinned; versions without the fixes for ${LUA_CVES} are refused.`,
    fields: {
      flavor: enumOf('redis or valkey.', ['redis', 'valkey'], 'redis'),
      repository: str(
        `Image repository; default ${IMAGE_FLAVORS.redis.repository} or ${IMAGE_FLAVORS.valkey.repository}. A mirror must carry the same image.`,
        '^[a-z0-9]([-a-z0-9._:/]*[a-z0-9])?$',
        'must be an image repository such as docker.io/library/redis',
      ),
      tag: str(
        `Exact version; default ${IMAGE_FLAVORS.redis.defaultTag} (redis) or ${IMAGE_FLAVORS.valkey.defaultTag} (valkey).`,
        VERSION_TAG_PATTERN,
        'must be an exact version such as 8.2.3 or 8.2.3-alpine (floating tags cannot be checked against the CVE floor)',
        { maxLength: 64 },
      ),
      digest: str('Image digest to pin as well (sha256:...).', '^sha256:[0-9a-f]{64}$', 'must be sha256: followed by 64 hex digits', {
        maxLength: 71,
      }),
      pullPolicy: enumOf('imagePullPolicy.', ['IfNotPresent', 'Always', 'Never'], 'IfNotPresent'),
      allowUnpatched: {
        kind: 'boolean',
        description: `Run a tag below the floor for ${LUA_CVES} anyway (render and the operator warn). Only for an image whose builder backported the fixes under the old version number, e.g. a distribution's package; never for an official image.`,
        default: false,
      },
    },
  },
  services: {
    kind: 'object',
    description: 'The -master, -replicas and -sentinel Services (Kubernetes).',
    fields: {
      preset: enumOf(
        'Internal load balancer annotations for every LoadBalancer Service: aws-internal, gcp-internal, azure-internal.',
        PRESETS,
        'none',
      ),
      master: service('-master (read-write; follows the master-pod label)'),
      replicas: service('-replicas (read-only)'),
      sentinel: service('-sentinel'),
    },
  },
  metrics: {
    kind: 'object',
    description: 'redis_exporter sidecars, ServiceMonitor, PrometheusRule and a Grafana dashboard (Kubernetes).',
    fields: {
      enabled: { kind: 'boolean', description: 'Run redis_exporter beside every Redis and Sentinel.', default: false },
      image: str('redis_exporter image with an exact tag.', '^[a-z0-9][-a-z0-9._/]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$', 'must be an image with a tag such as docker.io/oliver006/redis_exporter:v1.67.0', {
        default: 'docker.io/oliver006/redis_exporter:v1.67.0',
      }),
      serviceMonitor: {
        kind: 'object',
        description: 'A prometheus-operator ServiceMonitor.',
        fields: {
          enabled: { kind: 'boolean', description: 'Render a ServiceMonitor.', default: false },
          namespace: namespace("Namespace of the ServiceMonitor; default: the deployment's."),
          labels: labels('Extra labels, e.g. the release label your Prometheus selects.'),
          interval: str('Scrape interval.', '^[0-9]+(ms|s|m)$', 'must be a duration such as 30s', { default: '30s', maxLength: 16 }),
        },
      },
      prometheusRule: {
        kind: 'object',
        description: 'A PrometheusRule with alerts: no master, several masters, replication link down, replica lag, Sentinel quorum, failover, memory.',
        fields: {
          enabled: { kind: 'boolean', description: 'Render a PrometheusRule.', default: false },
          namespace: namespace("Namespace; default: the ServiceMonitor's."),
          labels: labels('Extra labels, e.g. the label your Prometheus selects rules by.'),
        },
      },
      dashboard: {
        kind: 'object',
        description: 'A Grafana dashboard in a ConfigMap labelled grafana_dashboard: "1".',
        fields: {
          enabled: { kind: 'boolean', description: 'Render the dashboard ConfigMap.', default: false },
          namespace: namespace("Namespace; default: the deployment's."),
          labels: labels('Extra labels for your Grafana sidecar.'),
        },
      },
    },
  },
  networkPolicy: {
    kind: 'object',
    description:
      "A NetworkPolicy: only the deployment's pods, the operator and pods labelled redis-ha.io/client-<name>: \"true\" reach 6379/26379 (Kubernetes).",
    fields: {
      enabled: { kind: 'boolean', description: 'Render the NetworkPolicy.', default: true },
      operatorNamespace: namespace('Namespace of the redis-ha operator; default: any namespace.'),
      allowedNamespaces: {
        kind: 'list',
        description: 'Namespaces whose every pod may connect.',
        maxItems: 64,
        items: namespace('A namespace.'),
      },
      allowedCidrs: {
        kind: 'list',
        description: 'Extra CIDRs that may connect (e.g. a VPC when the Services are load balancers).',
        maxItems: 64,
        items: str('A CIDR.', CIDR, 'must be a CIDR such as 10.0.0.0/8', { maxLength: 64 }),
      },
    },
  },
  resources: {
    kind: 'object',
    description: 'Container resources (Kubernetes). maxmemory defaults to 80% of the Redis memory limit.',
    fields: {
      redis: resources('Redis', '100m', '256Mi', '512Mi'),
      sentinel: resources('Sentinel', '20m', '64Mi', '128Mi'),
      exporter: resources('redis_exporter', '10m', '32Mi', '64Mi'),
    },
  },
  endpoint: {
    kind: 'object',
    description: 'The master/replicas endpoint for clients that cannot speak Sentinel: a Deployment of `redis-ha proxy` and a Service `<name>-endpoint` (port 6379 always reaches the master, 6380 the replicas) (Kubernetes).',
    fields: {
      enabled: { kind: 'boolean', description: 'Render it.', default: false },
      replicas: { kind: 'integer', description: 'Proxy pods (each checks the Sentinels itself).', min: 1, max: 10, default: 2 },
      image: str('The redis-ha image, with an exact tag.', '^[a-z0-9][-a-z0-9._/:]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$', 'must be an image with a tag such as ghcr.io/redis-ha/operator:0.1.0', { default: REDIS_HA_IMAGE }),
    },
  },
  naming: enumOf(
    "Object names: 'redis-ha' (<name>-auth, <name>-sentinel, ...) or 'bitnami', drop-in for apps built against the Bitnami redis chart: the Secret <name> with the application password under redis-password (and the Sentinels' password the same unless auth.sentinelPassword is given), and the Service <name> with tcp-redis 6379 (any Redis pod, read-only as in Bitnami's sentinel mode) and tcp-sentinel 26379 (the Sentinels) in place of <name>-sentinel; the master set defaults to mymaster (Kubernetes).",
    ['redis-ha', 'bitnami'],
    'redis-ha',
  ),
  routing: enumOf(
    "What the -master and -replicas Services select: 'label' (the Redis pods, by the redis-ha.io/role label the operator keeps; without the operator they have no endpoints) or 'endpoint' (the pods of the endpoint Deployment, redis-ha proxy, which follow the Sentinel majority by themselves). Default: label under the operator, endpoint for plain render output (Kubernetes).",
    ['label', 'endpoint'],
  ),
  externalAccess: {
    kind: 'object',
    description:
      'Clients outside the cluster (Kubernetes): every Redis pod gets a LoadBalancer Service <name>-redis-<i>-external and announces its address, so the master and replicas the Sentinels name are reachable from outside. Reach the Sentinels through the -sentinel Service (type LoadBalancer).',
    fields: {
      enabled: { kind: 'boolean', description: 'Render the per-pod Services and announce their addresses.', default: false },
      addresses: {
        kind: 'list',
        description: "The address of each Redis pod's load balancer, in ordinal order (replicas + 1 of them): an IP (set as the Service's loadBalancerIP) or a DNS name that resolves to it.",
        maxItems: 9,
        items: str('An IPv4 address or a DNS name.', ADDRESS, 'must be an IPv4 address or a DNS name', { maxLength: 253 }),
      },
      service: {
        ...service('per-pod LoadBalancer'),
        fields: { ...service('per-pod LoadBalancer').fields, type: enumOf('Always LoadBalancer.', ['LoadBalancer'], 'LoadBalancer') },
      },
    },
  },
  migrateFrom: {
    kind: 'object',
    description:
      'Take over a running master-replica + Sentinel deployment redis-ha did not create (the Bitnami chart\'s, or any), with its data and no acknowledged write lost (operator only; README: "Coming from the Bitnami chart"). Set with sentinels, masterName and secretName; leave it in place once done.',
    fields: {
      sentinels: {
        kind: 'list',
        description: "The source's Sentinels as host:port (e.g. redis-node-0.redis-headless.NAMESPACE.svc.cluster.local:26379), reachable from the operator and the pods.",
        maxItems: 16,
        items: str('host:port', `^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*|(${OCTET}\\.){3}${OCTET}):[0-9]{1,5}$`, 'must be host:port, e.g. redis-node-0.redis-headless.cache.svc.cluster.local:26379', { maxLength: 260 }),
      },
      masterName: str("The source's master set name (the Bitnami chart: mymaster); the new deployment keeps it.", '^[A-Za-z0-9][-A-Za-z0-9_.]*$', "must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit", { maxLength: 64 }),
      secretName: str("A Secret in the RedisHA's namespace holding the source's passwords (the Bitnami chart's: <release>-redis or redis).", DNS_SUBDOMAIN, 'must be a Secret name (DNS subdomain)'),
      passwordKey: str("The key of the source nodes' password in secretName; clients keep that password.", '^[-._a-zA-Z0-9]+$', "must be a Secret key: letters, digits, '-', '_' or '.'", { default: 'redis-password' }),
      sentinelPasswordKey: str("The key of the source Sentinels' password in secretName; default: passwordKey (as the Bitnami chart).", '^[-._a-zA-Z0-9]+$', "must be a Secret key: letters, digits, '-', '_' or '.'"),
      oldNodes: enumOf('After the switchover: the old nodes become replicas of the new master (never promoted back), or are left as Sentinel left them.', ['replicas', 'leave'], 'replicas'),
    },
  },
  podDisruptionBudget: {
    kind: 'object',
    description: 'PodDisruptionBudgets: Redis at most one down, Sentinels at least quorum up (Kubernetes).',
    fields: { enabled: { kind: 'boolean', description: 'Render them.', default: true } },
  },
  scheduling: {
    kind: 'object',
    description: 'Where pods go (Kubernetes).',
    fields: {
      podAntiAffinity: enumOf('Spread pods of one StatefulSet over nodes: soft (preferred), hard (required) or none.', ['soft', 'hard', 'none'], 'soft'),
      zoneSpread: enumOf('Topology spread over topology.kubernetes.io/zone: soft (ScheduleAnyway), hard or none.', ['soft', 'hard', 'none'], 'soft'),
      nodeSelector: labels('nodeSelector for every pod.'),
      tolerations: {
        kind: 'list',
        description:
          "Taints every pod tolerates: 'key=value:Effect' (that value; kubectl taint's form), 'key:Effect' (any value: operator Exists) or 'key' (any value and effect); Effect is NoSchedule, PreferNoSchedule or NoExecute.",
        maxItems: 32,
        items: str('A taint: key[=value][:Effect].', TOLERATION, 'must be key[=value][:Effect] (key and value at most 63 characters each), e.g. dedicated=cache:NoSchedule', { maxLength: 330 }),
      },
      priorityClassName: str('PriorityClass of every pod.', DNS_SUBDOMAIN, 'must be a PriorityClass name (DNS subdomain)'),
      serviceAccountName: str('ServiceAccount of the pods; default: the namespace default (its token is not mounted).', DNS_SUBDOMAIN, 'must be a ServiceAccount name (DNS subdomain)'),
    },
  },
};

/** Kubernetes-only fields of `auth`. */
export const KUBERNETES_AUTH_FIELDS: Readonly<Record<string, Field>> = {
  existingSecret: str(
    'A Secret you manage holding the keys password and sentinel-password (Kubernetes); then auth.password and auth.sentinelPassword must be absent.',
    DNS_SUBDOMAIN,
    'must be a Secret name (DNS subdomain)',
  ),
  existingSecretPasswordKey: str("The key of the application's password in existingSecret.", '^[-._a-zA-Z0-9]+$', "must be a Secret key: letters, digits, '-', '_' or '.'", {
    default: 'password',
  }),
  allowShortPasswords: {
    kind: 'boolean',
    description: 'Accept passwords shorter than 16 characters (imported Bitnami values). Weak: rotate them.',
    default: false,
  },
  aclRules: str(
    'ACL rules of the application user (auth.username), locally and on Kubernetes; replication, Sentinel, the exporter and the controller each get their own least-privilege user. Default: every command except the @dangerous ones (CONFIG, DEBUG, MODULE, FLUSHALL, ...), plus INFO and ROLE.',
    '^[^\\x00-\\x1f\\x7f]*$',
    'must be one line of ACL rules',
    { default: DEFAULT_APPLICATION_ACL_RULES, maxLength: 1024 },
  ),
};

/** A Go duration as cert-manager takes it: hours, minutes, seconds, e.g. 2160h or 720h30m. */
const GO_DURATION = '^([0-9]+(h|m|s))+$';

/**
 * Kubernetes-only fields of `tls`: where the certificate comes from. Exactly one source when
 * tls.enabled (render and the operator check it: locally the certificates are generated instead).
 */
export const KUBERNETES_TLS_FIELDS: Readonly<Record<string, Field>> = {
  secretName: str(
    'A Secret you manage holding tls.crt, tls.key and ca.crt (the shape cert-manager writes): the certificate every Redis node and Sentinel serves and presents to its peers, and the CA they trust (Kubernetes). Its SANs must name every pod and Service clients use (the README lists them). Not together with tls.certManager.',
    DNS_SUBDOMAIN,
    'must be a Secret name (DNS subdomain)',
  ),
  certManager: {
    kind: 'object',
    description:
      'Have cert-manager issue the certificate (Kubernetes): render adds a cert-manager.io/v1 Certificate <name>-tls naming every pod and Service, and the pods mount the Secret <name>-tls it writes. Not together with tls.secretName.',
    fields: {
      issuerRef: {
        kind: 'object',
        description: 'The cert-manager issuer that signs the certificate.',
        fields: {
          name: str("The Issuer (in the deployment's namespace) or ClusterIssuer. Required when tls.certManager is given.", DNS_SUBDOMAIN, 'must be an issuer name (DNS subdomain)'),
          kind: enumOf('Issuer or ClusterIssuer. Default: Issuer.', ['Issuer', 'ClusterIssuer']),
          group: str('API group of the issuer. Default: cert-manager.io (external issuers have their own).', DNS_SUBDOMAIN, 'must be an API group (DNS subdomain) such as cert-manager.io'),
        },
      },
      duration: str("The certificate's lifetime, at least 1h; cert-manager's default (90 days) when absent.", GO_DURATION, 'must be a duration such as 2160h or 720h30m (hours, minutes, seconds)', { maxLength: 32 }),
      renewBefore: str('How long before expiry cert-manager renews it; shorter than duration. cert-manager\'s default (a third of the lifetime) when absent.', GO_DURATION, 'must be a duration such as 360h (hours, minutes, seconds)', { maxLength: 32 }),
    },
  },
  clusterDomain: str('The cluster DNS domain, for the fully qualified names in the certificate (Kubernetes).', DNS_SUBDOMAIN, 'must be a DNS domain such as cluster.local', {
    default: 'cluster.local',
  }),
};
