/**
 * Least-privilege ACL users and secret hygiene on a real local deployment whose application has a user
 * of its own (`auth.username: app`, so the default user is off).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withConnection, type Endpoint } from '../src/redis/connect.ts';
import { errorText } from '../src/redis/probe.ts';
import { MasterRouter } from '../src/endpoint/router.ts';
import type { LocalDeployment } from '../src/local/deployment.ts';
import { assertSecretsKept, eventually, pidOf, processesUnder, runCli, statusOf, testHome } from './helpers.ts';

const PORT_BASE = 8100;
const NAME = 'sec';
const home = testHome();
const stateDir = join(home, NAME);
// Given through the environment, as a user would: it must not reach the processes' environments.
const APP_PASSWORD = 'given-through-the-environment-0123456789';

interface Status {
  healthy: boolean;
  user: string;
  sentinelUser: string;
  masterName: string;
  master: { host: string; port: number } | null;
  nodes: { id: string; host: string; port: number; role: string }[];
  sentinels: { host: string; port: number }[];
  endpoints: { master: string };
  problems: string[];
}

const status = () => statusOf<Status>(home, NAME);
const deployment = () => JSON.parse(readFileSync(join(stateDir, 'deployment.json'), 'utf8')) as LocalDeployment;
const hostPort = (a: string) => ({ host: a.split(':')[0], port: Number(a.split(':')[1]) });

/** Runs one command as `who` and returns the reply, or the error text. */
async function as(who: Endpoint, ...command: string[]): Promise<string> {
  try {
    return String(await withConnection(who, (c) => c.call(command[0], ...command.slice(1))));
  } catch (err) {
    return `ERROR ${errorText(err)}`;
  }
}

