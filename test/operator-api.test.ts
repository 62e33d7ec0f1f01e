/**
 * The operator against a real kube-apiserver (etcd + kube-apiserver from the test bed's build, started
 * here on 127.0.0.1:8500-8502). No kubelet: pods never run, so these tests cover what the API server
 * sees: the CRD, the applied objects, status, Events, the Lease, watches. Fails (never skips) when the
 * binaries are missing. The operator runs as a child process (`redis-ha operator`) authenticated as its
 * ServiceAccount, under exactly the RBAC `redis-ha operator manifests` prints.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import { startApiServer, type ApiServer } from './kube-apiserver.ts';
import { BIN, eventually, runCli, testHome } from './helpers.ts';
import { KubeClient, PATCH } from '../src/kubernetes/client.ts';
import { Informer } from '../src/kubernetes/informer.ts';
import { operatorManifests, OPERATOR_NAME } from '../src/kubernetes/manifests.ts';
import { CRD_NAME } from '../src/kubernetes/crd.ts';
import { desiredObjects, keptPasswords, topologyOf, type RedisHAResource } from '../src/kubernetes/reconcile.ts';
import { LabelPublisher } from '../src/kubernetes/runtime.ts';
import { pathOf, collectionPath, typeOfKind, objectPath } from '../src/kubernetes/resources.ts';
import { MASTER_POD_LABEL, renderResource } from '../src/kubernetes/render/index.ts';
import { resolveSpec } from '../src/spec/index.ts';
import { TopologyMetrics } from '../src/observe/metrics.ts';
import type { K8sObject } from '../src/kubernetes/render/index.ts';
import { tlsDnsNames } from '../src/kubernetes/render/index.ts';
import { TLS_HASH_ANNOTATION } from '../src/kubernetes/reconcile.ts';
import { makeCertificate, secretData } from './certs.ts';
import { CERT_MANAGER_CERTIFICATE_CRD } from './k8s-schemas.ts';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const PORT_BASE = 8500;
const OP_NS = 'redis-ha-system';
const NS = 'apps';

let api: ApiServer;
let admin: KubeClient;
let saKubeconfig: string;
const operators: ChildProcess[] = [];

function clientFor(file: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return new KubeClient(kc);
}

interface RunningOp {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startOperator(identity: string, httpPort: number): RunningOp {
  const child = spawn(
    process.execPath,
    [BIN, 'operator', '--kubeconfig', saKubeconfig, '--identity', identity, '--http', `127.0.0.1:${httpPort}`, '--lease-namespace', OP_NS,
      '--lease-duration', '3', '--renew-deadline', '2', '--retry-period', '1', '--status-interval', '1', '--certificate-check', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  operators.push(child);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

async function stopOperator(op: RunningOp, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (op.child.exitCode !== null) return op.child.exitCode;
  op.child.kill(signal);
  return op.exited;
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

const crPath = (name: string) => objectPath({ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true }, name, NS);

async function getCR(name: string): Promise<RedisHAResource> {
  return admin.get<RedisHAResource>(crPath(name));
}

/** resourceVersion and managedFields of every object a RedisHA should have, by kind/name. */
let markers = 0;
/**
 * Evidence that the operator has finished the work it was given before now: it reconciles one key at a
 * time, in the order the watch delivered them, so a RedisHA created now that it must refuse gets its
 * InvalidSpec condition only after everything queued before it is done. The marker is deleted again.
 */
async function operatorCaughtUp(): Promise<void> {
  const name = `marker-${++markers}`;
  const redishas = { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true };
  await admin.request('POST', collectionPath(redishas, NS), { body: { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name }, spec: { sentinels: 3, quorum: 4 } } });
  await eventually(`the operator to refuse ${name}`, 20_000, async () => ((await getCR(name)).status?.conditions?.some((c) => c.reason === 'InvalidSpec') ? true : undefined));
  await admin.request('DELETE', crPath(name));
}

