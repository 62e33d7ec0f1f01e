import { setTimeout as sleep } from 'node:timers/promises';
import { withConnection } from '../redis/connect.ts';
import { parseFlags, parseFlatRecord, parseFlatRecords } from '../redis/parse.ts';
import { sentinelEndpointIn, talksTo, type Topology } from '../topology/observe.ts';

/** The ping period a Sentinel retries refused links at while `hurrySentinelLinks` waits for it. */
const HURRIED_PING_PERIOD_MS = 100;

/**
 * A fresh deployment's Sentinels start together with its replicas and know them all from their
 * configs, so their first links to the others and to the replicas can find nothing listening yet.
 * Sentinel retries a refused link only once its ping period (1 s) has passed: the Sentinels took a
 * second to see each other and the replicas, most of the time `up` took to be healthy. Here every
 * Sentinel that does not see them all yet gets a short ping period (`SENTINEL DEBUG PING-PERIOD`)
 * until it does, or until `timeoutMs`, and then the one it had. Timing only: nothing here changes what
 * a Sentinel monitors or decides, and one that cannot be asked is left to its own retry.
 */
export async function hurrySentinelLinks(t: Topology, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const talking = (records: Map<string, string>[]) => records.filter((r) => talksTo({ flags: parseFlags(r.get('flags')) })).length;
  await Promise.all(t.sentinels.map(async (s) => {
    // Read once, before lowering it: a retry after a dropped connection puts back this value.
    let original: string | undefined;
    for (;;) {
      try {
        await withConnection(sentinelEndpointIn(t, s), async (c) => {
          const linked = async () =>
            talking(parseFlatRecords(await c.call('SENTINEL', 'SENTINELS', t.masterName))) >= t.sentinels.length - 1 &&
            talking(parseFlatRecords(await c.call('SENTINEL', 'REPLICAS', t.masterName))) >= t.nodes.length - 1;
          if (original === undefined) {
            if (await linked()) return;
            original = parseFlatRecord(await c.call('SENTINEL', 'DEBUG')).get('PING-PERIOD');
            if (original === undefined) return;
            await c.call('SENTINEL', 'DEBUG', 'PING-PERIOD', String(HURRIED_PING_PERIOD_MS));
          }
          while (!(await linked()) && Date.now() < deadline) await sleep(20);
          await c.call('SENTINEL', 'DEBUG', 'PING-PERIOD', original);
        });
        return;
      } catch {
        // Not listening yet (it started a moment ago), or the connection dropped: ask again, for longer
        // once its ping period is lowered, which must be put back.
        if (Date.now() > deadline + (original === undefined ? 0 : timeoutMs)) return;
        await sleep(20);
      }
    }
  }));
}
