import { stringify } from 'yaml';
import { loadSpecFile, resolveSpec } from '../../spec/index.ts';
import { fromBitnami } from '../../kubernetes/bitnami.ts';
import { API_VERSION, renderManifests, renderResource } from '../../kubernetes/render/index.ts';
import type { K8sObject } from '../../kubernetes/render/index.ts';
import { UsageError } from '../errors.ts';
import { parse } from '../options.ts';

export const RENDER_HELP = `Usage: redis-ha render (-f SPEC.yaml | --from-bitnami VALUES.yaml) [options]

Prints the Kubernetes objects that run a RedisHA spec, as a multi-document YAML stream (or -o json).
Warnings (unmapped Bitnami keys, annotations that do nothing) go to stderr.

Options:
  -f, --file FILE          RedisHA spec in YAML
      --from-bitnami FILE  a values file of the Bitnami redis chart instead of a spec
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
(tls.secretName). The pods read it at start-up: restart them after a renewal (the operator does).`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  file: { type: 'string', short: 'f' },
  'from-bitnami': { type: 'string' },
  name: { type: 'string', short: 'n' },
  namespace: { type: 'string' },
  output: { type: 'string', short: 'o' },
  'as-resource': { type: 'boolean' },
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The objects as YAML documents or as one JSON v1 List. */
export function formatObjects(objects: K8sObject[], output: 'yaml' | 'json'): string {
  if (output === 'json') return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
  return objects.map((o) => stringify(o, { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false })).join('---\n');
}

export async function renderCommand(argv: string[]): Promise<number> {
  const { values } = parse('render', argv, OPTIONS);
  if (values.help) {
    console.log(RENDER_HELP);
    return 0;
  }
  const file = values.file;
  const bitnami = values['from-bitnami'];
  if ((file === undefined) === (bitnami === undefined))
    throw new UsageError("render: give exactly one of -f SPEC.yaml or --from-bitnami VALUES.yaml; see 'redis-ha render --help'");
  const output = values.output ?? 'yaml';
  if (output !== 'yaml' && output !== 'json') throw new UsageError(`--output: must be yaml or json (got "${output}")`);
  const namespace = values.namespace ?? 'default';
  if (!DNS_LABEL.test(namespace)) throw new UsageError(`--namespace: must be a namespace name (DNS-1123 label) (got "${namespace}")`);

  const warnings: string[] = [];
  let input: Record<string, unknown>;
  if (bitnami !== undefined) {
    const mapped = fromBitnami(loadSpecFile(bitnami) as Record<string, unknown>, values.name ?? 'redis');
    input = mapped.input;
    warnings.push(...mapped.warnings);
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
    const rendered = renderManifests(spec, { namespace });
    objects = rendered.objects;
    warnings.push(...rendered.warnings);
  }
  for (const warning of warnings) console.error(`redis-ha: warning: ${warning}`);
  process.stdout.write(formatObjects(objects, output));
  return 0;
}
