import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { TimingProfile } from '../src/spec/types.ts';
import { redisOptions, withConnection } from '../src/redis/connect.ts';
import { clientTlsOf } from '../src/local/tls.ts';
import { collectStatus } from '../src/observe/status.ts';
import { statusTargetOf, waitHealthy } from '../src/local/lifecycle.ts';
import { readRuntime } from '../src/local/supervisor.ts';
import type { LocalDeployment } from '../src/local/deployment.ts';
import type { AckedWriter } from './writer.ts';
import { bothWriters, withBenchDeployment } from './harness.ts';
import { addressKey } from '../src/redis/address.ts';
import { readFileSync } from 'node:fs';
import { filesOf } from '../src/local/layout.ts';
import { majorityOf } from '../src/topology/agreement.ts';
import { sentinelPeriodArgs } from '../src/topology/sentinel-timing.ts';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Acknowledged keys of `writer` missing on the current master. */
async function countLost(d: LocalDeployment, writer: AckedWriter): Promise<number> {
  const status = await collectStatus(statusTargetOf(d));
  if (!status.master) return writer.acked.length;
  return (await writer.missingOn(status.master, d.users.application.password, d.users.application.username)).length;
}

/**
 * Watches every node at once for a split brain: each round asks all nodes `ROLE` in parallel on
 * standing connections, and every node that says master gets a probe write in the same round. Two
 * nodes answering master in one round is counted; two accepting the write in one round is a split
 * brain (a master fenced by min-replicas-to-write refuses it with NOREPLICAS).
 */
export class SplitBrainWatch {
  roundsWithTwoMasters = 0;
  roundsWithTwoWritableMasters = 0;
  rounds = 0;
  readonly #clients: Redis[];
  #stop = false;
  #loop?: Promise<void>;

