import { Redis } from 'ioredis';
import { addressKey, type Address } from '../redis/address.ts';
import { causeOf, redisOptions, rememberErrors, withConnection, type Endpoint, type TlsSource } from '../redis/connect.ts';
import { parseFlags, parseFlatRecord, parseReplication } from '../redis/parse.ts';
import { errorText } from '../redis/probe.ts';
import { keepAdmitted, masterAgreedAtNewestEpoch, type SentinelAnswer } from '../topology/agreement.ts';
import { Coalesced } from '../coalesce.ts';

/** Where the endpoints send clients now. `master` null means the master port refuses, with `reason`. */
export interface Route {
  readonly master: Address | null;
  readonly reason: string;
  /** Replicas that are online and within the lag bound, in a stable order. */
  readonly replicas: readonly Address[];
  readonly epoch: number;
}

/** Sentinel events after which the routes may differ: the master switched, or a replica came or went. */
const WATCHED_EVENTS = ['+switch-master', '+promoted-slave', '+sdown', '-sdown', '+slave', '+slave-reconf-done', '+convert-to-slave'];

export const NO_ROUTE: Route = { master: null, reason: 'starting: no Sentinel has answered yet', replicas: [], epoch: 0 };

export interface RouterOptions {
  readonly masterName: string;
  readonly sentinels: readonly Address[];
  readonly sentinelAuth: { readonly username?: string; readonly password?: string };
  readonly nodeAuth: { readonly username?: string; readonly password?: string };
  /**
   * Set when the Sentinels and nodes serve TLS only: the router's own checks then speak TLS. Clients'
   * bytes, TLS or not, pass through the endpoints untouched.
   */
  readonly tls?: TlsSource;
  /** Replicas more than this many seconds behind (by their last acknowledgement) get no reads. */
  readonly maxReplicaLagSeconds: number;
  /** The safety-net period; Sentinel events make it look sooner. */
  readonly resyncMs?: number;
  /**
   * Set where a topology controller runs beside the endpoint (`up`): the master is the one the
   * controller's plan publishes (`publish`), as the master-pod label is on Kubernetes, so both runtimes'
   * endpoints follow one rule. Unset (`redis-ha proxy` against any Sentinel set): the router applies
   * the agreement rule itself (`masterAgreedAtNewestEpoch`). Either way a master is admitted only while
   * it answers `ROLE` as master, and withdrawn the moment a Sentinel announces a switch away from it.
   */
  readonly followPublished?: boolean;
  readonly log?: (line: string) => void;
}

/**
 * Decides where the endpoints route: it subscribes to `+switch-master` (and the replica events) on each
 * Sentinel and looks again on every event and every `resyncMs`. The candidate master is the one the
 * controller published (`followPublished`), or else the one a majority of Sentinels name; it is admitted
 * only while it answers `ROLE` as master. The moment any Sentinel announces a switch away from the
 * admitted master, that master is withdrawn (fail closed) until the next look admits one.
 */
export class MasterRouter {
  readonly #o: RouterOptions;
  readonly #commands: Redis[] = [];

  readonly #subscribers: Redis[] = [];
  readonly #listeners: ((next: Route, previous: Route) => void)[] = [];
  #route: Route = NO_ROUTE;
  #timer?: NodeJS.Timeout;
  /** The looks, one at a time (`refresh`). */
  readonly #looking = new Coalesced(() => this.#look());
  #stopped = false;
  /**
   * Counts what makes a look stale: `+switch-master`/`+promoted-slave` events and a newly published
   * master. A look that began before the latest one does not set the route.
   */
  #generation = 0;
  /** Numbers every look as it starts; a look's answer is set only if no later-started look's was. */
  #looks = 0;
  #applied = 0;
  /**
   * `followPublished`: the master a Sentinel announced a switch away from. It is not admitted again,
   * though the controller may still publish it (its plan follows the Sentinel majority a pass later),
   * until the controller publishes another master.
   */
  #switchedAway?: string;
  /** `followPublished`: the controller's last word; undefined until it has spoken. */
  #published?: { readonly master: Address | null; readonly why: string };

  constructor(o: RouterOptions) {
    this.#o = o;
  }

  get route(): Route {
    return this.#route;
  }

