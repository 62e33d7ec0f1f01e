import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { resolveSpec } from '../src/spec/index.ts';
import type { TimingProfile } from '../src/spec/types.ts';
import { addressOf } from '../src/redis/connect.ts';
import { collectStatus } from '../src/observe/status.ts';
import { downLocal, prepareUp, spawnDetachedSupervisor, statusTargetOf, waitHealthy } from '../src/local/lifecycle.ts';
import { filesOf } from '../src/local/layout.ts';
import type { LocalDeployment } from '../src/local/deployment.ts';

/** One SIGKILL of the master under load. */
interface Trial {
  readonly unavailableMs: number;
  readonly converged: boolean;
  /** Some probe saw two nodes reporting role master at once (may be a probe-timing artefact). */
  readonly twoMasters: boolean;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Writes unique keys back to back through an ioredis Sentinel client and keeps the time of every
 * acknowledgement: write unavailability is the longest gap between two acks around a fault.
 */
class TimedWriter {
  readonly acks: { key: string; at: number }[] = [];
  #stop = false;
  #loop?: Promise<void>;
  readonly #client: Redis;

  constructor(d: LocalDeployment) {
    this.#client = new Redis({
      name: d.masterName,
      sentinels: d.sentinels.map((s) => ({ host: s.host, port: s.port })),
      password: d.spec.auth.password,
      sentinelPassword: d.spec.auth.sentinelPassword,
      sentinelRetryStrategy: () => 20,
      retryStrategy: () => 20,
      reconnectOnError: (err) => /READONLY/.test(err.message),
      maxRetriesPerRequest: 1,
    });
    this.#client.on('error', () => {});
  }

  start(): void {
    let n = 0;
    this.#loop = (async () => {
      while (!this.#stop) {
        const key = `bench:${n++}`;
        try {
          await this.#client.set(key, '1');
          this.acks.push({ key, at: performance.now() });
        } catch {
          await sleep(5);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
    this.#client.disconnect();
  }
}

async function countLost(d: LocalDeployment, keys: string[]): Promise<number> {
  const status = await collectStatus(statusTargetOf(d));
  if (!status.master) return keys.length;
  const c = new Redis({ ...status.master, password: d.spec.auth.password });
  try {
    let lost = 0;
    for (let i = 0; i < keys.length; i += 1000) lost += (await c.mget(...keys.slice(i, i + 1000))).filter((v) => v === null).length;
    return lost;
  } finally {
    c.disconnect();
  }
}

async function trial(d: LocalDeployment, writer: TimedWriter): Promise<Trial> {
  const before = await collectStatus(statusTargetOf(d));
  const master = before.nodes.find((n) => n.role === 'master');
  if (!master || !before.healthy) throw new Error(`not healthy before the trial: ${before.problems.join('; ')}`);
  await sleep(300);
  const runtime = JSON.parse(readFileSync(filesOf(d.stateDir).runtime, 'utf8')) as { members: Record<string, { pid: number }> };
  const killedAt = performance.now();
  process.kill(runtime.members[master.id].pid, 'SIGKILL');
  let twoMasters = false;
  let converged = false;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const s = await collectStatus(statusTargetOf(d), 300);
    twoMasters ||= s.nodes.filter((n) => n.role === 'master').length > 1;
    if (s.healthy && s.master && addressOf(s.master) !== addressOf(master)) {
      converged = true;
      break;
    }
    await sleep(50);
  }
  await sleep(500);
  // The longest silence between two acknowledged writes from just before the kill until now.
  const window = writer.acks.filter((a) => a.at >= killedAt - 1000).map((a) => a.at);
  let longest = Number.NaN;
  for (let i = 1; i < window.length; i++) longest = Math.max(Number.isNaN(longest) ? 0 : longest, window[i] - window[i - 1]);
  return { unavailableMs: Math.round(longest), converged, twoMasters };
}

/** Runs `trials` master kills per profile and returns one JSON-ready object. */
export async function benchFailover(o: { trials: number; profiles: TimingProfile[]; portBase: number; log: (line: string) => void }) {
  const results: Record<string, unknown> = {};
  for (const profile of o.profiles) {
    const spec = resolveSpec({ name: `bench-failover-${profile}`, sentinel: { profile } });
    const prepared = await prepareUp({ spec, portBase: o.portBase, binaries: {}, passwordsGiven: { password: true, sentinelPassword: true } });
    const d = prepared.deployment;
    try {
      const pid = spawnDetachedSupervisor(d);
      await waitHealthy(d, pid, 30_000, () => {});
      const writer = new TimedWriter(d);
      writer.start();
      const trials: Trial[] = [];
      for (let i = 0; i < o.trials; i++) {
        const t = await trial(d, writer);
        trials.push(t);
        o.log(`${profile} trial ${i + 1}/${o.trials}: writes unavailable ${t.unavailableMs} ms${t.converged ? '' : ', DID NOT CONVERGE'}`);
        await waitHealthy(d, pid, 30_000, () => {});
      }
      await writer.stop();
      const lost = await countLost(d, writer.acks.map((a) => a.key));
      const gaps = trials.map((t) => t.unavailableMs).filter(Number.isFinite).sort((a, b) => a - b);
      results[profile] = {
        downAfterMilliseconds: spec.sentinel.downAfterMilliseconds,
        trials: trials.length,
        unavailableMs: { p50: percentile(gaps, 50), p95: percentile(gaps, 95), max: gaps.at(-1) ?? null },
        acknowledgedWrites: writer.acks.length,
        acknowledgedWritesLost: lost,
        failedFailovers: trials.filter((t) => !t.converged).length,
        // Nodes are probed one after another, so a switch between two probes can show two masters;
        // lost acknowledged writes are the evidence of a real split brain.
        trialsWithTwoMastersObserved: trials.filter((t) => t.twoMasters).length,
      };
    } finally {
      await downLocal(d);
    }
  }
  return { benchmark: 'failover', client: 'ioredis via Sentinel', fault: 'SIGKILL of the master (restarted by the supervisor)', results };
}
