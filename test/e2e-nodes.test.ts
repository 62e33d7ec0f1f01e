// Issue 17: the faults that happen to nodes, on three worker nodes (testbed/node: zones a, b and c, each
// with its own kubelet, containerd and pod bridge). A RedisHA under the operator, with the default
// scheduling, is placed on the workers by the spec's nodeSelector and tolerations (the workers are tainted
// so that the other tests' pods stay off them). It runs under two acknowledged-write writers from the host:
// one through Sentinel, one through the -master Service. Each fault ends with exactly one master, labelled
// and named by every Sentinel, and the test says what was lost or paused:
// - the master's node stopped (powered off: silent, every process killed): failover, -master follows;
//   once the node is NotReady its pods are not Ready; started again, the old master follows the new one;
// - the master's node paused (every process frozen, a VM stun) and resumed;
// - the master's node partitioned (pods cut from the other nodes, the host and the API server; its kubelet
//   from the API server): a client on the isolated node is refused within min-replicas-max-lag + 1 s, the
//   majority fails over, and after heal the old master is a replica;
// - kubectl drain of the master's node: the disruption budgets hold, the master is handed over before its
//   pod goes, nothing acknowledged is lost;
// - every pod of the master's node killed at once (a host reboot as the pods see it);
// - the spread: no two Redis pods and no two Sentinels on one node; with zoneSpread hard and a zone's node
//   stopped, pods that must move stay Pending rather than doubling up in another zone.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ask, processOfPod, type ClusterDeployment } from '../bench/k8s.ts';
import { AckedWriter } from '../bench/writer.ts';
import { MASTER_POD_LABEL, REDIS_PORT, SENTINEL_PORT } from '../src/kubernetes/render/index.ts';
import { eventually } from './helpers.ts';
import {
  ON_TESTBED, REPO, dropNamespace, deploymentUnderWriter, freshNamespace, kubeconfig, kubectl, podsReport, requireTestbedInCI,
  testbedRedisHA, waitPodsReady, type DeploymentUnderWriter,
} from './testbed-kube.ts';

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
  const { stdout } = await run(join(REPO, 'testbed', 'node'), args, { env: { ...process.env, REDIS_HA_TESTBED_DIR: dirname(kubeconfig!) }, timeout: 300_000 });
  return stdout;
}

interface NodeRow { name: string; zone: string; ready: string; unschedulable: boolean; redis: string[] }
const nodes = async () => JSON.parse(await node('list', '--json')) as NodeRow[];
const nodeReady = async (name: string) => (await nodes()).find((n) => n.name === name)?.ready;

