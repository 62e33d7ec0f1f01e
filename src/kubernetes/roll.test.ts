import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planRoll, type RollInput, type RollPod } from './roll.ts';
import type { NodeStatus, SentinelStatus, TopologyStatus } from '../observe/status.ts';

const host = (pod: string) => `${pod}.shop-headless.ns.svc`;
const address = (pod: string) => `${host(pod)}:6379`;

function node(id: string, role: 'master' | 'replica', master: string, extra: Partial<NodeStatus> = {}): NodeStatus {
  return { id, host: host(id), port: 6379, role, reachable: true, ...(role === 'replica' ? { following: address(master), linkUp: true, lagBytes: 0 } : {}), ...extra };
}

function sentinel(id: string, master: string, extra: Partial<SentinelStatus> = {}): SentinelStatus {
  return {
    id, host: host(id), port: 26379, reachable: true, master: { host: host(master), port: 6379 }, masterFlags: ['master'], replicasSeen: 2,
    otherSentinelsSeen: 2, quorumOk: true, quorumMessage: 'OK', failoverInProgress: false, configEpoch: 1, tilt: false, ...extra,
  };
}

/** shop-redis-0 master, -1 and -2 replicas in sync, three agreeing Sentinels. */
function observedWithMaster(master = 'shop-redis-0', nodes?: NodeStatus[], sentinels?: SentinelStatus[]): TopologyStatus {
  const ids = ['shop-redis-0', 'shop-redis-1', 'shop-redis-2'];
  return {
    name: 'shop', healthy: true, problems: [], masterName: 'shop', quorum: 2,
    master: { host: host(master), port: 6379 },
    nodes: nodes ?? ids.map((id) => node(id, id === master ? 'master' : 'replica', master)),
    sentinels: sentinels ?? ['shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2'].map((id) => sentinel(id, master)),
  };
}

function pods(revisions: Record<string, string>, extra: Partial<Record<string, Partial<RollPod>>> = {}): RollPod[] {
  return Object.entries(revisions).map(([name, revision]) => ({ name, revision, ready: true, terminating: false, neverReady: false, ...extra[name] }));
}

function input(o: Partial<RollInput>): RollInput {
  return {
    updateRevision: 'new', observedLatest: true, replicas: 3, sentinelsRolledOut: true,
    pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }),
    observed: observedWithMaster(),
    ...o,
  };
}

