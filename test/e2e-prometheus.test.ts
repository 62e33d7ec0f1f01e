// The rendered monitoring against a real Prometheus (issue 19, item 3), end to end on the test bed: testbed/up
// runs prometheus-operator v0.85.0 (a host process) and the Prometheus 3.16 it manages, monitoring/testbed,
// which selects ServiceMonitors and PrometheusRules labelled prometheus: testbed in every namespace and is
// asked here through its HTTP API (its Service's fixed ClusterIP, from the host).
// The plain `render` output of a spec with metrics, ServiceMonitor and PrometheusRule is applied with kubectl:
// 1. the ServiceMonitor is selected and every exporter target is up: redis_up == 1 from each Redis and
//    Sentinel pod's exporter, and each Sentinel's reports the master group (its Sentinels, its quorum);
// 2. the PrometheusRule is loaded: every rendered alert, healthy, evaluated;
// 3. RedisHANoMaster fires while the master is held down, and resolves after the failover.
// How 3 holds the master down, honestly: its redis-server is SIGKILLed while its container cannot start again
// (the node no longer has the image name this deployment uses, a name of this test's own), so no Redis
// answers as master. The rule's `for: 1m` is kept as rendered. What would end the outage before a minute is
// Sentinel failing over after down-after (5 s by default), so this spec sets Sentinel's downAfterMilliseconds
// to 5 minutes (a spec setting): Sentinel waits, the alert goes pending, then firing (the test checks that the
// Sentinels still name the dead master then), and the test asks the Sentinels for the failover (SENTINEL
// FAILOVER: what Sentinel does by itself once down-after passes, and what the operator asks at once on a
// crash). No controller runs (plain manifests), so nothing else fails over. Every wait polls Prometheus's API,
// Redis or the API server for the evidence.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ClusterDeployment, ask, killRedisOfPod } from '../bench/k8s.ts';
import { SENTINEL_PORT, renderManifests } from '../src/kubernetes/render/index.ts';
import { parseFlatRecords } from '../src/redis/parse.ts';
import { resolveSpec } from '../src/spec/index.ts';
import { eventually } from './helpers.ts';
import { EXPORTER_IMAGE, OPERATOR_IMAGE, REDIS_IMAGE, ON_TESTBED, ctr, dropNamespace, freshNamespace, kubeconfig, kubectl, redisHa, requireTestbedInCI, withoutImage } from './testbed-kube.ts';

const NS = 'e2e-prometheus';
const NAME = 'mon';
/** testbed/up's Prometheus (testbed/lib/prometheus.yaml): the Service monitoring/prometheus at a fixed ClusterIP. */
const PROMETHEUS = 'http://10.96.0.90:9090';
/**
 * The test bed's Redis image under a name of this test's own, so that removing it from the node (to hold the
 * master down) cannot stop another test's pods from starting; `:test` keeps the content meanwhile.
 */
const REPOSITORY = `${REDIS_IMAGE.repository}-e2e-prometheus`;
const IMAGE = `${REPOSITORY}:${REDIS_IMAGE.tag}`;
const SAME_IMAGE = `${REDIS_IMAGE.repository}:test`;
const SPEC = `
name: ${NAME}
replicas: 2
sentinels: 3
image: {repository: ${REPOSITORY}, tag: "${REDIS_IMAGE.tag}", pullPolicy: Never, allowUnpatched: true}
metrics:
  enabled: true
  image: "${EXPORTER_IMAGE}"
  serviceMonitor: {enabled: true, labels: {prometheus: testbed}, interval: 5s}
  prometheusRule: {enabled: true, labels: {prometheus: testbed}}
endpoint: {image: "${OPERATOR_IMAGE}"}
persistence: {enabled: false}
# Sentinel waits 5 minutes before it fails over by itself: the test holds the master down past the no-master
# alert's for: 1m, then asks for the failover.
sentinel: {downAfterMilliseconds: 300000, failoverTimeout: 310000}
resources:
  redis: {requests: {cpu: 50m, memory: 48Mi}, limits: {memory: 192Mi}}
  sentinel: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}
  exporter: {requests: {cpu: 5m, memory: 16Mi}, limits: {memory: 48Mi}}
`;
const RESOLVED = resolveSpec(parse(SPEC));
const RENDERED_ALERTS = (renderManifests(RESOLVED, { namespace: NS }).objects.find((o) => o.kind === 'PrometheusRule')!.spec as {
  groups: { name: string; rules: { alert: string; for: string }[] }[];
}).groups[0]!;
const SCRAPE_POOL = `serviceMonitor/${NS}/${NAME}-metrics/0`;
const SELECT = `namespace="${NS}",service="${NAME}-metrics"`;

