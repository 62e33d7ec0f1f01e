import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failoverObjection, fenceOvertaken, keepAdmitted, majorityOf, masterAgreedAtNewestEpoch, namedByMajority, neededForFailover, type SentinelAnswer } from './agreement.ts';

const A = { host: '10.0.0.1', port: 6379 };
const B = { host: '10.0.0.2', port: 6379 };
const says = (sentinel: string, master: typeof A, epoch: number): SentinelAnswer => ({ sentinel, master, epoch, failingOver: false });
/** The Sentinel leading a failover: already at the new epoch, still naming the old master. */
const leading = (sentinel: string, master: typeof A, epoch: number): SentinelAnswer => ({ sentinel, master, epoch, failingOver: true });
const down = (sentinel: string): SentinelAnswer => ({ sentinel, error: 'connect ECONNREFUSED' });

test('all Sentinels agree: that master', () => {
  assert.deepEqual(masterAgreedAtNewestEpoch([says('s0', A, 1), says('s1', A, 1), says('s2', A, 1)], 3), { master: A, epoch: 1 });
});

test('a majority is enough; the Sentinel that is down is not needed', () => {
  assert.deepEqual(masterAgreedAtNewestEpoch([says('s0', A, 1), down('s1'), says('s2', A, 1)], 3), { master: A, epoch: 1 });
});

test('one Sentinel reachable of three: no master, and the reason names the missing ones', () => {
  const r = masterAgreedAtNewestEpoch([says('s0', A, 1), down('s1'), down('s2')], 3);
  assert.ok('reason' in r);
  assert.match(r.reason, /^only 1 of 3 Sentinels answered and 2 must agree \(s1: connect ECONNREFUSED; s2: connect ECONNREFUSED\)$/);
});

test('before promotion the leader does not vote, the others still name the old master: the old master', () => {
  assert.deepEqual(masterAgreedAtNewestEpoch([leading('s0', A, 1), says('s1', A, 1), says('s2', A, 1)], 3), { master: A, epoch: 1 });
});

test('after promotion the leader is at the new epoch with the old address: nobody is admitted until the others follow', () => {
  const r = masterAgreedAtNewestEpoch([leading('s0', A, 2), says('s1', A, 1), says('s2', A, 1)], 3);
  assert.deepEqual(r, { reason: 'failover in progress: no Sentinel names the master of config epoch 2 yet' });
});

test('one follower switched: 1 of 3 is not a majority', () => {
  const r = masterAgreedAtNewestEpoch([leading('s0', A, 2), says('s1', B, 2), says('s2', A, 1)], 3);
  assert.deepEqual(r, { reason: 'failover in progress: 1 of 3 Sentinels name 10.0.0.2:6379 (epoch 2), 2 must agree' });
});

test('both followers switched while the leader still reconfigures replicas: the new master, without waiting for the leader', () => {
  assert.deepEqual(masterAgreedAtNewestEpoch([leading('s0', A, 2), says('s1', B, 2), says('s2', B, 2)], 3), { master: B, epoch: 2 });
});

test('a Sentinel that switched first is ahead; the old master is not used meanwhile', () => {
  const r = masterAgreedAtNewestEpoch([says('s0', B, 2), says('s1', A, 1), says('s2', A, 1)], 3);
  assert.deepEqual(r, { reason: 'failover in progress: 1 of 3 Sentinels name 10.0.0.2:6379 (epoch 2), 2 must agree' });
});

test('two masters under the same epoch (should never happen): refuse rather than guess', () => {
  const r = masterAgreedAtNewestEpoch([says('s0', A, 3), says('s1', B, 3), says('s2', A, 3)], 3);
  assert.ok('reason' in r);
  assert.match(r.reason, /name different masters/);
});

test('the majority counts every configured Sentinel, not just those that answered', () => {
  // Five configured, two answer and agree: two is not a majority of five.
  const r = masterAgreedAtNewestEpoch([says('s0', A, 1), says('s1', A, 1), down('s2'), down('s3'), down('s4')], 5);
  assert.ok('reason' in r);
  assert.match(r.reason, /only 2 of 5 Sentinels answered and 3 must agree/);
});

test('majorityOf: a strict majority of the configured Sentinels', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(majorityOf), [1, 2, 2, 3, 3, 4, 4]);
});

test('neededForFailover: the quorum or a majority, whichever is larger', () => {
  assert.equal(neededForFailover(2, 3), 2);
  assert.equal(neededForFailover(3, 3), 3);
  assert.equal(neededForFailover(1, 5), 3);
});

