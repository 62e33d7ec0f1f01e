import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { Bridge } from '../src/endpoint/bridge.ts';
import { fastestDatapath, type Datapath } from '../src/endpoint/datapath.ts';
import { eventually } from './helpers.ts';

// The endpoint's two data paths (src/endpoint/datapath.ts), each between real clients and a real
// redis-server: the same bytes come back as directly, in order, with half-close, backpressure and
// errors passed on. The endpoint tests (endpoint.test.ts) run the default path inside real deployments.
const REDIS_PORT = 8300;
const PROXY_PORT = { handles: 8301, streams: 8302 } as const;

let redis: ChildProcess;

before(async () => {
  redis = spawn('redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await eventually('redis-server to answer', 10_000, async () => {
    const c = new Redis({ port: REDIS_PORT, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    try {
      await c.connect();
      return (await c.ping()) === 'PONG' ? true : undefined;
    } catch {
      return undefined;
    } finally {
      c.disconnect();
    }
  });
});

after(() => {
  redis.kill('SIGKILL');
});

test('the handles data path is available on the Node this project ships', () => {
  assert.equal(fastestDatapath, 'handles');
});

/** A byte-exact exchange: sends, optionally half-closes, and collects everything until the proxy ends the stream. */
function exchange(port: number, send: string, halfClose: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the proxy did not end the stream within 5 s; got ${JSON.stringify(got)}`));
    }, 5000);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', reject);
    s.on('end', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    });
    s.write(send);
    if (halfClose) s.end();
  });
}

for (const datapath of ['handles', 'streams'] as const satisfies readonly Datapath[]) {
  describe(`the ${datapath} data path`, () => {
    const port = PROXY_PORT[datapath];
    const bridges: Bridge[] = [];
    const open = new Set<Bridge>();
    let server: net.Server;

    before(async () => {
      server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
        const b = new Bridge(client, () => ({ backend: { host: '127.0.0.1', port: REDIS_PORT }, key: 'redis' }), (gone) => open.delete(gone), { datapath });
        bridges.push(b);
        open.add(b);
      });
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    });

    after(async () => {
      for (const b of bridges) b.close();
      await new Promise((resolve) => server.close(resolve));
    });

    test('commands, 20,000 pipelined commands and a 10 MB value come back as sent', async () => {
      const c = new Redis({ port });
      try {
        const key = `dp:${datapath}`;
        assert.equal(await c.set(key, 'v'), 'OK');
        const p = c.pipeline();
        for (let i = 0; i < 20_000; i++) p.incr(`${key}:n`);
        const replies = await p.exec();
        assert.deepEqual(replies?.map(([, v]) => v), Array.from({ length: 20_000 }, (_, i) => i + 1), 'every reply, in order');
        const big = Buffer.alloc(10 * 1024 * 1024);
        for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
        await c.set(`${key}:big`, big);
        assert.ok((await c.getBuffer(`${key}:big`))?.equals(big), 'the 10 MB value byte for byte');
        await c.del(key, `${key}:n`, `${key}:big`);
      } finally {
        c.disconnect();
      }
      assert.equal(bridges.at(-1)?.datapath, datapath, `the connection ran on the ${datapath} path`);
    });

    test('a client that sends and half-closes at once gets every reply, then the connection ends', async () => {
      const reply = await exchange(port, 'PING\r\nECHO hello\r\n', true);
      assert.equal(reply, '+PONG\r\n$5\r\nhello\r\n');
    });

    test("the backend closing (QUIT) ends the client's stream after its last reply", async () => {
      const reply = await exchange(port, 'PING\r\nQUIT\r\n', false);
      assert.equal(reply, '+PONG\r\n+OK\r\n');
    });

    test('a client that stops reading holds up its own replies only; they arrive whole when it reads again', async () => {
      const value = Buffer.alloc(4 * 1024 * 1024, 'x');
      const writer = new Redis({ port });
      await writer.set(`slow:${datapath}`, value);
      const expected = `$${value.length}\r\n${value.toString('latin1')}\r\n`.repeat(8);
      const slow = net.connect({ port, host: '127.0.0.1' });
      try {
        slow.pause();
        // 32 MB of replies asked for at once: far more than the sockets' buffers hold.
        slow.write(`GET slow:${datapath}\r\n`.repeat(8));
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(await writer.ping(), 'PONG', 'other connections carry on meanwhile');
        let got = '';
        slow.on('data', (d) => (got += d.toString('latin1')));
        slow.resume();
        await eventually('all 32 MB of replies', 20_000, async () => (got.length >= expected.length ? true : undefined));
        assert.ok(got === expected, 'the replies arrive complete and in order');
      } finally {
        slow.destroy();
        await writer.del(`slow:${datapath}`);
        writer.disconnect();
      }
    });

    test('a backend that drops the connection drops the client too', async () => {
      const victim = new Redis({ port, connectionName: `victim-${datapath}`, retryStrategy: () => null });
      const admin = new Redis({ port: REDIS_PORT });
      try {
        assert.equal(await victim.ping(), 'PONG');
        const closed = new Promise<void>((resolve) => victim.once('end', () => resolve()));
        assert.ok(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')) >= 1);
        await closed;
      } finally {
        victim.disconnect();
        admin.disconnect();
      }
    });

    test('every connection is released once both its sides are done', async () => {
      assert.ok(bridges.length >= 5, `${bridges.length} connections made`);
      await eventually('all connections released', 5000, async () => (open.size === 0 ? true : undefined));
    });
  });
}
