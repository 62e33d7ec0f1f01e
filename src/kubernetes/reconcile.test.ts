import assert from 'node:assert/strict';
import { serverOf } from '../redis/parse.ts';
import { describe, it } from 'node:test';
import { TLS_HASH_ANNOTATION, buildStatus, desiredObjects, heldForMigration, invalidSpecStatus, keptPasswords, memoryFromStatus, roleLabelChanges, runningServers, sameStatus, tlsMaterialOf, topologyOf, uncoveredNames, withTlsHash, type RedisHAResource, type RedisHAStatus } from './reconcile.ts';
import { makeCertificate, secretData } from '../../test/certs.ts';
import { redisHACRD, specSchema } from './crd.ts';
import { CLUSTER_RULES, operatorManifests } from './manifests.ts';
import { MASTER_POD_LABEL, renderManifests, tlsDnsNames } from './render/index.ts';
import { resolveSpec } from '../spec/index.ts';
import type { TopologyStatus } from '../observe/status.ts';
import { addressKey } from '../redis/address.ts';

const cr = (spec: Record<string, unknown> = {}, name = 'shop'): RedisHAResource => ({
  apiVersion: 'redis-ha.io/v1alpha1',
  kind: 'RedisHA',
  metadata: { name, namespace: 'apps', uid: 'uid-1', generation: 3 },
  spec,
});
const fixed = () => 'p'.repeat(32);

