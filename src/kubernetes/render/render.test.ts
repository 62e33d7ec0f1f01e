import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { SpecError, loadSpecFile, masterGroupName, resolveSpec, specToOpenAPI } from '../../spec/index.ts';
import type { RedisHASpec } from '../../spec/index.ts';
import { fromBitnami } from '../bitnami.ts';
import { formatObjects } from '../../cli/commands/render.ts';
import { kubernetesValidator } from '../../../test/k8s-schemas.ts';
import { COMPONENT_LABEL, MASTER_POD_LABEL, SECRET_KEYS, renderManifests, renderResource } from './index.ts';
import type { K8sObject } from './index.ts';

const HERE = import.meta.dirname;
const TESTDATA = join(HERE, 'testdata');
const BIN = join(HERE, '../../../bin/redis-ha.js');
const fixed = () => 'generated-password-for-tests-0123456789';

function brief(): { spec: RedisHASpec; input: Record<string, unknown>; warnings: string[] } {
  const { input, warnings } = fromBitnami(loadSpecFile(join(TESTDATA, 'bitnami-brief.yaml')) as Record<string, unknown>, 'redis');
  return { spec: resolveSpec(input, { generateSecret: fixed }), input, warnings };
}

function maximal(): { spec: RedisHASpec; input: Record<string, unknown> } {
  const input = loadSpecFile(join(TESTDATA, 'maximal.yaml')) as Record<string, unknown>;
  return { spec: resolveSpec(input), input };
}

function testdata(file: string): { spec: RedisHASpec; input: Record<string, unknown> } {
  const input = loadSpecFile(join(TESTDATA, file)) as Record<string, unknown>;
  return { spec: resolveSpec(input, { generateSecret: fixed }), input };
}

/** TLS from cert-manager (mutual TLS, metrics, the endpoint) and from a Secret the user manages. */
const tlsCertManager = () => testdata('tls-cert-manager.yaml');
const tlsSecret = () => testdata('tls-secret.yaml');

const find = (objects: K8sObject[], kind: string, name?: string): K8sObject[] =>
  objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

/** Every pod template of the rendered workloads. */
function podSpecs(objects: K8sObject[]): Array<Record<string, any>> {
  return [...find(objects, 'StatefulSet'), ...find(objects, 'Deployment')].map((s) => (s.spec as any).template.spec);
}

const VARIANTS: Array<[string, () => K8sObject[]]> = [
  ['defaults', () => renderManifests(resolveSpec({ name: 'demo' })).objects],
  ['the brief (Bitnami values)', () => renderManifests(brief().spec, { namespace: 'cache' }).objects],
  ['the maximal spec', () => renderManifests(maximal().spec, { namespace: 'shop' }).objects],
  ['persistence, no replicas, one Sentinel', () => renderManifests(resolveSpec({ name: 'p', replicas: 0, sentinels: 1, persistence: { enabled: true } })).objects],
  [
    'an existing Secret, metrics without extras, no policies',
    () =>
      renderManifests(
        resolveSpec({ name: 'x', auth: { existingSecret: 'mine' }, metrics: { enabled: true }, networkPolicy: { enabled: false }, podDisruptionBudget: { enabled: false }, scheduling: { podAntiAffinity: 'none', zoneSpread: 'none' } }),
      ).objects,
  ],
  ['TLS from cert-manager', () => renderManifests(tlsCertManager().spec, { namespace: 'shop' }).objects],
  ['TLS from a Secret the user manages', () => renderManifests(tlsSecret().spec, { namespace: 'cache' }).objects],
  ['the resource form', () => renderResource(maximal().input, maximal().spec, { namespace: 'shop' }).filter((o) => o.kind !== 'RedisHA')],
  ['under the operator (routing by label)', () => renderManifests(maximal().spec, { namespace: 'shop', routing: 'label' }).objects],
  ['externalAccess', () => renderManifests(resolveSpec({ name: 'ext', externalAccess: { enabled: true, addresses: ['10.245.1.100', '10.245.1.101', 'r.example.com'] } })).objects],
];

describe('rendered objects validate against the upstream schemas (offline)', () => {
  for (const [what, render] of VARIANTS) {
    it(what, () => {
      const validator = kubernetesValidator();
      const objects = render();
      assert.ok(objects.length > 0);
      for (const object of objects) assert.deepEqual(validator.problems(object), [], `${object.kind} ${object.metadata.name}`);
    });
  }

  it('catches what the API server would reject or drop (the validator is not a no-op)', () => {
    const validator = kubernetesValidator();
    const [sts] = find(renderManifests(resolveSpec({ name: 'demo' })).objects, 'StatefulSet');
    const broken = structuredClone(sts!) as any;
    broken.spec.template.spec.containers[0].imagePullPolcy = 'Always';
    broken.spec.replicas = 'three';
    const problems = validator.problems(broken);
    assert.ok(problems.some((p) => p.includes('imagePullPolcy')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('/spec/replicas')), problems.join('\n'));
    assert.ok(validator.problems({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: { endpoints: 'no' } }).length > 0);
    const [cert] = find(renderManifests(tlsCertManager().spec).objects, 'Certificate');
    const badCert = structuredClone(cert!) as any;
    badCert.spec.usages = ['server auth', 'telepathy'];
    badCert.spec.issuerRef.nmae = 'x';
    const certProblems = validator.problems(badCert);
    assert.ok(certProblems.some((p) => p.includes('/spec/usages/1')), certProblems.join('\n'));
    assert.ok(certProblems.some((p) => p.includes('nmae')), certProblems.join('\n'));
  });

  it('the RedisHA resource validates against the CRD schema generated from the field table', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(specToOpenAPI());
    for (const input of [maximal().input, brief().input, tlsCertManager().input, tlsSecret().input, { name: 'demo' }]) {
      const objects = renderResource(input, resolveSpec(input, { generateSecret: fixed }));
      const cr = objects.find((o) => o.kind === 'RedisHA')!;
      assert.equal(cr.apiVersion, 'redis-ha.io/v1alpha1');
      assert.ok(validate(cr.spec), JSON.stringify(validate.errors));
      assert.ok(!JSON.stringify(cr).includes('password-0123456789') && !JSON.stringify(cr).includes('blablacar'), 'no password in the resource');
    }
  });
});

