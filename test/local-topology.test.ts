import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { withConnection } from '../src/redis/connect.ts';
import { parseFlatRecord } from '../src/redis/parse.ts';
import { eventually, listeningPorts, passwordOf, pidOf, processesUnder, runCli, statusOf, testHome } from './helpers.ts';

const PORT_BASE = 7100;
const NAME = 'itest';
const home = testHome();
const stateDir = join(home, NAME);

interface StatusJson {
  healthy: boolean;
  masterName: string;
  master: { host: string; port: number } | null;
  nodes: { id: string; host: string; port: number; role: string }[];
  sentinels: { host: string; port: number; master: { host: string; port: number } | null }[];
  endpoints: { master: string; replicas: string };
  stateDir: string;
  user: string;
  sentinelUser: string;
}

const status = () => statusOf<StatusJson>(home, NAME);
const password = (sentinel = false) => passwordOf(home, NAME, sentinel);

describe('local HA topology on real processes', () => {
  let pw = '';
  let sentinelPw = '';

  before(async () => {
    const up = await runCli(home, ['up', '--detach', '--name', NAME, '--port-base', String(PORT_BASE)]);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    assert.match(up.stdout, /is healthy \(took \d+\.\d s\)/);
    const took = Number(/took (\d+\.\d) s/.exec(up.stdout)?.[1]);
    assert.ok(took < 10, `up took ${took} s`);
    pw = await password();
    sentinelPw = await password(true);
  });

  after(async () => {
    await runCli(home, ['down', '--name', NAME]);
  });

  test('up prints the addresses, the Sentinel master name and how to connect', async () => {
    const s = await status();
    assert.equal(s.healthy, true);
    assert.equal(s.masterName, 'redis-ha-itest');
    assert.equal(s.nodes.length, 3);
    assert.deepEqual(s.nodes.map((n) => n.role).sort(), ['master', 'replica', 'replica']);
    assert.equal(s.sentinels.length, 3);
    assert.equal(s.stateDir, stateDir);
    assert.equal(s.user, 'default');
    assert.equal(s.sentinelUser, 'default');
  });

  test('passwords are generated, long, and never in argv', () => {
    assert.ok(pw.length >= 32, 'application password has at least 32 characters');
    assert.ok(sentinelPw.length >= 32);
    assert.notEqual(pw, sentinelPw);
    for (const pid of processesUnder(stateDir)) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      assert.ok(!argv.includes(pw) && !argv.includes(sentinelPw), `pid ${pid} has a password in its argv`);
    }
  });

  test('files that hold secrets are 0600 and the state dir is 0700', () => {
    assert.equal(statSync(stateDir).mode & 0o777, 0o700);
    const check = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) check(path);
        else if (readFileSync(path, 'utf8').includes(pw)) assert.equal(statSync(path).mode & 0o077, 0, `${path} holds the password and is readable by others`);
      }
    };
    check(stateDir);
  });

  test('a password is required', async () => {
    const s = await status();
    const master = s.master as { host: string; port: number };
    await assert.rejects(withConnection({ host: master.host, port: master.port }, (c) => c.set('x', '1')), /NOAUTH/);
  });

  test('write through the master found via Sentinel, read it back from each replica', async () => {
    const s = await status();
    const client = new Redis({ name: s.masterName, sentinels: s.sentinels.map(({ host, port }) => ({ host, port })), password: pw, sentinelPassword: sentinelPw, lazyConnect: true });
    try {
      await client.connect();
      assert.equal(await client.set('greeting', 'hello from the test'), 'OK');
      assert.equal(await client.wait(2, 2000), 2, 'both replicas acknowledge the write');
    } finally {
      client.disconnect();
    }
    for (const replica of s.nodes.filter((n) => n.role === 'replica')) {
      const value = await withConnection({ host: replica.host, port: replica.port, password: pw }, (c) => c.get('greeting'));
      assert.equal(value, 'hello from the test', `replica ${replica.id}`);
    }
  });

  test('INFO replication on the master lists 2 connected replicas', async () => {
    const s = await status();
    const master = s.master as { host: string; port: number };
    const info = await withConnection({ ...master, password: pw }, (c) => c.info('replication'));
    assert.match(info, /^role:master\r?$/m);
    assert.match(info, /^connected_slaves:2\r?$/m);
  });

  test('each Sentinel answers get-master-addr-by-name with the master', async () => {
    const s = await status();
    for (const sen of s.sentinels) {
      const addr = await withConnection({ host: sen.host, port: sen.port, password: sentinelPw }, (c) => c.call('SENTINEL', 'get-master-addr-by-name', s.masterName));
      assert.deepEqual(addr, [s.master?.host, String(s.master?.port)]);
    }
  });

  test('each Sentinel\'s ping period is its default again once its links are up', async () => {
    // up lowers it (SENTINEL DEBUG PING-PERIOD) only until every Sentinel sees the others and the replicas.
    const s = await status();
    await eventually('every Sentinel\'s ping period back to 1000 ms', 5000, async () => {
      const periods = await Promise.all(s.sentinels.map((x) => withConnection({ host: x.host, port: x.port, password: sentinelPw }, async (c) => parseFlatRecord(await c.call('SENTINEL', 'DEBUG')).get('PING-PERIOD'))));
      return periods.every((p) => p === '1000') ? true : undefined;
    });
  });

  test('the cli command runs a command on the master and on a replica', async () => {
    const set = await runCli(home, ['cli', '--name', NAME, 'SET', 'via-cli', '42']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), '"OK"');
    await eventually('the replica to have the key', 5000, async () => {
      const get = await runCli(home, ['cli', '--name', NAME, '--replica', 'GET', 'via-cli']);
      return get.stdout.trim() === '"42"' ? true : undefined;
    });
  });

  test('SIGKILL of the master: the Sentinels elect a new master, status shows it, data survives', async () => {
    const before = await status();
    const old = before.nodes.find((n) => n.role === 'master');
    assert.ok(old);
    process.kill(pidOf(stateDir, old.id), 'SIGKILL');
    const after = await eventually('a healthy topology with a new master', 30_000, async () => {
      const s = await status();
      return s.healthy && s.master && s.master.port !== old.port ? s : undefined;
    });
    assert.equal(after.nodes.filter((n) => n.role === 'master').length, 1);
    assert.equal(after.nodes.find((n) => n.id === old.id)?.role, 'replica', 'the old master came back as a replica');
    const get = await runCli(home, ['cli', '--name', NAME, 'GET', 'greeting']);
    assert.equal(get.stdout.trim(), '"hello from the test"');
  });

  test('logs shows the supervisor and member logs', async () => {
    const r = await runCli(home, ['logs', '--name', NAME, 'supervisor', '--lines', '50']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^supervisor +.*supervising 'itest'/m);
  });

  test('down leaves no process and no open port', async () => {
    const r = await runCli(home, ['down', '--name', NAME]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(processesUnder(stateDir), []);
    assert.deepEqual(await listeningPorts(PORT_BASE, 30), []);
  });
});
