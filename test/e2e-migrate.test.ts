// The operator's migration (spec.migrateFrom) on the test bed, against a Bitnami-shaped source the test
// applies itself: a StatefulSet redis-node whose pods run Redis with a Sentinel beside it, master set
// mymaster, the password in the Secret redis (key redis-password), hostnames announced (the chart's
// useHostnames). An acknowledged-write client finds the master only through the SOURCE's Sentinels the
// whole time. The RedisHA takes over: nothing acknowledged is lost, and the end has exactly one master,
// the RedisHA's, named by every Sentinel (old and new) and followed by every other node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AckedWriter } from '../bench/writer.ts';
import { PodIps, ask, writerByPodIps } from '../bench/k8s.ts';
import { eventually } from './helpers.ts';
import { REDIS_IMAGE, dropNamespace, freshNamespace, installOperator, kubectl, ON_TESTBED, operatorEvents, podsReport, requireTestbedInCI, testbedRedisHA } from './testbed-kube.ts';

const NAME = 'cache';
const PASSWORD = 'source-password-0123456789';
const IMAGE = `${REDIS_IMAGE.repository}:${REDIS_IMAGE.tag}`;
const domainOf = (NS: string) => `redis-headless.${NS}.svc.cluster.local`;

/** The source in namespace NS: the Bitnami chart's shape (one StatefulSet, Redis and Sentinel in each pod), pod 0 master at first start. */
const sourceOf = (NS: string, DOMAIN = domainOf(NS)) => [
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'redis', namespace: NS }, stringData: { 'redis-password': PASSWORD } },
  {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'redis-headless', namespace: NS },
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { app: 'source' }, ports: [{ name: 'tcp-redis', port: 6379 }, { name: 'tcp-sentinel', port: 26379 }] },
  },
  {
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'redis-node', namespace: NS },
    spec: {
      serviceName: 'redis-headless', replicas: 3, podManagementPolicy: 'Parallel', selector: { matchLabels: { app: 'source' } },
      template: {
        metadata: { labels: { app: 'source', 'redis-ha.io/client-cache': 'true' } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'redis', image: IMAGE, imagePullPolicy: 'Never',
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis', key: 'redis-password' } } }],
              command: ['sh', '-c', [
                `me="$POD_NAME.${DOMAIN}"`,
                `set -- --port 6379 --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD" --replica-announce-ip "$me" --save "" --appendonly no --dir /data`,
                `[ "$POD_NAME" = redis-node-0 ] || set -- "$@" --replicaof redis-node-0.${DOMAIN} 6379`,
                'exec redis-server "$@"',
              ].join('\n')],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
            {
              name: 'sentinel', image: IMAGE, imagePullPolicy: 'Never',
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis', key: 'redis-password' } } }],
              command: ['sh', '-c', [
                'conf=/sentinel/sentinel.conf',
                '{',
                '  echo "port 26379"',
                '  echo "dir /sentinel"',
                '  echo "sentinel resolve-hostnames yes"',
                '  echo "sentinel announce-hostnames yes"',
                `  echo "sentinel announce-ip $POD_NAME.${DOMAIN}"`,
                '  echo "requirepass $REDIS_PASSWORD"',
                '  echo "sentinel sentinel-pass $REDIS_PASSWORD"',
                `  echo "sentinel monitor mymaster redis-node-0.${DOMAIN} 6379 2"`,
                '  echo "sentinel auth-pass mymaster $REDIS_PASSWORD"',
                '  echo "sentinel down-after-milliseconds mymaster 5000"',
                '  echo "sentinel failover-timeout mymaster 20000"',
                '} > "$conf"',
                // The master's name resolves once its pod has an address.
                `until [ "$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --no-auth-warning -h redis-node-0.${DOMAIN} PING 2>/dev/null)" = PONG ]; do sleep 1; done`,
                'exec redis-sentinel "$conf"',
              ].join('\n')],
              volumeMounts: [{ name: 'sentinel', mountPath: '/sentinel' }],
            },
          ],
          volumes: [{ name: 'data', emptyDir: {} }, { name: 'sentinel', emptyDir: {} }],
        },
      },
    },
  },
].map((o) => JSON.stringify(o)).join('\n---\n');

const resourceOf = (NS: string) => testbedRedisHA(NS, NAME, {
  migrateFrom: { sentinels: [0, 1, 2].map((i) => `redis-node-${i}.${domainOf(NS)}:26379`), masterName: 'mymaster', secretName: 'redis' },
  sentinel: { downAfterMilliseconds: 5000, failoverTimeout: 20000 },
});

