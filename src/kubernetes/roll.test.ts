import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planRoll, type RollInput, type RollPod } from './roll.ts';
import type { NodeObservation, Observation, SentinelObservation } from '../topology/observation.ts';

const host = (pod: string) => `${pod}.shop-headless.ns.svc`;
const at = (pod: string) => ({ host: host(pod), port: 6379 });

/** A reachable node holding 100 keys at offset 1000; a replica follows `master` with its link up. */
function node(id: string, role: 'master' | 'replica', master: string, extra: Partial<NodeObservation> = {}): NodeObservation {
  return { id, ...at(id), role, reachable: true, offset: 1000, replid: 'r1', keys: 100, ...(role === 'replica' ? { replicaOf: at(master), linkUp: true } : {}), ...extra };
}

function sentinel(id: string, master: string, extra: Partial<SentinelObservation> = {}): SentinelObservation {
  return { id, host: host(id), port: 26379, reachable: true, monitoring: true, master: at(master), failoverInProgress: false, tilt: false, configEpoch: 1, settingsMatch: true, ...extra };
}

/** shop-redis-0 master, -1 and -2 replicas in sync, three agreeing Sentinels. */
function observedWithMaster(master = 'shop-redis-0', nodes?: NodeObservation[], sentinels?: SentinelObservation[]): Observation {
  const ids = ['shop-redis-0', 'shop-redis-1', 'shop-redis-2'];
  return {
    at: 1_700_000_000_000,
    nodes: nodes ?? ids.map((id) => node(id, id === master ? 'master' : 'replica', master)),
    sentinels: sentinels ?? ['shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2'].map((id) => sentinel(id, master)),
  };
}

function pods(revisions: Record<string, string>, extra: Partial<Record<string, Partial<RollPod>>> = {}): RollPod[] {
  return Object.entries(revisions).map(([name, revision]) => ({ name, revision, ready: true, terminating: false, neverReady: false, ...extra[name] }));
}

function input(o: Partial<RollInput>): RollInput {
  return {
    updateRevision: 'new', observedLatest: true, replicas: 3, desiredPods: 3, sentinelsRolledOut: true,
    pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'old' }),
    observed: observedWithMaster(),
    memory: { master: at('shop-redis-0'), epoch: 1 },
    ...o,
  };
}

