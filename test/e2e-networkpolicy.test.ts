// The rendered NetworkPolicy's promises, on the test bed, where kube-network-policies enforces it
// (testbed/README.md, "NetworkPolicy"). Every connection is made from a real pod (the node:24 image, a
// probe run with kubectl exec) or, for the CIDR and load-balancer source-range rules, from the outside
// client's network namespace (testbed/client-netns: 10.245.1.2, and 10.245.1.3 as a source not listed).
// Plain manifests rendered from this clone, applied without the NetworkPolicy first: each case the policy
// must refuse is shown to connect then (so the test can fail), and refused after it, by a timeout at the
// network level: the SYN is dropped (no answer, no reset), never an AUTH error, and the enforcer counts
// each retransmitted SYN as dropped (its metrics). Runs as root on the node (nft, ip netns exec); the node's own
// root processes are exempt from enforcement (kubelet probes; upstream's rule), so the host is never
// used as a client here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderManifests, REDIS_PORT, SENTINEL_PORT, METRICS_PORT, clientLabel } from '../src/kubernetes/render/index.ts';
import { formatObjects } from '../src/cli/commands/render.ts';
import { resolveSpec } from '../src/spec/index.ts';
import { ClusterDeployment, ask } from '../bench/k8s.ts';
import { parseFlatRecords, parseReplication } from '../src/redis/parse.ts';
import { eventually } from './helpers.ts';
import { EXPORTER_IMAGE, REDIS_IMAGE, REPO, ON_TESTBED, dropNamespace, freshNamespace, kubeconfig, kubectl, requireTestbedInCI } from './testbed-kube.ts';

const run = promisify(execFile);
const NAME = 'np';
const NS = 'e2e-netpol';
const ALLOWED_NS = 'e2e-netpol-allowed';
const MONITORING_NS = 'e2e-netpol-monitoring';
const OTHER_NS = 'e2e-netpol-other';
const NODE_IMAGE = 'localhost/redis-ha/node:24';
/** The outside client's two source addresses (testbed/client-netns): one the policy lists, one it does not. */
const LISTED = '10.245.1.2';
const UNLISTED = '10.245.1.3';
/** kube-network-policies' nftables table and the set of the pod IPs it diverts (lib/kube-network-policies.sh). */
const NP_TABLE = 'kube-network-policies';
/** How long a probe waits for the TCP handshake: SYNs go out at 0, 1 and 3 s. */
const CONNECT_WINDOW_MS = 5_000;

const spec = resolveSpec({
  name: NAME,
  replicas: 1,
  sentinels: 3,
  image: { repository: REDIS_IMAGE.repository, tag: REDIS_IMAGE.tag, pullPolicy: 'Never', allowUnpatched: true },
  sentinel: { profile: 'fast' },
  metrics: { enabled: true, image: EXPORTER_IMAGE, serviceMonitor: { enabled: true, namespace: MONITORING_NS } },
  // The Sentinels' Service as a load balancer narrowed to the second client address (externalTrafficPolicy
  // Local by default then: the pods see the client's address).
  services: { sentinel: { type: 'LoadBalancer', loadBalancerSourceRanges: [`${UNLISTED}/32`] } },
  networkPolicy: { enabled: true, allowedNamespaces: [ALLOWED_NS], allowedCidrs: [`${LISTED}/32`] },
  resources: {
    redis: { requests: { cpu: '50m', memory: '48Mi' }, limits: { memory: '192Mi' } },
    sentinel: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    exporter: { requests: { cpu: '5m', memory: '16Mi' }, limits: { memory: '48Mi' } },
  },
  // The probes reach the pods by their IPs: no endpoint Deployment for -master and -replicas.
  routing: 'label',
});
const rendered = renderManifests(spec, { namespace: NS }).objects;
const policy = rendered.find((o) => o.kind === 'NetworkPolicy');
// No Prometheus here: what is tested is the NetworkPolicy's rule for the ServiceMonitor's namespace.
const workloads = rendered.filter((o) => !['NetworkPolicy', 'ServiceMonitor', 'PrometheusRule'].includes(o.kind));

/** A pod that only idles; the probes run in it with kubectl exec. */
const probePod = (namespace: string, name: string, labels: Record<string, string> = {}) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: ${JSON.stringify({ app: 'e2e-netpol-probe', ...labels })}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: probe
    image: ${NODE_IMAGE}
    imagePullPolicy: Never
    command: [/usr/local/bin/node, -e, "setInterval(() => {}, 1 << 30)"]
