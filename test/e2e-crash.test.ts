// Crashes beat down-after (issue 15, item 2), end to end on the Kubernetes test bed: a RedisHA at
// Sentinel's default down-after (5 s) under an acknowledged-write writer through its -master Service.
// 1. The master's redis-server is SIGKILLed (a crash: no preStop hook) while its container cannot start
//    again (the node no longer has the image): the operator sees the container terminated and asks
//    Sentinel to fail over at once. Its Event says so, and no Sentinel saw the master objectively down
//    before the switch (down-after did not decide).
// 2. The master pod is force-deleted while every node is cordoned (the replacement cannot be scheduled):
//    the failover is asked at once too (here the kubelet's preStop hook usually asks first; the
//    operator's rule is there when it does not), again before any +odown.
// In both: no acknowledged write is lost, and the new master serves through -master.
// Timings are for bench/ (`redis-ha bench failover --k8s`), not asserted here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { AckedWriter } from '../bench/writer.ts';
import { ClusterDeployment, ask, killRedisOfPod } from '../bench/k8s.ts';
import { REDIS_PORT, SENTINEL_PORT } from '../src/kubernetes/render/index.ts';
import { parseReplication } from '../src/redis/parse.ts';
import { eventually } from './helpers.ts';
import { REDIS_IMAGE, testbedRedisHA, ctr, dropNamespace, freshNamespace, installOperator, kubeconfig, kubectl, withoutImage, operatorEvents, ON_TESTBED, requireTestbedInCI } from './testbed-kube.ts';

const NS = 'e2e-crash';
const NAME = 'crash';
/**
 * The test bed's Redis image under a name of this test's own: removing it from the node (so the killed
 * master's container cannot start again) must not stop another test's pods from starting. It once did:
 * the brief's test, beside this one in CI, had its force-deleted master's replacement waiting for the
 * shared image, and every Redis pod unready for 5 minutes.
 */
const REPOSITORY = `${REDIS_IMAGE.repository}-e2e-crash`;
const IMAGE = `${REPOSITORY}:${REDIS_IMAGE.tag}`;
/** Another name of the same image on the test bed (testbed/up tags it): it keeps the content while IMAGE is removed. */
const SAME_IMAGE = `${REDIS_IMAGE.repository}:test`;
const RESOURCE = testbedRedisHA(NS, NAME, { image: { repository: REPOSITORY, tag: REDIS_IMAGE.tag, pullPolicy: 'Never', allowUnpatched: true } });

/** Every Sentinel's events about the master group, in the order they arrived, from subscriptions of our own. */
class SentinelEvents {
  readonly seen: { type: string; message: string }[] = [];
  readonly #subs: Redis[] = [];

  async subscribe(d: ClusterDeployment, password: string): Promise<void> {
    for (const p of await d.pods('sentinel')) {
      const sub = new Redis({ host: p.ip!, port: SENTINEL_PORT, password, lazyConnect: true, retryStrategy: () => 200 });
      sub.on('error', () => {});
      sub.on('pmessage', (_pattern: string, channel: string, message: string) => {
        if (message.includes(d.names.group)) this.seen.push({ type: channel, message });
      });
      await sub.connect();
      await sub.psubscribe('*');
      this.#subs.push(sub);
    }
  }

  /** The event types before the first `+switch-master`; undefined until one came. */
  beforeSwitch(): string[] | undefined {
    const i = this.seen.findIndex((e) => e.type === '+switch-master');
    return i < 0 ? undefined : this.seen.slice(0, i).map((e) => e.type);
  }

