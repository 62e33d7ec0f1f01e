// Smoke test of the Kubernetes test bed (testbed/up): the real API server, node, containerd, CNI,
// kube-proxy and CoreDNS, with a pod from the locally built Redis image, cert-manager issuing a
// CA and a leaf certificate, and MetalLB giving a LoadBalancer Service an address that an outside client
// (testbed/client-netns) reaches while it cannot reach cluster addresses. Runs when
// REDIS_HA_TESTBED_KUBECONFIG names the kubeconfig that testbed/up printed (.ci/run sets it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { eventually } from './helpers.ts';

const run = promisify(execFile);
const kubeconfig = process.env.REDIS_HA_TESTBED_KUBECONFIG;
const skip = kubeconfig ? false : 'no test bed: run testbed/up and set REDIS_HA_TESTBED_KUBECONFIG to the path it prints';
const NS = 'testbed-smoke';
const DNS_IP = '10.96.0.10';
const REDIS_IMAGE = 'localhost/redis-ha/redis:test';
const NODE_IMAGE = 'localhost/redis-ha/node:24';

/** kubectl from the test bed's build (bin/ beside the kubeconfig), on the test bed's kubeconfig. */
async function kubectl(args: string[], input?: string): Promise<string> {
  const bin = join(dirname(kubeconfig!), 'bin', 'kubectl');
  const child = run(bin, ['--kubeconfig', kubeconfig!, ...args], { timeout: 60_000 });
  if (input !== undefined) {
    child.child.stdin!.end(input);
  }
  return (await child).stdout;
}

interface Kubeconfig {
  clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
}

/** GET on the API server with the kubeconfig's client certificate, no client library in between. */
function apiGet(path: string): Promise<{ status: number; body: string }> {
  const kc = parse(readFileSync(kubeconfig!, 'utf8')) as Kubeconfig;
  const b64 = (s: string) => Buffer.from(s, 'base64');
  const url = new URL(path, kc.clusters[0]!.cluster.server);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      ca: b64(kc.clusters[0]!.cluster['certificate-authority-data']),
      cert: b64(kc.users[0]!.user['client-certificate-data']),
      key: b64(kc.users[0]!.user['client-key-data']),
      timeout: 10_000,
    }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.end();
  });
}

/** A plain redis-server pod of the test bed's image, Ready once it answers PING, and a Service of `type` in front of it. */
function redisBehindService(namespace: string, app: string, type: 'ClusterIP' | 'LoadBalancer'): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: redis, namespace: ${namespace}, labels: {app: ${app}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: redis
    image: ${REDIS_IMAGE}
    imagePullPolicy: Never
    args: ["--port", "6379", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
    ports: [{containerPort: 6379}]
    readinessProbe:
      exec: {command: [redis-cli, ping]}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: ${app}, namespace: ${namespace}}
spec:
  type: ${type}
  selector: {app: ${app}}
  ports: [{port: 6379, targetPort: 6379}]
`;
}

const manifests = `
apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
${redisBehindService(NS, 'smoke-redis', 'ClusterIP')}
---
apiVersion: v1
kind: Pod
metadata: {name: node, namespace: ${NS}}
spec:
  restartPolicy: Never
  containers:
  - name: node
    image: ${NODE_IMAGE}
    imagePullPolicy: Never
    args: ["-e", "console.log('node ' + process.version)"]
`;

describe('Kubernetes test bed', { skip }, () => {
  before(async () => {
    await kubectl(['apply', '-f', '-'], manifests);
  });
  after(async () => {
    await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => {});
  });

  test('the API server answers with its version and is ready', async () => {
    const ready = await apiGet('/readyz');
    assert.equal(ready.status, 200, ready.body);
    const version = JSON.parse((await apiGet('/version')).body) as { gitVersion: string };
    assert.match(version.gitVersion, /^v1\.34\.\d+$/);
  });

  test('the node is Ready', async () => {
    // The test bed's own node (testbed/node's workers come and go with the node-fault tests).
    const status = await eventually('node Ready', 60_000, async () => {
      const s = (await kubectl(['get', 'node', 'redis-ha-testbed', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).trim();
      return s === 'True' ? s : undefined;
    });
    assert.equal(status, 'True');
  });

  test('a pod from the local Redis image runs and its Service answers PING through the ClusterIP from the host', async () => {
    await kubectl(['-n', NS, 'wait', '--for=condition=Ready', 'pod/redis', '--timeout=120s']);
    const clusterIP = (await kubectl(['-n', NS, 'get', 'service', 'smoke-redis', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    assert.match(clusterIP, /^10\.96\.\d+\.\d+$/);
    // kube-proxy programs the Service's rules shortly after its endpoints appear.
    const pong = await eventually('PING through the ClusterIP', 60_000, async () => {
      const { stdout } = await run('redis-cli', ['-h', clusterIP, '-p', '6379', 'PING'], { timeout: 5_000 });
      return stdout.trim() === 'PONG' ? stdout.trim() : undefined;
    });
    assert.equal(pong, 'PONG');
    const { stdout: info } = await run('redis-cli', ['-h', clusterIP, '-p', '6379', 'INFO', 'server'], { timeout: 5_000 });
    assert.match(info, /redis_version:/);
  });

  test('the Node 24 base image runs node, and its log comes back through the kubelet', async () => {
    await kubectl(['-n', NS, 'wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/node', '--timeout=120s']);
    assert.match(await kubectl(['-n', NS, 'logs', 'pod/node']), /^node v24\.\d+\.\d+\n$/);
  });

  test('CoreDNS resolves the Service name to its ClusterIP', async () => {
    const clusterIP = (await kubectl(['-n', NS, 'get', 'service', 'smoke-redis', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([DNS_IP]);
    const addresses = await eventually('the Service name in CoreDNS', 60_000, async () => {
      const a = await resolver.resolve4(`smoke-redis.${NS}.svc.cluster.local`);
      return a.length ? a : undefined;
    });
    assert.deepEqual(addresses, [clusterIP]);
  });
});

describe('cert-manager in the test bed', { skip }, () => {
  // A namespace of its own per run: a namespace of an earlier run may still be terminating.
  const ns = `testbed-certs-${process.pid}`;
  const dnsNames = [`redis.${ns}.svc`, `redis.${ns}.svc.cluster.local`];
  const certManifests = `
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: ${ns}}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: ca, namespace: ${ns}}
spec:
  isCA: true
  commonName: testbed-certs-ca
  secretName: ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: Issuer}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: ${ns}}
