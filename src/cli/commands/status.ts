import { addressOf } from '../../redis/connect.ts';
import { collectStatus, type TopologyStatus } from '../../observe/status.ts';
import type { LocalDeployment } from '../../local/deployment.ts';
import { requireDeployment, runState, statusTargetOf } from '../../local/lifecycle.ts';
import { endpointsOf } from '../../local/deployment.ts';
import { NAME_OPTIONS, nameOf, parse } from '../options.ts';
import { table } from '../table.ts';

export const STATUS_HELP = `Usage: redis-ha status [--name NAME] [--json]

Shows roles, replication offsets and lag, link status, and each Sentinel's view of the master.
Exit code 0 when healthy, 1 when not.`;

/** The `status --json` document: the status model plus where the deployment lives locally. */
export function localStatusDocument(d: LocalDeployment, status: TopologyStatus) {
  const { supervisorPid, live } = runState(d);
  const endpoints = endpointsOf(d);
  return {
    ...status,
    user: 'default',
    sentinelUser: 'default',
    // Served by the supervisor while it runs; fixed addresses that follow failover.
    endpoints: { master: addressOf(endpoints.master), replicas: addressOf(endpoints.replicas) },
    stateDir: d.stateDir,
    supervisor: { pid: supervisorPid ?? null, running: supervisorPid !== undefined, processes: live.size },
  };
}

export function statusTable(doc: ReturnType<typeof localStatusDocument>): string {
  const head = `${doc.name} (Sentinel master name ${doc.masterName}): ${doc.healthy ? 'healthy' : 'NOT HEALTHY'}, master ${doc.master ? addressOf(doc.master) : 'none'} (endpoint ${doc.endpoints.master}, reads ${doc.endpoints.replicas}), quorum ${doc.quorum} of ${doc.sentinels.length}, supervisor ${doc.supervisor.running ? `pid ${doc.supervisor.pid}` : 'not running'}`;
  const nodes = table(
    ['MEMBER', 'ADDRESS', 'ROLE', 'LINK', 'FOLLOWS', 'OFFSET', 'LAG(bytes)'],
    doc.nodes.map((n) => [n.id, addressOf(n), n.role, n.role === 'replica' ? (n.linkUp ? 'up' : 'down') : '', n.following ?? '', n.offset, n.lagBytes]),
  );
  const sentinels = table(
    ['SENTINEL', 'ADDRESS', 'SEES MASTER', 'FLAGS', 'REPLICAS', 'SENTINELS', 'EPOCH', 'QUORUM'],
    doc.sentinels.map((s) => [
      s.id,
      addressOf(s),
      s.master ? addressOf(s.master) : s.reachable ? 'none' : 'unreachable',
      s.masterFlags.join(','),
      s.replicasSeen,
      s.otherSentinelsSeen,
      s.configEpoch,
      s.quorumOk ? 'ok' : 'NO',
    ]),
  );
  const problems = doc.problems.length > 0 ? `\n\nProblems:\n${doc.problems.map((p) => `  - ${p}`).join('\n')}` : '';
  return `${head}\n\n${nodes}\n\n${sentinels}${problems}`;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse('status', argv, { ...NAME_OPTIONS, json: { type: 'boolean' } });
  if (values.help) {
    console.log(STATUS_HELP);
    return 0;
  }
  const d = requireDeployment(nameOf(values));
  const doc = localStatusDocument(d, await collectStatus(statusTargetOf(d)));
  console.log(values.json ? JSON.stringify(doc) : statusTable(doc));
  return doc.healthy ? 0 : 1;
}
