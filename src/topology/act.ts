import { withConnection, type Endpoint } from '../redis/connect.ts';
import { errorText } from '../redis/probe.ts';

/**
 * Asks one Sentinel to fail over now (`SENTINEL FAILOVER`): Sentinel itself picks the replica with the
 * most data and reconfigures everyone, so we never fight it. Tries each Sentinel until one accepts.
 * Returns the Sentinel that accepted, or throws with every refusal.
 */
export async function requestFailover(sentinels: readonly Endpoint[], masterName: string): Promise<Endpoint> {
  const refusals: string[] = [];
  for (const s of sentinels) {
    try {
      await withConnection(s, (c) => c.call('SENTINEL', 'FAILOVER', masterName));
      return s;
    } catch (err) {
      refusals.push(`${s.host}:${s.port}: ${errorText(err)}`);
    }
  }
  throw new Error(`no Sentinel accepted a failover of ${masterName}: ${refusals.join('; ')}`);
}
