/**
 * `up --tls` on real processes: TLS only on every port (plaintext refused), replication and Sentinel
 * over TLS, the endpoints passing TLS through, failover, and the keys kept in 0600 files only. A
 * second deployment requires client certificates (`tls.authClients: yes`, mutual TLS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sentinelClientOptions, withConnection, type Endpoint, type TlsFiles } from '../src/redis/connect.ts';
import type { Address } from '../src/redis/address.ts';
import { errorText } from '../src/redis/probe.ts';
import { parseFlatRecord, parseFlags } from '../src/redis/parse.ts';
import type { LocalDeployment } from '../src/local/deployment.ts';
import { AckedWriter } from '../bench/writer.ts';
import { assertSecretsKept, eventually, parseAddress, pidOf, processesUnder, reachedPort, runCli, statusOf, testHome } from './helpers.ts';

const PORT_BASE = 8200;
const MTLS_PORT_BASE = 8230;
const NAME = 'tls';
const MTLS_NAME = 'mtls';
const home = testHome();

interface Status {
  healthy: boolean;
  problems: string[];
  masterName: string;
  master: Address | null;
  nodes: (Address & { id: string; role: string })[];
  sentinels: Address[];
  endpoints: { master: string; replicas: string };
  stateDir: string;
  tls: boolean;
  tlsFiles?: { ca: string; cert: string; key: string };
  tlsAuthClients?: string;
}

const deploymentOf = (name: string) => JSON.parse(readFileSync(join(home, name, 'deployment.json'), 'utf8')) as LocalDeployment;

/** Runs one command and returns the reply, or `ERROR <why>`. */
async function as(who: Endpoint, ...command: string[]): Promise<string> {
  try {
    return String(await withConnection(who, (c) => c.call(command[0], ...command.slice(1)), 2000));
  } catch (err) {
    return `ERROR ${errorText(err)}`;
  }
}

