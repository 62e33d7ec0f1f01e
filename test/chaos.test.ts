import { after, afterEach, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { eventually, parseAddress, passwordOf, pidOf as pidOfMember, reachedPort, runCli, statusOf, testHome } from './helpers.ts';
import { AckedWriter } from '../bench/writer.ts';
import { parseFlags, parseFlatRecord } from '../src/redis/parse.ts';

// Chaos on real processes with the `fast` profile (down-after 1 s). Every scenario runs a writer that
// records each write the master acknowledged (bench/writer.ts: one write in flight at a time, through
// Sentinel as an application would). After every fault the test waits for convergence and checks:
// exactly one master, every Sentinel names it, every replica follows it with its link up (all part of
// `healthy`), and that no acknowledged write is lost, or at most a bound given with its reason.
//
// Why a killed master loses none: Redis feeds the replication stream before it writes the reply, and
// writes both in the same event-loop pass (replicas first), so by the time the writer reads "OK" the
// write is in every replica's socket on this host; the replica Sentinel promotes has it.
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
  /** A writer through Sentinel, started, with 50 acknowledgements (evidence it runs) before the fault. */
  let running: AckedWriter | undefined;
  afterEach(async () => {
    await running?.stop(); // a failed scenario must not leave its writer running into the next
    running = undefined;
  });
  const startWriter = async (): Promise<AckedWriter> => {
    const s = await status();
    const w = running = new AckedWriter({ target: { masterName: s.masterName, sentinels: s.sentinels.map(({ host, port }) => ({ host, port })), sentinelPassword }, password, prefix: `w${Date.now()}`,
      // A frozen Sentinel accepts the connection and never answers: without a timeout, ioredis waits on it forever.
      options: { sentinelCommandTimeout: 1000 } });
    w.start();
    await w.ackedMore(50);
    return w;
  };
  /** Once converged on `s`: 50 more acknowledgements (the writer works again), then the keys the master lacks. */
  const missingAfter = async (t: TestContext, w: AckedWriter, s: Status): Promise<string[]> => {
    try {
      await w.ackedMore(50);
    } finally {
      await w.stop();
    }
    const missing = await w.missingOn(masterOf(s), password);
    t.diagnostic(`acknowledged writes: ${w.acked.length}, lost: ${missing.length}, failed attempts: ${w.failures} (${[...w.errors.keys()].slice(0, 3).join(' | ')})`);
    return missing;
  };
  const sentinelClient = (port: number) => new Redis({ host: '127.0.0.1', port, password: sentinelPassword, lazyConnect: true, maxRetriesPerRequest: 0 });

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

  test('1. SIGKILL the master five times in a row, under a steady writer: no acknowledged write lost', async (t) => {
    let s = await converged('a healthy start', 15_000);
    const w = await startWriter();
    for (let round = 1; round <= 5; round++) {
      const old = masterOf(s);
      process.kill(pidOf(old.id), 'SIGKILL');
      s = await converged(`a new master after kill ${round}`, 30_000, old.port);
      assert.equal(s.nodes.find((n) => n.id === old.id)?.role, 'replica', `${old.id} came back as a replica`);
    }
    assert.deepEqual(await missingAfter(t, w, s), [], 'acknowledged writes lost over five failovers');
  });

  test('2. SIGKILL the master and restart it at once: the replicas keep their data, no acknowledged write lost', async (t) => {
    let s = await converged('a healthy start', 15_000);
    const w = await startWriter();
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
    assert.deepEqual(await missingAfter(t, w, s), [], 'acknowledged writes lost');
  });

  test('3. SIGKILL every Redis node at once: one master and consistent Sentinels within 15 s; nothing acknowledged afterwards is lost', async (t) => {
    const s = await converged('a healthy start', 15_000);
    const w = await startWriter();
    for (const n of s.nodes) process.kill(pidOf(n.id), 'SIGKILL');
    // Persistence is off (the default: a cache), so every node restarts empty and the writes acknowledged
    // before the kill are gone with them: that loss is the deployment's contract, not a fault. The bound
    // is on the rest. The kills above are synchronous, so no acknowledgement was read in between; the one
    // write in flight may have run before the kill and be read just after it (index `boundary`).
    const boundary = w.acked.length;
    const after = await converged('one master after all nodes died', 15_000);
    const missing = new Set(await missingAfter(t, w, after));
    const lostAfterKill = w.acked.slice(boundary + 1).filter((k) => missing.has(k));
    t.diagnostic(`acknowledged before the kill: ${boundary}, after: ${w.acked.length - boundary}`);
    assert.deepEqual(lostAfterKill, [], 'writes acknowledged after every node restarted that are lost');
  });

  test('5. the controller killed during a failover adopts the new master and never re-links to the old one; nothing acknowledged after its return is lost', async (t) => {
    const s = await converged('a healthy start', 15_000);
    const w = await startWriter();
    const old = masterOf(s);
    const logPath = join(home, NAME, 'supervisor.log');
    const logBefore = readFileSync(logPath, 'utf8').length;
    const sentinelLogs = s.sentinels.map(({ id }) => join(home, NAME, id, `${id}.log`));
    const sentinelLogsBefore = sentinelLogs.map((f) => readFileSync(f, 'utf8').length);
    process.kill(pidOf('supervisor'), 'SIGKILL');
    const killedAfter = w.acked.length;
    const killedAt = performance.now();
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
    // The bound, and why. Until \`up\` the deployment is plain Sentinel: nothing fences or holds writes.
    // - Replication is asynchronous, so a SIGKILLed master takes with it the writes it acknowledged that
    //   its replicas had not yet read (under CI load, 1 to 4 seen). The promoted replica holds a prefix
    //   of the old master's stream: what is lost is a suffix of what was acknowledged before the kill
    //   (the signal lands a moment after \`killedAfter\` was read).
    // - At down-after 1 s a Sentinel that learns of the switch may flag the new master down before its
    //   fresh link's first PING is answered (one ping period, 1 s) and fail it over too (seen in CI under
    //   load: two promotions). The writes that master acknowledged while its replica was being promoted
    //   go the same way. So with more than one promotion, a loss before the controller's return is
    //   Sentinel's, and allowed; the count is reported.
    // Nothing acknowledged once the controller is back may be lost, ever. Back means its first pass
    // has acted (the first line after \`supervising\`, or when that pass holds writes on a master
    // Sentinel is failing over, the \`did hold-writes\` that follows it), not the moment \`up\` is
    // run: a CI run lost 174 writes that the old failover's second promotion took from node-1 between
    // the two (acknowledged 3.81 s after the kill, after \`up\` was run), and another 29 that node-2
    // acknowledged in the 5 ms between the first pass's line and its hold (CI, 2026-12-04).
    const supervisorLines = sinceAdoption.split('\n');
    const passAt = supervisorLines.findIndex((l) => / supervising '/.test(l)) + 1;
    const firstPass = supervisorLines[passAt] ?? '';
    const acted = / holding writes on /.test(firstPass) ? supervisorLines.slice(passAt + 1).find((l) => / did hold-writes on /.test(l)) : undefined;
    const firstPassWall = Date.parse((acted ?? firstPass).split(' ')[0] ?? '');
    assert.ok(Number.isFinite(firstPassWall), `the adopting supervisor logged a first pass: ${supervisorLines.slice(0, 12).join(' | ')}`);
    const wallOfPerf = Date.now() - performance.now();
    const backAt = w.ackTimes.findIndex((at) => at + wallOfPerf > firstPassWall);
    const returnedAfter = backAt === -1 ? w.acked.length : backAt;
    const missing = await missingAfter(t, w, after);
    const promotions = sentinelLogs.map((f, i) => readFileSync(f, 'utf8').slice(sentinelLogsBefore[i]).split('+promoted-slave').length - 1).reduce((a, b) => a + b, 0);
    const lostAt = missing.map((k) => w.acked.indexOf(k)).sort((a, b) => a - b);
    t.diagnostic(`Sentinel promotions since the kill: ${promotions}; lost: ${lostAt.length} (acknowledged before the kill: ${lostAt.filter((i) => i <= killedAfter + 1).length})`);
    const suffixOfPreKill = lostAt.every((i, j) => i === lostAt[0] + j) && lostAt.every((i) => i <= killedAfter + 1) && w.acked.slice(lostAt[0], killedAfter).every((k) => missing.includes(k));
    const beforeReturn = lostAt.every((i) => i < returnedAfter);
    assert.ok(missing.length === 0 || (promotions === 1 ? suffixOfPreKill : beforeReturn),
      `lost ${missing.length}: #${lostAt.map((i) => `${i} (acknowledged ${Math.round(w.ackTimes[i]! - killedAt)} ms after the kill)`).join(', #')} of ${w.acked.length}; SIGKILL sent after #${killedAfter - 1}, the controller back after #${returnedAfter - 1}; ${promotions} Sentinel promotions; supervisor log since the kill: ${sinceAdoption.split('\n').slice(0, 60).join(' | ')}`);
  });

  test('6. a frozen master (SIGSTOP longer than down-after, then SIGCONT) comes back as a fenced replica; at most the write in flight is lost', async (t) => {
    const s = await converged('a healthy start', 15_000);
    const w = await startWriter();
    const old = masterOf(s);
    const pid = pidOf(old.id);
    process.kill(pid, 'SIGSTOP');
    const frozenAt = w.acked.length;
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
    // The bound, and why: the writer's one write in flight reached the master before it froze. On
    // SIGCONT the old master reads it before it notices that its replicas left (they follow the new
    // master now), so min-replicas-to-write still counts them and it answers OK; then it is fenced and
    // that write is gone. Every later write meets 0 good replicas (Redis recounts them as each replica
    // link closes) and gets NOREPLICAS, until the fence makes it READONLY. So: at most 1, acknowledged
    // after SIGSTOP was sent (the signal lands a moment later, so not always at index `frozenAt` itself).
    const missing = await missingAfter(t, w, after);
    assert.ok(missing.length <= 1 && missing.every((k) => w.acked.indexOf(k) >= frozenAt), `lost ${missing.length}: ${missing.map((k) => `${k} (#${w.acked.indexOf(k)})`).join(', ')}; SIGSTOP sent after #${frozenAt - 1}`);
  });

  test('7. a Sentinel fails over a live master by itself (SENTINEL FAILOVER asked of it directly): the old master takes no write the new one lacks', async (t) => {
    // Plain Sentinel loses writes here: the old master keeps acknowledging them (its other replica still
    // counts for min-replicas-to-write) from the moment Sentinel promotes a replica until Sentinel
    // reconfigures it. The controller holds the old master's writes from Sentinel's +try-failover on,
    // the same hold that covers a master restarted after Sentinel saw it down (scenario 3 under load).
    const s = await converged('a healthy start', 15_000);
    const w = await startWriter();
    const old = masterOf(s);
    const logPath = join(home, NAME, 'supervisor.log');
    const logBefore = readFileSync(logPath, 'utf8').length;
    // Sentinel may abort its own failover (no replica it finds fit in time; seen under CI load: after
    // failover-timeout the master was still node-0): the scenario needs one, so it is asked again, up
    // to three times, each once the last has had its failover-timeout (10 s) to switch.
    for (let attempt = 1; ; attempt++) {
      const sc = sentinelClient(s.sentinels[0].port);
      await sc.connect();
      let reply: unknown;
      try {
        reply = await sc.call('SENTINEL', 'FAILOVER', s.masterName).catch((err: Error) => err.message);
      } finally {
        sc.disconnect();
      }
      if (attempt === 3) assert.equal(reply, 'OK');
      const switched = await eventually('a majority of Sentinels to switch', 12_000, async () => {
        const now = await status();
        return now.sentinels.filter((x) => x.master && x.master.port !== old.port).length >= 2 ? true : undefined;
      }).catch((err: Error) => (attempt < 3 ? undefined : Promise.reject(err)));
      if (switched) break;
      t.diagnostic(`Sentinel's failover ${attempt} (${String(reply)}) did not switch; asking again`);
    }
    const after = await converged('the master Sentinel promoted', 30_000, old.port);
    assert.equal(after.nodes.find((n) => n.id === old.id)?.role, 'replica');
    assert.match(readFileSync(logPath, 'utf8').slice(logBefore), new RegExp(`holding writes on ${old.id}$`, 'm'));
    assert.deepEqual(await missingAfter(t, w, after), [], 'acknowledged writes lost');
  });

  test('4. lose a minority of Sentinels: failover works; lose a majority: writes go on, and a dead master is not failed over until they return', async (t) => {
    let s = await converged('a healthy start', 15_000);
    const w = await startWriter();
    const sentinel0 = pidOf('sentinel-0');
    const sentinel1 = pidOf('sentinel-1');
    const sentinel2 = s.sentinels.find((x) => x.id === 'sentinel-2')!;
    let epochBefore = 0;
    const logPath = join(home, NAME, 'supervisor.log');
    let returnedAt = 0; // supervisor.log's length when the Sentinels were let go
    let killed: Member | undefined;
    process.kill(sentinel0, 'SIGSTOP');
    try {
      const old = masterOf(s);
      process.kill(pidOf(old.id), 'SIGKILL');
      s = await eventually('a failover with 2 of 3 Sentinels', 30_000, async () => {
        const now = await status();
        const agree = now.sentinels.filter((x) => x.master && x.master.port !== old.port).length;
        return agree >= 2 && now.nodes.filter((n) => n.role === 'master').length === 1 && masterOf(now).port !== old.port ? now : undefined;
      });
      await w.ackedMore(50); // writes go on under the new master
      process.kill(sentinel1, 'SIGSTOP');
      try {
        const now = await status();
        assert.ok(now.problems.some((p) => p === 'failover is impossible: only 1 of 3 Sentinels are reachable and a failover needs 2'), now.problems.join('; '));
        await w.ackedMore(50); // the healthy master keeps taking writes
        // Now the master dies while only sentinel-2 runs. The supervisor restarts the node, empty, as a
        // replica of the replica with the most data (never as master). Sentinel-2 alone reaches neither
        // its quorum (o_down) nor the majority that must authorize a failover; the controller sees 1 of
        // 3 Sentinels and may not arrange one either (plan rule 3a). So nothing is promoted.
        const sc = sentinelClient(sentinel2.port);
        await sc.connect();
        try {
          epochBefore = Number(parseFlatRecord(await sc.call('SENTINEL', 'MASTER', now.masterName)).get('config-epoch'));
          killed = masterOf(now);
          const victim = killed;
          const logFrom = readFileSync(logPath, 'utf8').length;
          process.kill(pidOf(victim.id), 'SIGKILL');
          // Evidence that both actors have seen the dead master: the supervisor restarted it as a replica,
          // and the controller logged its decision for a master it cannot find.
          const since = await eventually('the restart and the controller\'s decision in supervisor.log', 15_000, async () => {
            const text = readFileSync(logPath, 'utf8').slice(logFrom);
            return new RegExp(`starting ${victim.id} as replica of `).test(text) && text.includes('failover impossible: 1 of 3 sentinels reachable, 2 needed; master endpoint closed') ? text : undefined;
          });
          assert.doesNotMatch(since, /promot|sentinel-failover|starting node-\d as master/, 'nothing was promoted');
          await assert.rejects(sc.call('SENTINEL', 'CKQUORUM', now.masterName), {
            message: 'NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master. Not enough available Sentinels to reach the majority and authorize a failover',
          });
          const view = parseFlatRecord(await sc.call('SENTINEL', 'MASTER', now.masterName));
          assert.equal(parseFlags(view.get('flags')).has('failover_in_progress'), false, `sentinel-2 flags: ${view.get('flags')}`);
          assert.equal(Number(view.get('config-epoch')), epochBefore, 'no new config epoch');
          assert.equal(`${view.get('ip')}:${view.get('port')}`, `${victim.host}:${victim.port}`, 'sentinel-2 still names the dead master');
          const nodes = (await status()).nodes;
          assert.deepEqual(nodes.filter((n) => n.role === 'master').map((n) => n.id), [], 'no node is master');
          assert.equal(nodes.find((n) => n.id === victim.id)?.role, 'replica');
        } finally {
          sc.disconnect();
        }
      } finally {
        returnedAt = readFileSync(logPath, 'utf8').length;
        process.kill(sentinel1, 'SIGCONT');
      }
    } finally {
      process.kill(sentinel0, 'SIGCONT');
    }
    // Once the Sentinels are back they are in TILT for 30 s (SIGSTOP looks like a clock jump; in TILT a
    // Sentinel answers "not down" to its peers and the controller waits). Then the master they name is a
    // replica at the dead master's address: Sentinel counts a master that reports role slave as down.
    // Its failover aborts (-failover-abort-no-good-slave): every replica's link has been down longer
    // than ten times down-after. The controller then makes the node with the most data the master the
    // others follow and asks again (plan rule 2c2), and Sentinel promotes one of them. One failover then
    // is right: the master is gone and a majority can now authorize it. It goes to a node with the data.
    const back = await converged('all Sentinels back and the master replaced', 60_000, killed!.port);
    const sc = sentinelClient(sentinel2.port);
    await sc.connect();
    const epochAfter = Number(parseFlatRecord(await sc.call('SENTINEL', 'MASTER', back.masterName)).get('config-epoch'));
    sc.disconnect();
    assert.ok(epochAfter > epochBefore, `a failover after the Sentinels returned (config epoch ${epochBefore} -> ${epochAfter}; an aborted attempt also takes an epoch)`);
    // Exactly one switch away from the dead master's address (a returning Sentinel also reports, late, the
    // switch it missed while stopped, away from an older master).
    const switches = new Set([...readFileSync(logPath, 'utf8').slice(returnedAt).matchAll(/\+switch-master \S+ (\S+ \d+) (\S+ \d+)/g)]
      .filter((m) => m[1] === `${killed!.host} ${killed!.port}`).map((m) => `${m[1]} -> ${m[2]}`));
    assert.deepEqual([...switches], [`${killed!.host} ${killed!.port} -> ${back.master!.host} ${back.master!.port}`], 'exactly one failover of the dead master');
    assert.deepEqual(await missingAfter(t, w, back), [], 'acknowledged writes lost');
  });
});
