// Persistence on (PersistentVolumes this test makes: the test bed has no provisioner), as plain
// manifests and through the operator: pod 0 falls behind, then every Redis and Sentinel process dies at once and the kubelet
// restarts them all together, as after a host's crash. Nobody answers a starting pod, so the start rule
// used to make pod 0 master whatever the others held on disk, and they resynced from it: what pod 0
// missed was lost. Now the pods start fenced, load their data and elect the best by data
// (src/topology/start.ts electionStep, scripts.ts `elect`), and the Sentinels wait for that master; the
// operator changes nothing meanwhile (no Sentinel answers: plan rule 3.a).
// Asserted: every key written before the restart, those pod 0 missed included, is on the master the
// Sentinels agree on, and pod 0 follows it with all of them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterDeployment, ask, askAll, processOfPod, type PodInfo } from '../bench/k8s.ts';
import { REDIS_PORT, RUN_AS_USER, SENTINEL_PORT } from '../src/kubernetes/render/index.ts';
import { eventually } from './helpers.ts';
import { REDIS_IMAGE, SMALL_RESOURCES, freshNamespace, installOperator, kubeconfig, kubectl, ON_TESTBED, redisHa, requireTestbedInCI, testbedRedisHA, waitPodsReady } from './testbed-kube.ts';

const NAME = 'restart';
const PODS = 3;
const KEYS = 200;

/** One way of deploying: its namespace (which names its volumes too) and what it applies. */
interface Variant {
  readonly what: string;
  readonly namespace: string;
  readonly manifests: (spec: Record<string, unknown>) => Promise<string>;
  /** A RedisHA resource the operator reconciles (it has a status to settle). */
  readonly operator?: boolean;
}

const VARIANTS: Variant[] = [
  {
    what: 'plain manifests',
    namespace: 'e2e-restart-all',
    manifests: async (spec) => {
      const dir = join(tmpdir(), 'redis-ha-e2e-restart-all');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'spec.json'), JSON.stringify({ name: NAME, ...spec }));
      return redisHa(['render', '-f', join(dir, 'spec.json'), '--namespace', 'e2e-restart-all']);
    },
  },
  {
    what: 'the operator',
    namespace: 'e2e-restart-all-op',
    operator: true,
    manifests: async (spec) => {
      await installOperator();
      return testbedRedisHA('e2e-restart-all-op', NAME, spec);
    },
  },
];

requireTestbedInCI('the restart-everything test has a test bed');

