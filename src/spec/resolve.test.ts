import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpecError, generatePassword, masterGroupName, redactSpec, resolveSpec } from './index.ts';

/** The SpecError message `resolveSpec(input)` throws. */
function problemOf(input: unknown): string {
  try {
    resolveSpec(input);
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected SpecError, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('resolveSpec defaults', () => {
  it('fills in a minimal spec', () => {
    const spec = resolveSpec({ name: 'demo' });
    assert.equal(spec.name, 'demo');
    assert.equal(spec.replicas, 2);
    assert.equal(spec.sentinels, 3);
    assert.equal(spec.quorum, 2);
    assert.deepEqual(spec.sentinel, { profile: 'default', downAfterMilliseconds: 5000, failoverTimeout: 60000, parallelSyncs: 1 });
    assert.deepEqual(spec.persistence, { enabled: false, size: '1Gi' });
    assert.equal(spec.minReplicasToWrite, 1);
    assert.equal(spec.minReplicasMaxLag, 10);
    assert.deepEqual(spec.redisConfig, {});
  });

  it('takes timings from the fast profile, explicit fields win', () => {
    const fast = resolveSpec({ name: 'demo', sentinel: { profile: 'fast' } });
    assert.deepEqual(fast.sentinel, { profile: 'fast', downAfterMilliseconds: 1000, failoverTimeout: 10000, parallelSyncs: 1 });
    const tuned = resolveSpec({ name: 'demo', sentinel: { profile: 'fast', downAfterMilliseconds: 2000, parallelSyncs: 2 } });
    assert.deepEqual(tuned.sentinel, { profile: 'fast', downAfterMilliseconds: 2000, failoverTimeout: 10000, parallelSyncs: 2 });
  });

  it('derives quorum from sentinels and the write fence from replicas', () => {
    assert.equal(resolveSpec({ name: 'a', sentinels: 5 }).quorum, 3);
    assert.equal(resolveSpec({ name: 'a', sentinels: 1 }).quorum, 1);
    assert.equal(resolveSpec({ name: 'a', sentinels: 4 }).quorum, 3);
    assert.equal(resolveSpec({ name: 'a', replicas: 0 }).minReplicasToWrite, 0);
    assert.equal(resolveSpec({ name: 'a', replicas: 4, minReplicasToWrite: 3 }).minReplicasToWrite, 3);
  });

  it('generates passwords of at least 32 characters, different each time', () => {
    const a = resolveSpec({ name: 'demo' });
    const b = resolveSpec({ name: 'demo' });
    for (const password of [a.auth.password, a.auth.sentinelPassword, b.auth.password]) {
      assert.ok(password.length >= 32, password);
      assert.match(password, /^[A-Za-z0-9_-]+$/);
    }
    assert.equal(new Set([a.auth.password, a.auth.sentinelPassword, b.auth.password, b.auth.sentinelPassword]).size, 4);
    assert.notEqual(generatePassword(), generatePassword());
  });

  it('keeps given passwords and uses the injected generator for missing ones', () => {
    const spec = resolveSpec({ name: 'demo', auth: { password: 'p'.repeat(16) } }, { generateSecret: () => 'g'.repeat(40) });
    assert.equal(spec.auth.password, 'p'.repeat(16));
    assert.equal(spec.auth.sentinelPassword, 'g'.repeat(40));
  });

  it('treats empty YAML values (null) as absent', () => {
    const spec = resolveSpec({ name: 'demo', replicas: null, auth: null, sentinel: { profile: null } });
    assert.equal(spec.replicas, 2);
    assert.equal(spec.sentinel.profile, 'default');
  });

  it('lowercases redisConfig keys and stringifies numbers', () => {
    const spec = resolveSpec({ name: 'demo', redisConfig: { MaxMemory: '256mb', 'maxmemory-samples': 10, 'notify-keyspace-events': '' } });
    assert.deepEqual(spec.redisConfig, { maxmemory: '256mb', 'maxmemory-samples': '10', 'notify-keyspace-events': '' });
  });

  it('takes the diskless replication settings when they say what redis-ha sets, or with persistence on any value', () => {
    const off = resolveSpec({ name: 'demo', redisConfig: { 'repl-diskless-load': 'SwapDB', 'repl-diskless-sync': 'yes' } });
    assert.deepEqual(off.redisConfig, { 'repl-diskless-load': 'SwapDB', 'repl-diskless-sync': 'yes' });
    const on = resolveSpec({ name: 'demo', persistence: { enabled: true }, redisConfig: { 'repl-diskless-load': 'disabled', 'repl-diskless-sync': 'no' } });
    assert.deepEqual(on.redisConfig, { 'repl-diskless-load': 'disabled', 'repl-diskless-sync': 'no' });
  });

  it('returns a deeply frozen spec, and resolving it again gives an equal one', () => {
    const spec = resolveSpec({ name: 'demo', persistence: { enabled: true, storageClass: 'fast-ssd' } });
    assert.ok(Object.isFrozen(spec) && Object.isFrozen(spec.auth) && Object.isFrozen(spec.redisConfig));
    assert.deepEqual(resolveSpec(spec), spec);
    assert.deepEqual(resolveSpec(JSON.parse(JSON.stringify(spec))), spec);
  });
});

describe('resolveSpec rejects bad input with one exact line', () => {
  const cases: Array<[unknown, string]> = [
    [{ name: 'demo', sentinels: 3, quorum: 4 }, 'quorum: must be <= sentinels (got 4 > 3)'],
    [{ name: 'demo', replicas: 12 }, 'replicas: must be an integer between 0 and 8 (got 12)'],
    [{ name: 'demo', replicas: 'two' }, 'replicas: must be an integer (got "two")'],
    [{ name: 'demo', replicas: '2' }, 'replicas: must be an integer (got "2")'],
    [{ name: 'demo', replicas: -1 }, 'replicas: must be an integer between 0 and 8 (got -1)'],
    [{ name: 'demo', replicas: 1.5 }, 'replicas: must be an integer between 0 and 8 (got 1.5)'],
    [{ name: 'demo', sentinels: 1e300 }, 'sentinels: must be an integer between 1 and 9 (got 1e+300)'],
    [{ name: 'demo', sentinels: NaN }, 'sentinels: must be an integer between 1 and 9 (got NaN)'],
    [{ name: 'demo', sentinels: Infinity }, 'sentinels: must be an integer between 1 and 9 (got Infinity)'],
    [{ name: 'demo', sentinels: 0 }, 'sentinels: must be an integer between 1 and 9 (got 0)'],
    [{ name: 'demo', quorum: 0 }, 'quorum: must be an integer between 1 and 9 (got 0)'],
    [{ name: 'demo', sentinel: { profile: 'slow' } }, 'sentinel.profile: must be one of default, fast (got "slow")'],
    [
      { name: 'My_App' },
      `name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40 characters (got "My_App")`,
    ],
    [
      { name: 'a'.repeat(41) },
      `name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40 characters (got "${'a'.repeat(41)}")`,
    ],
    [
      { name: 'a'.repeat(70) },
      `name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40 characters (got "${'a'.repeat(40)}"... (70 characters))`,
    ],
    [{ name: 'demo-' }, `name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40 characters (got "demo-")`],
    [{ name: 42 }, 'name: must be a string (got 42)'],
    [{}, 'name: must be set'],
    [{ replicas: 2 }, 'name: must be set'],
    [{ name: 'demo', redisConfig: { dir: '/tmp' } }, 'redisConfig.dir: owned by redis-ha (persistence decides where data lives); remove it'],
    [{ name: 'demo', redisConfig: { DBFilename: 'x.rdb' } }, 'redisConfig.dbfilename: owned by redis-ha (persistence decides where data lives); remove it'],
    [{ name: 'demo', redisConfig: { requirepass: 'x' } }, 'redisConfig.requirepass: owned by redis-ha (auth sets the passwords and users); remove it'],
    [{ name: 'demo', redisConfig: { save: '900 1' } }, 'redisConfig.save: owned by redis-ha (persistence.enabled decides whether data is saved); remove it'],
    [
      { name: 'demo', redisConfig: { 'min-replicas-to-write': 1 } },
      'redisConfig.min-replicas-to-write: owned by redis-ha (set the spec field minReplicasToWrite instead); remove it',
    ],
    [
      { name: 'demo', redisConfig: { 'repl-diskless-load': 'disabled' } },
      'redisConfig.repl-diskless-load: must be swapdb while persistence.enabled is false (got "disabled": a full sync would write an RDB file that Redis loads at its next start); remove it or set persistence.enabled: true',
    ],
    [
      { name: 'demo', redisConfig: { 'Repl-Diskless-Sync': 'no' } },
      'redisConfig.repl-diskless-sync: must be yes while persistence.enabled is false (got "no": a full sync would write an RDB file that Redis loads at its next start); remove it or set persistence.enabled: true',
    ],
    [{ name: 'demo', redisConfig: { 'tls-port': 6380 } }, 'redisConfig.tls-port: owned by redis-ha (redis-ha owns networking); remove it'],
    [{ name: 'demo', redisConfig: { maxmemroy: '1gb' } }, 'redisConfig.maxmemroy: not an allowed Redis setting (did you mean maxmemory?)'],
    [
      { name: 'demo', redisConfig: { foo: 'bar' } },
      'redisConfig.foo: not an allowed Redis setting (redis-ha allows tunables such as maxmemory, maxmemory-policy, timeout and hz)',
    ],
    [{ name: 'demo', redisConfig: { maxmemory: '1gb\nrequirepass x' } }, 'redisConfig.maxmemory: must not contain newlines or control characters'],
    [{ name: 'demo', redisConfig: { maxmemory: 'x'.repeat(1025) } }, 'redisConfig.maxmemory: must be at most 1024 characters (got 1025)'],
    [{ name: 'demo', redisConfig: { activedefrag: true } }, 'redisConfig.activedefrag: must be a string or a number (got true; Redis wants yes or no)'],
    [{ name: 'demo', redisConfig: { Timeout: 1, timeout: 2 } }, 'redisConfig.timeout: given more than once (as Timeout and timeout)'],
    [{ name: 'demo', redisConfig: ['maxmemory 1gb'] }, 'redisConfig: must be a mapping (got a list)'],
    [{ name: 'demo', auth: { password: 'short' } }, 'auth.password: must be at least 16 characters (got 5)'],
    [{ name: 'demo', auth: { sentinelPassword: 'x'.repeat(513) } }, 'auth.sentinelPassword: must be at most 512 characters (got 513)'],
    [{ name: 'demo', auth: { password: 'has a space in it here' } }, 'auth.password: must not contain whitespace or control characters'],
    [{ name: 'demo', auth: { password: 12345678901234567890 } }, 'auth.password: must be a string (got a number)'],
    [{ name: 'demo', replicas: 2, minReplicasToWrite: 3 }, 'minReplicasToWrite: must be <= replicas (got 3 > 2)'],
    [{ name: 'demo', replicas: 0, minReplicasToWrite: 1 }, 'minReplicasToWrite: must be <= replicas (got 1 > 0)'],
    [
      { name: 'demo', sentinel: { failoverTimeout: 1000 } },
      'sentinel.failoverTimeout: must be greater than sentinel.downAfterMilliseconds (got 1000 <= 5000)',
    ],
    [{ name: 'demo', sentinel: { downAfterMilliseconds: 50 } }, 'sentinel.downAfterMilliseconds: must be an integer between 100 and 600000 (got 50)'],
    [{ name: 'demo', sentinel: { parallelSyncs: 0 } }, 'sentinel.parallelSyncs: must be an integer between 1 and 16 (got 0)'],
    [{ name: 'demo', minReplicasMaxLag: 0 }, 'minReplicasMaxLag: must be an integer between 1 and 3600 (got 0)'],
    [{ name: 'demo', persistence: { enabled: 'yes' } }, 'persistence.enabled: must be true or false (got "yes")'],
    [{ name: 'demo', persistence: { size: 'big' } }, 'persistence.size: must be a Kubernetes quantity such as 1Gi or 500Mi (got "big")'],
    [{ name: 'demo', persistence: true }, 'persistence: must be a mapping (got true)'],
    [{ name: 'demo', replica: 1 }, 'replica: unknown field (did you mean replicas?)'],
    [{ name: 'demo', Sentinels: 3 }, 'Sentinels: unknown field (did you mean sentinels?)'],
    [{ name: 'demo', sentinel: { x: 1 } }, 'sentinel.x: unknown field'],
    [{ name: 'demo', sentinel: { down_after_milliseconds: 1000 } }, 'sentinel.down_after_milliseconds: unknown field (did you mean downAfterMilliseconds?)'],
    [{ name: 'demo', persistance: {} }, 'persistance: unknown field (did you mean persistence?)'],
    [{ name: 'demo', 'bad\nkey': 1 }, '"bad\\nkey": unknown field'],
    [{ name: 'demo', redisConfig: { 'max memory': '1gb' } }, 'redisConfig."max memory": not an allowed Redis setting (did you mean maxmemory?)'],
    [['name', 'demo'], 'spec: must be a mapping (got a list)'],
    ['name: demo', 'spec: must be a mapping (got "name: demo")'],
  ];
  for (const [input, expected] of cases) {
    it(expected, () => assert.equal(problemOf(input), expected));
  }

  it('never prints a password, whatever is wrong with it', () => {
    const secret = 'hunter2 hunter2 hunter2';
    for (const password of [secret, secret.slice(0, 7), `${secret}\n`, secret.repeat(30)]) {
      assert.ok(!problemOf({ name: 'demo', auth: { password } }).includes('hunter2'));
    }
  });

  it('reports every problem, joined with "; ", and lists them in `problems`', () => {
    try {
      resolveSpec({ name: 'demo', replicas: 12, sentinels: 3, quorum: 4, extra: true });
      assert.fail('expected a SpecError');
    } catch (error) {
      assert.ok(error instanceof SpecError);
      assert.deepEqual(error.problems, [
        'extra: unknown field',
        'replicas: must be an integer between 0 and 8 (got 12)',
        'quorum: must be <= sentinels (got 4 > 3)',
      ]);
      assert.equal(error.message, error.problems.join('; '));
    }
  });

  it('skips cross-field rules on fields that are already wrong', () => {
    assert.equal(problemOf({ name: 'demo', sentinels: 'x', quorum: 4 }), 'sentinels: must be an integer (got "x")');
    assert.equal(
      problemOf({ name: 'demo', sentinel: { profile: 'slow', failoverTimeout: 1000 } }),
      'sentinel.profile: must be one of default, fast (got "slow")',
    );
  });
});

describe('masterGroupName and redactSpec', () => {
  it('names the Sentinel master group after the deployment', () => {
    assert.equal(masterGroupName(resolveSpec({ name: 'demo' })), 'redis-ha-demo');
  });

  it('hides both passwords and leaves the rest alone', () => {
    const spec = resolveSpec({ name: 'demo' });
    const redacted = redactSpec(spec);
    assert.deepEqual(redacted.auth, { ...spec.auth, password: '<redacted>', sentinelPassword: '<redacted>' });
    assert.deepEqual({ ...redacted, auth: spec.auth }, spec);
    const printed = JSON.stringify(redacted);
    assert.ok(!printed.includes(spec.auth.password) && !printed.includes(spec.auth.sentinelPassword));
    assert.ok(Object.isFrozen(redacted.auth));
    assert.notEqual(spec.auth.password, '<redacted>', 'the original is untouched');
  });
});
