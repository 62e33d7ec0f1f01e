import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckedWriter } from '../bench/writer.ts';
import { eventually, parseAddress, passwordOf, reachedPort, refusalDeadlineMs, runCli, statusOf, testHome } from './helpers.ts';

// Chaos test 7: the master is partitioned from everything else. Every Redis node and Sentinel is a
// host of its own: a network namespace with a veth on a bridge (10.231.0.0/24, made and removed by
// this test). The supervisor, its controller and the endpoints stay in the test's namespace and reach
// the members through the bridge, like any other host; the partition takes the master's link down.
const PORT_BASE = 7700;
const NAME = 'part';
const MAX_LAG_SECONDS = 2;
const home = testHome();
const BRIDGE = 'rhp-br';
const MEMBERS = ['node-0', 'node-1', 'node-2', 'sentinel-0', 'sentinel-1', 'sentinel-2'];
const netnsOf = (id: string) => `rhp-${id}`;
const hostLinkOf = (id: string) => `rhp-h${MEMBERS.indexOf(id)}`;
const addressOf = (id: string) => `10.231.0.${10 + MEMBERS.indexOf(id)}`;

/** Runs `ip ...` (or any command); throws with its stderr, so a sandbox without namespaces says why. */
function run(command: string, ...args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`network namespaces cannot be made here: '${command} ${args.join(' ')}' failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

function removeHosts(): void {
  for (const id of MEMBERS) spawnSync('ip', ['netns', 'del', netnsOf(id)]);
  spawnSync('ip', ['link', 'del', BRIDGE]);
}

function makeHosts(): void {
  removeHosts();
  run('ip', 'link', 'add', BRIDGE, 'type', 'bridge');
  run('ip', 'addr', 'add', '10.231.0.1/24', 'dev', BRIDGE);
  run('ip', 'link', 'set', BRIDGE, 'up');
  for (const id of MEMBERS) {
    const ns = netnsOf(id);
    const inside = `rhp-c${MEMBERS.indexOf(id)}`;
    run('ip', 'netns', 'add', ns);
    run('ip', 'link', 'add', hostLinkOf(id), 'type', 'veth', 'peer', 'name', inside);
    run('ip', 'link', 'set', inside, 'netns', ns);
    run('ip', 'link', 'set', hostLinkOf(id), 'master', BRIDGE);
    run('ip', 'link', 'set', hostLinkOf(id), 'up');
    run('ip', '-n', ns, 'addr', 'add', `${addressOf(id)}/24`, 'dev', inside);
    run('ip', '-n', ns, 'link', 'set', inside, 'up');
    run('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  }
}

interface Status {
  healthy: boolean;
  problems: string[];
  master: { host: string; port: number } | null;
  nodes: { id: string; host: string; port: number; role: string; following?: string | null; reachable: boolean }[];
  sentinels: { id: string; master: { host: string; port: number } | null; reachable: boolean }[];
  endpoints: { master: string };
}

const status = () => statusOf<Status>(home, NAME);

describe('chaos 7: the master partitioned from the rest (network namespaces)', () => {
  let password = '';

  before(async () => {
    makeHosts();
    const placement = Object.fromEntries(MEMBERS.map((id) => [id, { netns: netnsOf(id), host: addressOf(id) }]));
    writeFileSync(join(home, 'placement.json'), JSON.stringify(placement));
    writeFileSync(join(home, 'spec.yaml'), `name: ${NAME}\nminReplicasMaxLag: ${MAX_LAG_SECONDS}\nsentinel:\n  profile: fast\n`);
    const up = await runCli(home, ['up', '-d', '-f', join(home, 'spec.yaml'), '--port-base', String(PORT_BASE), '--placement', join(home, 'placement.json')]);
    assert.equal(up.code, 0, up.stderr);
    password = await passwordOf(home, NAME);
  });

  after(async () => {
    await runCli(home, ['down', '--name', NAME]);
    removeHosts();
  });

  test('the isolated master soon refuses writes (min-replicas-max-lag), the majority fails over, the old master rejoins as a replica', async (t) => {
    const start = await status();
    assert.equal(start.healthy, true, start.problems.join('; '));
    const old = start.nodes.find((n) => n.role === 'master') as Status['nodes'][number];
    assert.equal(old.host, addressOf(old.id), 'the master runs as a host of its own');
    const endpoint = parseAddress(start.endpoints.master);
    const writer = new AckedWriter({ target: { endpoint }, password, prefix: 'partition' });
    writer.start();
    let partitionedAt = 0;
    try {
      await writer.ackedMore(200);
      // Cut the master off: its only link goes down, as if its switch port died.
      partitionedAt = performance.now();
      run('ip', 'link', 'set', hostLinkOf(old.id), 'down');

      // From inside its own namespace (where a client cut off with it would be), write until it refuses.
      let refusedAfterMs = Number.NaN;
      let last = '';
      while (performance.now() - partitionedAt < (MAX_LAG_SECONDS + 10) * 1000) {
        const r = spawnSync('ip', ['netns', 'exec', netnsOf(old.id), 'redis-cli', '-h', old.host, '-p', String(old.port), 'SET', 'isolated-write', String(Date.now())], {
          encoding: 'utf8',
          env: { ...process.env, REDISCLI_AUTH: password },
        });
        last = `${r.stdout}${r.stderr}`.trim();
        if (/NOREPLICAS/.test(last)) {
          refusedAfterMs = performance.now() - partitionedAt;
          break;
        }
        await sleep(100);
      }
      t.diagnostic(`the isolated master refused writes ${Math.round(refusedAfterMs)} ms after the partition (min-replicas-max-lag ${MAX_LAG_SECONDS} s): ${last}`);
      const within = refusalDeadlineMs(MAX_LAG_SECONDS);
      assert.ok(refusedAfterMs <= within, `the isolated master still took writes ${within} ms after the partition (last reply: ${last})`);

      const failedOver = await eventually('the majority side to fail over', 30_000, async () => {
        const s = await status();
        const named = s.sentinels.filter((x) => x.reachable && x.master && x.master.port !== old.port);
        const master = s.nodes.find((n) => n.reachable && n.role === 'master');
        return named.length === 3 && master && master.port !== old.port ? s : undefined;
      });
      const newMaster = failedOver.nodes.find((n) => n.reachable && n.role === 'master') as Status['nodes'][number];
      await eventually('the master endpoint to reach the new master', 5000, async () => ((await reachedPort(endpoint, password)) === newMaster.port ? true : undefined));
      await writer.ackedMore(200);
    } finally {
      run('ip', 'link', 'set', hostLinkOf(old.id), 'up');
    }

    // Healed: one master, every Sentinel names it, the old master follows it, the endpoint leads to it.
    const healed = await eventually('the old master to rejoin as a replica', 60_000, async () => {
      const s = await status();
      const back = s.nodes.find((n) => n.id === old.id);
      return s.healthy && back?.role === 'replica' && s.master && s.master.port !== old.port ? s : undefined;
    });
    assert.equal(healed.nodes.filter((n) => n.role === 'master').length, 1, 'exactly one master');
    for (const s of healed.sentinels) assert.deepEqual(s.master, healed.master, `${s.id} names the master`);
    await writer.ackedMore(100);
    await writer.stop();
    assert.equal(await reachedPort(endpoint, password), healed.master?.port);

    // No write acknowledged through the endpoint after the partition is missing: none went to the isolated master.
    const missing = new Set(await writer.missingOn(healed.master as { host: string; port: number }, password));
    const lostAfter = writer.acked.filter((k, i) => missing.has(k) && writer.ackTimes[i] >= partitionedAt).length;
    t.diagnostic(`acknowledged ${writer.acked.length} writes through the endpoint; missing on the final master: ${missing.size} (${lostAfter} acknowledged after the partition)`);
    assert.equal(lostAfter, 0, 'acknowledged writes after the partition that are lost');
    const isolatedWrite = spawnSync('redis-cli', ['-h', healed.master?.host ?? '', '-p', String(healed.master?.port), 'GET', 'isolated-write'], { encoding: 'utf8', env: { ...process.env, REDISCLI_AUTH: password } });
    assert.equal(isolatedWrite.stdout.trim(), '', 'no write the isolated master took survives on the new master');
    assert.ok(readFileSync(join(home, NAME, 'supervisor.log'), 'utf8').length > 0);
  });
});
