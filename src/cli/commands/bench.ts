import { UsageError } from '../errors.ts';
import { intFlag, parse, portBaseOf } from '../options.ts';
import type { TimingProfile } from '../../spec/types.ts';

export const BENCH_HELP = `Usage: redis-ha bench failover [--trials N] [--profile fast|default|both] [--port-base P] [--json]

Measures write unavailability when the master is SIGKILLed under a steady write load through an
ioredis Sentinel client: p50/p95/max, acknowledged writes lost, failed failovers, split brains.
Brings up its own deployment (port base 7800 by default) and removes it afterwards.`;

export async function benchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'bench',
    argv,
    { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, trials: { type: 'string' }, profile: { type: 'string' }, 'port-base': { type: 'string' } },
    true,
  );
  if (values.help) {
    console.log(BENCH_HELP);
    return 0;
  }
  if (positionals[0] !== 'failover') throw new UsageError(`bench: unknown benchmark '${positionals[0] ?? ''}'; available: failover`);
  const profile = values.profile ?? 'both';
  if (!['fast', 'default', 'both'].includes(profile)) throw new UsageError(`--profile: must be one of fast, default, both (got "${profile}")`);
  const profiles: TimingProfile[] = profile === 'both' ? ['fast', 'default'] : [profile as TimingProfile];
  const { benchFailover } = await import('../../../bench/failover.ts');
  const result = await benchFailover({
    trials: intFlag('trials', values.trials, 1, 1000) ?? 20,
    profiles,
    portBase: values['port-base'] ? portBaseOf(values['port-base']) : 7800,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  return 0;
}
