import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText, samplesOf, valueOf } from '../../test/prometheus.ts';
import { TopologyMetrics } from './metrics.ts';
import { nodeFigures } from '../redis/parse.ts';
import type { NodeStatus, SentinelStatus, TopologyStatus } from './status.ts';

const INFO = new Map([
  ['used_memory', '1048576'], ['connected_clients', '7'], ['total_commands_processed', '1234'],
  ['instantaneous_ops_per_sec', '56'], ['keyspace_hits', '40'], ['keyspace_misses', '2'],
  ['redis_version', '7.0.15'], ['db0', 'keys=12,expires=0,avg_ttl=0'], ['db3', 'keys=1,expires=0,avg_ttl=0'],
]);

function nodeStatus(id: string, port: number, over: Partial<NodeStatus>): NodeStatus {
  return { id, host: '127.0.0.1', port, role: 'replica', reachable: true, offset: 100, figures: nodeFigures(INFO), ...over };
}

function sentinelStatus(id: string, port: number, master: number | null, over: Partial<SentinelStatus> = {}): SentinelStatus {
  return {
    id, host: '127.0.0.1', port, reachable: true, master: master === null ? null : { host: '127.0.0.1', port: master },
    masterFlags: ['master'], replicasSeen: 2, otherSentinelsSeen: 2, quorumOk: true, quorumMessage: 'OK', failoverInProgress: false,
    configEpoch: 3, tilt: false, ...over,
  };
}

function status(): TopologyStatus {
  return {
    name: 't', healthy: false, problems: ['node-2 is unreachable'], masterName: 'redis-ha-t', master: { host: '127.0.0.1', port: 9001 }, quorum: 2,
    nodes: [
      nodeStatus('node-0', 9000, { lagBytes: 30, offset: 70 }),
      nodeStatus('node-1', 9001, { role: 'master' }),
      { id: 'node-2', host: '127.0.0.1', port: 9002, role: 'down', reachable: false, error: 'ECONNREFUSED' },
    ],
    sentinels: [sentinelStatus('sentinel-0', 9010, 9001), sentinelStatus('sentinel-1', 9011, 9001), sentinelStatus('sentinel-2', 9012, 9000)],
  };
}

