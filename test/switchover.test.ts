import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, runCli, testHome, passwordOf, statusOf } from './helpers.ts';
import { join } from 'node:path';
import { AckedWriter } from '../bench/writer.ts';
import { loadDeployment } from '../src/local/deployment.ts';
import { topologyOf } from '../src/local/lifecycle.ts';
import { releaseWrites, SWITCHOVER_CLIENT_NAME, WritesStillHeld } from '../src/topology/act.ts';
import { nodeEndpointIn } from '../src/topology/observe.ts';
import { connect } from '../src/redis/connect.ts';

const PORT_BASE = 7500;
const NAME = 'sw';
const home = testHome();

interface StatusJson {
  healthy: boolean;
  masterName: string;
  master: { host: string; port: number } | null;
  nodes: { id: string; host: string; port: number; role: string }[];
  sentinels: { host: string; port: number }[];
  problems: string[];
}

interface SwitchoverJson {
  from: { id: string; host: string; port: number };
  to: { id: string; host: string; port: number };
  writePauseMs: number;
  sentinelsAgreedMs: number;
  oldMasterReleasedMs: number;
  offsetAtSwitch: number;
  tookMs: number;
  warnings: string[];
}

const status = () => statusOf<StatusJson>(home, NAME);
const password = (sentinel = false) => passwordOf(home, NAME, sentinel);

