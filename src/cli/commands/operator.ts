import { hostname } from 'node:os';
import { formatObjects } from './render.ts';
import { contextNamespace, KubeClient, loadKubeConfig } from '../../kubernetes/client.ts';
import { DEFAULT_OPERATOR_IMAGE, DEFAULT_OPERATOR_NAMESPACE, operatorManifests } from '../../kubernetes/manifests.ts';
import { serveOperator } from '../../kubernetes/serve.ts';
import { UsageError } from '../errors.ts';
import { intFlag, parse } from '../options.ts';

export const OPERATOR_HELP = `Usage: redis-ha operator [options]
       redis-ha operator manifests [--namespace NS] [--image IMAGE] [--replicas N] [-o yaml|json]

Runs the RedisHA operator: watches RedisHA resources (redis-ha.io/v1alpha1), applies the objects
'redis-ha render' would print with server-side apply, runs the topology controller for each, keeps the
master-pod label on the Sentinel-named master and writes status. 'manifests' prints what installs it:
the CRD, a Namespace, least-privilege RBAC and a Deployment.

Options (run):
      --kubeconfig FILE       kubeconfig (default: $KUBECONFIG, ~/.kube/config, else in-cluster)
      --namespace NS          watch only this namespace (default: all namespaces)
      --class NAME            act only on RedisHA resources labelled redis-ha.io/operator=NAME
                              (default: only on those without that label)
      --http HOST:PORT        serve /healthz, /readyz and /metrics (default 0.0.0.0:8080; 'off' for none)
      --no-leader-elect       act without a Lease (only when exactly one operator runs)
      --lease-namespace NS    namespace of the Lease (default: $POD_NAMESPACE, else the kubeconfig's)
      --lease-name NAME       default redis-ha-operator
      --identity ID           this instance in the Lease (default: $POD_NAME, else hostname-pid)
      --lease-duration S      seconds (default 15); --renew-deadline S (10); --retry-period S (2)
      --status-interval S     how often each resource's status is refreshed (default 5)
      --certificate-check S   how often a TLS resource's certificate Secret is read again; a renewed
                              certificate rolls the pods (default 30)
      --no-controllers        apply objects and write status, but run no topology controller`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  kubeconfig: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  class: { type: 'string' },
  http: { type: 'string' },
  'no-leader-elect': { type: 'boolean' },
  'lease-namespace': { type: 'string' },
  'lease-name': { type: 'string' },
  identity: { type: 'string' },
  'lease-duration': { type: 'string' },
  'renew-deadline': { type: 'string' },
  'retry-period': { type: 'string' },
  'status-interval': { type: 'string' },
  'certificate-check': { type: 'string' },
  'no-controllers': { type: 'boolean' },
  // manifests
  image: { type: 'string' },
  replicas: { type: 'string' },
  output: { type: 'string', short: 'o' },
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespaceFlag(flag: string, v: string | undefined): string | undefined {
  if (v !== undefined && !DNS_LABEL.test(v)) throw new UsageError(`--${flag}: must be a namespace name (DNS-1123 label) (got "${v}")`);
  return v;
}

/** A label value: 63 characters at most, alphanumeric at both ends. */
function classFlag(v: string | undefined): string | undefined {
  if (v !== undefined && !/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(v)) throw new UsageError(`--class: must be a label value (letters, digits, '-', '_', '.', at most 63) (got "${v}")`);
  return v;
}

function httpFlag(v: string | undefined): { host: string; port: number } | undefined {
  if (v === 'off') return undefined;
  const raw = v ?? '0.0.0.0:8080';
  const m = /^(.*):(\d+)$/.exec(raw);
  if (!m) throw new UsageError(`--http: must be HOST:PORT or off (got "${raw}")`);
  return { host: m[1] || '0.0.0.0', port: intFlag('http', m[2], 0, 65535)! };
}

export async function operatorCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('operator', argv, OPTIONS, true);
  if (values.help) {
    console.log(OPERATOR_HELP);
    return 0;
  }
  if (positionals[0] === 'manifests') {
    if (positionals.length > 1) throw new UsageError(`operator manifests: unexpected argument '${positionals[1]}'; see 'redis-ha operator --help'`);
    const output = values.output ?? 'yaml';
    if (output !== 'yaml' && output !== 'json') throw new UsageError(`--output: must be yaml or json (got "${output}")`);
    const objects = operatorManifests({
      namespace: namespaceFlag('namespace', values.namespace) ?? DEFAULT_OPERATOR_NAMESPACE,
      image: values.image ?? DEFAULT_OPERATOR_IMAGE,
      replicas: intFlag('replicas', values.replicas, 1, 10),
    });
    process.stdout.write(formatObjects(objects, output));
    return 0;
  }
  if (positionals.length) throw new UsageError(`operator: unknown subcommand '${positionals[0]}'; the only one is 'manifests' (see 'redis-ha operator --help')`);
  const kc = loadKubeConfig(values.kubeconfig);
  const client = new KubeClient(kc);
  const seconds = (flag: string, v: string | undefined) => {
    const n = intFlag(flag, v, 1, 3600);
    return n === undefined ? undefined : n * 1000;
  };
  const identity = values.identity ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const running = await serveOperator({
    client,
    identity,
    log,
    namespace: namespaceFlag('namespace', values.namespace),
    operatorClass: classFlag(values.class),
    http: httpFlag(values.http),
    leaderElection: values['no-leader-elect'] !== true,
    leaseNamespace: namespaceFlag('lease-namespace', values['lease-namespace']) ?? process.env.POD_NAMESPACE ?? contextNamespace(kc),
    leaseName: values['lease-name'],
    leaseDurationMs: seconds('lease-duration', values['lease-duration']),
    renewDeadlineMs: seconds('renew-deadline', values['renew-deadline']),
    retryPeriodMs: seconds('retry-period', values['retry-period']),
    statusIntervalMs: seconds('status-interval', values['status-interval']),
    certificateCheckMs: seconds('certificate-check', values['certificate-check']),
    controllers: values['no-controllers'] !== true,
  });
  log(`redis-ha operator ${identity} started${running.url ? `; serving ${running.url}/healthz, /readyz, /metrics` : ''}`);
  const onSignal = (signal: string) => void running.shutdown(signal);
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  return running.done;
}