describe('TopologyMetrics', () => {
  test('is valid Prometheus text with the role, agreement, lag and redis_exporter figures of the status', async () => {
    const metrics = new TopologyMetrics();
    metrics.update(status());
    const e = parsePrometheusText(await metrics.text());
    assert.equal(valueOf(e, 'redis_ha_node_role', { node: 'node-1', role: 'master' }), 1);
    assert.equal(valueOf(e, 'redis_ha_node_role', { node: 'node-0', role: 'master' }), 0);
    assert.equal(valueOf(e, 'redis_ha_node_role', { node: 'node-2', role: 'down' }), 1);
    assert.deepEqual(samplesOf(e, 'redis_ha_node_role', { role: 'master' }).filter((s) => s.value === 1).map((s) => s.labels.addr), ['127.0.0.1:9001']);
    assert.equal(valueOf(e, 'redis_ha_replication_lag_bytes', { node: 'node-0' }), 30);
    assert.equal(valueOf(e, 'redis_ha_sentinels_agreeing'), 2);
    assert.equal(valueOf(e, 'redis_ha_sentinel_agrees', { sentinel: 'sentinel-2' }), 0);
    assert.equal(valueOf(e, 'redis_ha_healthy'), 0);
    assert.equal(valueOf(e, 'redis_up', { node: 'node-2' }), 0);
    assert.equal(valueOf(e, 'redis_memory_used_bytes', { node: 'node-1', addr: '127.0.0.1:9001' }), 1048576);
    assert.equal(valueOf(e, 'redis_connected_clients', { node: 'node-0' }), 7);
    assert.equal(valueOf(e, 'redis_commands_processed_total', { node: 'node-0' }), 1234);
    assert.equal(valueOf(e, 'redis_instantaneous_ops_per_sec', { node: 'node-0' }), 56);
    assert.equal(valueOf(e, 'redis_keyspace_hits_total', { node: 'node-0' }), 40);
    assert.equal(valueOf(e, 'redis_keyspace_misses_total', { node: 'node-0' }), 2);
    assert.equal(valueOf(e, 'redis_db_keys', { node: 'node-0', db: 'db3' }), 1);
    assert.equal(valueOf(e, 'redis_instance_info', { node: 'node-1', role: 'master', redis_version: '7.0.15' }), 1);
    assert.equal(samplesOf(e, 'redis_memory_used_bytes', { node: 'node-2' }).length, 0, 'a down node has no figures');
    assert.equal(e.types.get('redis_commands_processed_total'), 'counter');
    assert.equal(e.types.get('redis_memory_used_bytes'), 'gauge');
    assert.equal(samplesOf(e, 'redis_ha_endpoint_connections').length, 0, 'no endpoint, no samples');
  });

  test('a new status replaces the old one: a master change moves the role gauge', async () => {
    const metrics = new TopologyMetrics();
    metrics.update(status());
    const s = status();
    metrics.update({ ...s, master: { host: '127.0.0.1', port: 9000 }, nodes: [{ ...s.nodes[0], role: 'master' }, { ...s.nodes[1], role: 'replica' }] });
    const e = parsePrometheusText(await metrics.text());
    assert.equal(valueOf(e, 'redis_ha_node_role', { node: 'node-0', role: 'master' }), 1);
    assert.equal(valueOf(e, 'redis_ha_node_role', { node: 'node-1', role: 'master' }), 0);
    assert.equal(samplesOf(e, 'redis_ha_node_role', { node: 'node-2' }).length, 0, 'a node no longer listed has no samples');
  });

  test('the controller observer counts actions by kind, master changes and failover durations', async () => {
    const metrics = new TopologyMetrics();
    const from = { id: 'node-0', address: '127.0.0.1:9000' };
    const to = { id: 'node-1', address: '127.0.0.1:9001' };
    metrics.observer.action?.({ at: 0, kind: 'fence', description: 'fence node-0 -> node-1', ok: true });
    metrics.observer.action?.({ at: 0, kind: 'fence', description: 'fence node-0 -> node-1', ok: false, error: 'x' });
    metrics.observer.action?.({ at: 0, kind: 'sentinel-failover', description: 'sentinel-failover', ok: true });
    metrics.observer.masterChanged?.({ at: 0, from, to, durationMs: 2500 });
    metrics.observer.masterChanged?.({ at: 0, from: to, to: from });
    metrics.setEndpointConnections(() => ({ master: 3, replicas: 5 }));
    const e = parsePrometheusText(await metrics.text());
    assert.equal(valueOf(e, 'redis_ha_controller_actions_total', { kind: 'fence', outcome: 'ok' }), 1);
    assert.equal(valueOf(e, 'redis_ha_controller_actions_total', { kind: 'fence', outcome: 'failed' }), 1);
    assert.equal(valueOf(e, 'redis_ha_controller_actions_total', { kind: 'sentinel-failover', outcome: 'ok' }), 1);
    assert.equal(valueOf(e, 'redis_ha_master_changes_total'), 2);
    assert.equal(valueOf(e, 'redis_ha_failover_duration_seconds_count'), 1);
    assert.equal(valueOf(e, 'redis_ha_failover_duration_seconds_sum'), 2.5);
    assert.equal(valueOf(e, 'redis_ha_failover_duration_seconds_bucket', { le: '3' }), 1);
    assert.equal(valueOf(e, 'redis_ha_failover_duration_seconds_bucket', { le: '2' }), 0);
    assert.equal(valueOf(e, 'redis_ha_endpoint_connections', { endpoint: 'master' }), 3);
    assert.equal(valueOf(e, 'redis_ha_endpoint_connections', { endpoint: 'replicas' }), 5);
  });

  test('before any change the master-change counter is exported as 0', async () => {
    const e = parsePrometheusText(await new TopologyMetrics().text());
    assert.equal(valueOf(e, 'redis_ha_master_changes_total'), 0);
  });
});
