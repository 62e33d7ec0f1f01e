import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CRASH_FAILOVER_ANNOTATION, goneNodes, groupTroubles, neverReady, podTrouble, redisNotRunning, troubleKey, troubleSentence, type PodObject } from './pods.ts';

const START = '2026-12-02T06:21:25Z';
const cond = (type: string, status: string, at = START, extra: Record<string, string> = {}) => ({ type, status, lastTransitionTime: at, ...extra });

/** A Redis pod as the test bed's kubelet reported it with image tag 7.0.99 and pullPolicy Never. */
function neverPull(name: string): PodObject {
  return {
    metadata: { name },
    status: {
      phase: 'Pending', startTime: START,
      conditions: [cond('PodReadyToStartContainers', 'True', '2026-12-02T06:21:27Z'), cond('Initialized', 'True'), cond('Ready', 'False', START, { reason: 'ContainersNotReady' }), cond('ContainersReady', 'False'), cond('PodScheduled', 'True')],
      containerStatuses: [{
        name: 'redis', image: 'localhost/redis-ha/redis:7.0.99', ready: false, started: false, restartCount: 0,
        state: { waiting: { reason: 'ErrImageNeverPull', message: 'Container image "localhost/redis-ha/redis:7.0.99" is not present with pull policy of Never' } },
      }],
    },
  };
}

function withContainer(name: string, container: NonNullable<NonNullable<PodObject['status']>['containerStatuses']>[number], readyAt = START): PodObject {
  return { metadata: { name }, status: { phase: 'Running', startTime: START, conditions: [cond('Ready', 'False', readyAt), cond('PodScheduled', 'True')], containerStatuses: [container] } };
}

