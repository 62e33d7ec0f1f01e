// Issue 17: the faults that happen to nodes, on three worker nodes (testbed/node: zones a, b and c, each
// with its own kubelet, containerd and pod bridge). In test/serial/, which `npm test` runs alone after the
// other files: three more kubelets load the machine, and the faults change the cluster's nodes. A RedisHA
// under the operator, with the default scheduling, is placed on the workers by the spec's nodeSelector and
// tolerations (the workers are tainted so that other pods stay off them). It runs under two
// acknowledged-write writers from the host: one through Sentinel, one through the -master Service. Each
// fault ends with exactly one master, labelled and named by every Sentinel, and the test says what was lost
// or paused:
// - the master's node stopped (powered off: silent, every process killed): failover, -master follows;
//   once the node is NotReady its pods are not Ready; started again, the old master follows the new one;
// - the master's node paused (every process frozen, a VM stun) and resumed;
// - the master's node partitioned (pods cut from the other nodes, the host and the API server; its kubelet
//   from the API server, so the node goes NotReady): a client on the isolated node is refused within
//   min-replicas-max-lag + 2 s, the majority fails over, and after heal the old master is a replica;
// - kubectl drain of the master's node (evictions, which the disruption budgets gate): the master moves to
//   another pod, nothing acknowledged is lost, no pod is left on the node;
// - every pod of the master's node killed at once (a host reboot as the pods see it);
// - the spread: no two Redis pods and no two Sentinels on one node; with zoneSpread hard and a zone's node
//   stopped, pods that must move stay Pending rather than doubling up in another zone;
// - plain manifests (the brief's user: no operator, -master through the endpoint Deployment): the master's
//   node stopped.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ask, processOfPod, type ClusterDeployment } from '../../bench/k8s.ts';
import { AckedWriter } from '../../bench/writer.ts';
import { MASTER_POD_LABEL, REDIS_PORT, SENTINEL_PORT } from '../../src/kubernetes/render/index.ts';
import { eventually, refusalDeadlineMs } from '../helpers.ts';
import {
  ON_TESTBED, OPERATOR_IMAGE, REDIS_IMAGE, REPO, SMALL_RESOURCES, dropNamespace, deploymentUnderWriter, freshNamespace, kubeconfig, kubectl,
  plainDeploymentUnderWriter, podsReport, requireTestbedInCI, testbedRedisHA, waitPodsReady, type DeploymentUnderWriter,
} from '../testbed-kube.ts';

const run = promisify(execFile);
const NS = 'e2e-nodes';
const NAME = 'nodes';
const MAX_LAG_S = 5;
/** The workers' taint and label (testbed/node): what a user's dedicated node pool looks like. */
const WORKERS = { nodeSelector: { 'redis-ha.io/testbed-pool': 'workers' }, tolerations: ['redis-ha.io/testbed-worker=true:NoSchedule'] };
const SPEC = {
  sentinel: { downAfterMilliseconds: 2000 },
  minReplicasMaxLag: MAX_LAG_S,
  scheduling: WORKERS,
};

requireTestbedInCI('the node-fault tests have a test bed');

/** testbed/node, on the test bed the kubeconfig belongs to. */
async function node(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run(join(REPO, 'testbed', 'node'), args, { env: { ...process.env, REDIS_HA_TESTBED_DIR: dirname(kubeconfig!) }, timeout: 300_000 });
  return args[0] === 'list' ? stdout : `${stdout}${stderr}`;
}

interface NodeRow { name: string; zone: string; ready: string; unschedulable: boolean; redis: string[] }
const nodes = async () => JSON.parse(await node('list', '--json')) as NodeRow[];
const nodeReady = async (name: string) => (await nodes()).find((n) => n.name === name)?.ready;
/** NotReady as the node controller marks a node it no longer hears from: Ready Unknown (or False). */
const notReady = async (name: string) => ['Unknown', 'False'].includes((await nodeReady(name)) ?? 'missing');

