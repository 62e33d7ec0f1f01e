/**
 * `redis-ha migrate` against a plain master + 2 replicas + 3 Sentinels deployment that redis-ha did not
 * create (real redis-server / redis-sentinel processes started here, with passwords), under an
 * acknowledged-write writer that finds the master only through the SOURCE's Sentinels the whole time.
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckedWriter } from '../bench/writer.ts';
import { withConnection } from '../src/redis/connect.ts';
import { parseFlatRecord, parseFlatRecords } from '../src/redis/parse.ts';
import { assertSecretsKept, BIN, eventually, listeningPorts, pidOf, processesUnder, runCli, testHome } from './helpers.ts';

const SOURCE_BASE = 8800; // source nodes 8800-8802, Sentinels 8810-8812
const PORT_BASE = 8830; // the new deployment: 8830-8859
const NAME = 'mig';
const MASTER_NAME = 'mymaster';
const PASSWORD = 'source-app-password-0123456789';
const SENTINEL_PASSWORD = 'source-sentinel-password-9876543210';
const home = testHome();
const ENV = { REDIS_HA_SOURCE_PASSWORD: PASSWORD, REDIS_HA_SOURCE_SENTINEL_PASSWORD: SENTINEL_PASSWORD };

const sourceNodes = [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: SOURCE_BASE + i }));
const sourceSentinels = [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: SOURCE_BASE + 10 + i }));
const newNodes = [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: PORT_BASE + i }));
const FROM = sourceSentinels.map((s) => `${s.host}:${s.port}`).join(',');
/** Each test migrates into a deployment of its own name (same ports, one at a time). */
const argsFor = (name: string) => ['migrate', '--from-sentinels', FROM, '--master-name', MASTER_NAME, '--name', name, '--port-base', String(PORT_BASE)];
const migrateArgs = argsFor(NAME);

/** A plain Sentinel deployment, as a user (or the Bitnami chart) would run it. */
class Source {
  readonly dir = join(home, 'source');
  readonly pids = new Map<string, number>();

