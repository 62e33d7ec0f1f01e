import { UserError } from '../../errors.ts';
import { loadDeployment } from '../../local/deployment.ts';
import { runState, startSupervisor } from '../../local/lifecycle.ts';
import { parse } from '../options.ts';

/**
 * The background supervisor `up --detach` starts (not meant to be typed). It reads everything from
 * the state directory, so no secret is ever in its argv.
 */
export async function superviseCommand(argv: string[]): Promise<number> {
  const { values } = parse('supervise', argv, { 'state-dir': { type: 'string' } });
  const stateDir = values['state-dir'];
  const d = stateDir ? loadDeployment(stateDir) : undefined;
  if (!d) throw new UserError(`supervise: no deployment in ${stateDir ?? '(no --state-dir given)'}`);
  const { live } = runState(d);
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const sup = await startSupervisor({ kind: live.size > 0 ? 'adopt' : 'fresh', deployment: d }, log);
  log(`supervising '${d.spec.name}' (pid ${process.pid})`);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  log('stopping');
  await sup.stop();
  log('stopped');
  return 0;
}
