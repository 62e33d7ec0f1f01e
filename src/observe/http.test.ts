import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { parsePrometheusText, valueOf } from '../../test/prometheus.ts';
import { startDashboardServer, type DashboardServer } from './http.ts';
import { TopologyMetrics } from './metrics.ts';
import { Timeline } from './timeline.ts';
import type { TopologyStatus } from './status.ts';

// The HTTP guard of the dashboard, in-process with a stand-in status (nothing here is about Redis).
const STATUS: TopologyStatus = {
  name: 't', healthy: true, problems: [], masterName: 'redis-ha-t', master: { host: '127.0.0.1', port: 9000 }, quorum: 1,
  nodes: [
    { id: 'node-0', host: '127.0.0.1', port: 9000, role: 'master', reachable: true, offset: 10 },
    { id: 'node-1', host: '127.0.0.1', port: 9001, role: 'replica', reachable: true, offset: 10, following: '127.0.0.1:9000', linkUp: true, lagBytes: 0 },
  ],
  sentinels: [],
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw request, so the test controls every header (fetch would set Host and Origin itself). */
function call(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('dashboard HTTP server', () => {
  let server: DashboardServer;
  let host = '';
  const switched: (string | undefined)[] = [];
  const timeline = new Timeline(new Map([['127.0.0.1:9000', 'node-0']]));
  let release: () => void = () => {};

  before(async () => {
    server = await startDashboardServer({
      host: '127.0.0.1',
      port: 0,
      source: {
        status: async () => STATUS,
        metrics: new TopologyMetrics(),
        timeline,
        switchover: async (to) => {
          switched.push(to);
          await new Promise<void>((resolve) => (release = resolve));
          return `switched to ${to}`;
        },
      },
    });
    host = new URL(server.url).host;
  });

  after(() => server.close());

  const page = () => call(server.url, 'GET', { host });
  const tokenOf = async () => /name="redis-ha-token" content="([^"]+)"/.exec((await page()).body)?.[1] ?? '';
  const post = (headers: Record<string, string>, body = '{"to":"node-1"}') =>
    call(`${server.url}api/switchover`, 'POST', { host, 'content-type': 'application/json', ...headers }, body);

  test('the page embeds a token, loads only its own files and refuses to be framed', async () => {
    const r = await page();
    assert.equal(r.status, 200);
    assert.match(r.body, /<script src="\/dashboard.js"/);
    assert.ok((await tokenOf()).length >= 32);
    assert.match(String(r.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    for (const path of ['dashboard.js', 'dashboard.css']) assert.equal((await call(`${server.url}${path}`, 'GET', { host })).status, 200);
    assert.doesNotMatch((await call(`${server.url}dashboard.js`, 'GET', { host })).body, /https?:\/\/(?!www\.w3\.org)/, 'nothing is fetched from elsewhere');
  });

  test('a Host that is not this loopback server is refused (DNS rebinding)', async () => {
    assert.equal((await call(server.url, 'GET', { host: `evil.example:${new URL(server.url).port}` })).status, 403);
    assert.equal((await call(`${server.url}api/status`, 'GET', { host: 'evil.example' })).status, 403);
    assert.equal((await call(server.url, 'GET', { host: `localhost:${new URL(server.url).port}` })).status, 200);
  });

  test('a switchover needs POST, JSON, the token and a same-origin browser', async () => {
    const token = await tokenOf();
    assert.equal((await call(`${server.url}api/switchover`, 'GET', { host })).status, 405);
    assert.equal((await post({})).status, 403, 'no token');
    assert.equal((await post({ 'x-redis-ha-token': 'x'.repeat(token.length) })).status, 403, 'wrong token');
    assert.equal((await post({ 'x-redis-ha-token': token, origin: 'http://evil.example' })).status, 403, 'other origin');
    assert.equal((await post({ 'x-redis-ha-token': token, origin: `http://${host}`, 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await post({ 'x-redis-ha-token': token, 'content-type': 'text/plain' })).status, 403, 'a simple cross-site request');
    assert.equal((await post({ 'x-redis-ha-token': token, origin: `http://${host}` }, '{"to":5}')).status, 400);
    assert.deepEqual(switched, [], 'nothing refused reached the switchover');
    const first = post({ 'x-redis-ha-token': token, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' });
    while (switched.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await post({ 'x-redis-ha-token': token })).status, 409, 'one switchover at a time');
    release();
    const r = await first;
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { result: 'switched to node-1' });
    assert.deepEqual(switched, ['node-1']);
  });

  test('/metrics is Prometheus text built from the status', async () => {
    const r = await call(`${server.url}metrics`, 'GET', { host });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const e = parsePrometheusText(r.body);
    assert.equal(valueOf(e, 'redis_ha_node_role', { node: 'node-0', role: 'master' }), 1);
    assert.equal(valueOf(e, 'redis_ha_replication_lag_bytes', { node: 'node-1' }), 0);
  });

  test('/api/events streams the timeline so far, the status, and each new timeline line', async () => {
    timeline.add('repair', 'did fence node-1 -> node-0');
    const frames: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = request(`${server.url}api/events`, { headers: { host } }, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
        let buffer = '';
        res.on('data', (d) => {
          buffer += d;
          const parts = buffer.split('\n\n');
          buffer = parts.pop() ?? '';
          frames.push(...parts);
          if (frames.some((f) => f.startsWith('event: status')) && !frames.some((f) => f.includes('switchover'))) timeline.add('switchover', 'switchover requested');
          if (frames.some((f) => f.startsWith('event: timeline') && f.includes('switchover requested'))) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
    const hello = frames.find((f) => f.startsWith('event: hello')) ?? '';
    assert.match(hello, /did fence node-1 -> node-0/);
    const status = JSON.parse((frames.find((f) => f.startsWith('event: status')) ?? '').split('data: ')[1]) as TopologyStatus;
    assert.equal(status.masterName, 'redis-ha-t');
  });
});
