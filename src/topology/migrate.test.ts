import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canReplicate, checkSource, failedCheck, jointTopology, type Source, type SourceObservation } from './migrate.ts';
import type { SentinelProbe, SentinelView } from '../redis/probe.ts';

const source: Source = { sentinels: [0, 1, 2].map((i) => ({ host: 's', port: 26379 + i })), masterName: 'mymaster', password: 'p', sentinelPassword: 'sp' };
const master = { host: 'm', port: 6379 };

function view(over: Partial<SentinelView> = {}): SentinelView {
  return {
    name: 'mymaster', ...master, flags: new Set(['master']), quorum: 2, downAfterMilliseconds: 5000, failoverTimeout: 60000, parallelSyncs: 1,
    configEpoch: 1, failoverInProgress: false, failoverState: 'none', replicas: [], sentinels: [], ckquorum: { ok: true, message: 'OK' }, ...over,
  };
}

function probe(i: number, over: Partial<SentinelProbe> = {}): SentinelProbe {
  return { host: 's', port: 26379 + i, reachable: true, tilt: false, view: view(), ...over };
}

function observed(sentinels: SentinelProbe[], over: Partial<SourceObservation> = {}): SourceObservation {
  return {
    sentinels,
    master,
    knownSentinels: source.sentinels,
    replicas: [{ host: 'r', port: 6380 }],
    masterProbe: { host: 'm', port: 6379, reachable: true, replication: { role: 'master', offset: 10, replid: 'x', replicas: [] } as never },
    masterVersion: '7.2.4',
    ...over,
  };
}

test('canReplicate: a replica may not be older than its master in major.minor', () => {
  assert.equal(canReplicate('7.0.15', '7.0.11'), true);
  assert.equal(canReplicate('7.2.4', '7.0.15'), false);
  assert.equal(canReplicate('6.2.14', '7.0.15'), true);
  assert.equal(canReplicate('8.0.0', '7.4.1'), false);
});

test('checks pass in order on a healthy source', () => {
  const checks = checkSource(source, observed([probe(0), probe(1), probe(2)]), '7.2.5');
  assert.deepEqual(checks.map((c) => `${c.name}:${c.ok}`), ['sentinels:true', 'failover:true', 'quorum:true', 'auth:true', 'master:true', 'version:true']);
  assert.equal(failedCheck(checks), undefined);
});

test('the first failing check stops the list, with one line', () => {
  const cases: [SourceObservation, string, string][] = [
    [observed([probe(0, { reachable: false, error: 'login refused: wrong user name or password (WRONGPASS)', view: undefined }), probe(1), probe(2)]), 'auth',
      'source Sentinel s:26379 refused the password in REDIS_HA_SOURCE_SENTINEL_PASSWORD (login refused: wrong user name or password (WRONGPASS))'],
    [observed([probe(0, { view: undefined }), probe(1, { view: undefined }), probe(2, { view: undefined })]), 'sentinels',
      "no source Sentinel monitors a master named 'mymaster' (asked s:26379, s:26380, s:26381)"],
    [observed([probe(0), probe(1, { tilt: true }), probe(2)]), 'failover', "source Sentinel s:26380 is in TILT mode; run again once it is over"],
    [observed([probe(0), probe(1, { view: view({ failoverInProgress: true, failoverState: 'select_slave' }) }), probe(2)]), 'failover',
      "source Sentinel s:26380 reports a failover of 'mymaster' in progress; run again once it is over"],
    [observed([probe(0), probe(1, { reachable: false, error: 'timeout', view: undefined }), probe(2, { reachable: false, error: 'timeout', view: undefined })], { master: undefined }), 'quorum',
      'no quorum: 1 of 3 source Sentinels answer and 1 names m:6379; a failover needs 2 (quorum 2, majority 2)'],
    [observed([probe(0), probe(1), probe(2)], { masterProbe: { host: 'm', port: 6379, reachable: false, error: 'login refused: x (WRONGPASS)' } }), 'auth',
      'the source master m:6379 refused the password in REDIS_HA_SOURCE_PASSWORD (login refused: x (WRONGPASS))'],
    [observed([probe(0), probe(1), probe(2)]), 'version',
      "the source master runs Redis 7.2.4 and the local redis-server is 7.0.15: a replica cannot load a newer master's data; use redis-server 7.2 or newer"],
  ];
  for (const [obs, name, detail] of cases) {
    const checks = checkSource(source, obs, '7.0.15');
    const failed = failedCheck(checks);
    assert.deepEqual(failed && { name: failed.name, detail: failed.detail }, { name, detail });
    assert.equal(checks.at(-1), failed, 'nothing is checked after the first failure');
  }
});

test('the joint topology: old members first, ours after, everyone logging in as the application', () => {
  const t = jointTopology({
    source,
    sourceNodes: [master, { host: 'r', port: 6380 }, { host: '127.0.0.1', port: 6400 }],
    sourceSentinels: [{ host: 's', port: 26379 }, { host: '127.0.0.1', port: 6410 }],
    ownNodes: [{ id: 'node-0', host: '127.0.0.1', port: 6400 }],
    ownSentinels: [{ id: 'sentinel-0', host: '127.0.0.1', port: 6410 }],
    quorum: 2,
    timings: { downAfterMilliseconds: 5000, failoverTimeout: 60000, parallelSyncs: 1 },
  });
  assert.deepEqual(t.nodes.map((n) => n.id), ['old-node-0', 'old-node-1', 'node-0']);
  assert.deepEqual(t.sentinels.map((n) => n.id), ['old-sentinel-0', 'sentinel-0']);
  assert.deepEqual(t.nodeAuth, { password: 'p' });
  assert.deepEqual(t.sentinelAuth, { password: 'sp' });
  assert.equal(t.masterName, 'mymaster');
});