describe('desiredObjects', () => {
  it('is exactly what render prints for the same spec, with owner references, the Secret as data and the Redis pods rolled by the operator', () => {
    const d = desiredObjects(cr({ replicas: 1 }), undefined, fixed);
    assert.ok(d.ok);
    const rendered = renderManifests(resolveSpec({ name: 'shop', replicas: 1 }, { generateSecret: fixed }), { namespace: 'apps', routing: 'label' }).objects;
    assert.deepEqual(d.objects.map((o) => `${o.kind}/${o.metadata.name}`), rendered.map((o) => `${o.kind}/${o.metadata.name}`));
    for (const [i, o] of d.objects.entries()) {
      assert.deepEqual((o.metadata as unknown as { ownerReferences: unknown[] }).ownerReferences, [{ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', name: 'shop', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
      if (o.kind === 'Secret') {
        const want = rendered[i]!.stringData as Record<string, string>;
        assert.deepEqual(Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])), want);
        assert.equal(o.stringData, undefined);
      } else {
        const { ownerReferences: _, ...metadata } = o.metadata as Record<string, unknown>;
        const want = structuredClone(rendered[i]!);
        // roll.ts: the operator replaces the Redis pods itself, replicas first, the master last.
        if (o.kind === 'StatefulSet' && o.metadata.name === 'shop-redis') {
          assert.deepEqual((want.spec as Record<string, unknown>).updateStrategy, { type: 'RollingUpdate' });
          (want.spec as Record<string, unknown>).updateStrategy = { type: 'OnDelete' };
        }
        assert.deepEqual({ ...o, metadata }, want);
      }
    }
  });

  it('keeps the passwords of the Secret it made, so a second pass renders the same Secret', () => {
    const first = desiredObjects(cr(), undefined);
    assert.ok(first.ok);
    const secret = first.objects.find((o) => o.kind === 'Secret') as unknown as { data: Record<string, string> };
    const second = desiredObjects(cr(), keptPasswords(secret));
    assert.ok(second.ok);
    assert.deepEqual(second.objects, first.objects);
  });

  it('renders no Secret for auth.existingSecret and never takes passwords from the resource', () => {
    const d = desiredObjects(cr({ auth: { existingSecret: 'mine', password: 'q'.repeat(20) } }), { password: 'a'.repeat(32), sentinelPassword: 'b'.repeat(32) });
    assert.ok(d.ok);
    assert.ok(!d.objects.some((o) => o.kind === 'Secret'));
  });

  it('rejects a spec.name other than metadata.name, and a spec the rules refuse, as terminal problems', () => {
    assert.deepEqual(desiredObjects(cr({ name: 'other' }), undefined), { ok: false, problem: 'spec.name: must equal metadata.name "shop" or be left out (got "other")' });
    const bad = desiredObjects(cr({ sentinels: 3, quorum: 4 }), undefined);
    assert.ok(!bad.ok);
    assert.match(bad.problem, /quorum: must be <= sentinels/);
    const tls = desiredObjects(cr({ tls: { enabled: true } }), undefined);
    assert.ok(!tls.ok);
    assert.match(tls.problem, /^tls\.enabled: on Kubernetes the certificate must come from somewhere: set tls\.certManager\.issuerRef\.name .* or tls\.secretName/);
  });

  describe('an image change, checked against what the pods run (status.nodes[].server, from INFO server)', () => {
    const running = (...servers: string[]): RedisHAStatus => ({ nodes: servers.map((server, i) => ({ id: `shop-redis-${i}`, host: `shop-redis-${i}.h`, port: 6379, role: i ? 'replica' : 'master', reachable: true, server })) });
    const withStatus = (spec: Record<string, unknown>, status: RedisHAStatus | undefined): RedisHAResource => ({ ...cr(spec), status });
    const redis = { image: { repository: 'localhost/redis-ha/redis', tag: '7.0.15', allowUnpatched: true } };
    const valkey = { image: { flavor: 'valkey', repository: 'localhost/redis-ha/valkey', tag: '9.1.2' } };

    it('from Redis 7.0.15 to Valkey 9.1.2: applied (Valkey loads the RDB 10 a Redis 7.0 master sends)', () => {
      assert.ok(desiredObjects(withStatus(valkey, running('redis 7.0.15', 'redis 7.0.15')), undefined, fixed).ok);
    });

    it('from Valkey 9.1.2 back to Redis 7.0.15: refused, nothing applied, one line with the versions, the pods and the fix', () => {
      assert.deepEqual(desiredObjects(withStatus(redis, running('valkey 9.1.2', 'valkey 9.1.2')), undefined, fixed), {
        ok: false,
        problem: 'image: cannot move from valkey 9.1.2 (running on shop-redis-0, shop-redis-1) to redis 7.0.15: a redis 7.0.15 replica cannot load the RDB format 11 a valkey 9.1.2 master sends, and each new pod starts as a replica of the running master; keep valkey 9.1.2, or use redis 7.2 or newer',
      });
    });

    it('what runs is what counts, not the spec the resource had: a pod still on Valkey refuses Redis 7.0 even when the others run it', () => {
      const d = desiredObjects(withStatus(redis, running('redis 7.0.15', 'valkey 9.1.2')), undefined, fixed);
      assert.ok(!d.ok);
      assert.match(d.problem, /^image: cannot move from valkey 9\.1\.2 \(running on shop-redis-1\) to redis 7\.0\.15: /);
    });

    it('with persistence the file on each volume counts too: Valkey 9 to Redis 7.2 is refused then, applied without', () => {
      const redis72 = (enabled: boolean) => ({ image: { repository: 'localhost/redis-ha/redis', tag: '7.2.11' }, persistence: { enabled } });
      assert.ok(desiredObjects(withStatus(redis72(false), running('valkey 9.1.2')), undefined, fixed).ok);
      const d = desiredObjects(withStatus(redis72(true), running('valkey 9.1.2')), undefined, fixed);
      assert.ok(!d.ok);
      assert.match(d.problem, /with persistence enabled: redis cannot read the VALKEY080 data file valkey 9\.1\.2 leaves on each pod's volume; keep valkey 9\.1\.2$/);
    });

    it('nothing known to run (a new resource, or no pod answered): applied', () => {
      assert.ok(desiredObjects(withStatus(redis, undefined), undefined, fixed).ok);
      assert.ok(desiredObjects(withStatus(redis, { nodes: [{ id: 'shop-redis-0', host: 'h', port: 6379, role: 'unknown', reachable: false }] }), undefined, fixed).ok);
      assert.deepEqual(runningServers({ nodes: [{ id: 'a', host: 'h', port: 1, role: 'master', reachable: true, server: 'keydb 6.3.4' }] }), [], 'an unknown server is left out');
    });
  });
});

describe('TLS: the certificate Secret', () => {
  const spec = (tls: Record<string, unknown>, over: Record<string, unknown> = {}) => {
    const d = desiredObjects(cr({ replicas: 1, sentinels: 3, tls: { enabled: true, ...tls }, ...over }), undefined, fixed);
    assert.ok(d.ok, d.ok ? '' : d.problem);
    return d;
  };
  const good = makeCertificate(tlsDnsNames(spec({ secretName: 'certs' }).spec, 'apps'));

  it('a missing Secret, a missing key or a key that is not PEM: one line naming the fix', () => {
    const user = spec({ secretName: 'certs' }).spec;
    const issued = spec({ certManager: { issuerRef: { name: 'ca' } } }).spec;
    assert.deepEqual(tlsMaterialOf(user, 'apps', undefined), { ok: false, problem: 'Secret apps/certs named by tls.secretName does not exist; create it with the keys tls.crt, tls.key, ca.crt' });
    assert.deepEqual(tlsMaterialOf(issued, 'apps', undefined), {
      ok: false,
      problem: 'Secret apps/shop-tls does not exist yet: waiting for cert-manager to issue Certificate apps/shop-tls (kubectl describe certificate -n apps shop-tls says why when it does not)',
    });
    const { 'ca.crt': _, ...noCa } = secretData(good);
    assert.deepEqual(tlsMaterialOf(user, 'apps', { data: noCa }), { ok: false, problem: 'Secret apps/certs lacks the key(s) ca.crt; it must hold tls.crt, tls.key and ca.crt (the CA that signed tls.crt)' });
    assert.deepEqual(tlsMaterialOf(user, 'apps', { data: { ...secretData(good), 'tls.crt': Buffer.from('not a certificate').toString('base64') } }), {
      ok: false,
      problem: 'Secret apps/certs: tls.crt is not a PEM certificate; put the PEM text there (-----BEGIN CERTIFICATE-----)',
    });
    const m = tlsMaterialOf(user, 'apps', { data: secretData(good) });
    assert.ok(m.ok);
    assert.deepEqual(m.material, good);
  });

  it('names the hosts a certificate does not cover (wildcards count)', () => {
    const s = spec({ secretName: 'certs' }, { endpoint: { enabled: true } }).spec;
    assert.deepEqual(uncoveredNames(s, 'apps', good.certPem), ['shop-endpoint', 'shop-endpoint.apps', 'shop-endpoint.apps.svc', 'shop-endpoint.apps.svc.cluster.local']);
    const wildcard = makeCertificate(['*.shop-headless.apps.svc', 'shop-master.apps.svc']);
    const missing = uncoveredNames(s, 'apps', wildcard.certPem);
    assert.ok(!missing.includes('shop-redis-0.shop-headless.apps.svc'), 'the wildcard covers the pods');
    assert.ok(missing.includes('shop-redis-0.shop-headless.apps.svc.cluster.local'));
    assert.ok(missing.includes('shop-replicas.apps.svc'));
  });

  it('the fingerprint of the certificate goes on both pod templates, so a renewal rolls the pods; no PEM goes anywhere', () => {
    const d = spec({ secretName: 'certs' });
    const stamped = withTlsHash(d.objects, good);
    const renewed = withTlsHash(d.objects, { ...good, certPem: makeCertificate(['x']).certPem });
    const hashOf = (objects: typeof d.objects, name: string) => (objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === name)!.spec as any).template.metadata.annotations[TLS_HASH_ANNOTATION];
    for (const sts of ['shop-redis', 'shop-sentinel']) {
      assert.match(hashOf(stamped, sts), /^[0-9a-f]{16}$/);
      assert.notEqual(hashOf(stamped, sts), hashOf(renewed, sts));
    }
    assert.deepEqual(stamped.filter((o) => o.kind !== 'StatefulSet'), d.objects.filter((o) => o.kind !== 'StatefulSet'));
    const text = JSON.stringify(stamped);
    for (const pem of [good.keyPem, good.certPem, good.caPem]) assert.ok(!text.includes(pem.split('\n')[1]!), 'no PEM in the applied objects');
  });

  it('topologyOf speaks TLS with the CA; the certificate and key only when the pods require client certificates', () => {
    const optional = spec({ secretName: 'certs' });
    const auth = optional.objects.find((o) => o.kind === 'Secret') as unknown as { data: Record<string, string> };
    assert.deepEqual(topologyOf(optional.spec, 'apps', auth, good).tls, { caPem: good.caPem });
    const mutual = spec({ secretName: 'certs', authClients: 'yes' });
    assert.deepEqual(topologyOf(mutual.spec, 'apps', auth, good).tls, { caPem: good.caPem, certPem: good.certPem, keyPem: good.keyPem });
    assert.equal(topologyOf(optional.spec, 'apps', auth).tls, undefined);
  });
});