describe("the brief's values file", () => {
  const { spec, warnings } = brief();
  const objects = renderManifests(spec, { namespace: 'cache' }).objects;
  const sentinelConf = () => (find(objects, 'ConfigMap', 'redis-config')[0]!.data as Record<string, string>)['start-sentinel.sh']!;

  it("keeps the chart's names apps use: the Secret redis with redis-password (the Sentinels' password too), the master set mymaster", () => {
    const [secret] = find(objects, 'Secret');
    assert.equal(secret!.metadata.name, 'redis');
    const data = secret!.stringData as Record<string, string>;
    assert.equal(data['redis-password'], 'blablacar');
    assert.equal(data[SECRET_KEYS.sentinelPassword], 'blablacar');
    assert.equal(data[SECRET_KEYS.password], undefined);
    assert.ok(warnings.some((w) => w.includes('9 characters')), 'the short password is kept with a warning');
    assert.ok(sentinelConf().includes('GROUP=mymaster\n'), 'the master set');
    assert.ok((find(objects, 'ConfigMap', 'redis-config')[0]!.data as Record<string, string>)['start-redis.sh']!.includes('$(secret redis-password)'));
  });

  it("renders the chart's Service redis: tcp-redis 6379 on the Redis pods, tcp-sentinel 26379 on the Sentinels, as the sentinel Service's load balancer", () => {
    const [svc] = find(objects, 'Service', 'redis');
    const s = svc!.spec as any;
    assert.deepEqual(s.ports, [
      { name: 'tcp-redis', port: 6379, targetPort: 'redis', protocol: 'TCP' },
      { name: 'tcp-sentinel', port: 26379, targetPort: 'sentinel', protocol: 'TCP' },
    ]);
    assert.deepEqual(s.selector, { 'app.kubernetes.io/name': 'redis-ha', 'app.kubernetes.io/instance': 'redis' });
    assert.equal(s.type, 'LoadBalancer');
    assert.equal(find(objects, 'Service', 'redis-sentinel').length, 0, 'the chart-named Service replaces -sentinel');
    // Only the Redis containers name a port redis, only the Sentinels one sentinel: each port selects its own pods.
    const portNames = (component: string) => podSpecs(find(objects, 'StatefulSet', `redis-${component}`)).flatMap((p) => p.containers.flatMap((c: any) => (c.ports ?? []).map((x: any) => x.name)));
    assert.deepEqual(portNames('redis').filter((n: string) => n !== 'metrics'), ['redis']);
    assert.deepEqual(portNames('sentinel').filter((n: string) => n !== 'metrics'), ['sentinel']);
  });

  it('renders -master, -replicas and the Sentinel Service as internal AWS load balancers; without the operator -master and -replicas lead to the endpoint', () => {
    for (const name of ['redis-master', 'redis-replicas', 'redis']) {
      const [svc] = find(objects, 'Service', name);
      assert.equal((svc!.spec as any).type, 'LoadBalancer', name);
      assert.equal(svc!.metadata.annotations?.['service.beta.kubernetes.io/aws-load-balancer-internal'], 'true', name);
    }
    const selector = { 'app.kubernetes.io/instance': 'redis', [COMPONENT_LABEL]: 'endpoint' };
    assert.deepEqual((find(objects, 'Service', 'redis-master')[0]!.spec as any).selector, selector);
    assert.equal((find(objects, 'Service', 'redis-master')[0]!.spec as any).ports[0].targetPort, 'master');
    assert.deepEqual((find(objects, 'Service', 'redis-replicas')[0]!.spec as any).selector, selector);
    assert.equal((find(objects, 'Service', 'redis-replicas')[0]!.spec as any).ports[0].targetPort, 'replicas');
    const [deployment] = find(objects, 'Deployment', 'redis-endpoint');
    assert.deepEqual((deployment!.spec as any).template.metadata.labels[COMPONENT_LABEL], 'endpoint');
    assert.ok((deployment!.spec as any).template.spec.containers[0].args.includes('mymaster'));
    assert.equal(find(objects, 'Service', 'redis-endpoint').length, 0, 'no second Service for the same pods');
    const np = find(objects, 'NetworkPolicy')[0]!.spec as any;
    assert.ok(JSON.stringify(np.ingress).includes('"port":6380'), 'the replicas port of the endpoint is let in');
  });

  it('under the operator -master and -replicas select the Redis pods by the role label', () => {
    const labelled = renderManifests(spec, { namespace: 'cache', routing: 'label' });
    assert.equal((find(labelled.objects, 'Service', 'redis-master')[0]!.spec as any).selector[MASTER_POD_LABEL], 'master');
    assert.equal((find(labelled.objects, 'Service', 'redis-replicas')[0]!.spec as any).selector[MASTER_POD_LABEL], 'replica');
    assert.equal(find(labelled.objects, 'Deployment').length, 0);
    assert.ok(!labelled.warnings.some((w) => w.startsWith('routing')));
    const plain = renderManifests(resolveSpec({ name: 'x', routing: 'label' }, { generateSecret: fixed }));
    assert.ok(plain.warnings.includes('routing: label: -master and -replicas select the redis-ha.io/role label, which only the operator sets; applied without it they have no endpoints (remove routing to have the endpoint Deployment route them)'), plain.warnings.join('\n'));
  });

  it('--own-names keeps this project\'s names', () => {
    const own = fromBitnami(loadSpecFile(join(TESTDATA, 'bitnami-brief.yaml')) as Record<string, unknown>, 'redis', { ownNames: true });
    const objects = renderManifests(resolveSpec(own.input, { generateSecret: fixed }), { namespace: 'cache' }).objects;
    assert.deepEqual(find(objects, 'Secret').map((o) => o.metadata.name), ['redis-auth']);
    assert.equal((find(objects, 'Secret')[0]!.stringData as Record<string, string>)[SECRET_KEYS.password], 'blablacar');
    assert.equal(find(objects, 'Service', 'redis-sentinel').length, 1);
    assert.ok((find(objects, 'ConfigMap', 'redis-config')[0]!.data as Record<string, string>)['start-sentinel.sh']!.includes('GROUP=redis-ha-redis\n'));
  });

  it('has no PVC, exporter sidecars, and a ServiceMonitor in monitoring', () => {
    assert.ok(!JSON.stringify(objects).includes('PersistentVolumeClaim'));
    for (const pod of podSpecs(find(objects, 'StatefulSet'))) assert.ok(pod.containers.some((c: any) => c.name === 'exporter'));
    const [sm] = find(objects, 'ServiceMonitor');
    assert.equal(sm!.metadata.namespace, 'monitoring');
    assert.deepEqual((sm!.spec as any).namespaceSelector, { matchNames: ['cache'] });
  });

  it('maps every key of the values file (no warning about an unmapped one)', () => {
    assert.deepEqual(warnings.filter((w) => w.includes('not mapped')), []);
  });
});

describe('golden files', () => {
  const cases: Array<[string, () => string]> = [
    ['bitnami-brief.golden.yaml', () => formatObjects(renderManifests(brief().spec, { namespace: 'cache' }).objects, 'yaml')],
    ['maximal.golden.yaml', () => formatObjects(renderManifests(maximal().spec, { namespace: 'shop' }).objects, 'yaml')],
    ['tls-cert-manager.golden.yaml', () => formatObjects(renderManifests(tlsCertManager().spec, { namespace: 'shop' }).objects, 'yaml')],
    ['tls-secret.golden.yaml', () => formatObjects(renderManifests(tlsSecret().spec, { namespace: 'cache' }).objects, 'yaml')],
  ];
  for (const [file, render] of cases) {
    it(`${file} (UPDATE_GOLDEN=1 rewrites it)`, () => {
      const path = join(TESTDATA, file);
      const text = render();
      if (process.env.UPDATE_GOLDEN) writeFileSync(path, text);
      assert.equal(text, readFileSync(path, 'utf8'));
    });
  }
});