describe('neverReady: a pod that never became Ready holds no data', () => {
  test('an image that cannot be pulled: the container never ran', () => {
    assert.equal(neverReady(neverPull('shop-redis-0')), true);
  });

  test('an unschedulable pod', () => {
    assert.equal(neverReady({ metadata: { name: 'shop-redis-2' }, status: { phase: 'Pending', conditions: [cond('PodScheduled', 'False', START, { reason: 'Unschedulable' })] } }), true);
  });

  test('a crash loop that never passed readiness: its Ready condition has not moved since the start', () => {
    const crash = withContainer('shop-redis-1', { name: 'redis', restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1m20s restarting failed container=redis' } }, lastState: { terminated: { reason: 'Error', exitCode: 1 } } }, '2026-12-02T06:21:26Z');
    assert.equal(neverReady(crash), true);
  });

  test('a pod that was Ready and is no longer (its Ready condition moved later) may hold data', () => {
    const was = withContainer('shop-redis-0', { name: 'redis', restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }, '2026-12-02T06:40:00Z');
    assert.equal(neverReady(was), false);
    assert.equal(neverReady({ ...was, status: { ...was.status, conditions: [cond('Ready', 'True')] } }), false);
    assert.equal(neverReady({ ...was, status: { ...was.status, startTime: undefined } }), false, 'no start time: not provably never ready');
  });
});

describe('podTrouble: the cause, in the kubelet\'s words', () => {
  test('ErrImageNeverPull, with the image', () => {
    assert.deepEqual(podTrouble(neverPull('shop-redis-0')), {
      pod: 'shop-redis-0', class: 'image', reason: 'ErrImageNeverPull', container: 'redis', image: 'localhost/redis-ha/redis:7.0.99',
      message: 'Container image "localhost/redis-ha/redis:7.0.99" is not present with pull policy of Never',
    });
  });

  test('a crash loop names the last exit', () => {
    const crash = withContainer('shop-redis-1', { name: 'redis', image: 'localhost/redis-ha/redis:7.0.15', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=redis pod=shop-redis-1_ns(uid)' } }, lastState: { terminated: { reason: 'Error', exitCode: 1 } } });
    assert.deepEqual(podTrouble(crash), { pod: 'shop-redis-1', class: 'crash', reason: 'CrashLoopBackOff', message: 'the last run of container redis ended with Error (exit code 1), 3 restart(s)', container: 'redis', image: 'localhost/redis-ha/redis:7.0.15' });
  });

  test('an unschedulable pod names the scheduler\'s message', () => {
    const t = podTrouble({ metadata: { name: 'shop-redis-2' }, status: { phase: 'Pending', conditions: [cond('PodScheduled', 'False', START, { reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.\npreemption: 0/1 nodes are available.' })] } });
    assert.deepEqual(t, { pod: 'shop-redis-2', class: 'unschedulable', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available' });
    assert.equal(troubleSentence({ first: t!, pods: ['shop-redis-2'] }, 'ns'), 'pod shop-redis-2 cannot be scheduled: Unschedulable: 0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available; fix: lower spec.resources requests, relax the affinity, or add node capacity; pods that never became ready are then replaced at once');
  });

  test('progress is no trouble: ContainerCreating, a running pod, a Ready pod, a terminating pod', () => {
    assert.equal(podTrouble(withContainer('a', { name: 'redis', state: { waiting: { reason: 'ContainerCreating' } } })), undefined);
    assert.equal(podTrouble(withContainer('b', { name: 'redis', state: { running: {} } })), undefined);
    assert.equal(podTrouble({ ...neverPull('c'), status: { ...neverPull('c').status, conditions: [cond('Ready', 'True')] } }), undefined);
    assert.equal(podTrouble({ ...neverPull('d'), metadata: { name: 'd', deletionTimestamp: START } }), undefined);
  });

  test('ErrImagePull and ImagePullBackOff of one image are one cause', () => {
    const backoff = withContainer('x', { name: 'redis', image: 'r:1', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "r:1"' } } });
    const err = withContainer('y', { name: 'sentinel', image: 'r:1', state: { waiting: { reason: 'ErrImagePull', message: 'failed to pull and unpack image "r:1"' } } });
    assert.equal(troubleKey(podTrouble(backoff)!), troubleKey(podTrouble(err)!));
  });
});

describe('troubleSentence: one line a person can act on', () => {
  test('six pods of one broken image: the pods, the reason, the message with the image, the fix', () => {
    const pods = ['shop-redis-0', 'shop-redis-1', 'shop-redis-2', 'shop-sentinel-0', 'shop-sentinel-1', 'shop-sentinel-2'];
    const groups = groupTroubles(pods.map((p) => podTrouble(neverPull(p))!));
    assert.equal(groups.length, 1);
    assert.equal(troubleSentence(groups[0]!, 'ns'),
      'pods shop-redis-0, shop-redis-1, shop-redis-2 and 3 more cannot start: ErrImageNeverPull: Container image "localhost/redis-ha/redis:7.0.99" is not present with pull policy of Never; ' +
      'fix: set spec.image (repository, tag) to an image the node can pull (pullPolicy Never: it must already be on the node); pods that never became ready are then replaced at once');
  });

  test('OOMKilled: the fix is the memory limit (as seen on the test bed with a 5Mi limit)', () => {
    const oom = (name: string) => withContainer(name, { name: 'redis', restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } });
    assert.equal(troubleSentence(groupTroubles([podTrouble(oom('shop-redis-0'))!, podTrouble(oom('shop-redis-1'))!])[0]!, 'ns'),
      'pods shop-redis-0, shop-redis-1 keep crashing: CrashLoopBackOff: the last run of container redis ended with OOMKilled (exit code 137), 1 restart(s); fix: raise spec.resources.redis.limits.memory; pods that never became ready are then replaced at once');
  });

  test('one crash-looping pod', () => {
    const crash = withContainer('shop-redis-1', { name: 'redis', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { reason: 'Error', exitCode: 1 } } });
    assert.equal(troubleSentence(groupTroubles([podTrouble(crash)!])[0]!, 'ns'),
      "pod shop-redis-1 keeps crashing: CrashLoopBackOff: the last run of container redis ended with Error (exit code 1), 3 restart(s); fix: see 'kubectl logs -n ns shop-redis-1 -c redis --previous', then correct the spec; pods that never became ready are then replaced at once");
  });
});

describe('redisNotRunning / goneNodes: the facts the crash rule reads', () => {
  const running = (name: string): PodObject => withContainer(name, { name: 'redis', ready: true, restartCount: 0, state: { running: { startedAt: START } } });
  test('a running redis container, even with another container waiting, is not gone', () => {
    const p = running('shop-redis-0');
    p.status!.containerStatuses!.push({ name: 'exporter', state: { waiting: { reason: 'CrashLoopBackOff' } } });
    assert.equal(redisNotRunning('shop-redis-0', p), undefined);
  });
  test('a deleted pod, a pod being deleted, a terminated, waiting or unstarted redis container are gone, each saying why', () => {
    assert.equal(redisNotRunning('shop-redis-0', undefined), 'pod shop-redis-0 is deleted');
    const deleting = running('shop-redis-0');
    deleting.metadata.deletionTimestamp = START;
    assert.equal(redisNotRunning('shop-redis-0', deleting), 'pod shop-redis-0 is being deleted');
    const ended = withContainer('shop-redis-0', { name: 'redis', state: { terminated: { reason: 'Error', exitCode: 137 } } });
    assert.equal(redisNotRunning('shop-redis-0', ended), 'the redis container of pod shop-redis-0 terminated (Error, exit code 137)');
    assert.equal(redisNotRunning('shop-redis-0', neverPull('shop-redis-0')), 'the redis container of pod shop-redis-0 is waiting (ErrImageNeverPull)');
    const pending: PodObject = { metadata: { name: 'shop-redis-0' }, status: { phase: 'Pending', conditions: [cond('PodScheduled', 'False', START, { reason: 'Unschedulable' })] } };
    assert.equal(redisNotRunning('shop-redis-0', pending), 'the redis container of pod shop-redis-0 has not started (pod Pending)');
  });
  test('goneNodes: one fact per node not running, none when the annotation turns the rule off', () => {
    const pods = [running('shop-redis-1'), neverPull('shop-redis-2')];
    assert.deepEqual([...goneNodes(['shop-redis-0', 'shop-redis-1', 'shop-redis-2'], pods, {})], [
      ['shop-redis-0', 'pod shop-redis-0 is deleted'],
      ['shop-redis-2', 'the redis container of pod shop-redis-2 is waiting (ErrImageNeverPull)'],
    ]);
    assert.equal(goneNodes(['shop-redis-0', 'shop-redis-2'], pods, { [CRASH_FAILOVER_ANNOTATION]: 'off' }).size, 0);
    assert.equal(goneNodes(['shop-redis-0'], pods, { [CRASH_FAILOVER_ANNOTATION]: 'on' }).size, 1);
  });
});
