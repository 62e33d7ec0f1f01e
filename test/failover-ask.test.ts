import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestFailover } from '../src/topology/act.ts';
import { withConnection } from '../src/redis/connect.ts';
import { parseFlatRecords } from '../src/redis/parse.ts';
import { eventually } from './helpers.ts';

// requestFailover on real processes, with two Sentinels whose views of the group differ, as after one
// of them was reset: sentinel-0 (asked first) monitors a master with no replica and answers NOGOODSLAVE;
// sentinel-1 monitors a master with a replica and can fail over. The refusal of one must not end the
// request while another would accept.
const PORT_BASE = 8980;
const LONE = { host: '127.0.0.1', port: PORT_BASE };
const MASTER = { host: '127.0.0.1', port: PORT_BASE + 1 };
const REPLICA = { host: '127.0.0.1', port: PORT_BASE + 2 };
const S = [{ host: '127.0.0.1', port: PORT_BASE + 10 }, { host: '127.0.0.1', port: PORT_BASE + 11 }];
const dir = mkdtempSync(join(tmpdir(), 'redis-ha-failover-ask-'));
const children: ChildProcess[] = [];

function start(command: string, args: string[]): void {
  children.push(spawn(command, args, { stdio: 'ignore' }));
}

function sentinelConf(i: number, master: { port: number }): string {
  const file = join(dir, `sentinel-${i}.conf`);
  // A long down-after: no Sentinel fails over by itself while the test runs.
  writeFileSync(file, `port ${S[i].port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ask 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds ask 60000\n`);
  return file;
}

const roleOf = (node: { host: string; port: number }) => withConnection(node, async (c) => String(((await c.call('ROLE')) as unknown[])[0]));

describe('requestFailover asks the next Sentinel when one refuses', () => {
  before(async () => {
    for (const n of [LONE, MASTER]) start('redis-server', ['--port', String(n.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
    start('redis-server', ['--port', String(REPLICA.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--replicaof', MASTER.host, String(MASTER.port)]);
    start('redis-sentinel', [sentinelConf(0, LONE)]);
    start('redis-sentinel', [sentinelConf(1, MASTER)]);
    // sentinel-1 can promote the replica once it has read the replica's INFO with its link up.
    await eventually('sentinel-1 to see the replica linked', 20_000, () =>
      withConnection(S[1], async (c) => parseFlatRecords(await c.call('SENTINEL', 'REPLICAS', 'ask')))
        .then((rs) => (rs.some((r) => r.get('port') === String(REPLICA.port) && r.get('master-link-status') === 'ok' && r.get('flags') === 'slave') ? true : undefined))
        .catch(() => undefined));
  });

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('one Sentinel alone answers NOGOODSLAVE: the request fails and says so', async () => {
    await assert.rejects(requestFailover([S[0]], 'ask'), (err: Error) => err.message === `no Sentinel accepted a failover of ask: 127.0.0.1:${S[0].port}: NOGOODSLAVE No suitable replica to promote`);
  });

  test('the first Sentinel answers NOGOODSLAVE, the second accepts: the second fails over', async () => {
    const accepted = await requestFailover(S, 'ask');
    assert.equal(accepted.port, S[1].port);
    await eventually('the replica promoted', 30_000, () => roleOf(REPLICA).then((r) => (r === 'master' ? true : undefined)).catch(() => undefined));
  });
});