  onChange(listener: (next: Route, previous: Route) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * `followPublished`: the master the controller's plan names now (null: none is trustworthy, with the
   * plan's reason). Looks again at once when it differs from the last one.
   */
  publish(master: Address | null, why: string): void {
    const before = this.#published;
    this.#published = { master, why };
    const same = before && (before.master ? addressKey(before.master) : '') === (master ? addressKey(master) : '') && (master !== null || before.why === why);
    if (master && this.#switchedAway !== undefined && addressKey(master) !== this.#switchedAway) this.#switchedAway = undefined;
    if (!same) {
      // A new master: look at it now, beside a look in flight (which was about the old one and whose
      // answer is now stale), rather than after it.
      this.#generation++;
      void this.#lookNow();
    } else if (master !== null && this.#route.master === null) {
      // The same master again while the route is closed: it may have just become master (the plan
      // publishes before it promotes), so look now rather than at the next resync.
      void this.refresh();
    }
  }

  /** Connects to the Sentinels and resolves after the first decision (which may be "no master"). */
  async start(): Promise<void> {
    for (const s of this.#o.sentinels) {
      const options = {
        ...redisOptions({ ...this.#o.sentinelAuth, host: s.host, port: s.port, tls: this.#o.tls }),
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 500,
        connectTimeout: 500,
        retryStrategy: () => 250,
      };
      if (!this.#o.followPublished) {
        // Only the router that applies the agreement rule itself asks the Sentinels.
        const command = new Redis({ ...options, lazyConnect: true });
        rememberErrors(command);
        this.#commands.push(command);
      }
      const sub = new Redis({ ...options, enableOfflineQueue: true, maxRetriesPerRequest: null });
      sub.on('error', () => {});
      sub.subscribe(...WATCHED_EVENTS).catch(() => {});
      sub.on('message', (channel: string, message: string) => {
        if (channel === '+switch-master' || channel === '+promoted-slave') this.#switched(addressKey(s), channel, message);
        else if (message.includes(this.#o.masterName)) void this.refresh();
      });
      // A Sentinel that comes back may have moved on while we were not listening.
      sub.on('ready', () => this.refresh());
      this.#subscribers.push(sub);
    }
    // The first decision waits for the connections (each fails within its connect timeout).
    await Promise.all(this.#commands.map((c) => c.connect().catch(() => {})));
    this.#timer = setInterval(() => this.refresh(), this.#o.resyncMs ?? 1000);
    await this.refresh();
  }

  stop(): void {
    this.#stopped = true;
    void this.#looking.stop();
    clearInterval(this.#timer);
    for (const c of [...this.#commands, ...this.#subscribers]) c.disconnect();
  }

  /** Looks again now (or right after the look in flight). Resolves when the routes are current. */
  refresh(): Promise<void> {
    // Once stopped, `Coalesced` starts no look.
    return this.#looking.run();
  }

  /** One look: true (look again) when an event or a publish made it stale meanwhile. */
  async #look(): Promise<boolean> {
    const generation = this.#generation;
    const look = ++this.#looks;
    const route = await this.#decide();
    if (generation !== this.#generation) return true;
    this.#setNewest(look, route);
    return false;
  }

  /**
   * A Sentinel says the master is being replaced: `+promoted-slave slave <id> <ip> <port> @ <name> ...`
   * when it has promoted a replica, `+switch-master <name> <old-ip> <old-port> <ip> <port>` when it has
   * switched. The admitted master is withdrawn at once if it is not the new one.
   */
  #switched(sentinel: string, channel: string, message: string): void {
    const parts = message.split(' ');
    const [name, host, port] = channel === '+switch-master' ? [parts[0], parts[3], parts[4]] : [parts[5], parts[2], parts[3]];
    if (name !== this.#o.masterName) return;
    this.#generation++;
    const to = `${host}:${port}`;
    const current = this.#route.master;
    const published = this.#published?.master;
    if (this.#o.followPublished && published && addressKey(published) !== to) this.#switchedAway = addressKey(published);
    if (current && addressKey(current) !== to) {
      this.#set({ ...this.#route, master: null, reason: `failover in progress: Sentinel ${sentinel} ${channel === '+switch-master' ? 'switched' : 'promoted'} ${to}` });
    }
    void this.refresh();
  }

  /** One look outside the refresh loop; its answer counts only if nothing made it stale meanwhile. */
  async #lookNow(): Promise<void> {
    const generation = this.#generation;
    const look = ++this.#looks;
    const route = await this.#decide();
    if (generation === this.#generation) this.#setNewest(look, route);
  }

  /** Sets the answer of look number `look` unless a look that started later has already set its own. */
  #setNewest(look: number, route: Route): void {
    if (look < this.#applied) return;
    this.#applied = look;
    this.#set(route);
  }

  #set(next: Route): void {
    if (this.#stopped) return;
    const previous = this.#route;
    this.#route = next;
    const same =
      (previous.master ? addressKey(previous.master) : '') === (next.master ? addressKey(next.master) : '') &&
      previous.replicas.map(addressKey).join() === next.replicas.map(addressKey).join() &&
      previous.reason === next.reason;
    if (same) return;
    if ((previous.master === null) !== (next.master === null) || previous.master && next.master && addressKey(previous.master) !== addressKey(next.master)) {
      const epoch = this.#o.followPublished ? '' : ` (epoch ${next.epoch})`;
      this.#o.log?.(next.master ? `endpoint: master ${addressKey(next.master)}${epoch}` : `endpoint: no master: ${next.reason}`);
    }
    for (const l of this.#listeners) l(next, previous);
  }

  async #ask(c: Redis, sentinel: Address): Promise<SentinelAnswer> {
    const at = addressKey(sentinel);
    if (c.status !== 'ready') {
      const why = causeOf(c, new Error('Connection is closed.'));
      return { sentinel: at, error: (why as Error).message === 'Connection is closed.' ? 'not connected' : errorText(why) };
    }
    try {
      const m = parseFlatRecord(await c.call('SENTINEL', 'MASTER', this.#o.masterName));
      const failingOver = parseFlags(m.get('flags')).has('failover_in_progress');
      const port = Number(m.get('port'));
      if (!m.get('ip') || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`SENTINEL MASTER ${this.#o.masterName} gave no usable address`);
      return { sentinel: at, master: { host: m.get('ip') ?? '', port }, epoch: Number(m.get('config-epoch') ?? 0) || 0, failingOver };
    } catch (err) {
      // Anything but a Redis error reply (a timeout, a reply that is not RESP) leaves the connection in
      // an unknown state, perhaps with a half-read reply buffered: start it afresh.
      if ((err as Error).name !== 'ReplyError') c.disconnect(true);
      return { sentinel: at, error: errorText(causeOf(c, err)) };
    }
  }

  /** The master to check: the published one (`followPublished`) or the one the Sentinels agree on. */
  async #candidate(): Promise<{ master: Address; epoch: number; by: string } | { reason: string }> {
    if (this.#o.followPublished) {
      const p = this.#published;
      if (!p) return { reason: 'starting: the controller has not published a master yet' };
      if (!p.master) return { reason: p.why };
      if (addressKey(p.master) === this.#switchedAway) return { reason: `failover in progress: a Sentinel switched away from ${this.#switchedAway}` };
      return { master: p.master, epoch: this.#route.epoch, by: 'the controller publishes it' };
    }
    const answers = await Promise.all(this.#commands.map((c, i) => this.#ask(c, this.#o.sentinels[i])));
    const agreed = masterAgreedAtNewestEpoch(answers, this.#o.sentinels.length);
    if (!('reason' in agreed)) return { ...agreed, by: 'a majority of Sentinels name it' };
    const admitted = this.#route.master ? { master: this.#route.master, epoch: this.#route.epoch } : undefined;
    if (admitted && keepAdmitted(answers, this.#o.sentinels.length, admitted)) {
      return { ...admitted, by: `kept: ${agreed.reason}, and no Sentinel that answered names another master` };
    }
    return agreed;
  }

  async #decide(): Promise<Route> {
    const agreed = await this.#candidate();
    if ('reason' in agreed) return { master: null, reason: agreed.reason, replicas: [], epoch: this.#route.epoch };
    const node: Endpoint = { ...this.#o.nodeAuth, ...agreed.master, tls: this.#o.tls };
    const named = this.#o.followPublished ? 'the controller publishes' : 'Sentinels name';
    try {
      const [role, info] = await withConnection(node, async (c) => [await c.call('ROLE'), (await c.info('replication')) as string], 500);
      const actual = Array.isArray(role) ? String(role[0]) : 'unknown';
      if (actual !== 'master') {
        return { master: null, reason: `${named} ${addressKey(agreed.master)} but it answers ROLE as ${actual}`, replicas: [], epoch: agreed.epoch };
      }
      const replicas = parseReplication(info)
        .replicas.filter((r) => r.state === 'online' && r.lag <= this.#o.maxReplicaLagSeconds)
        .map((r) => ({ host: r.host, port: r.port }));
      return { master: agreed.master, reason: `${agreed.by} and it answers ROLE as master`, replicas, epoch: agreed.epoch };
    } catch (err) {
      return { master: null, reason: `${named} ${addressKey(agreed.master)} but it cannot be reached: ${errorText(err)}`, replicas: [], epoch: agreed.epoch };
    }
  }
}
