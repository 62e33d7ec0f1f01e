import { setTimeout as sleep } from 'node:timers/promises';
import type { TimingProfile } from '../src/spec/types.ts';
import { collectStatus } from '../src/observe/status.ts';
import { statusTargetOf, topologyOf, waitHealthy } from '../src/local/lifecycle.ts';
import type { LocalDeployment } from '../src/local/deployment.ts';
import { bothWriters, withBenchDeployment } from './harness.ts';
import { switchover, type SwitchoverResult } from '../src/topology/switchover.ts';
import type { AckedWriter } from './writer.ts';
import { percentile, SentinelClock, SplitBrainWatch } from './failover.ts';

function summary(values: number[]) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) ?? null, samples: sorted.length };
}

async function missingOnMaster(d: LocalDeployment, w: AckedWriter): Promise<number> {
  const status = await collectStatus(statusTargetOf(d));
  return status.master ? (await w.missingOn(status.master, d.users.application.password, d.users.application.username)).length : w.acked.length;
}

/**
 * `trials` planned switchovers (`redis-ha failover`, to the most caught-up replica) under two steady
 * writers, one through Sentinel and one through the master endpoint: the write pause the switchover
 * reports, what each client saw (the longest time without an acknowledgement around the switch), and
 * acknowledged writes lost, which must be zero.
 */
export async function benchSwitchover(o: { trials: number; profile: TimingProfile; portBase: number; log: (line: string) => void }) {
  return withBenchDeployment({ name: 'bench-switchover', sentinel: { profile: o.profile } }, o.portBase, async (d, pid) => {
    const writers = bothWriters(d, 'bench:sw');
    const watch = new SplitBrainWatch(d);
    const clock = new SentinelClock(d.sentinels, d.users.sentinelClient.password);
    const phases: ReturnType<SentinelClock['phasesAfter']>[] = [];
    await clock.subscribed();
    writers.sentinel.start();
    writers.endpoint.start();
    watch.start();
    const results: SwitchoverResult[] = [];
    const seen = { sentinel: [] as number[], endpoint: [] as number[] };
    try {
      for (let i = 0; i < o.trials; i++) {
        await writers.sentinel.ackedMore(100);
        await writers.endpoint.ackedMore(100);
        const started = performance.now();
        const r = await switchover(topologyOf(d), { timeoutMs: 60_000, log: () => {} });
        await writers.sentinel.ackedMore(100);
        await writers.endpoint.ackedMore(100);
        results.push(r);
        seen.sentinel.push(Math.round(writers.sentinel.longestGapSince(started - 200)));
        seen.endpoint.push(Math.round(writers.endpoint.longestGapSince(started - 200)));
        o.log(`switchover ${i + 1}/${o.trials} ${r.from.id} -> ${r.to.id}: write pause ${r.writePauseMs} ms, Sentinels agreed ${r.sentinelsAgreedMs} ms; clients saw ${seen.sentinel.at(-1)} ms (Sentinel) / ${seen.endpoint.at(-1)} ms (endpoint)`);
        await waitHealthy(d, pid, 30_000, () => {});
        await clock.everySwitched(started, 5000);
        phases.push(clock.phasesAfter(started));
        await sleep(200);
      }
    } finally {
      // Also when a switchover fails: a client left reconnecting would keep the process alive.
      await Promise.all([writers.sentinel.stop(), writers.endpoint.stop(), watch.stop()]);
      clock.stop();
    }
    return {
      benchmark: 'switchover',
      profile: o.profile,
      trials: results.length,
      writePauseMs: summary(results.map((r) => r.writePauseMs)),
      sentinelsAgreedMs: summary(results.map((r) => r.sentinelsAgreedMs)),
      oldMasterReleasedMs: summary(results.map((r) => r.oldMasterReleasedMs)),
      /** Where the time went, from the switchover's start, as Sentinel announced each step (SentinelClock.phasesAfter). */
      phasesMs: SentinelClock.summary(phases),
      sentinelClient: {
        longestGapMs: summary(seen.sentinel),
        acknowledgedWrites: writers.sentinel.acked.length,
        acknowledgedWritesLost: await missingOnMaster(d, writers.sentinel),
      },
      masterEndpoint: {
        longestGapMs: summary(seen.endpoint),
        acknowledgedWrites: writers.endpoint.acked.length,
        acknowledgedWritesLost: await missingOnMaster(d, writers.endpoint),
      },
      splitBrain: { roundsChecked: watch.rounds, roundsWithTwoMasters: watch.roundsWithTwoMasters, roundsWithTwoWritableMasters: watch.roundsWithTwoWritableMasters },
      warnings: results.flatMap((r) => r.warnings),
    };
  });
}