interface Target {
  scrapePool: string;
  health: 'up' | 'down' | 'unknown';
  labels: Record<string, string>;
  lastError: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface AlertRule {
  name: string;
  type: string;
  health: string;
  state: 'inactive' | 'pending' | 'firing';
  duration: number;
  lastEvaluation: string;
  labels: Record<string, string>;
}
interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

/** GET of Prometheus's HTTP API; the `data` of a `success` answer. */
async function prom<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const url = new URL(`/api/v1/${path}`, PROMETHEUS);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
  return body.data;
}

const query = async (q: string) => (await prom<{ result: Sample[] }>('query', { query: q })).result;
const targets = async () => (await prom<{ activeTargets: Target[] }>('targets', { state: 'active' })).activeTargets.filter((t) => t.scrapePool === SCRAPE_POOL);
const noMasterAlerts = async () => (await prom<{ alerts: Alert[] }>('alerts')).alerts.filter((a) => a.labels.alertname === 'RedisHANoMaster' && a.labels.redis_ha === NAME);
/** The alerting rules of the rendered group, as Prometheus loaded them. */
async function loadedRules(): Promise<AlertRule[] | undefined> {
  const { groups } = await prom<{ groups: { name: string; file: string; rules: AlertRule[] }[] }>('rules', { type: 'alert' });
  return groups.find((g) => g.name === RENDERED_ALERTS.name && g.file.includes(`${NS}-${NAME}-metrics`))?.rules;
}
/** Pod name → value of a one-series-per-pod query. */
const byPod = (samples: Sample[]) => Object.fromEntries(samples.map((s) => [s.metric.pod, s.value[1]]));

/**
 * The namespace's pods deleted at once, without their grace period, and waited for: a master pod's preStop hook
 * waits up to failoverTimeout for a hand-over, and a namespace deletion with pods in it waits out their grace
 * period (failoverTimeout + 15 s here) before it finishes. The controllers go first, leaving their pods
 * (orphaned), so that nothing makes new ones meanwhile.
 */
async function forceEmpty(): Promise<void> {
  await kubectl(['-n', NS, 'delete', 'statefulset,deployment,replicaset', '--all', '--cascade=orphan', '--ignore-not-found']).catch(() => {});
  await kubectl(['-n', NS, 'delete', 'pod', '--all', '--grace-period=0', '--force', '--ignore-not-found', '--wait=true', '--timeout=60s']).catch(() => {});
}

requireTestbedInCI('the Prometheus end-to-end tests have a test bed');