describe('topologyOf', () => {
  it('names every pod by its stable hostname, with the operator ACL user, the Sentinel password, and the Sentinel ACL user for repoints', () => {
    const d = desiredObjects(cr({ replicas: 1, sentinels: 3 }), undefined, fixed);
    assert.ok(d.ok);
    const secret = d.objects.find((o) => o.kind === 'Secret') as unknown as { data: Record<string, string> };
    const t = topologyOf(d.spec, 'apps', secret);
    assert.deepEqual(t.nodes.map(addressKey), ['shop-redis-0.shop-headless.apps.svc:6379', 'shop-redis-1.shop-headless.apps.svc:6379']);
    assert.deepEqual(t.sentinels.map((n) => n.id), ['shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2']);
    assert.equal(t.nodeAuth.username, 'operator');
    assert.equal(t.sentinelAuth.password, 'p'.repeat(32));
    // What the pods' sentinel.conf logs in with: the operator's user may not SUBSCRIBE to the hellos.
    assert.deepEqual(t.monitorAuth, { username: 'sentinel', password: Buffer.from(secret.data['sentinel-user-password']!, 'base64').toString() });
    assert.throws(() => topologyOf(d.spec, 'apps', { data: {} }), /lacks the key\(s\) operator-password, sentinel-password, sentinel-user-password/);
  });
});

