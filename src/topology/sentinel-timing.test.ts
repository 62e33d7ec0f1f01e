import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstListedLast, promotionSeenInMs, sentinelInfoPeriodMs, sentinelsPick, soonestToSeePromotion } from './sentinel-timing.ts';
import { parseSentinelReplicas, type SentinelReplica } from '../redis/parse.ts';

/** A record as SENTINEL REPLICAS gives it (Redis 7.0's field names). */
const record = (port: number, over: Record<string, string> = {}) => new Map(Object.entries({
  ip: '127.0.0.1', port: String(port), runid: `run-${port}`, flags: 'slave', 'info-refresh': '300',
  'master-link-status': 'ok', 'slave-priority': '100', 'slave-repl-offset': '5000', ...over,
}));

test('parseSentinelReplicas reads what the choice and the timing depend on', () => {
  const [r] = parseSentinelReplicas([record(6401, { 'info-refresh': '742', 'slave-repl-offset': '9' })]);
  assert.deepEqual({ ...r, flags: [...r!.flags] }, { host: '127.0.0.1', port: 6401, flags: ['slave'], priority: 100, offset: 9, runId: 'run-6401', linkUp: true, infoAgeMs: 742 });
});

test('sentinelsPick follows Sentinel\'s order: reachable, priority not 0, lowest priority, largest offset, smaller run id', () => {
  const pick = (...records: Map<string, string>[]) => sentinelsPick(parseSentinelReplicas(records))?.port;
  assert.equal(pick(record(6401), record(6402, { 'slave-repl-offset': '6000' })), 6402, 'the larger offset');
  assert.equal(pick(record(6401, { 'slave-priority': '10' }), record(6402, { 'slave-repl-offset': '6000' })), 6401, 'the lower priority first');
  assert.equal(pick(record(6401, { 'slave-priority': '0', 'slave-repl-offset': '9000' }), record(6402)), 6402, 'never priority 0');
  assert.equal(pick(record(6401, { flags: 'slave,s_down', 'slave-repl-offset': '9000' }), record(6402)), 6402, 'never one it sees down');
  assert.equal(pick(record(6402), record(6401)), 6401, 'a tie: the smaller run id');
  // The offsets are those of Sentinel's last INFO of each, read while writes still came in, or since.
  const dead = { 'master-link-status': 'err' };
  assert.equal(pick(record(6401, { ...dead, 'slave-repl-offset': '10' }), record(6402, { 'slave-repl-offset': '6000' })), 6401, 'read since the master died: its final offset, before one read earlier');
  assert.equal(pick(record(6401, { 'info-refresh': '950', 'slave-repl-offset': '10' }), record(6402, { 'slave-repl-offset': '6000' })), 6401, 'read again before the pick: its final offset');
  assert.equal(pick(record(6402, dead), record(6401, { ...dead, 'slave-repl-offset': '10' })), 6401, 'both final: the smaller run id');
  assert.equal(pick(record(6401, { flags: 'slave,disconnected' })), undefined);
});

test('promotionSeenInMs: the next read, unless it comes before the promotion; one older than the period is due at once', () => {
  assert.equal(promotionSeenInMs(700), 300);
  assert.equal(promotionSeenInMs(0), 1000);
  assert.equal(promotionSeenInMs(900), 1100, 'its next read, 100 ms after the request, is before the promotion');
  assert.equal(promotionSeenInMs(4000), 1000, 'Sentinel\'s default period of 10 s: read at once, then a second later');
});

test('soonestToSeePromotion asks first the Sentinel whose next read of the replica it would promote comes soonest after the promotion', () => {
  const ages = (...byPort: [number, number][]) => parseSentinelReplicas(byPort.map(([port, age]) => record(port, { 'info-refresh': String(age), 'slave-repl-offset': port === 6402 ? '6000' : '5000' })));
  // Each would promote 6402 (the larger offset); its ages there: 100, 900 (too late: before the promotion), 650.
  const listed: (SentinelReplica[] | undefined)[] = [ages([6401, 700], [6402, 100]), ages([6401, 0], [6402, 900]), ages([6401, 0], [6402, 650]), undefined];
  assert.deepEqual(soonestToSeePromotion(['s0', 's1', 's2', 's3'], listed), ['s2', 's0', 's1', 's3']);
  assert.deepEqual(soonestToSeePromotion(['s0', 's1'], [undefined, undefined]), ['s0', 's1'], 'none listed: the given order');
});

test('the Sentinels\' INFO periods: about a second, each a little longer than the one before, so their reads drift apart', () => {
  const periods = [0, 1, 2].map(sentinelInfoPeriodMs);
  assert.equal(periods[0], 1000);
  assert.ok(periods[1]! > periods[0]! && periods[2]! > periods[1]! && periods[2]! <= 1100, periods.join(', '));
});

test('firstListedLast: the Sentinel clients ask first leads a failover only when no other accepts', () => {
  assert.deepEqual(firstListedLast(['s2', 's0', 's1'], 's0'), ['s2', 's1', 's0']);
  assert.deepEqual(firstListedLast(['s1', 's2'], 's0'), ['s1', 's2']);
});