/** The operator's own /metrics text. */
async function metricsOf(port: number): Promise<string> {
  return (await httpGet(`http://127.0.0.1:${port}/metrics`)).body;
}

async function snapshot(objects: K8sObject[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const o of objects) {
    const live = await admin.get<{ metadata: { resourceVersion: string; managedFields: unknown[] } }>(pathOf(o));
    out.set(`${o.kind}/${o.metadata.name}`, JSON.stringify([live.metadata.resourceVersion, live.metadata.managedFields]));
  }
  return out;
}

async function desiredFor(name: string): Promise<K8sObject[]> {
  const cr = await getCR(name);
  const secret = await admin.find(objectPath(typeOfKind('Secret'), `${name}-auth`, NS));
  const d = desiredObjects(cr, keptPasswords(secret));
  assert.ok(d.ok, 'the spec resolves');
  return d.objects;
}

async function eventsFor(name: string): Promise<{ reason: string; message: string; type: string }[]> {
  const list = await admin.get<{ items: { reason: string; message: string; type: string; involvedObject: { name: string } }[] }>(collectionPath(typeOfKind('Event'), NS));
  return list.items.filter((e) => e.involvedObject.name === name);
}

before(async () => {
  api = await startApiServer(PORT_BASE);
  admin = clientFor(api.kubeconfig());
});

after(async () => {
  for (const c of operators) if (c.exitCode === null) c.kill('SIGKILL');
  await api?.stop();
});