/** Pod name → the node it is on, for one namespace. */
async function placement(namespace: string): Promise<Map<string, string>> {
  const list = JSON.parse(await kubectl(['-n', namespace, 'get', 'pods', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { nodeName?: string } }[] };
  return new Map(list.items.map((p) => [p.metadata.name, p.spec.nodeName ?? '']));
}

/** "pod@node …" for a test's diagnostics. */
const placementLine = (at: Map<string, string>) => `placement: ${[...at].map(([p, n]) => `${p}@${n}`).join(' ')}`;

/**
 * The workers up before a describe's tests (then `setup`), and after them `teardown`, then the workers
 * down whatever state a failed test left them in.
 */
function onWorkers(setup: () => Promise<void>, teardown: () => Promise<void>): void {
  before(async () => {
    await node('up');
    await setup();
  });
  after(async () => {
    try {
      await teardown();
    } finally {
      await node('down');
    }
  });
}

/**
 * A deployment on the workers under two writers from the host (through Sentinel, and through the
 * -master Service), and what every fault checks of it. `labelled`: the operator keeps the master label.
 */
class UnderFaults {
  readonly u: DeploymentUnderWriter;
  readonly viaMaster: AckedWriter;
  readonly ns: string;
  readonly labelled: boolean;
  /** Writes lost at a partition's cut (acknowledged before it), accepted there and not counted again. */
  readonly lostAtCut = new Set<string>();

  constructor(u: DeploymentUnderWriter, viaMaster: AckedWriter, ns: string, labelled: boolean) {
    this.u = u;
    this.viaMaster = viaMaster;
    this.ns = ns;
    this.labelled = labelled;
  }

  /** Starts the -master writer beside `u`'s Sentinel writer, 50 writes acknowledged. */
  static async start(u: DeploymentUnderWriter, ns: string, labelled: boolean, prefix: string): Promise<UnderFaults> {
    const viaMaster = new AckedWriter({ target: { endpoint: { host: await u.d.clusterIP(u.d.names.master), port: REDIS_PORT } }, password: u.password, prefix });
    viaMaster.start();
    await viaMaster.ackedMore(50, 60_000);
    return new UnderFaults(u, viaMaster, ns, labelled);
  }

  get d(): ClusterDeployment {
    return this.u.d;
  }

  async close(): Promise<void> {
    await this.viaMaster.stop().catch(() => {});
    await this.u.close();
  }

  /**
   * Waits for exactly one master: every Sentinel names it, it alone says master (ROLE), it alone is
   * labelled (under the operator), every pod is Ready and no Sentinel is in TILT.
   */
  async oneMaster(t: TestContext, timeoutMs = 180_000): Promise<string> {
    const { d, u } = this;
    let last = '';
    try {
      return await eventually(`exactly one master${this.labelled ? ', labelled and' : ','} named by every Sentinel`, timeoutMs, async () => {
        const named = await d.sentinelsName();
        const pods = await d.pods('redis');
        const labelled = pods.filter((p) => p.labels[MASTER_POD_LABEL] === 'master').map((p) => p.name);
        const roles = await Promise.all(pods.map(async (p) => (p.ip ? ((await ask({ host: p.ip, port: REDIS_PORT, password: u.password }, 'ROLE').catch(() => undefined)) as unknown[] | undefined) : undefined)));
        const masters = pods.filter((_, i) => roles[i]?.[0] === 'master').map((p) => p.name);
        // A Sentinel in TILT (30 s after its process was stalled or paused) neither acts nor counts
        // towards the quorum: the next fault starts once none is.
        const sentinels = await Promise.all((await d.pods('sentinel')).map(async (p) => {
          if (!p.ip) return { tilt: false, epoch: '-' };
          const at = await d.target(p.name, p.ip, SENTINEL_PORT, u.sentinelPassword);
          const info = String(await ask(at, 'INFO', 'sentinel').catch(() => ''));
          const fields = ((await ask(at, 'SENTINEL', 'MASTER', d.names.group).catch(() => [])) as string[]);
          return { name: p.name, tilt: /^sentinel_tilt:1/m.test(info), epoch: fields[fields.indexOf('config-epoch') + 1] ?? '-' };
        }));
        const tilted = sentinels.filter((x) => x.tilt).map((x) => x.name);
        // The config epoch counts the failovers the Sentinels agreed on: a diagnostic for a write lost
        // where no fault was made.
        last = `Sentinels name ${named.map((n) => n ?? '-').join(', ')} (config epochs ${sentinels.map((x) => x.epoch).join(', ')}); labelled ${labelled.join(',') || 'none'}; masters by ROLE ${masters.join(',') || 'none'}; ready ${pods.filter((p) => p.ready).length}/${pods.length}; in TILT ${tilted.join(',') || 'none'}`;
        const m = named[0];
        const labelOk = !this.labelled || (labelled.length === 1 && labelled[0] === m);
        const settled = m !== undefined && named.length === 3 && named.every((n) => n === m) && labelOk && masters.length === 1 && masters[0] === m && pods.every((p) => p.ready && !p.terminating) && tilted.length === 0;
        return settled ? m : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${last}; ${await podsReport(this.ns)}`);
    } finally {
      t.diagnostic(`one master: ${last}`);
    }
  }

  /**
   * Both writers wrote on (50 more each), and every write either acknowledged is on the master `m`,
   * except, when `cutAt` (performance.now(), once the fault is made) is given, the last writes the old
   * master acknowledged before that instant. A master answers a write before its replicas have it
   * (asynchronous replication): what it answered in the instant its replicas were cut off, killed or
   * frozen dies with it. Those are always the last ones before the cut, every one after them lost too:
   * a lost write with a kept write after it, or one acknowledged after the cut, is a defect.
   */
  async nothingLost(t: TestContext, m: string, what: string, cutAt?: number): Promise<void> {
    const { u, viaMaster } = this;
    await Promise.all([u.writer.ackedMore(50, 120_000), viaMaster.ackedMore(50, 120_000)]);
    const ip = (await this.d.pods('redis')).find((p) => p.name === m)!.ip!;
    for (const [name, w] of [['Sentinel', u.writer], ['-master', viaMaster]] as const) {
      const missing = (await w.missingOn({ host: ip, port: REDIS_PORT }, u.password)).filter((k) => !this.lostAtCut.has(k));
      // The writer's acknowledgements are in time order: the first `beforeCut` came before the cut.
      const beforeCut = cutAt === undefined ? 0 : w.ackTimes.filter((at) => at <= cutAt).length;
      const lastBeforeCut = new Set(w.acked.slice(Math.max(0, beforeCut - missing.length), beforeCut));
      const atCut = missing.length > 0 && missing.every((k) => lastBeforeCut.has(k)) ? missing : [];
      for (const k of atCut) this.lostAtCut.add(k);
      const lost = missing.filter((k) => !atCut.includes(k));
      // They are the acknowledgements just before the cut: the first of them is `atCut.length` before it.
      const age = atCut.length ? `, the first ${Math.round(cutAt! - w.ackTimes[beforeCut - atCut.length]!)} ms before it` : '';
      t.diagnostic(`${what}: ${name} writer: ${lost.length} of ${w.acked.length} acknowledged writes lost${cutAt === undefined ? '' : `, and the last ${atCut.length} acknowledged before the fault${age}`}; ${w.failures} writes refused or timed out in all`);
      for (const k of missing.slice(0, 3)) t.diagnostic(`lost: ${w.around(k)}`);
      assert.deepEqual(lost.slice(0, 5), [], `${what}: ${lost.length} acknowledged writes of the ${name} writer are not on ${m}${cutAt === undefined ? '' : ' (not only the last ones before the fault)'}`);
    }
  }

  /** Waits until the Sentinels that answer (two at least) all name one master other than `old`. */
  namedOtherThan(old: string): Promise<string> {
    return eventually(`the Sentinels that answer to name one master other than ${old}`, 120_000, async () => {
      const named = (await this.d.sentinelsName()).filter((n) => n !== undefined);
      return named.length >= 2 && named.every((n) => n === named[0] && n !== old) ? named[0] : undefined;
    });
  }

  /**
   * `fault` (testbed/node stop or pause) on `where`, the node of the master `master`, at `t0`; waits for
   * the Sentinels to name another master and both writers to write on. Returns when the fault was made.
   */
  async failsOver(t: TestContext, fault: 'stop' | 'pause', where: string, master: string, t0: number): Promise<number> {
    await node(fault, where);
    const cutAt = performance.now();
    const next = await this.namedOtherThan(master);
    t.diagnostic(`${where} ${fault} at ${Math.round(t0)} ms: the Sentinels named ${next} after ${Math.round(performance.now() - t0)} ms`);
    await Promise.all([this.u.writer.ackedMore(20, 60_000), this.viaMaster.ackedMore(20, 60_000)]);
    t.diagnostic(this.gaps(t0));
    return cutAt;
  }

  /** The longest time without an acknowledgement since `since` (performance.now()), per writer. */
  gaps(since: number): string {
    return `longest write gap: Sentinel writer ${Math.round(this.u.writer.longestGapSince(since))} ms, -master writer ${Math.round(this.viaMaster.longestGapSince(since))} ms`;
  }

  /** The one master, and the worker node it is on. */
  async masterNode(t: TestContext): Promise<{ master: string; node: string }> {
    const master = await this.oneMaster(t);
    const where = (await placement(this.ns)).get(master)!;
    assert.match(where, /^redis-ha-testbed-[abc]$/, `the master ${master} is on a worker`);
    return { master, node: where };
  }

  /**
   * The master's node stopped (powered off) and started again: failover, both writers write on, the
   * node NotReady and its pods not Ready (and, under the operator, the old master unlabelled), then one
   * master again and nothing acknowledged lost.
   */
  async stopMastersNode(t: TestContext): Promise<void> {
    const { master, node: where } = await this.masterNode(t);
    const t0 = performance.now();
    let cutAt: number | undefined;
    try {
      cutAt = await this.failsOver(t, 'stop', where, master, t0);
      await eventually(`${where} NotReady`, 120_000, async () => ((await notReady(where)) ? true : undefined));
      t.diagnostic(`${where} NotReady after ${Math.round((performance.now() - t0) / 1000)} s`);
      await eventually(`the pods of ${where} not Ready`, 60_000, async () => {
        const pods = [...(await this.d.pods('redis')), ...(await this.d.pods('sentinel'))];
        const at = await placement(this.ns);
        const there = pods.filter((p) => at.get(p.name) === where);
        assert.ok(there.length >= 2, `the master and a Sentinel on ${where}: ${there.map((p) => p.name).join(', ')}`);
        return there.every((p) => !p.ready) ? true : undefined;
      });
      const old = (await this.d.pods('redis')).find((p) => p.name === master)!;
      if (this.labelled) assert.notEqual(old.labels[MASTER_POD_LABEL], 'master', `${master} lost the master label`);
    } finally {
      await node('start', where);
    }
    const m = await this.oneMaster(t);
    assert.notEqual(m, master);
    await this.nothingLost(t, m, 'node stopped', cutAt);
  }
}

describe('node faults on three worker nodes, under the operator', ON_TESTBED, () => {
  let f!: UnderFaults;
  onWorkers(async () => {
    f = await UnderFaults.start(await deploymentUnderWriter(NS, NAME, testbedRedisHA(NS, NAME, SPEC), 'e2e:nodes:sentinel'), NS, true, 'e2e:nodes:master');
  }, async () => f?.close());

  test('the default scheduling spreads the Redis pods and the Sentinels over the three worker nodes', async (t) => {
    const at = await placement(NS);
    const of = (component: string) => [...at].filter(([pod]) => pod.startsWith(`${NAME}-${component}-`)).map(([, n]) => n);
    t.diagnostic(placementLine(at));
    for (const component of ['redis', 'sentinel']) {
      const on = of(component);
      assert.equal(on.length, 3, `three ${component} pods`);
      assert.deepEqual([...new Set(on)].sort(), ['redis-ha-testbed-a', 'redis-ha-testbed-b', 'redis-ha-testbed-c'], `one ${component} pod per worker node`);
    }
  });

  test('the master\'s node stopped (powered off): failover, -master follows, its pods are not Ready once the node is NotReady, and after start the old master follows', (t) => f.stopMastersNode(t));

  test('the master\'s node paused 20 s (every process frozen, its sockets open) and resumed: failover, and the old master follows', async (t) => {
    const { master, node: where } = await f.masterNode(t);
    const t0 = performance.now();
    let cutAt: number | undefined;
    try {
      cutAt = await f.failsOver(t, 'pause', where, master, t0);
      const wait = 20_000 - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    } finally {
      await node('resume', where);
    }
    const m = await f.oneMaster(t);
    t.diagnostic(`resumed after ${Math.round((performance.now() - t0) / 1000)} s; ${f.gaps(t0)}`);
    await f.nothingLost(t, m, 'node paused', cutAt);
  });

  test('the master\'s node partitioned: a client on it is refused within min-replicas-max-lag + 2 s, the majority fails over, after heal the old master is a replica', async (t) => {
    const { master, node: where } = await f.masterNode(t);
    const uid = (await f.d.pods('redis')).find((p) => p.name === master)!.uid;
    const pid = processOfPod(uid);
    const inside = new InsideWriter(pid, f.u.password, 'e2e:nodes:inside');
    inside.start();
    await eventually('the client on the master\'s node acknowledged', 30_000, async () => (inside.acked.length >= 5 ? true : undefined));
    const t0 = performance.now();
    await node('partition', where);
    const cutAt = performance.now();
    let refusedAt: number | undefined;
    try {
      refusedAt = await eventually('the isolated master to refuse writes', (MAX_LAG_S + 30) * 1000, async () => inside.refusedSince(t0));
      const refusedAfter = Math.round(refusedAt - t0);
      t.diagnostic(`the isolated master refused the client on its node ${refusedAfter} ms after the partition (min-replicas-max-lag ${MAX_LAG_S} s): ${inside.lastError}`);
      assert.match(inside.lastError, /^NOREPLICAS /, 'refused for want of replicas');
      // Redis's own bound (whole-second lag, a once-a-second recount): see refusalDeadlineMs.
      assert.ok(refusedAfter <= refusalDeadlineMs(MAX_LAG_S), `refused after ${refusedAfter} ms, more than min-replicas-max-lag + 2 s`);
      const next = await f.namedOtherThan(master);
      t.diagnostic(`the majority's Sentinels named ${next} ${Math.round(performance.now() - t0)} ms after the partition`);
      await Promise.all([f.u.writer.ackedMore(20, 60_000), f.viaMaster.ackedMore(20, 60_000)]);
      t.diagnostic(f.gaps(t0));
      // Its kubelet cut from the API server too: the node goes NotReady, as a partitioned node does.
      await eventually(`${where} NotReady`, 120_000, async () => ((await notReady(where)) ? true : undefined));
      t.diagnostic(`${where} NotReady after ${Math.round((performance.now() - t0) / 1000)} s`);
    } finally {
      await node('heal', where);
      await inside.stop();
    }
    const m = await f.oneMaster(t);
    assert.notEqual(m, master);
    const mip = (await f.d.pods('redis')).find((p) => p.name === m)!.ip!;
    const lostInside = await inside.missingOn(mip);
    const lostLate = lostInside.filter((i) => inside.ackTimes[i]! > refusedAt!);
    t.diagnostic(`the client on the isolated node: ${inside.acked.length} acknowledged, ${lostInside.length} lost (acknowledged by the isolated master before it refused), ${lostLate.length} of them after its first refusal`);
    assert.equal(lostLate.length, 0, 'a write the isolated master acknowledged after it began refusing is lost');
    await f.nothingLost(t, m, 'node partitioned', cutAt);
  });

  // After the drain the evicted pods stay where they were rescheduled (two of a kind on one node: the
  // anti-affinity is soft), so the faults that need one pod of each kind per node come before it.
  test('kubectl drain of the master\'s node (evictions, which the disruption budgets gate): the master moves to another pod, nothing acknowledged is lost, no pod is left there', async (t) => {
    const { master, node: where } = await f.masterNode(t);
    const t0 = performance.now();
    try {
      const out = await kubectl(['drain', where, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=300s']);
      t.diagnostic(`drained ${where} in ${Math.round((performance.now() - t0) / 1000)} s: ${out.trim().split('\n').filter((l) => /evicted|drained/.test(l)).join('; ')}`);
      const m = await f.oneMaster(t, 300_000);
      assert.notEqual(m, master, 'the master moved to another pod');
      t.diagnostic(f.gaps(t0));
      await f.nothingLost(t, m, 'drain');
      const at = await placement(NS);
      assert.ok(![...at.values()].includes(where), `no pod of ${NS} left on ${where}`);
    } finally {
      await kubectl(['uncordon', where]);
    }
  });

  test('every pod of the master\'s node killed at once (a host reboot as the pods see it)', async (t) => {
    const { master, node: where } = await f.masterNode(t);
    const t0 = performance.now();
    const said = (await node('reboot', where)).trim();
    const cutAt = performance.now();
    t.diagnostic(said);
    const killed = Number(/killed (\d+) processes/.exec(said)?.[1] ?? 0);
    assert.ok(killed >= 4, `every process of the node's pods killed (their sandboxes and containers, two pods at least): ${said}`);
    const m = await f.oneMaster(t, 240_000);
    t.diagnostic(`${m} is the one master ${Math.round((performance.now() - t0) / 1000)} s after (was ${master}); ${f.gaps(t0)}`);
    await f.nothingLost(t, m, 'reboot', cutAt);
  });

});

describe('plain manifests (no operator) on three worker nodes: the master\'s node stopped', ON_TESTBED, () => {
  // The brief's user: `render` output applied as it is; -master leads to the endpoint Deployment (redis-ha
  // proxy, two pods), which follows the Sentinels by itself.
  const ns = 'e2e-nodes-plain';
  const name = 'plain';
  let f!: UnderFaults;
  onWorkers(async () => {
    const spec = JSON.stringify({
      name, replicas: 2, sentinels: 3,
      image: { ...REDIS_IMAGE, pullPolicy: 'Never', allowUnpatched: true },
      endpoint: { image: OPERATOR_IMAGE },
      ...SPEC,
      resources: { redis: SMALL_RESOURCES.redis, sentinel: SMALL_RESOURCES.sentinel },
    });
    f = await UnderFaults.start(await plainDeploymentUnderWriter(ns, name, spec, 2, 'e2e:nodes-plain:sentinel'), ns, false, 'e2e:nodes-plain:master');
  }, async () => f?.close());

  test('failover, -master (the endpoint) follows, its pods are not Ready once the node is NotReady, and after start the old master follows', async (t) => {
    t.diagnostic(placementLine(await placement(ns)));
    await f.stopMastersNode(t);
  });
});

describe('zoneSpread hard on three zones: a zone\'s node stopped', ON_TESTBED, () => {
  const ns = 'e2e-nodes-zones';
  const name = 'zones';
  onWorkers(async () => {
    await freshNamespace(ns, testbedRedisHA(ns, name, { scheduling: { ...WORKERS, zoneSpread: 'hard' } }));
    await waitPodsReady(ns, 300_000);
  }, () => dropNamespace(ns));

  test('pods that must move stay Pending rather than doubling up in another zone, and return once the node does', async (t) => {
    const where = 'redis-ha-testbed-c';
    await node('stop', where);
    try {
      await eventually(`${where} NotReady`, 120_000, async () => ((await notReady(where)) ? true : undefined));
      const moved = [...(await placement(ns))].filter(([, n]) => n === where).map(([p]) => p);
      assert.ok(moved.length >= 2, `a Redis pod and a Sentinel on ${where}: ${moved.join(', ')}`);
      // What a node's loss leads to in the end (an admin, or the out-of-service taint): its pods deleted.
      await kubectl(['-n', ns, 'delete', 'pod', ...moved, '--force', '--grace-period=0']);
      const pending = await eventually('the replacements Pending for the topology spread', 60_000, async () => {
        const list = JSON.parse(await kubectl(['-n', ns, 'get', 'pods', ...moved, '-o', 'json'])) as { items: { spec: { nodeName?: string }; status: { phase: string; conditions?: { type: string; status: string; message?: string }[] } }[] };
        const unscheduled = list.items.filter((p) => p.status.phase === 'Pending' && !p.spec.nodeName && p.status.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && /topology spread/.test(c.message ?? '')));
        return unscheduled.length === moved.length ? unscheduled[0]!.status.conditions!.find((c) => c.type === 'PodScheduled')!.message : undefined;
      });
      t.diagnostic(`replacements Pending: ${pending}`);
      // And they stay so: checked again after the scheduler's retries.
      await sleep(15_000);
      const at = await placement(ns);
      for (const p of moved) assert.equal(at.get(p), '', `${p} was not placed beside another of its kind`);
    } finally {
      await node('start', where);
    }
    await eventually('the replacements on their zone\'s node again', 180_000, async () => {
      const at = await placement(ns);
      return [...at.values()].filter((n) => n === where).length >= 2 ? true : undefined;
    });
    await waitPodsReady(ns, 180_000);
  });
});

/**
 * A client on the isolated node: SETs through redis-cli in the master pod's network namespace (nsenter),
 * every 100 ms, the password in the environment (REDISCLI_AUTH), never in argv.
 */
class InsideWriter {
  readonly acked: string[] = [];
  readonly ackTimes: number[] = [];
  readonly refusals: number[] = [];
  lastError = '';
  #stopped = false;
  #loop?: Promise<void>;
  readonly pid: number;
  readonly password: string;
  readonly prefix: string;
  constructor(pid: number, password: string, prefix: string) {
    this.pid = pid;
    this.password = password;
    this.prefix = prefix;
  }

  #cli(...args: string[]): Promise<string> {
    return new Promise((resolve) => {
      const child = spawn('nsenter', ['-t', String(this.pid), '-n', 'timeout', '2', 'redis-cli', '--no-auth-warning', '-h', '127.0.0.1', '-p', String(REDIS_PORT), ...args], { env: { ...process.env, REDISCLI_AUTH: this.password } });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.on('close', () => resolve(out.trim()));
      child.on('error', (e) => resolve(`ERR ${e.message}`));
    });
  }

  start(): void {
    this.#loop = (async () => {
      for (let n = 0; !this.#stopped; n++) {
        const key = `${this.prefix}:${n}`;
        const reply = await this.#cli('SET', key, String(n));
        if (reply === 'OK') {
          this.acked.push(key);
          this.ackTimes.push(performance.now());
        } else {
          this.refusals.push(performance.now());
          this.lastError = reply;
        }
        await sleep(100);
      }
    })();
  }

  /** The first refusal after `since` that no acknowledgement followed, or undefined. */
  refusedSince(since: number): number | undefined {
    const lastAck = this.ackTimes.at(-1) ?? 0;
    return this.refusals.find((r) => r >= since && r > lastAck);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** Indexes of acknowledged keys the master at `ip` does not hold. */
  async missingOn(ip: string): Promise<number[]> {
    const missing: number[] = [];
    for (let i = 0; i < this.acked.length; i++) {
      if ((await ask({ host: ip, port: REDIS_PORT, password: this.password }, 'EXISTS', this.acked[i]!)) !== 1) missing.push(i);
    }
    return missing;
  }
}