  close(): void {
    for (const s of this.#subs) s.disconnect();
  }
}

requireTestbedInCI('the crash end-to-end tests have a test bed');

describe('crashes beat down-after, on the test bed', ON_TESTBED, () => {
  let d: ClusterDeployment;
  let password: string;
  let sentinelPassword: string;

  before(async () => {
    await installOperator();
    await ctr(['images', 'tag', '--force', SAME_IMAGE, IMAGE]);
    await freshNamespace(NS, RESOURCE);
    d = new ClusterDeployment(kubeconfig!, NS, NAME);
  });

  after(() => dropNamespace(NS));

  /** A writer through the -master Service, started and acknowledged a few times. */
  async function startWriter(prefix: string): Promise<AckedWriter> {
    const writer = new AckedWriter({ target: { endpoint: { host: await d.clusterIP(d.names.master), port: REDIS_PORT } }, password, prefix });
    writer.start();
    await writer.ackedMore(200, 60_000);
    return writer;
  }

  /** After the writer stopped: every acknowledged write is on the master -master reaches, and that master is `expected`. */
  async function assertNothingLost(writer: AckedWriter, expected: string): Promise<void> {
    const masterIP = await d.clusterIP(d.names.master);
    const role = parseReplication(String(await ask({ host: masterIP, port: REDIS_PORT, password }, 'INFO', 'replication')));
    assert.equal(role.role, 'master', 'the -master Service reaches a master');
    const pod = (await d.pods('redis')).find((p) => p.name === expected);
    const ownRunId = /run_id:(\w+)/.exec(String(await ask({ host: pod!.ip!, port: REDIS_PORT, password }, 'INFO', 'server')))?.[1];
    const viaService = /run_id:(\w+)/.exec(String(await ask({ host: masterIP, port: REDIS_PORT, password }, 'INFO', 'server')))?.[1];
    assert.equal(viaService, ownRunId, `-master reaches ${expected}, the master the Sentinels name`);
    const missing = await writer.missingOn({ host: masterIP, port: REDIS_PORT }, password);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${writer.acked.length} acknowledged writes lost`);
    assert.ok(writer.acked.length > 400, `the writer kept writing (${writer.acked.length} acknowledged)`);
  }

  test('the RedisHA is Ready at the default down-after', async () => {
    await d.waitReady(300_000);
    password = await d.password();
    sentinelPassword = await d.sentinelPassword();
    const reply = (await ask({ host: (await d.pods('sentinel'))[0]!.ip!, port: SENTINEL_PORT, password: sentinelPassword }, 'SENTINEL', 'MASTER', d.names.group)) as string[];
    assert.equal(reply[reply.indexOf('down-after-milliseconds') + 1], '5000');
  });

  test('the master\'s redis-server killed while its container cannot start again: the operator asks Sentinel at once, nothing acknowledged is lost', async (t) => {
    const from = await d.waitSettled(240_000);
    const uid = (await d.pods('redis')).find((p) => p.name === from)!.uid;
    const events = new SentinelEvents();
    await events.subscribe(d, sentinelPassword);
    const writer = await startWriter('e2e-crash:kill');
    let to = '';
    try {
      await withoutImage(IMAGE, SAME_IMAGE, async () => {
        const pid = killRedisOfPod(uid);
        t.diagnostic(`killed redis-server pid ${pid} of ${from}`);
        // The operator's own account: it asked because the container is not running, not because of a restart or down-after.
        const asked = await eventually('the operator\'s Event for the failover it asked for', 60_000, async () =>
          (await operatorEvents(NS, NAME)).find((e) => e.reason === 'Repaired' && e.message.startsWith(`did sentinel-failover of ${from}: `)));
        assert.ok(asked.message.startsWith(`did sentinel-failover of ${from}: master ${from} is gone (the redis container of pod ${from} `), asked.message);
        to = await eventually('the Sentinels to name another master', 60_000, async () => {
          const m = await d.sentinelMasterPod();
          return m && m !== from ? m : undefined;
        });
        // Sentinel's own path (down-after, then +odown) did not decide: the switch came first.
        const before = await eventually('a +switch-master from a Sentinel', 30_000, async () => events.beforeSwitch());
        assert.ok(!before.includes('+odown') && !before.includes('+sdown'), `Sentinel events before the switch: ${before.join(', ')}`);
        await writer.ackedMore(200, 60_000);
        // The scenario is the one it claims: the killed master's container could not start again.
        const waiting = await eventually(`${from}'s redis container waiting for its image`, 60_000, async () => {
          const pod = JSON.parse(await kubectl(['-n', NS, 'get', 'pod', from, '-o', 'json'])) as { status?: { containerStatuses?: { name: string; state?: { waiting?: { reason?: string } } }[] } };
          const reason = pod.status?.containerStatuses?.find((c) => c.name === 'redis')?.state?.waiting?.reason;
          return reason === 'ErrImageNeverPull' ? reason : undefined;
        });
        assert.equal(waiting, 'ErrImageNeverPull');
      });
    } finally {
      await writer.stop();
      events.close();
    }
    t.diagnostic(`${from} -> ${to}; ${writer.acked.length} writes acknowledged, ${writer.failures} failed`);
    await assertNothingLost(writer, to);
    assert.equal(await d.waitSettled(300_000), to, 'once its image is back, the old master returns as a replica');
  });

  test('the master pod force-deleted while no replacement can be scheduled: failed over before down-after, nothing acknowledged is lost', async (t) => {
    const from = await d.waitSettled(240_000);
    const events = new SentinelEvents();
    await events.subscribe(d, sentinelPassword);
    const writer = await startWriter('e2e-crash:delete');
    // Every node its pods may go to: not testbed/node's workers, which they do not tolerate.
    const node = (await kubectl(['get', 'nodes', '-l', '!redis-ha.io/testbed-pool', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/);
    let to = '';
    await kubectl(['cordon', ...node]);
    try {
      await kubectl(['-n', NS, 'delete', 'pod', from, '--grace-period=0', '--force', '--wait=false']);
      to = await eventually('the Sentinels to name another master', 60_000, async () => {
        const m = await d.sentinelMasterPod();
        return m && m !== from ? m : undefined;
      });
      const before = await eventually('a +switch-master from a Sentinel', 30_000, async () => events.beforeSwitch());
      assert.ok(!before.includes('+odown') && !before.includes('+sdown'), `Sentinel events before the switch: ${before.join(', ')}`);
      assert.ok(before.includes('+try-failover'), `a failover was asked for: ${before.join(', ')}`);
      await writer.ackedMore(200, 60_000);
      const replacement = (await d.pods('redis')).find((p) => p.name === from);
      assert.ok(replacement === undefined || !replacement.ready, 'the replacement pod did not start');
    } finally {
      await kubectl(['uncordon', ...node]);
      await writer.stop();
      events.close();
    }
    t.diagnostic(`${from} -> ${to}; ${writer.acked.length} writes acknowledged, ${writer.failures} failed`);
    await assertNothingLost(writer, to);
    assert.equal(await d.waitSettled(300_000), to);
  });
});