const observed = (over: Partial<TopologyStatus> = {}): TopologyStatus => ({
  name: 'shop',
  healthy: true,
  problems: [],
  masterName: 'redis-ha-shop',
  master: { host: 'shop-redis-0.h', port: 6379 },
  quorum: 2,
  nodes: [
    { id: 'shop-redis-0', host: 'shop-redis-0.h', port: 6379, role: 'master', reachable: true, offset: 100 },
    { id: 'shop-redis-1', host: 'shop-redis-1.h', port: 6379, role: 'replica', reachable: true, offset: 90, lagBytes: 10, following: 'shop-redis-0.h:6379', linkUp: true },
  ],
  sentinels: [0, 1, 2].map((i) => ({
    id: `shop-sentinel-${i}`, host: `s${i}`, port: 26379, reachable: true, master: { host: 'shop-redis-0.h', port: 6379 }, masterFlags: ['master'],
    replicasSeen: 1, otherSentinelsSeen: 2, quorumOk: true, quorumMessage: 'OK', failoverInProgress: false, configEpoch: 4, tilt: false,
  })),
  ...over,
});

describe('buildStatus', () => {
  const now = '2026-01-01T00:00:00.000Z';
  it('a healthy deployment: all conditions good, master, replicas with lag, memory', () => {
    const s = buildStatus({ generation: 3, observed: observed(), memory: { master: { host: 'shop-redis-0.h', port: 6379 }, epoch: 4 }, previous: undefined, now });
    assert.equal(s.masterPod, 'shop-redis-0');
    assert.equal(s.readyReplicas, 1);
    assert.deepEqual(s.replicas, [{ pod: 'shop-redis-1', address: 'shop-redis-1.h:6379', role: 'replica', linkUp: true, lagBytes: 10 }]);
    assert.deepEqual(s.memory, { master: 'shop-redis-0.h:6379', epoch: 4 });
    assert.deepEqual(Object.fromEntries(s.conditions!.map((c) => [c.type, c.status])), { Ready: 'True', MasterAvailable: 'True', SentinelsAgree: 'True', Degraded: 'False' });
    assert.deepEqual(memoryFromStatus(s), { master: { host: 'shop-redis-0.h', port: 6379 }, epoch: 4 });
  });

  it('keeps lastTransitionTime while a condition holds, so an unchanged world is an unchanged status', () => {
    const a = buildStatus({ generation: 3, observed: observed(), memory: { epoch: 4 }, previous: undefined, now });
    const b = buildStatus({ generation: 3, observed: observed(), memory: { epoch: 4 }, previous: a, now: '2026-01-01T00:05:00.000Z' });
    assert.ok(sameStatus(a, b));
    const sick = observed({ healthy: false, problems: ['shop-sentinel-2 (s2:26379) names x:1 as master'], sentinels: observed().sentinels.map((x, i) => (i === 2 ? { ...x, master: { host: 'x', port: 1 } } : x)) });
    const c = buildStatus({ generation: 3, observed: sick, memory: { epoch: 4 }, previous: b, now: '2026-01-01T00:06:00.000Z' });
    const byType = Object.fromEntries(c.conditions!.map((x) => [x.type, x]));
    assert.equal(byType.Ready!.lastTransitionTime, '2026-01-01T00:06:00.000Z');
    assert.equal(byType.MasterAvailable!.lastTransitionTime, now, 'the master stayed available');
    assert.equal(byType.SentinelsAgree!.status, 'False');
    assert.equal(byType.SentinelsAgree!.message, '2 of 3 Sentinels name shop-redis-0.h:6379');
    assert.equal(byType.Degraded!.reason, 'ServingWithProblems');
  });

  it('no agreed master: MasterAvailable False, Degraded Unavailable', () => {
    const s = buildStatus({ generation: 1, observed: observed({ healthy: false, master: null, problems: ['no master'] }), memory: { epoch: 0 }, previous: undefined, now });
    const byType = Object.fromEntries(s.conditions!.map((x) => [x.type, x]));
    assert.equal(byType.MasterAvailable!.reason, 'NoAgreedMaster');
    assert.equal(byType.Degraded!.reason, 'Unavailable');
    assert.equal(s.masterPod, undefined);
  });

  it('pods that cannot start: the first cause is the Ready reason and message, and leads the problems', () => {
    const sick = observed({ healthy: false, master: null, problems: ['no master is named by a majority of the 3 Sentinels'] });
    const pull = { reason: 'ErrImageNeverPull', message: 'pods shop-redis-0, shop-redis-1 cannot start: ErrImageNeverPull: Container image "r:9" is not present with pull policy of Never; fix: set spec.image …' };
    const s = buildStatus({ generation: 2, observed: sick, memory: { epoch: 0 }, previous: undefined, podProblems: [pull], now });
    const ready = s.conditions!.find((c) => c.type === 'Ready')!;
    assert.deepEqual([ready.status, ready.reason, ready.message], ['False', 'ErrImageNeverPull', pull.message]);
    assert.equal(s.conditions!.find((c) => c.type === 'Degraded')!.message, pull.message);
    assert.deepEqual(s.problems, [pull.message, 'no master is named by a majority of the 3 Sentinels']);
    const healthy = buildStatus({ generation: 2, observed: observed(), memory: { epoch: 0 }, previous: undefined, podProblems: [pull], now });
    assert.equal(healthy.conditions!.find((c) => c.type === 'Ready')!.reason, 'Healthy', 'a healthy topology is Ready whatever a pod says');
    assert.deepEqual(healthy.problems, []);
  });

  it('records what each node runs, from INFO server: Valkey by valkey_version, Redis by redis_version', () => {
    const o = observed();
    const figures = [{ redisVersion: '7.2.4', valkeyVersion: '9.1.2' }, { redisVersion: '7.0.15' }];
    // statusOf names the server from the figures (serverOf), as the runtime's observation gives them.
    const s = buildStatus({ generation: 3, observed: { ...o, nodes: o.nodes.map((n, i) => ({ ...n, figures: figures[i], server: serverOf(figures[i]) })) }, memory: { epoch: 4 }, previous: undefined, now });
    assert.deepEqual(s.nodes!.map((n) => n.server), ['valkey 9.1.2', 'redis 7.0.15']);
    assert.deepEqual(runningServers(s), [{ pod: 'shop-redis-0', server: { flavor: 'valkey', version: '9.1.2' } }, { pod: 'shop-redis-1', server: { flavor: 'redis', version: '7.0.15' } }]);
  });

  it('a node that does not answer keeps the server it last reported, so an outage does not hide what runs from the image check', () => {
    const o = observed();
    const first = buildStatus({ generation: 3, observed: { ...o, nodes: o.nodes.map((n) => ({ ...n, server: 'valkey 9.1.2' })) }, memory: { epoch: 4 }, previous: undefined, now });
    const down = o.nodes.map((n, i) => (i === 1 ? { id: n.id, host: n.host, port: n.port, role: 'unknown', reachable: false } : { ...n, server: 'valkey 9.1.2' }));
    const later = buildStatus({ generation: 3, observed: { ...o, healthy: false, nodes: down as typeof o.nodes }, memory: { epoch: 4 }, previous: first, now });
    assert.deepEqual(later.nodes!.map((n) => `${n.id} ${n.reachable} ${n.server}`), ['shop-redis-0 true valkey 9.1.2', 'shop-redis-1 false valkey 9.1.2']);
  });

  it('a rejected spec on a running resource: Ready stays False InvalidSpec with the reason, the observed conditions stay what they are', () => {
    const s = buildStatus({ generation: 4, observed: observed(), memory: { epoch: 4 }, previous: undefined, now, rejected: 'image: cannot move …' });
    assert.deepEqual(s.conditions!.map((c) => `${c.type}=${c.status}/${c.reason}`), ['Ready=False/InvalidSpec', 'MasterAvailable=True/MasterElected', 'SentinelsAgree=True/AllAgree', 'Degraded=True/InvalidSpec']);
    assert.equal(s.conditions![0]!.message, 'image: cannot move …');
    assert.deepEqual(s.problems, ['image: cannot move …']);
  });

  it('an invalid spec: Ready False InvalidSpec, the others Unknown', () => {
    const s = invalidSpecStatus('quorum: bad', 2, undefined, now);
    assert.deepEqual(s.conditions!.map((c) => `${c.type}=${c.status}/${c.reason}`), ['Ready=False/InvalidSpec', 'MasterAvailable=Unknown/InvalidSpec', 'SentinelsAgree=Unknown/InvalidSpec', 'Degraded=True/InvalidSpec']);
  });
});