spec: {ca: {secretName: ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: leaf, namespace: ${ns}}
spec:
  secretName: leaf-tls
  dnsNames: [${dnsNames.join(', ')}]
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: ca, kind: Issuer}
`;
  after(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => {});
  });

  /** The Secret's data, decoded. */
  async function secretData(name: string): Promise<Record<string, string>> {
    const secret = JSON.parse(await kubectl(['-n', ns, 'get', 'secret', name, '-o', 'json'])) as { data: Record<string, string> };
    return Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  }

  test('a SelfSigned Issuer signs a CA, a CA Issuer from its Secret signs a leaf with the dnsNames', async () => {
    await kubectl(['apply', '-f', '-'], certManifests);
    await eventually('Certificate leaf Ready', 120_000, async () => {
      const ready = await kubectl(['-n', ns, 'get', 'certificate', 'leaf', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
      return ready === 'True' ? ready : undefined;
    });
    const leafSecret = await secretData('leaf-tls');
    assert.deepEqual(Object.keys(leafSecret).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    const caSecret = await secretData('ca');
    const ca = new X509Certificate(caSecret['tls.crt']!);
    assert.equal(ca.ca, true);
    assert.equal(leafSecret['ca.crt'], caSecret['tls.crt']);
    const leaf = new X509Certificate(leafSecret['tls.crt']!);
    assert.equal(leaf.ca, false);
    assert.ok(leaf.checkIssued(ca), 'the leaf names the CA as its issuer');
    assert.ok(leaf.verify(ca.publicKey), "the leaf's signature verifies with the CA's key");
    assert.ok(leaf.checkPrivateKey(createPrivateKey(leafSecret['tls.key']!)), 'tls.key is the key of tls.crt');
    assert.deepEqual(leaf.subjectAltName?.split(', ').sort(), dnsNames.map((n) => `DNS:${n}`).sort());
  });
});

describe('MetalLB load balancers and the outside client in the test bed', {
  skip: skip || (process.getuid?.() !== 0 ? 'the client network namespace needs root (ip netns exec)' : false),
}, () => {
  const ns = `testbed-lb-${process.pid}`;
  const POOL_FIRST = '10.245.1.100';
  const POOL_LAST = '10.245.1.199';
  const LB_IF = 'rhatb-lb';
  const clientNetns = resolve(import.meta.dirname, '..', 'testbed', 'client-netns');
  const lbManifests = `
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
${redisBehindService(ns, 'lb-redis', 'LoadBalancer')}`;
  // What a program in the client's network namespace sees: connects (TCP, then PING for a Redis) or sends a
  // datagram (UDP), and prints the outcome as JSON: {"reply": "..."} or {"error": "ECODE"}.
  const probeScript = `