`;

/** A load balancer of the test's own in front of the Redis pods, with no source ranges of its own: only the NetworkPolicy narrows it. */
const DIRECT_LB = `
apiVersion: v1
kind: Service
metadata: {name: np-direct, namespace: ${NS}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app.kubernetes.io/instance: ${NAME}, app.kubernetes.io/component: redis}
  ports: [{name: redis, port: ${REDIS_PORT}, targetPort: ${REDIS_PORT}}]
`;

/**
 * Connects (from localAddress when given), sends a Redis PING or an HTTP GET of /metrics, prints the outcome
 * as JSON: {"outcome":"answered","reply":FIRST LINE,"local":"IP:PORT"}, {"outcome":"timeout","local":...}
 * (no handshake within the window), {"outcome":"reset"} (RST), or {"outcome":"error","code":...}.
 */
const PROBE = `
const [proto, host, port, localAddress] = process.argv.slice(1);
const s = require('node:net').connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
const local = () => s.localAddress ? s.localAddress + ':' + s.localPort : undefined;
const done = (o) => { console.log(JSON.stringify({ ...o, local: o.local ?? local() })); process.exit(0); };
const t = setTimeout(() => done({ outcome: 'timeout' }), ${CONNECT_WINDOW_MS});
let seen;
s.on('connect', () => { seen = local(); clearTimeout(t); s.write(proto === 'http' ? 'GET /metrics HTTP/1.0\\r\\n\\r\\n' : 'PING\\r\\n'); setTimeout(() => done({ outcome: 'silent' }), 5000); });
s.on('data', (d) => done({ outcome: 'answered', reply: d.toString().split('\\r\\n')[0], local: seen }));
s.on('error', (e) => done(e.code === 'ECONNRESET' ? { outcome: 'reset', local: seen } : { outcome: 'error', code: e.code, local: seen }));`;

interface Outcome {
  outcome: 'answered' | 'timeout' | 'reset' | 'silent' | 'error';
  reply?: string;
  code?: string;
  local?: string;
}

/** A client: a probe pod (namespace/name) or the outside client's network namespace from one of its addresses. */
type From = { pod: string } | { outside: string };
const describeFrom = (f: From) => ('pod' in f ? `pod ${f.pod}` : `outside client ${f.outside}`);

let netns = '';
async function probe(from: From, proto: 'redis' | 'http', host: string, port: number): Promise<Outcome> {
  const args = [proto, host, String(port)];
  const stdout =
    'pod' in from
      ? await kubectl(['-n', from.pod.split('/')[0]!, 'exec', from.pod.split('/')[1]!, '--', '/usr/local/bin/node', '-e', PROBE, ...args])
      : (await run('ip', ['netns', 'exec', netns, process.execPath, '-e', PROBE, ...args, from.outside], { timeout: 20_000 })).stdout;
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Outcome;
}

/** What an allowed Redis or Sentinel port answers a PING without credentials: it reached the server. */
const NOAUTH = { outcome: 'answered', reply: '-NOAUTH Authentication required.' };
/** What the exporter's metrics port answers (an HTTP/1.0 request gets an HTTP/1.0 answer). */
const METRICS_OK = { outcome: 'answered', reply: 'HTTP/1.0 200 OK' };
const without = (o: Outcome) => ({ outcome: o.outcome, ...(o.reply !== undefined ? { reply: o.reply } : {}), ...(o.code !== undefined ? { code: o.code } : {}) });

/** The pod IPs kube-network-policies diverts to its queue: those of pods some NetworkPolicy selects. */
async function divertedIPs(): Promise<string[]> {
  const { stdout } = await run('nft', ['-j', 'list', 'set', 'inet', NP_TABLE, 'podips-v4']);
  const set = (JSON.parse(stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables.find((e) => e.set)?.set;
  return (set?.elem ?? []).map(String).sort();
}

/** How many packets kube-network-policies has dropped (its metrics, on the node's loopback). */
async function dropsCounted(): Promise<number> {
  const text = await (await fetch('http://127.0.0.1:9080/metrics')).text();
  return [...text.matchAll(/^kube_network_policies_packet_count\{[^}]*verdict="drop"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

requireTestbedInCI('the NetworkPolicy end-to-end tests have a test bed');

describe('the rendered NetworkPolicy, enforced by kube-network-policies on the test bed', {
  skip: ON_TESTBED.skip || (process.getuid?.() !== 0 ? 'needs root on the test bed node (nft, ip netns exec)' : false),
}, () => {
  let d: ClusterDeployment;
  let redis: { name: string; ip: string }[] = [];
  let sentinel: { name: string; ip: string }[] = [];
  let directLB = '';
  let sentinelLB = '';

  const LABELLED = { pod: `${NS}/labelled` };
  const UNLABELLED = { pod: `${NS}/unlabelled` };
  const IN_ALLOWED_NS = { pod: `${ALLOWED_NS}/client` };
  const IN_MONITORING_NS = { pod: `${MONITORING_NS}/scraper` };
  const IN_OTHER_NS = { pod: `${OTHER_NS}/stranger` };

  /** The cases the policy must refuse: [client, protocol, host, port, what it is]. */
  const refusals = (): [From, 'redis' | 'http', string, number, string][] => [
    [UNLABELLED, 'redis', redis[0]!.ip, REDIS_PORT, 'a pod without the client label, Redis port'],
    [UNLABELLED, 'redis', sentinel[0]!.ip, SENTINEL_PORT, 'a pod without the client label, Sentinel port'],
    [IN_OTHER_NS, 'redis', redis[0]!.ip, REDIS_PORT, 'a pod in a namespace not listed'],
    [IN_MONITORING_NS, 'redis', redis[0]!.ip, REDIS_PORT, "a pod in the ServiceMonitor's namespace, Redis port"],
    [IN_OTHER_NS, 'http', redis[0]!.ip, METRICS_PORT, 'the metrics port from a namespace other than the ServiceMonitor\'s'],
    [LABELLED, 'http', redis[0]!.ip, METRICS_PORT, 'the metrics port from a labelled client'],
    [{ outside: UNLISTED }, 'redis', directLB, REDIS_PORT, 'the Redis port from an address no CIDR or source range lists'],
  ];

  before(async () => {
    await freshNamespace(ALLOWED_NS, probePod(ALLOWED_NS, 'client'));
    await freshNamespace(MONITORING_NS, probePod(MONITORING_NS, 'scraper'));
    await freshNamespace(OTHER_NS, probePod(OTHER_NS, 'stranger'));
    await freshNamespace(NS, formatObjects(workloads, 'yaml'), DIRECT_LB, probePod(NS, 'labelled', { [clientLabel(NAME)]: 'true' }), probePod(NS, 'unlabelled'));
    d = new ClusterDeployment(kubeconfig!, NS, NAME);
    const { stdout } = await run(join(REPO, 'testbed/client-netns'), [], { timeout: 30_000 });
    netns = stdout.trim().split('\n').at(-1)!;
    for (const p of [LABELLED, UNLABELLED, IN_ALLOWED_NS, IN_MONITORING_NS, IN_OTHER_NS]) {
      const [ns, name] = p.pod.split('/');
      await kubectl(['-n', ns!, 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=120s']);
    }
    const ready = async (component: 'redis' | 'sentinel', n: number) =>
      eventually(`${n} ${component} pods Ready`, 300_000, async () => {
        const p = await d.pods(component);
        return p.length === n && p.every((x) => x.ready && x.ip) ? p.map((x) => ({ name: x.name, ip: x.ip! })) : undefined;
      });
    redis = await ready('redis', 2);
    sentinel = await ready('sentinel', 3);
    const lbAddress = (svc: string) =>
      eventually(`a load-balancer address for ${svc}`, 60_000, async () => (await kubectl(['-n', NS, 'get', 'service', svc, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim() || undefined);
    directLB = await lbAddress('np-direct');
    sentinelLB = await lbAddress(d.names.sentinelService);
  });

  after(async () => {
    for (const ns of [NS, ALLOWED_NS, MONITORING_NS, OTHER_NS]) await dropNamespace(ns);
  });

  test('without the policy, every case it must refuse connects (so the refusals below can fail)', async () => {
    const ips = [...redis, ...sentinel].map((p) => p.ip);
    assert.deepEqual((await divertedIPs()).filter((ip) => ips.includes(ip)), [], 'no policy selects the pods yet: none is diverted');
    // The load balancer answers once the speaker announces it and kube-proxy has its rules.
    await eventually(`PING through ${directLB} from ${UNLISTED}`, 60_000, async () => ((await probe({ outside: UNLISTED }, 'redis', directLB, REDIS_PORT)).outcome === 'answered' ? true : undefined));
    const outcomes = await Promise.all(refusals().map(async ([from, proto, host, port, what]) => ({ what, from: describeFrom(from), outcome: without(await probe(from, proto, host, port)) })));
    for (const o of outcomes) assert.deepEqual(o.outcome, o.what.includes('metrics') ? METRICS_OK : NOAUTH, `${o.what} (${o.from})`);
  });

  test('once applied, kube-network-policies diverts every pod of the deployment to its queue', async () => {
    await kubectl(['apply', '-f', '-'], formatObjects([policy!], 'yaml'));
    const ips = [...redis, ...sentinel].map((p) => p.ip).sort();
    await eventually('every Redis and Sentinel pod IP in the set podips-v4', 30_000, async () => {
      const diverted = await divertedIPs();
      return ips.every((ip) => diverted.includes(ip)) ? true : undefined;
    });
  });

  test('allowed: a labelled client and a pod in a listed namespace on 6379 and 26379, the ServiceMonitor\'s namespace on the metrics port, the listed CIDR and the source range', async () => {
    const cases: [From, 'redis' | 'http', string, number, string, object][] = [
      [LABELLED, 'redis', redis[0]!.ip, REDIS_PORT, 'a pod with the client label, Redis port', NOAUTH],
      [LABELLED, 'redis', sentinel[0]!.ip, SENTINEL_PORT, 'a pod with the client label, Sentinel port', NOAUTH],
      [IN_ALLOWED_NS, 'redis', redis[1]!.ip, REDIS_PORT, 'a pod in a listed namespace, Redis port', NOAUTH],
      [IN_ALLOWED_NS, 'redis', sentinel[1]!.ip, SENTINEL_PORT, 'a pod in a listed namespace, Sentinel port', NOAUTH],
      [IN_MONITORING_NS, 'http', redis[0]!.ip, METRICS_PORT, "a pod in the ServiceMonitor's namespace, metrics port", METRICS_OK],
      [{ outside: LISTED }, 'redis', directLB, REDIS_PORT, 'the Redis port from the CIDR networkPolicy.allowedCidrs lists', NOAUTH],
      [{ outside: UNLISTED }, 'redis', sentinelLB, SENTINEL_PORT, "the Sentinel port from the Sentinel Service's loadBalancerSourceRanges", NOAUTH],
    ];
    const outcomes = await Promise.all(cases.map(async ([from, proto, host, port, what, want]) => ({ what, from: describeFrom(from), want, outcome: without(await probe(from, proto, host, port)) })));
    for (const o of outcomes) assert.deepEqual(o.outcome, o.want, `${o.what} (${o.from})`);
  });

  test('refused: no label, another namespace, the metrics port from anywhere else, an address not listed — a timeout (the SYN dropped), each SYN counted as dropped by kube-network-policies', async () => {
    const dropsBefore = await dropsCounted();
    const outcomes = await Promise.all(refusals().map(async ([from, proto, host, port, what]) => ({ what, from: describeFrom(from), outcome: await probe(from, proto, host, port) })));
    for (const o of outcomes) assert.deepEqual(without(o.outcome), { outcome: 'timeout' }, `${o.what} (${o.from})`);
    // Each probe's SYN goes out at 0, 1 and 3 s within its window: the enforcer's verdict for each is drop.
    const dropped = (await dropsCounted()) - dropsBefore;
    assert.ok(dropped >= 3 * outcomes.length, `kube-network-policies counted ${dropped} dropped packets during ${outcomes.length} refused probes (at least 3 SYNs each)`);
  });

  test("the deployment's own pods: a replica deleted under the policy comes back, syncs from the master, and every Sentinel sees it", async () => {
    const password = await d.password();
    const sentinelPassword = await d.sentinelPassword();
    const roleOf = async (ip: string) => parseReplication(String(await ask({ host: ip, port: REDIS_PORT, password }, 'INFO', 'replication').catch(() => '')));
    const replica = (await Promise.all(redis.map(async (p) => ({ p, r: await roleOf(p.ip) })))).find((x) => x.r.role === 'replica')!.p;
    await kubectl(['-n', NS, 'delete', 'pod', replica.name, '--wait=true', '--timeout=120s']);
    const back = await eventually(`${replica.name} back and Ready`, 180_000, async () => (await d.pods('redis')).find((p) => p.name === replica.name && p.ready && p.ip && !p.terminating));
    await eventually(`${replica.name} (${back.ip}) diverted by the policy`, 30_000, async () => ((await divertedIPs()).includes(back.ip!) ? true : undefined));
    // Replication (replica to master) and Sentinel's links (Sentinel to the new pod) are new connections
    // between the deployment's pods, made under the policy.
    await eventually(`${replica.name} replicating with its link up`, 120_000, async () => {
      const r = await roleOf(back.ip!);
      return r.role === 'replica' && 'linkUp' in r && r.linkUp ? true : undefined;
    });
    for (const s of sentinel) {
      await eventually(`Sentinel ${s.name} sees ${replica.name} up`, 60_000, async () => {
        const replicas = parseFlatRecords(await ask({ host: s.ip, port: SENTINEL_PORT, password: sentinelPassword }, 'SENTINEL', 'REPLICAS', d.names.group).catch(() => []));
        const entry = replicas.find((r) => r.get('name')?.startsWith(`${replica.name}.`));
        return entry?.get('flags') === 'slave' && entry.get('master-link-status') === 'ok' ? true : undefined;
      });
    }
  });
});
