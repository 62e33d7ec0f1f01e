// Plain manifests (no operator) at a short down-after (the fast profile's 2 s): the master's
// redis-server is SIGKILLed, so no preStop hook asks Sentinel for anything, and the kubelet restarts the
// container in place at once. The restarted pod finds the Sentinels still naming it and fences itself
// (a replica of itself: it may be empty). Answering PING as a replica, it is never seen down, and
// Sentinel's own check of a master that reports itself a replica (after down-after + 20 s) comes later
// than it still trusts replicas whose link went down with it (10 x down-after): every failover it then
// starts aborts with no good replica, for good (seen in an e2e-brief run: 5 minutes of
// -failover-abort-no-good-slave until the test gave up). The fenced pod asks for the failover itself
// (start-redis.sh `fenced_failover`), as its preStop hook would have. Asserted: the Sentinels name
// another pod, every acknowledged write is on it, and the killed pod follows it. The kill waits until
// every Sentinel lists the replicas (`waitSentinelsAgree`): they learn them from the master's INFO every
// 10 s, and a master killed before that is never failed over (CI and a local run, 2026-12-04).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, killRedisOfPod } from '../bench/k8s.ts';
import { REDIS_PORT } from '../src/kubernetes/render/index.ts';
import { eventually } from './helpers.ts';
import { REDIS_IMAGE, SMALL_RESOURCES, dropNamespace, kubectl, ON_TESTBED, failoverReport, plainDeploymentUnderWriter, requireTestbedInCI, type DeploymentUnderWriter } from './testbed-kube.ts';

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
  let u: DeploymentUnderWriter | undefined;
  before(async () => (u = await plainDeploymentUnderWriter(NS, NAME, SPEC, 2, 'e2e:plain-crash')));
  after(() => (u ? u.close() : dropNamespace(NS)));

  test('SIGKILL of the master\'s redis-server: another pod is master, nothing acknowledged is lost, the killed pod follows it', async (t) => {
    const { d, writer, stopWriter } = u!;
    const [old] = await d.sentinelsName();
    const pod = (await d.pods('redis')).find((p) => p.name === old)!;
    const killedAt = Date.now();
    t.diagnostic(`killed redis-server pid ${killRedisOfPod(pod.uid)} of ${old}`);
    const now = await eventually(`the Sentinels to name a pod other than ${old}`, 90_000, async () => {
      const n = await d.sentinelsName();
      const majority = n.filter((x) => x !== undefined && x !== old && x === n.find((y) => y !== undefined && y !== old));
      return majority.length >= 2 ? majority[0] : undefined;
    }).catch(async (err: Error) => {
      // What the Sentinels and the killed pod did, for a failure no later look can explain.
      throw new Error(`${err.message}\n${await failoverReport(NS, (await d.pods('sentinel')).map((p) => p.name), old!)}`);
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
