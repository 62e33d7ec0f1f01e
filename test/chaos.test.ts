import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { eventually, parseAddress, passwordOf, pidOf as pidOfMember, reachedPort, runCli, statusOf, testHome } from './helpers.ts';
import { AckedWriter } from '../bench/writer.ts';

// Chaos on real processes with the `fast` profile (down-after 1 s). After every fault the test waits
// for convergence and checks: exactly one master, every Sentinel names it, every replica follows it
// with its link up (all part of `healthy`), and counts acknowledged writes lost.
const PORT_BASE = 7600;
const NAME = 'chaos';
const home = testHome();

interface Member { id: string; host: string; port: number; role: string }
interface Status {
  healthy: boolean;
  problems: string[];
  masterName: string;
  master: { host: string; port: number } | null;
  nodes: Member[];
  sentinels: { id: string; host: string; port: number; master: { host: string; port: number } | null }[];
  endpoints: { master: string };
}

/** The application password, for checking where the master endpoint leads (set in `before`). */
let endpointPassword = '';

const status = () => statusOf<Status>(home, NAME);

const pidOf = (id: string) => pidOfMember(join(home, NAME), id);

/** Waits for a healthy topology (optionally with a master other than `not`) and checks the invariants. */
async function converged(what: string, timeoutMs: number, not?: number): Promise<Status> {
  const s = await eventually(what, timeoutMs, async () => {
    const now = await status();
    return now.healthy && now.master && now.master.port !== not ? now : undefined;
  });
  const masters = s.nodes.filter((n) => n.role === 'master');
  assert.equal(masters.length, 1, 'exactly one master');
  assert.equal(masters[0].port, s.master?.port);
  for (const sen of s.sentinels) assert.deepEqual(sen.master, s.master, `${sen.id} names the master`);
  const endpoint = parseAddress(s.endpoints.master);
  await eventually('the master endpoint to reach the master', 5000, async () => ((await reachedPort(endpoint, endpointPassword)) === s.master?.port ? true : undefined));
  return s;
}

const masterOf = (s: Status) => s.nodes.find((n) => n.role === 'master') as Member;