/** Pod name → the node it is on, for one namespace. */
async function placement(namespace: string): Promise<Map<string, string>> {
  const list = JSON.parse(await kubectl(['-n', namespace, 'get', 'pods', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { nodeName?: string } }[] };
  return new Map(list.items.map((p) => [p.metadata.name, p.spec.nodeName ?? '']));
}

describe('node faults on three worker nodes, under the operator', ON_TESTBED, () => {
  let u: DeploymentUnderWriter;
  let d: ClusterDeployment;
  let viaMaster: AckedWriter;
  let password: string;

  before(async () => {
    await node('up');
    u = await deploymentUnderWriter(NS, NAME, testbedRedisHA(NS, NAME, SPEC), 'e2e:nodes:sentinel');
    d = u.d;
    password = u.password;
    viaMaster = new AckedWriter({ target: { endpoint: { host: await d.clusterIP(d.names.master), port: REDIS_PORT } }, password, prefix: 'e2e:nodes:master' });
    viaMaster.start();
    await viaMaster.ackedMore(50, 60_000);
  });

  after(async () => {
    await viaMaster?.stop().catch(() => {});
    await u?.close();
    await node('down');
  });

  /** Waits for exactly one master: every Sentinel names it, it alone is labelled, it alone says master. */
  async function oneMaster(t: TestContext, timeoutMs = 180_000): Promise<string> {
    let last = '';
    try {
      return await eventually('exactly one master, labelled and named by every Sentinel', timeoutMs, async () => {
        const named = await d.sentinelsName();
        const pods = await d.pods('redis');
        const labelled = pods.filter((p) => p.labels[MASTER_POD_LABEL] === 'master').map((p) => p.name);
        const roles = await Promise.all(pods.map(async (p) => (p.ip ? ((await ask({ host: p.ip, port: REDIS_PORT, password }, 'ROLE').catch(() => undefined)) as unknown[] | undefined) : undefined)));
        const masters = pods.filter((_, i) => roles[i]?.[0] === 'master').map((p) => p.name);
        // A Sentinel in TILT (30 s after its process was stalled or paused) neither acts nor counts
        // towards the quorum: the next fault starts once none is.
        const tilted = (await Promise.all((await d.pods('sentinel')).map(async (p) => {
          const info = p.ip ? String(await ask(await d.target(p.name, p.ip, SENTINEL_PORT, u.sentinelPassword), 'INFO', 'sentinel').catch(() => '')) : '';
          return /^sentinel_tilt:1/m.test(info) ? p.name : undefined;
        }))).filter((n) => n !== undefined);
        last = `Sentinels name ${named.map((n) => n ?? '-').join(', ')}; labelled ${labelled.join(',') || 'none'}; masters by ROLE ${masters.join(',') || 'none'}; ready ${pods.filter((p) => p.ready).length}/${pods.length}; in TILT ${tilted.join(',') || 'none'}`;
        const m = named[0];
        const settled = m !== undefined && named.length === 3 && named.every((n) => n === m) && labelled.length === 1 && labelled[0] === m && masters.length === 1 && masters[0] === m && pods.every((p) => p.ready && !p.terminating) && tilted.length === 0;
        return settled ? m : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${last}; ${await podsReport(NS)}`);
    } finally {
      t.diagnostic(`one master: ${last}`);
    }
  }

  /** Writes lost at a partition's cut (acknowledged before it), accepted there and not counted again. */
  const lostAtCut = new Set<string>();

  /**
   * Both writers wrote on (50 more each), and every write either acknowledged is on the master `m`,
   * except, when `cutAt` (performance.now()) is given, writes acknowledged before that instant: a master
   * replicates after it answers, so a write it answered just before its replicas were cut off is lost
   * with it (asynchronous replication); one answered after the cut must not be.
   */
  async function nothingLost(t: TestContext, m: string, what: string, cutAt?: number): Promise<void> {
    await Promise.all([u.writer.ackedMore(50, 120_000), viaMaster.ackedMore(50, 120_000)]);
    const ip = (await d.pods('redis')).find((p) => p.name === m)!.ip!;
    for (const [name, w] of [['Sentinel', u.writer], ['-master', viaMaster]] as const) {
      const missing = (await w.missingOn({ host: ip, port: REDIS_PORT }, password)).filter((k) => !lostAtCut.has(k));
      const atCut = cutAt === undefined ? [] : missing.filter((k) => w.ackTimes[w.acked.indexOf(k)]! <= cutAt);
      for (const k of atCut) lostAtCut.add(k);
      const lost = missing.filter((k) => !atCut.includes(k));
      t.diagnostic(`${what}: ${name} writer: ${lost.length} of ${w.acked.length} acknowledged writes lost${cutAt === undefined ? '' : `, and ${atCut.length} acknowledged before the cut`}; ${w.failures} writes refused or timed out in all`);
      assert.deepEqual(lost.slice(0, 5), [], `${what}: ${lost.length} acknowledged writes of the ${name} writer are not on ${m}`);
    }
  }

  /** Waits until the Sentinels that answer (two at least) all name one master other than `old`. */
  const namedOtherThan = (old: string) =>
    eventually(`the Sentinels that answer to name one master other than ${old}`, 120_000, async () => {
      const named = (await d.sentinelsName()).filter((n) => n !== undefined);
      return named.length >= 2 && named.every((n) => n === named[0] && n !== old) ? named[0] : undefined;
    });

  /**
   * `fault` (testbed/node stop or pause) on `where`, the node of the master `master`, at `t0`; waits for
   * the Sentinels to name another master and both writers to write on.
   */
  async function failsOver(t: TestContext, fault: 'stop' | 'pause', where: string, master: string, t0: number): Promise<void> {
    await node(fault, where);
    const next = await namedOtherThan(master);
    t.diagnostic(`${where} ${fault}: the Sentinels named ${next} after ${Math.round(performance.now() - t0)} ms`);
    await Promise.all([u.writer.ackedMore(20, 60_000), viaMaster.ackedMore(20, 60_000)]);
    t.diagnostic(gaps(t0));
  }

  /** The longest time without an acknowledgement since `since` (performance.now()), per writer. */
  const gaps = (since: number) => `longest write gap: Sentinel writer ${Math.round(u.writer.longestGapSince(since))} ms, -master writer ${Math.round(viaMaster.longestGapSince(since))} ms`;

  async function masterNode(t: TestContext): Promise<{ master: string; node: string }> {
    const master = await oneMaster(t);
    const where = (await placement(NS)).get(master)!;
    assert.match(where, /^redis-ha-testbed-[abc]$/, `the master ${master} is on a worker`);
    return { master, node: where };
  }

  test('the default scheduling spreads the Redis pods and the Sentinels over the three worker nodes', async (t) => {
    const at = await placement(NS);
    const of = (component: string) => [...at].filter(([pod]) => pod.startsWith(`${NAME}-${component}-`)).map(([, n]) => n);
    t.diagnostic(`placement: ${[...at].map(([p, n]) => `${p}@${n}`).join(' ')}`);
    for (const component of ['redis', 'sentinel']) {
      const on = of(component);
      assert.equal(on.length, 3, `three ${component} pods`);
      assert.deepEqual([...new Set(on)].sort(), ['redis-ha-testbed-a', 'redis-ha-testbed-b', 'redis-ha-testbed-c'], `one ${component} pod per worker node`);
    }
  });

  test('the master\'s node stopped (powered off): failover, -master follows, its pods are not Ready once the node is NotReady, and after start the old master follows', async (t) => {
    const { master, node: where } = await masterNode(t);
    const t0 = performance.now();
    try {
      await failsOver(t, 'stop', where, master, t0);
      await eventually(`${where} NotReady`, 120_000, async () => ((await nodeReady(where)) === 'Unknown' || (await nodeReady(where)) === 'False' ? true : undefined));
      t.diagnostic(`${where} NotReady after ${Math.round((performance.now() - t0) / 1000)} s`);
      await eventually(`the pods of ${where} not Ready`, 60_000, async () => {
        const pods = [...(await d.pods('redis')), ...(await d.pods('sentinel'))];
        const at = await placement(NS);
        return pods.filter((p) => at.get(p.name) === where).every((p) => !p.ready) ? true : undefined;
      });
      const old = (await d.pods('redis')).find((p) => p.name === master)!;
      assert.notEqual(old.labels[MASTER_POD_LABEL], 'master', `${master} lost the master label`);
    } finally {
      await node('start', where);
    }
    const m = await oneMaster(t);
    assert.notEqual(m, master);
    await nothingLost(t, m, 'node stopped');
  });

  test('the master\'s node paused 20 s (every process frozen, its sockets open) and resumed: failover, and the old master follows', async (t) => {
    const { master, node: where } = await masterNode(t);
    const t0 = performance.now();
    try {
      await failsOver(t, 'pause', where, master, t0);
      const wait = 20_000 - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    } finally {
      await node('resume', where);
    }
    const m = await oneMaster(t);
    t.diagnostic(`resumed after ${Math.round((performance.now() - t0) / 1000)} s; ${gaps(t0)}`);
    await nothingLost(t, m, 'node paused');
  });

  test('the master\'s node partitioned: a client on it is refused within min-replicas-max-lag + 1 s, the majority fails over, after heal the old master is a replica', async (t) => {
    const { master, node: where } = await masterNode(t);
    const uid = (await d.pods('redis')).find((p) => p.name === master)!.uid;
    const pid = processOfPod(uid);
    const inside = new InsideWriter(pid, password, 'e2e:nodes:inside');
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
      assert.ok(refusedAfter <= (MAX_LAG_S + 1) * 1000, `refused after ${refusedAfter} ms, more than min-replicas-max-lag + 1 s`);
      const next = await namedOtherThan(master);
      t.diagnostic(`the majority's Sentinels named ${next} ${Math.round(performance.now() - t0)} ms after the partition`);
      await Promise.all([u.writer.ackedMore(20, 60_000), viaMaster.ackedMore(20, 60_000)]);
      t.diagnostic(gaps(t0));
    } finally {
      await node('heal', where);
      await inside.stop();
    }
    const m = await oneMaster(t);
    assert.notEqual(m, master);
    const mip = (await d.pods('redis')).find((p) => p.name === m)!.ip!;
    const lostInside = await inside.missingOn(mip);
    const lostLate = lostInside.filter((i) => inside.ackTimes[i]! > refusedAt!);
    t.diagnostic(`the client on the isolated node: ${inside.acked.length} acknowledged, ${lostInside.length} lost (acknowledged by the isolated master before it refused), ${lostLate.length} of them after its first refusal`);
    assert.equal(lostLate.length, 0, 'a write the isolated master acknowledged after it began refusing is lost');
    await nothingLost(t, m, 'node partitioned', cutAt);
  });

  // After the drain the evicted pods stay where they were rescheduled (two of a kind on one node: the
  // anti-affinity is soft), so the faults that need one pod of each kind per node come before it.
  test('kubectl drain of the master\'s node: the budgets hold, the master is handed over first, nothing acknowledged is lost', async (t) => {
    const { master, node: where } = await masterNode(t);
    const t0 = performance.now();
    try {
      const out = await kubectl(['drain', where, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=300s']);
      t.diagnostic(`drained ${where} in ${Math.round((performance.now() - t0) / 1000)} s: ${out.trim().split('\n').filter((l) => /evicted|drained/.test(l)).join('; ')}`);
      const m = await oneMaster(t, 300_000);
      assert.notEqual(m, master, 'the master moved to another pod');
      t.diagnostic(gaps(t0));
      await nothingLost(t, m, 'drain');
      const at = await placement(NS);
      assert.ok(![...at.values()].includes(where), `no pod of ${NS} left on ${where}`);
    } finally {
      await kubectl(['uncordon', where]);
    }
  });

  test('every pod of the master\'s node killed at once (a host reboot as the pods see it)', async (t) => {
    const { master, node: where } = await masterNode(t);
    const t0 = performance.now();
    t.diagnostic((await node('reboot', where)).trim() || `rebooted ${where}`);
    const m = await oneMaster(t, 240_000);
    t.diagnostic(`${m} is the one master ${Math.round((performance.now() - t0) / 1000)} s after (was ${master}); ${gaps(t0)}`);
    await nothingLost(t, m, 'reboot');
  });

});

describe('zoneSpread hard on three zones: a zone\'s node stopped', ON_TESTBED, () => {
  const ns = 'e2e-nodes-zones';
  const name = 'zones';
  before(async () => {
    await node('up');
    await freshNamespace(ns, testbedRedisHA(ns, name, { scheduling: { ...WORKERS, zoneSpread: 'hard' } }));
    await waitPodsReady(ns, 300_000);
  });
  after(async () => {
    await dropNamespace(ns);
    await node('down');
  });

  test('pods that must move stay Pending rather than doubling up in another zone, and return once the node does', async (t) => {
    const where = 'redis-ha-testbed-c';
    await node('stop', where);
    try {
      await eventually(`${where} NotReady`, 120_000, async () => ((await nodeReady(where)) !== 'True' ? true : undefined));
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
