// The brief's deployment as its user runs it, end to end on the test bed (testbed/up): the Bitnami values
// file of ../shared/seed (plus sentinel.externalAccess, for apps outside the cluster) rendered with
// `render --from-bitnami`, applied with kubectl, once as plain manifests with no operator and once as a
// RedisHA resource under the operator. Every check runs from an application's network namespace
// (testbed/client-netns) that reaches only the load balancers' addresses (MetalLB): no cluster DNS,
// no pod network, no ClusterIP. The names are the chart's: the Secret `redis` with `redis-password`,
// the master set `mymaster`, the Service `redis` on 6379/26379. The render, apply, password and redis-cli
// commands are built from the lines the README's first Kubernetes section shows (README_K8S, test/readme-kubernetes.ts).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { eventually } from './helpers.ts';
import { ask } from '../bench/k8s.ts';
import { SERVICE_MONITOR_CRD } from './k8s-schemas.ts';
import { EXPORTER_IMAGE, OPERATOR_IMAGE, REDIS_IMAGE, REPO, dropNamespace, freshNamespace, installOperator, kubeconfig, kubectl, redisHa } from './testbed-kube.ts';
import { parseFlatRecord, parseInfo } from '../src/redis/parse.ts';
import { README_K8S, commandArgs, pipelineStages } from './readme-kubernetes.ts';

const run = promisify(execFile);
const RELEASE = 'redis';
const PASSWORD = 'blablacar';

/**
 * The values file the README shows (examples/bitnami-values.yaml: the brief's, plus one load balancer
 * per node for apps outside the cluster) with the test bed's load balancer addresses.
 */
function briefValues(addresses: string[]): string {
  const values = parse(readFileSync(join(REPO, 'examples/bitnami-values.yaml'), 'utf8')) as Record<string, any>;
  const seed = parse(readFileSync(join(REPO, 'src/kubernetes/render/testdata/bitnami-brief.yaml'), 'utf8')) as Record<string, any>;
  const { externalAccess, ...sentinel } = values.sentinel;
  assert.deepEqual({ ...values, sentinel }, seed, "the example is the brief's values file plus sentinel.externalAccess");
  externalAccess.service.loadBalancerIP = addresses;
  return stringify(values);
}

/** What the test bed needs on top: its images, small pods, and the fast Sentinel profile (down-after 2 s). */
const TESTBED_OVERRIDES = `
image: {repository: ${REDIS_IMAGE.repository}, tag: "${REDIS_IMAGE.tag}", pullPolicy: Never, allowUnpatched: true}
metrics: {image: "${EXPORTER_IMAGE}"}
endpoint: {image: "${OPERATOR_IMAGE}"}
sentinel: {profile: fast, downAfterMilliseconds: 2000}
resources:
  redis: {requests: {cpu: 50m, memory: 48Mi}, limits: {memory: 192Mi}}
  sentinel: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}
  exporter: {requests: {cpu: 5m, memory: 16Mi}, limits: {memory: 48Mi}}
`;

/** The application's network namespace: it reaches the load balancers' addresses and nothing else. */
async function clientNetns(): Promise<string> {
  const { stdout } = await run(join(REPO, 'testbed/client-netns'));
  return stdout.trim().split('\n').at(-1)!;
}

/**
 * redis-cli run from the application's namespace; the password travels in REDISCLI_AUTH. Its output is not a
 * terminal, so redis-cli prints replies raw (as --raw would): what the README's lines print into a pipe.
 */
async function cliOutside(netns: string, args: string[]): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', netns, 'redis-cli', ...args], { env: { ...process.env, REDISCLI_AUTH: PASSWORD }, timeout: 20_000 });
  return stdout.trim();
}

/** Resolves once the namespace runs exactly `count` pods, every one Ready; the error names those that are not. */
async function allPodsReady(namespace: string, count: number, what: string, timeoutMs = 300_000): Promise<void> {
  let last = '';
  try {
    await eventually(what, timeoutMs, async () => {
      const all = await pods(namespace);
      last = all.filter((p) => !isReady(p)).map((p) => `${p.metadata.name} ${JSON.stringify(p.status.conditions ?? [])}`).join('; ');
      return all.length === count && all.every(isReady) ? true : undefined;
    });
  } catch (err) {
    // What the pods said last: the redis and sentinel containers' logs (a failure in CI leaves nothing else).
    const logs: string[] = [];
    for (const p of await pods(namespace).catch(() => [])) {
      for (const c of ['redis', 'sentinel']) {
        const tail = await kubectl(['-n', namespace, 'logs', p.metadata.name, '-c', c, '--tail', '12']).catch(() => '');
        if (tail.trim()) logs.push(`--- ${p.metadata.name}/${c}:\n${tail.trim()}`);
      }
    }
    throw new Error(`${(err as Error).message}; not ready: ${last || 'none (a different number of pods)'}\n${logs.join('\n')}`);
  }
}