const [proto, host, port] = process.argv.slice(1);
const done = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
setTimeout(() => done({ error: 'TIMEOUT' }), 3000).unref();
if (proto === 'udp') {
  const s = require('node:dgram').createSocket('udp4');
  s.send(Buffer.alloc(12), Number(port), host, (err) => done(err ? { error: err.code } : { sent: true }));
} else {
  const c = require('node:net').connect(Number(port), host, () => c.write('PING\\r\\n'));
  c.on('data', (d) => done({ reply: d.toString().trim() }));
  c.on('error', (err) => done({ error: err.code }));
}`;
  let netns = '';

  /** The outcome of probeScript run in the client's network namespace. */
  async function fromClient(proto: 'tcp' | 'udp', host: string, port: number): Promise<{ reply?: string; error?: string; sent?: boolean }> {
    const { stdout } = await run('ip', ['netns', 'exec', netns, process.execPath, '-e', probeScript, proto, host, String(port)], { timeout: 10_000 });
    return JSON.parse(stdout) as { reply?: string; error?: string };
  }

  const ipNumber = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);

  before(async () => {
    await kubectl(['apply', '-f', '-'], lbManifests);
    const { stdout } = await run(clientNetns, [], { timeout: 30_000 });
    netns = stdout.trim().split('\n').pop()!;
  });
  after(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => {});
  });

  test('the client network namespace has only the bridge subnet: no default route, none to pods or Services', async () => {
    assert.equal(netns, 'rhatb-client');
    const { stdout } = await run('ip', ['-n', netns, '-4', 'route', 'show'], { timeout: 5_000 });
    assert.deepEqual(stdout.trim().split('\n').map((r) => r.split(' ').slice(0, 3).join(' ')), ['10.245.1.0/24 dev eth0']);
    const v6 = await run('ip', ['-n', netns, '-6', 'addr', 'show'], { timeout: 5_000 });
    assert.equal(v6.stdout.trim(), '', 'no IPv6 address in the client namespace');
  });

  test('a LoadBalancer Service gets an address from the pool and answers PING there from the client namespace', async () => {
    const ip = await eventually('an address in status.loadBalancer.ingress', 60_000, async () => {
      const s = (await kubectl(['-n', ns, 'get', 'service', 'lb-redis', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim();
      return s ? s : undefined;
    });
    assert.equal(isIP(ip), 4);
    assert.ok(ipNumber(ip) >= ipNumber(POOL_FIRST) && ipNumber(ip) <= ipNumber(POOL_LAST), `${ip} is in the pool ${POOL_FIRST}-${POOL_LAST}`);
    await kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/redis', '--timeout=120s']);
    // The speaker announces it once the Service has a ready endpoint; kube-proxy programs the DNAT rules.
    const outcome = await eventually('PONG from the LoadBalancer address in the client namespace', 60_000, async () => {
      const o = await fromClient('tcp', ip, 6379);
      return o.reply === '+PONG' ? o : undefined;
    });
    assert.deepEqual(outcome, { reply: '+PONG' });
    // MetalLB's speaker answered the ARP request: no interface of the host holds the address (the kernel
    // answers ARP for its own addresses only), yet the client resolved it to the bridge's MAC.
    const local = await run('ip', ['-4', '-o', 'addr', 'show'], { timeout: 5_000 });
    assert.doesNotMatch(local.stdout, new RegExp(` ${ip.replaceAll('.', '\\.')}/`));
    const neigh = await run('ip', ['-n', netns, 'neigh', 'show', ip], { timeout: 5_000 });
    const bridgeMac = readFileSync(`/sys/class/net/${LB_IF}/address`, 'utf8').trim();
    assert.match(neigh.stdout, new RegExp(`^${ip.replaceAll('.', '\\.')} dev eth0 lladdr ${bridgeMac} `));
    // The speaker reports the announcement too (written after it starts answering, so waited for).
    const status = await eventually('the speaker\'s ServiceL2Status for the Service', 30_000, async () => {
      const l2 = JSON.parse(await kubectl(['-n', 'metallb-system', 'get', 'servicel2statuses', '-o', 'json'])) as {
        items: { status?: { serviceName: string; serviceNamespace: string; node: string; interfaces?: { name: string }[] } }[];
      };
      return l2.items.find((i) => i.status?.serviceNamespace === ns && i.status.serviceName === 'lb-redis')?.status;
    });
    assert.equal(status.node, 'redis-ha-testbed');
    assert.deepEqual(status.interfaces?.map((i) => i.name), [LB_IF]);
  });

  test('the client namespace cannot reach a ClusterIP, a pod IP or the cluster DNS: the network is unreachable', async () => {
    await kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/redis', '--timeout=120s']);
    const clusterIP = (await kubectl(['-n', ns, 'get', 'service', 'lb-redis', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const podIP = (await kubectl(['-n', ns, 'get', 'pod', 'redis', '-o', 'jsonpath={.status.podIP}'])).trim();
    assert.match(clusterIP, /^10\.96\./);
    assert.match(podIP, /^10\.244\./);
    assert.deepEqual(await fromClient('tcp', clusterIP, 6379), { error: 'ENETUNREACH' });
    assert.deepEqual(await fromClient('tcp', podIP, 6379), { error: 'ENETUNREACH' });
    assert.deepEqual(await fromClient('udp', DNS_IP, 53), { error: 'ENETUNREACH' });
  });
});
