/**
 * `kubectl redisha` (the `kubectl-redisha` command the package installs; kubectl runs it as a plugin):
 * status, failover, password and cli against a RedisHA resource, with kubectl's conventions for
 * finding the cluster and namespace: --kubeconfig, else $KUBECONFIG, else ~/.kube/config; --context,
 * else the current context; -n/--namespace, else the context's namespace, else `default`.
 * Exit codes as `redis-ha`: 0 ok, 1 failed (or not healthy), 2 bad input.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, KubeClient, loadKubeConfig, PATCH } from '../kubernetes/client.ts';
import { objectPath, resourceType, typeOfKind } from '../kubernetes/resources.ts';
import { API_VERSION, BITNAMI_PASSWORD_KEY, SECRET_KEYS, namesOf, passwordKeyOf, REDIS_PORT } from '../kubernetes/render/index.ts';
import { TLS_FILES } from '../kubernetes/render/tls.ts';
import type { RedisHAResource } from '../kubernetes/reconcile.ts';
import { SWITCHOVER_ANNOTATION } from '../kubernetes/switchover-request.ts';
import { UserError } from '../errors.ts';
import { UsageError } from './errors.ts';
import { table } from './table.ts';
import { kubernetesStatusOf, kubernetesStatusTable } from './commands/status-k8s.ts';

const HELP = `Usage: kubectl redisha <command> [NAME] [options]

Commands:
  status [NAME]              the RedisHA resources of the namespace, or one in detail (exit 1 unless healthy)
  failover NAME [--to POD]   planned switchover to a caught-up replica, done by the operator
  password NAME [--sentinel] the application's (or the Sentinels') password, alone on one line
  cli NAME -- COMMAND...     one redis-cli command on the master, through 'kubectl exec'

Options:
  -n, --namespace NS    the resource's namespace (default: the context's, else 'default')
      --context NAME    the kubeconfig context (default: the current one)
      --kubeconfig FILE the kubeconfig (default: $KUBECONFIG, else ~/.kube/config)
      --json            one JSON object for programs (status, failover)
      --timeout S       failover: seconds to wait for the operator's result (default 120)

Exit codes: 0 ok, 1 failed or not healthy, 2 bad input.`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const REDISHA = resourceType(API_VERSION, 'RedisHA');

interface Context {
  client: KubeClient;
  namespace: string;
  /** kubectl's own flags for the same cluster and namespace (for `kubectl exec`). */
  kubectlArgs: string[];
}

function contextOf(values: { kubeconfig?: string; context?: string; namespace?: string }): Context {
  const kc = loadKubeConfig(values.kubeconfig);
  if (values.context !== undefined) {
    if (!kc.getContextObject(values.context)) throw new UsageError(`--context: no context "${values.context}" in the kubeconfig (kubectl config get-contexts lists them)`);
    kc.setCurrentContext(values.context);
  }
  if (values.namespace !== undefined && !DNS_LABEL.test(values.namespace)) throw new UsageError(`-n/--namespace: must be a namespace name (got "${values.namespace}")`);
  const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const kubectlArgs = [...(values.kubeconfig ? ['--kubeconfig', values.kubeconfig] : []), ...(values.context ? ['--context', values.context] : []), '-n', namespace];
  return { client: new KubeClient(kc), namespace, kubectlArgs };
}

async function resourceOf(c: Context, name: string): Promise<RedisHAResource> {
  try {
    return await c.client.get<RedisHAResource>(objectPath(REDISHA, name, c.namespace));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) throw new UserError(`no RedisHA ${c.namespace}/${name}: list them with 'kubectl redisha status -A' or 'kubectl get redisha -A', or pass -n NAMESPACE`);
    throw new UserError(`cannot read RedisHA ${c.namespace}/${name}: ${(err as Error).message}`);
  }
}

/** The Secret key of the application's (or the Sentinels') password, as the operator wrote or was given it. */
export function passwordKeyOfResource(cr: RedisHAResource, sentinel: boolean): { secret: string; key: string } {
  const auth = (cr.spec?.auth ?? {}) as { existingSecret?: string; existingSecretPasswordKey?: string };
  const naming = cr.spec?.naming === 'bitnami' ? 'bitnami' : 'redis-ha';
  const secret = auth.existingSecret ?? namesOf({ name: cr.metadata.name, naming }).secret;
  if (sentinel) return { secret, key: SECRET_KEYS.sentinelPassword };
  return { secret, key: auth.existingSecret !== undefined ? passwordKeyOf({ auth: auth as never }) : naming === 'bitnami' ? BITNAMI_PASSWORD_KEY : SECRET_KEYS.password };
}

