// End to end on the Kubernetes test bed (testbed/up): the operator installed from exactly what
// `redis-ha operator manifests` prints (image localhost/redis-ha/operator:test, built by up from this
// clone), a RedisHA like the brief's, and the faults the design is about. Redis and Sentinel are reached
// from the host through ClusterIPs and pod IPs, as the smoke test does.
// REDIS_HA_TESTBED_KUBECONFIG names the test bed's kubeconfig; under CI (.ci/run) its absence fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterDeployment, ask, forceDeleteMaster, sentinelWriterFromHost } from '../bench/k8s.ts';
import { MASTER_POD_LABEL, REDIS_PORT, SECRET_KEYS, SENTINEL_PORT, renderManifests, tlsDnsNames } from '../src/kubernetes/render/index.ts';
import { formatObjects } from '../src/cli/commands/render.ts';
import { parseFlatRecord, parseReplication } from '../src/redis/parse.ts';
import { resolveSpec } from '../src/spec/index.ts';
import { eventually } from './helpers.ts';
import { makeCertificate, secretData } from './certs.ts';
import { EXPORTER_IMAGE, OPERATOR_IMAGE, SMALL_RESOURCES, testbedRedisHA, dropNamespace, freshNamespace, installOperator, kubeconfig, kubectl, ON_TESTBED, operatorLog, podsReport, requireTestbedInCI } from './testbed-kube.ts';

const run = promisify(execFile);
const NS = 'e2e-k8s';
const NAME = 'shop';
/** The test bed's Redis image: Debian's 7.0.15, which carries the CVE-2025-49844 family's fixes as backports. */
const RESOURCE = testbedRedisHA(NS, NAME, {
  metrics: { enabled: true, image: EXPORTER_IMAGE },
  endpoint: { enabled: true, replicas: 1, image: OPERATOR_IMAGE },
  sentinel: { profile: 'fast', downAfterMilliseconds: 2000 },
  resources: SMALL_RESOURCES,
});

/** A namespace of the test's own, emptied first, with the operator installed and `manifests` applied in order. */
async function operatorNamespace(namespace: string, ...manifests: string[]): Promise<void> {
  await installOperator();
  await freshNamespace(namespace, ...manifests);
}

/** Waits until `d` is Ready with every replica in sync and every Sentinel agreeing. */
async function waitReadyAndAgreed(d: ClusterDeployment, replicas: number, sentinels: number): Promise<void> {
  await d.waitReady(300_000);
  const cr = await d.resource();
  assert.equal(cr.status?.readyReplicas, replicas);
  assert.equal(cr.status?.sentinelsAgreeing, sentinels);
}

requireTestbedInCI('the Kubernetes end-to-end tests have a test bed');

