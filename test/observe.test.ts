import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BIN, eventually, passwordOf, pidOf, runCli, statusOf, testHome } from './helpers.ts';
import { parsePrometheusText, samplesOf, valueOf, type Exposition } from './prometheus.ts';

// /metrics, `status --watch` and `up`'s progress against real processes: the metrics must match what
// the processes report (the role gauges name the real master, keyspace counters move with real
// lookups, the failover counter moves when the master is SIGKILLed).
const PORT_BASE = 8030;
const NAME = 'obs';
const home = testHome();

interface Status {
  healthy: boolean;
  master: { host: string; port: number } | null;
  nodes: { id: string; host: string; port: number; role: string }[];
  endpoints: { metrics?: string };
}

const status = () => statusOf<Status>(home, NAME);
const masterOf = (s: Status) => s.nodes.find((n) => s.master && n.port === s.master.port);

async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return parsePrometheusText(await res.text());
}

/** The nodes the role gauges call master. */
const mastersIn = (e: Exposition) => samplesOf(e, 'redis_ha_node_role', { role: 'master' }).filter((s) => s.value === 1).map((s) => s.labels.node);

/** Runs `status --watch ARGS` until it printed `frames` frames (split by `separator`), then sends SIGINT. */
function watchUntil(args: string[], frames: number, separator: RegExp): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'status', '--watch', '--name', NAME, ...args], { env: { ...process.env, REDIS_HA_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`status --watch printed no ${frames} frames: ${stdout}`));
    }, 30_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      if ((stdout.match(separator) ?? []).length >= frames) child.kill('SIGINT');
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

