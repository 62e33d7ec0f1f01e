// The operator's Helm chart (charts/redis-ha-operator) with real Helm, built from the Go module proxy by
// scripts/build-helm.sh (cached under /var/cache/redis-ha/helm): the committed chart is what the
// generator prints, `helm template` equals `operatorManifests` for several sets of values, `helm lint`
// and `helm package` pass; on the test bed, `helm install` / `upgrade` / `uninstall` of an operator
// that watches only its own namespace and reconciles a RedisHA there to Ready.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, chartFiles } from '../src/kubernetes/chart.ts';
import { operatorManifests, type ManifestOptions } from '../src/kubernetes/manifests.ts';
import { OPERATOR_CLASS_LABEL } from '../src/kubernetes/operator.ts';
import { redisHACRD } from '../src/kubernetes/crd.ts';
import { formatObjects } from '../src/cli/commands/render.ts';
import { eventually } from './helpers.ts';
import { ClusterDeployment } from '../bench/k8s.ts';
import { README_K8S, commandArgs } from './readme-kubernetes.ts';
import { OPERATOR_IMAGE, REPO, SMALL_RESOURCES, testbedRedisHA, dropNamespace, kubeconfig, kubectl, redisHa } from './testbed-kube.ts';

const run = promisify(execFile);
const CHART = join(REPO, CHART_DIR);
const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };

/** Builds Helm once (cached); undefined where Go is missing outside CI. */
function helmBinary(): string | undefined {
  try {
    return execFileSync('bash', [join(REPO, 'scripts/build-helm.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_800_000 }).trim().split('\n').pop();
  } catch (err) {
    if (process.env.CI) throw err;
    return undefined;
  }
}
const helmPath = helmBinary();

async function helm(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run(helmPath!, args, { maxBuffer: 16 << 20, timeout: 300_000, env: { ...process.env, HELM_CACHE_HOME: join(tmpdir(), 'redis-ha-helm-cache'), HELM_CONFIG_HOME: join(tmpdir(), 'redis-ha-helm-config'), HELM_DATA_HOME: join(tmpdir(), 'redis-ha-helm-data'), ...env } });
  return stdout;
}

type Obj = { kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> } };
const parseStream = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
const byKindAndName = (objects: Obj[]) => objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();
/** The chart's one addition: the CRD survives `helm uninstall`. */
function withoutHelmPolicy(objects: Obj[]): Obj[] {
  return objects.map((o) => {
    if (o.kind !== 'CustomResourceDefinition') return o;
    const c = structuredClone(o);
    delete c.metadata.annotations;
    return c;
  });
}
const sortObjects = (objects: Obj[]) => [...objects].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));

test('the committed chart is what scripts/generate-chart.ts writes from operatorManifests', () => {
  for (const [path, text] of Object.entries(chartFiles(version))) {
    const file = join(CHART, path);
    assert.ok(existsSync(file), `${file} is missing: run node scripts/generate-chart.ts`);
    assert.equal(readFileSync(file, 'utf8'), text, `${file} is stale: run node scripts/generate-chart.ts`);
  }
});

