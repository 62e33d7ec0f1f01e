/**
 * Offline validation of rendered objects against the upstream schemas: the Kubernetes OpenAPI v3 spec
 * of a release (api/openapi-spec/v3 in the k8s.io/kubernetes module), the prometheus-operator CRDs
 * (example/prometheus-operator-crd in its module) and the cert-manager CRDs (deploy/crds in its module).
 * `.ci/run` fetches the three modules through the Go module proxy into /var/cache/redis-ha/gomod
 * (scripts/fetch-schemas.sh). Validation is strict: every object
 * schema that lists its properties rejects others, as kubeconform's -strict does, so a misspelt field
 * fails here instead of being silently dropped by the API server.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parse } from 'yaml';

export const KUBERNETES_VERSION = 'v1.34.4';
export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';
export const CERT_MANAGER_VERSION = 'v1.21.2';
const MODCACHE = process.env.REDIS_HA_GOMODCACHE ?? '/var/cache/redis-ha/gomod';
const K8S_DIR = join(MODCACHE, `k8s.io/kubernetes@${KUBERNETES_VERSION}/api/openapi-spec/v3`);
const CRD_DIR = join(MODCACHE, `github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}/example/prometheus-operator-crd`);
const CERT_MANAGER_DIR = join(MODCACHE, `github.com/cert-manager/cert-manager@${CERT_MANAGER_VERSION}/deploy/crds`);
const K8S_FILES = ['api__v1_openapi.json', 'apis__apps__v1_openapi.json', 'apis__policy__v1_openapi.json', 'apis__networking.k8s.io__v1_openapi.json'];
/** The cert-manager Certificate CRD as upstream ships it (the operator tests install it into a test API server). */
export const CERT_MANAGER_CERTIFICATE_CRD = join(CERT_MANAGER_DIR, 'cert-manager.io_certificates.yaml');
/** The prometheus-operator ServiceMonitor CRD (the brief's values ask for a ServiceMonitor; the e2e installs it as a Prometheus user has it). */
export const SERVICE_MONITOR_CRD = join(CRD_DIR, 'monitoring.coreos.com_servicemonitors.yaml');
const CRD_FILES = [
  SERVICE_MONITOR_CRD,
  join(CRD_DIR, 'monitoring.coreos.com_prometheusrules.yaml'),
  CERT_MANAGER_CERTIFICATE_CRD,
];

type Schema = Record<string, unknown>;

/** Adds additionalProperties: false wherever an object lists its properties and allows nothing else yet. */
function strict(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(strict);
  if (typeof node !== 'object' || node === null) return;
  const schema = node as Schema;
  if (schema.properties !== undefined && schema.additionalProperties === undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true)
    schema.additionalProperties = false;
  for (const [key, child] of Object.entries(schema)) if (key !== 'enum' && key !== 'default' && key !== 'example') strict(child);
}

/** Schemas carry RE2 patterns; the only RE2-only syntax in them is the `(?i)` flag group. */
const re2Like = Object.assign(
  (pattern: string, flags: string): RegExp =>
    pattern.includes('(?i)') ? new RegExp(pattern.replaceAll('(?i)', ''), `${flags}i`) : new RegExp(pattern, flags),
  { code: 'new RegExp' },
);

export interface Validator {
  /** Problems with `object` as `path: message` lines; empty when it is valid. */
  problems(object: Record<string, unknown>): string[];
}

let cached: Validator | undefined;

/** The validator, built once. Throws a one-line error naming the fix when the schemas are not fetched. */
export function kubernetesValidator(): Validator {
  if (cached) return cached;
  if (!existsSync(K8S_DIR) || CRD_FILES.some((f) => !existsSync(f)))
    throw new Error(`Kubernetes schemas not found under ${MODCACHE}; run 'bash scripts/fetch-schemas.sh' (needs go and the Go module proxy)`);
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: re2Like } });
  const schemas: Record<string, Schema> = {};
  const byKind = new Map<string, string>();
  for (const file of K8S_FILES) {
    const doc = JSON.parse(readFileSync(join(K8S_DIR, file), 'utf8')) as { components: { schemas: Record<string, Schema> } };
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      schemas[name] = schema;
      for (const gvk of (schema['x-kubernetes-group-version-kind'] as Array<{ group: string; version: string; kind: string }>) ?? []) {
        byKind.set(`${gvk.group ? `${gvk.group}/` : ''}${gvk.version}/${gvk.kind}`, name);
      }
    }
  }
  strict(schemas);
  ajv.addSchema({ $id: 'k8s', components: { schemas } });
  const validators = new Map<string, ValidateFunction>();
  for (const [gvk, name] of byKind) {
    validators.set(gvk, ajv.compile({ $ref: `k8s#/components/schemas/${name}` }));
  }
  const objectMeta = ajv.compile({ $ref: 'k8s#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' });
  for (const file of CRD_FILES) {
    const crd = parse(readFileSync(file, 'utf8')) as {
      spec: { group: string; names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: Schema } }> };
    };
    for (const version of crd.spec.versions) {
      const schema = structuredClone(version.schema.openAPIV3Schema);
      strict(schema);
      // The CRD types metadata as a bare object; the API server checks it as ObjectMeta.
      (schema.properties as Record<string, Schema>).metadata = { type: 'object' };
      validators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(schema));
    }
  }
  const format = (errors: ErrorObject[] | null | undefined): string[] =>
    (errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
  cached = {
    problems(object) {
      const gvk = `${String(object.apiVersion)}/${String(object.kind)}`;
      const validate = validators.get(gvk);
      if (!validate) return [`${gvk}: no schema for this apiVersion and kind`];
      const out = validate(object) ? [] : format(validate.errors);
      if (!objectMeta(object.metadata)) out.push(...format(objectMeta.errors).map((p) => `/metadata${p}`));
      return out;
    },
  };
  return cached;
}
