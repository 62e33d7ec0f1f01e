import { rmSync } from 'node:fs';
import { downLocal, requireDeployment } from '../../local/lifecycle.ts';
import { NAME_OPTIONS, nameOf, parse } from '../options.ts';

export const DOWN_HELP = `Usage: redis-ha down [--name NAME] [--purge]

Stops every process of a local deployment and waits until none of its ports listens.
--purge also deletes its state directory (logs, configs, passwords).`;

export async function downCommand(argv: string[]): Promise<number> {
  const { values } = parse('down', argv, { ...NAME_OPTIONS, purge: { type: 'boolean' } });
  if (values.help) {
    console.log(DOWN_HELP);
    return 0;
  }
  const d = requireDeployment(nameOf(values));
  const result = await downLocal(d);
  if (values.purge) rmSync(d.stateDir, { recursive: true, force: true });
  const what = result.processes === 0 && !result.supervisor ? 'nothing was running' : `stopped ${result.processes} processes`;
  console.log(`'${d.spec.name}' is down: ${what}; no port of it listens${values.purge ? '; state removed' : ''}`);
  return 0;
}
