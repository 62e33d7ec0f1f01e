import { resolveSpec } from '../src/spec/index.ts';
import { downLocal, prepareUp, spawnDetachedSupervisor, waitHealthy } from '../src/local/lifecycle.ts';
import { endpointsOf, type LocalDeployment } from '../src/local/deployment.ts';
import { AckedWriter } from './writer.ts';
import { clientTlsOf } from '../src/local/tls.ts';

/**
 * Brings up a throwaway deployment from `input` (a spec) at `portBase`, runs `fn` on it once it is
 * healthy, and removes it afterwards whatever happens. `pid` is its supervisor's.
 */
export async function withBenchDeployment<T>(input: Record<string, unknown>, portBase: number, fn: (d: LocalDeployment, pid: number) => Promise<T>): Promise<T> {
  const spec = resolveSpec(input);
  const prepared = await prepareUp({ spec, portBase, binaries: {}, passwordsGiven: { password: true, sentinelPassword: true } });
  const d = prepared.deployment;
  try {
    const pid = spawnDetachedSupervisor(d);
    await waitHealthy(d, pid, 30_000, () => {});
    return await fn(d, pid);
  } finally {
    await downLocal(d);
  }
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