async function failover(args: string[]): Promise<SwitchoverJson> {
  const r = await runCli(home, ['failover', '--name', NAME, '--json', ...args], {}, 120_000);
  assert.equal(r.code, 0, `failover ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as SwitchoverJson;
}

/** Waits until the deployment is healthy with `id` as its master. */
async function healthyWithMaster(id: string): Promise<StatusJson> {
  return eventually(`a healthy topology with master ${id}`, 30_000, async () => {
    const s = await status();
    const master = s.nodes.find((n) => n.id === id);
    return s.healthy && master && s.master?.port === master.port && master.role === 'master' ? s : undefined;
  });
}

function sentinelWriter(s: StatusJson, pw: string, sentinelPw: string, prefix: string): AckedWriter {
  return new AckedWriter({ target: { masterName: s.masterName, sentinels: s.sentinels.map(({ host, port }) => ({ host, port })), sentinelPassword: sentinelPw }, password: pw, prefix });
}

function assertResult(r: SwitchoverJson, from: string | undefined, to: string | undefined): void {
  if (from) assert.equal(r.from.id, from);
  if (to) assert.equal(r.to.id, to);
  assert.notEqual(r.from.id, r.to.id);
  assert.equal(typeof r.writePauseMs, 'number');
  assert.ok(r.writePauseMs > 0, `writePauseMs is ${r.writePauseMs}`);
  assert.ok(r.sentinelsAgreedMs >= r.writePauseMs);
  assert.ok(r.oldMasterReleasedMs >= r.sentinelsAgreedMs);
  assert.ok(r.offsetAtSwitch > 0);
  assert.deepEqual(r.warnings, []);
}

describe('planned switchover (redis-ha failover) on real processes', () => {
  let pw = '';
  let sentinelPw = '';

  before(async () => {
    const up = await runCli(home, ['up', '--detach', '--name', NAME, '--port-base', String(PORT_BASE)]);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    pw = await password();
    sentinelPw = await password(true);
  });

  after(async () => {
    await runCli(home, ['down', '--name', NAME]);
  });

  test('failover --to node-2 under a write load: node-2 becomes master, no acknowledged write lost', async (t) => {
    const s = await healthyWithMaster('node-0');
    const writer = sentinelWriter(s, pw, sentinelPw, 'one');
    writer.start();
    try {
      await writer.ackedMore(200);
      const r = await failover(['--to', 'node-2']);
      assertResult(r, 'node-0', 'node-2');
      await healthyWithMaster('node-2');
      await writer.ackedMore(200); // the writer found the new master by itself
      t.diagnostic(`writePauseMs=${r.writePauseMs} sentinelsAgreedMs=${r.sentinelsAgreedMs} oldMasterReleasedMs=${r.oldMasterReleasedMs} tookMs=${r.tookMs}`);
    } finally {
      await writer.stop();
    }
    t.diagnostic(`acknowledged writes=${writer.acked.length} failed attempts=${writer.failures} longest gap between acks=${Math.round(writer.longestGapSince(0))} ms`);
    const after = await status();
    assert.equal(after.nodes.find((n) => n.role === 'master')?.id, 'node-2');
    assert.deepEqual(await writer.missingOn(after.master as { host: string; port: number }, pw), [], 'acknowledged writes lost');
  });

  test('two switchovers back to back (to node-0, then to the most caught-up replica)', async (t) => {
    const s = await healthyWithMaster('node-2');
    const writer = sentinelWriter(s, pw, sentinelPw, 'two');
    writer.start();
    let second: SwitchoverJson;
    try {
      await writer.ackedMore(100);
      const first = await failover(['--to', 'node-0']);
      assertResult(first, 'node-2', 'node-0');
      second = await failover([]);
      assertResult(second, 'node-0', undefined);
      await healthyWithMaster(second.to.id);
      await writer.ackedMore(100);
      t.diagnostic(`writePauseMs=${first.writePauseMs},${second.writePauseMs} sentinelsAgreedMs=${first.sentinelsAgreedMs},${second.sentinelsAgreedMs}`);
    } finally {
      await writer.stop();
    }
    t.diagnostic(`acknowledged writes=${writer.acked.length} failed attempts=${writer.failures} longest gap between acks=${Math.round(writer.longestGapSince(0))} ms`);
    const after = await status();
    assert.equal(after.nodes.find((n) => n.role === 'master')?.id, second.to.id);
    assert.deepEqual(await writer.missingOn(after.master as { host: string; port: number }, pw), [], 'acknowledged writes lost');
  });

  // The controller releases its holds with `releaseWrites`, after any pass whose plan no longer asks for
  // one (a look that missed the failing-over Sentinel is enough). One `CLIENT UNPAUSE` lifts every
  // `CLIENT PAUSE`, the switchover's included, so a blind release used to let writes through to the old
  // master while Sentinel promoted the target. Here the test is that blind controller: it releases the
  // old master over and over while the switchover runs under a write load.
  test('a release of the old master during the switchover is refused while the switchover holds it; no acknowledged write lost', async (t) => {
    const s = await eventually('a healthy topology', 30_000, async () => {
      const now = await status();
      return now.healthy ? now : undefined;
    });
    const old = s.nodes.find((n) => n.role === 'master');
    const target = s.nodes.find((n) => n.role === 'replica');
    assert.ok(old && target);
    const d = loadDeployment(join(home, NAME));
    assert.ok(d);
    const topology = topologyOf(d);
    const writer = sentinelWriter(s, pw, sentinelPw, 'blind');
    const refusals = new Set<string>();
    let releases = 0;
    let dropped = 0;
    let switching = true;
    writer.start();
    try {
      await writer.ackedMore(100);
      const releasing = (async () => {
        while (switching) {
          try {
            await releaseWrites(topology, old);
            releases++;
          } catch (err) {
            // The fence drops every normal client, this loop's connection too.
            if (err instanceof WritesStillHeld) refusals.add(err.message);
            else dropped++;
          }
        }
      })();
      const r = await failover(['--to', target.id]).finally(() => (switching = false));
      await releasing;
      assertResult(r, old.id, target.id);
      await healthyWithMaster(target.id);
      await writer.ackedMore(100);
      t.diagnostic(`releases=${releases} dropped=${dropped} refusals: ${[...refusals].join(' | ')}`);
    } finally {
      await writer.stop();
    }
    const after = await status();
    assert.deepEqual(await writer.missingOn(after.master as { host: string; port: number }, pw), [], 'acknowledged writes lost');
    // Which guard refused depends on timing (the switchover's claim from the pause to the request, the
    // failing-over Sentinel from then on); each refusal is one of the two, and there was at least one.
    const claim = /^a switchover holds them \(its connection from 127\.0\.0\.1:\d+ is open\)$/;
    const sentinel = /^sentinel-\d reports a failover in progress \((wait_start|select_slave|send_slaveof_noone|wait_promotion|reconf_slaves|update_config)\)$/;
    assert.ok(refusals.size >= 1, 'the blind releases were refused at least once');
    for (const m of refusals) assert.ok(claim.test(m) || sentinel.test(m), m);
    // Once fenced, the old master is a replica: nothing keeps its (already lifted) pause.
    await releaseWrites(topology, old);
    // The claim alone, on a settled deployment: a connection by the switchover's name keeps a pause.
    const claimer = connect(nodeEndpointIn(topology, old), 1000);
    await claimer.connect();
    try {
      await claimer.call('CLIENT', 'SETNAME', SWITCHOVER_CLIENT_NAME);
      await assert.rejects(releaseWrites(topology, old), (err: Error) => err instanceof WritesStillHeld && claim.test(err.message));
    } finally {
      claimer.disconnect();
    }
    await eventually('the claim gone with its connection', 5_000, () => releaseWrites(topology, old).then(() => true, () => undefined));
  });

  test('an unknown --to node, or the master itself, is refused with one clear line', async () => {
    const s = await status();
    // README: "Exit codes: 0 ok, 1 failed or unhealthy, 2 bad input". An unknown node is bad input.
    const unknown = await runCli(home, ['failover', '--name', NAME, '--to', 'node-9']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.equal(unknown.stdout, '');
    const valid = s.nodes.map((n) => `${n.id} (${n.host}:${n.port})`).join(', ');
    assert.equal(unknown.stderr, `redis-ha: --to: 'node-9' is not a node of '${NAME}'; valid: ${valid}\n`);

    const master = s.nodes.find((n) => n.role === 'master');
    assert.ok(master);
    // A valid node that cannot be switched to: the switchover refuses it (exit 1, "failed").
    const self = await runCli(home, ['failover', '--name', NAME, '--to', master.id]);
    assert.equal(self.code, 1, self.stderr);
    assert.equal(self.stdout, '');
    assert.equal(self.stderr, `redis-ha: failover of '${NAME}': ${master.id} is already the master; see 'redis-ha status --name ${NAME}'\n`);
  });
});
