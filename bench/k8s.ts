/**
 * A RedisHA on a real cluster, driven from the host: reads through the API server, Redis and Sentinel
 * through ClusterIPs and pod IPs (reachable from the node, as on the test bed), and the failover
 * measurement of `redis-ha bench failover --k8s` and test/e2e-k8s.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, loadKubeConfig } from '../src/kubernetes/client.ts';
import { COMPONENT_LABEL, MASTER_POD_LABEL, REDIS_PORT, SECRET_KEYS, SENTINEL_PORT, TLS_KEYS, namesOf, passwordKeyOf } from '../src/kubernetes/render/index.ts';
import type { RedisHAResource } from '../src/kubernetes/reconcile.ts';
import { percentile } from './failover.ts';
import { AckedWriter, type WriterTarget } from './writer.ts';
import { CRASH_FAILOVER_ANNOTATION } from '../src/kubernetes/pods.ts';
import { parseFlags, parseFlatRecords, parseInfo } from '../src/redis/parse.ts';
import { talksTo } from '../src/topology/observe.ts';

export interface PodInfo {
  readonly name: string;
  readonly ip?: string;
  readonly labels: Record<string, string>;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly uid: string;
}

interface PodObject {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
}

/** A target for `ask`: an address, credentials and, for a TLS deployment, Node's TLS options. */
export interface AskTarget {
  readonly host: string;
  readonly port: number;
  readonly password: string;
  readonly username?: string;
  readonly tls?: ConnectionOptions;
}

/** One RedisHA resource seen from the host. */
export class ClusterDeployment {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly name: string;
  names: ReturnType<typeof namesOf>;
  /** The Secret holding the passwords, and the application password's key in it. */
  #auth: { secret: string; passwordKey: string };
  #tls?: Promise<{ ca: string; cert: string; key: string } | undefined>;

  /** A deployment named as this project names things; `open` reads the resource for its own names. */
  constructor(kubeconfig: string | KubeConfig, namespace: string, name: string) {
    this.client = new KubeClient(typeof kubeconfig === 'string' ? loadKubeConfig(kubeconfig) : kubeconfig);
    this.namespace = namespace;
    this.name = name;
    this.names = namesOf({ name });
    this.#auth = { secret: this.names.secret, passwordKey: SECRET_KEYS.password };
  }

  /** The deployment of a RedisHA, with the names its spec gives (naming: bitnami, sentinel.masterName, auth.existingSecret). */
  static async open(kubeconfig: string | KubeConfig, namespace: string, name: string): Promise<ClusterDeployment> {
    const d = new ClusterDeployment(kubeconfig, namespace, name);
    const spec = (await d.resource()).spec ?? {};
    const auth = (spec.auth ?? {}) as { existingSecret?: string; existingSecretPasswordKey?: string };
    const named = { name, ...(spec.naming === 'bitnami' ? { naming: 'bitnami' as const } : {}), sentinel: spec.sentinel as { masterName?: string } | undefined } as Parameters<typeof namesOf>[0];
    d.names = namesOf(named);
    d.#auth = { secret: auth.existingSecret ?? d.names.secret, passwordKey: passwordKeyOf({ auth: auth as never, ...(spec.naming === 'bitnami' ? { naming: 'bitnami' as const } : {}) }) };
    return d;
  }

  /** The RedisHA resource's API path. */
  get resourcePath(): string {
    return `/apis/redis-ha.io/v1alpha1/namespaces/${this.namespace}/redishas/${this.name}`;
  }

  resource(): Promise<RedisHAResource> {
    return this.client.get<RedisHAResource>(this.resourcePath);
  }