  constructor(d: LocalDeployment) {
    this.#clients = d.nodes.map((n) => {
      const c = new Redis({ ...redisOptions({ ...n, ...d.users.application, tls: clientTlsOf(d) }), retryStrategy: () => 20, maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 200 });
      c.on('error', () => {});
      return c;
    });
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stop) {
        const roles = await Promise.all(this.#clients.map((c) => c.call('ROLE').then((r) => String((r as unknown[])[0]), () => 'unreachable')));
        const masters = this.#clients.filter((_, i) => roles[i] === 'master');
        this.rounds++;
        if (masters.length > 1) {
          this.roundsWithTwoMasters++;
          const accepted = await Promise.all(masters.map((c) => c.set('redis-ha:bench:split-brain-probe', String(Date.now())).then(() => true, () => false)));
          if (accepted.filter(Boolean).length > 1) this.roundsWithTwoWritableMasters++;
        }
        await sleep(10);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
    for (const c of this.#clients) c.disconnect();
  }
}

/**
 * Sentinel's failover steps, in order, as its event channels announce them: the failover begins (asked,
 * or after ODOWN and an election), `REPLICAOF NO ONE` is sent to the chosen replica, Sentinel sees in its
 * INFO that the replica is master, and the Sentinels switch.
 */
const FAILOVER_EVENTS = ['+try-failover', '+failover-state-wait-promotion', '+promoted-slave', '+switch-master'] as const;
type FailoverEvent = (typeof FAILOVER_EVENTS)[number];
/** The steps between them (SentinelClock.phasesAfter). */
const PHASES = ['toStart', 'toPromotionSent', 'toPromotionSeen', 'toMajoritySwitch', 'toEverySwitched'] as const;

/**
 * Records when each Sentinel announces each of `FAILOVER_EVENTS`: when the majority had switched (what
 * the master endpoint is measured against), and how long each step of a failover took.
 */
export class SentinelClock {
  readonly #subs: Redis[];
  readonly #events: { sentinel: number; event: FailoverEvent; at: number }[] = [];
  readonly #majority: number;
  readonly #subscribed: Promise<unknown>[];

  constructor(sentinels: readonly { host: string; port: number }[], sentinelPassword: string) {
    this.#majority = majorityOf(sentinels.length);
    this.#subs = sentinels.map((s, i) => {
      const c = new Redis({ host: s.host, port: s.port, password: sentinelPassword, retryStrategy: () => 50 });
      c.on('error', () => {});
      c.on('message', (channel: string) => this.#events.push({ sentinel: i, event: channel as FailoverEvent, at: performance.now() }));
      return c;
    });
    this.#subscribed = this.#subs.map((c) => c.subscribe(...FAILOVER_EVENTS));
  }

  /** Resolves once every Sentinel has confirmed the subscription: a failover before it would go unseen. */
  async subscribed(): Promise<void> {
    await Promise.all(this.#subscribed);
  }

  /** What each Sentinel announced after `since`, for a trial whose steps are missing. */
  heardAfter(since: number): string {
    return this.#subs.map((_, i) => `Sentinel ${i + 1}: ${this.#events.filter((e) => e.sentinel === i && e.at >= since).map((e) => e.event).join(' ') || 'nothing'}`).join('; ');
  }

  /** When `count` Sentinels (by default a majority) had announced a switch after `since`, or undefined. */
  majoritySwitchedAfter(since: number, count = this.#majority): number | undefined {
    const seen = new Set<number>();
    for (const s of this.#events) {
      if (s.at < since || s.event !== '+switch-master') continue;
      seen.add(s.sentinel);
      if (seen.size >= count) return s.at;
    }
    return undefined;
  }

  /**
   * Ms from `since` until the first Sentinel of the list (the one clients ask first) announced a switch,
   * or undefined: what a client that reads `SENTINEL MASTERS` from it (redis-py) waits for.
   */
  firstListedSwitchedAfter(since: number): number | undefined {
    const at = this.#events.find((e) => e.sentinel === 0 && e.event === '+switch-master' && e.at >= since)?.at;
    return at === undefined ? undefined : Math.round(at - since);
  }

  /**
   * Waits (at most `timeoutMs`) until every Sentinel has announced a switch after `since`: the one that
   * led the failover announces it last, and the steps are read after it.
   */
  async everySwitched(since: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.majoritySwitchedAfter(since, this.#subs.length) === undefined && performance.now() < deadline) await sleep(50);
  }

  /**
   * The steps of the failover that followed `since` (a kill, or a switchover's start), in ms, each from
   * the one before: `toStart` (to the failover's start), `toPromotionSent` (to `REPLICAOF NO ONE`),
   * `toPromotionSeen` (to Sentinel's INFO showing it: Sentinel polls the chosen replica's INFO once a
   * second while failing over, hard-coded in sentinel.c), `toMajoritySwitch`, and `toEverySwitched` (the
   * last Sentinel; the one that led announces its switch only once it has seen the other replicas follow,
   * in the same once-a-second INFO). A step not seen is left out.
   */
  phasesAfter(since: number): Partial<Record<(typeof PHASES)[number], number>> {
    const first = (event: FailoverEvent) => this.#events.find((e) => e.event === event && e.at >= since)?.at;
    const marks = [since, first('+try-failover'), first('+failover-state-wait-promotion'), first('+promoted-slave'), this.majoritySwitchedAfter(since), this.majoritySwitchedAfter(since, this.#subs.length)];
    const out: Partial<Record<(typeof PHASES)[number], number>> = {};
    PHASES.forEach((name, i) => {
      const [a, b] = [marks[i], marks[i + 1]];
      if (a !== undefined && b !== undefined) out[name] = Math.round(b - a);
    });
    return out;
  }

  /** p50/p95/max of each step over the trials that announced it. */
  static summary(phases: (ReturnType<SentinelClock['phasesAfter']> | undefined)[]) {
    return Object.fromEntries(PHASES.map((name) => [name, summary(phases.map((p) => p?.[name]))]));
  }

  stop(): void {
    for (const c of this.#subs) c.disconnect();
  }
}

/** One SIGKILL of the master under load, seen by both writers. */
interface Trial {
  /** The master moved off the killed node and the deployment was healthy again within the deadline. */
  readonly converged: boolean;
  /** Every master the trial saw after the kill, in order (a second entry: Sentinel failed over again). */
  readonly masters: readonly string[];
  /** Why the last look was not converged, when the trial did not converge. */
  readonly notConverged?: string;
  readonly sentinelClientUnavailableMs: number;
  readonly endpointClientUnavailableMs: number;
  /** From the majority of Sentinels announcing the switch to the first write acknowledged through the master endpoint. */
  readonly endpointAfterSwitchMs?: number;
  /** Where the time went: the failover's steps as Sentinel announced them (SentinelClock.phasesAfter). */
  readonly phasesMs: ReturnType<SentinelClock['phasesAfter']>;
  /** What each Sentinel announced after the kill (SentinelClock.heardAfter): why a step may be missing. */
  readonly heard: string;
  /** From the kill until the first Sentinel of the list switched (SentinelClock.firstListedSwitchedAfter). */
  readonly firstListedSwitchMs?: number;
}

/**
 * Waits until the deployment is healthy with both writers acknowledging and every node holding their
 * data, and returns the master and its process: a trial kills it only then.
 */
async function readyForTrial(d: LocalDeployment, writers: { sentinel: AckedWriter; endpoint: AckedWriter }) {
  const before = await collectStatus(statusTargetOf(d));
  const master = before.nodes.find((n) => n.role === 'master');
  if (!master || !before.healthy) throw new Error(`not healthy before the trial: ${before.problems.join('; ')}`);
  // Evidence that both clients write, not a pause: a deployment that holds no data yet is one the
  // controller recovers by promoting the restarted master again (no node holds data, so there is
  // nothing to fail over to), and the trial would measure that instead (seen under load: 300 ms after
  // the writers started, nothing acknowledged, "the master is still 127.0.0.1:7800").
  await Promise.all([writers.sentinel.ackedMore(50), writers.endpoint.ackedMore(50)]);
  // And every replica holds data: acknowledged on the master is not yet copied (seen in CI under load:
  // one replica still in its first sync, the other not answering within the probe's timeout, and the
  // controller promoted the restarted master again, "no other node holds data").
  const deadline0 = Date.now() + 30_000;
  for (;;) {
    const s = await collectStatus(statusTargetOf(d), 300);
    if (s.healthy && s.nodes.every((n) => (n.figures?.keys ?? 0) > 0)) break;
    if (Date.now() > deadline0) throw new Error(`not every node holds the writers' data before the trial: ${s.nodes.map((n) => `${n.id} ${n.role} ${n.figures?.keys ?? '?'} keys`).join(', ')}; ${s.problems.join('; ')}`);
    await sleep(50);
  }
  const runtime = readRuntime(d.stateDir);
  if (!runtime) throw new Error(`no runtime.json in ${d.stateDir}`);
  return { master, pid: runtime.members[master.id].pid };
}

/**
 * How long a trial's deployment runs after the failover before it (the baseline's) until its master
 * is killed: a failover in a deployment that has run a while, as a user's has. The Sentinels read the
 * replicas together right after every failover, and spread their reads again over some 7 s
 * (sentinel-timing.ts); a kill sooner would measure the moment after a failover instead.
 */
const STEADY_MS = 8000;

async function trial(d: LocalDeployment, writers: { sentinel: AckedWriter; endpoint: AckedWriter }, clock: SentinelClock): Promise<Trial> {
  await sleep(STEADY_MS);
  const { master, pid } = await readyForTrial(d, writers);
  const killedAt = performance.now();
  process.kill(pid, 'SIGKILL');
  const killed = addressKey(master);
  const masters: string[] = [];
  let converged = false;
  let last = 'no status yet';
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const s = await collectStatus(statusTargetOf(d), 300);
    const now = s.master ? addressKey(s.master) : undefined;
    if (now && now !== (masters.at(-1) ?? killed)) masters.push(now);
    // Once the master has moved off the killed node, a later failover (back to the restarted node, too)
    // is recorded in `masters`, not counted as a failed one.
    if (s.healthy && masters.length > 0) {
      converged = true;
      break;
    }
    last = masters.length === 0 ? `the master is still ${now ?? 'unknown'}` : `not healthy: ${s.problems.join('; ')}`;
    await sleep(50);
  }
  await sleep(500);
  await clock.everySwitched(killedAt, 5000);
  const switched = clock.majoritySwitchedAfter(killedAt);
  const firstEndpointAck = switched === undefined ? undefined : writers.endpoint.firstAckAfter(switched);
  // The supervisor's last lines (the plan's reasons, the actions, Sentinel's switches) say why.
  const log = converged ? '' : readFileSync(filesOf(d.stateDir).supervisorLog, 'utf8').trim().split('\n').slice(-25).join(' | ');
  return {
    converged,
    masters,
    ...(converged ? {} : { notConverged: `${last}; the supervisor's log ended: ${log}` }),
    // The longest silence between two acknowledged writes from just before the kill until now.
    sentinelClientUnavailableMs: Math.round(writers.sentinel.longestGapSince(killedAt - 1000)),
    endpointClientUnavailableMs: Math.round(writers.endpoint.longestGapSince(killedAt - 1000)),
    endpointAfterSwitchMs: switched !== undefined && firstEndpointAck !== undefined ? Math.round(firstEndpointAck - switched) : undefined,
    phasesMs: clock.phasesAfter(killedAt),
    heard: clock.heardAfter(killedAt),
    firstListedSwitchMs: clock.firstListedSwitchedAfter(killedAt),
  };
}

/** One SIGKILL of the master with the supervisor frozen: plain Sentinel, the baseline. */
interface PlainTrial {
  /** A Sentinel majority switched and the Sentinel client had a write acknowledged within the deadline. */
  readonly converged: boolean;
  readonly sentinelClientUnavailableMs?: number;
  readonly phasesMs?: ReturnType<SentinelClock['phasesAfter']>;
  readonly firstListedSwitchMs?: number;
}

/**
 * The baseline, in the same deployment: the supervisor (its controller, its restarts and the endpoint)
 * is frozen with SIGSTOP, so what is left is plain Sentinel with the master's process dead, as with no
 * redis-ha at all, Sentinel's own INFO and ping periods (10 s, 1 s) put back for it. The master is SIGKILLed at a
 * random moment of that period; the trial ends when a Sentinel majority has announced
 * `+switch-master` and the Sentinel client has a write acknowledged after it. The supervisor is then
 * thawed; it restarts the dead node, which rejoins as a replica, before the next trial.
 */
async function plainTrial(d: LocalDeployment, supervisor: number, writers: { sentinel: AckedWriter; endpoint: AckedWriter }, clock: SentinelClock): Promise<PlainTrial> {
  const { pid } = await readyForTrial(d, writers);
  process.kill(supervisor, 'SIGSTOP');
  try {
    // Plain Sentinel reads INFO at its own period, not the one the controller sets; its last read of a
    // replica is then anywhere up to that period old when the master dies.
    await periods(d, () => ['INFO-PERIOD', String(PLAIN_INFO_PERIOD_MS), 'PING-PERIOD', String(PLAIN_PING_PERIOD_MS)]);
    await sleep(Math.random() * PLAIN_INFO_PERIOD_MS);
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const switched = clock.majoritySwitchedAfter(killedAt);
      if (switched !== undefined && writers.sentinel.firstAckAfter(switched) !== undefined) {
        await sleep(500);
        await clock.everySwitched(killedAt, 5000);
        return { converged: true, sentinelClientUnavailableMs: Math.round(writers.sentinel.longestGapSince(killedAt - 1000)), phasesMs: clock.phasesAfter(killedAt), firstListedSwitchMs: clock.firstListedSwitchedAfter(killedAt) };
      }
      await sleep(50);
    }
    return { converged: false };
  } finally {
    await periods(d, (i) => sentinelPeriodArgs(i, d.spec.sentinel.downAfterMilliseconds)).catch(() => undefined);
    process.kill(supervisor, 'SIGCONT');
  }
}

/** Sentinel's own INFO and ping periods. */
const PLAIN_INFO_PERIOD_MS = 10_000;
const PLAIN_PING_PERIOD_MS = 1000;

/** `SENTINEL DEBUG` with `args(index)` on every Sentinel of `d`, by its place. */
async function periods(d: LocalDeployment, args: (index: number) => string[]): Promise<void> {
  await Promise.all(d.sentinels.map((s, i) => withConnection({ host: s.host, port: s.port, password: d.users.sentinelClient.password, tls: clientTlsOf(d) }, (c) => c.call('SENTINEL', 'DEBUG', ...args(i)))));
}

/** a / b to two decimals, or null when either is missing. */
function ratio(a: number, b: number): number | null {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? Math.round((a / b) * 100) / 100 : null;
}

function summary(values: (number | undefined)[]) {
  const sorted = values.filter((v): v is number => v !== undefined && Number.isFinite(v)).sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) ?? null, samples: sorted.length };
}

/** Runs `trials` master kills per profile and returns one JSON-ready object. */
export async function benchFailover(o: { trials: number; profiles: TimingProfile[]; portBase: number; log: (line: string) => void }) {
  const results: Record<string, unknown> = {};
  for (const profile of o.profiles) {
    results[profile] = await withBenchDeployment({ name: `bench-failover-${profile}`, sentinel: { profile } }, o.portBase, async (d, pid) => {
      const writers = bothWriters(d, 'bench');
      const watch = new SplitBrainWatch(d);
      const clock = new SentinelClock(d.sentinels, d.users.sentinelClient.password);
      await clock.subscribed();
      writers.sentinel.start();
      writers.endpoint.start();
      watch.start();
      const trials: Trial[] = [];
      const baseline: PlainTrial[] = [];
      try {
        for (let i = 0; i < o.trials; i++) {
          const t = await trial(d, writers, clock);
          trials.push(t);
          o.log(`${profile} trial ${i + 1}/${o.trials}: writes unavailable ${t.sentinelClientUnavailableMs} ms (Sentinel client), ${t.endpointClientUnavailableMs} ms (master endpoint, ${t.endpointAfterSwitchMs ?? '?'} ms after the Sentinels' switch)${t.masters.length > 1 ? `, then failed over again (${t.masters.join(' -> ')})` : ''}${t.converged ? '' : `, DID NOT CONVERGE in 30 s: ${t.notConverged}`}${PHASES.every((p) => t.phasesMs[p] !== undefined) ? '' : `; steps missing (${JSON.stringify(t.phasesMs)}), heard: ${t.heard}`}`);
          await waitHealthy(d, pid, 30_000, () => {});
          // Interleaved with the trials above, so that both see the same machine.
          const b = await plainTrial(d, pid, writers, clock);
          baseline.push(b);
          o.log(`${profile} plain Sentinel ${i + 1}/${o.trials}: ${b.converged ? `writes unavailable ${b.sentinelClientUnavailableMs} ms (Sentinel client)` : 'NO SWITCH in 30 s'}`);
          await waitHealthy(d, pid, 30_000, () => {});
        }
      } finally {
        // Also when a trial fails: a client left reconnecting would keep the process alive.
        await Promise.all([writers.sentinel.stop(), writers.endpoint.stop(), watch.stop()]);
        clock.stop();
      }
      return {
        downAfterMilliseconds: d.spec.sentinel.downAfterMilliseconds,
        trials: trials.length,
        failedFailovers: trials.filter((t) => !t.converged).length,
        notConverged: trials.flatMap((t, i) => (t.notConverged ? [`trial ${i + 1}: ${t.notConverged}`] : [])),
        /** Trials in which Sentinel failed over a second time before the deployment was healthy. */
        repeatedFailovers: trials.filter((t) => t.masters.length > 1).length,
        /** Where the time went, step by step, as Sentinel announced each (see SentinelClock.phasesAfter). */
        phasesMs: SentinelClock.summary(trials.map((t) => t.phasesMs)),
        /**
         * From the kill until the first Sentinel of the list named the new master in `SENTINEL MASTERS`:
         * what a client that asks it first and reads that (redis-py) waits for at least.
         */
        firstListedSentinelSwitchedMs: summary(trials.map((t) => t.firstListedSwitchMs)),
        sentinelClient: {
          unavailableMs: summary(trials.map((t) => t.sentinelClientUnavailableMs)),
          acknowledgedWrites: writers.sentinel.acked.length,
          acknowledgedWritesLost: await countLost(d, writers.sentinel),
        },
        masterEndpoint: {
          unavailableMs: summary(trials.map((t) => t.endpointClientUnavailableMs)),
          afterSentinelSwitchMs: summary(trials.map((t) => t.endpointAfterSwitchMs)),
          acknowledgedWrites: writers.endpoint.acked.length,
          acknowledgedWritesLost: await countLost(d, writers.endpoint),
        },
        /** The same fault with the supervisor frozen (no controller, no restart): plain Sentinel, interleaved. */
        plainSentinel: {
          trials: baseline.length,
          failedFailovers: baseline.filter((b) => !b.converged).length,
          sentinelClient: { unavailableMs: summary(baseline.map((b) => b.sentinelClientUnavailableMs)) },
          phasesMs: SentinelClock.summary(baseline.map((b) => b.phasesMs)),
          firstListedSentinelSwitchedMs: summary(baseline.map((b) => b.firstListedSwitchMs)),
        },
        /** p50 of the Sentinel client's unavailability, redis-ha over plain Sentinel (below 1: faster). */
        sentinelClientP50OverPlainSentinel: ratio(summary(trials.map((t) => t.sentinelClientUnavailableMs)).p50, summary(baseline.map((b) => b.sentinelClientUnavailableMs)).p50),
        splitBrain: {
          roundsChecked: watch.rounds,
          roundsWithTwoMasters: watch.roundsWithTwoMasters,
          roundsWithTwoWritableMasters: watch.roundsWithTwoWritableMasters,
        },
      };
    });
  }
  return {
    benchmark: 'failover',
    clients: ['ioredis via Sentinel', 'ioredis via the master endpoint'],
    fault: 'SIGKILL of the master (restarted by the supervisor); baseline: the same with the supervisor frozen (plain Sentinel)',
    results,
  };
}
