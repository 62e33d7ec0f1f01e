/**
 * A change of flavour on the test bed (issue 15, item 4): a RedisHA on Debian's Redis 7.0.15 moved to
 * upstream Valkey 9.1.2 (testbed/lib/valkey-image.sh) under an acknowledged-write writer that finds the
 * master through Sentinel. The operator rolls it like any template change: Sentinels first, then the
 * replicas, then one switchover and the old master; every pod ends on Valkey and nothing acknowledged
 * is lost. The way back is refused by the spec check: a Valkey 9 master sends a Redis replica RDB 11,
 * which Redis 7.0 cannot load, so no pod could be replaced; nothing is applied and the message says so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AckedWriter } from '../bench/writer.ts';
import { type ClusterDeployment, ask } from '../bench/k8s.ts';
import { REDIS_PORT, SENTINEL_PORT } from '../src/kubernetes/render/index.ts';
import { parseInfo } from '../src/redis/parse.ts';
import { eventually } from './helpers.ts';
import { REDIS_IMAGE, SMALL_RESOURCES, VALKEY_IMAGE, testbedRedisHA, deploymentUnderWriter, kubectl, ON_TESTBED, operatorEvents, requireTestbedInCI } from './testbed-kube.ts';

const NS = 'e2e-flavour';
const NAME = 'shop';
const REDIS = { repository: REDIS_IMAGE.repository, tag: REDIS_IMAGE.tag, pullPolicy: 'Never', allowUnpatched: true };
const VALKEY = { flavor: 'valkey', repository: VALKEY_IMAGE.repository, tag: VALKEY_IMAGE.tag, pullPolicy: 'Never' };
const resource = (image: Record<string, unknown>) => testbedRedisHA(NS, NAME, {
  image,
  sentinel: { profile: 'fast', downAfterMilliseconds: 2000 },
  resources: { redis: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '128Mi' } }, sentinel: SMALL_RESOURCES.sentinel },
});
const REFUSAL =
  `image: cannot move from valkey ${VALKEY_IMAGE.tag} (running on ${NAME}-redis-0, ${NAME}-redis-1, ${NAME}-redis-2) to redis ${REDIS_IMAGE.tag}: ` +
  `a redis ${REDIS_IMAGE.tag} replica cannot load the RDB format 11 a valkey ${VALKEY_IMAGE.tag} master sends, and each new pod starts as a replica of the running master; ` +
  `keep valkey ${VALKEY_IMAGE.tag}, or use redis 7.2 or newer`;

requireTestbedInCI('the flavour tests have a test bed');

describe('a change of flavour on the test bed: Redis 7.0.15 to Valkey 9.1.2, and the way back refused', ON_TESTBED, () => {
  let d: ClusterDeployment;
  let password: string;
  let sentinelPassword: string;
  let writer: AckedWriter;
  let ips: ReadonlyMap<string, string>;
  let close = async () => {};
  let stopWriter = async () => {};

  /** What every Redis and Sentinel pod says it runs (`INFO server`), asked at its own address. */
  const servers = async () => {
    const asked = [...(await d.pods('redis')).map((p) => ({ p, port: REDIS_PORT, password })), ...(await d.pods('sentinel')).map((p) => ({ p, port: SENTINEL_PORT, password: sentinelPassword }))];
    return Promise.all(asked.map(async ({ p, port, password }) => {
      const info = parseInfo(String(await ask({ host: p.ip!, port, password }, 'INFO', 'server')));
      const valkey = info.get('valkey_version');
      return `${p.name}: ${valkey ? `valkey ${valkey}` : `redis ${info.get('redis_version')}`}`;
    }));
  };
  /** The highest Sentinel config epoch any Sentinel reports: one more for each failover, planned or not. */
  const epoch = async () => Math.max(...((await d.resource()).status?.sentinels ?? []).map((s) => s.configEpoch));

  before(async () => {
    ({ d, password, sentinelPassword, writer, ips, close, stopWriter } = await deploymentUnderWriter(NS, NAME, resource(REDIS), 'e2e:flavour'));
  });

  after(() => close());

  test('Redis 7.0.15 → Valkey 9.1.2: every pod on Valkey, one switchover, nothing acknowledged lost', async (t) => {
    // Every pod must answer (one restarting under the load of the other tests refuses a moment).
    const before = await eventually('every pod to answer INFO server', 60_000, () => servers().catch(() => undefined));
    assert.ok(before.every((s) => s.endsWith(`: redis ${REDIS_IMAGE.tag}`)), before.join('; '));
    const epochBefore = await epoch();
    const started = Date.now();
    await kubectl(['apply', '-f', '-'], resource(VALKEY));
    let last = '';
    await eventually('every pod on Valkey, Ready, the status recording Valkey on every Redis pod', 600_000, async () => {
      const [cr, redis, sentinels] = await Promise.all([d.resource(), d.pods('redis'), d.pods('sentinel')]);
      const nodes = cr.status?.nodes ?? [];
      last = `Ready ${cr.status?.conditions?.find((c) => c.type === 'Ready')?.message}; status ${nodes.map((n) => `${n.id}=${n.server}`).join(' ')}; pods ${[...redis, ...sentinels].map((p) => `${p.name}${p.ready ? '' : ' unready'}`).join(' ')}`;
      if (!(await d.ready()) || redis.length !== 3 || sentinels.length !== 3 || [...redis, ...sentinels].some((p) => !p.ready || p.terminating)) return undefined;
      if (nodes.length !== 3 || nodes.some((n) => n.server !== `valkey ${VALKEY_IMAGE.tag}`)) return undefined;
      const now = await servers().catch(() => []);
      return now.length === 6 && now.every((s) => s.endsWith(`: valkey ${VALKEY_IMAGE.tag}`)) ? true : undefined;
    }).catch((err: Error) => assert.fail(`${err.message}; last seen: ${last}`));
    const rollMs = Date.now() - started;
    await writer.ackedMore(50);

    const events = await operatorEvents(NS, NAME);
    const switched = events.filter((e) => e.reason === 'RollingUpdate' && e.message.startsWith('switched the master over'));
    const deleted = events.filter((e) => e.reason === 'RollingUpdate' && e.message.startsWith('deleted pod'));
    const epochs = (await epoch()) - epochBefore;
    const master = (await d.resource()).status?.masterPod as string;
    await stopWriter();
    const lost = await writer.missingOn({ host: ips.get(master)!, port: REDIS_PORT }, password);
    t.diagnostic(`rolled in ${rollMs} ms: ${deleted.length} pods deleted, ${switched.length} switchover(s) (${switched.map((e) => e.message).join('; ')}), Sentinel epoch +${epochs}; ` +
      `${writer.acked.length} writes acknowledged, ${writer.failures} failed${writer.failures ? ` (${JSON.stringify([...writer.errors].slice(0, 3))})` : ''}, ${lost.length} lost`);
    assert.deepEqual(lost, [], 'acknowledged writes lost');
    assert.equal(switched.length, 1, 'one switchover');
    assert.equal(epochs, 1, 'one failover in the Sentinels\' epoch: the switchover, nothing else');
    assert.equal(deleted.length, 3, 'each Redis pod replaced once');
    assert.equal((await d.resource()).status?.lastFailover?.reason, 'Requested', 'the master moved only by the planned switchover');
  });

  test('Valkey 9.1.2 → Redis 7.0.15: refused by the spec check against what runs, nothing applied', async (t) => {
    const sts = () => d.client.get<{ spec: { template: { spec: { containers: { name: string; image: string }[] } } } }>(`/apis/apps/v1/namespaces/${NS}/statefulsets/${d.names.redis}`);
    const podsBefore = (await d.pods('redis')).map((p) => `${p.name}/${p.uid}`).sort();
    await kubectl(['apply', '-f', '-'], resource(REDIS));
    const event = await eventually('a Warning Event InvalidSpec', 60_000, async () => (await operatorEvents(NS, NAME)).find((e) => e.reason === 'InvalidSpec'));
    assert.equal(event.type, 'Warning');
    assert.equal(event.message, REFUSAL);
    // The runtime keeps writing status on its own passes: Ready stays False with the refusal.
    const ready = await eventually('Ready False InvalidSpec for the refused generation', 30_000, async () => {
      const cr = await d.resource();
      const c = cr.status?.conditions?.find((x) => x.type === 'Ready');
      return c?.reason === 'InvalidSpec' && c.observedGeneration === cr.metadata.generation ? c : undefined;
    });
    assert.equal(ready.status, 'False');
    assert.equal(ready.message, REFUSAL);
    const images = (await sts()).spec.template.spec.containers.map((c) => c.image);
    assert.ok(images.every((i) => i === `${VALKEY_IMAGE.repository}:${VALKEY_IMAGE.tag}`), `the StatefulSet kept the Valkey image: ${images.join(', ')}`);
    assert.deepEqual((await d.pods('redis')).map((p) => `${p.name}/${p.uid}`).sort(), podsBefore, 'no pod replaced');
    assert.ok((await servers()).every((s) => s.endsWith(`: valkey ${VALKEY_IMAGE.tag}`)));
    t.diagnostic(`refused: ${event.message}`);

    // Back to the image that runs: the rejection is lifted and the resource is Ready again.
    await kubectl(['apply', '-f', '-'], resource(VALKEY));
    await d.waitReady(120_000);
    assert.deepEqual((await d.pods('redis')).map((p) => `${p.name}/${p.uid}`).sort(), podsBefore, 'still no pod replaced');
  });
});