describe('a real Prometheus scrapes the rendered ServiceMonitor and evaluates the rendered PrometheusRule', ON_TESTBED, () => {
  let d: ClusterDeployment;
  let redisPods: string[];
  let sentinelPods: string[];
  const files = mkdtempSync(join(tmpdir(), 'redis-ha-e2e-prometheus-'));

  before(async () => {
    // The test bed runs the Prometheus this test asks: a clear failure when it does not answer.
    await eventually(`Prometheus at ${PROMETHEUS} (testbed/up starts it)`, 30_000, async () => (await fetch(`${PROMETHEUS}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok || undefined);
    await ctr(['images', 'tag', '--force', SAME_IMAGE, IMAGE]);
    writeFileSync(join(files, 'spec.yaml'), SPEC);
    await forceEmpty();
    await freshNamespace(NS);
    await kubectl(['apply', '-f', '-'], await redisHa(['render', '-f', join(files, 'spec.yaml'), '--namespace', NS]));
    d = new ClusterDeployment(kubeconfig!, NS, NAME);
  });

  after(async () => {
    rmSync(files, { recursive: true, force: true });
    if (kubeconfig) await forceEmpty();
    await dropNamespace(NS);
    if (kubeconfig) await ctr(['images', 'rm', IMAGE]).catch(() => {});
  });

  /** What each Sentinel knows of the replicas: `SENTINEL REPLICAS`, name and flags of each. */
  async function replicasSeen(): Promise<{ sentinel: string; replicas: { name: string; flags: string }[] }[]> {
    const password = await d.sentinelPassword();
    return Promise.all(
      (await d.pods('sentinel')).map(async (p) => ({
        sentinel: p.name,
        replicas: parseFlatRecords(await ask({ host: p.ip!, port: SENTINEL_PORT, password }, 'SENTINEL', 'REPLICAS', d.names.group)).map((r) => ({ name: r.get('name') ?? '', flags: r.get('flags') ?? '' })),
      })),
    );
  }

  /**
   * Every pod of the deployment Ready, the Sentinels naming a master, and every Sentinel knowing every replica
   * as a healthy one (it learns them from the master's INFO, every 10 s: a Sentinel that does not know them yet
   * has no replica to fail over to); returns that master.
   */
  async function settled(timeoutMs: number): Promise<string> {
    return eventually('every Redis and Sentinel pod Ready, the Sentinels naming a master and every replica known to each', timeoutMs, async () => {
      const [redis, sentinels] = await Promise.all([d.pods('redis'), d.pods('sentinel')]);
      if (redis.length !== RESOLVED.replicas + 1 || sentinels.length !== RESOLVED.sentinels) return undefined;
      if (![...redis, ...sentinels].every((p) => p.ip && p.ready && !p.terminating)) return undefined;
      redisPods = redis.map((p) => p.name);
      sentinelPods = sentinels.map((p) => p.name);
      const master = await d.sentinelMasterPod();
      const seen = await replicasSeen();
      return seen.every((s) => s.replicas.length === RESOLVED.replicas && s.replicas.every((r) => r.flags === 'slave')) ? master : undefined;
    });
  }

  /**
   * Every target of the ServiceMonitor up, one per pod, and redis_up 1 from each pod's exporter: it reached its
   * Redis (or Sentinel).
   */
  async function everyTargetUp(timeoutMs: number): Promise<Target[]> {
    const all = () => [...redisPods, ...sentinelPods].sort();
    return eventually(`the ${SCRAPE_POOL} targets all up, redis_up 1 for ${all().join(', ')}`, timeoutMs, async () => {
      const ts = await targets();
      const pods = ts.map((t) => t.labels.pod).sort();
      if (JSON.stringify(pods) !== JSON.stringify(all()) || !ts.every((t) => t.health === 'up')) return undefined;
      const up = byPod(await query(`redis_up{${SELECT}}`));
      return JSON.stringify(Object.keys(up).sort()) === JSON.stringify(all()) && all().every((p) => up[p] === '1') ? ts : undefined;
    });
  }

  test('the ServiceMonitor is selected: one target per Redis and Sentinel pod, all up, redis_up 1 from each', async (t) => {
    const master = await settled(300_000);
    t.diagnostic(`master ${master}; Redis pods ${redisPods.join(', ')}; Sentinel pods ${sentinelPods.join(', ')}`);
    // The operator turns the ServiceMonitor into a scrape job; the config reloader gives it to Prometheus when the
    // kubelet has updated the mounted Secret (up to its sync period, a minute).
    const ts = await everyTargetUp(240_000);
    t.diagnostic(`targets: ${ts.map((x) => `${x.labels.pod} ${x.health}`).join(', ')}`);
    for (const x of ts) assert.equal(x.labels.namespace, NS);
    // Prometheus's view agrees with Redis's: one node reports role master, the one the Sentinels name.
    const masters = await query(`redis_instance_info{${SELECT},redis_mode!="sentinel",role="master"}`);
    assert.deepEqual(masters.map((s) => s.metric.pod), [master]);
  });

  test('Sentinel metrics: every Sentinel\'s exporter reports the master group, all Sentinels seen and the quorum reachable', async () => {
    const group = d.names.group;
    const sel = `${SELECT},master_name="${group}"`;
    const seen = await eventually('every Sentinel reporting the group, its Sentinels and its quorum', 60_000, async () => {
      const [status, okSentinels, quorum] = await Promise.all([
        query(`redis_sentinel_master_status{${sel}}`),
        query(`redis_sentinel_master_ok_sentinels{${sel}}`),
        query(`redis_sentinel_master_ckquorum_status{${sel}}`),
      ]);
      const all = (s: Sample[], v: string) => s.length === sentinelPods.length && s.every((x) => x.value[1] === v);
      return all(status, '1') && all(okSentinels, String(RESOLVED.sentinels)) && all(quorum, '1') ? status : undefined;
    });
    assert.deepEqual(seen.map((s) => s.metric.pod).sort(), [...sentinelPods].sort());
  });

  test('the PrometheusRule is loaded: every rendered alert, healthy and evaluated, RedisHANoMaster inactive', async () => {
    // Until the first scrape of a master, RedisHANoMaster sees no master and is pending (for less than its
    // for: 1m, so it never fires); it turns inactive at the first evaluation after one.
    const rules = await eventually(`the rule group ${RENDERED_ALERTS.name} loaded, every rule evaluated, RedisHANoMaster inactive`, 240_000, async () => {
      const r = await loadedRules();
      const evaluated = r && r.length === RENDERED_ALERTS.rules.length && r.every((x) => !x.lastEvaluation.startsWith('0001-'));
      return evaluated && r.find((x) => x.name === 'RedisHANoMaster')?.state === 'inactive' ? r : undefined;
    });
    assert.deepEqual(
      rules.map((r) => r.name),
      RENDERED_ALERTS.rules.map((r) => r.alert),
    );
    for (const r of rules) assert.equal(r.health, 'ok', `${r.name} evaluates without error`);
    const noMaster = rules.find((r) => r.name === 'RedisHANoMaster')!;
    assert.equal(noMaster.duration, 60, 'its for: 1m, as rendered');
    assert.equal(noMaster.labels.severity, 'critical');
  });

  test('RedisHANoMaster fires while the master is held down, and resolves after the failover', async (t) => {
    const from = await settled(120_000);
    await everyTargetUp(60_000);
    const uid = (await d.pods('redis')).find((p) => p.name === from)!.uid;
    const sentinelPassword = await d.sentinelPassword();
    let to = '';
    await withoutImage(IMAGE, SAME_IMAGE, async () => {
      const killedAt = Date.now();
      t.diagnostic(`killed redis-server pid ${killRedisOfPod(uid)} of ${from}`);
      await eventually(`Prometheus seeing redis_up 0 for ${from}`, 60_000, async () => (byPod(await query(`redis_up{${SELECT}}`))[from] === '0' ? true : undefined));
      const pending = await eventually('RedisHANoMaster pending', 60_000, async () => (await noMasterAlerts()).find((a) => a.state === 'pending'));
      t.diagnostic(`pending ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (active at ${pending.activeAt})`);
      // Well before Sentinel's own failover (down-after 5 minutes). A configuration reload of Prometheus meanwhile
      // (another test's ServiceMonitor) has been seen to restart the alert's for: clock: it then fires later.
      const firing = await eventually('RedisHANoMaster firing', 220_000, async () => (await noMasterAlerts()).find((a) => a.state === 'firing'));
      const firingAfter = (Date.now() - killedAt) / 1000;
      t.diagnostic(`firing ${firingAfter.toFixed(1)} s after the kill (active at ${firing.activeAt})`);
      assert.ok(Date.now() - Date.parse(firing.activeAt) >= 60_000, `pending for its for: 1m before it fired (active at ${firing.activeAt})`);
      assert.ok(Date.parse(firing.activeAt) >= Date.parse(pending.activeAt), 'the alert that went pending after the kill');
      assert.equal(firing.labels.severity, 'critical');
      // The outage is the real one: the Sentinels still name the dead master, and its container could not start.
      assert.equal(await d.sentinelMasterPod(), from, 'no failover happened while the alert became firing');
      const pod = JSON.parse(await kubectl(['-n', NS, 'get', 'pod', from, '-o', 'json'])) as { status: { containerStatuses: { name: string; ready: boolean }[] } };
      assert.equal(pod.status.containerStatuses.find((c) => c.name === 'redis')?.ready, false, `${from}'s redis container is not running`);
      assert.deepEqual(await query(`redis_instance_info{${SELECT},redis_mode!="sentinel",role="master"}`), [], 'no node reports role master');

      // The failover, asked of one Sentinel that answers.
      const sentinel = (await d.pods('sentinel')).find((p) => p.ip)!;
      const asked = await ask({ host: sentinel.ip!, port: SENTINEL_PORT, password: sentinelPassword }, 'SENTINEL', 'FAILOVER', d.names.group).catch((err: Error) => err.message);
      assert.equal(asked, 'OK', `SENTINEL FAILOVER on ${sentinel.name}; the replicas each Sentinel knows: ${JSON.stringify(await replicasSeen().catch(() => []))}`);
      const failedOverAt = Date.now();
      to = await eventually('the Sentinels to name another master', 60_000, async () => {
        const m = await d.sentinelMasterPod();
        return m && m !== from ? m : undefined;
      });
      await eventually('RedisHANoMaster resolved', 60_000, async () => ((await noMasterAlerts()).length === 0 ? true : undefined));
      t.diagnostic(`failover to ${to}; the alert resolved ${((Date.now() - failedOverAt) / 1000).toFixed(1)} s after the failover was asked`);
      const masters = await query(`redis_instance_info{${SELECT},redis_mode!="sentinel",role="master"}`);
      assert.deepEqual(masters.map((s) => s.metric.pod), [to], 'Prometheus sees the new master');
      const rule = (await loadedRules())!.find((r) => r.name === 'RedisHANoMaster')!;
      assert.equal(rule.state, 'inactive');
    });
    // The old master's pod, replaced (its container waits in the image back-off otherwise), comes back as a
    // replica: every target is up again and one master is seen.
    await kubectl(['-n', NS, 'delete', 'pod', from, '--wait=false']);
    const again = await settled(180_000);
    assert.equal(again, to);
    await everyTargetUp(120_000);
    const masters = await query(`redis_instance_info{${SELECT},redis_mode!="sentinel",role="master"}`);
    assert.deepEqual(masters.map((s) => s.metric.pod), [to]);
  });
});
