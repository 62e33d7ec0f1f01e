import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageChangeRefusal, parseServerName, replicationGap, serverName, type ServerVersion } from './images.ts';

const redis = (version: string): ServerVersion => ({ flavor: 'redis', version });
const valkey = (version: string): ServerVersion => ({ flavor: 'valkey', version });

test('replicationGap: Redis 7.0 to Valkey 9 carries (RDB 10); Valkey 9 to Redis 7.0 does not (it sends RDB 11, as measured)', () => {
  assert.equal(replicationGap(redis('7.0.15'), valkey('9.1.2')), undefined);
  assert.equal(replicationGap(valkey('9.1.2'), redis('7.0.15')), 'a redis 7.0.15 replica cannot load the RDB format 11 a valkey 9.1.2 master sends');
  assert.equal(replicationGap(valkey('9.1.2'), redis('7.2.11')), undefined, 'Redis 7.2 loads RDB 11');
  assert.equal(replicationGap(valkey('8.1.4'), redis('7.0.15')), 'a redis 7.0.15 replica cannot load the RDB format 11 a valkey 8.1.4 master sends');
});

test('replicationGap: Redis 7.4 and newer write RDB 12, which no Valkey loads', () => {
  assert.equal(replicationGap(redis('7.4.6'), valkey('9.1.2')), 'a valkey 9.1.2 replica cannot load the RDB format 12 a redis 7.4.6 master sends');
  assert.equal(replicationGap(redis('8.2.3'), valkey('8.1.4')), 'a valkey 8.1.4 replica cannot load the RDB format 12 a redis 8.2.3 master sends');
  assert.equal(replicationGap(redis('7.2.11'), valkey('8.1.4')), undefined);
});

test('replicationGap: within a flavour, a replica may not be older than its master in major.minor', () => {
  assert.equal(replicationGap(valkey('9.1.2'), valkey('9.0.0')), 'a valkey 9.0.0 replica cannot load what a newer valkey 9.1.2 master sends');
  assert.equal(replicationGap(valkey('9.1.2'), valkey('9.1.0')), undefined);
  assert.equal(replicationGap(redis('7.0.15'), redis('8.2.3')), undefined);
  assert.equal(replicationGap(redis('8.2.3'), redis('7.4.6')), 'a redis 7.4.6 replica cannot load what a newer redis 8.2.3 master sends');
});

test('imageChangeRefusal: Redis 7.0.15 to Valkey 9.1.2 goes ahead', () => {
  const running = [{ pod: 'shop-redis-0', server: redis('7.0.15') }, { pod: 'shop-redis-1', server: redis('7.0.15') }];
  assert.equal(imageChangeRefusal(running, valkey('9.1.2')), undefined);
});

test('imageChangeRefusal: back from Valkey 9.1.2 to Redis 7.0.15 is refused in one line with the versions, the pods and the fix', () => {
  const running = [{ pod: 'shop-redis-0', server: valkey('9.1.2') }, { pod: 'shop-redis-1', server: valkey('9.1.2') }];
  assert.equal(
    imageChangeRefusal(running, redis('7.0.15')),
    'image: cannot move from valkey 9.1.2 (running on shop-redis-0, shop-redis-1) to redis 7.0.15: a redis 7.0.15 replica cannot load the RDB format 11 a valkey 9.1.2 master sends, and each new pod starts as a replica of the running master; keep valkey 9.1.2, or use redis 7.2 or newer',
  );
});

test('imageChangeRefusal: in the middle of a roll every running server counts, since any of them may be the master', () => {
  const running = [{ pod: 'shop-redis-0', server: redis('7.0.15') }, { pod: 'shop-redis-1', server: valkey('9.1.2') }];
  assert.match(imageChangeRefusal(running, redis('7.0.15')) ?? '', /^image: cannot move from valkey 9\.1\.2 \(running on shop-redis-1\) to redis 7\.0\.15: /);
  assert.equal(imageChangeRefusal(running, valkey('9.1.2')), undefined, 'finishing the roll');
});

test('imageChangeRefusal: no release of the target flavour loads it: keep what runs', () => {
  const running = [{ pod: 'shop-redis-0', server: redis('8.2.3') }];
  assert.equal(
    imageChangeRefusal(running, valkey('9.1.2')),
    'image: cannot move from redis 8.2.3 (running on shop-redis-0) to valkey 9.1.2: a valkey 9.1.2 replica cannot load the RDB format 12 a redis 8.2.3 master sends, and each new pod starts as a replica of the running master; keep redis 8.2.3 (no valkey release loads what it sends)',
  );
});

test('imageChangeRefusal: with persistence, no Redis reads the VALKEY080 file Valkey 9 leaves on the volume, even a Redis that replicates from it', () => {
  const running = [{ pod: 'shop-redis-0', server: valkey('9.1.2') }];
  assert.equal(imageChangeRefusal(running, redis('7.2.11')), undefined, 'without persistence Redis 7.2 can follow a Valkey 9 master');
  assert.equal(
    imageChangeRefusal(running, redis('7.2.11'), true),
    "image: cannot move from valkey 9.1.2 (running on shop-redis-0) to redis 7.2.11 with persistence enabled: redis cannot read the VALKEY080 data file valkey 9.1.2 leaves on each pod's volume; keep valkey 9.1.2",
  );
  assert.equal(imageChangeRefusal([{ pod: 'shop-redis-0', server: redis('7.0.15') }], valkey('9.1.2'), true), undefined, 'Valkey 9 reads the REDIS0010 file Redis 7.0 leaves');
});

test('imageChangeRefusal: nothing runs yet (a new resource): nothing to refuse', () => {
  assert.equal(imageChangeRefusal([], redis('7.0.15')), undefined);
});

test('serverName and parseServerName: a tag suffix is dropped, anything else is not a server', () => {
  assert.equal(serverName(valkey('9.1.2-alpine')), 'valkey 9.1.2');
  assert.deepEqual(parseServerName('valkey 9.1.2'), valkey('9.1.2'));
  assert.equal(parseServerName('keydb 6.3.4'), undefined);
  assert.equal(parseServerName('redis'), undefined);
});
