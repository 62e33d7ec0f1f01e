import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSwitchover, SwitchoverError } from './switchover.ts';
import { node, nodeAddress, observation, replica, sentinel } from './plan-fixtures.ts';

const sentinelsOn = (of: number) => [0, 1, 2].map((i) => sentinel(i, of));

test('chooseSwitchover: the default target is the first ready replica in the topology ranking (rankByData)', () => {
  const ahead = observation([node(0), replica(1, 0, { offset: 990 }), replica(2, 0, { offset: 1000 })], sentinelsOn(0));
  assert.equal(chooseSwitchover(ahead, undefined).target.id, 'node-2', 'the higher offset');
  const tie = observation([node(0), replica(2, 0), replica(1, 0)], sentinelsOn(0));
  assert.equal(chooseSwitchover(tie, undefined).target.id, 'node-1', 'equal data: the smaller id');
  const unlinked = observation([node(0), replica(1, 0, { offset: 990 }), replica(2, 0, { offset: 1000, linkUp: false })], sentinelsOn(0));
  assert.equal(chooseSwitchover(unlinked, undefined).target.id, 'node-1', 'a replica whose link is down is not ready');
  const none = observation([node(0), replica(1, 0, { linkUp: false }), replica(2, 1)], sentinelsOn(0));
  assert.throws(() => chooseSwitchover(none, undefined), new SwitchoverError('no replica of node-0 is caught up (reachable, following it, link up); nothing to switch over to'));
  assert.equal(chooseSwitchover(ahead, nodeAddress(1)).target.id, 'node-1', '--to wins over the ranking');
});
