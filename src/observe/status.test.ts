import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusOf, type StatusScope } from './status.ts';
import { node, observation, replica, sentinel } from '../topology/plan-fixtures.ts';
import type { SentinelObservation } from '../topology/observation.ts';

const scope: StatusScope = {
  name: 'shop', masterName: 'mymaster', quorum: 2,
  nodes: [0, 1, 2].map((i) => ({ id: `node-${i}`, host: `node-${i}`, port: 6379 })),
  sentinels: [0, 1, 2].map((i) => ({ id: `sentinel-${i}`, host: `sentinel-${i}`, port: 26379 })),
};

/** A Sentinel that sees both replicas and both other Sentinels, its quorum checked. */
const seeing = (i: number, of: number, over: Partial<SentinelObservation> = {}) =>
  sentinel(i, of, { masterFlags: ['master'], replicasSeen: 2, otherSentinelsSeen: 2, ckquorum: { ok: true, message: 'OK 3 usable Sentinels' }, ...over });

describe('statusOf: the status is a pure derivation of one observation', () => {
  it('healthy: the agreed master, each replica following it with its lag, each Sentinel as it answered', () => {
    const obs = observation([node(0), replica(1, 0, { offset: 960 }), replica(2, 0)], [0, 1, 2].map((i) => seeing(i, 0)));
    const s = statusOf(scope, obs);
    assert.deepEqual(s.problems, []);
    assert.equal(s.healthy, true);
    assert.deepEqual(s.master, { host: 'node-0', port: 6379 });
    assert.deepEqual(s.nodes.map((n) => [n.id, n.role, n.following, n.lagBytes]), [['node-0', 'master', undefined, undefined], ['node-1', 'replica', 'node-0:6379', 40], ['node-2', 'replica', 'node-0:6379', 0]]);
    assert.deepEqual(s.sentinels[0], {
      id: 'sentinel-0', host: 'sentinel-0', port: 26379, reachable: true, master: { host: 'node-0', port: 6379 }, masterFlags: ['master'], replicasSeen: 2,
      otherSentinelsSeen: 2, quorumOk: true, quorumMessage: 'OK 3 usable Sentinels', failoverInProgress: false, configEpoch: 1, tilt: false, error: undefined,
    });
  });

  it('each node names what it runs, from INFO server: Valkey by its own version, Redis by redis_version', () => {
    const obs = observation([node(0, { figures: { redisVersion: '7.2.4', valkeyVersion: '9.1.2' } }), replica(1, 0, { figures: { redisVersion: '7.0.15' } }), replica(2, 0)], [0, 1, 2].map((i) => seeing(i, 0)));
    assert.deepEqual(statusOf(scope, obs).nodes.map((n) => n.server), ['valkey 9.1.2', 'redis 7.0.15', undefined]);
  });

  it('a node still loading shows the role it reports, which the planner does not trust yet', () => {
    const obs = observation([node(0, { role: 'unknown', loadingAs: 'master' }), replica(1, 0, { role: 'unknown', loadingAs: 'replica' }), replica(2, 0)], [0, 1, 2].map((i) => seeing(i, 0)));
    const s = statusOf(scope, obs);
    assert.deepEqual(s.nodes.map((n) => n.role), ['master', 'replica', 'replica']);
    assert.equal(s.healthy, true);
  });

  it('every problem is said in its own sentence', () => {
    const obs = observation(
      [node(0), node(1, { reachable: false, role: 'unknown', error: 'connect ECONNREFUSED node-1:6379' }), replica(2, 0, { linkUp: false })],
      [seeing(0, 0, { tilt: true, replicasSeen: 1, replicasUnseen: ['node-2:6379 (slave,s_down,disconnected)'] }), seeing(1, 0, { ckquorum: { ok: false, message: 'NOQUORUM 1 usable Sentinels' } }),
        sentinel(2, 0, { reachable: false, monitoring: false, master: undefined, configEpoch: 0, error: 'connect ECONNREFUSED sentinel-2:26379' })],
    );
    const s = statusOf(scope, obs);
    assert.deepEqual(s.problems, [
      'node-1 (node-1:6379) is unreachable: connect ECONNREFUSED node-1:6379',
      'node-2 replication link to node-0:6379 is down',
      'sentinel-0 (sentinel-0:26379) sees 1 of 2 replicas; it lists node-2:6379 (slave,s_down,disconnected)',
      'sentinel-0 (sentinel-0:26379) is in TILT mode',
      'sentinel-1 (sentinel-1:26379) CKQUORUM: NOQUORUM 1 usable Sentinels',
      'sentinel-2 (sentinel-2:26379) is unreachable: connect ECONNREFUSED sentinel-2:26379',
    ]);
    assert.deepEqual(s.nodes[1], { id: 'node-1', host: 'node-1', port: 6379, role: 'down', reachable: false, error: 'connect ECONNREFUSED node-1:6379' });
    assert.equal(s.sentinels[2].quorumMessage, 'unreachable');
  });

  it('no majority: no master, and no lag is computed', () => {
    const obs = observation([node(0), node(1), replica(2, 0)], [seeing(0, 0), seeing(1, 1), sentinel(2, 0, { monitoring: false, master: undefined })]);
    const s = statusOf(scope, obs);
    assert.equal(s.master, null);
    assert.equal(s.nodes[2].lagBytes, undefined);
    assert.deepEqual(s.problems.slice(0, 1), ['no master is named by a majority of the 3 Sentinels']);
    assert.equal(s.sentinels[2].quorumMessage, 'not monitoring this master');
    assert.ok(s.problems.includes('sentinel-2 (sentinel-2:26379) does not monitor mymaster'));
  });
});
