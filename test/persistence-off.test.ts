// Persistence off (the default: it is a cache) means nothing on disk, on real processes: a replica's
// full sync writes no file, `down` saves nothing, and a snapshot left in a node's directory is removed
// before the node starts, so after `down` and `up` the data is empty and a deleted key never returns.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDeployment, nodeEndpoint, type LocalDeployment } from '../src/local/deployment.ts';
import { isRedisDataFile } from '../src/local/fsutil.ts';
import { filesOf } from '../src/local/layout.ts';
import { connect, withConnection } from '../src/redis/connect.ts';
import { eventually, runCli, statusOf, testHome } from './helpers.ts';

const PORT_BASE = 7400;
const NAME = 'nodisk';
const home = testHome();
const stateDir = join(home, NAME);

interface StatusJson {
  healthy: boolean;
  master: { host: string; port: number } | null;
  nodes: { id: string; host: string; port: number; role: string }[];
}

let d: LocalDeployment;
const status = () => statusOf<StatusJson>(home, NAME);
const app = (n: { host: string; port: number }) => nodeEndpoint(d, n, 'application');
const op = (n: { host: string; port: number }) => nodeEndpoint(d, n, 'operator');
const dataDirs = () => d.nodes.map((n) => filesOf(stateDir).dataOf(n.id));
/** The RDB and AOF files in every node's data directory, as `node-N/name`. */
const dataFiles = () => d.nodes.flatMap((n) => readdirSync(filesOf(stateDir).dataOf(n.id)).filter(isRedisDataFile).map((f) => `${n.id}/${f}`));
const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();

async function up(): Promise<void> {
  const r = await runCli(home, ['up', '--detach', '--name', NAME, '--port-base', String(PORT_BASE), '--profile', 'fast']);
  assert.equal(r.code, 0, `up failed: ${r.stderr}`);
  d = loadDeployment(stateDir)!;
}

/** A real RDB holding `keys`, written by a throwaway redis-server on the deployment's last port. */
async function snapshotWith(keys: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-ha-snapshot-'));
  const port = PORT_BASE + 29;
  const server = spawn(d.binaries.redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  try {
    await eventually('the throwaway redis-server to answer', 5000, () => withConnection({ host: '127.0.0.1', port }, (c) => c.ping()));
    await withConnection({ host: '127.0.0.1', port }, async (c) => {
      for (const [k, v] of Object.entries(keys)) await c.set(k, v);
      await c.save();
    });
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
  return join(dir, 'dump.rdb');
}

describe('persistence off: nothing on disk (local, real processes)', () => {
  // Every name that appears in a node's data directory while the deployment runs, even for an instant.
  const seen = new Set<string>();
  let watchers: FSWatcher[] = [];
  const startWatching = () => {
    watchers = dataDirs().map((dir, i) => watch(dir, (_event, name) => void (name && seen.add(`node-${i}/${name}`))));
  };
  const stopWatching = () => {
    for (const w of watchers) w.close();
    watchers = [];
  };

  before(async () => {
    await up();
    startWatching();
  });

  after(async () => {
    stopWatching();
    await runCli(home, ['down', '--name', NAME]);
  });

  test("a replica's full sync loads from the socket and writes nothing into any node's directory", async () => {
    assert.deepEqual(dataFiles(), [], 'nothing on disk after up (the bootstrap syncs)');
    const s = await status();
    const master = s.master!;
    const replica = s.nodes.find((n) => n.role === 'replica')!;
    let logFrom = 0;
    const w = connect(app(master), 10_000);
    await w.connect();
    try {
      for (let i = 0; i < 100; i++) await w.set(`k:${i}`, `v${i}`);
      await w.set('doomed', 'deleted before down');
      assert.equal(await w.del('doomed'), 1);
      assert.equal(await w.wait(2, 5000), 2);
      assert.equal(await withConnection(app(replica), (c) => c.dbsize()), 100, 'the replica holds the data before its full sync');

      const fullSyncs = async () => Number(field((await withConnection(op(master), (c) => c.info('stats'))) as string, 'sync_full'));
      const before = await fullSyncs();
      logFrom = readFileSync(filesOf(stateDir).logOf(replica.id), 'utf8').length;
      // A full resync of a replica that holds data: promoted and demoted again in one transaction (as
      // the sentinel user, which may MULTI), it asks the master to continue a history (its own new
      // replication id) that the master does not know.
      const replies = await withConnection(nodeEndpoint(d, replica, 'sentinel'), (c) =>
        c.multi().call('REPLICAOF', 'NO', 'ONE').call('REPLICAOF', master.host, String(master.port)).exec(),
      );
      assert.deepEqual(replies, [[null, 'OK'], [null, 'OK']]);
      await eventually('the full resync of the replica', 15_000, async () => {
        const info = (await withConnection(op(replica), (c) => c.info('replication'))) as string;
        return field(info, 'master_link_status') === 'up' && (await fullSyncs()) === before + 1 ? true : undefined;
      });
      assert.equal(await withConnection(app(replica), (c) => c.dbsize()), 100);
      assert.equal(await withConnection(app(replica), (c) => c.exists('doomed')), 0);
    } finally {
      w.disconnect();
    }
    const log = readFileSync(filesOf(stateDir).logOf(replica.id), 'utf8').slice(logFrom);
    assert.match(log, /Full resync from master/);
    assert.match(log, /receiving streamed RDB from master with EOF to parser/, 'loaded from the socket');
    assert.doesNotMatch(log, /to disk/);
    assert.deepEqual(dataFiles(), []);
    assert.deepEqual([...seen].filter((name) => isRedisDataFile(name.split('/')[1]!)), [], 'no RDB or AOF file appeared at any point');
  });

  test('down saves nothing; a snapshot left in a node directory is removed, not loaded: after up the data is empty', async () => {
    stopWatching();
    assert.equal((await runCli(home, ['down', '--name', NAME])).code, 0);
    assert.deepEqual(dataFiles(), [], 'nothing saved on shutdown');
    // What the bug left behind: an old snapshot in the directory of the node `up` starts as master,
    // holding a key deleted since.
    const snapshot = await snapshotWith({ doomed: 'deleted before down', 'k:0': 'old' });
    const planted = join(filesOf(stateDir).dataOf('node-0'), 'dump.rdb');
    copyFileSync(snapshot, planted);
    rmSync(join(snapshot, '..'), { recursive: true, force: true });

    await up();
    startWatching();
    assert.equal(existsSync(planted), false);
    assert.match(readFileSync(filesOf(stateDir).supervisorLog, 'utf8'), new RegExp(`node-0: persistence is off; removed dump\\.rdb from ${filesOf(stateDir).dataOf('node-0').replaceAll('.', '\\.')} before starting it`));
    const s = await status();
    assert.equal(s.healthy, true);
    for (const n of s.nodes) assert.equal(await withConnection(app(n), (c) => c.dbsize()), 0, `${n.id} is empty`);
    assert.equal(await withConnection(app(s.master!), (c) => c.get('doomed')), null);
    assert.deepEqual(dataFiles(), []);
  });
});
