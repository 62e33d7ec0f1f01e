import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveSpec } from '../src/spec/index.ts';
import { renderManifests } from '../src/kubernetes/render/index.ts';
import { namesOf } from '../src/kubernetes/render/names.ts';
import { testHome } from './helpers.ts';

// The PrometheusRule that render ships, evaluated by Prometheus's own rule engine: `promtool check rules`
// and `promtool test rules` (promtool built from the Prometheus module by scripts/build-promtool.sh,
// which .ci/run runs). Every alert gets series that must fire it and series that must not. The series
// carry the labels redis_exporter's metrics get when the rendered ServiceMonitor scrapes them
// (namespace, service, pod), so a selector that drifts from the ServiceMonitor fails here.
const NS = 'shop';
const spec = resolveSpec({ name: 'shop', metrics: { enabled: true, prometheusRule: { enabled: true } } });
const rule = renderManifests(spec, { namespace: NS }).objects.find((o) => o.kind === 'PrometheusRule');
const groups = (rule?.spec as { groups: { name: string; rules: Rule[] }[] } | undefined)?.groups ?? [];
const rules = groups.flatMap((g) => g.rules);
const group = namesOf(spec).group;

interface Rule { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }
type Labels = Record<string, string>;

/** A series the rendered ServiceMonitor would scrape from pod `pod`. */
const series = (name: string, pod: string, labels: Labels, values: string) => {
  const all: Labels = { namespace: NS, service: 'shop-metrics', pod, job: 'shop-metrics', ...labels };
  return { series: `${name}{${Object.entries(all).map(([k, v]) => `${k}="${v}"`).join(',')}}`, values, labels: all };
};
const node = (i: number, role: 'master' | 'slave', values: string) =>
  series('redis_instance_info', `shop-redis-${i}`, { role, redis_mode: 'standalone', redis_version: '7.0.15' }, values);
const sentinelInfo = (i: number) => series('redis_instance_info', `shop-sentinel-${i}`, { role: 'master', redis_mode: 'sentinel', redis_version: '7.0.15' }, '1x40');

/** The alert `name` as Prometheus would send it with `extra` labels (from the series it came from). */
function expected(name: string, extra: Labels = {}) {
  const r = rules.find((x) => x.alert === name);
  if (!r) throw new Error(`no rule ${name} in the rendered PrometheusRule`);
  return { exp_labels: { ...extra, ...r.labels }, exp_annotations: r.annotations };
}

interface Case { name: string; input: ReturnType<typeof series>[]; alert: string; at: string; fires: ReturnType<typeof expected>[] }

const master2 = node(0, 'master', '1x40');
const linkDown = series('redis_master_link_up', 'shop-redis-1', {}, '0x40');
const lag = series('redis_connected_slave_lag_seconds', 'shop-redis-0', { slave_ip: '10.0.0.2', slave_port: '6379', slave_state: 'online' }, `${spec.minReplicasMaxLag + 5}x40`);
const used = series('redis_memory_used_bytes', 'shop-redis-0', {}, '95x40');
const max = series('redis_memory_max_bytes', 'shop-redis-0', {}, '100x40');
const statusAt = (address: string, values: string) => series('redis_sentinel_master_status', 'shop-sentinel-0', { master_name: group, master_address: address, master_status: 'ok' }, values);