describe('ACL users and secret hygiene', { timeout: 180_000 }, () => {
  let d: LocalDeployment;
  let master: Endpoint;

  before(async () => {
    writeFileSync(join(home, 'spec.yaml'), `name: ${NAME}\nauth:\n  username: app\n`);
    const up = await runCli(home, ['up', '-d', '-f', join(home, 'spec.yaml'), '--port-base', String(PORT_BASE), '--profile', 'fast'], {
      REDIS_HA_PASSWORD: APP_PASSWORD,
    });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /redis-cli --user app /, 'the connect hint names the user');
    d = deployment();
    const s = await status();
    master = { ...s.master!, ...d.users.application };
  });

  after(async () => {
    await runCli(home, ['down', '--name', NAME]);
  });

  test('status names the ACL users the passwords belong to', async () => {
    const s = await status();
    assert.equal(s.user, 'app');
    assert.equal(s.sentinelUser, 'default');
    assert.equal((await runCli(home, ['password', '--name', NAME])).stdout, `${APP_PASSWORD}\n`);
    assert.deepEqual(Object.keys(d.users).sort(), ['application', 'exporter', 'operator', 'replication', 'sentinel', 'sentinelClient']);
    const passwords = Object.values(d.users).map((u) => u.password);
    assert.equal(new Set(passwords).size, passwords.length, 'every user has its own password');
  });

  test('the application user works but cannot run a dangerous command', async () => {
    assert.equal(await as(master, 'SET', 'greeting', 'hello'), 'OK');
    assert.equal(await as(master, 'GET', 'greeting'), 'hello');
    assert.match(await as(master, 'INFO', 'server'), /redis_version/);
    for (const command of [['CONFIG', 'GET', 'maxmemory'], ['FLUSHALL'], ['FLUSHDB'], ['MODULE', 'LIST'], ['ACL', 'LIST'], ['SHUTDOWN'], ['REPLICAOF', 'NO', 'ONE'], ['KEYS', '*']]) {
      assert.match(await as(master, ...command), /^ERROR not allowed: this ACL user may not run that command \(NOPERM/, command.join(' '));
    }
    // Redis 7 refuses DEBUG to everyone (enable-debug-command no) before the ACL is consulted.
    assert.match(await as(master, 'DEBUG', 'SLEEP', '0'), /^ERROR (not allowed.*NOPERM|ERR DEBUG command not allowed)/);
    // The same through the master endpoint, and through `redis-ha cli`, which logs in as the application.
    const endpoint = { ...hostPort((await status()).endpoints.master), ...d.users.application };
    assert.match(await as(endpoint, 'CONFIG', 'SET', 'maxmemory', '1'), /NOPERM/);
    const cli = await runCli(home, ['cli', '--name', NAME, 'FLUSHALL']);
    assert.match(cli.stdout, /NOPERM/);
    assert.equal(await as(master, 'GET', 'greeting'), 'hello', 'nothing was flushed');
  });

  test('the default user is off; a wrong password is refused with a clear message', async () => {
    const at = { host: master.host, port: master.port };
    assert.match(await as({ ...at, password: APP_PASSWORD }, 'PING'), /^ERROR login refused: wrong user name or password, or the user is disabled; check the credentials \(WRONGPASS/);
    assert.match(await as({ ...at }, 'GET', 'greeting'), /^ERROR login required: the server wants a password and none was sent \(NOAUTH/);
    assert.match(await as({ ...at, username: 'app', password: 'not-the-password-at-all' }, 'PING'), /^ERROR login refused: wrong user name or password/);
    // A Sentinel given the wrong password: the endpoint's router says why it has no master.
    const s = await status();
    const router = new MasterRouter({
      masterName: s.masterName,
      sentinels: s.sentinels.map(({ host, port }) => ({ host, port })),
      sentinelAuth: { password: 'not-the-sentinel-password' },
      nodeAuth: d.users.operator,
      maxReplicaLagSeconds: 5,
      resyncMs: 60_000,
    });
    try {
      await router.start();
      assert.equal(router.route.master, null);
      assert.match(router.route.reason, /^only 0 of 3 Sentinels answered and 2 must agree \(127\.0\.0\.1:\d+: login refused: wrong user name or password/);
    } finally {
      router.stop();
    }
  });

  test("redis-ha's own users can do their job and nothing else", async () => {
    const u = d.users;
    assert.equal(await as({ ...master, ...u.exporter }, 'INFO', 'replication').then((r) => r.startsWith('# Replication')), true);
    for (const who of [u.exporter, u.operator, u.replication, u.sentinel]) {
      assert.match(await as({ ...master, ...who }, 'SET', 'k', 'v'), /NOPERM/, `${who.username} may not write`);
      assert.match(await as({ ...master, ...who }, 'CONFIG', 'SET', 'maxmemory', '1'), who === u.operator ? /^OK|ERROR/ : /NOPERM/);
    }
    await as({ ...master, ...u.operator }, 'CONFIG', 'SET', 'maxmemory', '0');
    assert.match(await as({ ...master, ...u.operator }, 'GET', 'greeting'), /NOPERM/, 'the controller reads no data');
    assert.match(await as({ ...master, ...u.replication }, 'GET', 'greeting'), /NOPERM/);
    assert.equal(await as({ ...master, ...u.sentinel }, 'ROLE').then((r) => r.startsWith('master')), true);
  });

  test('failover still works with every component on its own user', async () => {
    const before = await status();
    const old = before.nodes.find((n) => n.role === 'master')!;
    process.kill(pidOf(stateDir, old.id), 'SIGKILL');
    const after = await eventually('a new master and a healthy deployment', 30_000, async () => {
      const s = await status();
      return s.healthy && s.master && s.master.port !== old.port ? s : undefined;
    });
    assert.ok(after.master);
    const endpoint = { ...hostPort(after.endpoints.master), ...d.users.application };
    await eventually('a write through the master endpoint', 10_000, async () => ((await as(endpoint, 'SET', 'after', 'failover')) === 'OK' ? true : undefined));
    const log = readFileSync(join(stateDir, 'supervisor.log'), 'utf8');
    assert.doesNotMatch(log, /NOPERM|WRONGPASS|NOAUTH/, 'no component was refused by the ACLs');
  });

  test('no password in any argv, environment, log or output; files holding one are 0600', async () => {
    const secrets = new Map(Object.entries(d.users).map(([role, c]) => [role, c.password]));
    const ours = [...new Set([...processesUnder(stateDir), pidOf(stateDir, 'supervisor')])];
    assert.ok(ours.length >= 7, `found the supervisor and 6 members (${ours.length})`);
    const files = await assertSecretsKept({ home, name: NAME, stateDir, pids: ours, secrets });
    assert.ok(files >= 15, `scanned the state directory (${files} files)`);
  });
});



