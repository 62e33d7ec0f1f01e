/**
 * Prometheus metrics of one deployment, for any runtime: the local supervisor serves them on
 * `/metrics`, the Kubernetes operator can register the same set (one `TopologyMetrics` per RedisHA,
 * each on its own registry). Two sources feed them:
 *
 * - a `TopologyStatus` (`update`), taken when scraped: roles, Sentinel agreement, replication lag and
 *   the node-level figures, named exactly as redis_exporter names them so existing dashboards and
 *   alerts work (`redis_memory_used_bytes`, `redis_commands_processed_total`, ...), with `node` and
 *   `addr` labels because one endpoint speaks for every node;
 * - the controller (`observer`): actions by kind, master changes, failover durations.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { addressKey } from '../redis/address.ts';
import type { ControllerObserver } from '../topology/events.ts';
import type { NodeFigures } from '../redis/parse.ts';
import type { NodeStatus, TopologyStatus } from './status.ts';

/** Connections open through the master and replica endpoints (the proxy), when a runtime has them. */
export type EndpointConnections = () => { master: number; replicas: number };

type Figure = Exclude<keyof NodeFigures, 'redisVersion' | 'valkeyVersion' | 'dbKeys'>;

/**
 * INFO field → redis_exporter metric. Counters keep their `_total` name and counter type; Redis resets
 * them on restart, which Prometheus's `rate()` handles as a counter reset.
 */
const EXPORTER_FIGURES: readonly { field: Figure; name: string; help: string; counter?: true }[] = [
  { field: 'used_memory', name: 'redis_memory_used_bytes', help: 'Bytes allocated by Redis (INFO used_memory)' },
  { field: 'used_memory_rss', name: 'redis_memory_used_rss_bytes', help: 'Resident set size of Redis (INFO used_memory_rss)' },
  { field: 'maxmemory', name: 'redis_memory_max_bytes', help: 'The maxmemory setting; 0 = no limit' },
  { field: 'connected_clients', name: 'redis_connected_clients', help: 'Client connections' },
  { field: 'blocked_clients', name: 'redis_blocked_clients', help: 'Clients blocked in BLPOP and the like' },
  { field: 'connected_slaves', name: 'redis_connected_slaves', help: 'Replicas connected to this node' },
  { field: 'total_connections_received', name: 'redis_connections_received_total', help: 'Connections accepted', counter: true },
  { field: 'rejected_connections', name: 'redis_rejected_connections_total', help: 'Connections refused (maxclients)', counter: true },
  { field: 'total_commands_processed', name: 'redis_commands_processed_total', help: 'Commands processed', counter: true },
  { field: 'instantaneous_ops_per_sec', name: 'redis_instantaneous_ops_per_sec', help: 'Commands per second, as Redis samples it' },
  { field: 'keyspace_hits', name: 'redis_keyspace_hits_total', help: 'Successful key lookups', counter: true },
  { field: 'keyspace_misses', name: 'redis_keyspace_misses_total', help: 'Failed key lookups', counter: true },
  { field: 'expired_keys', name: 'redis_expired_keys_total', help: 'Keys expired', counter: true },
  { field: 'evicted_keys', name: 'redis_evicted_keys_total', help: 'Keys evicted by maxmemory', counter: true },
  { field: 'total_net_input_bytes', name: 'redis_net_input_bytes_total', help: 'Bytes read from the network', counter: true },
  { field: 'total_net_output_bytes', name: 'redis_net_output_bytes_total', help: 'Bytes written to the network', counter: true },
  { field: 'uptime_in_seconds', name: 'redis_uptime_in_seconds', help: 'Seconds since the node started' },
];

const ROLES = ['master', 'replica', 'down', 'unknown'] as const;

/** Failovers take seconds: down-after (1-5 s by profile) plus the election and promotion. */
const FAILOVER_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120];

const nodeLabels = (n: NodeStatus) => ({ node: n.id, addr: addressKey(n) });

export class TopologyMetrics {
  readonly registry: Registry;
  readonly #figures = new Map<Figure, Gauge | Counter>();
  readonly #up: Gauge;
  readonly #dbKeys: Gauge;
  readonly #role: Gauge;
  readonly #info: Gauge;
  readonly #lag: Gauge;
  readonly #offset: Gauge;
  readonly #healthy: Gauge;
  readonly #problems: Gauge;
  readonly #sentinelUp: Gauge;
  readonly #sentinelAgrees: Gauge;
  readonly #sentinelsAgreeing: Gauge;
  readonly #sentinelsConfigured: Gauge;
  readonly #sentinelEpoch: Gauge;
  readonly #actions: Counter;
  readonly #masterChanges: Counter;
  readonly #failoverSeconds: Histogram;
  #endpointConnections?: EndpointConnections;

