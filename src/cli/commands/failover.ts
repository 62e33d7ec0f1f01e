import { UserError } from '../../errors.ts';
import type { LocalDeployment, Member } from '../../local/deployment.ts';
import { requireDeployment, topologyOf } from '../../local/lifecycle.ts';
import { switchover, SwitchoverError, type SwitchoverResult } from '../../topology/switchover.ts';
import { UsageError } from '../errors.ts';
import { intFlag, NAME_OPTIONS, nameOf, parse } from '../options.ts';
import { addressKey } from '../../redis/address.ts';

export const FAILOVER_HELP = `Usage: redis-ha failover [--name NAME] [--to NODE] [--json] [--timeout SECONDS] [--verbose]

Planned switchover: promotes a caught-up replica (NODE, e.g. node-2 or 127.0.0.1:6402; default the
most caught-up one) through Sentinel, with writes paused only while it catches up and is promoted,
and no acknowledged write lost. The old master is fenced and becomes a replica.
Prints the write pause it caused (--json: the full result). --timeout bounds the whole switchover
(default 30 s; waiting for Sentinel to notice the new replica priorities takes up to its INFO period,
about 1 s as redis-ha sets it, 10 s at Sentinel's default).
--verbose prints each step on stderr.`;

/** The node a `--to` value names: a member id (`node-1`) or its `host:port`. */
export function resolveNode(d: LocalDeployment, raw: string): Member {
  const node = d.nodes.find((n) => n.id === raw || addressKey(n) === raw);
  if (!node) {
    const valid = d.nodes.map((n) => `${n.id} (${addressKey(n)})`).join(', ');
    throw new UsageError(`--to: '${raw}' is not a node of '${d.spec.name}'; valid: ${valid}`);
  }
  return node;
}

export function failoverText(r: SwitchoverResult): string {
  const line = `switched master ${r.from.id} (${addressKey(r.from)}) -> ${r.to.id} (${addressKey(r.to)}); writes paused ${r.writePauseMs} ms`
    + ` (Sentinels agreed after ${r.sentinelsAgreedMs} ms, old master fenced after ${r.oldMasterReleasedMs} ms)`;
  return [line, ...r.warnings.map((w) => `warning: ${w}`)].join('\n');
}

export async function failoverCommand(argv: string[]): Promise<number> {
  const { values } = parse('failover', argv, {
    ...NAME_OPTIONS,
    to: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
  });
  if (values.help) {
    console.log(FAILOVER_HELP);
    return 0;
  }
  const name = nameOf(values);
  const timeoutMs = (intFlag('timeout', values.timeout, 1, 3600) ?? 30) * 1000;
  const d = requireDeployment(name);
  const to = values.to === undefined ? undefined : resolveNode(d, values.to);
  let result: SwitchoverResult;
  try {
    result = await switchover(topologyOf(d), {
      to,
      timeoutMs,
      log: (line) => {
        if (values.verbose) console.error(`failover: ${line}`);
      },
    });
  } catch (err) {
    if (err instanceof SwitchoverError) throw new UserError(`failover of '${name}': ${err.message}; see 'redis-ha status --name ${name}'`);
    throw err;
  }
  console.log(values.json ? JSON.stringify(result) : failoverText(result));
  return 0;
}