describe('secrets stay in the Secret', () => {
  it('no password or key appears in any ConfigMap, argv, or environment value of a rendered pod', () => {
    for (const { spec, objects } of [
      { spec: maximal().spec, objects: renderManifests(maximal().spec).objects },
      { spec: brief().spec, objects: renderManifests(brief().spec).objects },
      { spec: tlsCertManager().spec, objects: renderManifests(tlsCertManager().spec).objects },
      { spec: tlsSecret().spec, objects: renderManifests(tlsSecret().spec).objects },
    ]) {
      const secret = find(objects, 'Secret')[0]!.stringData as Record<string, string>;
      const passwords = Object.values(secret);
      assert.equal(passwords.length, 6);
      assert.ok(passwords.includes(spec.auth.password));
      const exposed: string[] = [];
      for (const cm of find(objects, 'ConfigMap')) exposed.push(...Object.values(cm.data as Record<string, string>));
      for (const pod of podSpecs(objects)) {
        for (const c of pod.containers) {
          exposed.push(...(c.command ?? []), ...(c.args ?? []));
          for (const env of c.env ?? []) {
            if (env.value !== undefined) exposed.push(env.value);
            else assert.ok(env.valueFrom.secretKeyRef || env.valueFrom.fieldRef, `env ${env.name} comes from a secretKeyRef or the downward API`);
          }
          for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe, c.lifecycle?.preStop]) exposed.push(...(probe?.exec?.command ?? []));
        }
      }
      exposed.push(JSON.stringify(find(objects, 'StatefulSet')), JSON.stringify(find(objects, 'Certificate')));
      for (const password of passwords) assert.ok(!exposed.some((text) => text.includes(password)), 'a password leaked');
      // TLS: pods name the mounted files; no PEM (certificate or key) is ever rendered.
      assert.ok(!JSON.stringify(objects).includes('-----BEGIN'), 'PEM material in a rendered object');
      if (spec.tls?.enabled) assert.ok(exposed.some((text) => text.includes('/etc/redis-ha/tls/tls.key')), 'the key is referred to by its mounted path');
    }
  });
});

describe('Pod Security "restricted"', () => {
  it('every pod and container sets what the restricted profile requires', () => {
    for (const [what, render] of VARIANTS.filter(([w]) => w !== 'the resource form')) {
      for (const pod of podSpecs(render())) {
        assert.equal(pod.securityContext.runAsNonRoot, true, what);
        assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', what);
        assert.notEqual(pod.securityContext.runAsUser, 0);
        assert.equal(pod.automountServiceAccountToken, false);
        assert.ok(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC);
        for (const volume of pod.volumes) {
          const types = Object.keys(volume).filter((k) => k !== 'name');
          assert.ok(types.every((t) => ['configMap', 'secret', 'emptyDir', 'persistentVolumeClaim', 'projected', 'downwardAPI'].includes(t)), `${what}: volume ${volume.name}`);
        }
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          const sc = c.securityContext;
          assert.equal(sc.allowPrivilegeEscalation, false, `${what} ${c.name}`);
          assert.deepEqual(sc.capabilities.drop, ['ALL']);
          assert.equal(sc.capabilities.add, undefined);
          assert.equal(sc.readOnlyRootFilesystem, true);
          assert.equal(sc.runAsNonRoot, true);
          assert.ok(!sc.privileged);
          assert.ok(sc.seccompProfile === undefined || sc.seccompProfile.type === 'RuntimeDefault');
          assert.ok(!(c.ports ?? []).some((p: any) => p.hostPort));
        }
      }
    }
  });
});

describe('warnings', () => {
  it('an alb.ingress.kubernetes.io annotation on a Service is reported with the right one', () => {
    const spec = resolveSpec({ name: 'a', services: { master: { type: 'LoadBalancer', annotations: { 'alb.ingress.kubernetes.io/scheme': 'internal' } } } });
    const { warnings } = renderManifests(spec);
    assert.ok(
      warnings.includes(
        'services.master.annotations: alb.ingress.kubernetes.io/scheme does nothing on a Service (only the AWS Load Balancer Controller reads it, on an Ingress); use service.beta.kubernetes.io/aws-load-balancer-internal: "true" (or preset: aws-internal)',
      ),
      warnings.join('\n'),
    );
  });

  it('every Bitnami key that is not mapped is listed', () => {
    const { input, warnings } = fromBitnami(
      { global: { redis: { password: 'p'.repeat(20) } }, master: { count: 2, extraFlags: ['--maxclients 5'] }, replica: { replicaCount: 3, podLabels: { a: 'b' } }, sentinel: { enabled: true, quorum: 2 }, image: { tag: '7.0.0' }, useHostnames: true },
      'r',
    );
    assert.deepEqual(input, { name: 'r', naming: 'bitnami', auth: { password: 'p'.repeat(20), sentinelPassword: 'p'.repeat(20) }, replicas: 2, sentinels: 3, quorum: 2 });
    assert.deepEqual(warnings, [
      'values: master.count is not mapped (redis-ha runs exactly one master); ignored',
      'values: image is not mapped (redis-ha runs the official images, version-pinned; see the image and metrics.image fields); ignored',
      'values: master.extraFlags is not mapped; ignored',
      'values: replica.podLabels.a is not mapped; ignored',
      'values: useHostnames is not mapped; ignored',
    ]);
  });
});

describe('Bitnami values written loosely', () => {
  it('reads a count written as a string of digits, saying so', () => {
    const { input, warnings } = fromBitnami({ replica: { replicaCount: '5' }, sentinel: { enabled: true, quorum: '3' } }, 'r');
    assert.equal(input.replicas, 4);
    assert.equal(input.sentinels, 5);
    assert.equal(input.quorum, 3);
    assert.deepEqual(warnings, ['values: replica.replicaCount is the string "5"; read as the number 5', 'values: sentinel.quorum is the string "3"; read as the number 3']);
  });

  it('refuses a count that is not a number, naming the key', () => {
    assert.throws(() => fromBitnami({ replica: { replicaCount: 'five' } }, 'r'), (e: unknown) => e instanceof SpecError && e.message === 'values: replica.replicaCount: must be a whole number (got "five")');
  });

  it('maps sentinel.masterSet and sentinel.externalAccess', () => {
    const { input, warnings } = fromBitnami(
      {
        replica: { replicaCount: 3 },
        sentinel: { enabled: true, masterSet: 'cache', externalAccess: { enabled: true, service: { type: 'LoadBalancer', loadBalancerIP: ['10.1.0.10', '10.1.0.11', '10.1.0.12'], annotations: { a: 'b' }, redisPort: 6379 } } },
      },
      'r',
    );
    assert.deepEqual(input.sentinel, { masterName: 'cache' });
    assert.deepEqual(input.externalAccess, { enabled: true, addresses: ['10.1.0.10', '10.1.0.11', '10.1.0.12'], service: { annotations: { a: 'b' } } });
    assert.deepEqual(warnings, ['values: sentinel.externalAccess.service.redisPort is not mapped (each node is exposed on 6379; the Sentinels through the sentinel Service on 26379); ignored']);
    assert.equal(masterGroupName(resolveSpec(input)), 'cache');
    assert.throws(() => fromBitnami({ sentinel: { externalAccess: { enabled: true, service: { type: 'NodePort' } } } }, 'r'), /sentinel.externalAccess.service.type: redis-ha exposes each node through a LoadBalancer Service \(got "NodePort"\); set LoadBalancer/);
  });
});