describe('planRoll', () => {
  test('done when every pod runs the update revision', () => {
    const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'new', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }) }));
    assert.deepEqual(step, { kind: 'done', reason: 'all 3 Redis pods run revision new' });
  });

  test('replicas first, the highest ordinal first, one at a time', () => {
    assert.deepEqual(planRoll(input({})), { kind: 'delete', pod: 'shop-redis-2', reason: 'shop-redis-2 is a replica on an old revision (2 such replica(s) left, then the master)' });
    const second = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'new' }) }));
    assert.equal(second.kind === 'delete' && second.pod, 'shop-redis-1');
  });

  test('the master last, through a switchover to an updated in-sync replica, the least behind', () => {
    const nodes = [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0', { lagBytes: 40 }), node('shop-redis-2', 'replica', 'shop-redis-0', { lagBytes: 0 })];
    const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }), observed: observedWithMaster('shop-redis-0', nodes) }));
    assert.deepEqual(step, {
      kind: 'switchover', from: 'shop-redis-0', to: 'shop-redis-2',
      reason: 'the master shop-redis-0 is the last pod on an old revision: switching over to shop-redis-2 before replacing it',
    });
  });

  test('after the switchover the old master is an outdated replica and is replaced', () => {
    const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }), observed: observedWithMaster('shop-redis-1') }));
    assert.equal(step.kind === 'delete' && step.pod, 'shop-redis-0');
  });

  test('the master is never deleted while it is master, whatever its ordinal', () => {
    const step = planRoll(input({ observed: observedWithMaster('shop-redis-2') }));
    assert.equal(step.kind === 'delete' && step.pod, 'shop-redis-1');
  });

  test('waits for a replacement pod to be ready and back in sync before the next', () => {
    const notReady = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'new' }, { 'shop-redis-2': { ready: false } }) }));
    assert.deepEqual(notReady, { kind: 'wait', reason: 'shop-redis-2 is not ready' });
    const syncing = observedWithMaster('shop-redis-0', [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0'), node('shop-redis-2', 'replica', 'shop-redis-0', { linkUp: false })]);
    assert.deepEqual(planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'new' }), observed: syncing })), { kind: 'wait', reason: 'shop-redis-2 is not an in-sync replica of shop-redis-0' });
  });

  test('waits while a pod is terminating or missing', () => {
    assert.deepEqual(planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }, { 'shop-redis-2': { terminating: true } }) })), { kind: 'wait', reason: 'shop-redis-2 is terminating' });
    assert.deepEqual(planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old' }) })), { kind: 'wait', reason: '1 Redis pod(s) missing; waiting for the StatefulSet to recreate them' });
  });

  test('never acts during a failover, in TILT, without an agreed master, or while the Sentinels roll', () => {
    const sentinels = ['shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2'].map((id) => sentinel(id, 'shop-redis-0', id === 'shop-sentinel-1' ? { failoverInProgress: true } : {}));
    assert.deepEqual(planRoll(input({ observed: observedWithMaster('shop-redis-0', undefined, sentinels) })), { kind: 'wait', reason: 'shop-sentinel-1 reports a failover in progress' });
    const tilt = ['shop-sentinel-0'].map((id) => sentinel(id, 'shop-redis-0', { tilt: true }));
    assert.deepEqual(planRoll(input({ observed: observedWithMaster('shop-redis-0', undefined, tilt) })), { kind: 'wait', reason: 'shop-sentinel-0 is in TILT mode' });
    assert.deepEqual(planRoll(input({ observed: { ...observedWithMaster(), master: null } })), { kind: 'wait', reason: 'no master is named by a majority of the Sentinels' });
    assert.deepEqual(planRoll(input({ sentinelsRolledOut: false })), { kind: 'wait', reason: 'the Sentinels are still rolling' });
  });

  test('waits when the named master does not answer as master', () => {
    const nodes = [node('shop-redis-0', 'replica', 'shop-redis-1'), node('shop-redis-1', 'replica', 'shop-redis-0'), node('shop-redis-2', 'replica', 'shop-redis-0')];
    const step = planRoll(input({ observed: observedWithMaster('shop-redis-0', nodes) }));
    assert.equal(step.kind, 'wait');
    assert.match(step.reason, /does not answer as master/);
  });

  test('waits when no updated replica can take over from the outdated master', () => {
    const nodes = [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0'), node('shop-redis-2', 'replica', 'shop-redis-0')];
    const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }), observed: { ...observedWithMaster('shop-redis-0', nodes), nodes: nodes.map((n) => (n.id === 'shop-redis-0' ? n : { ...n, linkUp: false })) } }));
    assert.equal(step.kind, 'wait');
  });

  test('waits until the StatefulSet controller has seen the new template', () => {
    assert.equal(planRoll(input({ observedLatest: false })).kind, 'wait');
    assert.equal(planRoll(input({ updateRevision: undefined })).kind, 'wait');
  });

  test('a single pod (no replicas) is simply replaced', () => {
    const observed: TopologyStatus = { ...observedWithMaster(), nodes: [node('shop-redis-0', 'master', 'shop-redis-0')] };
    const step = planRoll(input({ replicas: 1, pods: pods({ 'shop-redis-0': 'old' }), observed }));
    assert.equal(step.kind === 'delete' && step.pod, 'shop-redis-0');
  });

  describe('pods that never became ready on an old revision', () => {
    const pullFailure = (pod: string) => ({ ready: false, neverReady: true, trouble: { pod, class: 'image' as const, reason: 'ErrImageNeverPull', message: 'Container image "localhost/redis-ha/redis:7.0.99" is not present with pull policy of Never', container: 'redis', image: 'localhost/redis-ha/redis:7.0.99' } });
    const down = (id: string) => ({ ...node(id, 'replica', 'shop-redis-0'), role: 'down' as const, reachable: false, following: undefined, linkUp: undefined, lagBytes: undefined });
    /** The Sentinels still name shop-redis-0, which never ran: no pod answers. */
    const nothingAnswers = observedWithMaster('shop-redis-0', ['shop-redis-0', 'shop-redis-1', 'shop-redis-2'].map(down));

    test('a broken image fixed in the spec: every stuck pod is replaced at once, the named master too, since it never answered', () => {
      const step = planRoll(input({
        pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }, { 'shop-redis-0': pullFailure('shop-redis-0'), 'shop-redis-1': pullFailure('shop-redis-1'), 'shop-redis-2': pullFailure('shop-redis-2') }),
        observed: nothingAnswers, sentinelsRolledOut: false,
      }));
      assert.deepEqual(step, {
        kind: 'replace-stuck', pods: ['shop-redis-0', 'shop-redis-1', 'shop-redis-2'],
        reason: 'shop-redis-0, shop-redis-1, shop-redis-2 never became ready on an old revision (ErrImageNeverPull) and hold no data: replacing them with revision new now',
      });
    });

    test('one stuck replica is replaced without waiting for the others to be healthy or in sync', () => {
      const observed = observedWithMaster('shop-redis-0', [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0', { linkUp: false }), down('shop-redis-2')]);
      const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }, { 'shop-redis-1': { ready: false }, 'shop-redis-2': { ready: false, neverReady: true } }), observed, sentinelsRolledOut: false }));
      assert.deepEqual(step, { kind: 'replace-stuck', pods: ['shop-redis-2'], reason: 'shop-redis-2 never became ready on an old revision (not ready) and holds no data: replacing it with revision new now' });
    });

    test('a crash loop and an unschedulable pod count the same; a terminating one is left to finish', () => {
      const crash = { ready: false, neverReady: true, trouble: { pod: 'shop-redis-1', class: 'crash' as const, reason: 'CrashLoopBackOff', message: 'the last run of container redis ended with Error (exit code 1), 3 restart(s)', container: 'redis' } };
      const pending = { ready: false, neverReady: true, trouble: { pod: 'shop-redis-2', class: 'unschedulable' as const, reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' } };
      const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }, { 'shop-redis-0': { ...pullFailure('shop-redis-0'), terminating: true }, 'shop-redis-1': crash, 'shop-redis-2': pending }), observed: nothingAnswers }));
      assert.deepEqual(step, { kind: 'replace-stuck', pods: ['shop-redis-1', 'shop-redis-2'], reason: 'shop-redis-1, shop-redis-2 never became ready on an old revision (CrashLoopBackOff, Unschedulable) and hold no data: replacing them with revision new now' });
    });

    test('a pod that was ready once (it may hold data) is never replaced out of turn: the roll waits for it', () => {
      const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }, { 'shop-redis-2': { ready: false } }), observed: observedWithMaster('shop-redis-0', [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0'), down('shop-redis-2')]) }));
      assert.deepEqual(step, { kind: 'wait', reason: 'shop-redis-2 is not ready' });
    });

    test('a never-ready pod that answers as Redis (a replica still syncing, or a master) is not replaced', () => {
      const syncing = observedWithMaster('shop-redis-0', [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0'), node('shop-redis-2', 'replica', 'shop-redis-0', { linkUp: false })]);
      assert.deepEqual(planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }, { 'shop-redis-2': { ready: false, neverReady: true } }), observed: syncing })), { kind: 'wait', reason: 'shop-redis-2 is not ready' });
      const answeringMaster = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }, { 'shop-redis-0': { ready: false, neverReady: true } }) }));
      assert.deepEqual(answeringMaster, { kind: 'wait', reason: 'shop-redis-0 is not ready' });
    });

    test('a stuck pod on the update revision (the new spec is broken too) is not replaced: the same spec would make it again', () => {
      const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'new' }, { 'shop-redis-2': pullFailure('shop-redis-2') }), observed: observedWithMaster('shop-redis-0', [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0'), down('shop-redis-2')]) }));
      assert.deepEqual(step, { kind: 'wait', reason: 'shop-redis-2 is not ready' });
    });

    test('waits while a Sentinel reports a failover in progress', () => {
      const sentinels = ['shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2'].map((id) => sentinel(id, 'shop-redis-0', id === 'shop-sentinel-2' ? { failoverInProgress: true } : {}));
      const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }, { 'shop-redis-2': pullFailure('shop-redis-2') }), observed: { ...nothingAnswers, sentinels } }));
      assert.deepEqual(step, { kind: 'wait', reason: 'shop-sentinel-2 reports a failover in progress' });
    });
  });
});