describe('roleLabelChanges', () => {
  const pods = (roles: (string | undefined)[]) => roles.map((r, i) => ({ name: `p-${i}`, labels: (r ? { [MASTER_POD_LABEL]: r } : {}) as Record<string, string> }));
  it('demotes before it promotes, so the -master Service never selects two pods', () => {
    assert.deepEqual(roleLabelChanges(pods(['master', 'replica', undefined]), 'p-1'), [
      { pod: 'p-0', role: 'replica' },
      { pod: 'p-2', role: 'replica' },
      { pod: 'p-1', role: 'master' },
    ]);
  });
  it('changes nothing when the labels already agree', () => {
    assert.deepEqual(roleLabelChanges(pods(['replica', 'master']), 'p-1'), []);
  });
  it('no trusted master: only the master label goes, replicas keep serving reads', () => {
    assert.deepEqual(roleLabelChanges(pods(['replica', 'master']), null), [{ pod: 'p-1', role: null }]);
  });
});

describe('CRD and install manifests', () => {
  it('the spec schema has no password fields and does not require name', () => {
    const s = specSchema();
    assert.equal(s.required, undefined);
    assert.equal(s.properties!.auth!.properties!.password, undefined);
    assert.equal(s.properties!.auth!.properties!.sentinelPassword, undefined);
    assert.ok(s.properties!.auth!.properties!.existingSecret);
  });
  it('has a status subresource and printer columns for master, readiness, its reason and message, and age', () => {
    const v = (redisHACRD().spec as { versions: { subresources: unknown; additionalPrinterColumns: { name: string }[] }[] }).versions[0]!;
    assert.deepEqual(v.subresources, { status: {} });
    assert.deepEqual(v.additionalPrinterColumns.map((c) => c.name), ['Master', 'Ready', 'Reason', 'Replicas', 'Sentinels', 'Age', 'Message']);
  });
  it('RBAC: no wildcard, Secrets never listed, watched or deleted', () => {
    for (const r of CLUSTER_RULES) {
      assert.ok(!r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'));
      if (r.resources.includes('secrets')) assert.deepEqual(r.verbs, ['get', 'create', 'patch']);
    }
    const dep = operatorManifests().find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: { securityContext: { readOnlyRootFilesystem: boolean; runAsNonRoot: boolean } }[] } } } };
    assert.equal(dep.spec.template.spec.containers[0]!.securityContext.readOnlyRootFilesystem, true);
  });
});