/** Pod name to IP in the namespace (Sentinel names pods by hostname). */
function podIpsOf(ns: string): PodIps {
  return new PodIps(async () => (JSON.parse(await kubectl(['-n', ns, 'get', 'pods', '-o', 'json'])) as { items: { metadata: { name: string }; status: { podIP?: string } }[] }).items
    .map((p) => ({ name: p.metadata.name, ip: p.status.podIP })), 500);
}

interface MigrationJson { phase: string; step: string; message: string; switchedTo?: string; writePauseMs?: number }

async function migration(NS: string): Promise<MigrationJson | undefined> {
  const r = JSON.parse(await kubectl(['-n', NS, 'get', 'redisha', NAME, '-o', 'json'])) as { status?: { migration?: MigrationJson } };
  return r.status?.migration;
}

/** The operator's pod now (one replica), or undefined between pods. */
async function operatorPod(): Promise<string | undefined> {
  const list = JSON.parse(await kubectl(['-n', 'redis-ha-system', 'get', 'pods', '-l', 'app.kubernetes.io/name=redis-ha-operator', '-o', 'json'])) as { items: { metadata: { name: string; deletionTimestamp?: string } }[] };
  return list.items.find((p) => !p.metadata.deletionTimestamp)?.metadata.name;
}

/**
 * Each scenario: the source under an acknowledged-write client, the RedisHA applied, and the operator
 * SIGKILLed (force-deleted) at each of `kills`: while the migration is at one of those steps (before
 * the switchover) or once the switchover is recorded (`after-switchover`). Its successor resumes from
 * status.migration and the Sentinels.
 */
const SCENARIOS: { ns: string; what: string; kills: ('deploy-or-sync' | 'after-switchover')[] }[] = [
  { ns: 'e2e-migrate', what: 'applied under load', kills: [] },
  { ns: 'e2e-migrate-kill', what: 'the operator killed before the switchover (deploy or sync) and again after it', kills: ['deploy-or-sync', 'after-switchover'] },
];

requireTestbedInCI('the migration test has a test bed');

