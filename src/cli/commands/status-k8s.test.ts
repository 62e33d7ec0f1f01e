import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { notReadyLine } from './status-k8s.ts';

const ready = (status: 'True' | 'False', reason: string, message: string) => ({ type: 'Ready' as const, status, reason, message, lastTransitionTime: '2026-01-01T00:00:00Z' });

describe('status --k8s: why a resource is not Ready, in one line', () => {
  test('the Ready condition\'s reason and message, as the operator wrote them', () => {
    const message = 'pod shop-redis-2 cannot start: ErrImageNeverPull: Container image "r:9" is not present with pull policy of Never; fix: set spec.image (repository, tag) to an image the node can pull';
    assert.equal(notReadyLine({ healthy: false, problems: [message], conditions: [ready('False', 'ErrImageNeverPull', message)] }), `Not Ready (ErrImageNeverPull): ${message}`);
  });
  test('nothing when healthy; the first problem when no condition was written yet', () => {
    assert.equal(notReadyLine({ healthy: true, problems: [], conditions: [ready('True', 'Healthy', 'master shop-redis-0')] }), '');
    assert.equal(notReadyLine({ healthy: false, problems: ['the operator has not written a status yet: is it running?'], conditions: [] }), 'Not Ready: the operator has not written a status yet: is it running?');
  });
});
