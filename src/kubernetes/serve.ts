/**
 * The operator process: leader election, the operator loop while leading, `/healthz`, `/readyz`,
 * `/metrics`, and graceful shutdown (SIGTERM: stop acting, let the work in flight finish, release the
 * Lease so a standby takes over at once, close the server).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeClient } from './client.ts';
import { LeaderElector } from './leader.ts';
import { Operator, type OperatorOptions } from './operator.ts';
import { LEASE_NAME } from './manifests.ts';

export interface ServeOptions extends Omit<OperatorOptions, 'client' | 'log' | 'identity'> {
  readonly client: KubeClient;
  readonly identity: string;
  readonly log: (line: string) => void;
  /** `host:port` of the health and metrics server; undefined: none. */
  readonly http?: { host: string; port: number };
  readonly leaderElection: boolean;
  readonly leaseNamespace: string;
  readonly leaseName?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

export interface RunningOperator {
  readonly url?: string;
  /** Resolves when the process should exit, with its exit code (0 after a signal, 1 after lost leadership). */
  readonly done: Promise<number>;
  shutdown(why: string): Promise<void>;
}

export async function serveOperator(o: ServeOptions): Promise<RunningOperator> {
  let operator: Operator | undefined;
  let elector: LeaderElector | undefined;
  let server: Server | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));
  let stopping = false;
  let standbyReady = !o.leaderElection;

  const startOperator = () => {
    operator = new Operator({ ...o, log: o.log });
    operator.start().catch((err) => o.log(`operator failed to start: ${(err as Error).message}`));
  };

  const shutdown = async (why: string, code = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    o.log(`Shutting down: ${why}`);
    await operator?.stop();
    await elector?.stop();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    o.log('Stopped');
    finish(code);
  };

  if (o.http) {
    server = createServer(async (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
        res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store' });
        res.end(body);
      };
      if (path === '/healthz') return reply(stopping ? 503 : 200, stopping ? 'stopping\n' : 'ok\n');
      if (path === '/readyz') {
        const leading = operator !== undefined;
        const ready = !stopping && (leading ? operator!.synced : standbyReady);
        return reply(ready ? 200 : 503, `${ready ? 'ready' : 'not ready'}: ${leading ? 'leader' : 'standby'}\n`);
      }
      if (path === '/metrics') {
        try {
          const text = operator ? await operator.metricsText() : '';
          return reply(200, `# redis-ha operator ${o.identity}: ${operator ? 'leader' : 'standby'}\n${text}`, 'text/plain; version=0.0.4; charset=utf-8');
        } catch (err) {
          return reply(500, `${(err as Error).message}\n`);
        }
      }
      return reply(404, 'not found\n');
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(o.http!.port, o.http!.host, () => resolve());
    });
  }
  const address = server?.address() as AddressInfo | undefined;

  if (o.leaderElection) {
    elector = new LeaderElector(o.client, {
      namespace: o.leaseNamespace,
      name: o.leaseName ?? LEASE_NAME,
      identity: o.identity,
      leaseDurationMs: o.leaseDurationMs,
      renewDeadlineMs: o.renewDeadlineMs,
      retryPeriodMs: o.retryPeriodMs,
      log: (line) => {
        o.log(line);
      },
      onStartedLeading: startOperator,
      // Like client-go: a leader that lost its Lease exits, so it cannot act beside the new one.
      onStoppedLeading: () => void shutdown('lost leadership', 1),
    });
    elector.start();
    standbyReady = true;
  } else startOperator();

  return { url: address ? `http://${address.address}:${address.port}` : undefined, done, shutdown: (why) => shutdown(why) };
}
