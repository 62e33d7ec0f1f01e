import { rmSync } from 'node:fs';
import { collectStatus } from '../observe/status.ts';
import { startDashboardServer, type DashboardServer } from '../observe/http.ts';
import { TopologyMetrics, type EndpointConnections } from '../observe/metrics.ts';
import { Timeline } from '../observe/timeline.ts';
import type { Controller } from '../topology/controller.ts';
import { switchover, SwitchoverError } from '../topology/switchover.ts';
import type { LocalDeployment } from './deployment.ts';
import { members } from './deployment.ts';
import { writeJson } from './fsutil.ts';
import { filesOf, LOCAL_HOST, PORT_OFFSETS } from './layout.ts';
import { localStatusDocument, type HttpRecord } from './status.ts';
import { statusTargetOf, topologyOf } from './lifecycle.ts';
import { addressKey } from '../redis/address.ts';

export interface LocalHttpOptions {
  readonly controller: Controller;
  readonly log: (line: string) => void;
  /** Connections through the master/replica endpoints, once the runtime has them (the proxy). */
  readonly endpointConnections?: EndpointConnections;
  /** Default: loopback, port base + `PORT_OFFSETS.http`. */
  readonly host?: string;
  readonly port?: number;
}

export interface LocalHttp {
  /** Undefined when the server could not start (the supervisor runs on without it). */
  readonly url?: string;
  readonly metrics: TopologyMetrics;
  readonly timeline: Timeline;
  stop(): Promise<void>;
}

/**
 * Serves the dashboard, `/metrics` and the live status of a local deployment from the supervisor, and
 * records its URL in `http.json` for `status --json`. A busy port is logged, not fatal: the Redis
 * processes matter more than the view of them.
 */
export async function startHttpServer(d: LocalDeployment, o: LocalHttpOptions): Promise<LocalHttp> {
  const names = new Map(members(d).map((m) => [addressKey(m), m.id]));
  const metrics = new TopologyMetrics();
  const timeline = new Timeline(names);
  metrics.setEndpointConnections(o.endpointConnections);
  o.controller.addObserver(metrics.observer);
  o.controller.addObserver(timeline.observer);
  const port = o.port ?? d.portBase + PORT_OFFSETS.http;
  const nodeIds = new Map(d.nodes.map((n) => [n.id, n]));
  let server: DashboardServer;
  try {
    server = await startDashboardServer({
      host: o.host ?? LOCAL_HOST,
      port,
      source: {
        metrics,
        timeline,
        status: async () => localStatusDocument(d, await collectStatus(statusTargetOf(d), 500)),
        async switchover(to) {
          const target = to === undefined ? undefined : nodeIds.get(to);
          if (to !== undefined && !target) throw new Error(`'${to}' is not a node of '${d.spec.name}'; valid: ${[...nodeIds.keys()].join(', ')}`);
          timeline.add('switchover', `switchover to ${to ?? 'the most caught-up replica'} requested from the dashboard`);
          try {
            const r = await switchover(topologyOf(d), { to: target, timeoutMs: 30_000, log: (line) => o.log(`switchover: ${line}`) });
            const text = `switched master ${r.from.id} → ${r.to.id}; writes paused ${r.writePauseMs} ms`;
            timeline.add('switchover', text);
            for (const w of r.warnings) timeline.add('switchover', `warning: ${w}`, false);
            return text;
          } catch (err) {
            const message = err instanceof SwitchoverError ? err.message : `${(err as Error).message}`;
            timeline.add('switchover', `switchover failed: ${message}`, false);
            throw new Error(message);
          }
        },
      },
    });
  } catch (err) {
    o.log(`dashboard and /metrics not served: ${LOCAL_HOST}:${port} ${(err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'is in use' : (err as Error).message}; free the port and restart the supervisor ('redis-ha down' then 'up')`);
    return { metrics, timeline, stop: async () => {} };
  }
  const record: HttpRecord = { pid: process.pid, url: server.url };
  writeJson(filesOf(d.stateDir).http, record);
  o.log(`dashboard on ${server.url} (metrics: ${server.url}metrics)`);
  return {
    url: server.url,
    metrics,
    timeline,
    async stop() {
      rmSync(filesOf(d.stateDir).http, { force: true });
      await server.close();
    },
  };
}