describe('heldForMigration', () => {
  const plain = resolveSpec({ name: 'cache' });
  const migrating = resolveSpec({ name: 'cache', migrateFrom: { sentinels: ['redis-node-0.redis-headless.apps.svc.cluster.local:26379'], masterName: 'mymaster', secretName: 'redis' } });
  const replicasOf = (objects: ReturnType<typeof renderManifests>['objects']) =>
    Object.fromEntries(objects.filter((o) => o.kind === 'StatefulSet').map((o) => [o.metadata.name, (o.spec as { replicas: number }).replicas]));
  it('holds both StatefulSets at 0 pods until the migration\'s checks have passed, then lets them be', () => {
    const objects = renderManifests(migrating, { namespace: 'apps', routing: 'label' }).objects;
    assert.deepEqual(replicasOf(heldForMigration(objects, migrating, false)), { 'cache-redis': 0, 'cache-sentinel': 0 });
    assert.deepEqual(replicasOf(heldForMigration(objects, migrating, true)), { 'cache-redis': 3, 'cache-sentinel': 3 });
  });
  it('the migration ConfigMap says migrating until the switchover is recorded in status, then done', () => {
    const cr = (status?: RedisHAStatus): RedisHAResource => ({
      apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name: 'cache', namespace: 'apps', uid: 'u' },
      spec: { migrateFrom: { sentinels: ['redis-node-0.redis-headless.apps.svc.cluster.local:26379'], masterName: 'mymaster', secretName: 'redis' } },
      ...(status ? { status } : {}),
    });
    const state = (r: RedisHAResource) => {
      const d = desiredObjects(r, { password: 'p'.repeat(20), sentinelPassword: 's'.repeat(20) });
      assert.ok(d.ok);
      return (d.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'cache-migration')?.data as { state: string }).state;
    };
    assert.equal(state(cr()), 'migrating');
    assert.equal(state(cr({ migration: { phase: 'Running', step: 'sentinels', message: '', switchedTo: 'cache-redis-0.cache-headless.apps.svc:6379' } })), 'done');
  });
  it('changes nothing without migrateFrom', () => {
    const objects = renderManifests(plain, { namespace: 'apps', routing: 'label' }).objects;
    assert.deepEqual(heldForMigration(objects, plain, false), objects);
  });
});
