// `up` reports healthy only once every replica receives the replication stream (src/local/lifecycle.ts,
// `streamProblem`). After a diskless full sync a Redis master holds a replica's stream until that
// replica's next REPLCONF ACK, up to 1 s later, while it already acknowledges writes: a master killed
// then loses every write it took, and the replicas, which hold nothing, are all Sentinel can promote.
// CI, 2026-12-04: the runtime contract's first scenario killed the master 0.5 s after `up` returned and
// lost every acknowledged write.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { eventually, passwordOf, pidOf, runCli, testHome } from './helpers.ts';

const PORT_BASE = 7800;
const NAME = 'stream';

describe('up: healthy means the replicas receive the replication stream', () => {
  const home = testHome();
  after(async () => {
    await runCli(home, ['down', '--name', NAME]).catch(() => {});
  });

  test('a write acknowledged right after up returns is on both replicas, although the master is killed at once', async () => {
    const spec = join(home, 'stream.yaml');
    writeFileSync(spec, `name: ${NAME}\nreplicas: 2\nsentinels: 3\npersistence: {enabled: false}\n`);
    // The password is read while `up` runs (it is chosen before any process starts), so that the write
    // below comes as soon after `up` returns as an application's could.
    let password = '';
    const up = await runCli(home, ['up', '--detach', '-f', spec, '--port-base', String(PORT_BASE)], {}, 60_000, async () => {
      password = await eventually('the deployment to have a password', 30_000, () => passwordOf(home, NAME).catch(() => undefined));
    });
    assert.equal(up.code, 0, up.stderr);
    assert.notEqual(password, '', 'the password was read while up ran');
    const stateDir = join(home, NAME);
    const replicas = ['node-1', 'node-2'].map((id) => pidOf(stateDir, id));
    // Frozen, the replicas read nothing, but what the master sends them waits in their sockets: after
    // SIGCONT they apply it, although the master is gone by then.
    for (const pid of replicas) process.kill(pid, 'SIGSTOP');
    const master = new Redis({ host: '127.0.0.1', port: PORT_BASE, password, lazyConnect: true });
    try {
      await master.connect();
      assert.equal(await master.set('after-up', 'kept'), 'OK');
      // The PONG comes from a later turn of the master's event loop than the SET's reply: the turn that
      // wrote the SET to the replicas' sockets is over.
      assert.equal(await master.ping(), 'PONG');
      process.kill(pidOf(stateDir, 'node-0'), 'SIGKILL');
    } finally {
      master.disconnect();
      for (const pid of replicas) process.kill(pid, 'SIGCONT');
    }
    for (const [i, id] of ['node-1', 'node-2'].entries()) {
      const value = await eventually(`${id} to hold the key written after up`, 10_000, async () => {
        const c = new Redis({ host: '127.0.0.1', port: PORT_BASE + 1 + i, password, lazyConnect: true, maxRetriesPerRequest: 0 });
        try {
          await c.connect();
          return (await c.get('after-up')) ?? undefined;
        } catch {
          return undefined;
        } finally {
          c.disconnect();
        }
      });
      assert.equal(value, 'kept', id);
    }
  });
});