for (const v of VARIANTS) describe(`persistence on, ${v.what}: every pod restarted at once, after pod 0 fell behind`, ON_TESTBED, () => {
  const NS = v.namespace;
  /** The PersistentVolumes' class: a name only this variant's volumes and claims carry. */
  const CLASS = `redis-ha-${NS}`;
  /** Where the volumes live on the test bed's node (this machine); testbed/down removes the whole state directory. */
  const VOLUMES = `/var/lib/redis-ha-testbed/volumes/${NS}`;
  const SPEC = {
    replicas: PODS - 1,
    sentinels: 3,
    image: { ...REDIS_IMAGE, pullPolicy: 'Never', allowUnpatched: true },
    persistence: { enabled: true, size: '64Mi', storageClass: CLASS },
    routing: 'label',
    resources: { redis: SMALL_RESOURCES.redis, sentinel: SMALL_RESOURCES.sentinel },
  };

  /** The PersistentVolumes' names, pod i's at index i. */
  const VOLUME_NAMES = Array.from({ length: PODS }, (_, i) => `${NS}-${i}`);
  /** PersistentVolume i, a host directory bound ahead to pod i's claim (the StatefulSet's `data-<pod>`). */
  const volume = (i: number): object => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: VOLUME_NAMES[i] },
    spec: {
      capacity: { storage: '64Mi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: CLASS,
      claimRef: { namespace: NS, name: `data-${NAME}-redis-${i}` },
      hostPath: { path: `${VOLUMES}/${i}`, type: 'Directory' },
    },
  });

  /** Whether `key` is in one of the AOF files of pod i's volume: written to the file, so a killed process loses it not. */
  const onDisk = (i: number, key: string): boolean => {
    const dir = join(VOLUMES, String(i), 'appendonlydir');
    try {
      return readdirSync(dir).some((f) => readFileSync(join(dir, f), 'latin1').includes(key));
    } catch {
      return false;
    }
  };

  let d: ClusterDeployment;
  let password: string;
  /** From apply to every pod Ready: a first start elects too (every pod empty, so pod 0). */
  let firstStart: number;
  const redisOf = async (name: string): Promise<PodInfo> => {
    const pod = (await d.pods('redis')).find((p) => p.name === name);
    if (!pod?.ip) throw new Error(`pod ${name} has no IP`);
    return pod;
  };
  const at = async (name: string) => ({ host: (await redisOf(name)).ip!, port: REDIS_PORT, password });

  before(async () => {
    for (let i = 0; i < PODS; i++) {
      const dir = join(VOLUMES, String(i));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      // hostPath volumes are not chowned to the pod's fsGroup: Redis runs as RUN_AS_USER.
      chownSync(dir, RUN_AS_USER, RUN_AS_USER);
      chmodSync(dir, 0o700);
    }
    await kubectl(['delete', 'pv', ...VOLUME_NAMES, '--ignore-not-found', '--wait=true']);
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: VOLUME_NAMES.map((_, i) => volume(i)) }));
    const manifests = await v.manifests(SPEC);
    await freshNamespace(NS);
    const applied = Date.now();
    await kubectl(['apply', '-f', '-'], manifests);
    d = new ClusterDeployment(kubeconfig!, NS, NAME);
    // The operator creates the pods a moment after the resource.
    await eventually('every pod created', 60_000, async () => ((await d.pods('redis')).length === PODS && (await d.pods('sentinel')).length === 3 ? true : undefined));
    await waitPodsReady(NS, 300_000);
    firstStart = Date.now() - applied;
    password = await d.password();
  });

  after(async () => {
    if (!kubeconfig) return;
    // The volumes go only once no pod uses them; no hand-over is worth the pods' grace period here
    // (the namespace first, so that no StatefulSet recreates what is force-deleted).
    await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => {});
    await kubectl(['-n', NS, 'delete', 'pods', '--all', '--grace-period=0', '--force']).catch(() => {});
    await kubectl(['wait', '--for=delete', `namespace/${NS}`, '--timeout=120s']).catch(() => {});
    await kubectl(['delete', 'pv', ...VOLUME_NAMES, '--ignore-not-found']).catch(() => {});
    rmSync(VOLUMES, { recursive: true, force: true });
  });

  test('the master is the pod with the data, not pod 0; nothing written is lost and pod 0 follows', async (t) => {
    const first = `${NAME}-redis-0`;
    let master = await d.waitSentinelsAgree(PODS - 1, 120_000);
    t.diagnostic(`first start: ${master} master, every pod Ready ${firstStart} ms after apply (a first start elects too: every pod empty, so pod 0)`);
    if (master === first) {
      const sentinel = (await d.pods('sentinel'))[0]!;
      const sentinelPassword = await d.sentinelPassword();
      // Asked while this Sentinel still names pod 0, at most every 5 s: NOGOODSLAVE until it has seen
      // the replicas in its INFO round (every 10 s), INPROG while its failover runs, and a failover
      // that ended without a switch (a CI run once waited 60 s after one accepted request) is asked again.
      let askedAt = 0;
      await eventually(`the Sentinels to name a pod other than ${first}`, 120_000, async () => {
        const named = await d.sentinelsName();
        if (named.every((n) => n !== undefined && n !== first)) return true;
        if (named[0] === first && Date.now() - askedAt > 5000) {
          const reply = await ask({ host: sentinel.ip!, port: SENTINEL_PORT, password: sentinelPassword }, 'SENTINEL', 'FAILOVER', d.names.group).catch((err: Error) => err.message);
          if (reply === 'OK') askedAt = Date.now();
        }
        return undefined;
      });
      master = await d.waitSentinelsAgree(PODS - 1, 120_000);
    }
    t.diagnostic(`before the restart: ${master} master`);

    // Keys every pod has (WAIT: both replicas acknowledged them), then keys pod 0 misses: its
    // redis-server frozen, the other replica acknowledges them.
    const write = async (prefix: string, replicas: number) => {
      const replies = await askAll(await at(master), [...Array.from({ length: KEYS }, (_, i) => ['SET', `${prefix}:${i}`, String(i)]), ['WAIT', String(replicas), '5000']]);
      assert.equal(replies.at(-1), replicas, `WAIT ${replicas} after the ${prefix} keys`);
    };
    await write('all', PODS - 1);
    const podZero = await redisOf(first);
    const frozen = processOfPod(podZero.uid);
    process.kill(frozen, 'SIGSTOP');
    try {
      await write('missed-by-0', 1);
    } catch (err) {
      process.kill(frozen, 'SIGCONT');
      throw err;
    }
    const last = `missed-by-0:${KEYS - 1}`;
    for (let i = 1; i < PODS; i++) assert.ok(onDisk(i, last), `${last} in the AOF of pod ${i}`);
    assert.equal(onDisk(0, last), false, `pod 0 (frozen) has no ${last} on disk`);

    // Every process at once: the kubelet restarts each container in place, with its volume.
    /** Each pod's container restarts, summed, by pod name. */
    const restartCounts = async (): Promise<Map<string, number>> => {
      const pods = JSON.parse(await kubectl(['-n', NS, 'get', 'pods', '-o', 'json'])).items as { metadata: { name: string }; status: { containerStatuses: { restartCount: number }[] } }[];
      return new Map(pods.map((p) => [p.metadata.name, p.status.containerStatuses.reduce((n, c) => n + c.restartCount, 0)]));
    };
    const restarts = await restartCounts();
    const pids = [
      ...(await d.pods('redis')).map((p) => processOfPod(p.uid)),
      ...(await d.pods('sentinel')).map((p) => processOfPod(p.uid, 'sentinel')),
    ];
    const killedAt = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await eventually('every pod restarted in place', 120_000, async () => {
      const now = await restartCounts();
      return [...restarts].every(([name, count]) => (now.get(name) ?? 0) > count) ? true : undefined;
    });

    const after = await d.waitSentinelsAgree(PODS - 1, 180_000);
    t.diagnostic(`after the restart: ${after} master, every Sentinel agreeing and both replicas online ${Date.now() - killedAt} ms after the kill`);
    const elected = await kubectl(['-n', NS, 'logs', after, '-c', 'redis']);
    t.diagnostic(elected.split('\n').find((l) => l.includes('elected by data')) ?? `${after}'s log has no election line`);
    assert.notEqual(after, first, `pod 0 missed the last ${KEYS} keys, yet is master`);
    for (const pod of [after, first]) {
      await eventually(`every key on ${pod}`, 60_000, async () => {
        const keys = (prefix: string) => ['EXISTS', ...Array.from({ length: KEYS }, (_, i) => `${prefix}:${i}`)];
        const [all, missed] = await askAll(await at(pod), [keys('all'), keys('missed-by-0')]).catch(() => [undefined, undefined]);
        return all === KEYS && missed === KEYS ? true : undefined;
      });
    }
    const role = (await ask(await at(first), 'ROLE')) as unknown[];
    assert.equal(String(role[1]).split('.')[0], after, `${first} follows ${after}`);
    // The operator's status and master label follow the same master.
    if (v.operator) assert.equal(await d.waitSettled(120_000), after);
  });
});
