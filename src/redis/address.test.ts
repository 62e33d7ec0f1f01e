import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey, addressOf, parseAddress, sameAddress } from './address.ts';

test('addressKey and parseAddress are inverses', () => {
  for (const a of [{ host: '127.0.0.1', port: 6379 }, { host: 'shop-redis-0.shop-headless.apps.svc', port: 26379 }, { host: '::1', port: 1 }]) {
    assert.deepEqual(parseAddress(addressKey(a)), a);
  }
});

test('parseAddress refuses what is not host:port', () => {
  for (const text of [undefined, '', 'host', ':6379', 'host:', 'host:0', 'host:65536', 'host:12a', 'host:123456']) {
    assert.equal(parseAddress(text), undefined, String(text));
  }
});

test('sameAddress needs both, and compares host and port only', () => {
  assert.equal(sameAddress({ host: 'a', port: 1 }, { host: 'a', port: 1 }), true);
  assert.equal(sameAddress({ host: 'a', port: 1 }, { host: 'a', port: 2 }), false);
  assert.equal(sameAddress(undefined, undefined), false);
  assert.equal(sameAddress(null, { host: 'a', port: 1 }), false);
});

test('addressOf drops every other field', () => {
  assert.deepEqual(addressOf({ id: 'redis-0', host: 'a', port: 1 } as { host: string; port: number }), { host: 'a', port: 1 });
});