describe('scheduling.tolerations', () => {
  it('renders each taint as the toleration kubectl taint\'s form means: Equal with a value, Exists without, every effect when none is named', () => {
    const spec = resolveSpec({ name: 't', scheduling: { tolerations: ['dedicated=cache:NoSchedule', 'spot:NoExecute', 'example.com/pool=', 'node.kubernetes.io/unreachable'] } }, { generateSecret: fixed });
    const want = [
      { key: 'dedicated', operator: 'Equal', value: 'cache', effect: 'NoSchedule' },
      { key: 'spot', operator: 'Exists', effect: 'NoExecute' },
      { key: 'example.com/pool', operator: 'Equal', value: '' },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists' },
    ];
    const objects = renderManifests(spec, { namespace: 'apps' }).objects;
    const pods = [...podSpecs(find(objects, 'StatefulSet')), (find(objects, 'Deployment', 't-endpoint')[0]!.spec as any).template.spec];
    assert.equal(pods.length, 3);
    for (const pod of pods) assert.deepEqual(pod.tolerations, want);
  });

  it('refuses what is not a taint, and takes the Bitnami chart\'s tolerations', () => {
    for (const bad of ['dedicated=cache:NoWhere', ':NoSchedule', 'a=b=c', 'key:NoSchedule:NoExecute', `${'k'.repeat(64)}:NoSchedule`, `key=${'v'.repeat(64)}`, 'Example.com/key'])
      assert.throws(() => resolveSpec({ name: 't', scheduling: { tolerations: [bad] } }), (e: Error) => e instanceof SpecError && /scheduling\.tolerations.*must be key\[=value\]\[:Effect\]/.test(e.message), bad);
    assert.doesNotThrow(() => resolveSpec({ name: 't', scheduling: { tolerations: [`example.com/${'k'.repeat(63)}=${'v'.repeat(63)}:NoExecute`] } }));
    // A full values file (helm get values --all) has master.tolerations: [] beside the replica's list.
    const { input, warnings } = fromBitnami({ master: { tolerations: [] }, replica: { tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }, { key: 'pool', operator: 'Equal', value: 'cache', tolerationSeconds: 30 }] } }, 'r');
    assert.deepEqual((input.scheduling as any).tolerations, ['spot:NoSchedule', 'pool=cache']);
    assert.ok(warnings.some((w) => /tolerationSeconds of pool is not mapped/.test(w)), warnings.join('\n'));
    assert.throws(() => fromBitnami({ master: { tolerations: [{ operator: 'Exists' }] } }, 'r'), /a toleration without a key/);
  });
});