describe('up --tls: TLS end to end', { timeout: 240_000 }, () => {
  let d: LocalDeployment;
  let s: Status;
  /** What an application needs: the CA only (no client certificate), and the password. */
  let caOnly: TlsFiles;
  const status = () => statusOf<Status>(home, NAME);

  before(async () => {
    const up = await runCli(home, ['up', '-d', '--tls', '--name', NAME, '--port-base', String(PORT_BASE), '--profile', 'fast']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /redis-cli --tls --cacert \S+ca\.crt -h 127\.0\.0\.1 -p 8220 PING/, 'the connect hint speaks TLS');
    d = deploymentOf(NAME);
    s = await status();
    caOnly = { ca: s.tlsFiles!.ca };
  });

  after(async () => {
    await runCli(home, ['down', '--name', NAME]);
  });

  test('status --json says TLS is on and where the CA is', () => {
    assert.equal(s.healthy, true, s.problems.join('; '));
    assert.equal(s.tls, true);
    assert.equal(s.tlsAuthClients, 'optional');
    assert.equal(s.tlsFiles!.ca, join(s.stateDir, 'tls', 'ca.crt'));
    assert.match(readFileSync(s.tlsFiles!.ca, 'utf8'), /^-----BEGIN CERTIFICATE-----/);
  });

  test('a plaintext client is refused on every port; a TLS client with the CA works', async () => {
    const app = d.users.application;
    const endpoint = parseAddress(s.endpoints.master);
    for (const at of [...s.nodes, endpoint, parseAddress(s.endpoints.replicas)]) {
      assert.match(await as({ ...at, ...app }, 'PING'), /^ERROR /, `plaintext PING to ${at.port} is refused`);
      assert.equal(await as({ ...at, ...app, tls: caOnly }, 'PING'), 'PONG', `TLS PING to ${at.port}`);
    }
    for (const at of s.sentinels) {
      assert.match(await as({ ...at, ...d.users.sentinelClient }, 'PING'), /^ERROR /, `plaintext PING to Sentinel ${at.port} is refused`);
      assert.equal(await as({ ...at, ...d.users.sentinelClient, tls: caOnly }, 'PING'), 'PONG');
    }
    // The CA as PEM text in memory (how the operator holds what it reads from a Secret) works the same.
    assert.equal(await as({ ...s.nodes[0]!, ...app, tls: { caPem: readFileSync(s.tlsFiles!.ca, 'utf8') } }, 'PING'), 'PONG');
    // A TLS client that does not trust the deployment's CA is refused too (the certificate is checked).
    assert.match(await as({ ...s.nodes[0], ...app, tls: { ca: '/etc/ssl/certs/ca-certificates.crt' } }, 'PING'), /^ERROR .*(certificate|self.signed)/i);
    // Through the master endpoint the TLS session is with the master itself: the endpoint only pipes bytes.
    assert.equal(await reachedPort(endpoint, app.password, caOnly), s.master!.port);
    // A Sentinel-aware client, TLS to the Sentinels and to the master they name.
    const client = new Redis({ name: s.masterName, sentinels: s.sentinels, sentinelPassword: d.users.sentinelClient.password, password: app.password, ...sentinelClientOptions(caOnly), lazyConnect: true });
    try {
      await client.connect();
      assert.equal(await client.set('greeting', 'over tls'), 'OK');
      assert.equal(await client.get('greeting'), 'over tls');
    } finally {
      client.disconnect();
    }
    const cli = await runCli(home, ['cli', '--name', NAME, 'GET', 'greeting']);
    assert.equal(cli.stdout.trim(), '"over tls"', cli.stderr);
  });

  test('replication and Sentinel run over TLS (no plaintext port is open to them)', async () => {
    const op = { ...d.users.operator, tls: s.tlsFiles };
    for (const n of s.nodes) {
      const config = parseFlatRecord(await withConnection({ ...n, ...op }, (c) => c.call('CONFIG', 'GET', 'port', 'tls-port', 'tls-replication')));
      assert.deepEqual(Object.fromEntries(config), { port: '0', 'tls-port': String(n.port), 'tls-replication': 'yes' }, `${n.id}`);
    }
    const info = (await withConnection({ ...s.master!, ...op }, (c) => c.info('replication'))) as string;
    const replicas = s.nodes.filter((n) => n.role === 'replica');
    for (const r of replicas) assert.match(info, new RegExp(`slave\\d+:ip=127\\.0\\.0\\.1,port=${r.port},state=online`), `${r.id} replicates over its TLS port`);
    for (const r of replicas) {
      const ri = (await withConnection({ ...r, ...op }, (c) => c.info('replication'))) as string;
      assert.match(ri, /master_link_status:up/);
    }
    // Every Sentinel reaches the master, the replicas and the other Sentinels; with only TLS ports open
    // that is over TLS (sentinel.conf has tls-replication yes).
    const sentinelTls = { ...d.users.sentinelClient, tls: caOnly };
    for (const at of s.sentinels) {
      const sees = await withConnection({ ...at, ...sentinelTls }, async (c) => ({
        master: parseFlatRecord(await c.call('SENTINEL', 'MASTER', s.masterName)),
        replicas: ((await c.call('SENTINEL', 'REPLICAS', s.masterName)) as unknown[]).map(parseFlatRecord),
        sentinels: ((await c.call('SENTINEL', 'SENTINELS', s.masterName)) as unknown[]).map(parseFlatRecord),
      }));
      assert.deepEqual([...parseFlags(sees.master.get('flags'))], ['master'], `Sentinel ${at.port} sees the master up`);
      assert.deepEqual(sees.replicas.map((r) => `${r.get('port')} ${r.get('flags')}`).sort(), replicas.map((r) => `${r.port} slave`).sort());
      assert.deepEqual(sees.sentinels.map((o) => `${o.get('port')} ${o.get('flags')}`).sort(), s.sentinels.filter((o) => o.port !== at.port).map((o) => `${o.port} sentinel`).sort());
    }
    const sentinelConf = readFileSync(join(s.stateDir, 'sentinel-0', 'sentinel.conf'), 'utf8');
    assert.match(sentinelConf, /^tls-replication yes$/m);
    assert.match(sentinelConf, /^port 0$/m);
  });

  test('failover over TLS: SIGKILL the master, a new master is agreed, writes through the endpoint resume', async (t) => {
    const before = await status();
    const old = before.nodes.find((n) => n.role === 'master')!;
    const endpoint = parseAddress(before.endpoints.master);
    const writer = new AckedWriter({ target: { endpoint }, ...d.users.application, prefix: 'tls-kill', tls: caOnly });
    writer.start();
    try {
      await writer.ackedMore(100);
      const killedAt = performance.now();
      process.kill(pidOf(join(home, NAME), old.id), 'SIGKILL');
      const after = await eventually('a healthy deployment with a new master', 30_000, async () => {
        const now = await status();
        return now.healthy && now.master && now.master.port !== old.port ? now : undefined;
      });
      await writer.ackedMore(200);
      t.diagnostic(`writes unavailable ${Math.round(writer.longestGapSince(killedAt - 500))} ms; acknowledged ${writer.acked.length}, not acknowledged ${writer.failures}`);
      assert.equal(await reachedPort(endpoint, d.users.application.password, caOnly), after.master!.port, 'the endpoint reaches the new master');
    } finally {
      await writer.stop();
    }
    const log = readFileSync(join(home, NAME, 'supervisor.log'), 'utf8');
    assert.doesNotMatch(log, /certificate|handshake|SSL|TLS/, 'no TLS error in the supervisor log');
  });

  test('keys only in 0600 files; no key or password in an argv, a log or status output', async () => {
    const tlsDir = join(s.stateDir, 'tls');
    const keys = readdirSync(tlsDir).filter((f) => f.endsWith('.key'));
    assert.deepEqual(keys.sort(), ['ca.key', 'client.key', 'server.key']);
    // The base64 body of each key: what would leak if a key were copied anywhere.
    const secrets = new Map<string, string>([
      ...Object.entries(d.users).map(([role, c]) => [role, c.password] as [string, string]),
      ...keys.map((k) => [k, readFileSync(join(tlsDir, k), 'utf8').split('\n')[1]] as [string, string]),
    ]);
    const files = await assertSecretsKept({ home, name: NAME, stateDir: s.stateDir, pids: processesUnder(s.stateDir), secrets, alsoSecret: /PRIVATE KEY/ });
    assert.ok(files >= 20, `scanned the state directory (${files} files)`);
  });
});

