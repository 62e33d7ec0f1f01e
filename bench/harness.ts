import { resolveSpec } from '../src/spec/index.ts';
import { downLocal, prepareUp, spawnDetachedSupervisor, waitHealthy } from '../src/local/lifecycle.ts';
import { endpointsOf, type LocalDeployment } from '../src/local/deployment.ts';
import { AckedWriter } from './writer.ts';
import { clientTlsOf } from '../src/local/tls.ts';

/** The benchmarks' deployments that run now, by name, each with how to remove it: what an interrupt removes. */
const running = new Map<string, () => Promise<void>>();

/**
 * Ctrl-C (SIGINT) or SIGTERM while a benchmark runs: every deployment it brought up is removed before
 * the process exits (1, with one line).
 */
function interrupted(signal: NodeJS.Signals): void {
  const names = [...running.keys()].map((name) => `'${name}'`).join(', ');
  const count = running.size;
  void Promise.all([...running.values()].map((remove) => remove().catch(() => {}))).finally(() => {
    process.stderr.write(`redis-ha: bench interrupted (${signal}): removed its deployment${count > 1 ? 's' : ''} ${names}\n`);
    process.exit(1);
  });
}

/**
 * Runs `fn` while the deployment `name` is registered for removal (`remove`) on an interrupt, and removes
 * it afterwards whatever happens.
 */
export async function removedAfter<T>(name: string, remove: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
  if (running.size === 0) for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, interrupted);
  running.set(name, remove);
  try {
    return await fn();
  } finally {
    running.delete(name);
    if (running.size === 0) for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, interrupted);
    await remove();
  }
}

/**
 * Brings up a throwaway deployment from `input` (a spec) at `portBase`, runs `fn` on it once it is
 * healthy, and removes it afterwards whatever happens, an interrupt included. `pid` is its supervisor's.
 */
export async function withBenchDeployment<T>(input: Record<string, unknown>, portBase: number, fn: (d: LocalDeployment, pid: number) => Promise<T>): Promise<T> {
  const spec = resolveSpec(input);
  const prepared = await prepareUp({ spec, portBase, binaries: {}, passwordsGiven: { password: true, sentinelPassword: true } });
  const d = prepared.deployment;
  let pid: number | undefined;
  // The supervisor is thawed first: the failover baseline freezes it with SIGSTOP, and a frozen
  // supervisor would never stop.
  const remove = async () => {
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await downLocal(d);
  };
  return removedAfter(d.spec.name, remove, async () => {
    pid = spawnDetachedSupervisor(d);
    await waitHealthy(d, pid, 30_000, () => {});
    return fn(d, pid);
  });
}

/** The two clients every availability benchmark measures: a Sentinel-aware one and one on the master endpoint. */
export function bothWriters(d: LocalDeployment, prefix: string): { sentinel: AckedWriter; endpoint: AckedWriter } {
  const app = d.users.application;
  const tls = clientTlsOf(d);
  return {
    sentinel: new AckedWriter({ target: { masterName: d.masterName, sentinels: d.sentinels, sentinelPassword: d.users.sentinelClient.password }, ...app, prefix: `${prefix}:sentinel`, tls }),
    endpoint: new AckedWriter({ target: { endpoint: endpointsOf(d).master }, ...app, prefix: `${prefix}:endpoint`, tls }),
  };
}