  async pods(component: 'redis' | 'sentinel'): Promise<PodInfo[]> {
    const list = await this.client.get<{ items: PodObject[] }>(`/api/v1/namespaces/${this.namespace}/pods`, { labelSelector: `app.kubernetes.io/instance=${this.name},${COMPONENT_LABEL}=${component}` });
    return list.items
      .map((p) => ({
        name: p.metadata.name,
        uid: p.metadata.uid,
        ...(p.status?.podIP ? { ip: p.status.podIP } : {}),
        labels: p.metadata.labels ?? {},
        ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        terminating: p.metadata.deletionTimestamp !== undefined,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async clusterIP(service: string): Promise<string> {
    return (await this.client.get<{ spec: { clusterIP: string } }>(`/api/v1/namespaces/${this.namespace}/services/${service}`)).spec.clusterIP;
  }

  async secret(key: string): Promise<string> {
    const s = await this.client.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${this.namespace}/secrets/${this.#auth.secret}`);
    return Buffer.from(s.data[key] ?? '', 'base64').toString('utf8');
  }

  password(): Promise<string> {
    return this.secret(this.#auth.passwordKey);
  }

  /**
   * The deployment's certificate Secret (CA, certificate and key), read through the API as the
   * operator does, when its spec turns TLS on; undefined otherwise, and for plain manifests (no RedisHA
   * resource: this reads no rendered spec). Read once.
   */
  certificate(): Promise<{ ca: string; cert: string; key: string } | undefined> {
    this.#tls ??= (async () => {
      const resource = await this.client.find<RedisHAResource>(this.resourcePath);
      const tls = resource?.spec?.tls as { enabled?: boolean; secretName?: string } | undefined;
      if (!tls?.enabled) return undefined;
      const s = await this.client.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${this.namespace}/secrets/${tls.secretName ?? `${this.name}-tls`}`);
      const value = (key: string) => Buffer.from(s.data[key] ?? '', 'base64').toString('utf8');
      return { ca: value(TLS_KEYS.ca), cert: value(TLS_KEYS.cert), key: value(TLS_KEYS.key) };
    })();
    return this.#tls;
  }

  /**
   * Node's TLS options to reach `name` (a pod such as `shop-redis-0`, or a Service such as
   * `shop-master`) by its IP while verifying the name the certificate carries for it; undefined
   * without TLS. Presents the certificate too, so it works when the pods require client certificates.
   */
  async tlsTo(name: string): Promise<ConnectionOptions | undefined> {
    const c = await this.certificate();
    if (!c) return undefined;
    const pod = new RegExp(`^${this.name}-(redis|sentinel)-\\d+$`).test(name);
    const servername = pod ? `${name}.${this.names.headless}.${this.namespace}.svc` : `${name}.${this.namespace}.svc`;
    return { ca: c.ca, cert: c.cert, key: c.key, servername };
  }

  /** `ask`'s target for a pod or Service by name, at `host` (its IP): TLS options added when the deployment serves TLS. */
  async target(name: string, host: string, port: number, password: string): Promise<AskTarget> {
    const tls = await this.tlsTo(name);
    return { host, port, password, ...(tls ? { tls } : {}) };
  }

  sentinelPassword(): Promise<string> {
    return this.secret(SECRET_KEYS.sentinelPassword);
  }

  /** True when the resource's Ready condition is True for its current generation. */
  async ready(): Promise<boolean> {
    const cr = await this.resource();
    const c = cr.status?.conditions?.find((x) => x.type === 'Ready');
    return c?.status === 'True' && cr.status?.observedGeneration === cr.metadata.generation;
  }

  /** Waits until Ready (see `ready`), at most `timeoutMs`; throws naming the last status problem. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        const cr = await this.resource().catch(() => undefined);
        const c = cr?.status?.conditions?.find((x) => x.type === 'Ready');
        const condition = c ? `Ready ${c.status} (${c.reason}: ${c.message}), observed generation ${cr?.status?.observedGeneration} of ${cr?.metadata.generation}` : 'no Ready condition';
        throw new Error(`RedisHA ${this.namespace}/${this.name} not Ready within ${timeoutMs} ms: ${condition}; ${cr?.status?.problems?.join('; ') || 'no problems listed'}`);
      }
      await sleep(500);
    }
  }

  /**
   * Waits until the resource is Ready, its status names the master the Sentinels name, and that pod
   * alone carries the master label: a Ready condition written before a fault is not enough.
   */
  async waitSettled(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const [cr, sentinelMaster, pods] = await Promise.all([this.resource(), this.sentinelMasterPod(), this.pods('redis')]);
        const labelled = pods.filter((p) => p.labels[MASTER_POD_LABEL] === 'master').map((p) => p.name);
        const ready = cr.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True' && cr.status?.observedGeneration === cr.metadata.generation;
        last = `Ready ${ready}, status master ${cr.status?.masterPod}, Sentinels' master ${sentinelMaster}, labelled ${labelled.join(',') || 'none'}, pods ready ${pods.filter((p) => p.ready).length}/${pods.length}`;
        if (ready && sentinelMaster && cr.status?.masterPod === sentinelMaster && labelled.length === 1 && labelled[0] === sentinelMaster && pods.every((p) => p.ready && !p.terminating)) return sentinelMaster;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`RedisHA ${this.namespace}/${this.name} did not settle within ${timeoutMs} ms: ${last}`);
      await sleep(500);
    }
  }

  /** What each Sentinel pod names as master, as a pod name (undefined: no answer), in pod order. */
  async sentinelsName(): Promise<(string | undefined)[]> {
    const password = await this.sentinelPassword();
    return Promise.all((await this.pods('sentinel')).map(async (p) => {
      const reply = p.ip ? await ask(await this.target(p.name, p.ip, SENTINEL_PORT, password), 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.names.group).catch(() => undefined) : undefined;
      return Array.isArray(reply) ? String(reply[0]).split('.')[0] : undefined;
    }));
  }

  /**
   * Waits until every Sentinel names one master, that master has `replicas` replicas online, and every
   * Sentinel sees them (for plain manifests, which have no status to wait on); returns the master pod, or
   * throws with what was seen last. A Sentinel learns the replicas from the master's INFO, every 10 s:
   * a master killed before that is never failed over (fenced, it lists no replica; seen in
   * e2e-plain-crash: every Sentinel aborted with no good replica for 90 s).
   */
  async waitSentinelsAgree(replicas: number, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const named = await this.sentinelsName();
        const master = named[0] !== undefined && named.every((n) => n === named[0]) ? (await this.pods('redis')).find((p) => p.name === named[0]) : undefined;
        const info = master?.ip ? String(await ask(await this.target(master.name, master.ip, REDIS_PORT, await this.password()), 'INFO', 'replication').catch(() => '')) : '';
        const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
        const seen = master ? await this.replicasSeenBySentinels() : [];
        last = `the Sentinels name ${named.map((n) => n ?? '-').join(', ')}; ${master ? `${online} of ${replicas} replicas online; the Sentinels see ${seen.join(', ')} of them` : 'no one master'}`;
        if (master && online === replicas && seen.every((n) => n >= replicas)) return master.name;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`RedisHA ${this.namespace}/${this.name}: the Sentinels did not agree within ${timeoutMs} ms: ${last}; ${await this.replicationOfPods()}`);
      await sleep(500);
    }
  }

  /** How many replicas each Sentinel pod sees (lists, neither down nor disconnected), in pod order; -1 for no answer. */
  async replicasSeenBySentinels(): Promise<number[]> {
    const password = await this.sentinelPassword();
    return Promise.all((await this.pods('sentinel')).map(async (p) => {
      const reply = p.ip ? await ask(await this.target(p.name, p.ip, SENTINEL_PORT, password), 'SENTINEL', 'REPLICAS', this.names.group).catch(() => undefined) : undefined;
      return Array.isArray(reply) ? parseFlatRecords(reply).filter((r) => talksTo({ flags: parseFlags(r.get('flags')) })).length : -1;
    }));
  }

  /** Each Redis pod's replication as its INFO reports it, in one line: what a failed wait shows. */
  async replicationOfPods(): Promise<string> {
    const password = await this.password();
    const fields = ['role', 'master_host', 'master_link_status', 'master_sync_in_progress', 'master_link_down_since_seconds', 'connected_slaves', 'master_repl_offset'];
    const each = await Promise.all((await this.pods('redis')).map(async (p) => {
      if (!p.ip) return `${p.name}: no IP`;
      const info = await ask(await this.target(p.name, p.ip, REDIS_PORT, password), 'INFO', 'replication').catch((err: Error) => err);
      if (info instanceof Error) return `${p.name}: ${info.message}`;
      const kv = parseInfo(String(info));
      const slaves = [...kv].filter(([k]) => /^slave\d+$/.test(k)).map(([, v]) => v);
      return `${p.name}: ${fields.filter((f) => kv.has(f)).map((f) => `${f}=${kv.get(f)}`).join(' ')}${slaves.length ? ` [${slaves.join(' | ')}]` : ''}`;
    }));
    return `pods: ${each.join('; ')}`;
  }

  /** The master pod the Sentinels name, by asking one Sentinel pod that answers. */
  async sentinelMasterPod(): Promise<string | undefined> {
    const password = await this.sentinelPassword();
    for (const p of await this.pods('sentinel')) {
      if (!p.ip) continue;
      const reply = await ask(await this.target(p.name, p.ip, SENTINEL_PORT, password), 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.names.group).catch(() => undefined);
      if (Array.isArray(reply) && reply.length >= 1) return String(reply[0]).split('.')[0];
    }
    return undefined;
  }
}

/**
 * Pod name to IP, refreshed every `everyMs` between `start` and `stop` as pods come and go. Sentinel
 * names pods by hostname, which this host cannot resolve: `natMap` gives ioredis the pod's IP instead.
 */
export class PodIps {
  readonly ips = new Map<string, string>();
  readonly #list: () => Promise<{ name: string; ip?: string }[]>;
  readonly #everyMs: number;
  #running = false;
  #loop?: Promise<void>;

  constructor(list: () => Promise<{ name: string; ip?: string }[]>, everyMs = 300) {
    this.#list = list;
    this.#everyMs = everyMs;
  }

  async refresh(): Promise<void> {
    for (const p of await this.#list()) if (p.ip) this.ips.set(p.name, p.ip);
  }

  start(): void {
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        await this.refresh().catch(() => {});
        await sleep(this.#everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  of(pod: string): string {
    const ip = this.ips.get(pod);
    if (!ip) throw new Error(`no IP for pod ${pod}`);
    return ip;
  }

  /** ioredis's natMap: `host:port` as a Sentinel names it (a pod's hostname) to the pod's IP at that port. */
  readonly natMap = (key: string): { host: string; port: number } | null => {
    const at = key.lastIndexOf(':');
    const ip = this.ips.get(key.slice(0, at).split('.')[0]!);
    return ip ? { host: ip, port: Number(key.slice(at + 1)) } : null;
  };
}

/** An acknowledged-write writer from this host through Sentinels that name pods by hostname (`ips`). */
export function writerByPodIps(o: { target: WriterTarget; password: string; prefix: string }, ips: PodIps): AckedWriter {
  return new AckedWriter({ ...o, options: { natMap: ips.natMap, updateSentinels: false } });
}

/**
 * An acknowledged-write writer from this host that finds the master through the Sentinel Service, as
 * a Sentinel-aware application in the cluster would. `stop` stops it and the refresh of the pods' IPs.
 */
export async function sentinelWriterFromHost(d: ClusterDeployment, prefix: string): Promise<{ writer: AckedWriter; ips: ReadonlyMap<string, string>; stop: () => Promise<void> }> {
  const pods = new PodIps(async () => [...(await d.pods('redis')), ...(await d.pods('sentinel'))]);
  await pods.refresh();
  pods.start();
  const target = { masterName: d.names.group, sentinels: [{ host: await d.clusterIP(d.names.sentinelService), port: SENTINEL_PORT }], sentinelPassword: await d.sentinelPassword() };
  const writer = writerByPodIps({ target, password: await d.password(), prefix }, pods);
  return {
    writer,
    ips: pods.ips,
    async stop() {
      await writer.stop().catch(() => {});
      await pods.stop();
    },
  };
}

/** Several commands, in order, on one fresh connection (closed after); rejects on the first error. */
export async function askAll(target: AskTarget, commands: string[][]): Promise<unknown[]> {
  const c = new Redis({ ...target, lazyConnect: true, connectTimeout: 1000, commandTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => {});
  try {
    await c.connect();
    const out: unknown[] = [];
    for (const [name, ...args] of commands) out.push(await c.call(name!, ...args));
    return out;
  } finally {
    c.disconnect();
  }
}

/** One command on a fresh connection (closed after), with a short timeout. */
export async function ask(target: AskTarget, ...command: string[]): Promise<unknown> {
  const c = new Redis({ ...target, lazyConnect: true, connectTimeout: 1000, commandTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => {});
  try {
    await c.connect();
    return await c.call(command[0]!, ...command.slice(1));
  } finally {
    c.disconnect();
  }
}

export interface FailoverTrial {
  readonly from: string;
  readonly to: string;
  /** From the force delete until a write through the `-master` ClusterIP succeeded on the new master. */
  readonly masterServiceMs: number;
}

/**
 * How the master is made to fail:
 * - `force-delete`: DELETE with grace 0. The pod object goes at once, but a kubelet that is alive still
 *   runs the preStop hook (within its minimum grace of 2 s), which asks Sentinel to fail over;
 * - `kill`: SIGKILL of the master's redis-server from the node (no preStop, like a crash or an OOM
 *   kill); the kubelet then restarts the container in place. Only from the pod's node, as root.
 */
export type Fault = 'force-delete' | 'kill';

/**
 * The pid of the Redis process of the pod with `uid` on this machine (found by its cgroup, which names
 * the pod): its redis-server, or (`sentinel`) its Sentinel, which runs as redis-sentinel or as
 * redis-server --sentinel. Works where the pod runs (the test bed's node), as root.
 */
export function processOfPod(uid: string, kind: 'redis-server' | 'sentinel' = 'redis-server'): number {
  const names = kind === 'sentinel' ? ['redis-sentinel', 'redis-server'] : ['redis-server'];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (!names.includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) continue;
      if (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`pod${uid}`)) return Number(pid);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  throw new Error(`no ${kind} of pod ${uid} runs on this machine: this needs to run as root on the pod's node`);
}

/** SIGKILLs the redis-server of the pod with `uid` on this machine, as a crash would; returns its pid. */
export function killRedisOfPod(uid: string): number {
  const pid = processOfPod(uid);
  process.kill(pid, 'SIGKILL');
  return pid;
}

/**
 * Makes the master fail (`fault`) and measures until the `-master` Service routes writes to another
 * process, polling with a fresh connection every 100 ms (a new connection is what a client gets after
 * its old one broke).
 */
export async function failMaster(d: ClusterDeployment, fault: Fault = 'force-delete', timeoutMs = 120_000): Promise<FailoverTrial> {
  const from = await d.sentinelMasterPod();
  if (!from) throw new Error(`no Sentinel of RedisHA ${d.namespace}/${d.name} names a master`);
  const password = await d.password();
  const master = await d.target(d.names.master, await d.clusterIP(d.names.master), REDIS_PORT, password);
  // The dying master's process may still answer through the Service for a moment after its pod object
  // is gone, and a killed one is restarted in place (as a replica): only a write acknowledged by
  // another process (another run_id) counts.
  const oldRunId = runIdOf(String(await ask(master, 'INFO', 'server')));
  const uid = fault === 'kill' ? (await d.pods('redis')).find((p) => p.name === from)?.uid : undefined;
  if (fault === 'kill' && !uid) throw new Error(`pod ${from} not found`);
  const started = performance.now();
  if (fault === 'kill') killRedisOfPod(uid!);
  else await d.client.request('DELETE', `/api/v1/namespaces/${d.namespace}/pods/${from}`, { query: { gracePeriodSeconds: 0 } });
  const deadline = started + timeoutMs;
  for (let n = 0; ; n++) {
    const ok = await askAll(master, [['INFO', 'server'], ['SET', 'redis-ha:e2e:failover-probe', String(n)]]).then(
      ([info]) => runIdOf(String(info)) !== oldRunId,
      () => false,
    );
    if (ok) {
      const masterServiceMs = Math.round(performance.now() - started);
      const to = (await d.sentinelMasterPod()) ?? (await d.pods('redis')).find((p) => p.labels[MASTER_POD_LABEL] === 'master')?.name ?? 'unknown';
      return { from, to, masterServiceMs };
    }
    if (performance.now() > deadline) throw new Error(`the -master Service did not route writes to a new master within ${timeoutMs} ms of the ${fault} of ${from}`);
    await sleep(100);
  }
}

/** `failMaster(d, 'force-delete')`. */
export function forceDeleteMaster(d: ClusterDeployment, timeoutMs = 120_000): Promise<FailoverTrial> {
  return failMaster(d, 'force-delete', timeoutMs);
}

function runIdOf(info: string): string {
  return /run_id:(\w+)/.exec(info)?.[1] ?? '';
}

/** One way of running the trial: the fault, the operator's crash rule on or off, the replacement pod able to start or not. */
export interface FailoverCase {
  readonly fault: Fault;
  /** `off`: the RedisHA carries `redis-ha.io/crash-failover: "off"`, so nothing is known of the dead pod but what the network says. */
  readonly crashRule: 'on' | 'off';
  /** `blocked`: every node is cordoned for the trial, so the replacement pod stays Pending (it cannot start; force-delete only). */
  readonly replacement: 'starts' | 'blocked';
}

export interface Distribution {
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly max: number;
  readonly values: number[];
}

function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p95: percentile(sorted, 95), max: sorted.at(-1) ?? Number.NaN, values };
}

export interface K8sFailoverResult {
  readonly benchmark: 'failover-k8s';
  readonly resource: string;
  readonly trials: number;
  /** Sentinel's down-after-milliseconds for the master group, as a Sentinel reports it. */
  readonly downAfterMilliseconds: number;
  /** The operator as shipped, force delete, the replacement starts: the figure of earlier versions of this benchmark. */
  readonly masterServiceMs: Distribution;
  /** Each case, its trials interleaved with the others' in the same run: the crash rule off is the baseline. */
  readonly cases: (FailoverCase & { readonly masterServiceMs: Distribution; readonly runs: FailoverTrial[] })[];
  readonly runs: FailoverTrial[];
}

/** Sets (`off`) or removes (`on`) the annotation that turns the operator's crash rule off for this resource. */
async function setCrashRule(d: ClusterDeployment, rule: 'on' | 'off'): Promise<void> {
  await d.client.request('PATCH', d.resourcePath, {
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { [CRASH_FAILOVER_ANNOTATION]: rule === 'off' ? 'off' : null } } },
  });
}

/** Cordons every schedulable node; returns the ones it cordoned, for `uncordon`. */
async function cordonAll(d: ClusterDeployment): Promise<string[]> {
  const nodes = await d.client.get<{ items: { metadata: { name: string }; spec?: { unschedulable?: boolean } }[] }>('/api/v1/nodes');
  const cordoned: string[] = [];
  for (const n of nodes.items) {
    if (n.spec?.unschedulable) continue;
    await d.client.request('PATCH', `/api/v1/nodes/${n.metadata.name}`, { contentType: 'application/merge-patch+json', body: { spec: { unschedulable: true } } });
    cordoned.push(n.metadata.name);
  }
  return cordoned;
}

async function uncordon(d: ClusterDeployment, nodes: readonly string[]): Promise<void> {
  for (const n of nodes) await d.client.request('PATCH', `/api/v1/nodes/${n}`, { contentType: 'application/merge-patch+json', body: { spec: { unschedulable: null } } });
}

/** Sentinel's down-after for the group, from the first Sentinel that answers. */
async function downAfterOf(d: ClusterDeployment): Promise<number> {
  const password = await d.sentinelPassword();
  for (const p of await d.pods('sentinel')) {
    if (!p.ip) continue;
    const reply = await ask(await d.target(p.name, p.ip, SENTINEL_PORT, password), 'SENTINEL', 'MASTER', d.names.group).catch(() => undefined);
    if (!Array.isArray(reply)) continue;
    const i = reply.indexOf('down-after-milliseconds');
    if (i >= 0) return Number(reply[i + 1]);
  }
  return Number.NaN;
}

/**
 * One force delete of the master in `c`'s conditions: the crash rule set as `c` says, the resource
 * settled, then (for `blocked`) every node cordoned until the -master Service has moved.
 */
export async function failoverTrial(d: ClusterDeployment, c: FailoverCase): Promise<FailoverTrial> {
  await setCrashRule(d, c.crashRule);
  await d.waitSettled(240_000);
  const cordoned = c.replacement === 'blocked' ? await cordonAll(d) : [];
  try {
    return await failMaster(d, c.fault);
  } finally {
    await uncordon(d, cordoned);
  }
}

/**
 * `redis-ha bench failover --k8s`: `trials` force-deletes of the master per case, Ready again between
 * them, the cases interleaved: the crash rule on and off (the baseline: Sentinel's down-after, or the
 * replacement pod starting as a replica, whichever comes first), and with `blocked` the same two with a
 * replacement that cannot start.
 */
export async function benchK8sFailover(o: { kubeconfig: string | KubeConfig; namespace: string; name: string; trials: number; blocked?: boolean; kill?: boolean; log: (line: string) => void }): Promise<K8sFailoverResult> {
  const d = await ClusterDeployment.open(o.kubeconfig, o.namespace, o.name);
  const pair = (fault: Fault, replacement: FailoverCase['replacement']): FailoverCase[] => [{ fault, crashRule: 'on', replacement }, { fault, crashRule: 'off', replacement }];
  const cases: FailoverCase[] = [
    ...pair('force-delete', 'starts'),
    ...(o.blocked ? pair('force-delete', 'blocked') : []),
    ...(o.kill ? pair('kill', 'starts') : []),
  ];
  const runs = cases.map(() => [] as FailoverTrial[]);
  const downAfterMilliseconds = await downAfterOf(d);
  try {
    for (let i = 0; i < o.trials; i++) {
      for (const [k, c] of cases.entries()) {
        const run = await failoverTrial(d, c);
        o.log(`trial ${i + 1}/${o.trials}, ${c.fault}, crash rule ${c.crashRule}, replacement ${c.replacement}: ${run.from} -> ${run.to}: -master Service routed writes after ${run.masterServiceMs} ms`);
        runs[k]!.push(run);
      }
    }
  } finally {
    await setCrashRule(d, 'on');
  }
  await d.waitSettled(240_000);
  const shipped = runs[0]!;
  return {
    benchmark: 'failover-k8s',
    resource: `${o.namespace}/${o.name}`,
    trials: o.trials,
    downAfterMilliseconds,
    masterServiceMs: distribution(shipped.map((r) => r.masterServiceMs)),
    cases: cases.map((c, k) => ({ ...c, masterServiceMs: distribution(runs[k]!.map((r) => r.masterServiceMs)), runs: runs[k]! })),
    runs: shipped,
  };
}