for (const { ns: NS, what, kills } of SCENARIOS) describe(`the operator takes over a running Bitnami-shaped deployment (spec.migrateFrom): ${what}`, ON_TESTBED, () => {
  const pods = podIpsOf(NS);
  let writer: AckedWriter | undefined;

  before(async () => {
    await installOperator();
    await freshNamespace(NS, sourceOf(NS));
    await eventually('the source Sentinels to name redis-node-0 and see 2 replicas', 180_000, async () => {
      await pods.refresh();
      const views = await Promise.all([0, 1, 2].map(async (i) => {
        const ip = pods.ips.get(`redis-node-${i}`);
        if (!ip) return undefined;
        const m = await ask({ host: ip, port: 26379, password: PASSWORD }, 'SENTINEL', 'MASTER', 'mymaster').catch(() => undefined) as string[] | undefined;
        if (!m) return undefined;
        const f = new Map<string, string>();
        for (let k = 0; k + 1 < m.length; k += 2) f.set(m[k]!, m[k + 1]!);
        return f.get('ip')?.startsWith('redis-node-0.') && f.get('num-slaves') === '2' && f.get('num-other-sentinels') === '2' ? true : undefined;
      }));
      return views.every(Boolean) ? true : undefined;
    }).catch(async (err: Error) => assert.fail(`${err.message}: ${await podsReport(NS)}`));
    pods.start();
    writer = writerByPodIps({
      target: { masterName: 'mymaster', sentinels: [0, 1, 2].map((i) => ({ host: pods.of(`redis-node-${i}`), port: 26379 })), sentinelPassword: PASSWORD },
      password: PASSWORD,
      prefix: `e2e:${NS}`,
    }, pods);
    writer.start();
    await writer.ackedMore(200, 60_000);
  });

  after(async () => {
    await writer?.stop().catch(() => {});
    await pods.stop();
    await dropNamespace(NS);
  });

  if (kills.length === 0) {
    test('a check that fails changes nothing: no pod starts, the source\'s group is as it was, the step and its line in status', async () => {
      const wrong = JSON.parse(resourceOf(NS)) as { spec: { migrateFrom: { masterName: string } } };
      wrong.spec.migrateFrom.masterName = 'nosuch';
      await kubectl(['apply', '-f', '-'], JSON.stringify(wrong));
      const failed = await eventually('status.migration Failed at check', 120_000, async () => {
        const m = await migration(NS).catch(() => undefined);
        return m?.phase === 'Failed' ? m : undefined;
      });
      assert.equal(failed.step, 'check');
      assert.equal(failed.message, "check 'sentinels' failed: no source Sentinel monitors a master named 'nosuch' (asked " +
        [0, 1, 2].map((i) => `redis-node-${i}.${domainOf(NS)}:26379`).join(', ') + '); nothing was changed');
      const ours = JSON.parse(await kubectl(['-n', NS, 'get', 'pods', '-l', `app.kubernetes.io/instance=${NAME}`, '-o', 'json'])) as { items: unknown[] };
      assert.equal(ours.items.length, 0, 'no pod of the RedisHA started');
      for (const i of [0, 1, 2]) {
        const e = { host: pods.of(`redis-node-${i}`), port: 26379, password: PASSWORD };
        assert.equal(((await ask(e, 'SENTINEL', 'SENTINELS', 'mymaster')) as unknown[]).length, 2, `redis-node-${i}'s Sentinel knows only the other 2`);
        assert.equal(((await ask(e, 'SENTINEL', 'REPLICAS', 'mymaster')) as unknown[]).length, 2, `redis-node-${i}'s Sentinel knows only the 2 source replicas`);
      }
      await kubectl(['-n', NS, 'delete', 'redisha', NAME, '--wait=true', '--timeout=120s']);
      await kubectl(['-n', NS, 'delete', 'secret', `${NAME}-auth`, '--ignore-not-found', '--wait=true']);
    });
  }

  test('the RedisHA becomes the master, every Sentinel names it, nothing acknowledged is lost', async (t) => {
    const w = writer!;
    const appliedAt = performance.now();
    await kubectl(['apply', '-f', '-'], resourceOf(NS));
    let last = '';
    const pending = [...kills];
    const done = await eventually('status.migration.phase Done', 600_000, async () => {
      const m = await migration(NS).catch(() => undefined);
      const line = m ? `${m.phase} ${m.step}: ${m.message}` : 'no migration status yet';
      if (line !== last) t.diagnostic(line);
      last = line;
      // After the switchover: the operator may reach Done before a poll sees it between the two; then it
      // is killed at Done, and the restarted one must leave the migrated deployment as it is.
      const at = pending[0];
      if (m && at && (at === 'after-switchover' ? m.switchedTo !== undefined : !m.switchedTo && (m.step === 'deploy' || m.step === 'sync'))) {
        const op = await operatorPod();
        if (op) {
          await kubectl(['-n', 'redis-ha-system', 'delete', 'pod', op, '--grace-period=0', '--force']);
          t.diagnostic(`killed the operator (${op}) at ${m.phase === 'Done' ? 'Done' : m.step}${m.switchedTo ? ', after the switchover' : ''}`);
          pending.shift();
          return undefined;
        }
      }
      return m?.phase === 'Done' && pending.length === 0 ? m : undefined;
    }).catch(async (err: Error) => assert.fail(`${err.message}; last: ${last}; ${await podsReport(NS)}; operator events: ${(await operatorEvents(NS, NAME)).slice(-10).map((e) => `${e.reason}: ${e.message}`).join(' | ')}`));
    // The operator started again after the last kill, before the deployment is judged.
    if (kills.length) await kubectl(['-n', 'redis-ha-system', 'rollout', 'status', 'deployment/redis-ha-operator', '--timeout=180s']);
    await w.ackedMore(200, 60_000);
    await w.stop();
    await pods.refresh();
    const master = done.switchedTo!.split('.')[0]!;
    assert.match(master, /^cache-redis-[0-2]$/, 'the master is a pod of the RedisHA');
    // Every node, old and new: exactly one master, and every other one its replica.
    const roles = await Promise.all([...[0, 1, 2].map((i) => `redis-node-${i}`), ...[0, 1, 2].map((i) => `cache-redis-${i}`)].map(async (pod) => {
      const role = await ask({ host: pods.of(pod), port: 6379, password: PASSWORD }, 'ROLE') as unknown[];
      return { pod, role: String(role[0]), follows: role[0] === 'slave' ? String(role[1]).split('.')[0] : undefined };
    }));
    assert.deepEqual(roles.filter((r) => r.role === 'master').map((r) => r.pod), [master], `one master: ${JSON.stringify(roles)}`);
    assert.deepEqual(roles.filter((r) => r.role !== 'master' && r.follows !== master).map((r) => r.pod), [], `every other node follows ${master}`);
    // Every Sentinel, old and new, names it under the old set name.
    const named = await Promise.all([...[0, 1, 2].map((i) => `redis-node-${i}`), ...[0, 1, 2].map((i) => `cache-sentinel-${i}`)].map(async (pod) =>
      String(((await ask({ host: pods.of(pod), port: 26379, password: PASSWORD }, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')) as string[])[0]).split('.')[0]));
    assert.deepEqual([...new Set(named)], [master], `every Sentinel names ${master}: ${named.join(', ')}`);
    assert.deepEqual(await w.missingOn({ host: pods.of(master), port: 6379 }, PASSWORD), [], 'acknowledged writes lost');
    const reasons = new Set((await operatorEvents(NS, NAME)).map((e) => e.reason));
    assert.ok(reasons.has('MigrationStep') && reasons.has('Migrated'), `Events: ${[...reasons].join(', ')}`);
    assert.deepEqual(pending, [], 'every kill of the operator happened');
    t.diagnostic(`migrated in ${Math.round((performance.now() - appliedAt) / 1000)} s; writes paused ${done.writePauseMs} ms; ${w.acked.length} writes acknowledged, ${w.failures} failed, longest write gap ${w.longestGapSince(appliedAt)} ms`);
  });

  if (kills.length === 0) {
    test('the source removed: the RedisHA\'s Sentinels forget the old ones, and a failover needs a majority of theirs alone', async (t) => {
      // With the old Sentinels remembered, 3 of 6 answer: no majority, no failover (CKQUORUM says NOQUORUM).
      await kubectl(['-n', NS, 'delete', 'statefulset', 'redis-node', '--wait=true', '--timeout=120s']);
      const removedAt = performance.now();
      await eventually('status.migration.oldSentinelsForgotten', 120_000, async () => {
        const r = JSON.parse(await kubectl(['-n', NS, 'get', 'redisha', NAME, '-o', 'json'])) as { status?: { migration?: { oldSentinelsForgotten?: boolean } } };
        return r.status?.migration?.oldSentinelsForgotten ? true : undefined;
      });
      t.diagnostic(`forgotten ${Math.round((performance.now() - removedAt) / 1000)} s after the source was removed`);
      await pods.refresh();
      for (const i of [0, 1, 2]) {
        const e = { host: pods.of(`cache-sentinel-${i}`), port: 26379, password: PASSWORD };
        const others = (await ask(e, 'SENTINEL', 'SENTINELS', 'mymaster')) as unknown[];
        assert.equal(others.length, 2, `cache-sentinel-${i} knows 2 other Sentinels`);
        assert.match(String(await ask(e, 'SENTINEL', 'CKQUORUM', 'mymaster')), /^OK 3 usable Sentinels/);
      }
      const reasons = new Set((await operatorEvents(NS, NAME)).map((e) => e.reason));
      assert.ok(reasons.has('OldSentinelsForgotten'), `Events: ${[...reasons].join(', ')}`);
      // After the switchover the pods start by the normal rules (the ConfigMap says done): every Sentinel
      // deleted at once comes back monitoring the master, though the source it migrated from is gone.
      const state = JSON.parse(await kubectl(['-n', NS, 'get', 'configmap', `${NAME}-migration`, '-o', 'json'])) as { data: { state: string } };
      assert.equal(state.data.state, 'done');
      const master = (await migration(NS))!.switchedTo!.split('.')[0]!;
      await kubectl(['-n', NS, 'delete', 'pod', 'cache-sentinel-0', 'cache-sentinel-1', 'cache-sentinel-2', '--wait=false']);
      await eventually('every Sentinel back, naming the master and seeing the other two', 180_000, async () => {
        await pods.refresh();
        const views = await Promise.all([0, 1, 2].map(async (i) => {
          const e = { host: pods.of(`cache-sentinel-${i}`), port: 26379, password: PASSWORD };
          const named = await ask(e, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster').catch(() => undefined) as string[] | undefined;
          const others = await ask(e, 'SENTINEL', 'SENTINELS', 'mymaster').catch(() => undefined) as unknown[] | undefined;
          return named && String(named[0]).split('.')[0] === master && others?.length === 2;
        }));
        return views.every(Boolean) ? true : undefined;
      }).catch(async (err: Error) => assert.fail(`${err.message}: ${await podsReport(NS)}`));
    });
  }
});
