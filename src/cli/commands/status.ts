import { setTimeout as sleep } from 'node:timers/promises';
import { collectStatus } from '../../observe/status.ts';
import type { LocalDeployment } from '../../local/deployment.ts';
import { requireDeployment, statusTargetOf } from '../../local/lifecycle.ts';
import { localStatusDocument, type LocalStatusDocument } from '../../local/status.ts';
import { intFlag, NAME_OPTIONS, nameOf, parse } from '../options.ts';
import { table } from '../table.ts';
import type { TopologyStatus } from '../../observe/status.ts';
import { kubernetesStatus, kubernetesStatusTable } from './status-k8s.ts';
import { addressKey } from '../../redis/address.ts';

export const STATUS_HELP = `Usage: redis-ha status [--name NAME] [--json] [--watch [--interval SECONDS]]
       redis-ha status --k8s NAME [-n NAMESPACE] [--kubeconfig FILE] [--json]

Shows roles, replication offsets and lag, link status, and each Sentinel's view of the master.
Exit code 0 when healthy, 1 when not. With --k8s, a RedisHA resource on Kubernetes, as its operator
last observed it (the resource's status).

  -w, --watch          keep showing it, redrawn in place every --interval seconds (default 1) until
                       Ctrl-C (exit 0); with --json, one JSON object per line instead`;

export function statusTable(doc: LocalStatusDocument): string {
  const served = doc.endpoints.dashboard ? `, dashboard ${doc.endpoints.dashboard}` : '';
  const head = `${doc.name} (Sentinel master name ${doc.masterName}): ${doc.healthy ? 'healthy' : 'NOT HEALTHY'}, master ${doc.master ? addressKey(doc.master) : 'none'} (endpoint ${doc.endpoints.master}, reads ${doc.endpoints.replicas}), quorum ${doc.quorum} of ${doc.sentinels.length}, supervisor ${doc.supervisor.running ? `pid ${doc.supervisor.pid}` : 'not running'}${served}${doc.tlsFiles ? `, TLS only (CA ${doc.tlsFiles.ca})` : ''}`;
  return `${head}\n\n${membersTable(doc)}`;
}

/** The member and Sentinel tables and the problems: the same for a local and a Kubernetes deployment. */
export function membersTable(doc: Pick<TopologyStatus, 'nodes' | 'sentinels' | 'problems'>): string {
  const nodes = table(
    ['MEMBER', 'ADDRESS', 'ROLE', 'LINK', 'FOLLOWS', 'OFFSET', 'LAG(bytes)', 'OPS/S', 'CLIENTS', 'KEYS', 'SERVER'],
    doc.nodes.map((n) => [
      n.id, addressKey(n), n.role, n.role === 'replica' ? (n.linkUp ? 'up' : 'down') : '', n.following ?? '', n.offset, n.lagBytes,
      n.figures?.instantaneous_ops_per_sec, n.figures?.connected_clients, n.figures?.keys, n.server,
    ]),
  );
  const sentinels = table(
    ['SENTINEL', 'ADDRESS', 'SEES MASTER', 'FLAGS', 'REPLICAS', 'SENTINELS', 'EPOCH', 'QUORUM'],
    doc.sentinels.map((s) => [
      s.id,
      addressKey(s),
      s.master ? addressKey(s.master) : s.reachable ? 'none' : 'unreachable',
      s.masterFlags.join(','),
      s.replicasSeen,
      s.otherSentinelsSeen,
      s.configEpoch,
      s.quorumOk ? 'ok' : 'NO',
    ]),
  );
  const problems = doc.problems.length > 0 ? `\n\nProblems:\n${doc.problems.map((p) => `  - ${p}`).join('\n')}` : '';
  return `${nodes}\n\n${sentinels}${problems}`;
}

const snapshot = async (d: LocalDeployment) => localStatusDocument(d, await collectStatus(statusTargetOf(d)));

/**
 * `status --watch`: on a terminal the table is redrawn in place (cursor home, each line cleared, the
 * rest of the screen cleared); into a pipe each frame is printed after a blank line (with --json: one
 * object per line). Ctrl-C (or SIGTERM) ends it with exit code 0.
 */
async function watch(d: LocalDeployment, json: boolean, intervalMs: number): Promise<number> {
  const out = process.stdout;
  const tty = out.isTTY === true && !json;
  let stopped = false;
  const abort = new AbortController();
  const stop = () => {
    stopped = true;
    abort.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (tty) out.write('\x1b[?25l\x1b[2J'); // hide the cursor, clear once
  try {
    let first = true;
    while (!stopped) {
      const doc = await snapshot(d);
      if (stopped) break;
      if (json) out.write(`${JSON.stringify(doc)}\n`);
      else if (tty) {
        const frame = `${new Date().toLocaleTimeString('en-GB', { hour12: false })}  every ${intervalMs / 1000} s, Ctrl-C to stop\n\n${statusTable(doc)}`;
        out.write(`\x1b[H${frame.split('\n').map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
      } else out.write(`${first ? '' : '\n'}${new Date().toISOString()}\n${statusTable(doc)}\n`);
      first = false;
      await sleep(intervalMs, undefined, { signal: abort.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (tty) out.write('\x1b[?25h');
  }
  return 0;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse('status', argv, {
    ...NAME_OPTIONS, json: { type: 'boolean' }, watch: { type: 'boolean', short: 'w' }, interval: { type: 'string' },
    k8s: { type: 'string' }, namespace: { type: 'string' }, kubeconfig: { type: 'string' },
  });
  if (values.help) {
    console.log(STATUS_HELP);
    return 0;
  }
  if (values.k8s !== undefined) {
    // As in kubectl, -n is the namespace here (the name is --k8s's value).
    const doc = await kubernetesStatus(values.k8s, values.namespace ?? values.name, values.kubeconfig);
    console.log(values.json ? JSON.stringify(doc) : kubernetesStatusTable(doc));
    return doc.healthy ? 0 : 1;
  }
  const d = requireDeployment(nameOf(values));
  const intervalSeconds = intFlag('interval', values.interval, 1, 3600) ?? 1;
  if (values.watch) return watch(d, values.json === true, intervalSeconds * 1000);
  const doc = await snapshot(d);
  console.log(values.json ? JSON.stringify(doc) : statusTable(doc));
  return doc.healthy ? 0 : 1;
}
