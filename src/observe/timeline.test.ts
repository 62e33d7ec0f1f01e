import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Timeline, type TimelineEntry } from './timeline.ts';

const names = new Map([['10.0.0.1:6379', 'node-0'], ['10.0.0.2:6379', 'node-1'], ['10.0.0.3:6379', 'node-2']]);

describe('Timeline', () => {
  test('names members by id and folds the same Sentinel event from several Sentinels into one line', () => {
    const t = new Timeline(names);
    const seen: TimelineEntry[] = [];
    t.subscribe((e) => seen.push(e));
    t.observer.sentinelEvent?.({ at: 1000, sentinel: 'sentinel-0', type: '+switch-master', message: 'redis-ha-x 10.0.0.1 6379 10.0.0.2 6379' });
    t.observer.sentinelEvent?.({ at: 1100, sentinel: 'sentinel-2', type: '+switch-master', message: 'redis-ha-x 10.0.0.1 6379 10.0.0.2 6379' });
    t.observer.sentinelEvent?.({ at: 1200, sentinel: 'sentinel-0', type: '+sdown', message: 'slave 10.0.0.3:6379 10.0.0.3 6379 @ redis-ha-x 10.0.0.2 6379' });
    t.observer.sentinelEvent?.({ at: 1300, sentinel: 'sentinel-0', type: '+sentinel', message: 'sentinel abc 10.0.0.9 26379 @ redis-ha-x 10.0.0.2 6379' });
    assert.deepEqual(t.entries().map((e) => e.text), ['+switch-master node-0 → node-1 (sentinel-0, sentinel-2)', '+sdown replica node-2 (sentinel-0)']);
    assert.equal(seen.length, 3, 'the folded line is sent again with its new text');
    assert.equal(seen[1].id, seen[0].id);
  });

  test('failovers, repairs and failed actions become lines; only the last `capacity` are kept', () => {
    const t = new Timeline(names, 2);
    t.observer.masterChanged?.({ at: 1, from: { id: 'node-0', address: '10.0.0.1:6379' }, to: { id: 'node-1', address: '10.0.0.2:6379' }, durationMs: 2150 });
    t.observer.action?.({ at: 2, kind: 'fence', description: 'fence node-0 -> node-1', ok: true });
    t.observer.action?.({ at: 3, kind: 'replicaof', description: 'replicaof node-2 -> node-1', ok: false, error: 'timeout' });
    const entries = t.entries();
    assert.deepEqual(entries.map((e) => [e.kind, e.text, e.ok]), [
      ['repair', 'did fence node-0 -> node-1', true],
      ['repair', 'could not replicaof node-2 -> node-1: timeout', false],
    ]);
    assert.deepEqual(t.entries(entries[0].id).map((e) => e.id), [entries[1].id]);
    const failover = new Timeline(names);
    failover.observer.masterChanged?.({ at: 1, from: { id: 'node-0', address: '10.0.0.1:6379' }, to: { id: 'node-1', address: '10.0.0.2:6379' }, durationMs: 2150 });
    assert.equal(failover.entries()[0].text, 'master node-0 → node-1 in 2.1 s (Sentinels agree on 10.0.0.2:6379)');
  });
});