async function passwordOf(c: Context, cr: RedisHAResource, sentinel: boolean): Promise<string> {
  const { secret, key } = passwordKeyOfResource(cr, sentinel);
  const s = await c.client.find<{ data?: Record<string, string> }>(objectPath(typeOfKind('Secret'), secret, c.namespace));
  const value = s?.data?.[key];
  if (value === undefined) throw new UserError(`Secret ${c.namespace}/${secret} ${s ? `has no key ${key}` : 'does not exist (yet): is the operator running?'}`);
  return Buffer.from(value, 'base64').toString('utf8');
}

function readyOf(cr: RedisHAResource): string {
  return cr.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
}

/** One row per RedisHA, as `kubectl get redisha` with health. */
export function listTable(items: RedisHAResource[]): string {
  return table(
    ['NAME', 'READY', 'HEALTHY', 'MASTER', 'REPLICAS', 'SENTINELS', 'PROBLEMS'],
    items.map((cr) => [cr.metadata.name, readyOf(cr), cr.status?.healthy ? 'yes' : 'no', cr.status?.masterPod ?? '-', cr.status?.readyReplicas ?? 0, cr.status?.sentinelsAgreeing ?? 0, (cr.status?.problems ?? []).join('; ') || '-']),
  );
}

async function status(c: Context, name: string | undefined, json: boolean, allNamespaces: boolean): Promise<number> {
  if (name === undefined) {
    const path = allNamespaces ? `/apis/${API_VERSION}/redishas` : objectPath(REDISHA, '', c.namespace).replace(/\/$/, '');
    const { items } = await c.client.get<{ items: RedisHAResource[] }>(path);
    if (json) console.log(JSON.stringify({ items: items.map((cr) => ({ namespace: cr.metadata.namespace, name: cr.metadata.name, ready: readyOf(cr), healthy: cr.status?.healthy === true, masterPod: cr.status?.masterPod ?? null, readyReplicas: cr.status?.readyReplicas ?? 0, sentinelsAgreeing: cr.status?.sentinelsAgreeing ?? 0, problems: cr.status?.problems ?? [] })) }));
    else if (!items.length) console.log(`No RedisHA resources in ${allNamespaces ? 'any namespace' : `namespace ${c.namespace}`}.`);
    else console.log(listTable(items));
    return items.every((cr) => cr.status?.healthy === true) ? 0 : 1;
  }
  const doc = kubernetesStatusOf(await resourceOf(c, name), c.namespace);
  console.log(json ? JSON.stringify(doc) : kubernetesStatusTable(doc));
  return doc.healthy ? 0 : 1;
}

/**
 * Asks the operator for a planned switchover: the request is an annotation on the resource (a fresh
 * token, and the target pod when given); the operator, which can reach the pods, runs it and answers
 * in status.switchover with the same token, and with an Event.
 */
async function failover(c: Context, name: string, to: string | undefined, json: boolean, timeoutS: number): Promise<number> {
  const cr = await resourceOf(c, name);
  if (to !== undefined && !DNS_LABEL.test(to)) throw new UsageError(`--to: must be a pod name (got "${to}")`);
  const token = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const value = to ? `${token} ${to}` : token;
  try {
    await c.client.request('PATCH', objectPath(REDISHA, name, c.namespace), { body: { metadata: { annotations: { [SWITCHOVER_ANNOTATION]: value } } }, contentType: PATCH.merge });
  } catch (err) {
    throw new UserError(`cannot annotate RedisHA ${c.namespace}/${name} to ask for a switchover: ${(err as Error).message}`);
  }
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const now = await resourceOf(c, name);
    const s = now.status?.switchover;
    if (s?.request === token) {
      if (json) console.log(JSON.stringify({ resource: `${c.namespace}/${name}`, ...s }));
      else console.log(s.result === 'Succeeded' ? `switched over ${c.namespace}/${name}: ${s.message}` : `switchover of ${c.namespace}/${name} failed: ${s.message}`);
      return s.result === 'Succeeded' ? 0 : 1;
    }
    if (Date.now() > deadline) throw new UserError(`the operator did not answer the switchover request for ${c.namespace}/${name} within ${timeoutS} s (is it running? 'kubectl describe redisha ${name}' shows its Events); the request stays on the resource as annotation ${SWITCHOVER_ANNOTATION}`);
    void cr;
    await sleep(1000);
  }
}

