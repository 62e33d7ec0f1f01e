import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TlsFiles } from '../../redis/connect.ts';
import { EndpointProxy, type ReplicaFallback } from '../../endpoint/proxy.ts';
import { createServer, type Server } from 'node:http';
import { MasterRouter } from '../../endpoint/router.ts';
import { UsageError } from '../errors.ts';
import { intFlag, parse } from '../options.ts';
import { addressKey, parseAddress } from '../../redis/address.ts';
import { CLI_BIN, NODE_FLAGS } from '../../root.ts';

export const PROXY_HELP = `Usage: redis-ha proxy --sentinels HOST:PORT,... --master-name NAME [options]

Runs the master and replicas endpoints on their own, against any Sentinel set: a fixed address that
always reaches the master (and one for reads), for clients that cannot speak Sentinel. A master is
used only when a majority of the Sentinels name it and it answers ROLE as master; otherwise new
connections get one '-ERR ...' line saying why. Runs until Ctrl-C or SIGTERM.

Options:
      --sentinels LIST         Sentinel addresses, comma-separated (or $REDIS_HA_SENTINELS)
      --master-name NAME       the Sentinel master-group name (or $REDIS_HA_MASTER_NAME)
      --bind HOST              address to listen on (default: 127.0.0.1)
      --master-port P          master endpoint port (default: 6379)
      --replicas-port P        replicas endpoint port (default: 6380; 0 turns it off)
      --max-replica-lag S      replicas more than S seconds behind get no reads (default: 5)
      --replicas-fallback M    with no caught-up replica: 'master' (default) or 'refuse'
      --workers N              processes serving the ports (SO_REUSEPORT; each checks the Sentinels
                               itself), like HAProxy's nbthread (default: 1)
      --health-port P          serve HTTP health checks on this port (same --bind): GET /readyz answers
                               200 while a master is routed and 503 with the reason while not (a
                               readiness probe keeps a load balancer off an endpoint that would refuse);
                               GET /livez answers 200 (default: off)
      --tls --cacert FILE      the Sentinels and nodes serve TLS: the endpoints' own checks use TLS and
                               verify them against this CA; clients' TLS passes through untouched
      --cert FILE --key FILE   a client certificate for those checks (when they require one)

Credentials the endpoints use for their own checks come from the environment only:
REDIS_HA_PASSWORD / REDIS_HA_USER for the Redis nodes, REDIS_HA_SENTINEL_PASSWORD /
REDIS_HA_SENTINEL_USER for the Sentinels. Clients authenticate through the endpoint themselves.
REDIS_HA_DATAPATH=streams moves bytes with Node streams instead of the faster socket handles.`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  sentinels: { type: 'string' },
  'master-name': { type: 'string' },
  bind: { type: 'string' },
  'master-port': { type: 'string' },
  'replicas-port': { type: 'string' },
  'max-replica-lag': { type: 'string' },
  'replicas-fallback': { type: 'string' },
  workers: { type: 'string' },
  'health-port': { type: 'string' },
  'reuse-port': { type: 'boolean' },
  tls: { type: 'boolean' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
} as const;

/** `host:port,host:port` → addresses, or a UsageError naming the bad entry. */
export function parseAddressList(flag: string, raw: string): { host: string; port: number }[] {
  const list = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new UsageError(`--${flag}: give at least one HOST:PORT`);
  return list.map((entry) => {
    const a = parseAddress(entry);
    if (!a) throw new UsageError(`--${flag}: "${entry}" is not HOST:PORT with a port from 1 to 65535`);
    return { host: a.host.replace(/^\[(.*)\]$/, '$1'), port: a.port };
  });
}

function fallbackOf(raw: string | undefined): ReplicaFallback {
  if (raw === undefined || raw === 'master' || raw === 'refuse') return raw ?? 'master';
  throw new UsageError(`--replicas-fallback: must be 'master' or 'refuse' (got "${raw}")`);
}

/** `--tls --cacert F [--cert F --key F]` → the TLS files of the endpoints' own checks. */
function tlsOf(values: { tls?: boolean; cacert?: string; cert?: string; key?: string }): TlsFiles | undefined {
  if (!values.tls) {
    if (values.cacert || values.cert || values.key) throw new UsageError('proxy: --cacert, --cert and --key go with --tls; add --tls');
    return undefined;
  }
  if (!values.cacert) throw new UsageError("proxy: --tls needs --cacert FILE, the CA the Sentinels' and nodes' certificates chain to");
  if (!values.cert !== !values.key) throw new UsageError('proxy: --cert and --key go together; give both or neither');
  for (const [flag, file] of [['cacert', values.cacert], ['cert', values.cert], ['key', values.key]] as const) {
    if (file && !existsSync(file)) throw new UsageError(`proxy: --${flag}: ${file} does not exist`);
  }
  return { ca: values.cacert, ...(values.cert && values.key ? { cert: values.cert, key: values.key } : {}) };
}

