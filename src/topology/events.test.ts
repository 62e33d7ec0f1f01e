import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FailoverClock } from './events.ts';
import { node, observation, replica, sentinel } from './plan-fixtures.ts';
import type { Observation } from './observation.ts';

const T0 = 1_700_000_000_000;

function at(obs: Observation, ms: number): Observation {
  return { ...obs, at: T0 + ms };
}

const settledOn = (m: number) => observation([0, 1, 2].map((i) => (i === m ? node(i) : replica(i, m))), [0, 1, 2].map((i) => sentinel(i, m)));

describe('FailoverClock', () => {
  test('the first agreed master is where it starts, not a change', () => {
    const clock = new FailoverClock('mymaster');
    assert.equal(clock.pass(at(settledOn(0), 0)), undefined);
    assert.equal(clock.pass(at(settledOn(0), 1000)), undefined);
  });

  test('times a failover from the pass that saw the master unreachable to the one that sees the new master', () => {
    const clock = new FailoverClock('mymaster');
    clock.pass(at(settledOn(0), 0));
    const dead = observation([node(0, { reachable: false }), replica(1, 0), replica(2, 0)], [0, 1, 2].map((i) => sentinel(i, 0)));
    assert.equal(clock.pass(at(dead, 1000)), undefined);
    assert.equal(clock.pass(at(dead, 1500)), undefined);
    const change = clock.pass(at(settledOn(1), 3200));
    assert.deepEqual(change, { at: T0 + 3200, from: { id: 'node-0', address: 'node-0:6379' }, to: { id: 'node-1', address: 'node-1:6379' }, durationMs: 2200 });
  });

  test('a Sentinel event about the master starts the clock earlier; one about a replica does not', () => {
    const clock = new FailoverClock('mymaster');
    clock.pass(at(settledOn(0), 0));
    clock.sentinelEvent('+sdown', 'slave node-2:6379 node-2 6379 @ mymaster node-0 6379', T0 + 100);
    clock.sentinelEvent('+try-failover', 'master mymaster node-0 6379', T0 + 500);
    assert.equal(clock.pass(at(settledOn(1), 1500))?.durationMs, 1000);
  });

  test('trouble that passes without a change is forgotten once the master is well and no Sentinel acts', () => {
    const clock = new FailoverClock('mymaster');
    clock.pass(at(settledOn(0), 0));
    clock.sentinelEvent('+sdown', 'master mymaster node-0 6379', T0 + 100);
    const busy = observation(settledOn(0).nodes as never, [sentinel(0, 0, { failoverInProgress: true }), sentinel(1, 0), sentinel(2, 0)]);
    clock.pass(at(busy, 200));
    clock.pass(at(settledOn(0), 300));
    assert.equal(clock.pass(at(settledOn(1), 60_000))?.durationMs, undefined);
  });

  test('no majority is no change', () => {
    const clock = new FailoverClock('mymaster');
    clock.pass(at(settledOn(0), 0));
    const split = observation(settledOn(0).nodes as never, [sentinel(0, 0), sentinel(1, 1), sentinel(2, 2)]);
    assert.equal(clock.pass(at(split, 100)), undefined);
    assert.equal(clock.pass(at(settledOn(0), 200)), undefined);
  });
});