describe('chaos on real processes', () => {
  let password = '';
  let sentinelPassword = '';
  const writer = () =>
    status().then((s) => new AckedWriter({ target: { masterName: s.masterName, sentinels: s.sentinels.map(({ host, port }) => ({ host, port })), sentinelPassword }, password, prefix: `w${Date.now()}` }));

  before(async () => {
    const up = await runCli(home, ['up', '-d', '--name', NAME, '--port-base', String(PORT_BASE), '--profile', 'fast']);
    assert.equal(up.code, 0, up.stderr);
    password = await passwordOf(home, NAME);
    endpointPassword = password;
    sentinelPassword = await passwordOf(home, NAME, true);
  });

  after(async () => {
    await runCli(home, ['down', '--name', NAME]);
  });

  test('1. SIGKILL the master five times in a row, under a steady writer', async (t) => {
    const w = await writer();
    w.start();
    let s = await converged('a healthy start', 15_000);
    for (let round = 1; round <= 5; round++) {
      const old = masterOf(s);
      process.kill(pidOf(old.id), 'SIGKILL');
      s = await converged(`a new master after kill ${round}`, 30_000, old.port);
      assert.equal(s.nodes.find((n) => n.id === old.id)?.role, 'replica', `${old.id} came back as a replica`);
    }
    await sleep(300);
    await w.stop();
    const lost = (await w.missingOn(masterOf(s), password)).length;
    t.diagnostic(`acknowledged writes: ${w.acked.length}, lost: ${lost}, failed attempts: ${w.failures}`);
    assert.ok(w.acked.length > 0, 'the writer made progress');
    assert.ok(lost < w.acked.length / 2, `most acknowledged writes survive five failovers (lost ${lost} of ${w.acked.length})`);
  });

  test('2. SIGKILL the master and restart it at once: the replicas keep their data', async () => {
    let s = await converged('a healthy start', 15_000);
    const client = new Redis({ ...s.master!, password });
    const keys = Array.from({ length: 1000 }, (_, i) => `kept:${i}`);
    await client.mset(...keys.flatMap((k) => [k, 'v']));
    assert.equal(await client.wait(2, 5000), 2);
    client.disconnect();
    const old = masterOf(s);
    process.kill(pidOf(old.id), 'SIGKILL'); // the supervisor restarts it within ~100 ms, empty
    s = await converged('the data to be served by a replica that kept it', 30_000, old.port);
    for (const n of s.nodes) {
      const c = new Redis({ host: n.host, port: n.port, password });
      await eventually(`${n.id} to hold all 1000 keys`, 10_000, async () => ((await c.exists(...keys)) === 1000 ? true : undefined));
      c.disconnect();
    }
  });

  test('3. SIGKILL every Redis node at once: one master and consistent Sentinels within 15 s', async () => {
    const s = await converged('a healthy start', 15_000);
    for (const n of s.nodes) process.kill(pidOf(n.id), 'SIGKILL');
    await converged('one master after all nodes died', 15_000);
  });

  test('4. lose a minority of Sentinels: failover works; lose a majority: no failover, writes go on', async () => {
    let s = await converged('a healthy start', 15_000);
    const sentinel0 = pidOf('sentinel-0');
    process.kill(sentinel0, 'SIGSTOP');
    try {
      const old = masterOf(s);
      process.kill(pidOf(old.id), 'SIGKILL');
      s = await eventually('a failover with 2 of 3 Sentinels', 30_000, async () => {
        const now = await status();
        const agree = now.sentinels.filter((x) => x.master && x.master.port !== old.port).length;
        return agree >= 2 && now.nodes.filter((n) => n.role === 'master').length === 1 && masterOf(now).port !== old.port ? now : undefined;
      });
      process.kill(pidOf('sentinel-1'), 'SIGSTOP');
      try {
        const now = await status();
        assert.ok(now.problems.some((p) => p === 'failover is impossible: only 1 of 3 Sentinels are reachable and a failover needs 2'), now.problems.join('; '));
        const c = new Redis({ host: masterOf(s).host, port: masterOf(s).port, password });
        assert.equal(await c.set('still-writable', 'yes'), 'OK', 'the healthy master keeps taking writes');
        c.disconnect();
      } finally {
        process.kill(pidOf('sentinel-1'), 'SIGCONT');
      }
    } finally {
      process.kill(sentinel0, 'SIGCONT');
    }
    // A Sentinel stopped with SIGSTOP enters TILT for 30 s once it runs again: wait that out too.
    await converged('all Sentinels back', 60_000);
  });

  test('5. the controller killed during a failover adopts the new master and never re-links to the old one', async () => {
    const s = await converged('a healthy start', 15_000);
    const old = masterOf(s);
    const logPath = join(home, NAME, 'supervisor.log');
    const logBefore = readFileSync(logPath, 'utf8').length;
    process.kill(pidOf('supervisor'), 'SIGKILL');
    process.kill(pidOf(old.id), 'SIGKILL'); // nobody restarts it now: Sentinel fails over by itself
    await eventually('Sentinel to switch without the controller', 20_000, async () => {
      const now = await status();
      return now.sentinels.filter((x) => x.master && x.master.port !== old.port).length >= 2 ? true : undefined;
    });
    const up = await runCli(home, ['up', '-d', '--name', NAME, '--port-base', String(PORT_BASE), '--profile', 'fast']);
    assert.equal(up.code, 0, up.stderr);
    const after = await converged('the adopted topology', 30_000, old.port);
    assert.equal(after.nodes.find((n) => n.id === old.id)?.role, 'replica', 'the old master rejoined as a replica');
    const sinceAdoption = readFileSync(logPath, 'utf8').slice(logBefore);
    assert.match(sinceAdoption, new RegExp(`adopted ${after.nodes.find((n) => n.role === 'master')?.id}`));
    assert.doesNotMatch(sinceAdoption, new RegExp(`-> ${old.id}\\b`), 'no replica was pointed back at the old master');
  });

  test('6. a frozen master (SIGSTOP longer than down-after, then SIGCONT) comes back as a fenced replica', async () => {
    const s = await converged('a healthy start', 15_000);
    const old = masterOf(s);
    const pid = pidOf(old.id);
    process.kill(pid, 'SIGSTOP');
    try {
      await eventually('Sentinel to switch away from the frozen master', 20_000, async () => {
        const now = await status();
        return now.sentinels.filter((x) => x.master && x.master.port !== old.port).length >= 2 ? true : undefined;
      });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const after = await converged('the old master fenced', 30_000, old.port);
    assert.equal(after.nodes.find((n) => n.id === old.id)?.role, 'replica');
  });
});
