import { UserError } from '../../errors.ts';
import { stringify } from 'yaml';
import { loadSpecFile, resolveSpec } from '../../spec/index.ts';
import { fromBitnami } from '../../kubernetes/bitnami.ts';
import { API_VERSION, renderManifests, renderResource } from '../../kubernetes/render/index.ts';
import type { K8sObject } from '../../kubernetes/render/index.ts';
import { UsageError } from '../errors.ts';
import { parse } from '../options.ts';

export const RENDER_HELP = `Usage: redis-ha render (-f SPEC.yaml | --from-bitnami VALUES.yaml [-f OVERRIDES.yaml]) [options]

Prints the Kubernetes objects that run a RedisHA spec, as a multi-document YAML stream (or -o json).
Warnings (unmapped Bitnami keys, annotations that do nothing) go to stderr.

Options:
  -f, --file FILE          RedisHA spec in YAML; with --from-bitnami, spec fields laid over the
                           mapped values (for example image or endpoint.image)
      --from-bitnami FILE  a values file of the Bitnami redis chart instead of a spec; keeps the
                           chart's names apps use (the Secret <release> with redis-password, the
                           Service <release> on 6379/26379, the master set mymaster)
      --own-names          with --from-bitnami: this project's names instead (<name>-auth,
                           <name>-sentinel, master set redis-ha-<name>)
      --name NAME          deployment name (overrides the spec's; default for --from-bitnami: redis)
      --namespace NS       namespace of the objects (default: default)
  -o, --output FORMAT      yaml (default) or json (a v1 List)
      --as-resource        print the equivalent ${API_VERSION} RedisHA resource (and a Secret for given
                           passwords) for the operator, instead of the objects

Passwords missing from the spec are generated, differently on each run: for GitOps, give them
(auth.password, auth.sentinelPassword, or REDIS_HA_PASSWORD / REDIS_HA_SENTINEL_PASSWORD) or
reference a Secret you manage (auth.existingSecret).

With tls.enabled the pods serve TLS only; the certificate comes from cert-manager (tls.certManager:
a Certificate is rendered) or from a Secret you manage with tls.crt, tls.key and ca.crt
(tls.secretName). The pods read it at start-up: restart them after a renewal (the operator does).

Without the operator, -master and -replicas lead to the endpoint Deployment (redis-ha proxy, 2 pods),
which routes to the master the Sentinel majority names and refuses clients while there is none. Under
the operator (--as-resource) they select the Redis pods by the role label it keeps.`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  file: { type: 'string', short: 'f' },
  'from-bitnami': { type: 'string' },
  name: { type: 'string', short: 'n' },
  namespace: { type: 'string' },
  output: { type: 'string', short: 'o' },
  'as-resource': { type: 'boolean' },
  'own-names': { type: 'boolean' },
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The objects as YAML documents or as one JSON v1 List. */
export function formatObjects(objects: K8sObject[], output: 'yaml' | 'json'): string {
  if (output === 'json') return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
  return objects.map((o) => stringify(o, { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false })).join('---\n');
}

/** `over` laid on `base`: mappings merge key by key, anything else in `over` replaces. */
function overlay(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const [key, value] of Object.entries(over)) out[key] = isMapping(value) && isMapping(out[key]) ? overlay(out[key] as Record<string, unknown>, value) : value;
  return out;
}

export async function renderCommand(argv: string[]): Promise<number> {
  const { values } = parse('render', argv, OPTIONS);
  if (values.help) {
    console.log(RENDER_HELP);
    return 0;
  }
  const file = values.file;
  const bitnami = values['from-bitnami'];
  if (file === undefined && bitnami === undefined)
    throw new UsageError("render: give -f SPEC.yaml or --from-bitnami VALUES.yaml; see 'redis-ha render --help'");
  if (values['own-names'] && bitnami === undefined) throw new UsageError('--own-names: only with --from-bitnami (a spec file names things itself)');
  const output = values.output ?? 'yaml';
  if (output !== 'yaml' && output !== 'json') throw new UsageError(`--output: must be yaml or json (got "${output}")`);
  const namespace = values.namespace ?? 'default';
  if (!DNS_LABEL.test(namespace)) throw new UsageError(`--namespace: must be a namespace name (DNS-1123 label) (got "${namespace}")`);

  const warnings: string[] = [];
  let input: Record<string, unknown>;
  if (bitnami !== undefined) {
    const mapped = fromBitnami(loadSpecFile(bitnami) as Record<string, unknown>, values.name ?? 'redis', { ownNames: values['own-names'] === true });
    input = mapped.input;
    warnings.push(...mapped.warnings);
    if (file !== undefined) input = overlay(input, loadSpecFile(file) as Record<string, unknown>);
    if (values.name !== undefined) input.name = values.name;
  } else {
    input = { ...(loadSpecFile(file!) as Record<string, unknown>) };
    if (values.name !== undefined) input.name = values.name;
  }
  const auth = { ...((input.auth as Record<string, unknown> | undefined) ?? {}) };
  if (process.env.REDIS_HA_PASSWORD) auth.password = process.env.REDIS_HA_PASSWORD;
  if (process.env.REDIS_HA_SENTINEL_PASSWORD) auth.sentinelPassword = process.env.REDIS_HA_SENTINEL_PASSWORD;
  if (Object.keys(auth).length) input.auth = auth;

  const spec = resolveSpec(input);
  let objects: K8sObject[];
  if (values['as-resource']) {
    objects = renderResource(input, spec, { namespace });
  } else {
    if (spec.migrateFrom) throw new UserError('render: migrateFrom needs the operator, which runs the migration\'s switchover and re-points the source\'s Sentinels: apply it as a RedisHA (render --as-resource), or migrate locally with \'redis-ha migrate\'');
    const rendered = renderManifests(spec, { namespace });
    objects = rendered.objects;
    warnings.push(...rendered.warnings);
  }
  for (const warning of warnings) console.error(`redis-ha: warning: ${warning}`);
  process.stdout.write(formatObjects(objects, output));
  return 0;
}
