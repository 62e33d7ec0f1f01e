/**
 * Scaling live on the test bed (issue 15, item 3): `replicas` 2 → 4 → 1 and `sentinels` 3 → 5 → 3
 * changed on a RedisHA under an acknowledged-write writer that finds the master through Sentinel.
 * A scale-down never removes the master (the operator switches over to a pod that stays first), the
 * Sentinels forget the removed replicas and Sentinels (reset one at a time), the quorum follows the
 * Sentinel count, and nothing acknowledged is lost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AckedWriter } from '../bench/writer.ts';
import { type ClusterDeployment, ask } from '../bench/k8s.ts';
import { REDIS_PORT, SENTINEL_PORT } from '../src/kubernetes/render/index.ts';
import { SWITCHOVER_ANNOTATION } from '../src/kubernetes/switchover-request.ts';
import { parseFlatRecord } from '../src/redis/parse.ts';
import { eventually } from './helpers.ts';
import { SMALL_RESOURCES, testbedRedisHA, deploymentUnderWriter, kubectl, ON_TESTBED, requireTestbedInCI } from './testbed-kube.ts';

const NS = 'e2e-scale';
const NAME = 'grow';
const RESOURCE = testbedRedisHA(NS, NAME, {
  sentinel: { profile: 'fast', downAfterMilliseconds: 2000 },
  resources: { redis: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '128Mi' } }, sentinel: SMALL_RESOURCES.sentinel },
});

requireTestbedInCI('the scaling tests have a test bed');

describe('scaling live on the test bed', ON_TESTBED, () => {
  let d: ClusterDeployment;
  let password: string;
  let sentinelPassword: string;
  let writer: AckedWriter;
  let ips: ReadonlyMap<string, string>;
  let close = async () => {};

  /** What each Sentinel pod reports for the group: quorum, replicas and other Sentinels it lists, CKQUORUM. */
  const sentinelViews = async () =>
    Promise.all((await d.pods('sentinel')).map(async (p) => {
      const target = { host: p.ip!, port: SENTINEL_PORT, password: sentinelPassword };
      const m = parseFlatRecord((await ask(target, 'SENTINEL', 'MASTER', d.names.group)) as string[]);
      const replicas = ((await ask(target, 'SENTINEL', 'REPLICAS', d.names.group)) as unknown[]).length;
      const sentinels = ((await ask(target, 'SENTINEL', 'SENTINELS', d.names.group)) as unknown[]).length;
      const ckquorum = String(await ask(target, 'SENTINEL', 'CKQUORUM', d.names.group).catch((err: Error) => err.message));
      return { pod: p.name, quorum: Number(m.get('quorum')), replicas, sentinels, ckquorum };
    }));

  /** Waits for the scale to `replicas` + 1 Redis pods and `sentinels` Sentinels: Ready, and every Sentinel listing exactly them. */
  async function scaledTo(replicas: number, sentinels: number, timeoutMs: number) {
    const quorum = Math.floor(sentinels / 2) + 1;
    return eventually(`${replicas + 1} Redis pods and ${sentinels} Sentinels, Ready, every Sentinel listing exactly them with quorum ${quorum}`, timeoutMs, async () => {
      // Each miss throws what it saw, so that a timeout says which condition never held.
      const [redis, sentinel] = await Promise.all([d.pods('redis'), d.pods('sentinel')]);
      if (redis.length !== replicas + 1 || sentinel.length !== sentinels) throw new Error(`pods: redis ${redis.map((p) => p.name).join(',')}; sentinel ${sentinel.map((p) => p.name).join(',')}`);
      const cr = await d.resource();
      const ready = cr.status?.conditions?.find((c) => c.type === 'Ready');
      if (!(await d.ready())) throw new Error(`Ready ${ready?.status} (${ready?.reason}: ${ready?.message}); problems: ${cr.status?.problems?.join('; ') || 'none'}`);
      if (cr.status?.readyReplicas !== replicas || cr.status?.sentinelsAgreeing !== sentinels) throw new Error(`status: readyReplicas ${cr.status?.readyReplicas}, sentinelsAgreeing ${cr.status?.sentinelsAgreeing}`);
      // A scale changes the pods' start scripts (they list the pods), so the operator rolls every Redis pod;
      // the roll ends with a switchover of its own. Until each pod runs the update revision it may still move
      // the master (a CI run under NetworkPolicy enforcement: the next test's switchover to redis-4 found the
      // roll had just made it master).
      const sts = JSON.parse(await kubectl(['-n', NS, 'get', 'statefulset', d.names.redis, '-o', 'json'])) as { status?: { updateRevision?: string } };
      const outdated = redis.filter((p) => p.labels['controller-revision-hash'] !== sts.status?.updateRevision).map((p) => p.name);
      if (!sts.status?.updateRevision || outdated.length) throw new Error(`the roll is not over: ${outdated.join(', ') || 'no update revision'} not on ${sts.status?.updateRevision}`);
      const views = await sentinelViews();
      if (views.some((v) => v.replicas !== replicas || v.sentinels !== sentinels - 1 || v.quorum !== quorum || !/^OK/.test(v.ckquorum))) throw new Error(`Sentinels: ${JSON.stringify(views)}`);
      return { views, master: cr.status?.masterPod as string };
    });
  }

  before(async () => {
    ({ d, password, sentinelPassword, writer, ips, close } = await deploymentUnderWriter(NS, NAME, RESOURCE, 'e2e:scale'));
  });

  after(() => close());


  test('up: replicas 2 → 4 and sentinels 3 → 5; every Sentinel lists the new members and the quorum is 3', async (t) => {
    await kubectl(['-n', NS, 'patch', 'redisha', NAME, '--type', 'merge', '-p', '{"spec":{"replicas":4,"sentinels":5}}']);
    const { views } = await scaledTo(4, 5, 600_000);
    t.diagnostic(JSON.stringify(views));
    await writer.ackedMore(50);
  });

  test('down: replicas 4 → 1 and sentinels 5 → 3 with the master on a pod that goes: switched over first, removed members forgotten, nothing lost', async (t) => {
    // The master on the highest ordinal, which the StatefulSet removes first.
    const settled = await d.waitSettled(120_000);
    if (settled !== `${NAME}-redis-4`) {
      await kubectl(['-n', NS, 'annotate', '--overwrite', 'redisha', NAME, `${SWITCHOVER_ANNOTATION}=to-4 ${NAME}-redis-4`]);
      await eventually(`${NAME}-redis-4 master`, 120_000, async () => ((await d.resource()).status?.switchover?.request === 'to-4' ? true : undefined));
      assert.equal((await d.resource()).status?.switchover?.result, 'Succeeded', JSON.stringify((await d.resource()).status?.switchover));
    }
    assert.equal(await d.waitSettled(120_000), `${NAME}-redis-4`);
    await writer.ackedMore(50);
    await kubectl(['-n', NS, 'patch', 'redisha', NAME, '--type', 'merge', '-p', '{"spec":{"replicas":1,"sentinels":3}}']);
    const { views, master } = await scaledTo(1, 3, 600_000);
    t.diagnostic(JSON.stringify(views));
    assert.ok(master === `${NAME}-redis-0` || master === `${NAME}-redis-1`, `the master ${master} is a pod that stays`);
    await writer.ackedMore(50);
    await writer.stop();
    t.diagnostic(`${writer.acked.length} writes acknowledged while scaling, ${writer.failures} failed${writer.failures ? `: ${JSON.stringify([...writer.errors].slice(0, 3))}` : ''}`);
    assert.deepEqual(await writer.missingOn({ host: ips.get(master)!, port: REDIS_PORT }, password), [], 'acknowledged writes lost');
    const events = await kubectl(['-n', NS, 'get', 'events', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    assert.match(events, /ScaleDownHeld: scaling down from 5 to 2 Redis pods: held until the master is one of the pods that stay/);
    assert.match(events, new RegExp(`RollingUpdate: switched the master over from ${NAME}-redis-4 to ${NAME}-redis-[01] \\(writes paused \\d+ ms\\): scaling down to 2 Redis pods removes the master ${NAME}-redis-4`));
    // Sentinels the scale rolled (their template lists the pods) start afresh; the others are reset.
    t.diagnostic(`Sentinel resets: ${(events.match(/did sentinel-reset/g) ?? []).length}`);
    const cr = await d.resource();
    assert.equal(cr.status?.lastFailover?.reason, 'Requested', 'the master moved only by the planned switchover');
  });
});