describe('tls.authClients: yes (mutual TLS)', { timeout: 120_000 }, () => {
  let s: Status;
  let d: LocalDeployment;

  before(async () => {
    writeFileSync(join(home, 'mtls.yaml'), `name: ${MTLS_NAME}\ntls:\n  enabled: true\n  authClients: "yes"\n`);
    const up = await runCli(home, ['up', '-d', '-f', join(home, 'mtls.yaml'), '--port-base', String(MTLS_PORT_BASE), '--profile', 'fast']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /--cert \S+client\.crt --key \S+client\.key/, 'the connect hint gives the client certificate');
    s = await statusOf<Status>(home, MTLS_NAME);
    d = deploymentOf(MTLS_NAME);
  });

  after(async () => {
    await runCli(home, ['down', '--name', MTLS_NAME]);
  });

  test('healthy: replicas and Sentinels present certificates; a client without one is refused', async () => {
    assert.equal(s.healthy, true, s.problems.join('; '));
    assert.equal(s.tlsAuthClients, 'yes');
    const app = d.users.application;
    const files = s.tlsFiles!;
    assert.match(await as({ ...s.master!, ...app, tls: { ca: files.ca } }, 'PING'), /^ERROR /, 'no client certificate: refused');
    assert.equal(await as({ ...s.master!, ...app, tls: files }, 'PING'), 'PONG');
    const pems = { caPem: readFileSync(files.ca, 'utf8'), certPem: readFileSync(files.cert, 'utf8'), keyPem: readFileSync(files.key, 'utf8') };
    assert.equal(await as({ ...s.master!, ...app, tls: pems }, 'PING'), 'PONG', 'the client certificate as PEM text in memory');
    assert.equal(await as({ ...parseAddress(s.endpoints.master), ...app, tls: files }, 'PING'), 'PONG', 'through the master endpoint');
  });
});
