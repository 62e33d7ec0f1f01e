import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { masterForBootstrap, masterForReseededSentinel, replicaOfForRestart } from './restart.ts';
import { clusterWithMasterAndTwoReplicas, node, nodeAddress, observation, replica, sentinel } from './plan-fixtures.ts';

// The rule itself is src/topology/start.ts (start.test.ts and the pods' sh in start-rule.test.ts); these
// hold the local runtime's reading of the controller's observation to it.
describe('replicaOfForRestart: the role of a node the supervisor restarts (the start rule)', () => {
  it('follows the master a Sentinel majority names', () => {
    assert.deepEqual(replicaOfForRestart(clusterWithMasterAndTwoReplicas(), nodeAddress(1)), nodeAddress(0));
  });

  it('the Sentinels still name the restarted node: it comes back fenced, a replica of itself', () => {
    const obs = observation(
      [node(0, { role: 'replica', keys: 0, offset: 0 }), replica(1, 0, { keys: 0, offset: 5000 }), replica(2, 0, { keys: 100, offset: 900 })],
      [0, 1, 2].map((i) => sentinel(i, 0)),
    );
    assert.deepEqual(replicaOfForRestart(obs, nodeAddress(0)), nodeAddress(0));
  });

  it('no Sentinel answers: the other node with the most data, a node with keys before a master that has none', () => {
    const obs = observation(
      [node(0, { role: 'replica', keys: 0 }), node(1, { keys: 0, offset: 5000 }), replica(2, 1, { keys: 100, offset: 900 })],
      [sentinel(0, 0, { reachable: false })],
    );
    assert.deepEqual(replicaOfForRestart(obs, nodeAddress(0)), nodeAddress(2));
  });

  it('a lone Sentinel names the restarted node and its replicas with data follow it: fenced, no replication loop', () => {
    const obs = observation(
      [node(0, { role: 'replica', keys: 0 }), replica(1, 0), replica(2, 0)],
      [sentinel(0, 0), sentinel(1, 0, { reachable: false }), sentinel(2, 0, { reachable: false })],
    );
    assert.deepEqual(replicaOfForRestart(obs, nodeAddress(0)), nodeAddress(0));
    // And with no Sentinel at all: never master while they hold data.
    assert.deepEqual(replicaOfForRestart({ ...obs, sentinels: [] }, nodeAddress(0)), nodeAddress(0));
  });

  it('no Sentinel agreement: a node reporting master before a replica with more offset', () => {
    const obs = observation([node(0, { reachable: false }), node(1, { offset: 100 }), replica(2, 1, { offset: 200 })], [sentinel(0, 0, { reachable: false })]);
    assert.deepEqual(replicaOfForRestart(obs, nodeAddress(0)), nodeAddress(1));
  });

  it('another node still loading (its role unknown): it follows that one, never starts as master', () => {
    const obs = observation([node(0, { role: 'replica', keys: 0 }), node(1, { role: 'unknown' })], []);
    assert.deepEqual(replicaOfForRestart(obs, nodeAddress(0)), nodeAddress(1));
  });

  it('no other node answers: the first node comes back fenced (the other may hold data), any other follows the first', () => {
    const obs = observation([node(0, { role: 'replica', keys: 0 }), node(1, { reachable: false })], []);
    assert.deepEqual(replicaOfForRestart(obs, nodeAddress(0)), nodeAddress(0));
    const second = observation([node(0, { reachable: false }), node(1, { role: 'replica', keys: 0 })], []);
    assert.deepEqual(replicaOfForRestart(second, nodeAddress(1)), nodeAddress(0));
  });

  it('every other node answers and none holds data: the first node starts as master', () => {
    const obs = observation([node(0, { role: 'replica', keys: 0 }), node(1, { role: 'replica', keys: 0 })], []);
    assert.equal(replicaOfForRestart(obs, nodeAddress(0)), undefined);
  });
});

describe('masterForReseededSentinel: what a Sentinel that lost its config monitors', () => {
  it('the master a Sentinel majority names', () => {
    assert.deepEqual(masterForReseededSentinel(clusterWithMasterAndTwoReplicas()), nodeAddress(0));
  });

  it('no agreement: the node with the data, never the first node by default', () => {
    // Only one Sentinel answers (no majority); node-0 restarted empty, node-2 holds the data.
    const obs = observation(
      [node(0, { keys: 0, offset: 0 }), replica(1, 2, { keys: 0, offset: 0, linkUp: false }), node(2, { keys: 100 })],
      [sentinel(0, 0), sentinel(1, 0, { reachable: false }), sentinel(2, 0, { reachable: false })],
    );
    assert.deepEqual(masterForReseededSentinel(obs), nodeAddress(2));
  });

  it('no node answers: the first node', () => {
    assert.deepEqual(masterForReseededSentinel(observation([node(0, { reachable: false })], [])), nodeAddress(0));
  });
});

describe('masterForBootstrap: the master a stopped deployment starts from', () => {
  const nodes = [0, 1, 2].map(nodeAddress);
  it('the master remembered from the last run, when it is one of the nodes', () => {
    assert.deepEqual(masterForBootstrap({ master: nodeAddress(2), epoch: 3 }, nodes), nodeAddress(2));
  });
  it('with persistence on, the remembered master only if it has anything on disk, else the node with the most', () => {
    const bytes = new Map([['node-0', 120], ['node-1', 0], ['node-2', 90_000]]);
    const persisted = (n: { host: string }) => bytes.get(n.host) ?? 0;
    assert.deepEqual(masterForBootstrap({ master: nodeAddress(0), epoch: 3 }, nodes, persisted), nodeAddress(0), 'its files are there');
    assert.deepEqual(masterForBootstrap({ master: nodeAddress(1), epoch: 3 }, nodes, persisted), nodeAddress(2), 'its files are gone');
    assert.deepEqual(masterForBootstrap({ master: nodeAddress(1), epoch: 3 }, nodes, () => 0), nodeAddress(1), 'nothing on disk anywhere');
  });
  it('the first node on a first start, or when the remembered master is no node of ours (a migration\'s outside master)', () => {
    assert.deepEqual(masterForBootstrap({ epoch: 0 }, nodes), nodeAddress(0));
    assert.deepEqual(masterForBootstrap({ master: { host: '10.0.0.7', port: 6379 }, epoch: 3 }, nodes), nodeAddress(0));
  });
});
