import type { Redis } from 'ioredis';
import { withConnection, type Endpoint } from './connect.ts';
import { parseFlags, parseFlatRecord, parseFlatRecords, parseInfo, parseReplication, parseSentinelReplicas, type ReplicationInfo, type SentinelReplica } from './parse.ts';

/** One Redis node as seen at one moment. `error` is set exactly when it could not be read. */
export interface NodeProbe {
  readonly host: string;
  readonly port: number;
  readonly reachable: boolean;
  readonly error?: string;
  readonly replication?: ReplicationInfo;
  /** Selected `INFO` figures (memory, clients, stats, keyspace), as Redis names them. */
  readonly info?: ReadonlyMap<string, string>;
}

/** How one Sentinel sees the master group it monitors. */
export interface SentinelView {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly flags: ReadonlySet<string>;
  readonly quorum: number;
  readonly downAfterMilliseconds: number;
  readonly failoverTimeout: number;
  readonly parallelSyncs: number;
  readonly configEpoch: number;
  readonly failoverInProgress: boolean;
  /** Sentinel's failover state machine (`none`, `wait_start`, ..., `reconf_slaves`, `update_config`). */
  readonly failoverState: string;
  readonly replicas: readonly SentinelReplica[];
  readonly sentinels: readonly { host: string; port: number; runId: string; flags: ReadonlySet<string> }[];
  readonly ckquorum: { readonly ok: boolean; readonly message: string };
  /** How often it reads each node's INFO outside failovers (`SENTINEL DEBUG`'s INFO-PERIOD); undefined where it has no `SENTINEL DEBUG`. */
  readonly infoPeriodMs?: number;
  /** How often it pings, and at most reconnects (`SENTINEL DEBUG`'s PING-PERIOD); undefined as above. */
  readonly pingPeriodMs?: number;
}

export interface SentinelProbe {
  readonly host: string;
  readonly port: number;
  readonly reachable: boolean;
  readonly error?: string;
  /** Undefined when reachable but not monitoring `masterName`. */
  readonly view?: SentinelView;
  readonly tilt: boolean;
}

/**
 * One line for an error from a Redis or Sentinel connection, with the usual login failures said plainly
 * (the server's own words kept after them), e.g. `login refused: wrong user name or password, or the
 * user is disabled (WRONGPASS ...)`.
 */
export function errorText(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
  const plain = LOGIN_FAILURES.find(([pattern]) => pattern.test(msg))?.[1];
  return (plain ? `${plain} (${msg})` : msg).slice(0, 240);
}

const LOGIN_FAILURES: readonly (readonly [RegExp, string])[] = [
  [/^WRONGPASS/, 'login refused: wrong user name or password, or the user is disabled; check the credentials'],
  [/^NOAUTH/, 'login required: the server wants a password and none was sent'],
  [/^NOPERM/, 'not allowed: this ACL user may not run that command'],
  [/Protocol error/i, 'the server does not speak the Redis protocol (RESP)'],
];

async function sentinel(c: Redis, ...args: string[]): Promise<unknown> {
  return c.call('SENTINEL', ...args);
}

export async function probeNode(e: Endpoint, timeoutMs = 1000): Promise<NodeProbe> {
  try {
    const text = await withConnection(e, (c) => c.info() as Promise<string>, timeoutMs);
    return { host: e.host, port: e.port, reachable: true, replication: parseReplication(text), info: parseInfo(text) };
  } catch (err) {
    return { host: e.host, port: e.port, reachable: false, error: errorText(err) };
  }
}

export async function probeSentinel(e: Endpoint, masterName: string, timeoutMs = 1000): Promise<SentinelProbe> {
  try {
    return await withConnection(
      e,
      async (c) => {
        const info = parseInfo((await c.info('sentinel')) as string);
        const tilt = info.get('sentinel_tilt') === '1';
        let master: Map<string, string>;
        try {
          master = parseFlatRecord(await sentinel(c, 'MASTER', masterName));
        } catch (err) {
          if (/No such master/i.test(errorText(err))) return { host: e.host, port: e.port, reachable: true, tilt };
          throw err;
        }
        // A reply without a usable address is not a view of a master (a server that says "+OK" to everything).
        const port = Number(master.get('port'));
        if (!master.get('ip') || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`SENTINEL MASTER ${masterName} gave no usable address`);
        const [replicas, sentinels, ckquorum, debug] = await Promise.all([
          sentinel(c, 'REPLICAS', masterName).then(parseFlatRecords),
          sentinel(c, 'SENTINELS', masterName).then(parseFlatRecords),
          sentinel(c, 'CKQUORUM', masterName).then(
            (r) => ({ ok: true, message: String(r) }),
            (err: unknown) => ({ ok: false, message: errorText(err) }),
          ),
          sentinel(c, 'DEBUG').then(parseFlatRecord, () => undefined),
        ]);
        const flags = parseFlags(master.get('flags'));
        const view: SentinelView = {
          name: masterName,
          host: master.get('ip') ?? '',
          port,
          flags,
          quorum: Number(master.get('quorum') ?? 0),
          downAfterMilliseconds: Number(master.get('down-after-milliseconds') ?? 0),
          failoverTimeout: Number(master.get('failover-timeout') ?? 0),
          parallelSyncs: Number(master.get('parallel-syncs') ?? 0),
          configEpoch: Number(master.get('config-epoch') ?? 0),
          failoverInProgress: flags.has('failover_in_progress') || (master.get('failover-state') ?? 'none') !== 'none',
          failoverState: master.get('failover-state') ?? 'none',
          replicas: parseSentinelReplicas(replicas),
          sentinels: sentinels.map((s) => ({
            host: s.get('ip') ?? '',
            port: Number(s.get('port') ?? 0),
            runId: s.get('runid') ?? '',
            flags: parseFlags(s.get('flags')),
          })),
          ckquorum,
          ...(debug?.has('INFO-PERIOD') ? { infoPeriodMs: Number(debug.get('INFO-PERIOD')) } : {}),
          ...(debug?.has('PING-PERIOD') ? { pingPeriodMs: Number(debug.get('PING-PERIOD')) } : {}),
        };
        return { host: e.host, port: e.port, reachable: true, tilt, view };
      },
      timeoutMs,
    );
  } catch (err) {
    return { host: e.host, port: e.port, reachable: false, error: errorText(err), tilt: false };
  }
}

/**
 * How many replicas of the master at `e` acknowledge a message published now, within `waitMs`: a
 * PUBLISH on redis-ha's own channel (`channel`, which holds no data and nobody reads) goes down the
 * replication stream, and WAIT counts the replicas that confirm it. A replica that is linked but not
 * yet streaming does not count: after a diskless full sync a Redis master holds a replica's stream
 * until that replica's next REPLCONF ACK (up to 1 s later, when its first ACK beat the master's notice
 * that the transfer ended), while it already acknowledges writes, min-replicas-to-write included.
 */
export async function replicasAcknowledging(e: Endpoint, channel: string, replicas: number, waitMs: number): Promise<number> {
  return withConnection(e, async (c) => {
    await c.call('PUBLISH', channel, 'probe');
    return Number(await c.call('WAIT', String(replicas), String(waitMs)));
  }, waitMs + 1000);
}
