// Plain manifests (no operator) at a short down-after (the fast profile's 2 s): the master's
// redis-server is SIGKILLed, so no preStop hook asks Sentinel for anything, and the kubelet restarts the
// container in place at once. The restarted pod finds the Sentinels still naming it and fences itself
// (a replica of itself: it may be empty). Answering PING as a replica, it is never seen down, and
// Sentinel's own check of a master that reports itself a replica (after down-after + 20 s) comes later
// than it still trusts replicas whose link went down with it (10 x down-after): every failover it then
// starts aborts with no good replica, for good (seen in an e2e-brief run: 5 minutes of
// -failover-abort-no-good-slave until the test gave up). The fenced pod asks for the failover itself
// (start-redis.sh `fenced_failover`), as its preStop hook would have. Asserted: the Sentinels name
// another pod, every acknowledged write is on it, and the killed pod follows it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterDeployment, ask, killRedisOfPod, sentinelWriterFromHost } from '../bench/k8s.ts';
import type { AckedWriter } from '../bench/writer.ts';
import { REDIS_PORT, SENTINEL_PORT } from '../src/kubernetes/render/index.ts';
import { eventually } from './helpers.ts';
import { REDIS_IMAGE, SMALL_RESOURCES, dropNamespace, freshNamespace, kubeconfig, kubectl, ON_TESTBED, redisHa, requireTestbedInCI } from './testbed-kube.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NS = 'e2e-plain-crash';
const NAME = 'plain';
const SPEC = JSON.stringify({
  name: NAME,
  replicas: 2,
  sentinels: 3,
  image: { ...REDIS_IMAGE, pullPolicy: 'Never', allowUnpatched: true },
  persistence: { enabled: false },
  // No endpoint Deployment: the writer finds the master through Sentinel.
  routing: 'label',
  sentinel: { profile: 'fast', downAfterMilliseconds: 2000 },
  resources: { redis: SMALL_RESOURCES.redis, sentinel: SMALL_RESOURCES.sentinel },
});

requireTestbedInCI('the plain-manifests crash test has a test bed');

describe('plain manifests: a master killed in place at a short down-after is failed over', ON_TESTBED, () => {
  let d: ClusterDeployment;
  let writer: AckedWriter;
  let stopWriter = async () => {};

  /** What each Sentinel names as master, as a pod name (undefined: no answer). */
  const named = async () => {
    const password = await d.sentinelPassword();
    return Promise.all((await d.pods('sentinel')).map(async (p) => {
      const r = p.ip ? await ask({ host: p.ip, port: SENTINEL_PORT, password }, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', d.names.group).catch(() => undefined) : undefined;
      return Array.isArray(r) ? String(r[0]).split('.')[0] : undefined;
    }));
  };

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-ha-plain-crash-'));
    writeFileSync(join(dir, 'spec.json'), SPEC);
    await freshNamespace(NS, await redisHa(['render', '-f', join(dir, 'spec.json'), '--namespace', NS]));
    d = new ClusterDeployment(kubeconfig!, NS, NAME);
    await kubectl(['-n', NS, 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=300s']);
    await eventually('every Sentinel naming one master, with both replicas linked', 120_000, async () => {
      const n = await named();
      if (!n[0] || n.some((x) => x !== n[0])) return undefined;
      const password = await d.password();
      const master = (await d.pods('redis')).find((p) => p.name === n[0]);
      const info = master?.ip ? String(await ask({ host: master.ip, port: REDIS_PORT, password }, 'INFO', 'replication').catch(() => '')) : '';
      return (info.match(/^slave\d+:.*state=online/gm) ?? []).length === 2 ? true : undefined;
    });
    ({ writer, stop: stopWriter } = await sentinelWriterFromHost(d, 'e2e:plain-crash'));
    writer.start();
    await writer.ackedMore(50);
  });

  after(async () => {
    await stopWriter();
    await dropNamespace(NS);
  });

  test('SIGKILL of the master\'s redis-server: another pod is master, nothing acknowledged is lost, the killed pod follows it', async (t) => {
    const [old] = await named();
    const pod = (await d.pods('redis')).find((p) => p.name === old)!;
    const killedAt = Date.now();
    t.diagnostic(`killed redis-server pid ${killRedisOfPod(pod.uid)} of ${old}`);
    const now = await eventually(`the Sentinels to name a pod other than ${old}`, 90_000, async () => {
      const n = await named();
      const majority = n.filter((x) => x !== undefined && x !== old && x === n.find((y) => y !== undefined && y !== old));
      return majority.length >= 2 ? majority[0] : undefined;
    });
    t.diagnostic(`the Sentinels named ${now} ${Date.now() - killedAt} ms after the kill`);
    await writer.ackedMore(50, 60_000);
    await stopWriter();
    const password = await d.password();
    const master = (await d.pods('redis')).find((p) => p.name === now)!;
    assert.deepEqual(await writer.missingOn({ host: master.ip!, port: REDIS_PORT }, password), [], 'acknowledged writes lost');
    const log = await kubectl(['-n', NS, 'logs', old!, '-c', 'redis']);
    t.diagnostic(/asked Sentinel to fail it over/.test(log) ? 'the fenced pod asked Sentinel to fail it over' : 'Sentinel failed over by itself (the pod restarted after down-after)');
    await eventually(`${old} replicating from ${now}`, 60_000, async () => {
      const killed = (await d.pods('redis')).find((p) => p.name === old);
      const role = killed?.ip ? await ask({ host: killed.ip, port: REDIS_PORT, password }, 'ROLE').catch(() => undefined) : undefined;
      return Array.isArray(role) && role[0] === 'slave' && String(role[1]).split('.')[0] === now && role[3] === 'connected' ? true : undefined;
    });
  });
});
