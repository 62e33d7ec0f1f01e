// Plain manifests (no operator), persistence off, the default profile: the master pod loses the cluster
// DNS (port 53 rejected in its network namespace, as a DNS Service with no endpoints is, and a container
// restart keeps the rule), then its
// redis-server is SIGKILLed. Restarted, it reaches no Sentinel and no other Redis pod. Made master, the
// empty node would be copied by every replica that reconnects (they still resolve it): every write lost.
// Start rule 6 (src/topology/start.ts) fences it instead; Sentinel's own check of a master that reports
// itself a replica (down-after + 20 s) fails it over to a replica with the data. Once DNS is back the
// pod follows that master. Seen on the test bed: e2e-plain-crash's master, killed while the cluster DNS
// did not yet resolve the namespace's pods, came back as master and both replicas resynced from it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ask, processOfPod } from '../bench/k8s.ts';
import { REDIS_PORT } from '../src/kubernetes/render/index.ts';
import { eventually } from './helpers.ts';
import { REDIS_IMAGE, SMALL_RESOURCES, dropNamespace, kubectl, ON_TESTBED, failoverReport, plainDeploymentUnderWriter, requireTestbedInCI, type DeploymentUnderWriter } from './testbed-kube.ts';

const NS = 'e2e-plain-dns';
const NAME = 'dns';
const SPEC = JSON.stringify({
  name: NAME,
  replicas: 2,
  sentinels: 3,
  image: { ...REDIS_IMAGE, pullPolicy: 'Never', allowUnpatched: true },
  persistence: { enabled: false },
  routing: 'label',
  resources: { redis: SMALL_RESOURCES.redis, sentinel: SMALL_RESOURCES.sentinel },
});

/** Adds (`-I`) or removes (`-D`) the rules that reject DNS leaving the network namespace of process `pid`. */
function dns(pid: number, op: '-I' | '-D'): void {
  for (const proto of ['udp', 'tcp']) execFileSync('nsenter', ['-t', String(pid), '-n', 'iptables', op, 'OUTPUT', '-p', proto, '--dport', '53', '-j', 'REJECT']);
}

requireTestbedInCI('the DNS-loss restart test has a test bed');

describe('plain manifests: a master restarted without DNS never comes back as an empty master', ON_TESTBED, () => {
  let u: DeploymentUnderWriter | undefined;
  before(async () => (u = await plainDeploymentUnderWriter(NS, NAME, SPEC, 2, 'e2e:plain-dns')));
  after(() => (u ? u.close() : dropNamespace(NS)));

  test('SIGKILL of the master while its pod has no DNS: fenced, failed over by Sentinel, nothing acknowledged lost, then it follows', async (t) => {
    const { d, writer, stopWriter } = u!;
    const [old] = await d.sentinelsName();
    const pod = (await d.pods('redis')).find((p) => p.name === old)!;
    const password = await d.password();
    const killed = processOfPod(pod.uid);
    dns(killed, '-I');
    let dnsBack = false;
    try {
      // The pod's own redis-cli cannot resolve a name now (what its start script asks through).
      const peer = (await d.pods('redis')).find((p) => p.name !== old)!.name;
      const lookup = await kubectl(['-n', NS, 'exec', old!, '-c', 'redis', '--', 'sh', '-c', `redis-cli -h ${peer}.${d.names.headless}.${NS}.svc PING 2>&1 || true`]);
      assert.doesNotMatch(lookup, /PONG|NOAUTH/, `${old} still reaches ${peer} by name`);
      process.kill(killed, 'SIGKILL');
      const killedAt = Date.now();
      t.diagnostic(`killed redis-server pid ${killed} of ${old}, its pod without DNS`);
      // Until the Sentinels name another pod: the restarted node's role, every 200 ms.
      const roles = new Set<string>();
      // Sentinel's own check comes 25-35 s after the restart (down-after + 20 s from its INFO, every 10 s);
      // a Sentinel stalled for 2 s by a loaded machine enters TILT and checks nothing for 30 s more.
      const now = await eventually(`the Sentinels to name a pod other than ${old}`, 180_000, async () => {
        const role = await ask({ host: pod.ip!, port: REDIS_PORT, password }, 'ROLE').catch(() => undefined);
        if (Array.isArray(role)) roles.add(String(role[0]));
        const n = await d.sentinelsName();
        const others = n.filter((x) => x !== undefined && x !== old && x === n.find((y) => y !== undefined && y !== old));
        return others.length >= 2 ? others[0] : undefined;
      }).catch(async (err: Error) => {
        throw new Error(`${err.message}; roles of ${old} seen: ${[...roles].join(', ') || 'none'}\n${await failoverReport(NS, (await d.pods('sentinel')).map((p) => p.name), old!)}`);
      });
      t.diagnostic(`the Sentinels named ${now} ${Date.now() - killedAt} ms after the kill; ${old} answered as ${[...roles].join(', ')} meanwhile`);
      assert.ok(!roles.has('master'), `${old} came back as master with no DNS`);
      assert.ok(roles.has('slave'), `${old} never answered after its restart`);
      await writer.ackedMore(50, 60_000);
      await stopWriter();
      const master = (await d.pods('redis')).find((p) => p.name === now)!;
      assert.deepEqual(await writer.missingOn({ host: master.ip!, port: REDIS_PORT }, password), [], 'acknowledged writes lost');
      dns(processOfPod(pod.uid), '-D');
      dnsBack = true;
      await eventually(`${old} replicating from ${now}`, 60_000, async () => {
        const role = await ask({ host: pod.ip!, port: REDIS_PORT, password }, 'ROLE').catch(() => undefined);
        return Array.isArray(role) && role[0] === 'slave' && String(role[1]).split('.')[0] === now && role[3] === 'connected' ? true : undefined;
      });
    } finally {
      if (!dnsBack) {
        try {
          dns(processOfPod(pod.uid), '-D');
        } catch {
          // the pod's process is gone; the namespace goes with the test
        }
      }
    }
  });
});