/** The address a LoadBalancer Service got, once it has one. */
async function loadBalancerAddress(namespace: string, service: string): Promise<string> {
  return eventually(`an address for the LoadBalancer Service ${namespace}/${service}`, 120_000, async () => {
    const ip = (await kubectl(['-n', namespace, 'get', 'service', service, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim();
    return ip || undefined;
  });
}

interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  status: { podIP?: string; conditions?: { type: string; status: string }[] };
}

async function pods(namespace: string): Promise<Pod[]> {
  return (JSON.parse(await kubectl(['-n', namespace, 'get', 'pods', '-o', 'json'])) as { items: Pod[] }).items;
}
const isReady = (p: Pod) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** Lines of JSON from the outside writer, awaited one event at a time. */
class OutsideWriter {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  stderr = '';

  constructor(netns: string, config: Record<string, string>) {
    this.#child = spawn('ip', ['netns', 'exec', netns, process.execPath, join(REPO, 'test/fixtures/outside-writer.ts')], {
      env: { ...process.env, OUTSIDE_WRITER: JSON.stringify(config), REDIS_PASSWORD: PASSWORD, SENTINEL_PASSWORD: PASSWORD },
    });
    this.#child.stderr.on('data', (d) => (this.stderr += d));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async next(event: string, timeoutMs = 120_000): Promise<Record<string, any>> {
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    try {
      const { value, done } = await this.#lines.next();
      if (done) throw new Error(`the outside writer ended before "${event}": ${this.stderr}`);
      const message = JSON.parse(value) as Record<string, any>;
      assert.equal(message.event, event, value);
      return message;
    } finally {
      clearTimeout(timer);
    }
  }

  async ask(command: string, event: string): Promise<Record<string, any>> {
    this.#child.stdin.write(`${command}\n`);
    return this.next(event);
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

/**
 * The brief's checklist from outside the cluster, then the master pod force-deleted under both writers.
 * `expectPods`: every pod the deployment runs (3 Redis, 3 Sentinels, and the endpoint's without the operator).
 */
async function briefChecklist(t: TestContext, o: { namespace: string; addresses: string[]; netns: string; expectPods: number; appliedAt: number }): Promise<void> {
  const { namespace, addresses, netns } = o;
  // The README's password line: its kubectl stage here, its `base64 -d` stage in Buffer.
  assert.deepEqual(pipelineStages(README_K8S.password.line).slice(1), [['base64', '-d']]);
  const secret = (await kubectl(commandArgs(README_K8S.password, 'kubectl', { cache: namespace }))).trim();
  assert.equal(Buffer.from(secret, 'base64').toString(), PASSWORD, "the password is where the chart's users read it");

  const [masterLB, replicasLB, sentinelLB] = await Promise.all([`${RELEASE}-master`, `${RELEASE}-replicas`, RELEASE].map((s) => loadBalancerAddress(namespace, s)));
  /** The README's redis-cli lines name the load balancers by these variables. */
  const lbs = { $MASTER_LB: masterLB, $REPLICAS_LB: replicasLB, $SENTINEL_LB: sentinelLB };
  await allPodsReady(namespace, o.expectPods, 'every pod Ready');
  // The user's first check: a write through the master load balancer.
  await eventually('a write through the master load balancer', 120_000, async () => ((await cliOutside(netns, commandArgs(README_K8S.write, 'redis-cli', lbs))) === 'OK' ? true : undefined));
  t.diagnostic(`kubectl apply to a write acknowledged through the master load balancer from outside: ${Math.round(performance.now() - o.appliedAt)} ms`);

  assert.equal(await cliOutside(netns, ['-h', masterLB, 'WAIT', '2', '5000']), '2');
  // The endpoint's replicas port admits a replica once a majority of the Sentinels answer it, which can
  // take the Sentinel pods' first seconds (their names resolve once they run).
  const [read, role] = await eventually('a read through the replicas load balancer', 30_000, async () =>
    Promise.all([cliOutside(netns, commandArgs(README_K8S.read, 'redis-cli', lbs)), cliOutside(netns, ['-h', replicasLB, 'ROLE'])]));
  assert.equal(read, 'hello');
  assert.equal(role.split('\n')[0], 'slave', 'the replicas load balancer reaches a replica');
  const replication = parseInfo(await cliOutside(netns, commandArgs(README_K8S.replication, 'redis-cli', lbs)));
  assert.equal(replication.get('role'), 'master');
  assert.equal(replication.get('connected_slaves'), '2');

  // Sentinel, as the brief says writers should use it: through its load balancer, the chart's master set.
  const [host, port] = (await cliOutside(netns, commandArgs(README_K8S.sentinelMaster, 'redis-cli', lbs))).split('\n');
  assert.ok(addresses.includes(host!), `Sentinel names ${host}, one of the addresses the pods announce`);
  assert.equal(port, '6379');
  assert.equal((await cliOutside(netns, ['-h', host!, 'ROLE'])).split('\n')[0], 'master', 'the master Sentinel names is reachable from outside');
  // A Sentinel learns the replicas from the master's INFO (every 10 s) and its peers from their hellos (every 2 s).
  const seen = await eventually('the Sentinel behind the load balancer seeing 2 replicas and 2 other Sentinels', 30_000, async () => {
    const m = parseFlatRecord((await cliOutside(netns, commandArgs(README_K8S.sentinelGroup, 'redis-cli', lbs))).split('\n'));
    return m.get('num-slaves') === '2' && m.get('num-other-sentinels') === '2' ? m : undefined;
  });
  assert.equal(seen.get('flags'), 'master');
  // Every Sentinel, not only the one behind the load balancer, knows both replicas with their link up:
  // right after a fresh start a forced failover was refused with NOGOODSLAVE (the operator variant in
  // CI, the master pod force-deleted 3 s after the deployment became healthy), and the fault below is
  // about a deployment in service. Asked from the host, at the Sentinel pods' own addresses.
  await eventually('every Sentinel listing both replicas, linked', 60_000, async () => {
    const sentinels = (await pods(namespace)).filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'sentinel' && p.status.podIP);
    if (sentinels.length !== 3) return undefined;
    for (const p of sentinels) {
      const replicas = (await ask({ host: p.status.podIP!, port: 26379, password: PASSWORD }, 'SENTINEL', 'REPLICAS', 'mymaster')) as string[][];
      const fit = replicas.map((r) => parseFlatRecord(r)).filter((r) => r.get('flags') === 'slave' && r.get('master-link-status') === 'ok');
      if (fit.length !== 2) return undefined;
    }
    return true;
  });
  assert.equal(await cliOutside(netns, ['-h', sentinelLB, 'PING']), 'PONG', "the chart's tcp-redis port reaches a Redis node");

  // The master pod force-deleted under an ioredis Sentinel client and a master load balancer client.
  const writer = new OutsideWriter(netns, { sentinel: `${sentinelLB}:26379`, masterName: 'mymaster', master: `${masterLB}:6379`, prefix: `brief:${namespace}` });
  try {
    await writer.next('ready');
    await writer.ask('mark', 'marked');
    // The master now, as the fault is made: a roll or a switchover since the checks above may have
    // moved it (a CI run deleted a pod that was a replica by then: no failover, a 63 ms gap).
    const [now] = (await cliOutside(netns, ['-h', sentinelLB, '-p', '26379', 'SENTINEL', 'get-master-addr-by-name', 'mymaster'])).split('\n');
    assert.equal((await cliOutside(netns, ['-h', now!, 'ROLE'])).split('\n')[0], 'master', `the master the Sentinels name (${now}) answers as master`);
    if (now !== host) t.diagnostic(`the master moved from ${host} to ${now} before the fault`);
    const masterPod = `${RELEASE}-redis-${addresses.indexOf(now!)}`;
    await kubectl(['-n', namespace, 'delete', 'pod', masterPod, '--grace-period=0', '--force']);
    await eventually('50 writes acknowledged through each client after the master pod was deleted', 120_000, async () => {
      const c = await writer.ask('count', 'count');
      return c.sentinel >= 50 && c.master >= 50 ? true : undefined;
    });
    await allPodsReady(namespace, o.expectPods, 'every pod Ready again');
    const result = await writer.ask('stop', 'result');
    t.diagnostic(`failover seen from outside: ${JSON.stringify(result)}`);
    assert.notEqual(result.master, `${now}:${port}`, 'the Sentinels name another master');
    assert.equal(result.sentinel.missing, 0, 'acknowledged writes lost (Sentinel client)');
    assert.equal(result.endpoint.missing, 0, 'acknowledged writes lost (master load balancer client)');
    // Exactly one master among the nodes, as seen from outside.
    const roles = await Promise.all(addresses.map(async (a) => (await cliOutside(netns, ['-h', a, 'ROLE'])).split('\n')[0]));
    assert.deepEqual(roles.filter((r) => r === 'master').length, 1, JSON.stringify(roles));
  } finally {
    writer.kill();
  }
}

const skip = kubeconfig ? false : 'no test bed: run testbed/up and set REDIS_HA_TESTBED_KUBECONFIG to the path it prints';

describe("the brief's deployment, from an application outside the cluster", { skip }, () => {
  let netns: string;
  const files = mkdtempSync(join(tmpdir(), 'redis-ha-brief-'));
  const overrides = join(files, 'testbed.yaml');

  before(async () => {
    netns = await clientNetns();
    writeFileSync(overrides, TESTBED_OVERRIDES);
    // A Prometheus user has the ServiceMonitor CRD and the namespace the values name.
    await kubectl(['apply', '--server-side', '-f', SERVICE_MONITOR_CRD]);
    await kubectl(['wait', '--for=condition=Established', 'crd/servicemonitors.monitoring.coreos.com', '--timeout=60s']);
    await kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata: {name: monitoring}\n');
  });

  describe('plain manifests, no operator', () => {
    const NS = 'brief-plain';
    const addresses = ['10.245.1.110', '10.245.1.111', '10.245.1.112'];
    before(() => freshNamespace(NS));
    after(() => dropNamespace(NS));

    test('kubectl apply of render --from-bitnami: the checklist from outside, and a force-deleted master with nothing lost', async (t) => {
      const values = join(files, 'plain-values.yaml');
      writeFileSync(values, briefValues(addresses));
      // The README's line, on this test's values file and namespace, with the test bed's overrides added.
      const manifests = await redisHa([...commandArgs(README_K8S.renderPlain, 'redis-ha', { 'examples/bitnami-values.yaml': values, cache: NS }), '-f', overrides]);
      const appliedAt = performance.now();
      await kubectl(commandArgs(README_K8S.renderPlain, 'kubectl'), manifests);
      await briefChecklist(t, { namespace: NS, addresses, netns, expectPods: 8, appliedAt });
      const labelled = (await pods(NS)).filter((p) => p.metadata.labels?.['redis-ha.io/role'] !== undefined);
      assert.deepEqual(labelled.map((p) => p.metadata.name), [], 'nothing but the manifests acted: no pod carries the operator label');
    });
  });

  describe('the operator', () => {
    const NS = 'brief-operator';
    const addresses = ['10.245.1.120', '10.245.1.121', '10.245.1.122'];
    before(async () => {
      await installOperator();
      await freshNamespace(NS);
    });
    after(() => dropNamespace(NS));

    test('kubectl apply of render --from-bitnami --as-resource: the checklist from outside, and a force-deleted master with nothing lost', async (t) => {
      const values = join(files, 'operator-values.yaml');
      writeFileSync(values, briefValues(addresses));
      const resource = await redisHa([...commandArgs(README_K8S.renderResource, 'redis-ha', { 'examples/bitnami-values.yaml': values, cache: NS }), '-f', overrides]);
      const appliedAt = performance.now();
      await kubectl(commandArgs(README_K8S.renderResource, 'kubectl'), resource);
      await briefChecklist(t, { namespace: NS, addresses, netns, expectPods: 6, appliedAt });
      const status = await eventually('the resource Ready again', 120_000, async () => {
        const s = JSON.parse(await kubectl(['-n', NS, 'get', 'redisha', RELEASE, '-o', 'jsonpath={.status}'])) as { masterPod?: string; conditions?: { type: string; status: string }[] };
        return s.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? s : undefined;
      });
      const masters = (await pods(NS)).filter((p) => p.metadata.labels?.['redis-ha.io/role'] === 'master').map((p) => p.metadata.name);
      assert.deepEqual(masters, [status.masterPod], 'one pod labelled master, the one the status names');
    });
  });
});