describe('what an audit (checkov, kube-score) asks of the rendered pods', () => {
  const spec = resolveSpec({ name: 'au', metrics: { enabled: true }, scheduling: { podAntiAffinity: 'hard', nodeSelector: { pool: 'cache' } } }, { generateSecret: fixed });
  const objects = renderManifests(spec, { namespace: 'apps' }).objects;

  it('the endpoint Deployment has a disruption budget, the scheduling of the spec, a liveness probe, and is ready only while it routes to a master', () => {
    const [deployment] = find(objects, 'Deployment', 'au-endpoint');
    const pod = (deployment!.spec as any).template.spec;
    const selector = { 'app.kubernetes.io/instance': 'au', [COMPONENT_LABEL]: 'endpoint' };
    assert.deepEqual(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, [{ labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' }]);
    assert.deepEqual(pod.nodeSelector, { pool: 'cache' });
    assert.deepEqual(pod.containers[0].livenessProbe, { httpGet: { path: '/livez', port: 'health' }, periodSeconds: 10, failureThreshold: 6 });
    assert.deepEqual(pod.containers[0].readinessProbe, { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 2, failureThreshold: 3 });
    assert.deepEqual(pod.containers[0].args.slice(pod.containers[0].args.indexOf('--health-port'), pod.containers[0].args.indexOf('--health-port') + 2), ['--health-port', '8081']);
    const [pdb] = find(objects, 'PodDisruptionBudget', 'au-endpoint');
    assert.deepEqual(pdb!.spec, { maxUnavailable: 1, selector: { matchLabels: selector } });
  });

  it("every exporter has a liveness probe, and the data emptyDir a size limit: Redis's memory limit, a Sentinel's 16Mi", () => {
    for (const pod of podSpecs(find(objects, 'StatefulSet')))
      assert.deepEqual(pod.containers.find((c: any) => c.name === 'exporter').livenessProbe, { httpGet: { path: '/health', port: 'metrics' }, periodSeconds: 10, failureThreshold: 6 });
    const [redis, sentinel] = podSpecs(find(objects, 'StatefulSet'));
    assert.deepEqual(redis!.volumes.find((v: any) => v.name === 'data'), { name: 'data', emptyDir: { sizeLimit: '512Mi' } });
    assert.deepEqual(sentinel!.volumes.find((v: any) => v.name === 'data'), { name: 'data', emptyDir: { sizeLimit: '16Mi' } });
  });

  it('a load balancer narrowed by source ranges keeps the client address (Local), unless the spec says otherwise', () => {
    const narrowed = renderManifests(resolveSpec({ name: 'lb', services: { master: { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/8'] }, sentinel: { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/8'], externalTrafficPolicy: 'Cluster' } } }, { generateSecret: fixed })).objects;
    assert.equal((find(narrowed, 'Service', 'lb-master')[0]!.spec as any).externalTrafficPolicy, 'Local');
    assert.equal((find(narrowed, 'Service', 'lb-sentinel')[0]!.spec as any).externalTrafficPolicy, 'Cluster');
    assert.equal((find(narrowed, 'Service', 'lb-replicas')[0]!.spec as any).externalTrafficPolicy, undefined);
  });
});

describe('externalAccess: every Redis pod reachable from outside the cluster at the address it announces', () => {
  const spec = resolveSpec({ name: 'ext', replicas: 2, externalAccess: { enabled: true, addresses: ['10.245.1.100', '10.245.1.101', 'redis-2.example.com'], service: { loadBalancerSourceRanges: ['10.0.0.0/8'] } } }, { generateSecret: fixed });
  const objects = renderManifests(spec, { namespace: 'apps' }).objects;

  it('renders one LoadBalancer Service per pod, at its address, publishing the pod before it is ready', () => {
    const svcs = find(objects, 'Service').filter((o) => o.metadata.name.endsWith('-external'));
    assert.deepEqual(svcs.map((o) => o.metadata.name), ['ext-redis-0-external', 'ext-redis-1-external', 'ext-redis-2-external']);
    const s0 = svcs[0]!.spec as any;
    assert.equal(s0.type, 'LoadBalancer');
    assert.equal(s0.loadBalancerIP, '10.245.1.100');
    assert.equal(s0.publishNotReadyAddresses, true);
    assert.equal(s0.selector['statefulset.kubernetes.io/pod-name'], 'ext-redis-0');
    assert.deepEqual(s0.loadBalancerSourceRanges, ['10.0.0.0/8']);
    assert.equal((svcs[2]!.spec as any).loadBalancerIP, undefined, 'a DNS name is not an IP to ask for');
  });

  it('the pods announce those addresses and name peers by them', () => {
    const script = (find(objects, 'ConfigMap', 'ext-config')[0]!.data as Record<string, string>)['start-redis.sh']!;
    assert.ok(script.includes('    ext-redis-1) echo 10.245.1.101 ;;\n'), script);
    assert.ok(script.includes('echo "replica-announce-ip $ME_ADDR"'));
    assert.ok(script.includes('first=$(addr_of ext-redis-0)'));
  });

  it('the addresses must match the pods', () => {
    assert.throws(() => resolveSpec({ name: 'e', replicas: 2, externalAccess: { enabled: true, addresses: ['10.0.0.1'] } }), (e: unknown) => e instanceof SpecError && e.message === 'externalAccess.addresses: must give one address per Redis pod, 3 for replicas: 2 (got 1)');
    assert.throws(() => resolveSpec({ name: 'e', replicas: 1, externalAccess: { enabled: true, addresses: ['10.0.0.1', '10.0.0.1'] } }), (e: unknown) => e instanceof SpecError && e.message === 'externalAccess.addresses: each pod needs an address of its own (got 10.0.0.1 twice)');
    assert.throws(() => resolveSpec({ name: 'e', externalAccess: { addresses: ['10.0.0.1'] } }), (e: unknown) => e instanceof SpecError && e.message.startsWith('externalAccess.addresses: only with externalAccess.enabled: true'));
    assert.throws(() => resolveSpec({ name: 'e', externalAccess: { enabled: true, addresses: ['not an address!'] } }), /externalAccess.addresses\[0\]: must be an IPv4 address or a DNS name/);
  });
});

describe('invalid specs and values files get one clear message naming the field', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ image: { tag: '7.2.4' } }, 'image.tag: redis 7.2.4 lacks the fixes for CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819; use 7.2.11 or newer on the 7.2 line'],
    [{ image: { tag: '8.2.1' } }, 'image.tag: redis 8.2.1 lacks the fixes for CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819; use 8.2.2 or newer on the 8.2 line'],
    [{ image: { tag: '7.0.15' } }, 'image.tag: redis 7.0 has no release with the fixes for CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819; use 8.2.3 (or another fixed line: 6.2.20, 7.2.11, 7.4.6, 8.0.4, 8.2.2 or newer)'],
    [{ image: { flavor: 'valkey', tag: '8.1.3' } }, 'image.tag: valkey 8.1.3 lacks the fixes for CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819; use 8.1.4 or newer on the 8.1 line'],
    [{ image: { tag: 'latest' } }, 'image.tag: must be an exact version such as 8.2.3 or 8.2.3-alpine (floating tags cannot be checked against the CVE floor) (got "latest")'],
    [{ image: { flavor: 'keydb' } }, 'image.flavor: must be one of redis, valkey (got "keydb")'],
    [{ image: { digest: 'sha256:abc' } }, 'image.digest: must be sha256: followed by 64 hex digits (got "sha256:abc")'],
    [{ services: { master: { type: 'External' } } }, 'services.master.type: must be one of ClusterIP, NodePort, LoadBalancer (got "External")'],
    [{ services: { master: { externalTrafficPolicy: 'Local' } } }, 'services.master.externalTrafficPolicy: only for type LoadBalancer or NodePort (got type ClusterIP); remove it or change the type'],
    [{ services: { replicas: { type: 'NodePort', loadBalancerSourceRanges: ['10.0.0.0/8'] } } }, 'services.replicas.loadBalancerSourceRanges: only for type LoadBalancer (got type NodePort); remove it or set type: LoadBalancer'],
    [{ services: { sentinel: { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/33'] } } }, 'services.sentinel.loadBalancerSourceRanges[0]: must be a CIDR such as 10.0.0.0/8 (got "10.0.0.0/33")'],
    [{ services: { sentinel: { type: 'LoadBalancer', loadBalancerSourceRanges: '10.0.0.0/8' } } }, 'services.sentinel.loadBalancerSourceRanges: must be a list (got "10.0.0.0/8")'],
    [{ services: { master: { preset: 'aws-internal' } } }, 'services.master.preset: only for type LoadBalancer (got type ClusterIP); set type: LoadBalancer or remove the preset'],
    [{ services: { preset: 'oracle-internal' } }, 'services.preset: must be one of none, aws-internal, gcp-internal, azure-internal (got "oracle-internal")'],
    [{ services: { master: { annotations: { 'bad key!': 'x' } } } }, `services.master.annotations."bad key!": must be a Kubernetes key: an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.'`],
    [{ services: { mastr: {} } }, 'services.mastr: unknown field (did you mean master?)'],
    [{ metrics: { serviceMonitor: { enabled: true } } }, 'metrics.serviceMonitor.enabled: needs metrics.enabled: true (there is nothing to scrape without the exporters)'],
    [{ metrics: { enabled: true, serviceMonitor: { namespace: 'Monitoring' } } }, 'metrics.serviceMonitor.namespace: must be a namespace name (DNS-1123 label) (got "Monitoring")'],
    [{ metrics: { enabled: true, serviceMonitor: { labels: { release: 'a b' } } } }, "metrics.serviceMonitor.labels.release: must be a label value: at most 63 letters, digits, '-', '_' or '.'"],
    [{ metrics: { enabled: true, image: 'oliver006/redis_exporter' } }, 'metrics.image: must be an image with a tag such as docker.io/oliver006/redis_exporter:v1.67.0 (got "oliver006/redis_exporter")'],
    [{ resources: { redis: { limits: { memory: 'lots' } } } }, 'resources.redis.limits.memory: must be a memory quantity such as 256Mi or 1Gi (got "lots")'],
    [{ resources: { sentinel: { requests: { cpu: '1 core' } } } }, 'resources.sentinel.requests.cpu: must be a CPU quantity such as 100m or 0.5 (got "1 core")'],
    [{ networkPolicy: { allowedCidrs: ['everywhere'] } }, 'networkPolicy.allowedCidrs[0]: must be a CIDR such as 10.0.0.0/8 (got "everywhere")'],
    [{ networkPolicy: { enabled: 'yes' } }, 'networkPolicy.enabled: must be true or false (got "yes")'],
    [{ podDisruptionBudget: { minAvailable: 2 } }, 'podDisruptionBudget.minAvailable: unknown field'],
    [{ scheduling: { podAntiAffinity: 'strict' } }, 'scheduling.podAntiAffinity: must be one of soft, hard, none (got "strict")'],
    [{ auth: { existingSecret: 'mine', password: 'p'.repeat(20) } }, 'auth.password: must not be set together with auth.existingSecret (the Secret mine holds it); remove one'],
    [{ auth: { existingSecret: 'Mine_Secret' } }, 'auth.existingSecret: must be a Secret name (DNS subdomain) (got "Mine_Secret")'],
    [{ auth: { aclRules: '+@all nopass' } }, 'auth.aclRules: must only grant or deny commands, keys and channels (got "nopass"); redis-ha sets the user\'s password and state'],
    [{ auth: { aclRules: '+@all >secret' } }, 'auth.aclRules: must only grant or deny commands, keys and channels (got ">..."); redis-ha sets the user\'s password and state'],
    [{ auth: { password: '' } }, 'auth.password: must not be empty; remove it to have one generated'],
    [{ tls: { enabled: true, secretName: 'mine', certManager: { issuerRef: { name: 'ca' } } } }, 'tls.secretName: must not be set together with tls.certManager (one certificate source: your Secret, or cert-manager issuing one); remove one'],
    [{ tls: { enabled: true, certManager: { issuerRef: { kind: 'ClusterIssuer' } } } }, 'tls.certManager.issuerRef.name: must be set when tls.certManager is given (the Issuer or ClusterIssuer that signs the certificate)'],
    [{ tls: { secretName: 'mine' } }, 'tls.secretName: only with tls.enabled: true; set tls.enabled: true or remove it'],
    [{ tls: { certManager: { issuerRef: { name: 'ca' } } } }, 'tls.certManager: only with tls.enabled: true; set tls.enabled: true or remove it'],
    [{ tls: { enabled: true, secretName: 'My_Certs' } }, 'tls.secretName: must be a Secret name (DNS subdomain) (got "My_Certs")'],
    [{ tls: { enabled: true, certManager: { issuerRef: { name: 'ca', kind: 'Vault' } } } }, 'tls.certManager.issuerRef.kind: must be one of Issuer, ClusterIssuer (got "Vault")'],
    [{ tls: { enabled: true, certManager: { issuerRef: { name: 'ca' }, duration: '90d' } } }, 'tls.certManager.duration: must be a duration such as 2160h or 720h30m (hours, minutes, seconds) (got "90d")'],
    [{ tls: { enabled: true, certManager: { issuerRef: { name: 'ca' }, duration: '30m' } } }, 'tls.certManager.duration: must be at least 1h (cert-manager\'s minimum) (got "30m")'],
    [{ tls: { enabled: true, certManager: { issuerRef: { name: 'ca' }, duration: '720h', renewBefore: '720h' } } }, 'tls.certManager.renewBefore: must be shorter than tls.certManager.duration (got 720h >= 720h)'],
  ];
  for (const [fields, expected] of cases) {
    it(expected, () => {
      try {
        resolveSpec({ name: 'demo', ...fields });
        assert.fail('expected a SpecError');
      } catch (error) {
        assert.ok(error instanceof SpecError, String(error));
        assert.equal(error.message, expected);
      }
    });
  }

  const values: Array<[string, string]> = [
    ['master:\n  service:\n    type: Ingress\n', 'services.master.type: must be one of ClusterIP, NodePort, LoadBalancer (got "Ingress")'],
    ['global:\n  redis:\n    password: "has space"\n', 'auth.password: must not contain whitespace or control characters'],
    ['sentinel:\n  enabled: true\n  quorum: 5\n', 'quorum: must be <= sentinels (got 5 > 3)'],
    ['metrics:\n  serviceMonitor:\n    enabled: true\n', 'metrics.serviceMonitor.enabled: needs metrics.enabled: true (there is nothing to scrape without the exporters)'],
    ['- just\n- a list\n', 'top level must be a mapping (got a list)'],
  ];
  for (const [text, expected] of values) {
    it(`values file: ${expected}`, () => {
      const path = join(process.env.TMPDIR ?? '/tmp', `redis-ha-values-${process.pid}-${values.findIndex(([t]) => t === text)}.yaml`);
      writeFileSync(path, text);
      const run = spawnSync(process.execPath, [BIN, 'render', '--from-bitnami', path], { encoding: 'utf8' });
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stdout, '');
      const errors = run.stderr.split('\n').filter((l) => l.startsWith('redis-ha: ') && !l.startsWith('redis-ha: warning:'));
      assert.equal(errors.length, 1, run.stderr);
      assert.ok(errors[0]!.endsWith(expected), errors[0]);
    });
  }
});

describe('redis-ha render (command line)', () => {
  it('prints a multi-document YAML stream, -o json a v1 List, and warnings on stderr', () => {
    const brief = join(TESTDATA, 'bitnami-brief.yaml');
    const yamlRun = spawnSync(process.execPath, [BIN, 'render', '--from-bitnami', brief], { encoding: 'utf8' });
    assert.equal(yamlRun.status, 0, yamlRun.stderr);
    const docs = parseAllDocuments(yamlRun.stdout).map((d) => d.toJS());
    assert.ok(docs.length >= 10);
    assert.ok(docs.every((d) => d.apiVersion && d.kind && d.metadata.name));
    assert.match(yamlRun.stderr, /redis-ha: warning: values: the password is 9 characters/);
    const json = JSON.parse(execFileSync(process.execPath, [BIN, 'render', '--from-bitnami', brief, '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.equal(json.kind, 'List');
    assert.deepEqual(json.items.map((o: K8sObject) => o.kind), docs.map((d) => d.kind));
  });

  it('--as-resource prints a Secret and the RedisHA resource naming it', () => {
    const out = execFileSync(process.execPath, [BIN, 'render', '-f', join(TESTDATA, 'maximal.yaml'), '--as-resource', '-o', 'json'], { encoding: 'utf8' });
    const items = JSON.parse(out).items as K8sObject[];
    assert.deepEqual(items.map((o) => o.kind), ['Secret', 'RedisHA']);
    assert.equal((items[1]!.spec as any).auth.existingSecret, 'shop-auth');
  });

  it('refuses a missing input, and --own-names without --from-bitnami, with exit 2 and one line', () => {
    const run = spawnSync(process.execPath, [BIN, 'render'], { encoding: 'utf8' });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, "redis-ha: render: give -f SPEC.yaml or --from-bitnami VALUES.yaml; see 'redis-ha render --help'\n");
    const own = spawnSync(process.execPath, [BIN, 'render', '-f', join(TESTDATA, 'maximal.yaml'), '--own-names'], { encoding: 'utf8' });
    assert.equal(own.status, 2);
    assert.equal(own.stderr, 'redis-ha: --own-names: only with --from-bitnami (a spec file names things itself)\n');
  });

  it('--from-bitnami with -f lays the spec file over the mapped values, and --as-resource keeps the drop-in names', () => {
    const dir = join(process.env.TMPDIR ?? '/tmp', `redis-ha-overlay-${process.pid}.yaml`);
    writeFileSync(dir, 'image: { repository: localhost/redis, tag: 7.0.15, allowUnpatched: true }\nendpoint: { image: localhost/redis-ha:test }\n');
    const out = execFileSync(process.execPath, [BIN, 'render', '--from-bitnami', join(TESTDATA, 'bitnami-brief.yaml'), '-f', dir, '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const items = JSON.parse(out).items as K8sObject[];
    const images = [...find(items, 'StatefulSet'), ...find(items, 'Deployment')].map((o) => (o.spec as any).template.spec.containers[0].image);
    assert.deepEqual(images, ['localhost/redis:7.0.15', 'localhost/redis:7.0.15', 'localhost/redis-ha:test']);
    assert.equal((find(items, 'Secret')[0]!.data ?? find(items, 'Secret')[0]!.stringData as any)['redis-password'], 'blablacar');
    const res = JSON.parse(execFileSync(process.execPath, [BIN, 'render', '--from-bitnami', join(TESTDATA, 'bitnami-brief.yaml'), '--as-resource', '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).items as K8sObject[];
    assert.deepEqual(res.map((o) => `${o.kind}/${o.metadata.name}`), ['Secret/redis', 'RedisHA/redis']);
    assert.deepEqual((res[1]!.spec as any).auth, { allowShortPasswords: true, existingSecret: 'redis', existingSecretPasswordKey: 'redis-password' });
    assert.equal((res[1]!.spec as any).naming, 'bitnami');
  });
});

describe('the scripts in the ConfigMap', () => {
  it('are valid POSIX sh', () => {
    for (const spec of [maximal().spec, brief().spec, tlsCertManager().spec, tlsSecret().spec]) {
      const [cm] = find(renderManifests(spec).objects, 'ConfigMap');
      for (const [key, text] of Object.entries(cm!.data as Record<string, string>)) {
        if (!key.endsWith('.sh')) continue;
        const run = spawnSync('sh', ['-n'], { input: text, encoding: 'utf8' });
        assert.equal(run.status, 0, `${key}: ${run.stderr}`);
      }
    }
  });
});

describe('persistence off: nothing on disk', () => {
  const configOf = (input: Record<string, unknown>): Record<string, string> =>
    find(renderManifests(resolveSpec(input, { generateSecret: fixed })).objects, 'ConfigMap')[0]!.data as Record<string, string>;
  const RM = 'rm -rf /data/dump.rdb /data/temp-*.rdb /data/temp-*.aof /data/appendonly.aof /data/appendonlydir';

  it('redis.conf saves nothing and loads a full sync from the socket; with persistence on it keeps RDB and AOF', () => {
    const off = configOf({ name: 'demo' })['redis.conf']!.split('\n');
    for (const line of ['save ""', 'appendonly no', 'repl-diskless-sync yes', 'repl-diskless-load swapdb']) assert.ok(off.includes(line), `persistence off: ${line}`);
    const on = configOf({ name: 'demo', persistence: { enabled: true } })['redis.conf']!.split('\n');
    for (const line of ['save 3600 1 300 100 60 10000', 'appendonly yes', 'appendfsync everysec']) assert.ok(on.includes(line), `persistence on: ${line}`);
    assert.deepEqual(on.filter((l) => l.startsWith('repl-diskless-load')), [], 'persistence on keeps Redis\'s default load through the disk');
  });

  it('the start script removes leftovers right before exec, and only with persistence off', () => {
    const off = configOf({ name: 'demo' })['start-redis.sh']!.split('\n');
    assert.equal(off.indexOf(RM) + 1, off.findIndex((l) => l.startsWith('exec "$(binary redis-server valkey-server)" ')), 'the rm line comes right before exec');
    assert.equal(configOf({ name: 'demo', persistence: { enabled: true } })['start-redis.sh']!.includes('rm -rf'), false);
  });

  it('the rm line removes exactly the RDB and AOF files under set -eu, also when there are none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-ha-leftovers-'));
    try {
      const keep = ['redis.conf', 'notes.txt', 'dump.rdb.bak'];
      const gone = ['dump.rdb', 'temp-1700000000.42.rdb', 'temp-42.rdb', 'temp-rewriteaof-bg-42.aof', 'appendonly.aof'];
      for (const name of [...keep, ...gone]) writeFileSync(join(dir, name), 'x');
      mkdirSync(join(dir, 'appendonlydir'));
      writeFileSync(join(dir, 'appendonlydir', 'appendonly.aof.1.base.rdb'), 'x');
      const line = RM.replaceAll('/data/', `${dir}/`);
      for (let run = 0; run < 2; run++) {
        const sh = spawnSync('sh', ['-c', `set -eu\n${line}\necho done`], { encoding: 'utf8' });
        assert.deepEqual([sh.status, sh.stdout, sh.stderr], [0, 'done\n', ''], `run ${run + 1}`);
        assert.deepEqual(readdirSync(dir).sort(), [...keep].sort(), `run ${run + 1}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('image.allowUnpatched', () => {
  it('a tag below the CVE floor is refused by default and runs, with a warning, only when allowed explicitly', () => {
    assert.throws(() => resolveSpec({ name: 'tb', image: { repository: 'localhost/redis-ha/redis', tag: '7.0.15' } }), /image\.tag: redis 7\.0 has no release with the fixes for CVE-2025-49844/);
    const spec = resolveSpec({ name: 'tb', image: { repository: 'localhost/redis-ha/redis', tag: '7.0.15', allowUnpatched: true } });
    const { objects, warnings } = renderManifests(spec, { namespace: 'tb' });
    assert.deepEqual(warnings, [
      'image.allowUnpatched: redis 7.0 has no release with the fixes for CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819; use 8.2.3 (or another fixed line: 6.2.20, 7.2.11, 7.4.6, 8.0.4, 8.2.2 or newer); running it anyway because image.allowUnpatched is true (only safe if its builder backported the fixes)',
    ]);
    const sts = objects.find((o) => o.kind === 'StatefulSet') as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } };
    assert.equal(sts.spec.template.spec.containers[0]!.image, 'localhost/redis-ha/redis:7.0.15');
    assert.deepEqual(renderManifests(resolveSpec({ name: 'tb', image: { tag: '8.2.3', allowUnpatched: true } })).warnings, []);
  });
});

describe('tls on Kubernetes', () => {
  it('without a certificate source it is refused with the fix named, never rendered as plaintext pods', () => {
    assert.throws(
      () => renderManifests(resolveSpec({ name: 'demo', tls: { enabled: true } })),
      (err: Error) =>
        err instanceof SpecError &&
        err.message === 'tls.enabled: on Kubernetes the certificate must come from somewhere: set tls.certManager.issuerRef.name (cert-manager issues it) or tls.secretName (a Secret you manage with tls.crt, tls.key and ca.crt)',
    );
    const plain = (input: Record<string, unknown>) => renderManifests(resolveSpec(input, { generateSecret: fixed })).objects;
    assert.deepEqual(plain({ name: 'demo', tls: { enabled: false } }), plain({ name: 'demo' }), 'tls off renders exactly what no tls field renders');
  });

  it('cert-manager: a Certificate naming every pod and Service, short and fully qualified, whose Secret the pods mount', () => {
    const objects = renderManifests(tlsCertManager().spec, { namespace: 'shop' }).objects;
    const [cert] = find(objects, 'Certificate');
    const spec = cert!.spec as any;
    assert.equal(cert!.apiVersion, 'cert-manager.io/v1');
    assert.equal(spec.secretName, 'shop-tls');
    assert.deepEqual(spec.issuerRef, { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    assert.equal(spec.duration, '2160h');
    assert.equal(spec.renewBefore, '360h');
    assert.deepEqual(spec.usages, ['digital signature', 'server auth', 'client auth']);
    for (const pod of ['shop-redis-0', 'shop-redis-1', 'shop-redis-2', 'shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2']) {
      assert.ok(spec.dnsNames.includes(`${pod}.shop-headless.shop.svc`), pod);
      assert.ok(spec.dnsNames.includes(`${pod}.shop-headless.shop.svc.cluster.example`), pod);
    }
    for (const svc of ['shop-headless', 'shop-master', 'shop-replicas', 'shop-sentinel', 'shop-endpoint']) {
      for (const name of [svc, `${svc}.shop`, `${svc}.shop.svc`, `${svc}.shop.svc.cluster.example`]) assert.ok(spec.dnsNames.includes(name), name);
    }
    assert.equal(new Set(spec.dnsNames).size, spec.dnsNames.length, 'no name twice');
    for (const pod of podSpecs(objects)) {
      assert.deepEqual(pod.volumes.find((v: any) => v.name === 'tls').secret.secretName, 'shop-tls');
      for (const c of pod.containers) assert.ok(c.volumeMounts.some((m: any) => m.name === 'tls' && m.mountPath === '/etc/redis-ha/tls' && m.readOnly), c.name);
    }
  });

  it('a user Secret: mounted as it is (the three keys named), no Certificate', () => {
    const objects = renderManifests(tlsSecret().spec, { namespace: 'cache' }).objects;
    assert.deepEqual(find(objects, 'Certificate'), []);
    for (const pod of podSpecs(objects)) {
      const volume = pod.volumes.find((v: any) => v.name === 'tls');
      assert.deepEqual(volume, { name: 'tls', secret: { secretName: 'cache-certs', defaultMode: 0o440, items: ['tls.crt', 'tls.key', 'ca.crt'].map((k) => ({ key: k, path: k })) } });
    }
  });

  it('Redis and Sentinel serve TLS only on their usual ports, replicate and link over TLS; Services keep their ports', () => {
    for (const { spec, ns, authClients } of [
      { spec: tlsCertManager().spec, ns: 'shop', authClients: 'yes' },
      { spec: tlsSecret().spec, ns: 'cache', authClients: 'optional' },
    ]) {
      const objects = renderManifests(spec, { namespace: ns }).objects;
      const data = find(objects, 'ConfigMap', `${spec.name}-config`)[0]!.data as Record<string, string>;
      const tlsLines = (port: number) => [
        'port 0',
        `tls-port ${port}`,
        'tls-cert-file /etc/redis-ha/tls/tls.crt',
        'tls-key-file /etc/redis-ha/tls/tls.key',
        'tls-ca-cert-file /etc/redis-ha/tls/ca.crt',
        `tls-auth-clients ${authClients}`,
        'tls-replication yes',
      ];
      for (const line of [...tlsLines(6379), 'replica-announce-port 6379']) assert.ok(data['redis.conf']!.split('\n').includes(line), `redis.conf: ${line}`);
      for (const line of [...tlsLines(26379), 'sentinel announce-port 26379']) assert.ok(data['sentinel.conf']!.split('\n').includes(line), `sentinel.conf: ${line}`);
      assert.ok(!/^port 6379$/m.test(data['redis.conf']!) && !/^port 26379$/m.test(data['sentinel.conf']!), 'no plaintext port');
      // Start, probe and preStop scripts: every redis-cli call speaks TLS with the CA and the certificate.
      for (const [key, text] of Object.entries(data)) {
        if (key.endsWith('.sh')) assert.match(text, /^CLI="\$\(binary redis-cli valkey-cli\) --tls --cacert \/etc\/redis-ha\/tls\/ca\.crt --cert \/etc\/redis-ha\/tls\/tls\.crt --key \/etc\/redis-ha\/tls\/tls\.key"$/m, key);
      }
      const ports = (name: string) => ((find(objects, 'Service', name)[0]!.spec as any).ports as { port: number }[]).map((p) => p.port);
      assert.deepEqual(ports(`${spec.name}-master`), [6379]);
      assert.deepEqual(ports(`${spec.name}-sentinel`), [26379]);
      assert.deepEqual(ports(`${spec.name}-headless`), [6379, 26379]);
    }
  });

  it('the exporter connects with rediss:// to the pod hostname the certificate names; the endpoint checks over TLS', () => {
    const objects = renderManifests(tlsCertManager().spec, { namespace: 'shop' }).objects;
    for (const [sts, port] of [['shop-redis', 6379], ['shop-sentinel', 26379]] as const) {
      const pod = (find(objects, 'StatefulSet', sts)[0]!.spec as any).template.spec;
      const env = Object.fromEntries(pod.containers.find((c: any) => c.name === 'exporter').env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
      assert.equal(env.REDIS_ADDR, `rediss://$(POD_NAME).shop-headless.$(POD_NAMESPACE).svc:${port}`);
      assert.equal(env.REDIS_EXPORTER_TLS_CA_CERT_FILE, '/etc/redis-ha/tls/ca.crt');
      assert.equal(env.REDIS_EXPORTER_TLS_CLIENT_CERT_FILE, '/etc/redis-ha/tls/tls.crt');
      assert.equal(env.REDIS_EXPORTER_TLS_CLIENT_KEY_FILE, '/etc/redis-ha/tls/tls.key');
      assert.deepEqual(env.POD_NAME, { fieldRef: { fieldPath: 'metadata.name' } }, 'POD_NAME comes before REDIS_ADDR expands it');
    }
    const endpoint = (find(objects, 'Deployment', 'shop-endpoint')[0]!.spec as any).template.spec;
    const args: string[] = endpoint.containers[0].args;
    assert.deepEqual(args.slice(args.indexOf('--tls')), ['--tls', '--cacert', '/etc/redis-ha/tls/ca.crt', '--cert', '/etc/redis-ha/tls/tls.crt', '--key', '/etc/redis-ha/tls/tls.key']);
    assert.equal(endpoint.securityContext.fsGroup, 65532, 'the proxy user can read the 0440 certificate files');
  });
});

