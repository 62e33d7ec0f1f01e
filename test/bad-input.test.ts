import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listeningPorts, processesUnder, runCli, testHome } from './helpers.ts';

const PORT_BASE = 7200;
const home = testHome();
const dir = mkdtempSync(join(tmpdir(), 'redis-ha-specs-'));
const file = (name: string, content: string) => {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
};

const TLS_NO_SOURCE =
  'tls.enabled: on Kubernetes the certificate must come from somewhere: set tls.certManager.issuerRef.name (cert-manager issues it) or tls.secretName (a Secret you manage with tls.crt, tls.key and ca.crt)';

/** [description, argv, extra env, exit code, exact stderr line]. Paths are relative to `dir`. */
const CASES: [string, string[], NodeJS.ProcessEnv, number, string][] = [
  ['non-numeric flag', ['up', '--replicas', 'two'], {}, 2, '--replicas: must be a whole number (got "two")'],
  ['quorum above sentinels', ['up', '--quorum', '4'], {}, 2, 'quorum: must be <= sentinels (got 4 > 3)'],
  ['too many replicas', ['up', '--replicas', '12'], {}, 2, 'replicas: must be an integer between 0 and 8 (got 12)'],
  ['no Sentinels', ['up', '--sentinels', '0'], {}, 2, 'sentinels: must be an integer between 1 and 9 (got 0)'],
  ['unknown profile', ['up', '--profile', 'slow'], {}, 2, 'sentinel.profile: must be one of default, fast (got "slow")'],
  ['bad name', ['up', '--name', 'My_App'], {}, 2, `name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40 characters (got "My_App")`],
  ['privileged port base', ['up', '--port-base', '80'], {}, 2, '--port-base: must be between 1024 and 65505 (got 80)'],
  ['unknown flag', ['up', '--bogus'], {}, 2, "up: Unknown option '--bogus'; see 'redis-ha up --help'"],
  ['timeout of zero', ['up', '--timeout', '0'], {}, 2, '--timeout: must be between 1 and 3600 (got 0)'],
  ['missing spec file', ['up', '-f', 'missing.yaml'], {}, 2, 'missing.yaml: file not found'],
  ['owned Redis setting', ['up', '-f', 'dir.yaml'], {}, 2, 'dir.yaml: redisConfig.dir: owned by redis-ha (persistence decides where data lives); remove it'],
  ['misspelt field', ['up', '-f', 'typo.yaml'], {}, 2, 'typo.yaml: replica: unknown field (did you mean replicas?)'],
  ['invalid YAML', ['up', '-f', 'bad.yaml'], {}, 2, 'bad.yaml: not valid YAML at line 1: Nested mappings are not allowed in compact mappings'],
  ['YAML alias bomb', ['up', '-f', 'bomb.yaml'], {}, 2, 'bomb.yaml: too many YAML alias expansions (limit 100); write the values out instead'],
  ['list at top level', ['up', '-f', 'list.yaml'], {}, 2, 'list.yaml: top level must be a mapping (got a list)'],
  ['short password in the file', ['up', '-f', 'shortpw.yaml'], {}, 2, 'shortpw.yaml: auth.password: must be at least 16 characters (got 5)'],
  ['short password in the environment', ['up'], { REDIS_HA_PASSWORD: 'abc' }, 2, 'auth.password: must be at least 16 characters (got 3)'],
  ['write fence above replicas', ['up', '-f', 'minrep.yaml'], {}, 2, 'minrep.yaml: minReplicasToWrite: must be <= replicas (got 3 > 2)'],
  ['missing redis-server', ['up', '--redis-server', '/nonexistent/redis-server'], {}, 1, 'redis-server not found at /nonexistent/redis-server (from the flag); fix the path or install it (Debian: apt-get install redis-server redis-sentinel redis-tools)'],
  ['redis-server not on PATH', ['up'], { PATH: '/nonexistent' }, 1, 'redis-server not found on PATH; install it (Debian: apt-get install redis-server redis-sentinel redis-tools), or pass its path with --redis-server or REDIS_HA_REDIS_SERVER'],
  ['unknown deployment', ['status', '--name', 'nope'], {}, 1, `no local deployment named 'nope' (looked in ${join(home, 'nope')}); start one with 'redis-ha up --name nope'`],
  ['TLS on Kubernetes without a certificate source', ['render', '-f', 'tls.yaml'], {}, 2, TLS_NO_SOURCE],
  ['TLS on Kubernetes without a certificate source, as a resource', ['render', '--as-resource', '-f', 'tls.yaml'], {}, 2, TLS_NO_SOURCE],
  ['unknown command', ['frobnicate'], {}, 2, "unknown command 'frobnicate'; run 'redis-ha --help' for the list"],
  ['cli without a command', ['cli'], {}, 2, "cli: give a Redis command, e.g. 'redis-ha cli GET key'"],
];

describe('bad input: one clear line, a non-zero exit, nothing started', () => {
  before(() => {
    file('dir.yaml', 'name: x\nredisConfig:\n  dir: /tmp\n');
    file('typo.yaml', 'name: x\nreplica: 2\n');
    file('bad.yaml', 'name: x\n  replicas: : 2\n');
    const row = (alias: string, ref: string) => `${alias} [${Array(9).fill(ref).join(',')}]`;
    file('bomb.yaml', ['a: &a ["x","x","x","x","x","x","x","x","x"]', `b: ${row('&b', '*a')}`, `c: ${row('&c', '*b')}`, `d: ${row('&d', '*c')}`, `e: ${row('&e', '*d')}`, `f: ${row('', '*e')}`].join('\n'));
    file('list.yaml', '- a\n- b\n');
    file('shortpw.yaml', 'name: x\nauth:\n  password: short\n');
    file('minrep.yaml', 'name: x\nminReplicasToWrite: 3\n');
    file('tls.yaml', 'name: x\ntls:\n  enabled: true\n');
  });

  for (const [what, argv, env, code, message] of CASES) {
    test(what, async () => {
      const args = argv.map((a) => (a.endsWith('.yaml') ? join(dir, a) : a));
      const r = await runCli(home, [...args, ...(args[0] === 'up' && !args.includes('--port-base') ? ['--port-base', String(PORT_BASE)] : [])], { ...env, PATH: env.PATH ?? process.env.PATH });
      const expected = message.replaceAll(/\b(\w+\.yaml)/g, (m) => join(dir, m));
      assert.equal(r.stderr, `redis-ha: ${expected}\n`);
      assert.equal(r.code, code);
      assert.equal(r.stdout, '');
    });
  }

  test('nothing was started or left behind by any of them', async () => {
    assert.equal(CASES.length >= 15, true);
    assert.deepEqual(processesUnder(home), []);
    assert.deepEqual(await listeningPorts(PORT_BASE, 30), []);
    assert.equal(existsSync(join(home, 'local')), false, 'no state directory was created');
  });

  test('a port in use is named, and nothing is started', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(PORT_BASE + 11, '127.0.0.1', resolve));
    try {
      const r = await runCli(home, ['up', '--detach', '--name', 'busy', '--port-base', String(PORT_BASE)]);
      assert.equal(r.stderr, `redis-ha: port ${PORT_BASE + 11} on 127.0.0.1 is already in use (wanted for sentinel-1 of 'busy'); stop what listens there or pass another --port-base\n`);
      assert.equal(r.code, 1);
      assert.deepEqual(processesUnder(home), []);
      assert.deepEqual(await listeningPorts(PORT_BASE, 30), [PORT_BASE + 11]);
    } finally {
      blocker.close();
    }
  });
});
