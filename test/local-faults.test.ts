import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRuntime, type RuntimeRecord } from '../src/local/supervisor.ts';
import { withConnection } from '../src/redis/connect.ts';
import { BIN, eventually, listeningPorts, processesUnder, runCli, testHome } from './helpers.ts';

const PORT_BASE = 7300;
const home = testHome();

function runtimeOf(name: string): RuntimeRecord {
  const runtime = readRuntime(join(home, name));
  if (!runtime) throw new Error(`no runtime.json for '${name}'`);
  return runtime;
}

async function healthy(name: string): Promise<boolean> {
  const r = await runCli(home, ['status', '--json', '--name', name]);
  return (JSON.parse(r.stdout) as { healthy: boolean }).healthy;
}

describe('faults of the local kind', () => {
  after(async () => {
    for (const name of ['twice', 'orphans', 'reseed', 'forget', 'again', 'stale', 'fg']) await runCli(home, ['down', '--name', name]).catch(() => {});
  });

  test('a second up with the same name is refused and changes nothing', async () => {
    const first = await runCli(home, ['up', '-d', '--name', 'twice', '--port-base', String(PORT_BASE)]);
    assert.equal(first.code, 0, first.stderr);
    const pids = processesUnder(join(home, 'twice')).sort();
    const second = await runCli(home, ['up', '-d', '--name', 'twice', '--port-base', String(PORT_BASE + 30)]);
    const { supervisorPid } = runtimeOf('twice');
    assert.equal(second.stderr, `redis-ha: deployment 'twice' is already running (supervisor pid ${supervisorPid}); see 'redis-ha status --name twice' or stop it with 'redis-ha down --name twice'\n`);
    assert.equal(second.code, 1);
    assert.deepEqual(processesUnder(join(home, 'twice')).sort(), pids);
    assert.deepEqual(await listeningPorts(PORT_BASE + 30, 30), []);
    assert.equal((await runCli(home, ['down', '--name', 'twice'])).code, 0);
  });

  test('supervisor killed with SIGKILL: the next up adopts the running processes and keeps the data', async () => {
    const up = await runCli(home, ['up', '-d', '--name', 'orphans', '--port-base', String(PORT_BASE)]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await runCli(home, ['cli', '--name', 'orphans', 'SET', 'survivor', 'yes'])).code, 0);
    const before = runtimeOf('orphans');
    process.kill(before.supervisorPid, 'SIGKILL');
    await eventually('the supervisor to be gone', 5000, async () => (processesUnder(join(home, 'orphans')).length === 6 ? true : undefined));
    const status = JSON.parse((await runCli(home, ['status', '--json', '--name', 'orphans'])).stdout) as { supervisor: { running: boolean } };
    assert.equal(status.supervisor.running, false, 'status reports the supervisor is gone');

    const again = await runCli(home, ['up', '-d', '--name', 'orphans', '--port-base', String(PORT_BASE)]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /the supervisor of 'orphans' had died; adopting its 6 running processes/);
    const adopted = runtimeOf('orphans');
    for (const [id, m] of Object.entries(before.members)) assert.equal(adopted.members[id].pid, m.pid, `${id} kept running`);
    assert.equal((await runCli(home, ['cli', '--name', 'orphans', 'GET', 'survivor'])).stdout.trim(), '"yes"');

    // The new supervisor really supervises what it adopted: a killed replica comes back.
    process.kill(adopted.members['node-1'].pid, 'SIGKILL');
    await eventually('node-1 restarted by the new supervisor', 10_000, async () => {
      const pid = runtimeOf('orphans').members['node-1'].pid;
      return pid !== adopted.members['node-1'].pid && (await healthy('orphans')) ? true : undefined;
    });
    assert.equal((await runCli(home, ['down', '--name', 'orphans'])).code, 0);
    assert.deepEqual(processesUnder(join(home, 'orphans')), []);
  });

  test('a Sentinel whose config file is lost comes back monitoring the master the others agree on, after a failover too', async () => {
    const up = await runCli(home, ['up', '-d', '--name', 'reseed', '--port-base', String(PORT_BASE + 60), '--profile', 'fast']);
    assert.equal(up.code, 0, up.stderr);
    // Move the master away from node-0 first, so "the first node" would be the wrong answer.
    assert.equal((await runCli(home, ['failover', '--name', 'reseed', '--to', 'node-2'])).code, 0);
    const conf = join(home, 'reseed', 'sentinel-2', 'sentinel.conf');
    rmSync(conf);
    const before = runtimeOf('reseed').members['sentinel-2'].pid;
    process.kill(before, 'SIGKILL');
    const s = await eventually('sentinel-2 restarted and the deployment healthy', 20_000, async () => {
      if (runtimeOf('reseed').members['sentinel-2'].pid === before) return undefined;
      const now = JSON.parse((await runCli(home, ['status', '--json', '--name', 'reseed'])).stdout) as { healthy: boolean; master: { port: number } | null; sentinels: { id: string; master: { port: number } | null }[] };
      return now.healthy ? now : undefined;
    });
    assert.equal(s.master?.port, PORT_BASE + 60 + 2, 'node-2 is master');
    assert.equal(s.sentinels.find((x) => x.id === 'sentinel-2')?.master?.port, PORT_BASE + 60 + 2);
    assert.match(readFileSync(conf, 'utf8'), new RegExp(`^sentinel monitor \\S+ 127\\.0\\.0\\.1 ${PORT_BASE + 60 + 2} `, 'm'), 'the rewritten config monitors node-2');
    assert.equal((await runCli(home, ['down', '--name', 'reseed'])).code, 0);
  });

  test('a replica gone for good (a scale-down) is forgotten by every Sentinel: reset one at a time, each after the last found everyone again', async () => {
    const base = PORT_BASE + 60;
    const up = await runCli(home, ['up', '-d', '--name', 'forget', '--port-base', String(base), '--profile', 'fast']);
    assert.equal(up.code, 0, up.stderr);
    const sentinelPassword = (await runCli(home, ['password', '--name', 'forget', '--sentinel'])).stdout.trim();
    const sentinelPorts = [0, 1, 2].map((i) => Number(/^port (\d+)$/m.exec(readFileSync(join(home, 'forget', `sentinel-${i}`, 'sentinel.conf'), 'utf8'))?.[1]));
    const listed = () => Promise.all(sentinelPorts.map((port) => withConnection({ host: '127.0.0.1', port, password: sentinelPassword }, (c) => c.call('SENTINEL', 'REPLICAS', 'redis-ha-forget')).then((r) => (r as unknown[]).length)));
    // A replica from outside the deployment, as a pod a scale-down then removes: it authenticates as
    // the nodes do (their masteruser/masterauth lines, from node-1's 0600 config, into a 0600 file).
    const extra = join(home, 'forget-extra');
    mkdirSync(extra, { mode: 0o700 });
    const auth = readFileSync(join(home, 'forget', 'node-1', 'redis.conf'), 'utf8').split('\n').filter((l) => /^master(user|auth) /.test(l));
    writeFileSync(join(extra, 'redis.conf'), [`port ${base + 25}`, 'bind 127.0.0.1', `dir ${extra}`, 'save ""', `replicaof 127.0.0.1 ${base}`, ...auth, ''].join('\n'), { mode: 0o600 });
    const child = spawn('redis-server', [join(extra, 'redis.conf')], { stdio: 'ignore' });
    try {
      // Sentinels learn replicas from the master's INFO, every 10 s.
      await eventually('every Sentinel listing the extra replica', 30_000, async () => ((await listed()).every((n) => n === 3) ? true : undefined));
    } finally {
      child.kill('SIGKILL');
    }
    const log = join(home, 'forget', 'supervisor.log');
    const before = readFileSync(log, 'utf8').length;
    await eventually('every Sentinel listing only the 2 replicas of the deployment', 60_000, async () => ((await listed()).every((n) => n === 2) ? true : undefined));
    const resets = readFileSync(log, 'utf8').slice(before).split('\n').filter((l) => /did sentinel-reset/.test(l)).map((l) => /sentinel-reset (\S+)/.exec(l)?.[1]);
    assert.deepEqual(resets, ['sentinel-0', 'sentinel-1', 'sentinel-2'], 'each Sentinel reset once, in order, one at a time');
    assert.ok(await healthy('forget'), 'healthy after the resets');
    assert.equal((await runCli(home, ['down', '--name', 'forget'])).code, 0);
  });

  test('persistence on, down and up after a failover: the deployment starts from the last master, and a write a lagging node missed is kept', async () => {
    const spec = join(home, 'again.yaml');
    writeFileSync(spec, 'name: again\npersistence:\n  enabled: true\n');
    const base = PORT_BASE + 30;
    assert.equal((await runCli(home, ['up', '-d', '-f', spec, '--port-base', String(base)])).code, 0);
    assert.equal((await runCli(home, ['failover', '--name', 'again', '--to', 'node-2'])).code, 0);
    const password = (await runCli(home, ['password', '--name', 'again'])).stdout.trim();
    // node-0 misses the last write: stopped while node-2 takes it (node-1 acknowledges it).
    const frozen = runtimeOf('again').members['node-0'].pid;
    process.kill(frozen, 'SIGSTOP');
    const master = { host: '127.0.0.1', port: base + 2 };
    await withConnection({ ...master, password }, async (c) => {
      assert.equal(await c.set('after-failover', 'kept'), 'OK');
      assert.equal(await c.call('WAIT', '1', '2000'), 1);
    });
    // appendfsync everysec: the write is in node-2's AOF within a second or so.
    const aof = join(home, 'again', 'node-2', 'data', 'appendonlydir');
    await eventually('the write in node-2\'s AOF', 10_000, async () =>
      (readdirSync(aof).some((f) => f.endsWith('.incr.aof') && readFileSync(join(aof, f), 'utf8').includes('after-failover')) ? true : undefined));
    assert.equal((await runCli(home, ['down', '--name', 'again'])).code, 0);
    const up = await runCli(home, ['up', '-d', '-f', spec, '--port-base', String(base)]);
    assert.equal(up.code, 0, up.stderr);
    const s = await eventually('healthy again', 20_000, async () => {
      const now = JSON.parse((await runCli(home, ['status', '--json', '--name', 'again'])).stdout) as { healthy: boolean; master: { port: number } | null };
      return now.healthy ? now : undefined;
    });
    assert.equal(s.master?.port, base + 2, 'node-2, the master when it stopped, is master again');
    for (const port of [base, base + 1, base + 2]) {
      await eventually(`the write on ${port}`, 10_000, () => withConnection({ host: '127.0.0.1', port, password }, (c) => c.get('after-failover')).then((v) => (v === 'kept' ? true : undefined)));
    }
    assert.equal((await runCli(home, ['down', '--name', 'again'])).code, 0);
  });

  test('stale state after a crash or reboot (dead pids recorded): up starts fresh', async () => {
    const up = await runCli(home, ['up', '-d', '--name', 'stale', '--port-base', String(PORT_BASE)]);
    assert.equal(up.code, 0, up.stderr);
    const password = (await runCli(home, ['password', '--name', 'stale'])).stdout;
    assert.equal((await runCli(home, ['down', '--name', 'stale'])).code, 0);
    // What a reboot leaves: runtime.json naming processes that no longer exist (pids beyond pid_max).
    const members = Object.fromEntries(['node-0', 'node-1', 'node-2', 'sentinel-0', 'sentinel-1', 'sentinel-2'].map((id, i) => [id, { pid: 4194305 + i, startedAt: '', restarts: 0 }]));
    writeFileSync(join(home, 'stale', 'runtime.json'), JSON.stringify({ supervisorPid: 4194304, startedAt: '', members }), { mode: 0o600 });
    const again = await runCli(home, ['up', '-d', '--name', 'stale', '--port-base', String(PORT_BASE)]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /found state of a previous run of 'stale' with nothing running; starting fresh \(passwords kept\)/);
    assert.equal((await runCli(home, ['password', '--name', 'stale'])).stdout, password);
    assert.equal((await runCli(home, ['down', '--name', 'stale'])).code, 0);
  });

  test('up in the foreground stops cleanly on Ctrl-C (SIGINT)', async () => {
    const child = spawn(process.execPath, [BIN, 'up', '--name', 'fg', '--port-base', String(PORT_BASE)], { env: { ...process.env, REDIS_HA_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await eventually('the foreground up to be healthy', 20_000, async () => (out.includes('Ctrl-C stops it') ? true : undefined));
    assert.equal(processesUnder(join(home, 'fg')).length, 6, 'three nodes and three Sentinels run');
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.deepEqual(processesUnder(join(home, 'fg')), []);
    assert.deepEqual(await listeningPorts(PORT_BASE, 30), []);
  });
});