/** redis-cli on the master pod: the password goes through kubectl exec's stdin into redis-cli's environment. */
async function cli(c: Context, name: string, command: string[]): Promise<number> {
  if (!command.length) throw new UsageError(`cli: give the Redis command after --, e.g. 'kubectl redisha cli ${name} -- PING'`);
  const cr = await resourceOf(c, name);
  const master = cr.status?.masterPod;
  if (!master) throw new UserError(`RedisHA ${c.namespace}/${name} has no master in its status yet ('kubectl redisha status ${name}' says why)`);
  const password = await passwordOf(c, cr, false);
  const user = (cr.spec?.auth as { username?: string } | undefined)?.username ?? 'default';
  const tls = (cr.spec?.tls as { enabled?: boolean } | undefined)?.enabled === true;
  const tlsArgs = tls ? `--tls --cacert ${TLS_FILES.ca} --cert ${TLS_FILES.cert} --key ${TLS_FILES.key}` : '';
  const script = `IFS= read -r REDISCLI_AUTH; export REDISCLI_AUTH; exec redis-cli --no-auth-warning ${tlsArgs} -p ${REDIS_PORT} --user "$0" "$@"`;
  const child = spawn(process.env.KUBECTL ?? 'kubectl', [...c.kubectlArgs, 'exec', '-i', master, '-c', 'redis', '--', 'sh', '-c', script, user, ...command], { stdio: ['pipe', 'inherit', 'inherit'] });
  child.stdin.end(`${password}\n`);
  return new Promise((resolve, reject) => {
    child.on('error', (err) => reject(new UserError(`cannot run kubectl (${(err as Error).message}): put kubectl on PATH or set KUBECTL`)));
    child.on('exit', (code) => resolve(code === 0 ? 0 : 1));
  });
}

export async function kubectlRedisha(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const rest = dash < 0 ? [] : argv.slice(dash + 1);
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      allowPositionals: true,
      strict: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        context: { type: 'string' },
        kubeconfig: { type: 'string' },
        json: { type: 'boolean' },
        sentinel: { type: 'boolean' },
        to: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}; see 'kubectl redisha --help'`);
  }
  const { values, positionals } = parsed;
  const [command, name, ...extra] = positionals;
  if (values.help || command === 'help') {
    console.log(HELP);
    return 0;
  }
  if (command === undefined) {
    console.error(HELP);
    return 2;
  }
  const commands = ['status', 'failover', 'password', 'cli'];
  if (!commands.includes(command)) throw new UsageError(`unknown command '${command}'; the commands are ${commands.join(', ')}`);
  if (extra.length) throw new UsageError(`${command}: unexpected argument '${extra[0]}'${command === 'cli' ? ` (put the Redis command after --)` : ''}`);
  if (name !== undefined && !DNS_LABEL.test(name)) throw new UsageError(`${command}: NAME must be the name of a RedisHA resource (got "${name}")`);
  if (command !== 'status' && name === undefined) throw new UsageError(`${command}: give the RedisHA's name, e.g. 'kubectl redisha ${command} shop'`);
  if (rest.length && command !== 'cli') throw new UsageError(`${command}: unexpected arguments after --`);
  const timeout = values.timeout === undefined ? 120 : Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 3600) throw new UsageError(`--timeout: must be whole seconds between 1 and 3600 (got "${values.timeout}")`);
  const c = contextOf(values);
  switch (command) {
    case 'status':
      return status(c, name, values.json === true, values['all-namespaces'] === true);
    case 'failover':
      return failover(c, name!, values.to, values.json === true, timeout);
    case 'password':
      console.log(await passwordOf(c, await resourceOf(c, name!), values.sentinel === true));
      return 0;
    default:
      return cli(c, name!, rest);
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await kubectlRedisha(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`kubectl-redisha: ${err.message}`);
      return 2;
    }
    if (err instanceof UserError) {
      console.error(`kubectl-redisha: ${err.message}`);
      return 1;
    }
    if (err instanceof KubeApiError) {
      console.error(`kubectl-redisha: ${err.message}`);
      return 1;
    }
    console.error(`kubectl-redisha: internal error: ${(err as Error)?.message ?? String(err)}`);
    return 70;
  }
}