describe('RedisHA end to end on the test bed', ON_TESTBED, () => {
  let d: ClusterDeployment;
  let password: string;
  let sentinelPassword: string;

  const masterIP = () => d.clusterIP(d.names.master);
  /** ROLE-like view of every Redis pod through its pod IP. */
  const roles = async () =>
    Promise.all((await d.pods('redis')).map(async (p) => ({ pod: p.name, info: parseReplication(String(await ask({ host: p.ip!, port: REDIS_PORT, password }, 'INFO', 'replication').catch(() => ''))) })));
  async function operatorPod(): Promise<string> {
    return (await kubectl(['-n', 'redis-ha-system', 'get', 'pods', '-l', 'app.kubernetes.io/name=redis-ha-operator', '-o', 'jsonpath={.items[*].metadata.name}'])).trim();
  }

  before(async () => {
    await operatorNamespace(NS, RESOURCE);
    d = new ClusterDeployment(kubeconfig!, NS, NAME);
  });

  after(() => dropNamespace(NS));

  test('the operator brings the RedisHA to Ready', async () => {
    await waitReadyAndAgreed(d, 2, 3);
    password = await d.password();
    sentinelPassword = await d.sentinelPassword();
  });

  test('a write through the -master Service is read through -replicas', async () => {
    await eventually('SET through -master', 60_000, async () => ((await ask({ host: await masterIP(), port: REDIS_PORT, password }, 'SET', 'e2e:greeting', 'hello').catch(() => '')) === 'OK' ? true : undefined));
    const replicasIP = await d.clusterIP(d.names.replicas);
    const value = await eventually('GET through -replicas', 30_000, async () => ((await ask({ host: replicasIP, port: REDIS_PORT, password }, 'GET', 'e2e:greeting').catch(() => null)) === 'hello' ? 'hello' : undefined));
    assert.equal(value, 'hello');
    const role = parseReplication(String(await ask({ host: replicasIP, port: REDIS_PORT, password }, 'INFO', 'replication')));
    assert.equal(role.role, 'replica');
  });

  test('INFO replication: one master with two replicas linked; every Sentinel names it and sees the others', async () => {
    const master = await d.waitSettled(60_000);
    const all = await roles();
    assert.deepEqual(all.filter((r) => r.info.role === 'master').map((r) => r.pod), [master]);
    const info = String(await ask({ host: await masterIP(), port: REDIS_PORT, password }, 'INFO', 'replication'));
    assert.match(info, /connected_slaves:2/);
    for (const r of all.filter((x) => x.pod !== master)) {
      assert.equal(r.info.role, 'replica');
      assert.equal(r.info.masterHost?.split('.')[0], master);
      assert.equal(r.info.linkUp, true, `${r.pod}: master_link_status`);
    }
    const sentinels = await d.pods('sentinel');
    assert.equal(sentinels.length, 3);
    for (const s of sentinels) {
      const named = (await ask({ host: s.ip!, port: SENTINEL_PORT, password: sentinelPassword }, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', d.names.group)) as string[];
      assert.equal(named[0]!.split('.')[0], master, `${s.name} names ${named[0]}`);
      const m = (await ask({ host: s.ip!, port: SENTINEL_PORT, password: sentinelPassword }, 'SENTINEL', 'MASTER', d.names.group)) as string[];
      const fields = new Map<string, string>();
      for (let i = 0; i + 1 < m.length; i += 2) fields.set(m[i]!, m[i + 1]!);
      assert.equal(fields.get('num-slaves'), '2', `${s.name} num-slaves`);
      assert.equal(fields.get('num-other-sentinels'), '2', `${s.name} num-other-sentinels`);
    }
  });

  test('a Sentinel the operator repoints logs in as the sentinel user: its hello link comes up, it lists no node disconnected', async () => {
    // The operator's own user may not SUBSCRIBE or PUBLISH: a Sentinel repointed with it kept its
    // hello link down for good, every node flagged `disconnected` (CI: "sees 0 of 1 replicas").
    const s = (await d.pods('sentinel'))[1]!;
    const sentinel = { host: s.ip!, port: SENTINEL_PORT, password: sentinelPassword };
    await ask(sentinel, 'SENTINEL', 'REMOVE', d.names.group);
    let last = '';
    await eventually(`${s.name} repointed, linked to every node and seeing the other Sentinels`, 60_000, async () => {
      const master = parseFlatRecord(await ask(sentinel, 'SENTINEL', 'MASTER', d.names.group).catch((e: Error) => [e.message, '']));
      const replicas = ((await ask(sentinel, 'SENTINEL', 'REPLICAS', d.names.group).catch(() => [])) as unknown[]).map(parseFlatRecord);
      last = `master ${master.get('name') ? `flags ${master.get('flags')}` : 'not monitored'}, replicas ${replicas.map((r) => r.get('flags')).join(' / ') || 'none'}, other Sentinels ${master.get('num-other-sentinels')}`;
      return master.get('flags') === 'master' && replicas.length === 2 && replicas.every((r) => r.get('flags') === 'slave') && master.get('num-other-sentinels') === '2' ? true : undefined;
    }).catch((err: Error) => assert.fail(`${err.message}; last: ${last}`));
  });

  test('the optional endpoint (redis-ha proxy as a Deployment): port 6379 reaches the master, 6380 a replica', async () => {
    const ip = await d.clusterIP(`${NAME}-endpoint`);
    const master = await d.waitSettled(60_000);
    await eventually('SET through the endpoint', 120_000, async () => ((await ask({ host: ip, port: REDIS_PORT, password }, 'SET', 'e2e:endpoint', 'through the proxy').catch(() => '')) === 'OK' ? true : undefined));
    const reached = parseReplication(String(await ask({ host: ip, port: REDIS_PORT, password }, 'INFO', 'replication')));
    assert.equal(reached.role, 'master');
    const runId = async (host: string) => /run_id:(\w+)/.exec(String(await ask({ host, port: REDIS_PORT, password }, 'INFO', 'server')))?.[1];
    assert.equal(await runId(ip), await runId(await masterIP()), `the endpoint reaches the master pod ${master}`);
    const read = await eventually('GET through the replicas port', 30_000, async () => ((await ask({ host: ip, port: 6380, password }, 'GET', 'e2e:endpoint').catch(() => null)) === 'through the proxy' ? true : undefined));
    assert.equal(read, true);
    assert.equal(parseReplication(String(await ask({ host: ip, port: 6380, password }, 'INFO', 'replication'))).role, 'replica');
  });

  test('force-deleting the master pod: the -master Service routes writes to the new master', async (t) => {
    const trial = await forceDeleteMaster(d);
    t.diagnostic(`${trial.from} -> ${trial.to}: -master Service routed writes after ${trial.masterServiceMs} ms`);
    assert.notEqual(trial.to, trial.from);
    assert.notEqual(await d.waitSettled(180_000), trial.from);
    // The data survived. One fresh connection through the ClusterIP, with a 1 s connect timeout, is not
    // evidence of anything on a loaded node (CI saw one closed before it connected), so as in the
    // operator test below: the read is retried for up to 10 s, and a wrong answer fails at once.
    const greeting = await eventually('a read through -master', 10_000, async () =>
      ask({ host: await masterIP(), port: REDIS_PORT, password }, 'GET', 'e2e:greeting').catch(() => undefined));
    assert.equal(greeting, 'hello');
  });

  test('all Redis pods deleted at once: a single master comes back', async () => {
    await kubectl(['-n', NS, 'delete', 'pods', '-l', `app.kubernetes.io/instance=${NAME},app.kubernetes.io/component=redis`, '--wait=false']);
    await sleep(3000);
    await d.waitSettled(300_000);
    const all = await roles();
    assert.equal(all.filter((r) => r.info.role === 'master').length, 1, JSON.stringify(all.map((r) => [r.pod, r.info.role])));
    const labelled = (await d.pods('redis')).filter((p) => p.labels[MASTER_POD_LABEL] === 'master').map((p) => p.name);
    assert.deepEqual(labelled, [all.find((r) => r.info.role === 'master')!.pod]);
    assert.equal(await d.sentinelMasterPod(), labelled[0]);
  });

  test('the operator killed during a failover: its successor adopts the new master', async () => {
    const from = await d.waitSettled(60_000);
    const op = await operatorPod();
    await Promise.all([
      kubectl(['-n', NS, 'delete', 'pod', from, '--grace-period=0', '--force']),
      kubectl(['-n', 'redis-ha-system', 'delete', 'pod', op, '--grace-period=0', '--force']),
    ]);
    await eventually('a new operator pod', 120_000, async () => {
      const now = await operatorPod();
      return now && now !== op ? now : undefined;
    });
    await kubectl(['-n', 'redis-ha-system', 'rollout', 'status', 'deployment/redis-ha-operator', '--timeout=180s']);
    const sentinelMaster = await d.waitSettled(240_000);
    assert.notEqual(sentinelMaster, from);
    const cr = await d.resource();
    assert.equal(cr.status?.masterPod, sentinelMaster);
    const labelled = (await d.pods('redis')).filter((p) => p.labels[MASTER_POD_LABEL] === 'master').map((p) => p.name);
    assert.deepEqual(labelled, [sentinelMaster]);
    // The label has just moved: kube-proxy programs the -master Service's new endpoint within its sync
    // period (up to 1 s by default), and a connection made before that finds the old one closed.
    const wrote = await eventually('a write through -master to the adopted master', 10_000, async () =>
      ask({ host: await masterIP(), port: REDIS_PORT, password }, 'SET', 'e2e:after-operator', '1').catch(() => undefined));
    assert.equal(wrote, 'OK');
  });

  test('a spec change rolls the pods one at a time, the master last, with no failed write from a Sentinel-aware client', async (t) => {
    const before = (await d.pods('redis')).map((p) => p.uid);
    const masterBefore = await d.waitSettled(120_000);
    const { writer, ips, stop } = await sentinelWriterFromHost(d, 'e2e:roll');
    writer.start();
    try {
      await writer.ackedMore(50);
      await kubectl(['-n', NS, 'patch', 'redisha', NAME, '--type', 'merge', '-p', '{"spec":{"redisConfig":{"maxmemory-policy":"allkeys-lru"}}}']);
      const rolled = await eventually('every Redis pod replaced and the resource Ready', 420_000, async () => {
        const pods = await d.pods('redis');
        if (pods.length !== 3 || pods.some((p) => before.includes(p.uid) || !p.ready)) return undefined;
        return (await d.ready()) ? pods : undefined;
      });
      await d.waitSettled(120_000);
      await writer.ackedMore(50);
      t.diagnostic(`${writer.acked.length} writes acknowledged during the roll, ${writer.failures} failed${writer.failures ? `: ${JSON.stringify([...writer.errors])}` : ''}`);
      assert.equal(rolled.length, 3);
      assert.equal(writer.failures, 0, 'writes failed during the roll');
      const cr = await d.resource();
      assert.notEqual(cr.status?.masterPod, undefined);
      const masterIPNow = ips.get(cr.status!.masterPod!)!;
      await writer.stop();
      assert.deepEqual(await writer.missingOn({ host: masterIPNow, port: REDIS_PORT }, password), [], 'acknowledged writes lost');
      t.diagnostic(`master before the roll ${masterBefore}, after ${cr.status!.masterPod}`);
      const events = await kubectl(['-n', NS, 'get', 'events', '--field-selector', 'reason=RollingUpdate', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']);
      assert.match(events, new RegExp(`switched the master over from ${masterBefore}`));
      assert.equal(cr.status?.lastFailover?.reason, 'Requested', "the roll's switchover is recorded as requested, not as the master going down");
    } finally {
      await stop();
    }
  });
});

const NODISK_NS = 'e2e-k8s-nodisk';
const NODISK_NAME = 'cache';

/** A real RDB holding `keys`, written by a throwaway redis-server on a unix socket (Debian's 7.0.15, as in the image). */
async function snapshotWith(keys: Record<string, string>): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-ha-snapshot-'));
  const sock = join(dir, 'redis.sock');
  try {
    await run('redis-server', ['--port', '0', '--unixsocket', sock, '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', join(dir, 'pid'), '--logfile', join(dir, 'log')]);
    const cli = async (...args: string[]) => (await run('redis-cli', ['-s', sock, ...args])).stdout.trim();
    await eventually('the throwaway redis-server', 10_000, async () => ((await cli('PING').catch(() => '')) === 'PONG' ? true : undefined));
    for (const [k, v] of Object.entries(keys)) await cli('SET', k, v);
    assert.equal(await cli('SAVE'), 'OK');
    await cli('SHUTDOWN', 'NOSAVE').catch(() => '');
    return readFileSync(join(dir, 'dump.rdb'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Plain manifests rendered from this clone (no operator: its image on a shared test bed may come from
// another clone), persistence off as in the brief: what a container restart finds in its emptyDir.
describe('persistence off on the test bed: a Redis container restarted in place loads nothing from disk', ON_TESTBED, () => {
  let d: ClusterDeployment;
  const spec = resolveSpec({
    name: NODISK_NAME,
    replicas: 1,
    sentinels: 1,
    image: { repository: 'localhost/redis-ha/redis', tag: '7.0.15', pullPolicy: 'Never', allowUnpatched: true },
    sentinel: { profile: 'fast' },
    resources: { redis: { requests: { cpu: '50m', memory: '48Mi' }, limits: { memory: '192Mi' } }, sentinel: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } } },
    // The test reaches the pods by their IPs: no endpoint Deployment for -master and -replicas.
    routing: 'label',
  });
  const exec = (pod: string, script: string, input?: Buffer) => kubectl(['-n', NODISK_NS, 'exec', ...(input ? ['-i'] : []), pod, '-c', 'redis', '--', 'sh', '-c', script], input);
  /** The files in a Redis pod's data directory (the image has no ls). */
  const dataFiles = async (pod: string) => (await exec(pod, 'for f in /data/* /data/.[!.]*; do [ -e "$f" ] && echo "$f"; done; true')).trim();
  const restarts = async (pod: string) => Number(await kubectl(['-n', NODISK_NS, 'get', 'pod', pod, '-o', 'jsonpath={.status.containerStatuses[?(@.name=="redis")].restartCount}']));

  before(async () => {
    await freshNamespace(NODISK_NS, formatObjects(renderManifests(spec, { namespace: NODISK_NS }).objects, 'yaml'));
    d = new ClusterDeployment(kubeconfig!, NODISK_NS, NODISK_NAME);
  });

  after(() => dropNamespace(NODISK_NS));

  test('a leftover dump.rdb is removed, the container comes back empty as a replica and resyncs from the socket', async () => {
    const pods = await eventually('both Redis pods Ready', 300_000, async () => {
      const p = await d.pods('redis');
      return p.length === 2 && p.every((x) => x.ready && x.ip) ? p : undefined;
    }).catch(async (err: Error) => {
      const logs = await Promise.all(['redis-0', 'redis-1', 'sentinel-0'].map(async (pod) =>
        `--- ${NODISK_NAME}-${pod}\n${(await kubectl(['-n', NODISK_NS, 'logs', `${NODISK_NAME}-${pod}`, '--all-containers', '--tail=25']).catch((e: Error) => e.message)).trim()}`));
      throw new Error(`${err.message}: ${await podsReport(NODISK_NS)}\n${logs.join('\n')}`);
    });
    const password = await d.password();
    const role = async (ip: string) => parseReplication(String(await ask({ host: ip, port: REDIS_PORT, password }, 'INFO', 'replication')));
    const master = (await Promise.all(pods.map(async (p) => ({ p, r: await role(p.ip!) })))).find((x) => x.r.role === 'master')!.p;
    const replica = pods.find((p) => p.name !== master.name)!;
    assert.equal(await ask({ host: master.ip!, port: REDIS_PORT, password }, 'SET', 'e2e:kept', 'written before the restart'), 'OK');
    assert.equal(await ask({ host: master.ip!, port: REDIS_PORT, password }, 'WAIT', '1', '5000'), 1);

    // What the bug left in the emptyDir: a snapshot holding a key the master never had.
    await exec(replica.name, 'cat > /data/dump.rdb', await snapshotWith({ 'e2e:stale': 'from an old snapshot' }));
    assert.equal(await dataFiles(replica.name), '/data/dump.rdb');
    const before = await restarts(replica.name);
    await exec(replica.name, 'kill 1').catch(() => '');
    const back = await eventually('the redis container restarted in place and Ready', 180_000, async () => {
      const p = (await d.pods('redis')).find((x) => x.name === replica.name);
      return p && p.ready && p.ip && (await restarts(replica.name)) === before + 1 ? p : undefined;
    });
    assert.equal(back.uid, replica.uid, 'the same pod (the emptyDir stayed)');

    assert.equal(await dataFiles(replica.name), '', 'the leftover was removed and the full sync wrote nothing');
    const now = await kubectl(['-n', NODISK_NS, 'logs', replica.name, '-c', 'redis']);
    assert.doesNotMatch(now, /DB loaded from disk/);
    assert.match(now, /Full resync from master/);
    assert.match(now, /receiving streamed RDB from master with EOF to parser/);
    assert.doesNotMatch(now, /to disk/);
    const previous = await kubectl(['-n', NODISK_NS, 'logs', '--previous', replica.name, '-c', 'redis']);
    assert.match(previous, /Received SIGTERM/);
    assert.doesNotMatch(previous, /DB saved on disk/);

    const info = await role(back.ip!);
    assert.equal(info.role, 'replica');
    assert.equal(info.linkUp, true);
    assert.equal(info.masterHost?.split('.')[0], master.name);
    assert.equal(await ask({ host: back.ip!, port: REDIS_PORT, password }, 'GET', 'e2e:stale'), null);
    assert.equal(await ask({ host: back.ip!, port: REDIS_PORT, password }, 'GET', 'e2e:kept'), 'written before the restart');
    assert.equal(await ask({ host: back.ip!, port: REDIS_PORT, password }, 'DBSIZE'), await ask({ host: master.ip!, port: REDIS_PORT, password }, 'DBSIZE'));
  });
});

const TLS_NS = 'e2e-k8s-tls';
const TLS_NAME = 'vault';
/** The spec fields the certificate's names depend on, shared by the resource and the test's certificate. */
const TLS_SPEC = { name: TLS_NAME, replicas: 2, sentinels: 3, endpoint: { enabled: true }, tls: { enabled: true, secretName: `${TLS_NAME}-certs` } };
const TLS_RESOURCE = testbedRedisHA(TLS_NS, TLS_NAME, {
  replicas: TLS_SPEC.replicas,
  sentinels: TLS_SPEC.sentinels,
  tls: { enabled: true, secretName: TLS_SPEC.tls.secretName },
  metrics: { enabled: true, image: EXPORTER_IMAGE },
  endpoint: { enabled: true, replicas: 1, image: OPERATOR_IMAGE },
  sentinel: { profile: 'fast', downAfterMilliseconds: 2000 },
  persistence: undefined,
  resources: SMALL_RESOURCES,
});

describe('RedisHA with TLS from a user-provided Secret, end to end on the test bed', ON_TESTBED, () => {
  let d: ClusterDeployment;
  let password: string;
  let sentinelPassword: string;
  /** `ask`'s target for a pod or Service of the deployment, over TLS verified against the Secret's CA. */
  const to = async (name: string, host: string, port = REDIS_PORT, pass = password) => d.target(name, host, port, pass);

  before(async () => {
    // A CA of the test's own and a certificate naming every pod and Service, as a user would make them.
    const cert = makeCertificate(tlsDnsNames(resolveSpec(TLS_SPEC), TLS_NS));
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: TLS_SPEC.tls.secretName, namespace: TLS_NS }, type: 'kubernetes.io/tls', data: secretData(cert) };
    await operatorNamespace(TLS_NS, JSON.stringify(secret), TLS_RESOURCE);
    d = new ClusterDeployment(kubeconfig!, TLS_NS, TLS_NAME);
  });

  after(() => dropNamespace(TLS_NS));

  test('the operator brings it to Ready, speaking TLS to every pod with the CA it read from the Secret', async () => {
    await waitReadyAndAgreed(d, 2, 3);
    password = await d.password();
    sentinelPassword = await d.sentinelPassword();
  });

  test('a plaintext client to -master is refused; a TLS client writes through -master and reads through -replicas', async () => {
    const masterIP = await d.clusterIP(d.names.master);
    await assert.rejects(ask({ host: masterIP, port: REDIS_PORT, password }, 'PING'), 'plaintext to -master');
    const master = await to(d.names.master, masterIP);
    await eventually('SET through -master over TLS', 60_000, async () => ((await ask(master, 'SET', 'e2e:tls', 'encrypted').catch(() => '')) === 'OK' ? true : undefined));
    const replicas = await to(d.names.replicas, await d.clusterIP(d.names.replicas));
    const value = await eventually('GET through -replicas over TLS', 30_000, async () => ((await ask(replicas, 'GET', 'e2e:tls').catch(() => null)) === 'encrypted' ? true : undefined));
    assert.equal(value, true);
    assert.equal(parseReplication(String(await ask(replicas, 'INFO', 'replication'))).role, 'replica');
  });

  test('replication is up over TLS (no plaintext port anywhere), every Sentinel names the master over TLS, the exporters read over TLS', async () => {
    const master = await d.waitSettled(60_000);
    const operator = { username: 'operator', password: await d.secret(SECRET_KEYS.operator) };
    for (const p of await d.pods('redis')) {
      const target = { ...(await to(p.name, p.ip!)), ...operator };
      await assert.rejects(ask({ host: p.ip!, port: REDIS_PORT, password }, 'PING'), `plaintext to ${p.name}`);
      const config = parseFlatRecord(await ask(target, 'CONFIG', 'GET', 'port', 'tls-port', 'tls-replication'));
      assert.deepEqual(Object.fromEntries(config), { port: '0', 'tls-port': '6379', 'tls-replication': 'yes' }, p.name);
      const info = parseReplication(String(await ask(target, 'INFO', 'replication')));
      if (p.name === master) assert.equal(info.role, 'master');
      else {
        assert.equal(info.role, 'replica', p.name);
        assert.equal(info.masterHost?.split('.')[0], master);
        assert.equal(info.linkUp, true, `${p.name}: master_link_status:up`);
      }
      const metrics = await (await fetch(`http://${p.ip}:9121/metrics`)).text();
      assert.match(metrics, /^redis_up 1$/m, `${p.name}: the exporter reads Redis over TLS`);
    }
    for (const s of await d.pods('sentinel')) {
      await assert.rejects(ask({ host: s.ip!, port: SENTINEL_PORT, password: sentinelPassword }, 'PING'), `plaintext to ${s.name}`);
      const named = (await ask(await to(s.name, s.ip!, SENTINEL_PORT, sentinelPassword), 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', d.names.group)) as string[];
      assert.equal(named[0]!.split('.')[0], master, `${s.name} names ${named[0]}`);
      const m = parseFlatRecord(await ask(await to(s.name, s.ip!, SENTINEL_PORT, sentinelPassword), 'SENTINEL', 'MASTER', d.names.group));
      assert.equal(m.get('num-slaves'), '2', `${s.name} sees both replicas`);
      assert.equal(m.get('num-other-sentinels'), '2', `${s.name} sees the other Sentinels over TLS`);
      assert.match(await (await fetch(`http://${s.ip}:9121/metrics`)).text(), /^redis_up 1$/m, `${s.name}: the exporter reads Sentinel over TLS`);
    }
    const warnings = await kubectl(['-n', TLS_NS, 'get', 'events', '--field-selector', 'type=Warning', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    assert.doesNotMatch(warnings, /CertificateNames|MissingTlsSecret/, 'the certificate names every host and was found');
  });

  test('the endpoint: its checks run over TLS, and a client TLS session passes through to the master', async () => {
    const ip = await d.clusterIP(`${TLS_NAME}-endpoint`);
    const endpoint = await to(`${TLS_NAME}-endpoint`, ip);
    await eventually('SET through the endpoint over TLS', 120_000, async () => ((await ask(endpoint, 'SET', 'e2e:tls-endpoint', '1').catch(() => '')) === 'OK' ? true : undefined));
    assert.equal(parseReplication(String(await ask(endpoint, 'INFO', 'replication'))).role, 'master');
  });

  test('force-deleting the master pod: the -master Service routes TLS writes to the new master', async (t) => {
    const trial = await forceDeleteMaster(d);
    t.diagnostic(`${trial.from} -> ${trial.to}: -master Service routed TLS writes after ${trial.masterServiceMs} ms`);
    assert.notEqual(trial.to, trial.from);
    assert.notEqual(await d.waitSettled(180_000), trial.from);
    const master = await to(d.names.master, await d.clusterIP(d.names.master));
    assert.equal(await ask(master, 'GET', 'e2e:tls'), 'encrypted');
    assert.equal(await ask(master, 'SET', 'e2e:tls-after', '1'), 'OK');
  });
});

const CM_NS = 'e2e-k8s-cert-manager';
const CM_NAME = 'issued';
/** Whether the test bed runs cert-manager (testbed/up installs its CRDs and runs its controller as a host process). */
const certManager = kubeconfig ? await kubectl(['get', 'crd', 'certificates.cert-manager.io', '-o', 'name']).then(() => true, () => false) : false;
if (kubeconfig && !certManager && process.env.CI) {
  test('the cert-manager end-to-end tests have a cert-manager', () => {
    assert.fail('the test bed has no certificates.cert-manager.io CRD: testbed/up installs cert-manager; rerun it');
  });
}
/** A self-signed Issuer makes a CA; a CA Issuer signs the deployment's certificate with it, all in the test's namespace. */
const CM_ISSUERS = `
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: ${CM_NS}}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: ${CM_NAME}-ca, namespace: ${CM_NS}}
spec:
  isCA: true
  commonName: ${CM_NAME} test CA
  secretName: ${CM_NAME}-ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: Issuer, group: cert-manager.io}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ${CM_NAME}-ca, namespace: ${CM_NS}}
spec: {ca: {secretName: ${CM_NAME}-ca}}
`;
const CM_RESOURCE = testbedRedisHA(CM_NS, CM_NAME, {
  replicas: 1,
  tls: { enabled: true, certManager: { issuerRef: { name: `${CM_NAME}-ca`, kind: 'Issuer' } } },
  sentinel: { profile: 'fast', downAfterMilliseconds: 2000 },
  persistence: undefined,
});

describe('RedisHA with TLS from cert-manager (a CA Issuer), end to end on the test bed', {
  skip: !kubeconfig ? 'no test bed: run testbed/up and set REDIS_HA_TESTBED_KUBECONFIG to the path it prints' : !certManager ? 'the test bed runs no cert-manager (no certificates.cert-manager.io CRD): testbed/up installs it' : false,
}, () => {
  let d: ClusterDeployment;
  let password: string;

  before(async () => {
    await operatorNamespace(CM_NS, CM_ISSUERS, CM_RESOURCE);
    d = new ClusterDeployment(kubeconfig!, CM_NS, CM_NAME);
  });

  after(() => dropNamespace(CM_NS));

  test('cert-manager issues the Certificate the operator applied, and the RedisHA becomes Ready on it', async (t) => {
    const started = Date.now();
    const status = await eventually('the Certificate Ready', 120_000, async () => {
      const text = await kubectl(['-n', CM_NS, 'get', 'certificate', `${CM_NAME}-tls`, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).catch(() => '');
      return text === 'True' ? text : undefined;
    });
    assert.equal(status, 'True');
    const issuedMs = Date.now() - started;
    await waitReadyAndAgreed(d, 1, 3);
    t.diagnostic(`Certificate Ready ${issuedMs} ms after the RedisHA was applied; RedisHA Ready after ${Date.now() - started} ms`);
    password = await d.password();
    const names = JSON.parse(await kubectl(['-n', CM_NS, 'get', 'certificate', `${CM_NAME}-tls`, '-o', 'jsonpath={.spec.dnsNames}'])) as string[];
    assert.deepEqual(names, tlsDnsNames(resolveSpec({ name: CM_NAME, replicas: 1, sentinels: 3, tls: { enabled: true, certManager: { issuerRef: { name: 'x' } } } }), CM_NS));
  });

  test('TLS only: plaintext refused, a client trusting the Issuer CA writes through -master, replication and Sentinel over TLS', async () => {
    const masterIP = await d.clusterIP(d.names.master);
    await assert.rejects(ask({ host: masterIP, port: REDIS_PORT, password }, 'PING'), 'plaintext to -master');
    // The Secret's ca.crt is the CA Issuer's certificate: the chain a client verifies goes up to it.
    const master = await d.target(d.names.master, masterIP, REDIS_PORT, password);
    await eventually('SET through -master over TLS', 60_000, async () => ((await ask(master, 'SET', 'e2e:cert-manager', 'issued').catch(() => '')) === 'OK' ? true : undefined));
    const settled = await d.waitSettled(60_000);
    const replica = (await d.pods('redis')).find((p) => p.name !== settled)!;
    const info = parseReplication(String(await ask(await d.target(replica.name, replica.ip!, REDIS_PORT, password), 'INFO', 'replication')));
    assert.equal(info.linkUp, true, 'master_link_status:up');
    assert.equal(await ask(await d.target(replica.name, replica.ip!, REDIS_PORT, password), 'GET', 'e2e:cert-manager'), 'issued');
    assert.equal(await d.sentinelMasterPod(), settled, 'the Sentinels, over TLS, name the master');
  });

  test('a renewed certificate reaches every pod: the operator sees the new Secret and rolls the pods onto it', async (t) => {
    const crt = ['-n', CM_NS, 'get', 'secret', `${CM_NAME}-tls`, '-o', 'jsonpath={.data.tls\\.crt}'];
    const before = await kubectl(crt);
    const started = Date.now();
    // What `cmctl renew` does: an Issuing condition on the Certificate's status.
    const issuing = { type: 'Issuing', status: 'True', reason: 'ManuallyTriggered', message: 'renewal asked by the e2e test', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    await kubectl(['-n', CM_NS, 'patch', 'certificate', `${CM_NAME}-tls`, '--subresource', 'status', '--type', 'json', '-p', JSON.stringify([{ op: 'add', path: '/status/conditions/-', value: issuing }])]);
    const renewed = await eventually('a new certificate in the Secret', 60_000, async () => {
      const now = await kubectl(crt);
      return now !== '' && now !== before ? now : undefined;
    });
    const issuedMs = Date.now() - started;
    const fingerprint = new X509Certificate(Buffer.from(renewed, 'base64')).fingerprint256;
    try {
      await eventually('every Redis and Sentinel pod serving the new certificate', 360_000, async () => {
        // Each miss throws what it saw, so that a timeout names the pods still on the old certificate.
        const pods = [...(await d.pods('redis')).map((p) => ({ name: p.name, ip: p.ip, port: REDIS_PORT })), ...(await d.pods('sentinel')).map((p) => ({ name: p.name, ip: p.ip, port: SENTINEL_PORT }))];
        if (pods.length !== 5) throw new Error(`${pods.length} pods: ${pods.map((p) => p.name).join(', ')}`);
        const stale: string[] = [];
        for (const p of pods) {
          const served = p.ip ? await servedFingerprint(p.ip, p.port) : '';
          if (served !== fingerprint) stale.push(`${p.name} (${served ? 'another certificate' : 'no answer'})`);
        }
        if (stale.length) throw new Error(`not yet serving the new certificate: ${stale.join(', ')}`);
        return true;
      });
    } catch (err) {
      // What the operator did meanwhile: its roll says each step and why it waits.
      throw new Error(`${(err as Error).message}\noperator log:\n${await operatorLog(CM_NS)}`);
    }
    await waitReadyAndAgreed(d, 1, 3);
    t.diagnostic(`new certificate in the Secret after ${issuedMs} ms; every pod serving it and the resource Ready after ${Date.now() - started} ms`);
  });
});

/** The SHA-256 fingerprint of the certificate a TLS server presents ('' when it cannot be reached). */
function servedFingerprint(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, timeout: 3000 }, () => {
      resolve(socket.getPeerCertificate().fingerprint256 ?? '');
      socket.destroy();
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(''));
  });
}