describe('operator against a real kube-apiserver', { timeout: 300_000 }, () => {
  it('accepts the CRD and the install manifests (RBAC, Deployment) as printed', async () => {
    for (const o of operatorManifests()) await admin.apply(pathOf(o), o, 'redis-ha-test');
    const crd = await eventually('the CRD to be Established', 30_000, async () => {
      const c = await admin.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') && c.status.conditions.some((x) => x.type === 'NamesAccepted' && x.status === 'True') ? c : undefined;
    });
    // Structural: the API server reports NonStructuralSchema otherwise.
    assert.ok(!crd.status!.conditions!.some((x) => x.type === 'NonStructuralSchema'));
    await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } });
    const token = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${OP_NS}/serviceaccounts/${OPERATOR_NAME}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    });
    saKubeconfig = api.kubeconfig(token.status.token, 'operator-sa');
    // The ServiceAccount may not list Secrets (least privilege), but may read the RedisHA resources.
    const sa = clientFor(saKubeconfig);
    await assert.rejects(sa.get(collectionPath(typeOfKind('Secret'), NS)), /403/);
    // Right after Established the API server may still be starting the resource's storage (429).
    await eventually('the RedisHA collection to be served', 30_000, async () => sa.get(collectionPath({ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true }, NS)));
    // No controller-manager: make the namespace's default ServiceAccount by hand (pods need one).
    await admin.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } } });
  });

  it('refuses a RedisHA the schema rejects, and prunes passwords from the resource', async () => {
    await assert.rejects(
      admin.request('POST', collectionPath({ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true }, NS), {
        body: { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name: 'bad' }, spec: { replicas: 99 } },
      }),
      /422.*replicas/,
    );
    const created = await admin.request<RedisHAResource>('POST', collectionPath({ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true }, NS), {
      body: { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name: 'pruned' }, spec: { auth: { password: 'x'.repeat(20) } }, status: { master: 'x' } },
      query: { fieldValidation: 'Ignore' },
    });
    assert.equal((created.spec!.auth as Record<string, unknown>).password, undefined);
    assert.equal(created.status, undefined, 'status is not written through the main resource');
    assert.equal(created.spec!.replicas, 2, 'defaults from the field table are applied by the API server');
    await admin.request('DELETE', crPath('pruned'));
  });

  let opA: RunningOp;

  it('reconciles a RedisHA into exactly the objects render produces, owned and applied by the fixed field manager', async () => {
    opA = startOperator('op-a', 8510);
    const [, cr] = renderResource({ name: 'shop', replicas: 2 }, resolveSpec({ name: 'shop', replicas: 2 }), { namespace: NS });
    await admin.request('POST', collectionPath({ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true }, NS), { body: cr ?? renderResource({ name: 'shop' }, resolveSpec({ name: 'shop' }), { namespace: NS })[0] });
    const desired = await eventually('the operator to apply the StatefulSets', 60_000, async () => {
      await admin.get(objectPath(typeOfKind('StatefulSet'), 'shop-sentinel', NS));
      return desiredFor('shop');
    });
    const live = await getCR('shop');
    assert.deepEqual(desired.map((o) => o.kind).sort(), ['ConfigMap', 'NetworkPolicy', 'PodDisruptionBudget', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'Service', 'Service', 'StatefulSet', 'StatefulSet']);
    for (const o of desired) {
      const got = await admin.get<K8sObject & { metadata: { ownerReferences: { uid: string }[]; managedFields: { manager: string; operation: string }[] } }>(pathOf(o));
      assert.equal(got.metadata.ownerReferences[0]!.uid, live.metadata.uid, `${o.kind}/${o.metadata.name} is owned by the RedisHA`);
      assert.ok(got.metadata.managedFields.some((f) => f.manager === 'redis-ha-operator' && f.operation === 'Apply'), `${o.kind}/${o.metadata.name} applied by redis-ha-operator`);
      if (o.kind === 'StatefulSet' || o.kind === 'Service') {
        const want = (o.spec as Record<string, unknown>);
        for (const [k, v] of Object.entries(want)) if (k !== 'template') assert.deepEqual((got.spec as Record<string, unknown>)[k], v, `${o.kind}/${o.metadata.name} spec.${k}`);
      }
      if (o.kind === 'ConfigMap') assert.deepEqual(got.data, o.data);
    }
    const events = await eventually('an Applied event', 10_000, async () => ((await eventsFor('shop')).some((e) => e.reason === 'Applied') ? eventsFor('shop') : undefined));
    assert.ok(events.length >= 1);
  });

  it('writes status through the status subresource: conditions, master, printer columns', async () => {
    const cr = await eventually('status with four conditions', 30_000, async () => {
      const c = await getCR('shop');
      return (c.status?.conditions?.length ?? 0) === 4 ? c : undefined;
    });
    const byType = Object.fromEntries(cr.status!.conditions!.map((c) => [c.type, c]));
    assert.equal(byType.Ready!.status, 'False', 'no pod runs without a kubelet');
    assert.equal(byType.MasterAvailable!.reason, 'NoAgreedMaster');
    assert.equal(byType.Degraded!.status, 'True');
    assert.equal(cr.status!.nodes!.length, 3);
    assert.equal(cr.status!.sentinels!.length, 3);
    const fields = cr.metadata.managedFields as { manager: string; subresource?: string }[];
    assert.ok(fields.some((f) => f.manager === 'redis-ha-operator-status' && f.subresource === 'status'));
    // kubectl get redisha asks for a Table: the printer columns must be there and filled.
    const table = await admin.request<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }>('GET', crPath('shop'), { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    assert.deepEqual(table.columnDefinitions.map((c) => c.name), ['Name', 'Master', 'Ready', 'Reason', 'Replicas', 'Sentinels', 'Age', 'Message']);
    assert.equal(table.rows[0]!.cells[2], 'False');
  });

  it('re-applies a changed spec, and a no-op reconcile changes nothing (resourceVersion and managedFields)', async () => {
    const servicesBefore = await snapshot((await desiredFor('shop')).filter((o) => o.kind === 'Service'));
    await admin.request('PATCH', crPath('shop'), { contentType: PATCH.merge, body: { spec: { replicas: 3 } } });
    await eventually('the Redis StatefulSet to have 4 pods', 30_000, async () => {
      const sts = await admin.get<{ spec: { replicas: number } }>(objectPath(typeOfKind('StatefulSet'), 'shop-redis', NS));
      return sts.spec.replicas === 4 ? true : undefined;
    });
    const desired = await desiredFor('shop');
    assert.deepEqual(await snapshot(desired.filter((o) => o.kind === 'Service')), servicesBefore, 'Services did not change with replicas, so were not written');
    const before = await snapshot(desired);
    // Touch the resource (an annotation: no generation change) to make the operator reconcile again.
    const reconciles = Number(/redis_ha_operator_reconciles_total\{result="ok"\} (\d+)/.exec(await metricsOf(8510))?.[1]);
    await admin.request('PATCH', crPath('shop'), { contentType: PATCH.merge, body: { metadata: { annotations: { touched: '1' } } } });
    await operatorCaughtUp(); // the reconcile of the touched resource is done
    const after = Number(/redis_ha_operator_reconciles_total\{result="ok"\} (\d+)/.exec(await metricsOf(8510))?.[1]);
    assert.ok(after >= reconciles + 2, `shop and the marker were reconciled (${reconciles} -> ${after} passes)`);
    assert.deepEqual(await snapshot(desired), before);
  });

  it('restarts without duplicate work: no object, status or Event written again', async () => {
    const desired = await desiredFor('shop');
    // The status has caught up with the spec change (4 nodes) before it is taken as the reference.
    await eventually('the status to list 4 nodes', 30_000, async () => ((await getCR('shop')).status?.nodes?.length === 4 ? true : undefined));
    const objectsBefore = await snapshot(desired);
    const crBefore = (await getCR('shop')).metadata.resourceVersion;
    const eventsBefore = (await eventsFor('shop')).length;
    assert.equal(await stopOperator(opA), 0, 'SIGTERM ends the operator with code 0');
    assert.match(opA.output(), /Released Lease/);
    opA = startOperator('op-a', 8510);
    await eventually('the restarted operator to reconcile shop', 30_000, async () => (/apps\/shop: started its topology controller/.test(opA.output()) ? true : undefined));
    // Evidence of a status pass by the new operator: it fills a resource's labelled series only then
    // (and decides whether to write in the same step). Then of its reconcile being done.
    await eventually('a status pass by the restarted operator', 30_000, async () => (/redis_ha_node_role\{[^}]*redisha="shop"/.test(await metricsOf(8510)) ? true : undefined));
    await operatorCaughtUp();
    assert.deepEqual(await snapshot(desired), objectsBefore);
    assert.equal((await getCR('shop')).metadata.resourceVersion, crBefore, `status unchanged: not rewritten; operator said:\n${opA.output()}`);
    assert.equal((await eventsFor('shop')).length, eventsBefore, 'no Event repeated');
    assert.doesNotMatch(opA.output(), /Applied (Secret|ConfigMap|Service|StatefulSet)/);
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    assert.equal((await httpGet('http://127.0.0.1:8510/healthz')).status, 200);
    const ready = await eventually('readyz', 10_000, async () => {
      const r = await httpGet('http://127.0.0.1:8510/readyz');
      return r.status === 200 ? r : undefined;
    });
    assert.match(ready.body, /leader/);
    const metrics = await httpGet('http://127.0.0.1:8510/metrics');
    assert.match(metrics.body, /redis_ha_operator_reconciles_total\{result="ok"\} \d+/);
    assert.match(metrics.body, /redis_ha_healthy\{namespace="apps",redisha="shop"\} 0/);
  });

  it('status --k8s prints the same table and JSON as the local status, from the resource', async () => {
    const kubeconfig = api.kubeconfig();
    const json = await runCli(testHome(), ['status', '--k8s', 'shop', '-n', NS, '--kubeconfig', kubeconfig, '--json']);
    assert.equal(json.code, 1, 'not healthy: exit 1');
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.healthy, false);
    assert.equal(doc.masterName, 'redis-ha-shop');
    assert.equal(doc.nodes.length, 4);
    assert.deepEqual(Object.keys(doc.sentinels[0]).sort(), ['configEpoch', 'failoverInProgress', 'host', 'id', 'master', 'masterFlags', 'otherSentinelsSeen', 'port', 'quorumMessage', 'quorumOk', 'reachable', 'replicasSeen', 'tilt', ...(doc.sentinels[0].error ? ['error'] : [])].sort());
    assert.equal(doc.endpoints.master, `shop-master.${NS}.svc:6379`);
    const text = await runCli(testHome(), ['status', '--k8s', 'shop', '-n', NS, '--kubeconfig', kubeconfig]);
    assert.match(text.stdout, /^apps\/shop \(Sentinel master name redis-ha-shop\): NOT HEALTHY/);
    assert.match(text.stdout, /MEMBER\s+ADDRESS\s+ROLE/);
    assert.match(text.stdout, /shop-redis-3\s+shop-redis-3\.shop-headless\.apps\.svc:6379\s+down/);
    const missing = await runCli(testHome(), ['status', '--k8s', 'nope', '-n', NS, '--kubeconfig', kubeconfig]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), `redis-ha: no RedisHA ${NS}/nope: list them with 'kubectl get redisha -A', or pass -n NAMESPACE`);
  });

  it('rejects a spec its cross-field rules refuse: a condition and one Event, nothing applied', async () => {
    await admin.request('POST', collectionPath({ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true }, NS), {
      body: { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name: 'wrong' }, spec: { sentinels: 3, quorum: 4 } },
    });
    const cr = await eventually('an InvalidSpec condition', 20_000, async () => {
      const c = await getCR('wrong');
      return c.status?.conditions?.some((x) => x.reason === 'InvalidSpec') ? c : undefined;
    });
    assert.match(cr.status!.problems![0]!, /quorum: must be <= sentinels/);
    assert.equal(await admin.find(objectPath(typeOfKind('ConfigMap'), 'wrong-config', NS)), undefined);
    const events = await eventually('an InvalidSpec event', 10_000, async () => ((await eventsFor('wrong')).some((e) => e.reason === 'InvalidSpec') ? eventsFor('wrong') : undefined));
    assert.equal(events.filter((e) => e.reason === 'InvalidSpec').length, 1);
  });

  it('TLS from a user Secret: nothing that mounts it until it exists (one Event), then pods carry its fingerprint; a renewal changes it', async () => {
    const redishas = { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true };
    await admin.request('POST', collectionPath(redishas, NS), {
      body: { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name: 'vault' }, spec: { replicas: 1, tls: { enabled: true, secretName: 'vault-certs' } } },
    });
    await eventually('a MissingTlsSecret event', 20_000, async () => ((await eventsFor('vault')).some((e) => e.reason === 'MissingTlsSecret') ? true : undefined));
    // A retry or two: the first Event is followed by reconciles of vault (its own retries, every 2 s) that must not repeat it.
    const retriesFrom = (opA.output().match(/apps\/vault: reconcile failed/g) ?? []).length;
    await eventually('vault to be reconciled again', 20_000, async () => ((opA.output().match(/apps\/vault: reconcile failed/g) ?? []).length > retriesFrom ? true : undefined));
    await operatorCaughtUp();
    assert.ok(await admin.find(objectPath(typeOfKind('ConfigMap'), 'vault-config', NS)), 'what does not mount the certificate is applied');
    assert.equal(await admin.find(objectPath(typeOfKind('StatefulSet'), 'vault-redis', NS)), undefined, 'no pod waits for a missing Secret');
    const missing = (await eventsFor('vault')).filter((e) => e.reason === 'MissingTlsSecret');
    assert.deepEqual(missing.map((e) => e.message), [`Secret ${NS}/vault-certs named by tls.secretName does not exist; create it with the keys tls.crt, tls.key, ca.crt`], 'one Event, not one per retry');

    const spec = resolveSpec({ name: 'vault', replicas: 1, tls: { enabled: true, secretName: 'vault-certs' } });
    // Every name but the -replicas Service's: the operator warns, naming them.
    const names = tlsDnsNames(spec, NS).filter((n) => !n.startsWith('vault-replicas'));
    const secret = (c: ReturnType<typeof makeCertificate>) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vault-certs', namespace: NS }, type: 'kubernetes.io/tls', data: secretData(c) });
    await admin.apply(objectPath(typeOfKind('Secret'), 'vault-certs', NS), secret(makeCertificate(names)), 'redis-ha-test');
    const hashOf = async () => {
      const sts = await admin.find<{ spec: { template: { metadata: { annotations?: Record<string, string> } } } }>(objectPath(typeOfKind('StatefulSet'), 'vault-redis', NS));
      return sts?.spec.template.metadata.annotations?.[TLS_HASH_ANNOTATION];
    };
    const first = await eventually('the StatefulSets with the certificate fingerprint', 30_000, hashOf);
    const config = await admin.get<{ data: Record<string, string> }>(objectPath(typeOfKind('ConfigMap'), 'vault-config', NS));
    assert.match(config.data['redis.conf']!, /^port 0\ntls-port 6379\n/m);
    const warning = await eventually('a CertificateNames event', 10_000, async () => (await eventsFor('vault')).find((e) => e.reason === 'CertificateNames'));
    assert.equal(warning.message, `the certificate in Secret ${NS}/vault-certs does not name 4 of the hosts clients and peers connect by, so TLS clients that verify names fail on them: vault-replicas, vault-replicas.${NS}, vault-replicas.${NS}.svc, vault-replicas.${NS}.svc.cluster.local`);

    // A renewal: nothing touches the resource; the operator's certificate check (every second here) sees it.
    await admin.apply(objectPath(typeOfKind('Secret'), 'vault-certs', NS), secret(makeCertificate(tlsDnsNames(spec, NS))), 'redis-ha-test');
    const second = await eventually('a new fingerprint', 30_000, async () => {
      const h = await hashOf();
      return h !== first ? h : undefined;
    });
    assert.match(second!, /^[0-9a-f]{16}$/);
    const objects = JSON.stringify(await Promise.all(['vault-config'].map((n) => admin.get(objectPath(typeOfKind('ConfigMap'), n, NS)))));
    assert.ok(!objects.includes('BEGIN'), 'no PEM in a ConfigMap');
    const status = await runCli(testHome(), ['status', '--k8s', 'vault', '-n', NS, '--kubeconfig', api.kubeconfig(), '--json']);
    assert.deepEqual((({ tls, tlsSecret, tlsAuthClients }) => ({ tls, tlsSecret, tlsAuthClients }))(JSON.parse(status.stdout)), { tls: true, tlsSecret: 'vault-certs', tlsAuthClients: 'optional' });
    await admin.request('DELETE', crPath('vault'));
  });

  it('TLS from cert-manager: a missing cert-manager is named; with its CRD the API server accepts the Certificate, and the pods wait for its Secret', async () => {
    const redishas = { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true };
    await admin.request('POST', collectionPath(redishas, NS), {
      body: { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name: 'issued' }, spec: { replicas: 1, tls: { enabled: true, certManager: { issuerRef: { name: 'ca', kind: 'ClusterIssuer' } } } } },
    });
    const missing = await eventually('a CertManagerMissing event', 20_000, async () => (await eventsFor('issued')).find((e) => e.reason === 'CertManagerMissing'));
    assert.equal(missing.message, 'cert-manager is not installed (the API server has no cert-manager.io/v1 Certificate): install cert-manager, or put your own certificate in a Secret and name it in tls.secretName');
    // Install cert-manager's own CRD: the API server then validates our Certificate against its schema.
    const crd = parse(readFileSync(CERT_MANAGER_CERTIFICATE_CRD, 'utf8')) as K8sObject;
    await admin.apply(pathOf(crd), crd, 'redis-ha-test');
    const certificatePath = objectPath(typeOfKind('Certificate'), 'issued-tls', NS);
    const cert = await eventually('the Certificate applied', 60_000, async () => admin.find<K8sObject & { spec: { secretName: string; dnsNames: string[]; issuerRef: unknown } }>(certificatePath));
    assert.equal(cert.spec.secretName, 'issued-tls');
    assert.deepEqual(cert.spec.issuerRef, { name: 'ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    assert.ok(cert.spec.dnsNames.includes(`issued-redis-0.issued-headless.${NS}.svc`));
    await eventually('a WaitingForCertificate event', 20_000, async () => ((await eventsFor('issued')).some((e) => e.reason === 'WaitingForCertificate') ? true : undefined));
    assert.equal(await admin.find(objectPath(typeOfKind('StatefulSet'), 'issued-redis', NS)), undefined);
    // What cert-manager would do: write the Secret.
    const spec = resolveSpec({ name: 'issued', replicas: 1, tls: { enabled: true, certManager: { issuerRef: { name: 'ca' } } } });
    await admin.apply(objectPath(typeOfKind('Secret'), 'issued-tls', NS), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'issued-tls', namespace: NS }, type: 'kubernetes.io/tls', data: secretData(makeCertificate(tlsDnsNames(spec, NS))) }, 'redis-ha-test');
    await eventually('the StatefulSets once the Secret exists', 30_000, async () => admin.find(objectPath(typeOfKind('StatefulSet'), 'issued-sentinel', NS)));
    assert.ok(!(await eventsFor('issued')).some((e) => e.reason === 'CertificateNames'), 'the Certificate names every host');
    await admin.request('DELETE', crPath('issued'));
  });

  it('elects one leader among two operator processes; a standby takes over when the leader dies', async () => {
    const opB = startOperator('op-b', 8511);
    await eventually('op-b to be a ready standby', 20_000, async () => {
      const r = await httpGet('http://127.0.0.1:8511/readyz').catch(() => undefined);
      return r?.status === 200 && /standby/.test(r.body) ? true : undefined;
    });
    const lease = await admin.get<{ spec: { holderIdentity: string; leaseTransitions: number } }>(objectPath(typeOfKind('Lease'), OPERATOR_NAME, OP_NS));
    assert.equal(lease.spec.holderIdentity, 'op-a');
    assert.doesNotMatch(opB.output(), /Became leader/);
    opA.child.kill('SIGKILL'); // no release: op-b must wait out the lease
    await opA.exited;
    const taken = await eventually('op-b to take the Lease', 20_000, async () => {
      const l = await admin.get<{ spec: { holderIdentity: string; leaseTransitions: number } }>(objectPath(typeOfKind('Lease'), OPERATOR_NAME, OP_NS));
      return l.spec.holderIdentity === 'op-b' ? l : undefined;
    });
    assert.equal(taken.spec.leaseTransitions, lease.spec.leaseTransitions + 1);
    // The new leader reconciles: a new resource gets its objects.
    await admin.request('POST', collectionPath({ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', plural: 'redishas', namespaced: true }, NS), {
      body: { apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name: 'cart' }, spec: { replicas: 1 } },
    });
    await eventually('op-b to apply cart', 30_000, async () => admin.find(objectPath(typeOfKind('StatefulSet'), 'cart-redis', NS)));
    assert.equal(await stopOperator(opB), 0);
    const released = await admin.get<{ spec: { holderIdentity?: string } }>(objectPath(typeOfKind('Lease'), OPERATOR_NAME, OP_NS));
    assert.ok(!released.spec.holderIdentity, 'a graceful leader releases the Lease');
  });

  it('resumes a watch whose resourceVersion is gone (410) by listing again', async () => {
    const logs: string[] = [];
    const seen: string[] = [];
    const inf = new Informer<{ metadata: { name: string; namespace?: string } }>(admin, collectionPath(typeOfKind('ConfigMap'), NS), {
      log: (l) => logs.push(l),
      onChange: (_t, o) => seen.push(o.metadata.name),
    });
    await inf.start('1'); // compacted long ago: etcd has no history that old
    try {
      await eventually('a relist after 410', 20_000, async () => (inf.lists === 1 ? true : undefined));
      assert.ok(logs.some((l) => /is gone \(410\); listing again/.test(l)), logs.join('\n'));
      assert.ok(seen.includes('shop-config'));
      // And it keeps watching after the relist.
      await admin.request('POST', collectionPath(typeOfKind('ConfigMap'), NS), { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-gone' } } });
      await eventually('the watch to deliver a new object', 10_000, async () => (seen.includes('after-gone') ? true : undefined));
    } finally {
      inf.stop();
    }
  });

  it('the master-pod label publisher moves the label demote-first and removes it when no master is trusted', async () => {
    const desired = await desiredFor('shop');
    const spec = resolveSpec({ name: 'shop', replicas: 3 });
    const secret = await admin.get(objectPath(typeOfKind('Secret'), 'shop-auth', NS));
    const topology = topologyOf(spec, NS, secret);
    void desired;
    for (let i = 0; i < 4; i++) {
      await admin.request('POST', collectionPath(typeOfKind('Pod'), NS), {
        body: {
          apiVersion: 'v1', kind: 'Pod',
          metadata: { name: `shop-redis-${i}`, labels: { 'app.kubernetes.io/name': 'redis-ha', 'app.kubernetes.io/instance': 'shop', 'app.kubernetes.io/managed-by': 'redis-ha', 'app.kubernetes.io/component': 'redis' } },
          spec: { containers: [{ name: 'redis', image: 'localhost/redis-ha/redis:test' }] },
        },
      });
    }
    const pods = async () => (await admin.get<{ items: { metadata: { name: string; labels: Record<string, string> } }[] }>(collectionPath(typeOfKind('Pod'), NS), { labelSelector: 'app.kubernetes.io/instance=shop' })).items;
    let cached = (await pods()).map((p) => ({ name: p.metadata.name, labels: p.metadata.labels }));
    const publisher = new LabelPublisher({
      client: admin, spec, namespace: NS, topology, resource: () => undefined, pods: () => cached, podObjects: () => [],
      events: { record() {} }, log: () => {}, metrics: new TopologyMetrics(),
    });
    const roles = async () => Object.fromEntries((await pods()).map((p) => [p.metadata.name, p.metadata.labels[MASTER_POD_LABEL] ?? '-']));
    publisher.publish({ host: `shop-redis-1.shop-headless.${NS}.svc`, port: 6379 });
    await publisher.idle();
    assert.deepEqual(await roles(), { 'shop-redis-0': 'replica', 'shop-redis-1': 'master', 'shop-redis-2': 'replica', 'shop-redis-3': 'replica' });
    cached = (await pods()).map((p) => ({ name: p.metadata.name, labels: p.metadata.labels }));
    const t0 = Date.now();
    publisher.publish({ host: `shop-redis-2.shop-headless.${NS}.svc`, port: 6379 });
    await publisher.idle();
    const tookMs = Date.now() - t0;
    assert.deepEqual(await roles(), { 'shop-redis-0': 'replica', 'shop-redis-1': 'replica', 'shop-redis-2': 'master', 'shop-redis-3': 'replica' });
    console.log(`# label switch on the API server took ${tookMs} ms`);
    cached = (await pods()).map((p) => ({ name: p.metadata.name, labels: p.metadata.labels }));
    publisher.publish(null);
    await publisher.idle();
    assert.deepEqual(await roles(), { 'shop-redis-0': 'replica', 'shop-redis-1': 'replica', 'shop-redis-2': '-', 'shop-redis-3': 'replica' });
  });
});