  start(): void {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    sourceNodes.forEach((n, i) => {
      const dir = join(this.dir, `redis-${i}`);
      mkdirSync(dir, { mode: 0o700 });
      this.#run(`redis-${i}`, 'redis-server', dir, [
        `port ${n.port}`, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', 'appendonly no', `requirepass "${PASSWORD}"`, `masterauth "${PASSWORD}"`,
        `logfile ${join(dir, 'redis.log')}`, 'repl-diskless-sync yes', 'repl-diskless-sync-delay 0',
        ...(i === 0 ? [] : [`replicaof 127.0.0.1 ${sourceNodes[0].port}`]),
      ]);
    });
    sourceSentinels.forEach((s, i) => {
      const dir = join(this.dir, `sentinel-${i}`);
      mkdirSync(dir, { mode: 0o700 });
      this.#run(`sentinel-${i}`, 'redis-sentinel', dir, [
        `port ${s.port}`, 'bind 127.0.0.1', `dir ${dir}`, `logfile ${join(dir, 'sentinel.log')}`,
        `requirepass "${SENTINEL_PASSWORD}"`, `sentinel sentinel-pass "${SENTINEL_PASSWORD}"`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${sourceNodes[0].port} 2`,
        `sentinel auth-pass ${MASTER_NAME} "${PASSWORD}"`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 2000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
      ]);
    });
  }

  #run(id: string, binary: string, dir: string, lines: string[]): void {
    const conf = join(dir, binary === 'redis-server' ? 'redis.conf' : 'sentinel.conf');
    writeFileSync(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
    chmodSync(conf, 0o600);
    const child = spawn(binary, [conf], { cwd: dir, stdio: 'ignore', detached: true });
    child.unref();
    this.pids.set(id, child.pid as number);
  }

  signal(id: string, sig: NodeJS.Signals): void {
    process.kill(this.pids.get(id) as number, sig);
  }

  async stop(): Promise<void> {
    for (const pid of this.pids.values()) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.pids.clear();
    await eventually('the source ports to be free', 10_000, async () => ((await listeningPorts(SOURCE_BASE, 13)).length === 0 ? true : undefined));
  }

  /** Until every Sentinel sees the master, both replicas in sync and the 2 other Sentinels. */
  async ready(): Promise<void> {
    await eventually('the source deployment to settle', 30_000, async () => {
      for (const s of sourceSentinels) {
        const ok = await withConnection({ ...s, password: SENTINEL_PASSWORD }, async (c) => {
          const replicas = parseFlatRecords(await c.call('SENTINEL', 'REPLICAS', MASTER_NAME)).filter((r) => r.get('master-link-status') === 'ok');
          const others = parseFlatRecords(await c.call('SENTINEL', 'SENTINELS', MASTER_NAME));
          return replicas.length === 2 && others.length === 2;
        });
        if (!ok) return undefined;
      }
      return true;
    });
  }
}

async function role(a: { host: string; port: number }): Promise<string | undefined> {
  return withConnection({ ...a, password: PASSWORD }, async (c) => String(((await c.call('ROLE')) as unknown[])[0]), 1000).catch(() => undefined);
}

async function sentinelNames(s: { host: string; port: number }): Promise<string> {
  return withConnection({ ...s, password: SENTINEL_PASSWORD }, async (c) => {
    const m = parseFlatRecord(await c.call('SENTINEL', 'MASTER', MASTER_NAME));
    return `${m.get('ip')}:${m.get('port')}`;
  });
}

/** Fills the source with `n` keys of `size` bytes, so that a sync takes some time. */
async function preload(n: number, size: number): Promise<void> {
  await withConnection({ ...sourceNodes[0], password: PASSWORD }, async (c) => {
    const value = 'x'.repeat(size);
    for (let i = 0; i < n; i += 1000) {
      const p = c.pipeline();
      for (let j = i; j < Math.min(n, i + 1000); j++) p.set(`preload:${j}`, value);
      await p.exec();
    }
  }, 30_000);
}

function sourceWriter(prefix: string): AckedWriter {
  return new AckedWriter({ target: { masterName: MASTER_NAME, sentinels: sourceSentinels, sentinelPassword: SENTINEL_PASSWORD }, password: PASSWORD, prefix });
}

/**
 * The end state every migration must reach: exactly one master among the old and new nodes, and it
 * is the new deployment's; every source Sentinel names it under the old set name; the old nodes
 * replicate from it; nothing the writer was acknowledged is missing on it.
 */
async function assertMigrated(t: TestContext, writer: AckedWriter, since: number, label: string): Promise<void> {
  const roles = await Promise.all([...sourceNodes, ...newNodes].map(role));
  const masters = [...sourceNodes, ...newNodes].filter((_, i) => roles[i] === 'master');
  assert.equal(masters.length, 1, `exactly one master among old and new nodes (roles: ${roles.join(', ')})`);
  const master = masters[0];
  assert.ok(newNodes.some((n) => n.port === master.port), `the master ${master.port} is a node of the new deployment`);
  for (const s of sourceSentinels) assert.equal(await sentinelNames(s), `${master.host}:${master.port}`, `source Sentinel ${s.port} names the new master under '${MASTER_NAME}'`);
  await eventually('the old nodes to replicate from the new master', 30_000, async () => {
    for (const n of sourceNodes) {
      const ok = await withConnection({ ...n, password: PASSWORD }, async (c) => {
        const info = String(await c.call('INFO', 'replication'));
        return info.includes(`master_port:${master.port}`) && info.includes('master_link_status:up');
      }).catch(() => false);
      if (!ok) return undefined;
    }
    return true;
  });
  const missing = await writer.missingOn(master, PASSWORD);
  t.diagnostic(`${label}: ${writer.acked.length} writes acknowledged, ${missing.length} lost, longest write gap ${Math.round(writer.longestGapSince(since))} ms (${writer.failures} failed attempts: ${[...writer.errors.keys()].slice(0, 3).join(' | ')})`);
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged writes are missing on the new master`);
  assert.ok(writer.acked.length > 500, `the writer kept writing (${writer.acked.length} acknowledged)`);
}

/** Runs migrate and SIGKILLs it as soon as a progress line matches `when`; resolves with what it printed. */
function migrateKilledAt(name: string, when: RegExp): Promise<{ killed: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argsFor(name)], { env: { ...process.env, REDIS_HA_HOME: home, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!killed && when.test(stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ killed, stderr });
    });
  });
}