const CASES: Case[] = [
  { name: 'every node a replica: no master', alert: 'RedisHANoMaster', at: '2m', input: [node(0, 'slave', '1x40'), node(1, 'slave', '1x40'), sentinelInfo(0)], fires: [expected('RedisHANoMaster')] },
  { name: 'one master: no alert (a Sentinel reporting role master does not count)', alert: 'RedisHANoMaster', at: '2m', input: [master2, node(1, 'slave', '1x40'), sentinelInfo(0)], fires: [] },
  { name: 'two masters for more than 30 s', alert: 'RedisHAMoreThanOneMaster', at: '1m', input: [master2, node(1, 'master', '1x40')], fires: [expected('RedisHAMoreThanOneMaster')] },
  // `stale` ends a series, as a scrape that no longer finds it does (else it would count for 5 more minutes).
  { name: 'two masters for 15 s (a failover, before the fence)', alert: 'RedisHAMoreThanOneMaster', at: '2m', input: [master2, node(1, 'master', '_x2 1 1 stale')], fires: [] },
  { name: 'a replica whose link is down', alert: 'RedisHAReplicationLinkDown', at: '2m', input: [linkDown], fires: [expected('RedisHAReplicationLinkDown', linkDown.labels)] },
  { name: 'a replica whose link came back within a minute: no alert', alert: 'RedisHAReplicationLinkDown', at: '2m', input: [series('redis_master_link_up', 'shop-redis-1', {}, '0x2 1x37')], fires: [] },
  { name: 'a replica lagging past minReplicasMaxLag', alert: 'RedisHAReplicaLagHigh', at: '3m', input: [lag], fires: [expected('RedisHAReplicaLagHigh', { pod: 'shop-redis-0' })] },
  { name: 'a replica lagging exactly minReplicasMaxLag: no alert', alert: 'RedisHAReplicaLagHigh', at: '3m', input: [series('redis_connected_slave_lag_seconds', 'shop-redis-0', { slave_ip: '10.0.0.2', slave_port: '6379', slave_state: 'online' }, `${spec.minReplicasMaxLag}x40`)], fires: [] },
  { name: 'every Sentinel without quorum', alert: 'RedisHASentinelQuorumLost', at: '2m', input: [0, 1, 2].map((i) => series('redis_sentinel_master_ckquorum_status', `shop-sentinel-${i}`, { master_name: group }, '0x40')), fires: [expected('RedisHASentinelQuorumLost')] },
  { name: 'one Sentinel with quorum: no alert', alert: 'RedisHASentinelQuorumLost', at: '2m', input: [0, 1, 2].map((i) => series('redis_sentinel_master_ckquorum_status', `shop-sentinel-${i}`, { master_name: group }, i === 0 ? '1x40' : '0x40')), fires: [] },
  // 15 s steps: the master moves from .1 to .2 at about 10 min; the alert holds while 5 min ago showed another address.
  { name: 'the master moved 2 minutes ago', alert: 'RedisHAFailoverHappened', at: '12m', input: [statusAt('10.0.0.1:6379', '1x40 stale'), statusAt('10.0.0.2:6379', '_x40 1x40')], fires: [expected('RedisHAFailoverHappened')] },
  { name: 'the master moved 10 minutes ago: no alert', alert: 'RedisHAFailoverHappened', at: '20m', input: [statusAt('10.0.0.1:6379', '1x40 stale'), statusAt('10.0.0.2:6379', '_x40 1x40')], fires: [] },
  { name: 'a fresh deployment is no failover', alert: 'RedisHAFailoverHappened', at: '2m', input: [statusAt('10.0.0.2:6379', '1x40')], fires: [] },
  { name: 'memory above 90% of maxmemory', alert: 'RedisHAMemoryNearMaxmemory', at: '6m', input: [used, max], fires: [expected('RedisHAMemoryNearMaxmemory', used.labels)] },
  { name: 'maxmemory 0 (no limit): no alert', alert: 'RedisHAMemoryNearMaxmemory', at: '6m', input: [used, series('redis_memory_max_bytes', 'shop-redis-0', {}, '0x40')], fires: [] },
];

describe('the rendered alert rules, evaluated by promtool', () => {
  const home = testHome();
  let promtool = '';
  const rulesFile = join(home, 'rules.yaml');

  before(() => {
    promtool = execFileSync('bash', [join(import.meta.dirname, '..', 'scripts', 'build-promtool.sh')], { encoding: 'utf8' }).trim();
    // YAML is a superset of JSON: the rule groups exactly as the PrometheusRule carries them.
    writeFileSync(rulesFile, JSON.stringify({ groups }));
  });

  const run = (args: string[]) => spawnSync(promtool, args, { cwd: home, encoding: 'utf8' });

  test('promtool check rules accepts every rule', () => {
    assert.equal(rules.length, 7, rules.map((r) => r.alert).join(', '));
    const r = run(['check', 'rules', rulesFile]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 7 rules found/);
  });

  test('every alert has a case that fires it and one that does not', () => {
    for (const r of rules) {
      assert.ok(CASES.some((c) => c.alert === r.alert && c.fires.length > 0), `${r.alert} never fires in a case`);
      assert.ok(CASES.some((c) => c.alert === r.alert && c.fires.length === 0), `${r.alert} has no case where it stays silent`);
    }
  });

  for (const c of CASES) {
    test(`${c.alert}: ${c.name}`, () => {
      const file = join(home, `${c.alert}-${CASES.indexOf(c)}.yaml`);
      writeFileSync(file, JSON.stringify({
        rule_files: [rulesFile],
        evaluation_interval: '15s',
        tests: [{ interval: '15s', input_series: c.input.map(({ series: s, values }) => ({ series: s, values })), alert_rule_test: [{ eval_time: c.at, alertname: c.alert, exp_alerts: c.fires }] }],
      }));
      const r = run(['test', 'rules', file]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /SUCCESS/);
    });
  }

  test('a wrong expectation fails (the harness can tell)', () => {
    const file = join(home, 'wrong.yaml');
    writeFileSync(file, JSON.stringify({
      rule_files: [rulesFile],
      evaluation_interval: '15s',
      tests: [{ interval: '15s', input_series: [master2].map(({ series: s, values }) => ({ series: s, values })), alert_rule_test: [{ eval_time: '2m', alertname: 'RedisHANoMaster', exp_alerts: [expected('RedisHANoMaster')] }] }],
    }));
    const r = run(['test', 'rules', file]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /FAILED/);
  });
});
