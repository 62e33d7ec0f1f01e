import net from 'node:net';
import { UserError } from '../errors.ts';
import { Bridge, type Target } from './bridge.ts';
import { datapathFromEnv, type Datapath } from './datapath.ts';
import type { MasterRouter, Route } from './router.ts';
import { addressKey, type Address } from '../redis/address.ts';

/** What the replicas port does when no replica is online and caught up. */
export type ReplicaFallback = 'master' | 'refuse';

export interface EndpointOptions {
  readonly master: Address;
  /** Omit to serve the master port only. */
  readonly replicas?: Address;
  readonly replicaFallback: ReplicaFallback;
  /** Listen with SO_REUSEPORT, so several processes can serve one port (the kernel spreads connections). */
  readonly reusePort?: boolean;
  /** Open connections per port beyond which new ones are refused at once (Redis's own maxclients default). */
  readonly maxConnections?: number;
  /** A client silent this long after connecting is dropped (UNBOUND_IDLE_MS unless set). */
  readonly silentMs?: number;
  /** The data path of bound connections (datapath.ts); REDIS_HA_DATAPATH or the fastest available unless set. */
  readonly datapath?: Datapath;
}

export const MAX_ENDPOINT_CONNECTIONS = 10_000;

export interface EndpointStats {
  /** Open client connections per port (bound to a backend or not yet). */
  readonly master: number;
  readonly replicas: number;
}

function keyOf(port: 'master' | 'replicas', backend: Address): string {
  return `${port} ${addressKey(backend)}`;
}

/**
 * The master and replicas endpoints: fixed addresses that follow the router. A client connection is
 * bound to a backend when it first speaks and stays bound; when the route moves away from that backend
 * the connection is closed, so no client keeps writing to a demoted master.
 */
export class EndpointProxy {
  readonly #router: MasterRouter;
  readonly #o: EndpointOptions;
  readonly #servers: net.Server[] = [];
  readonly #open = { master: new Set<Bridge>(), replicas: new Set<Bridge>() };
  #nextReplica = 0;
  /** The data path bound connections use. */
  readonly datapath: Datapath;

  constructor(router: MasterRouter, o: EndpointOptions) {
    this.#router = router;
    this.#o = o;
    this.datapath = o.datapath ?? datapathFromEnv();
    router.onChange((next) => this.#retarget(next));
  }

  /** Listens on the ports; a port in use is a clear error. */
  async listen(): Promise<void> {
    await this.#serve('master', this.#o.master, () => this.#masterTarget());
    if (this.#o.replicas) await this.#serve('replicas', this.#o.replicas, () => this.#replicaTarget());
  }

  stats(): EndpointStats {
    return { master: this.#open.master.size, replicas: this.#open.replicas.size };
  }

  /** The addresses actually listened on (useful with port 0). */
  addresses(): { master: Address; replicas?: Address } {
    const [m, r] = this.#servers.map((s) => s.address() as net.AddressInfo);
    return { master: { host: m.address, port: m.port }, replicas: r ? { host: r.address, port: r.port } : undefined };
  }

  async close(): Promise<void> {
    for (const b of [...this.#open.master, ...this.#open.replicas]) b.close();
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  #serve(port: 'master' | 'replicas', at: Address, route: () => Target): Promise<void> {
    const open = this.#open[port];
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
      const bridge = new Bridge(client, route, (b) => open.delete(b), { silentMs: this.#o.silentMs, datapath: this.datapath });
      if (open.size >= (this.#o.maxConnections ?? MAX_ENDPOINT_CONNECTIONS)) {
        bridge.refuse(`redis-ha: the ${port} endpoint has ${open.size} connections open, its limit; close some`);
        return;
      }
      open.add(bridge);
      // Fail closed at once: a client connecting while there is no master learns why immediately.
      // (Only the master port: picking a replica advances the round-robin.)
      if (port === 'master') {
        const now = route();
        if ('refuse' in now) bridge.refuse(now.refuse);
      }
    });
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          err.code === 'EADDRINUSE'
            ? new UserError(`the ${port} endpoint cannot listen on ${addressKey(at)}: the port is in use; stop what uses it (ss -ltnp) or choose another port`)
            : new UserError(`the ${port} endpoint cannot listen on ${addressKey(at)}: ${err.message}`),
        );
      });
      server.listen({ port: at.port, host: at.host, reusePort: this.#o.reusePort ?? false }, () => resolve());
    });
  }

  #masterTarget(): Target {
    const { master, reason } = this.#router.route;
    if (!master) return { refuse: `redis-ha: no master to route to: ${reason}` };
    return { backend: master, key: keyOf('master', master) };
  }

  #replicaTarget(): Target {
    const { master, replicas, reason } = this.#router.route;
    if (replicas.length > 0) {
      const r = replicas[this.#nextReplica++ % replicas.length];
      return { backend: r, key: keyOf('replicas', r) };
    }
    if (this.#o.replicaFallback === 'master' && master) return { backend: master, key: keyOf('replicas', master) };
    return { refuse: `redis-ha: no replica is online and caught up${master ? '' : ` (${reason})`}` };
  }

  /** Closes every connection bound to a backend the route no longer includes. */
  #retarget(next: Route): void {
    const masterKey = next.master ? keyOf('master', next.master) : undefined;
    for (const b of this.#open.master) if (b.key !== undefined && b.key !== masterKey) b.close();
    const readable = new Set(next.replicas.map((r) => keyOf('replicas', r)));
    if (next.replicas.length === 0 && this.#o.replicaFallback === 'master' && next.master) readable.add(keyOf('replicas', next.master));
    for (const b of this.#open.replicas) if (b.key !== undefined && !readable.has(b.key)) b.close();
  }
}
