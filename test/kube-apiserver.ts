/**
 * A real etcd + kube-apiserver for the operator's tests, started from the test bed's build cache
 * (`testbed/up` builds them from source: /var/cache/redis-ha/testbed/bin, or REDIS_HA_TESTBED_CACHE).
 * Loopback only, on ports of the caller's choosing, in a temporary directory removed by `stop()`.
 * No kubelet, scheduler or controller-manager: objects are stored and validated, pods never run.
 *
 * Authentication: static bearer tokens (an admin in `system:masters`), and ServiceAccount tokens the
 * API server signs itself, so a test can run the operator as its ServiceAccount under the RBAC that
 * `redis-ha operator manifests` prints.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export const TESTBED_BIN = join(process.env.REDIS_HA_TESTBED_CACHE ?? '/var/cache/redis-ha/testbed', 'bin');

export interface ApiServer {
  readonly url: string;
  readonly caPem: string;
  readonly adminToken: string;
  readonly dir: string;
  /** A kubeconfig file (0600) for `token`, default the admin's. */
  kubeconfig(token?: string, name?: string): string;
  stop(): Promise<void>;
}

/** Throws a one-line error naming what is missing and how to get it; a test must fail, not skip. */
export function requireTestbedBinaries(): void {
  const missing = ['etcd', 'kube-apiserver'].filter((b) => !existsSync(join(TESTBED_BIN, b)));
  if (missing.length)
    throw new Error(
      `${missing.join(' and ')} not found in ${TESTBED_BIN}: these tests need a real API server; build it with 'sudo testbed/up' (or .ci/run), or point REDIS_HA_TESTBED_CACHE at a cache holding bin/etcd and bin/kube-apiserver`,
    );
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function makePki(dir: string): void {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'ca.key')]);
  openssl(['req', '-x509', '-new', '-key', join(dir, 'ca.key'), '-subj', '/CN=redis-ha-test-ca', '-days', '2', '-out', join(dir, 'ca.crt')]);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'apiserver.key')]);
  openssl(['req', '-new', '-key', join(dir, 'apiserver.key'), '-subj', '/CN=kube-apiserver', '-out', join(dir, 'apiserver.csr')]);
  writeFileSync(join(dir, 'apiserver.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', join(dir, 'apiserver.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', join(dir, 'apiserver.ext'), '-out', join(dir, 'apiserver.crt')]);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'sa.key')]);
  openssl(['ec', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
}

function get(url: string, ca?: string, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https') ? httpsRequest : httpRequest)(url, { ca, headers: token ? { Authorization: `Bearer ${token}` } : {}, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function start(dir: string, name: string, bin: string, args: string[]): ChildProcess {
  const log = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log, log], detached: false });
  return child;
}

async function waitFor(what: string, child: ChildProcess, logFile: string, timeoutMs: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}:\n${tail()}`);
    if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs} ms:\n${tail()}`);
    await sleep(250);
  }
}

/**
 * Starts etcd on `portBase` (client) and `portBase + 1` (peer) and the API server on `portBase + 2`.
 * @example const api = await startApiServer(8500); ...; await api.stop();
 */
export async function startApiServer(portBase: number): Promise<ApiServer> {
  requireTestbedBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'redis-ha-apiserver-'));
  makePki(dir);
  const adminToken = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'tokens.csv'), `${adminToken},redis-ha-test-admin,admin,"system:masters"\n`, { mode: 0o600 });
  const [etcdPort, peerPort, apiPort] = [portBase, portBase + 1, portBase + 2];
  const etcd = start(dir, 'etcd', join(TESTBED_BIN, 'etcd'), [
    '--name', 'test', '--data-dir', join(dir, 'etcd'),
    '--listen-client-urls', `http://127.0.0.1:${etcdPort}`, '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `test=http://127.0.0.1:${peerPort}`, '--unsafe-no-fsync', '--log-level', 'warn',
    '--listen-metrics-urls', '',
  ]);
  const children = [etcd];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (c.exitCode === null) c.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('etcd health', etcd, join(dir, 'etcd.log'), 60_000, async () => (await get(`http://127.0.0.1:${etcdPort}/health`)) === 200);
    const api = start(dir, 'kube-apiserver', join(TESTBED_BIN, 'kube-apiserver'), [
      '--etcd-servers', `http://127.0.0.1:${etcdPort}`,
      '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(apiPort),
      '--service-cluster-ip-range', '10.97.0.0/16',
      '--tls-cert-file', join(dir, 'apiserver.crt'), '--tls-private-key-file', join(dir, 'apiserver.key'),
      '--token-auth-file', join(dir, 'tokens.csv'),
      '--service-account-key-file', join(dir, 'sa.pub'), '--service-account-signing-key-file', join(dir, 'sa.key'),
      '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
      '--authorization-mode', 'RBAC', '--profiling=false', '--v=1',
      '--enable-priority-and-fairness=false',
      // ConfigMaps bypass the watch cache and etcd is compacted every 5 s, so a watch from an old
      // resourceVersion meets a real 410 Gone (the informer test relies on it).
      '--watch-cache-sizes', 'configmaps#0', '--etcd-compaction-interval', '5s',
    ]);
    children.push(api);
    const caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');
    const url = `https://127.0.0.1:${apiPort}`;
    await waitFor('API server /readyz', api, join(dir, 'kube-apiserver.log'), 120_000, async () => (await get(`${url}/readyz`, caPem, adminToken)) === 200);
    let n = 0;
    return {
      url,
      caPem,
      adminToken,
      dir,
      kubeconfig(token = adminToken, name = 'admin') {
        const file = join(dir, `kubeconfig-${name}-${n++}`);
        const ca = Buffer.from(caPem).toString('base64');
        writeFileSync(
          file,
          `apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: ${url}\n    certificate-authority-data: ${ca}\nusers:\n- name: ${name}\n  user:\n    token: ${token}\ncontexts:\n- name: test\n  context: {cluster: test, user: ${name}, namespace: default}\ncurrent-context: test\n`,
          { mode: 0o600 },
        );
        return file;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
