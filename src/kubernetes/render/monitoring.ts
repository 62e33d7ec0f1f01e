/** ServiceMonitor, PrometheusRule and the Grafana dashboard ConfigMap (prometheus-operator, Grafana sidecar). */
import type { RedisHASpec } from '../../spec/index.ts';
import type { K8sObject } from './object.ts';
import { meta } from './object.ts';
import { commonLabels, namesOf } from './names.ts';

export function serviceMonitor(spec: RedisHASpec, namespace: string): K8sObject {
  const names = namesOf(spec);
  const sm = spec.metrics.serviceMonitor;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: meta(names.metrics, sm.namespace ?? namespace, { ...commonLabels(spec.name), ...sm.labels }),
    spec: {
      namespaceSelector: { matchNames: [namespace] },
      selector: { matchLabels: { 'app.kubernetes.io/instance': spec.name, 'redis-ha.io/metrics': 'true' } },
      endpoints: [{ port: 'metrics', interval: sm.interval, path: '/metrics' }],
    },
  };
}

/** The alerts, in PromQL over redis_exporter's metrics as the ServiceMonitor labels them. */
export function alertRules(spec: RedisHASpec, namespace: string): Array<Record<string, unknown>> {
  const names = namesOf(spec);
  const sel = `namespace="${namespace}",service="${names.metrics}"`;
  const redis = `${sel},redis_mode!="sentinel"`;
  const labels = { redis_ha: spec.name };
  const rule = (alert: string, expr: string, forDuration: string, severity: string, summary: string) => ({
    alert,
    expr,
    for: forDuration,
    labels: { ...labels, severity },
    annotations: { summary, description: `${summary} (redis-ha deployment ${spec.name} in ${namespace}).` },
  });
  return [
    rule('RedisHANoMaster', `(count(redis_instance_info{${redis},role="master"}) or vector(0)) == 0`, '1m', 'critical', 'No Redis node reports role master'),
    rule('RedisHAMoreThanOneMaster', `count(redis_instance_info{${redis},role="master"}) > 1`, '30s', 'critical', 'More than one Redis node reports role master (split brain)'),
    rule('RedisHAReplicationLinkDown', `redis_master_link_up{${sel}} == 0`, '1m', 'warning', 'A replica has lost its link to the master'),
    rule('RedisHAReplicaLagHigh', `max by (pod) (redis_connected_slave_lag_seconds{${sel}}) > ${spec.minReplicasMaxLag}`, '2m', 'warning', `A replica lags the master by more than ${spec.minReplicasMaxLag} s`),
    rule('RedisHASentinelQuorumLost', `(max(redis_sentinel_master_ckquorum_status{${sel},master_name="${names.group}"}) or vector(0)) == 0`, '1m', 'critical', 'The Sentinels cannot reach the quorum to fail over'),
    rule(
      'RedisHAFailoverHappened',
      `count(redis_sentinel_master_status{${sel},master_name="${names.group}"} unless on (master_address) redis_sentinel_master_status{${sel},master_name="${names.group}"} offset 5m) > 0 and on () count(redis_sentinel_master_status{${sel},master_name="${names.group}"} offset 5m) > 0`,
      '0m',
      'info',
      'The Sentinels moved the master to another node in the last 5 minutes',
    ),
    rule(
      'RedisHAMemoryNearMaxmemory',
      `redis_memory_used_bytes{${redis}} / (redis_memory_max_bytes{${redis}} > 0) > 0.9`,
      '5m',
      'warning',
      'A Redis node uses more than 90% of maxmemory',
    ),
  ];
}

export function prometheusRule(spec: RedisHASpec, namespace: string): K8sObject {
  const pr = spec.metrics.prometheusRule;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: meta(namesOf(spec).metrics, pr.namespace ?? spec.metrics.serviceMonitor.namespace ?? namespace, {
      ...commonLabels(spec.name),
      ...pr.labels,
    }),
    spec: { groups: [{ name: `redis-ha-${spec.name}`, rules: alertRules(spec, namespace) }] },
  };
}

/** A Grafana dashboard: roles, replication, lag, memory, clients, Sentinel quorum. */
export function dashboard(spec: RedisHASpec, namespace: string): K8sObject {
  const names = namesOf(spec);
  const sel = `namespace="${namespace}",service="${names.metrics}"`;
  const panel = (id: number, title: string, expr: string, legend: string, x: number, y: number) => ({
    id,
    type: 'timeseries',
    title,
    gridPos: { h: 8, w: 12, x, y },
    datasource: { type: 'prometheus', uid: '${datasource}' },
    targets: [{ expr, legendFormat: legend, refId: 'A' }],
  });
  const board = {
    title: `redis-ha ${spec.name}`,
    uid: `redis-ha-${spec.name}`.slice(0, 40),
    schemaVersion: 39,
    tags: ['redis-ha'],
    time: { from: 'now-6h', to: 'now' },
    templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus' }] },
    panels: [
      panel(1, 'Master (1 = master)', `redis_instance_info{${sel},role="master"}`, '{{pod}}', 0, 0),
      panel(2, 'Replication link up', `redis_master_link_up{${sel}}`, '{{pod}}', 12, 0),
      panel(3, 'Replica lag (s)', `redis_connected_slave_lag_seconds{${sel}}`, '{{slave_ip}}', 0, 8),
      panel(4, 'Memory used / maxmemory', `redis_memory_used_bytes{${sel}} / (redis_memory_max_bytes{${sel}} > 0)`, '{{pod}}', 12, 8),
      panel(5, 'Connected clients', `redis_connected_clients{${sel}}`, '{{pod}}', 0, 16),
      panel(6, 'Commands per second', `rate(redis_commands_processed_total{${sel}}[1m])`, '{{pod}}', 12, 16),
      panel(7, 'Sentinel quorum ok', `redis_sentinel_master_ckquorum_status{${sel}}`, '{{pod}}', 0, 24),
      panel(8, 'Sentinels seen', `redis_sentinel_master_ok_sentinels{${sel}}`, '{{pod}}', 12, 24),
    ],
  };
  const db = spec.metrics.dashboard;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(names.dashboard, db.namespace ?? namespace, { ...commonLabels(spec.name), grafana_dashboard: '1', ...db.labels }),
    data: { [`redis-ha-${spec.name}.json`]: `${JSON.stringify(board, null, 2)}\n` },
  };
}