const source = new Source();

const names = [NAME, 'kill-0', 'kill-1', 'kill-2', 'kill-3', 'aborted', 'left'];
after(async () => {
  for (const name of names) await runCli(home, ['down', '--name', name]);
  await source.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('redis-ha migrate', { concurrency: 1 }, () => {
  test('pre-checks refuse with one line, exit code, and change nothing', async () => {
    source.start();
    await source.ready();
    const refuse = async (args: string[], env: Record<string, string>, code: number, line: string) => {
      const r = await runCli(home, args, env);
      assert.equal(r.stderr.trim().split('\n').at(-1), line);
      assert.equal(r.code, code, r.stderr);
    };
    const master = `127.0.0.1:${sourceNodes[0].port}`;
    await refuse(migrateArgs, { REDIS_HA_SOURCE_SENTINEL_PASSWORD: SENTINEL_PASSWORD }, 2,
      "redis-ha: migrate: REDIS_HA_SOURCE_PASSWORD is not set; put the source's Redis password there (never on the command line)");
    await refuse(migrateArgs, { ...ENV, REDIS_HA_SOURCE_SENTINEL_PASSWORD: 'wrong-sentinel-password-000000' }, 1,
      `redis-ha: migrate: check 'auth' failed: source Sentinel 127.0.0.1:${sourceSentinels[0].port} refused the password in REDIS_HA_SOURCE_SENTINEL_PASSWORD (login refused: wrong user name or password, or the user is disabled; check the credentials (WRONGPASS invalid username-password pair or user is disabled.)); nothing was changed`);
    await refuse(migrateArgs, { ...ENV, REDIS_HA_SOURCE_PASSWORD: 'wrong-application-password-000' }, 1,
      `redis-ha: migrate: check 'auth' failed: the source master ${master} refused the password in REDIS_HA_SOURCE_PASSWORD (login refused: wrong user name or password, or the user is disabled; check the credentials (WRONGPASS invalid username-password pair or user is disabled.)); nothing was changed`);
    await refuse(['migrate', '--from-sentinels', FROM, '--master-name', 'nope', '--name', NAME, '--port-base', String(PORT_BASE)], ENV, 1,
      `redis-ha: migrate: check 'sentinels' failed: no source Sentinel monitors a master named 'nope' (asked ${FROM.replaceAll(',', ', ')}); nothing was changed`);

    // A local redis-server older than the source cannot replicate from it.
    const old = join(home, 'old-redis-server');
    writeFileSync(old, '#!/bin/sh\necho "Redis server v=6.2.0 sha=00000000:0 malloc=jemalloc-5.1.0 bits=64 build=0"\n', { mode: 0o700 });
    const version = String(await withConnection({ ...sourceNodes[0], password: PASSWORD }, (c) => c.info('server'))).match(/redis_version:(\S+)/)?.[1];
    await refuse([...migrateArgs, '--redis-server', old], ENV, 1,
      `redis-ha: migrate: check 'version' failed: the source master runs Redis ${version} and the local redis-server is 6.2.0: a replica cannot load a newer master's data; use redis-server ${version?.split('.').slice(0, 2).join('.')} or newer; nothing was changed`);

    // --dry-run prints the checks and the plan, and starts nothing.
    const dry = await runCli(home, [...migrateArgs, '--dry-run', '--json'], ENV);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[]; plan: string[] };
    assert.deepEqual(plan.checks.map((c) => `${c.name}:${c.ok}`), ['sentinels:true', 'failover:true', 'quorum:true', 'auth:true', 'master:true', 'version:true']);
    assert.equal(plan.plan.length, 6);

    assert.deepEqual(await listeningPorts(PORT_BASE, 30), [], 'no refusal (and no dry run) started anything');
    assert.equal(await role(sourceNodes[0]), 'master');
    for (const s of sourceSentinels) assert.equal(await sentinelNames(s), master);

    // No quorum: two of the three source Sentinels frozen. (Thawed, they are in TILT for 30 s, so this comes last but one.)
    source.signal('sentinel-1', 'SIGSTOP');
    source.signal('sentinel-2', 'SIGSTOP');
    try {
      await refuse(migrateArgs, ENV, 1,
        `redis-ha: migrate: check 'quorum' failed: no quorum: 1 of 3 source Sentinels answer and 1 names ${master}; a failover needs 2 (quorum 2, majority 2); nothing was changed`);
    } finally {
      source.signal('sentinel-1', 'SIGCONT');
      source.signal('sentinel-2', 'SIGCONT');
    }

    // A failover in progress: the replicas frozen right after SENTINEL FAILOVER keep it waiting for the promotion.
    source.signal('redis-1', 'SIGSTOP');
    source.signal('redis-2', 'SIGSTOP');
    try {
      await withConnection({ ...sourceSentinels[0], password: SENTINEL_PASSWORD }, (c) => c.call('SENTINEL', 'FAILOVER', MASTER_NAME));
      await refuse(migrateArgs, ENV, 1,
        `redis-ha: migrate: check 'failover' failed: source Sentinel 127.0.0.1:${sourceSentinels[0].port} reports a failover of '${MASTER_NAME}' in progress; run again once it is over; nothing was changed`);
    } finally {
      source.signal('redis-1', 'SIGCONT');
      source.signal('redis-2', 'SIGCONT');
    }
    assert.deepEqual(await listeningPorts(PORT_BASE, 30), []);
    await source.stop();
  });

  test('migrates under load through the old Sentinels: nothing acknowledged lost, one master, the old Sentinels name it', async (t) => {
    source.start();
    await source.ready();
    await preload(50_000, 100);
    const writer = sourceWriter('load');
    const since = performance.now();
    writer.start();
    try {
      await writer.ackedMore(300);
      const r = await runCli(home, [...migrateArgs, '--json'], ENV, 240_000);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { ok: boolean; master: { port: number }; switchover: { writePauseMs: number }; steps: { step: string; status: string }[]; leftovers: { oldNodes: string[]; oldSentinels: string[] } };
      assert.equal(out.ok, true);
      assert.deepEqual(out.steps.map((s) => `${s.step}:${s.status}`), ['check:done', 'deploy:done', 'sync:done', 'switchover:done', 'sentinels:done', 'old-nodes:done', 'healthy:done']);
      assert.deepEqual([...out.leftovers.oldNodes].sort(), sourceNodes.map((n) => `${n.host}:${n.port}`).sort());
      assert.deepEqual([...out.leftovers.oldSentinels].sort(), sourceSentinels.map((n) => `${n.host}:${n.port}`).sort());
      t.diagnostic(`switchover write pause (CLIENT PAUSE until promoted): ${out.switchover.writePauseMs} ms`);
      await writer.ackedMore(300);
      await writer.stop();
      await assertMigrated(t, writer, since, 'migration under load');
      // The data that was there before is there after.
      assert.equal(await withConnection({ ...newNodes.find((n) => n.port === out.master.port)!, password: PASSWORD }, (c) => c.get('preload:49999')), 'x'.repeat(100));
      const status = JSON.parse((await runCli(home, ['status', '--json', '--name', NAME])).stdout) as { healthy: boolean; masterName: string };
      assert.equal(status.healthy, true);
      assert.equal(status.masterName, MASTER_NAME);
      // The source's passwords reached no argv, no environment of the new processes, no log, no file others can read.
      const stateDir = join(home, NAME);
      const pids = [...new Set([...processesUnder(stateDir), pidOf(stateDir, 'supervisor')])];
      assert.ok(pids.length >= 7, `found the supervisor and 6 members (${pids.length})`);
      await assertSecretsKept({ home, name: NAME, stateDir, pids, secrets: new Map([['source password', PASSWORD], ['source Sentinel password', SENTINEL_PASSWORD]]) });
      // Run again: it finds the work done and changes nothing.
      const again = await runCli(home, migrateArgs, ENV, 120_000);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /\[1\/7 check\] skipped: the source Sentinels already name node-\d/);

      // Removing the old members: --finish refuses while an old Sentinel runs, then makes ours forget them.
      const early = await runCli(home, [...migrateArgs, '--finish'], ENV);
      assert.equal(early.code, 1);
      assert.equal(early.stderr, `redis-ha: migrate --finish: the old Sentinel 127.0.0.1:${sourceSentinels[0].port} still runs; stop it first (safe once no application asks it)\n`);
      await source.stop();
      const finished = await runCli(home, [...migrateArgs, '--finish'], ENV, 180_000);
      assert.equal(finished.code, 0, finished.stderr);
      const ownSentinels = [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: PORT_BASE + 10 + i }));
      for (const s of ownSentinels) {
        const seen = await withConnection({ ...s, password: SENTINEL_PASSWORD }, async (c) => ({
          sentinels: parseFlatRecords(await c.call('SENTINEL', 'SENTINELS', MASTER_NAME)).map((x) => Number(x.get('port'))).sort(),
          replicas: parseFlatRecords(await c.call('SENTINEL', 'REPLICAS', MASTER_NAME)).map((x) => Number(x.get('port'))).sort(),
        }));
        assert.deepEqual(seen, {
          sentinels: ownSentinels.filter((o) => o.port !== s.port).map((o) => o.port),
          replicas: newNodes.filter((n) => n.port !== out.master.port).map((n) => n.port),
        }, `Sentinel ${s.port} counts only the new deployment after --finish`);
      }
      // And the group can fail over on its own again: the master frozen past down-after is replaced (a
      // majority of 3, where 6 remembered Sentinels would have needed 4 of which only 3 are left).
      const masterPid = pidOf(stateDir, `node-${out.master.port - PORT_BASE}`);
      process.kill(masterPid, 'SIGSTOP');
      try {
        const replaced = await eventually('a Sentinel failover to another new node', 30_000, async () => {
          const named = await Promise.all(ownSentinels.map((s) => withConnection({ ...s, password: SENTINEL_PASSWORD }, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)).catch(() => null)));
          const ports = named.map((a) => (Array.isArray(a) ? Number(a[1]) : 0));
          return ports.every((p) => p !== out.master.port && p === ports[0] && p > 0) ? ports[0] : undefined;
        });
        t.diagnostic(`after --finish, the master frozen: Sentinel failed over to port ${replaced}`);
      } finally {
        process.kill(masterPid, 'SIGCONT');
      }
    } finally {
      await writer.stop();
      await runCli(home, ['down', '--name', NAME]);
      await source.stop();
    }
  });

  // Where it is killed, and what the run after it must then do.
  for (const [i, [when, at, rerun]] of ([
    ['before the sync', /\[2\/7 deploy\] starting/, /\[2\/7 deploy\] (reusing|starting)/],
    ['during the sync', /\[3\/7 sync\] /, /\[2\/7 deploy\] reusing '/],
    // Sentinel may have finished the failover the killed run asked for (or started one itself, the old
    // master looking down behind the pause): the next run then finds it done; otherwise it switches over.
    ['during the switchover, writes paused', /\[4\/7 switchover\] paused writes on/, /\[4\/7 switchover\] (done|skipped: node-\d is already the master)/],
    ['after the switchover', /\[4\/7 switchover\] done/, /\[1\/7 check\] skipped: the source Sentinels already name node-\d/],
  ] as const).entries()) {
    const name = `kill-${i}`;
    test(`killed ${when}, run again: resumes to one master with nothing acknowledged lost`, async (t) => {
      source.start();
      await source.ready();
      await preload(50_000, 100);
      const writer = sourceWriter(`kill-${when.replaceAll(' ', '-')}`);
      const since = performance.now();
      writer.start();
      try {
        await writer.ackedMore(300);
        const first = await migrateKilledAt(name, at);
        assert.ok(first.killed, `migrate was killed ${when}: ${first.stderr}`);
        // Killed: never two masters meanwhile. (Killed inside the switchover, Sentinel may just have
        // promoted the new node while the old master, its writes paused, waits to be fenced: the same
        // moment as in 'redis-ha failover'. The next run fences it.)
        await sleep(500);
        const roles = await Promise.all([...sourceNodes, ...newNodes].map(role));
        if (!when.startsWith('during the switchover')) assert.ok(roles.filter((x) => x === 'master').length <= 1, `at most one master after the kill (roles: ${roles.join(', ')})`);
        const again = await runCli(home, argsFor(name), ENV, 240_000);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stderr, rerun);
        assert.match(again.stdout, new RegExp(`^migrated '${MASTER_NAME}' into '${name}': master node-\\d \\(127\\.0\\.0\\.1:88\\d\\d\\)`));
        assert.match(again.stdout, /\n {4}old nodes {6}127\.0\.0\.1:88\d\d, 127\.0\.0\.1:88\d\d, 127\.0\.0\.1:88\d\d: safe to remove now/);
        await writer.ackedMore(300);
        await writer.stop();
        await assertMigrated(t, writer, since, `killed ${when}`);
      } finally {
        await writer.stop();
        await runCli(home, ['down', '--name', name]);
        await source.stop();
      }
    });
  }

  test('stopped during the sync, --abort rolls back: the source keeps its master and its Sentinels count only each other', async (t) => {
    source.start();
    await source.ready();
    await preload(50_000, 100);
    const writer = sourceWriter('abort');
    const since = performance.now();
    writer.start();
    try {
      await writer.ackedMore(300);
      const first = await migrateKilledAt('aborted', /\[3\/7 sync\] /);
      assert.ok(first.killed, first.stderr);
      const r = await runCli(home, [...argsFor('aborted'), '--abort'], ENV, 240_000);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `rolled back: 'aborted' is removed, 127.0.0.1:${sourceNodes[0].port} is still the master of '${MASTER_NAME}', and its 3 Sentinels count only each other\n`);
      assert.deepEqual(await listeningPorts(PORT_BASE, 30), [], 'nothing of the new deployment runs');
      for (const s of sourceSentinels) {
        const view = await withConnection({ ...s, password: SENTINEL_PASSWORD }, async (c) => ({
          master: await sentinelNames(s),
          sentinels: parseFlatRecords(await c.call('SENTINEL', 'SENTINELS', MASTER_NAME)).map((x) => Number(x.get('port'))).sort(),
          replicas: parseFlatRecords(await c.call('SENTINEL', 'REPLICAS', MASTER_NAME)).map((x) => Number(x.get('port'))).sort(),
        }));
        assert.deepEqual(view, {
          master: `127.0.0.1:${sourceNodes[0].port}`,
          sentinels: sourceSentinels.filter((o) => o.port !== s.port).map((o) => o.port),
          replicas: [sourceNodes[1].port, sourceNodes[2].port],
        }, `source Sentinel ${s.port} after the rollback`);
      }
      await writer.ackedMore(300);
      await writer.stop();
      const missing = await writer.missingOn(sourceNodes[0], PASSWORD);
      t.diagnostic(`rollback: ${writer.acked.length} writes acknowledged, ${missing.length} lost, longest write gap ${Math.round(writer.longestGapSince(since))} ms`);
      assert.equal(missing.length, 0);
      // A migration started afresh after the rollback finds nothing of the aborted one.
      const dry = await runCli(home, [...argsFor('aborted'), '--dry-run'], ENV);
      assert.equal(dry.code, 0, dry.stderr);
    } finally {
      await writer.stop();
      await runCli(home, ['down', '--name', 'aborted']);
      await source.stop();
    }
  });

  test('--leave-old-nodes: redis-ha does not touch the old nodes after the switchover (the old master is still fenced)', async (t) => {
    source.start();
    await source.ready();
    await preload(10_000, 100);
    const priorities = async () => Promise.all(sourceNodes.map((n) => withConnection({ ...n, password: PASSWORD }, async (c) => ((await c.call('CONFIG', 'GET', 'replica-priority')) as string[])[1])));
    // An old replica with its own priority, to see that it is put back.
    await withConnection({ ...sourceNodes[2], password: PASSWORD }, (c) => c.call('CONFIG', 'SET', 'replica-priority', '42'));
    const before = await priorities();
    const writer = sourceWriter('left');
    const since = performance.now();
    writer.start();
    try {
      await writer.ackedMore(300);
      const r = await runCli(home, [...argsFor('left'), '--leave-old-nodes', '--json'], ENV, 240_000);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { steps: { step: string; detail: string }[] };
      assert.match(out.steps.find((s) => s.step === 'old-nodes')?.detail ?? '', /^left as they are \(replica-priority as before\)/);
      assert.deepEqual(await priorities(), before, 'the old nodes keep the replica-priority they had');
      await writer.ackedMore(300);
      await writer.stop();
      await assertMigrated(t, writer, since, '--leave-old-nodes');
    } finally {
      await writer.stop();
      await runCli(home, ['down', '--name', 'left']);
      await source.stop();
    }
  });
});
