import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sentinelObservation } from './observe.ts';
import type { SentinelProbe, SentinelView } from '../redis/probe.ts';

const t = { quorum: 2, timings: { downAfterMilliseconds: 5000, failoverTimeout: 60_000, parallelSyncs: 1 } };
const probe = (over: Partial<SentinelView> = {}): SentinelProbe => ({
  host: 's', port: 26379, reachable: true, tilt: false,
  view: {
    name: 'm', host: 'n', port: 6379, flags: new Set(['master']), quorum: 2, downAfterMilliseconds: 5000, failoverTimeout: 60_000, parallelSyncs: 1,
    configEpoch: 0, failoverInProgress: false, failoverState: 'none', replicas: [], sentinels: [], ckquorum: { ok: true, message: 'OK' }, ...over,
  },
});

test('a Sentinel\'s settings include the INFO period of its place, where it has SENTINEL DEBUG', () => {
  assert.equal(sentinelObservation('s1', probe({ infoPeriodMs: 1050 }), t, 1).settingsMatch, true);
  assert.equal(sentinelObservation('s1', probe({ infoPeriodMs: 1000 }), t, 1).settingsMatch, false, 'the period of another place');
  assert.equal(sentinelObservation('s0', probe({ infoPeriodMs: 10_000 }), t, 0).settingsMatch, false, 'Sentinel\'s default');
  assert.equal(sentinelObservation('s0', probe(), t, 0).settingsMatch, true, 'no SENTINEL DEBUG (before Redis 7): not asked of it');
  assert.equal(sentinelObservation('s0', probe({ infoPeriodMs: 1000, quorum: 3 }), t, 0).settingsMatch, false, 'a master setting');
  // The ping period: half of down-after, at most Sentinel's own second.
  assert.equal(sentinelObservation('s0', probe({ infoPeriodMs: 1000, pingPeriodMs: 1000 }), t, 0).settingsMatch, true);
  const fast = { ...t, timings: { ...t.timings, downAfterMilliseconds: 1000 } };
  assert.equal(sentinelObservation('s0', probe({ infoPeriodMs: 1000, pingPeriodMs: 1000, downAfterMilliseconds: 1000 }), fast, 0).settingsMatch, false, 'at a 1 s down-after');
  assert.equal(sentinelObservation('s0', probe({ infoPeriodMs: 1000, pingPeriodMs: 500, downAfterMilliseconds: 1000 }), fast, 0).settingsMatch, true);
});