function auth(user: string | undefined, password: string | undefined) {
  return { ...(user ? { username: user } : {}), ...(password ? { password } : {}) };
}

/**
 * Starts `count` more copies of this command as worker processes on the same ports (SO_REUSEPORT) and
 * keeps them running: a worker that dies is started again. Credentials reach them through the
 * environment. Returns a function that stops them.
 */
function startWorkers(argv: string[], count: number, log: (line: string) => void): () => Promise<void> {
  // The workers serve the data ports only: the health port is this process's.
  const own = (flag: string) => (a: string, i: number) => a !== flag && argv[i - 1] !== flag && !a.startsWith(`${flag}=`);
  const args = [...NODE_FLAGS, CLI_BIN, 'proxy', ...argv.filter(own('--workers')).filter(own('--health-port')), '--workers', '1', '--reuse-port'];
  let stopping = false;
  const children = new Set<ChildProcess>();
  const start = (n: number): void => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    children.add(child);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (stopping) return;
      log(`proxy worker ${n} (pid ${child.pid}) exited (${signal ?? code}); starting it again`);
      setTimeout(() => start(n), 1000);
    });
  };
  for (let n = 1; n <= count; n++) start(n);
  return async () => {
    stopping = true;
    await Promise.all([...children].map((c) => new Promise((resolve) => {
      c.once('exit', resolve);
      c.kill('SIGTERM');
    })));
  };
}

export async function proxyCommand(argv: string[]): Promise<number> {
  const { values } = parse('proxy', argv, OPTIONS);
  if (values.help) {
    console.log(PROXY_HELP);
    return 0;
  }
  const env = process.env;
  const sentinelList = values.sentinels ?? env.REDIS_HA_SENTINELS;
  if (!sentinelList) throw new UsageError(`proxy: --sentinels is required (or set REDIS_HA_SENTINELS); see 'redis-ha proxy --help'`);
  const masterName = values['master-name'] ?? env.REDIS_HA_MASTER_NAME;
  if (!masterName) throw new UsageError(`proxy: --master-name is required (or set REDIS_HA_MASTER_NAME); see 'redis-ha proxy --help'`);
  const sentinels = parseAddressList('sentinels', sentinelList);
  const host = values.bind ?? '127.0.0.1';
  const masterPort = intFlag('master-port', values['master-port'], 1, 65535) ?? 6379;
  const replicasPort = intFlag('replicas-port', values['replicas-port'], 0, 65535) ?? 6380;
  const maxLag = intFlag('max-replica-lag', values['max-replica-lag'], 0, 3600) ?? 5;
  const workers = intFlag('workers', values.workers, 1, 64) ?? 1;
  const healthPort = intFlag('health-port', values['health-port'], 1, 65535);
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const fallback = fallbackOf(values['replicas-fallback']);
  const tls = tlsOf(values);

  const router = new MasterRouter({
    masterName,
    sentinels,
    sentinelAuth: auth(env.REDIS_HA_SENTINEL_USER, env.REDIS_HA_SENTINEL_PASSWORD),
    nodeAuth: auth(env.REDIS_HA_USER, env.REDIS_HA_PASSWORD),
    tls,
    maxReplicaLagSeconds: maxLag,
    log,
  });
  const proxy = new EndpointProxy(router, {
    master: { host, port: masterPort },
    replicas: replicasPort === 0 ? undefined : { host, port: replicasPort },
    replicaFallback: fallback,
    reusePort: workers > 1 || (values['reuse-port'] ?? false),
  });
  // Decide the first route before listening, so the first client is never refused for "starting".
  await router.start();
  await proxy.listen();
  const health = healthPort === undefined ? undefined : await serveHealth(router, host, healthPort);
  const at = proxy.addresses();
  log(`master endpoint ${addressKey(at.master)}${at.replicas ? `, replicas endpoint ${addressKey(at.replicas)}` : ''}; Sentinels ${sentinels.map(addressKey).join(', ')}, master name ${masterName}; data path ${proxy.datapath}`);
  // This process serves too: `--workers N` means N processes in all.
  const stopWorkers = workers > 1 ? startWorkers(argv, workers - 1, log) : async () => {};
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await stopWorkers();
  health?.close();
  router.stop();
  await proxy.close();
  return 0;
}

/** `--health-port`: GET /readyz (200 while a master is routed, else 503 and why) and GET /livez. */
async function serveHealth(router: MasterRouter, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const route = router.route;
    const [status, body] = req.method !== 'GET' ? [405, 'GET only'] : req.url === '/livez' ? [200, 'ok'] : req.url !== '/readyz' ? [404, 'GET /readyz or /livez'] : route.master ? [200, `master ${addressKey(route.master)}`] : [503, route.reason];
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${body}\n`);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
  return server;
}
