/**
 * `render --from-bitnami`: a values file of the Bitnami `redis` chart -> an unresolved RedisHA spec.
 * Every leaf key of the values is either mapped or reported in a warning, never dropped silently.
 */
import { MIN_PASSWORD_LENGTH } from '../spec/schema.ts';
import { SpecError } from '../spec/index.ts';

export interface FromBitnamiOptions {
  /**
   * Use this project's own names (`<name>-auth` with key `password`, `<name>-sentinel`, master set
   * `redis-ha-<name>`) instead of the chart's, which apps built against it use (the default).
   */
  readonly ownNames?: boolean;
}

export interface FromBitnami {
  /** An unresolved spec for `resolveSpec`. */
  readonly input: Record<string, unknown>;
  /** One line per key that was not mapped, or mapped with a caveat. */
  readonly warnings: string[];
}

type Values = Record<string, unknown>;

function isMapping(value: unknown): value is Values {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every leaf path (`master.service.type`) of a values tree; lists and empty mappings are leaves. */
function leaves(value: unknown, prefix = ''): string[] {
  if (!isMapping(value) || Object.keys(value).length === 0) return prefix === '' ? [] : [prefix];
  return Object.entries(value).flatMap(([key, child]) => leaves(child, prefix === '' ? key : `${prefix}.${key}`));
}

/** Values files carry these with chart defaults; reporting them as unmapped would only be noise. */
const SILENT = [/^(global\.)?imageRegistry$/, /^global\.imagePullSecrets$/, /^global\.storageClass$/, /^clusterDomain$/, /^commonLabels$/, /^commonAnnotations$/];

/**
 * Maps `values` (a parsed values.yaml) to a spec named `name`. Unknown and unsupported keys become
 * warnings such as `values: master.count is not mapped (redis-ha runs exactly one master); ignored`.
 */
export function fromBitnami(values: Values, name: string, opts: FromBitnamiOptions = {}): FromBitnami {
  const used = new Set<string>();
  const warnings: string[] = [];
  const problems: string[] = [];
  const get = (path: string): unknown => {
    let node: unknown = values;
    for (const part of path.split('.')) node = isMapping(node) ? node[part] : undefined;
    return node;
  };
  /** The value at `path`, marking it (and everything under it) as handled. */
  const take = (path: string): unknown => {
    const value = get(path);
    if (value !== undefined) used.add(path);
    return value;
  };
  const note = (path: string, why: string): void => {
    if (get(path) === undefined) return;
    used.add(path);
    warnings.push(`values: ${path} ${why}`);
  };

  /**
   * A count or a duration: Helm passes a quoted number (`replicaCount: "5"`) through to its templates,
   * so a string of digits is read as that number (with a warning); anything else is refused.
   */
  const takeNumber = (path: string): number | undefined => {
    const value = take(path);
    if (value === undefined || value === null || typeof value === 'number') return value ?? undefined;
    if (typeof value === 'string' && /^[0-9]+$/.test(value.trim())) {
      warnings.push(`values: ${path} is the string ${JSON.stringify(value)}; read as the number ${Number(value)}`);
      return Number(value);
    }
    problems.push(`values: ${path}: must be a whole number (got ${JSON.stringify(value)})`);
    return undefined;
  };

  const spec: Values = { name };
  if (!opts.ownNames) spec.naming = 'bitnami';
  const section = (key: string): Values => (isMapping(spec[key]) ? (spec[key] as Values) : ((spec[key] = {}) as Values));
  const set = (target: Values, key: string, value: unknown): void => {
    if (value !== undefined && value !== null) target[key] = value;
  };

  // Passwords. Bitnami's Sentinel takes the same password as Redis unless auth.sentinel is false.
  const password = take('auth.password') ?? take('global.redis.password');
  if (get('auth.password') !== undefined) note('global.redis.password', 'is overridden by auth.password; ignored');
  const auth = section('auth');
  set(auth, 'existingSecret', take('auth.existingSecret'));
  set(auth, 'existingSecretPasswordKey', take('auth.existingSecretPasswordKey'));
  if (password !== undefined && password !== '' && auth.existingSecret === undefined) {
    auth.password = password;
    const sentinelSeparate = take('auth.sentinel') === false;
    if (!sentinelSeparate) auth.sentinelPassword = password;
    if (typeof password === 'string' && [...password].length < MIN_PASSWORD_LENGTH) {
      auth.allowShortPasswords = true;
      warnings.push(
        `values: the password is ${[...password].length} characters; kept for compatibility (auth.allowShortPasswords: true), but redis-ha asks for ${MIN_PASSWORD_LENGTH} or more: rotate it`,
      );
    }
  } else {
    take('auth.sentinel');
  }
  if (auth.existingSecret !== undefined)
    warnings.push(
      `values: auth.existingSecret ${String(auth.existingSecret)} must also hold the keys sentinel-password, replication-password, sentinel-user-password, exporter-password and operator-password (redis-ha gives every component its own ACL user)`,
    );
  if (take('auth.enabled') === false) warnings.push('values: auth.enabled: false is not supported (redis-ha always requires a password); a password is generated');
  if (Object.keys(auth).length === 0) delete spec.auth;

  // Topology. In sentinel mode every Bitnami node pod also runs a Sentinel.
  const sentinelEnabled = take('sentinel.enabled');
  if (sentinelEnabled === false) warnings.push('values: sentinel.enabled: false is not supported (redis-ha always runs Sentinels); Sentinels are added');
  const architecture = take('architecture');
  if (architecture === 'standalone') warnings.push('values: architecture: standalone is not supported (redis-ha runs a master with replicas); rendering replication');
  const count = takeNumber('replica.replicaCount') ?? takeNumber('slave.replicaCount');
  if (count !== undefined) {
    if (sentinelEnabled === true) {
      spec.replicas = Math.max(0, count - 1);
      spec.sentinels = Math.max(1, count);
    } else spec.replicas = count;
  }
  note('master.count', 'is not mapped (redis-ha runs exactly one master); ignored');
  set(spec, 'quorum', takeNumber('sentinel.quorum'));
  const sentinel = section('sentinel');
  set(sentinel, 'downAfterMilliseconds', takeNumber('sentinel.downAfterMilliseconds'));
  set(sentinel, 'failoverTimeout', takeNumber('sentinel.failoverTimeout'));
  set(sentinel, 'parallelSyncs', takeNumber('sentinel.parallelSyncs'));
  // The master set apps ask the Sentinels for: the chart's (mymaster by default, from naming: bitnami).
  const masterSet = take('sentinel.masterSet');
  if (masterSet !== undefined && masterSet !== '') {
    if (opts.ownNames) warnings.push(`values: sentinel.masterSet is not mapped with --own-names (the master set is redis-ha-${name}); ignored`);
    else sentinel.masterName = masterSet;
  }
  if (Object.keys(sentinel).length === 0) delete spec.sentinel;

  // Persistence: on when either side had it on (Bitnami's default is on; ours is off, it is a cache).
  const persistence = section('persistence');
  for (const side of ['master', 'replica', 'slave']) {
    const enabled = take(`${side}.persistence.enabled`);
    if (enabled === true) persistence.enabled = true;
    else if (enabled === false && persistence.enabled === undefined) persistence.enabled = false;
    set(persistence, 'size', take(`${side}.persistence.size`));
    set(persistence, 'storageClass', take(`${side}.persistence.storageClass`) || undefined);
  }
  if (Object.keys(persistence).length === 0) delete spec.persistence;

  // Services.
  const services = section('services');
  const service = (from: string, to: string): void => {
    const out: Values = {};
    set(out, 'type', take(`${from}.service.type`));
    set(out, 'annotations', take(`${from}.service.annotations`));
    const ranges = take(`${from}.service.loadBalancerSourceRanges`);
    if (Array.isArray(ranges) && ranges.length) out.loadBalancerSourceRanges = ranges;
    set(out, 'externalTrafficPolicy', take(`${from}.service.externalTrafficPolicy`));
    if (Object.keys(out).length) services[to] = { ...(services[to] as Values | undefined), ...out };
  };
  service('master', 'master');
  service('slave', 'replicas');
  service('replica', 'replicas');
  service('sentinel', 'sentinel');
  if (Object.keys(services).length === 0) delete spec.services;

  // Clients outside the cluster: a load balancer per node, whose address the node announces.
  const external = take('sentinel.externalAccess.enabled');
  if (external !== undefined && typeof external !== 'boolean') problems.push(`values: sentinel.externalAccess.enabled: must be true or false (got ${JSON.stringify(external)})`);
  if (external === true) {
    const access: Values = { enabled: true };
    const type = take('sentinel.externalAccess.service.type');
    if (type !== undefined && type !== 'LoadBalancer')
      problems.push(`values: sentinel.externalAccess.service.type: redis-ha exposes each node through a LoadBalancer Service (got ${JSON.stringify(type)}); set LoadBalancer`);
    const ips = take('sentinel.externalAccess.service.loadBalancerIP') ?? take('sentinel.externalAccess.service.loadBalancerIPs');
    if (ips !== undefined) access.addresses = ips;
    const svc: Values = {};
    set(svc, 'annotations', take('sentinel.externalAccess.service.annotations'));
    const ranges = take('sentinel.externalAccess.service.loadBalancerSourceRanges');
    if (Array.isArray(ranges) && ranges.length) svc.loadBalancerSourceRanges = ranges;
    set(svc, 'externalTrafficPolicy', take('sentinel.externalAccess.service.externalTrafficPolicy'));
    if (Object.keys(svc).length) access.service = svc;
    for (const port of ['redisPort', 'sentinelPort'])
      note(`sentinel.externalAccess.service.${port}`, 'is not mapped (each node is exposed on 6379; the Sentinels through the sentinel Service on 26379); ignored');
    spec.externalAccess = access;
  }

  // Metrics.
  const metrics = section('metrics');
  set(metrics, 'enabled', take('metrics.enabled'));
  const sm: Values = {};
  set(sm, 'enabled', take('metrics.serviceMonitor.enabled'));
  set(sm, 'namespace', take('metrics.serviceMonitor.namespace') || undefined);
  set(sm, 'interval', take('metrics.serviceMonitor.interval') || undefined);
  set(sm, 'labels', take('metrics.serviceMonitor.additionalLabels'));
  if (Object.keys(sm).length) metrics.serviceMonitor = sm;
  const pr: Values = {};
  set(pr, 'enabled', take('metrics.prometheusRule.enabled'));
  set(pr, 'namespace', take('metrics.prometheusRule.namespace') || undefined);
  set(pr, 'labels', take('metrics.prometheusRule.additionalLabels'));
  note('metrics.prometheusRule.rules', "is not mapped (redis-ha renders its own alerts); ignored");
  if (Object.keys(pr).length) metrics.prometheusRule = pr;
  if (Object.keys(metrics).length === 0) delete spec.metrics;

  // Resources, scheduling, policies.
  const resources = section('resources');
  for (const [from, to] of [['master', 'redis'], ['replica', 'redis'], ['sentinel', 'sentinel'], ['metrics', 'exporter']] as const) {
    const r = take(`${from}.resources`);
    if (isMapping(r) && Object.keys(r).length) resources[to] = r;
  }
  if (Object.keys(resources).length === 0) delete spec.resources;
  const scheduling = section('scheduling');
  set(scheduling, 'nodeSelector', take('master.nodeSelector') ?? take('replica.nodeSelector'));
  // In sentinel mode the chart's pods are replica.*'s; a full values file (helm get values --all) has
  // both lists, empty by default: the first that is not empty counts.
  const nonEmpty = (path: string) => Array.isArray(get(path)) && (get(path) as unknown[]).length > 0;
  const tolerationsAt = nonEmpty('replica.tolerations') || !nonEmpty('master.tolerations') ? 'replica.tolerations' : 'master.tolerations';
  for (const path of ['replica.tolerations', 'master.tolerations']) if (path !== tolerationsAt && Array.isArray(get(path)) && !nonEmpty(path)) take(path);
  const tolerations = take(tolerationsAt);
  if (Array.isArray(tolerations) && tolerations.length) {
    const taints: string[] = [];
    for (const t of tolerations as Values[]) {
      // A toleration as kubectl taint writes the taint it tolerates (spec.scheduling.tolerations).
      if (typeof t?.key !== 'string' || t.key === '') {
        problems.push(`values: ${tolerationsAt}: a toleration without a key (tolerating every taint) has no redis-ha form; name the taints to tolerate`);
        continue;
      }
      if (t.tolerationSeconds !== undefined)
        warnings.push(`values: ${tolerationsAt}: tolerationSeconds of ${t.key} is not mapped (a StatefulSet pod on a lost node is not replaced before the node is gone, whatever it says); ignored`);
      taints.push(`${t.key}${t.operator === 'Exists' ? '' : `=${String(t.value ?? '')}`}${typeof t.effect === 'string' && t.effect ? `:${t.effect}` : ''}`);
    }
    set(scheduling, 'tolerations', taints);
  }
  set(scheduling, 'priorityClassName', take('master.priorityClassName') || take('replica.priorityClassName') || undefined);
  if (Object.keys(scheduling).length === 0) delete spec.scheduling;
  const np = take('networkPolicy.enabled');
  if (typeof np === 'boolean') spec.networkPolicy = { enabled: np };
  const pdb = take('pdb.create') ?? take('master.pdb.create') ?? take('replica.pdb.create');
  if (typeof pdb === 'boolean') spec.podDisruptionBudget = { enabled: pdb };

  for (const key of ['image', 'sentinel.image', 'metrics.image'])
    note(key, 'is not mapped (redis-ha runs the official images, version-pinned; see the image and metrics.image fields); ignored');

  for (const leaf of leaves(values)) {
    const handled = [...used].some((path) => leaf === path || leaf.startsWith(`${path}.`));
    if (!handled && !SILENT.some((re) => re.test(leaf))) warnings.push(`values: ${leaf} is not mapped; ignored`);
  }
  if (problems.length) throw new SpecError(problems);
  return { input: spec, warnings };
}