describe('the Helm chart with real Helm', { skip: helmPath ? false : 'no Go toolchain to build Helm (scripts/build-helm.sh)' }, () => {
  test('helm lint passes, in both watch modes', async () => {
    const out = await helm(['lint', '--strict', CHART]);
    assert.match(out, /0 chart\(s\) failed/);
    await helm(['lint', '--strict', CHART, '--set', 'watchNamespace=shop']);
  });

  test('helm template with default values prints exactly what `operator manifests` prints', async () => {
    const chart = parseStream(await helm(['template', 'redis-ha-operator', CHART]));
    const manifests = parseStream(await redisHa(['operator', 'manifests']));
    assert.deepEqual(byKindAndName(chart), byKindAndName(manifests));
    assert.deepEqual(sortObjects(withoutHelmPolicy(chart)), sortObjects(manifests));
    const crd = chart.find((o) => o.kind === 'CustomResourceDefinition')!;
    assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
  });

  const cases: { values: string[]; options: ManifestOptions; release?: string }[] = [
    {
      values: ['image.repository=registry.example/ops/redis-ha', 'image.tag=9.9.9', 'image.pullPolicy=Always', 'replicas=3', 'resources.requests.cpu=100m', 'resources.limits.memory=1Gi', 'labels.team=cache', 'labels.tier=platform'],
      options: { image: 'registry.example/ops/redis-ha:9.9.9', imagePullPolicy: 'Always', replicas: 3, resources: { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '1Gi' } }, labels: { team: 'cache', tier: 'platform' } },
    },
    {
      release: 'shop-ops',
      values: ['namespace.name=shop', 'namespace.create=false', 'crds.install=false', 'watchNamespace=shop', 'operatorClass=shop'],
      options: { namespace: 'shop', createNamespace: false, crds: false, watchNamespace: 'shop', operatorClass: 'shop', leaseName: 'shop-ops' },
    },
  ];
  for (const c of cases) {
    test(`helm template --set ${c.values.join(',')} equals operatorManifests with the same options`, async () => {
      // Helm merges --set into the default maps (resources.requests.memory stays 96Mi).
      const set = ['--set', c.values.join(',')];
      const chart = parseStream(await helm(['template', c.release ?? 'redis-ha-operator', CHART, ...set]));
      const expected = operatorManifests(c.options) as unknown as Obj[];
      assert.deepEqual(sortObjects(withoutHelmPolicy(chart)), sortObjects(JSON.parse(JSON.stringify(expected))));
      if (c.options.watchNamespace) {
        assert.ok(!chart.some((o) => o.kind.startsWith('Cluster')), 'a namespace-scoped install grants nothing cluster-wide');
        assert.ok(chart.some((o) => o.kind === 'Role' && o.metadata.namespace === c.options.watchNamespace));
      }
    });
  }

  test('helm package writes a chart archive `helm push` can send to an OCI registry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-ha-helm-package-'));
    try {
      const out = await helm(['package', CHART, '--destination', dir]);
      const archive = join(dir, `redis-ha-operator-${version}.tgz`);
      assert.match(out, /Successfully packaged/);
      assert.ok(existsSync(archive));
      const shown = await helm(['show', 'chart', archive]);
      assert.match(shown, new RegExp(`version: ${version.replaceAll('.', '\\.')}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const NS = 'e2e-helm';
const NAME = 'cache';
const RESOURCE = testbedRedisHA(NS, NAME, {
  replicas: 1,
  sentinel: { profile: 'fast', downAfterMilliseconds: 2000 },
  resources: { redis: { requests: { cpu: '20m', memory: '48Mi' }, limits: { memory: '128Mi' } }, sentinel: SMALL_RESOURCES.sentinel },
}, { [OPERATOR_CLASS_LABEL]: NS });

describe('helm install / upgrade / uninstall on the test bed', { skip: !helmPath ? 'no Helm' : kubeconfig ? false : 'no test bed: run testbed/up and set REDIS_HA_TESTBED_KUBECONFIG' }, () => {
  const env = { KUBECONFIG: kubeconfig! };
  const deployment = new ClusterDeployment(kubeconfig!, NS, NAME);
  const [repository, tag] = OPERATOR_IMAGE.split(':') as [string, string];
  // The test bed has the CRD already (the other e2e tests' `operator manifests`); this release watches
  // its own namespace only and takes only RedisHA resources of its class, so the cluster-wide operator
  // of the other tests leaves this one alone and neither touches the other's.
  const values = ['--set', `image.repository=${repository},image.tag=${tag},image.pullPolicy=Never,replicas=1,namespace.name=${NS},namespace.create=false,crds.install=false,watchNamespace=${NS},operatorClass=${NS}`];

  before(async () => {
    await helm(['uninstall', 'redis-ha-operator', '-n', NS, '--wait', '--timeout', '120s'], env).catch(() => '');
    await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    // This clone's CRD (as installOperator applies it): the status this operator writes (status.switchover)
    // must be in the schema, or every status write fails.
    await kubectl(['apply', '-f', '-'], formatObjects([redisHACRD()], 'yaml'));
  });
  after(() => dropNamespace(NS));

  test('helm install: the operator reconciles a RedisHA of its class to Ready', async () => {
    // The README's line (the chart's path from this clone), with the release in this test's namespace and the
    // test bed's values added.
    await helm([...commandArgs(README_K8S.helmInstall, 'helm', { 'charts/redis-ha-operator': CHART }), '-n', NS, '--create-namespace', ...values, '--timeout', '180s'], env);
    await kubectl(['apply', '-f', '-'], RESOURCE);
    await deployment.waitReady(300_000);
    // The Lease follows the release, in the release's namespace.
    const holder = await kubectl(['-n', NS, 'get', 'lease', 'redis-ha-operator', '-o', 'jsonpath={.spec.holderIdentity}']);
    assert.match(holder, /^redis-ha-operator-/);
    assert.equal((await kubectl(['get', 'clusterrolebinding', '-l', `app.kubernetes.io/name=redis-ha-operator,team=e2e-helm`, '-o', 'name'])).trim(), '');
  });

  // kubectl redisha against the RedisHA this release reconciles: kubectl finds the plugin on PATH.
  async function plugin(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const bin = mkdtempSync(join(tmpdir(), 'redis-ha-plugin-'));
    try {
      symlinkSync(join(REPO, 'bin/kubectl-redisha.js'), join(bin, 'kubectl-redisha'));
      const kubectlDir = join(dirname(kubeconfig!), 'bin');
      // Node 24 first (the plugin's #!/usr/bin/env node), then the test bed's kubectl.
      const env = { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:${kubectlDir}:${process.env.PATH}`, KUBECONFIG: kubeconfig!, ...extraEnv };
      const r = await run(join(kubectlDir, 'kubectl'), ['redisha', ...args], { env, timeout: 180_000 }).then((x) => ({ code: 0, ...x }), (e: { code: number; stdout: string; stderr: string }) => e);
      return { code: r.code, stdout: String(r.stdout), stderr: String(r.stderr) };
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  }

  test('kubectl redisha status: a table of the namespace, --json of one resource', async () => {
    // Healthy can flap on a loaded machine (a Sentinel in TILT): wait for a healthy answer.
    const list = await eventually('kubectl redisha status exits 0', 120_000, async () => {
      const r = await plugin(['status', '-n', NS]);
      return r.code === 0 ? r : undefined;
    });
    assert.match(list.stdout, /^NAME\s+READY\s+HEALTHY/);
    assert.match(list.stdout, new RegExp(`\\n${NAME}\\s+True\\s+yes\\s+${NAME}-redis-\\d`));
    // The namespace from the context, as kubectl does, when -n is not given.
    const ctx = join(mkdtempSync(join(tmpdir(), 'redis-ha-kubeconfig-')), 'config');
    writeFileSync(ctx, readFileSync(kubeconfig!));
    await kubectl(['--kubeconfig', ctx, 'config', 'set-context', '--current', `--namespace=${NS}`]);
    const one = await plugin(['status', NAME, '--json'], { KUBECONFIG: ctx });
    assert.equal(one.code, 0, one.stderr);
    const doc = JSON.parse(one.stdout) as { healthy: boolean; resource: string; nodes: unknown[] };
    assert.equal(doc.healthy, true);
    assert.equal(doc.resource, `${NS}/${NAME}`);
    const missing = await plugin(['status', 'nothere', '-n', NS]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^kubectl-redisha: no RedisHA e2e-helm\/nothere/);
  });

  test('kubectl redisha password prints the Secret\'s password alone; cli runs a command on the master with it', async () => {
    const pw = await plugin(['password', NAME, '-n', NS]);
    assert.equal(pw.code, 0, pw.stderr);
    const secret = Buffer.from(await kubectl(['-n', NS, 'get', 'secret', `${NAME}-auth`, '-o', 'jsonpath={.data.password}']), 'base64').toString();
    assert.equal(pw.stdout, `${secret}\n`);
    const masterPod = async () => (await kubectl(['-n', NS, 'get', 'redisha', NAME, '-o', 'jsonpath={.status.masterPod}'])).trim();
    const setOn = await masterPod();
    const set = await plugin(['cli', NAME, '-n', NS, '--', 'SET', 'plugin:k', 'v1']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), 'OK');
    const got = await plugin(['cli', NAME, '-n', NS, '--', 'GET', 'plugin:k']);
    if (got.stdout.trim() !== 'v1') {
      // Where each command went and what moved in between (a CI run under NetworkPolicy enforcement read nothing back).
      const cr = await kubectl(['-n', NS, 'get', 'redisha', NAME, '-o', 'jsonpath={.status.lastFailover}']).catch((e: Error) => e.message);
      const events = await kubectl(['-n', NS, 'get', 'events', '-o', 'jsonpath={range .items[*]}{.lastTimestamp} {.reason}: {.message}{"\\n"}{end}']).catch((e: Error) => e.message);
      assert.fail(`GET answered ${JSON.stringify(got.stdout.trim())} (${got.stderr.trim()}): SET ran on ${setOn}, GET on ${await masterPod()}; last failover ${cr}; events:\n${events.split('\n').slice(-15).join('\n')}`);
    }
  });

  test('kubectl redisha failover: the operator switches the master over and answers in status', async () => {
    const before = (await kubectl(['-n', NS, 'get', 'redisha', NAME, '-o', 'jsonpath={.status.masterPod}'])).trim();
    // A Sentinel stalled for 2 s or more (a loaded machine) is in TILT for 30 s, and the operator refuses
    // the switchover with exactly that; it changes nothing, so asking again once TILT is over is safe.
    const r = await eventually('a switchover answer other than a Sentinel in TILT', 120_000, async () => {
      const x = await plugin(['failover', NAME, '-n', NS, '--json', '--timeout', '90']);
      return / is in TILT mode; try again once it is over/.test(x.stdout + x.stderr) ? undefined : x;
    });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const answer = JSON.parse(r.stdout) as { result: string; from: string; to: string };
    assert.equal(answer.result, 'Succeeded');
    assert.equal(answer.from, before);
    assert.notEqual(answer.to, before);
    await eventually('the new master in status', 60_000, async () => ((await kubectl(['-n', NS, 'get', 'redisha', NAME, '-o', 'jsonpath={.status.masterPod}'])).trim() === answer.to ? true : undefined));
    assert.equal((await plugin(['cli', NAME, '-n', NS, '--', 'GET', 'plugin:k'])).stdout.trim(), 'v1', 'no acknowledged write lost');
  });

  test('helm upgrade changes the operator in place (extra labels reach its pods); the RedisHA stays Ready', async () => {
    await helm(['upgrade', 'redis-ha-operator', CHART, '-n', NS, ...values, '--set', 'labels.team=e2e-helm', '--wait', '--timeout', '180s'], env);
    const pods = await kubectl(['-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=redis-ha-operator,team=e2e-helm', '-o', 'name']);
    assert.ok(pods.trim().length > 0, 'the upgraded operator pod carries the new label');
    assert.match(await helm(['history', 'redis-ha-operator', '-n', NS], env), /upgrade complete|deployed/i);
    await deployment.waitReady(120_000).catch(async (err: Error) => {
      // Which operator pod leads and what it last did: the upgrade replaced it.
      const logs = await kubectl(['-n', NS, 'logs', '-l', 'app.kubernetes.io/name=redis-ha-operator', '--tail=40', '--prefix']).catch((e: Error) => e.message);
      throw new Error(`${err.message}\noperator log:\n${logs}`);
    });
  });

  test('helm uninstall removes the operator and keeps the CRD', async () => {
    await helm(['uninstall', 'redis-ha-operator', '-n', NS, '--wait', '--timeout', '120s'], env);
    assert.equal((await kubectl(['-n', NS, 'get', 'deployment', '-l', 'app.kubernetes.io/name=redis-ha-operator', '-o', 'name'])).trim(), '');
    assert.match(await kubectl(['get', 'crd', 'redishas.redis-ha.io', '-o', 'name']), /redishas\.redis-ha\.io/);
  });
});