describe('metrics, status --watch and up progress on real processes', () => {
  let metricsUrl = '';
  let upStderr = '';

  before(async () => {
    const up = await runCli(home, ['up', '--detach', '--name', NAME, '--port-base', String(PORT_BASE), '--profile', 'fast']);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    upStderr = up.stderr;
    metricsUrl = (await status()).endpoints.metrics ?? '';
    assert.equal(metricsUrl, `http://127.0.0.1:${PORT_BASE + 22}/metrics`);
  });

  after(async () => {
    await runCli(home, ['down', '--name', NAME]);
  });

  test('up reports its progress on stderr, one line per step when not on a terminal', () => {
    assert.match(upStderr, /^\[\d+\.\d s\] starting 3 Redis nodes and 3 Sentinels/m);
    assert.match(upStderr, /^\[\d+\.\d s\] nodes \d\/3 up · replicas \d\/2 following · Sentinels \d\/3 agree — waiting: /m);
    assert.doesNotMatch(upStderr, /\x1b/, 'no terminal escapes into a pipe');
  });

  test('the role gauges name the master status --json names, and node figures follow real lookups', async () => {
    const s = await eventually('a healthy topology', 30_000, async () => ((await status()).healthy ? status() : undefined));
    const master = masterOf(s);
    assert.ok(master);
    const e0 = await scrape(metricsUrl);
    assert.deepEqual(mastersIn(e0), [master.id]);
    assert.equal(valueOf(e0, 'redis_ha_sentinels_agreeing'), 3);
    assert.equal(valueOf(e0, 'redis_ha_healthy'), 1);
    assert.equal(e0.types.get('redis_keyspace_hits_total'), 'counter');
    const labels = { node: master.id };
    const hits0 = valueOf(e0, 'redis_keyspace_hits_total', labels);
    const misses0 = valueOf(e0, 'redis_keyspace_misses_total', labels);
    const redis = new Redis({ host: master.host, port: master.port, password: await passwordOf(home, NAME), lazyConnect: true });
    try {
      await redis.connect();
      await redis.mset('obs:a', '1', 'obs:b', '2', 'obs:c', '3');
      assert.equal(await redis.get('obs:a'), '1');
      assert.equal(await redis.get('obs:b'), '2');
      assert.equal(await redis.get('obs:missing'), null);
      const dbsize = await redis.dbsize();
      await eventually('metrics showing the lookups', 10_000, async () => {
        const e = await scrape(metricsUrl);
        const hits = valueOf(e, 'redis_keyspace_hits_total', labels) - hits0;
        const misses = valueOf(e, 'redis_keyspace_misses_total', labels) - misses0;
        if (hits < 2) return undefined;
        assert.equal(hits, 2);
        assert.equal(misses, 1);
        assert.equal(valueOf(e, 'redis_db_keys', { ...labels, db: 'db0' }), dbsize);
        assert.ok(valueOf(e, 'redis_memory_used_bytes', labels) > 0);
        assert.ok(valueOf(e, 'redis_connected_clients', labels) >= 1, 'this test is a client');
        assert.ok(valueOf(e, 'redis_commands_processed_total', labels) > 0);
        return true;
      });
    } finally {
      redis.disconnect();
    }
  });

  test('after the master is SIGKILLed the failover counter and histogram count it and the role gauge moves', async () => {
    const before = await eventually('a healthy topology', 30_000, async () => ((await status()).healthy ? status() : undefined));
    const killed = masterOf(before);
    assert.ok(killed);
    // The replicas hold the keys written above, so the brain has Sentinel promote one rather than
    // take the restarted (empty) master back.
    await eventually('every node holding keys', 10_000, async () => {
      const s = await statusOf<{ nodes: { figures?: { keys?: number } }[] }>(home, NAME);
      return s.nodes.every((n) => (n.figures?.keys ?? 0) >= 1) ? true : undefined;
    });
    const e0 = await scrape(metricsUrl);
    const changes0 = valueOf(e0, 'redis_ha_master_changes_total');
    const failovers0 = valueOf(e0, 'redis_ha_failover_duration_seconds_count');
    process.kill(pidOf(join(home, NAME), killed.id), 'SIGKILL');
    const after = await eventually('a healthy topology with a new master', 60_000, async () => {
      const s = await status();
      return s.healthy && masterOf(s) && masterOf(s)?.id !== killed.id ? s : undefined;
    });
    // The role gauges come from a fresh status; the counter from the controller's next pass.
    const e = await eventually('metrics showing the new master and the change', 10_000, async () => {
      const e1 = await scrape(metricsUrl);
      return mastersIn(e1).join() === masterOf(after)?.id && valueOf(e1, 'redis_ha_master_changes_total') > changes0 ? e1 : undefined;
    });
    assert.equal(valueOf(e, 'redis_ha_master_changes_total'), changes0 + 1);
    assert.equal(valueOf(e, 'redis_ha_failover_duration_seconds_count'), failovers0 + 1);
    assert.ok(valueOf(e, 'redis_ha_failover_duration_seconds_sum') > 0);
    assert.equal(valueOf(e, 'redis_ha_node_role', { node: killed.id, role: 'replica' }), 1, 'the killed master came back as a replica');
    // The supervisor's own repair is on the dashboard's timeline too.
    const entries = (await (await fetch(metricsUrl.replace(/metrics$/, 'api/timeline'))).json()) as { kind: string; text: string }[];
    assert.ok(entries.some((x) => x.kind === 'process' && x.text === `${killed.id} stopped and was restarted by the supervisor`), JSON.stringify(entries.slice(-5)));
  });

  test('status --watch --json prints one status per line until Ctrl-C, then exits 0', async () => {
    const r = await watchUntil(['--json'], 2, /\n/g);
    assert.equal(r.code, 0);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.length >= 2);
    for (const line of lines) assert.equal((JSON.parse(line) as Status).nodes.length, 3);
  });

  test('status --watch into a pipe prints a table per tick, no escape codes, and exits 0 on Ctrl-C', async () => {
    const r = await watchUntil([], 2, /^MEMBER/gm);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /MEMBER\s+ADDRESS\s+ROLE.*OPS\/S\s+CLIENTS\s+KEYS/);
    assert.doesNotMatch(r.stdout, /\x1b/);
  });
});