test('namedByMajority: counts against the configured number, not those that answered', () => {
  assert.deepEqual(namedByMajority([A, A, undefined], 3), A);
  assert.equal(namedByMajority([A, undefined, null], 3), undefined, 'one vote of three');
  assert.equal(namedByMajority([A, A], 5), undefined, 'two of five');
  assert.deepEqual(namedByMajority([B, A, A, B, B], 5), B);
  assert.equal(namedByMajority([A, B], 2), undefined);
});

test('fenceOvertaken: a fence is dropped while a promotion may be under way or after it, not for a stale or slower Sentinel', () => {
  const A = 'a:6379';
  const B = 'b:6379';
  const v = (i: number, named: string, epoch: number, failoverState = 'none') => ({ sentinel: `s${i}:26379`, named, epoch, failoverState });
  // The leader in reconf_slaves names the promoted B (GET-MASTER-ADDR-BY-NAME) at the new epoch; one
  // other has followed, one lags: a plan made before the promotion must not fence B back to A.
  assert.equal(fenceOvertaken([v(0, B, 6, 'reconf_slaves'), v(1, B, 6), v(2, A, 5)], B, A), 'Sentinel s0:26379 now names b:6379 as master under a newer config epoch');
  // Before reconf_slaves the others cannot know which replica it promotes.
  assert.equal(fenceOvertaken([v(0, A, 5, 'wait_promotion'), v(1, A, 5), v(2, A, 5)], B, A), 'Sentinel s0:26379 is failing over (wait_promotion)');
  // The switchover's fence of the old master A to B once the majority names B: a slower Sentinel still naming A is no reason.
  assert.equal(fenceOvertaken([v(0, B, 6, 'update_config'), v(1, B, 6), v(2, A, 5)], A, B), undefined);
  // A stale Sentinel (re-monitored, epoch 0) naming the stray B: fence it.
  assert.equal(fenceOvertaken([v(0, A, 5), v(1, A, 5), v(2, B, 0)], B, A), undefined);
  assert.equal(fenceOvertaken([], B, A), undefined, 'no Sentinel answers: nothing says the plan is stale');
});

test('keepAdmitted: too few Sentinels answer; the admitted master stays only while none that answers contradicts it', () => {
  const A = { host: 'a', port: 6379 };
  const B = { host: 'b', port: 6379 };
  const says = (s: string, master: typeof A, epoch: number, failingOver = false) => ({ sentinel: s, master, epoch, failingOver });
  const dns = (s: string) => ({ sentinel: s, error: `getaddrinfo EAI_AGAIN ${s}` });
  const admitted = { master: A, epoch: 2 };
  assert.equal(keepAdmitted([says('s0', A, 2), dns('s1'), dns('s2')], 3, admitted), true, 'a DNS blip');
  assert.equal(keepAdmitted([dns('s0'), dns('s1'), dns('s2')], 3, admitted), true, 'none answers: nothing contradicts it');
  assert.equal(keepAdmitted([says('s0', B, 3), dns('s1'), dns('s2')], 3, admitted), false, 'one names another master');
  assert.equal(keepAdmitted([says('s0', A, 3), dns('s1'), dns('s2')], 3, admitted), false, 'a newer epoch');
  assert.equal(keepAdmitted([says('s0', A, 2, true), dns('s1'), dns('s2')], 3, admitted), false, 'one is failing over');
  assert.equal(keepAdmitted([says('s0', A, 2), dns('s1'), dns('s2')], 3, undefined), false, 'nothing admitted (closed by a switch)');
  assert.equal(keepAdmitted([says('s0', A, 2), says('s1', A, 2), dns('s2')], 3, admitted), false, 'a majority answered: the agreement rule decides');
});

// The shared cases (the pods' sh against this) are in src/kubernetes/render/start-rule.test.ts; the pods
// never pass afterAbort, so its cases are here.
test('failoverObjection after an aborted failover: no wait on Sentinel\'s own (it just gave up), but still none asked of a Sentinel in TILT', () => {
  const me = '10.0.0.1:6379';
  const view = (sentinel: string, flags: string, more: { sDownMs?: number; tilt?: boolean } = {}) => ({ sentinel, master: me, epoch: 3, flags: new Set(flags.split(',')), ...more });
  const fresh = [view('s0', 'master,s_down', { sDownMs: 800 }), view('s1', 'master,s_down,o_down', { sDownMs: 9000 })];
  assert.equal(failoverObjection(fresh, me), 'Sentinel s0 has seen 10.0.0.1:6379 subjectively down for 800 ms; its own failover follows if a quorum agrees');
  assert.equal(failoverObjection(fresh, me, true), undefined);
  assert.equal(failoverObjection([...fresh, view('s2', 'master', { tilt: true })], me, true), 'Sentinel s2 is in TILT mode');
});
