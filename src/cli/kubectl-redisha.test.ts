import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listTable, passwordKeyOfResource } from './kubectl-redisha.ts';
import { pendingSwitchover, SWITCHOVER_ANNOTATION } from '../kubernetes/switchover-request.ts';
import { classSelector } from '../kubernetes/operator.ts';
import type { RedisHAResource } from '../kubernetes/reconcile.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/kubectl-redisha.js');
const cr = (name: string, spec: Record<string, unknown> = {}, status?: RedisHAResource['status']) => ({ apiVersion: 'redis-ha.io/v1alpha1', kind: 'RedisHA', metadata: { name, namespace: 'ns' }, spec, status }) as unknown as RedisHAResource;

test('a switchover request is pending until its token is answered; malformed ones are ignored', () => {
  assert.deepEqual(pendingSwitchover({ [SWITCHOVER_ANNOTATION]: 'abc' }, undefined), { token: 'abc' });
  assert.deepEqual(pendingSwitchover({ [SWITCHOVER_ANNOTATION]: 'abc shop-redis-1' }, 'old'), { token: 'abc', to: 'shop-redis-1' });
  assert.equal(pendingSwitchover({ [SWITCHOVER_ANNOTATION]: 'abc' }, 'abc'), undefined);
  assert.equal(pendingSwitchover({ [SWITCHOVER_ANNOTATION]: 'a b c' }, undefined), undefined);
  assert.equal(pendingSwitchover({ [SWITCHOVER_ANNOTATION]: '$(x)' }, undefined), undefined);
  assert.equal(pendingSwitchover(undefined, undefined), undefined);
});

test('the operator class selects labelled resources; the default operator only unlabelled ones', () => {
  assert.equal(classSelector(undefined), '!redis-ha.io/operator');
  assert.equal(classSelector('team-a'), 'redis-ha.io/operator=team-a');
});

test('the password is read from the key the operator writes, the Bitnami key, or the existing Secret\'s', () => {
  assert.deepEqual(passwordKeyOfResource(cr('shop'), false), { secret: 'shop-auth', key: 'password' });
  assert.deepEqual(passwordKeyOfResource(cr('shop'), true), { secret: 'shop-auth', key: 'sentinel-password' });
  assert.deepEqual(passwordKeyOfResource(cr('shop', { naming: 'bitnami' }), false).key, 'redis-password');
  assert.deepEqual(passwordKeyOfResource(cr('shop', { auth: { existingSecret: 'mine', existingSecretPasswordKey: 'pw' } }), false), { secret: 'mine', key: 'pw' });
});

test('status lists resources as a table', () => {
  const out = listTable([cr('shop', {}, { healthy: true, masterPod: 'shop-redis-0', readyReplicas: 2, sentinelsAgreeing: 3, conditions: [{ type: 'Ready', status: 'True' }] as never })]);
  assert.match(out.split('\n')[0]!, /^NAME\s+READY\s+HEALTHY\s+MASTER\s+REPLICAS\s+SENTINELS\s+PROBLEMS$/);
  assert.match(out.split('\n')[1]!, /^shop\s+True\s+yes\s+shop-redis-0\s+2\s+3\s+-$/);
});

test('bad input: one line on stderr, exit 2, no cluster needed', async () => {
  for (const args of [['nope'], ['status', 'Not_A_Name'], ['cli', 'shop', 'GET', 'k'], ['failover', 'shop', '--timeout', 'x']]) {
    const r = await run(process.execPath, [BIN, ...args], { env: { ...process.env, KUBECONFIG: '/nonexistent' } }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^kubectl-redisha: /);
  }
});

test('no cluster configured: one line, exit 1', async () => {
  const r = await run(process.execPath, [BIN, 'status', 'shop', '--kubeconfig', '/nonexistent/kubeconfig']).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^kubectl-redisha: cannot read the kubeconfig/);
});
