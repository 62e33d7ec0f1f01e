import { existsSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../../errors.ts';
import { members } from '../../local/deployment.ts';
import { filesOf } from '../../local/layout.ts';
import { requireDeployment } from '../../local/lifecycle.ts';
import { intFlag, NAME_OPTIONS, nameOf, parse } from '../options.ts';

export const LOGS_HELP = `Usage: redis-ha logs [--name NAME] [MEMBER...] [--lines N] [--follow]

Prints the last lines of the logs of a local deployment: the supervisor, node-0.., sentinel-0..
(all of them when no MEMBER is given), each line prefixed with its member.`;

export async function logsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('logs', argv, { ...NAME_OPTIONS, lines: { type: 'string' }, follow: { type: 'boolean', short: 'f' } }, true);
  if (values.help) {
    console.log(LOGS_HELP);
    return 0;
  }
  const d = requireDeployment(nameOf(values));
  const files = filesOf(d.stateDir);
  const all = new Map<string, string>([['supervisor', files.supervisorLog], ...members(d).map((m) => [m.id, files.logOf(m.id)] as [string, string])]);
  for (const p of positionals) if (!all.has(p)) throw new UserError(`logs: no member '${p}' in '${d.spec.name}'; members are ${[...all.keys()].join(', ')}`);
  const chosen = positionals.length > 0 ? positionals : [...all.keys()];
  const lines = intFlag('lines', values.lines, 1, 100_000) ?? 20;
  const offsets = new Map<string, number>();
  for (const id of chosen) {
    const path = all.get(id) as string;
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    offsets.set(id, Buffer.byteLength(text));
    for (const line of text.trimEnd().split('\n').slice(-lines)) if (line) console.log(`${id.padEnd(12)} ${line}`);
  }
  while (values.follow) {
    await sleep(250);
    for (const id of chosen) {
      const path = all.get(id) as string;
      if (!existsSync(path)) continue;
      const size = statSync(path).size;
      const from = offsets.get(id) ?? 0;
      if (size <= from) continue;
      const text = readFileSync(path).subarray(from, size).toString();
      offsets.set(id, size);
      for (const line of text.trimEnd().split('\n')) if (line) console.log(`${id.padEnd(12)} ${line}`);
    }
  }
  return 0;
}