  /**
   * @example
   * const metrics = new TopologyMetrics();
   * controller.addObserver(metrics.observer);
   * metrics.update(await collectStatus(target));
   * res.end(await metrics.registry.metrics());
   */
  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    for (const f of EXPORTER_FIGURES) {
      const config = { name: f.name, help: f.help, labelNames: ['node', 'addr'], registers };
      this.#figures.set(f.field, f.counter ? new Counter(config) : new Gauge(config));
    }
    this.#up = new Gauge({ name: 'redis_up', help: '1 when the node answered INFO', labelNames: ['node', 'addr'], registers });
    this.#dbKeys = new Gauge({ name: 'redis_db_keys', help: 'Keys in the database', labelNames: ['node', 'addr', 'db'], registers });
    this.#info = new Gauge({ name: 'redis_instance_info', help: 'Node facts as labels; always 1', labelNames: ['node', 'addr', 'role', 'redis_version'], registers });
    this.#role = new Gauge({ name: 'redis_ha_node_role', help: '1 for the role the node reports now (master, replica, down, unknown), 0 for the others', labelNames: ['node', 'addr', 'role'], registers });
    this.#lag = new Gauge({ name: 'redis_ha_replication_lag_bytes', help: "Bytes a replica's offset is behind the master's", labelNames: ['node', 'addr'], registers });
    this.#offset = new Gauge({ name: 'redis_ha_replication_offset_bytes', help: 'Replication offset of the node', labelNames: ['node', 'addr'], registers });
    this.#healthy = new Gauge({ name: 'redis_ha_healthy', help: '1 when the deployment is healthy (see redis-ha status for the problems)', registers });
    this.#problems = new Gauge({ name: 'redis_ha_problems', help: 'Problems keeping the deployment from being healthy', registers });
    this.#sentinelUp = new Gauge({ name: 'redis_ha_sentinel_up', help: '1 when the Sentinel answered', labelNames: ['sentinel', 'addr'], registers });
    this.#sentinelAgrees = new Gauge({ name: 'redis_ha_sentinel_agrees', help: '1 when the Sentinel names the master a majority of Sentinels names', labelNames: ['sentinel', 'addr', 'sees'], registers });
    this.#sentinelsAgreeing = new Gauge({ name: 'redis_ha_sentinels_agreeing', help: 'Sentinels naming the agreed master', registers });
    this.#sentinelsConfigured = new Gauge({ name: 'redis_ha_sentinels_configured', help: 'Sentinels of the deployment', registers });
    this.#sentinelEpoch = new Gauge({ name: 'redis_ha_sentinel_config_epoch', help: "The Sentinel's config epoch for the master", labelNames: ['sentinel', 'addr'], registers });
    this.#actions = new Counter({ name: 'redis_ha_controller_actions_total', help: 'Actions the topology controller carried out, by kind and outcome', labelNames: ['kind', 'outcome'], registers });
    this.#masterChanges = new Counter({ name: 'redis_ha_master_changes_total', help: 'Times a majority of Sentinels came to name another master (failovers and switchovers)', registers });
    this.#failoverSeconds = new Histogram({ name: 'redis_ha_failover_duration_seconds', help: 'From the first sign of trouble with the master to a majority of Sentinels naming the new one', buckets: FAILOVER_BUCKETS, registers });
    this.#masterChanges.inc(0);
    const endpointConnections = (): EndpointConnections | undefined => this.#endpointConnections;
    new Gauge({
      name: 'redis_ha_endpoint_connections',
      help: 'Client connections open through the master and replica endpoints',
      labelNames: ['endpoint'],
      registers,
      collect() {
        const provider = endpointConnections();
        if (!provider) return;
        const { master, replicas } = provider();
        this.set({ endpoint: 'master' }, master);
        this.set({ endpoint: 'replicas' }, replicas);
      },
    });
  }

  /** Where `redis_ha_endpoint_connections` comes from; without one the metric has no samples. */
  setEndpointConnections(provider: EndpointConnections | undefined): void {
    this.#endpointConnections = provider;
  }

  /** The controller's side: add it with `controller.addObserver(metrics.observer)`. */
  readonly observer: ControllerObserver = {
    action: (e) => this.#actions.inc({ kind: e.kind, outcome: e.ok ? 'ok' : 'failed' }),
    masterChanged: (e) => {
      this.#masterChanges.inc();
      if (e.durationMs !== undefined) this.#failoverSeconds.observe(e.durationMs / 1000);
    },
  };

  /** Replaces every status-derived sample with what `status` says (nodes that are gone lose their samples). */
  update(status: TopologyStatus): void {
    for (const m of [...this.#figures.values(), this.#up, this.#dbKeys, this.#info, this.#role, this.#lag, this.#offset, this.#sentinelUp, this.#sentinelAgrees, this.#sentinelEpoch]) m.reset();
    for (const n of status.nodes) {
      const labels = nodeLabels(n);
      this.#up.set(labels, n.reachable ? 1 : 0);
      for (const role of ROLES) this.#role.set({ ...labels, role }, n.role === role ? 1 : 0);
      if (!n.reachable) continue;
      this.#info.set({ ...labels, role: n.role, redis_version: n.figures?.redisVersion ?? '' }, 1);
      if (n.offset !== undefined) this.#offset.set(labels, n.offset);
      if (n.lagBytes !== undefined) this.#lag.set(labels, n.lagBytes);
      for (const [db, keys] of Object.entries(n.figures?.dbKeys ?? {})) this.#dbKeys.set({ ...labels, db }, keys);
      for (const [field, metric] of this.#figures) {
        const value = n.figures?.[field];
        if (value === undefined) continue;
        if (metric instanceof Counter) metric.inc(labels, value);
        else metric.set(labels, value);
      }
    }
    const master = status.master ? addressKey(status.master) : undefined;
    let agreeing = 0;
    for (const s of status.sentinels) {
      const labels = { sentinel: s.id, addr: addressKey(s) };
      const sees = s.master ? addressKey(s.master) : '';
      const agrees = master !== undefined && sees === master;
      if (agrees) agreeing += 1;
      this.#sentinelUp.set(labels, s.reachable ? 1 : 0);
      this.#sentinelAgrees.set({ ...labels, sees }, agrees ? 1 : 0);
      if (s.reachable && s.master) this.#sentinelEpoch.set(labels, s.configEpoch);
    }
    this.#sentinelsAgreeing.set(agreeing);
    this.#sentinelsConfigured.set(status.sentinels.length);
    this.#healthy.set(status.healthy ? 1 : 0);
    this.#problems.set(status.problems.length);
  }

  /** The text exposition, after `update`. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
