import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { act, ActionOvertaken } from '../src/topology/act.ts';
import type { Topology } from '../src/topology/observe.ts';
import { withConnection } from '../src/redis/connect.ts';
import { eventually } from './helpers.ts';

// The guard in front of `fence` on real processes: two redis-servers (A, B) and two Sentinels that
// disagree, as they do for a moment after a failover. sentinel-0 (asked first) names A under config
// epoch 3; sentinel-1 names B. The fence of B to A must be dropped while sentinel-1 names B under a
// newer epoch (it has just promoted B), and go ahead once its view is older (a stale Sentinel).
const PORT_BASE = 8960;
const A = { host: '127.0.0.1', port: PORT_BASE };
const B = { host: '127.0.0.1', port: PORT_BASE + 1 };
const S = [{ host: '127.0.0.1', port: PORT_BASE + 10 }, { host: '127.0.0.1', port: PORT_BASE + 11 }];
const dir = mkdtempSync(join(tmpdir(), 'redis-ha-fence-guard-'));
const children: ChildProcess[] = [];

const topology: Topology = {
  masterName: 'guard',
  quorum: 1,
  timings: { downAfterMilliseconds: 60_000, failoverTimeout: 180_000, parallelSyncs: 1 },
  nodes: [{ id: 'node-a', ...A }, { id: 'node-b', ...B }],
  sentinels: S.map((s, i) => ({ id: `sentinel-${i}`, ...s })),
  nodeAuth: {},
  sentinelAuth: {},
  monitorAuth: {},
};

function start(command: string, args: string[]): void {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
}

function sentinelConf(i: number, master: { port: number }, epoch: number): string {
  const file = join(dir, `sentinel-${i}.conf`);
  writeFileSync(file, `port ${S[i].port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor guard 127.0.0.1 ${master.port} 1\nsentinel config-epoch guard ${epoch}\n`);
  return file;
}

const roleOf = (node: { host: string; port: number }) => withConnection(node, async (c) => String(((await c.call('ROLE')) as unknown[])[0]));
const sentinelSays = (i: number) => withConnection(S[i], async (c) => (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'guard')) as string[]);

describe('the fence guard asks every Sentinel, and trusts the newest epoch', () => {
  before(async () => {
    for (const n of [A, B]) start('redis-server', ['--port', String(n.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
    start('redis-sentinel', [sentinelConf(0, A, 3)]);
    start('redis-sentinel', [sentinelConf(1, B, 5)]);
    for (const n of [A, B]) await eventually(`redis-server on ${n.port}`, 10_000, () => roleOf(n).catch(() => undefined));
    for (const i of [0, 1]) await eventually(`sentinel-${i}`, 10_000, () => sentinelSays(i).catch(() => undefined));
  });

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a Sentinel naming B under a newer epoch than every Sentinel naming A: the fence of B is dropped, B stays master', async () => {
    await assert.rejects(
      act(topology, { kind: 'fence', node: B, master: A }, { publish() {} }),
      (err: Error) => err instanceof ActionOvertaken && err.message === `Sentinel 127.0.0.1:${S[1].port} now names 127.0.0.1:${B.port} as master under a newer config epoch`,
    );
    assert.equal(await roleOf(B), 'master');
  });

  test('a Sentinel naming B under an older epoch (stale): B is fenced to A', async () => {
    // MONITOR again starts sentinel-1 at config epoch 0, below sentinel-0's 3.
    await withConnection(S[1], async (c) => {
      await c.call('SENTINEL', 'REMOVE', 'guard');
      await c.call('SENTINEL', 'MONITOR', 'guard', B.host, String(B.port), '1');
    });
    assert.deepEqual(await sentinelSays(1), [B.host, String(B.port)]);
    await act(topology, { kind: 'fence', node: B, master: A }, { publish() {} });
    assert.equal(await roleOf(B), 'slave');
  });
});