describe('planRoll', () => {
  test('done when every pod runs the update revision', () => {
    const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'new', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }) }));
    assert.deepEqual(step, { kind: 'done', reason: 'all 3 Redis pods run revision new' });
  });

  test('a scale-down waits for the master to be a pod that stays: a switchover to the best replica that stays, then shrink, before any pod is replaced', () => {
    // 3 pods, the spec asks for 2: shop-redis-2 goes. It is the master: hand over to shop-redis-0 or -1
    // (shop-redis-1 the least behind), even though both run the old revision.
    const nodes = [node('shop-redis-0', 'replica', 'shop-redis-2', { offset: 900 }), node('shop-redis-1', 'replica', 'shop-redis-2', { offset: 990 }), node('shop-redis-2', 'master', 'shop-redis-2')];
    assert.deepEqual(planRoll(input({ desiredPods: 2, observed: observedWithMaster('shop-redis-2', nodes), memory: { master: at('shop-redis-2'), epoch: 1 } })), {
      kind: 'switchover', from: 'shop-redis-2', to: 'shop-redis-1',
      reason: 'scaling down to 2 Redis pods removes the master shop-redis-2: switching over to shop-redis-1 first',
    });
    // From 5 to 1: only shop-redis-0 stays, and it is not in sync: wait.
    const five = ['shop-redis-0', 'shop-redis-1', 'shop-redis-2', 'shop-redis-3', 'shop-redis-4'];
    const lagging = five.map((id) => (id === 'shop-redis-3' ? node(id, 'master', id) : node(id, 'replica', 'shop-redis-3', id === 'shop-redis-0' ? { linkUp: false } : {})));
    const step = planRoll(input({ replicas: 5, desiredPods: 1, pods: pods(Object.fromEntries(five.map((id) => [id, 'new']))), observed: observedWithMaster('shop-redis-3', lagging) }));
    assert.deepEqual(step, { kind: 'wait', reason: 'shop-redis-0 is not an in-sync replica of shop-redis-3' });
    // The master stays: shrink, also when every pod is up to date.
    assert.deepEqual(planRoll(input({ desiredPods: 2, pods: pods({ 'shop-redis-0': 'new', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }) })), {
      kind: 'shrink', pods: 2, reason: 'the master shop-redis-0 stays: scaling down to 2 Redis pods removes 1 pod(s) from ordinal 2',
    });
  });

  test('replicas first, the highest ordinal first, one at a time', () => {
    assert.deepEqual(planRoll(input({})), { kind: 'delete', pod: 'shop-redis-2', reason: 'shop-redis-2 is a replica on an old revision (2 such replica(s) left, then the master)' });
    const second = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'new' }) }));
    assert.equal(second.kind === 'delete' && second.pod, 'shop-redis-1');
  });

  test('the master last, through a switchover to an updated in-sync replica, the least behind', () => {
    const nodes = [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0', { offset: 960 }), node('shop-redis-2', 'replica', 'shop-redis-0', { offset: 1000 })];
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
    const split = ['shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2'].map((id, i) => sentinel(id, `shop-redis-${i}`));
    assert.deepEqual(planRoll(input({ observed: observedWithMaster('shop-redis-0', undefined, split) })), { kind: 'wait', reason: 'no master is named by a majority of the Sentinels' });
    assert.deepEqual(planRoll(input({ sentinelsRolledOut: false })), { kind: 'wait', reason: 'the Sentinels are still rolling' });
  });

  test('a roll waits for any failover to end, even one past its promotion that only reconfigures replicas (which the planner helps)', () => {
    const nodes = [node('shop-redis-0', 'replica', 'shop-redis-1'), node('shop-redis-1', 'master', 'shop-redis-1'), node('shop-redis-2', 'replica', 'shop-redis-1')];
    const reconfiguring = (state: string) => ['shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2'].map((id) => (id === 'shop-sentinel-2'
      ? sentinel(id, 'shop-redis-0', { failoverInProgress: true, failoverState: state, configEpoch: 2 })
      : sentinel(id, 'shop-redis-1', { configEpoch: 2 })));
    const after = planRoll(input({ observed: observedWithMaster('shop-redis-1', nodes, reconfiguring('reconf_slaves')) }));
    assert.deepEqual(after, { kind: 'wait', reason: 'shop-sentinel-2 reports a failover in progress' });
    const ended = planRoll(input({ observed: observedWithMaster('shop-redis-1', nodes, reconfiguring('none').map((x) => ({ ...x, failoverInProgress: false }))) }));
    assert.deepEqual(ended, { kind: 'delete', pod: 'shop-redis-2', reason: 'shop-redis-2 is a replica on an old revision (2 such replica(s) left, then the master)' });
    const before = planRoll(input({ observed: observedWithMaster('shop-redis-1', nodes, reconfiguring('select_slave')) }));
    assert.deepEqual(before, { kind: 'wait', reason: 'shop-sentinel-2 reports a failover in progress' });
  });

  test("the switchover target is the planner's ranking by data (rankByData): a replica with data before an empty one, then the higher offset", () => {
    const nodes = [node('shop-redis-0', 'master', 'shop-redis-0'), node('shop-redis-1', 'replica', 'shop-redis-0', { offset: 900 }), node('shop-redis-2', 'replica', 'shop-redis-0', { offset: 1000, keys: 0 })];
    const step = planRoll(input({ pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }), observed: observedWithMaster('shop-redis-0', nodes) }));
    assert.equal(step.kind === 'switchover' && step.to, 'shop-redis-1');
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

  test('after the switchover onto an updated master, the old master goes next even if it cannot follow (not ready, link down); before it, an unready replica still holds the roll', () => {
    // Redis 7.0 under a Valkey 9 master: it cannot load the RDB, so it never links again (CI, 2026-12-03).
    const nodes = [node('shop-redis-0', 'replica', 'shop-redis-2', { linkUp: false, offset: 0 }), node('shop-redis-1', 'replica', 'shop-redis-2'), node('shop-redis-2', 'master', 'shop-redis-2')];
    const after = input({
      pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }, { 'shop-redis-0': { ready: false } }),
      observed: observedWithMaster('shop-redis-2', nodes),
      memory: { master: at('shop-redis-2'), epoch: 2 },
    });
    assert.deepEqual(planRoll(after), { kind: 'delete', pod: 'shop-redis-0', reason: 'shop-redis-0 is a replica on an old revision (1 such replica(s) left)' });
    // An updated replica that is not ready or not linked still holds it.
    const updatedUnready = input({ ...after, pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'new', 'shop-redis-2': 'new' }, { 'shop-redis-0': { ready: false }, 'shop-redis-1': { ready: false } }) });
    assert.deepEqual(planRoll(updatedUnready), { kind: 'wait', reason: 'shop-redis-1 is not ready' });
    const updatedLagging = input({ ...after, observed: observedWithMaster('shop-redis-2', [nodes[0]!, node('shop-redis-1', 'replica', 'shop-redis-2', { linkUp: false }), nodes[2]!]) });
    assert.deepEqual(planRoll(updatedLagging), { kind: 'wait', reason: 'shop-redis-1 is not an in-sync replica of shop-redis-2' });
    // While the master is still on the old revision, an unready outdated replica holds the roll.
    const before = input({
      pods: pods({ 'shop-redis-0': 'old', 'shop-redis-1': 'old', 'shop-redis-2': 'new' }, { 'shop-redis-1': { ready: false } }),
    });
    assert.deepEqual(planRoll(before), { kind: 'wait', reason: 'shop-redis-1 is not ready' });
  });

  test('a single pod (no replicas) is simply replaced', () => {
    const observed: Observation = { ...observedWithMaster(), nodes: [node('shop-redis-0', 'master', 'shop-redis-0')] };
    const step = planRoll(input({ replicas: 1, pods: pods({ 'shop-redis-0': 'old' }), observed }));
    assert.equal(step.kind === 'delete' && step.pod, 'shop-redis-0');
  });

  describe('pods that never became ready on an old revision', () => {
    const pullFailure = (pod: string) => ({ ready: false, neverReady: true, trouble: { pod, class: 'image' as const, reason: 'ErrImageNeverPull', message: 'Container image "localhost/redis-ha/redis:7.0.99" is not present with pull policy of Never', container: 'redis', image: 'localhost/redis-ha/redis:7.0.99' } });
    const down = (id: string): NodeObservation => ({ id, ...at(id), reachable: false, role: 'unknown', offset: 0, replid: '', keys: 0 });
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
