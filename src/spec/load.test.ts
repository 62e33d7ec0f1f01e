import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SpecError, loadSpecFile, resolveSpec } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'redis-ha-spec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `content` to `dir/name` and returns the path. */
function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The SpecError message loading `path` throws, with the temp dir replaced by `DIR`. */
function loadError(path: string): string {
  try {
    loadSpecFile(path);
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected SpecError, got ${String(error)}`);
    assert.equal(error.problems.length, 1);
    assert.ok(!error.message.includes('\n'), 'one line');
    return error.message.replace(dir, 'DIR');
  }
  assert.fail(`expected ${path} to be rejected`);
}

describe('loadSpecFile', () => {
  it('reads a spec that resolveSpec accepts', () => {
    const path = file('good.yaml', '# demo\nname: demo\nsentinel:\n  profile: fast\nredisConfig:\n  maxmemory: 256mb\n  maxmemory-samples: 10\n');
    const spec = resolveSpec(loadSpecFile(path));
    assert.equal(spec.sentinel.downAfterMilliseconds, 1000);
    assert.deepEqual(spec.redisConfig, { maxmemory: '256mb', 'maxmemory-samples': '10' });
  });

  it('accepts JSON and a stray document marker', () => {
    assert.deepEqual(loadSpecFile(file('spec.json', '{"name": "demo"}')), { name: 'demo' });
    assert.deepEqual(loadSpecFile(file('dashes.yaml', '---\nname: demo\n---\n')), { name: 'demo' });
  });

  it('parses YAML 1.2: `yes` and quoted numbers stay strings, which the spec then rejects', () => {
    const input = loadSpecFile(file('yes.yaml', 'name: demo\nreplicas: "2"\npersistence:\n  enabled: yes\n'));
    assert.deepEqual(input, { name: 'demo', replicas: '2', persistence: { enabled: 'yes' } });
    assert.throws(() => resolveSpec(input), {
      message: 'replicas: must be an integer (got "2"); persistence.enabled: must be true or false (got "yes")',
    });
  });

  it('names a YAML syntax error with its line', () => {
    assert.equal(
      loadError(file('bad.yaml', 'name: demo\nreplicas: 2\n  sentinels: [1\n')),
      'DIR/bad.yaml: not valid YAML at line 2: Nested mappings are not allowed in compact mappings',
    );
    assert.equal(loadError(file('dup.yaml', 'name: a\nname: b\n')), 'DIR/dup.yaml: not valid YAML at line 2: Map keys must be unique');
    assert.equal(
      loadError(file('tag.yaml', 'name: !!js/function "x"\n')),
      'DIR/tag.yaml: not valid YAML at line 1: Unresolved tag: tag:yaml.org,2002:js/function',
    );
    assert.equal(loadError(file('deep.yaml', `name: ${'['.repeat(100_000)}`)), 'DIR/deep.yaml: not valid YAML at line 1: nested too deeply');
  });

  it('refuses an alias bomb (billion laughs)', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [prev, next] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'g'], ['g', 'h'], ['h', 'i']])
      levels.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`);
    assert.equal(
      loadError(file('bomb.yaml', `${levels.join('\n')}\n`)),
      'DIR/bomb.yaml: too many YAML alias expansions (limit 100); write the values out instead',
    );
  });

  it('allows a few aliases', () => {
    assert.deepEqual(loadSpecFile(file('alias.yaml', 'name: &n demo\nredisConfig: {maxmemory: *n}\n')), {
      name: 'demo',
      redisConfig: { maxmemory: 'demo' },
    });
  });

  it('refuses files over 1 MiB before parsing them', () => {
    assert.equal(
      loadError(file('big.yaml', `name: demo\n#${'x'.repeat(1024 * 1024)}\n`)),
      'DIR/big.yaml: too large (over 1 MiB); a spec is a few lines',
    );
  });

  it('wants exactly one mapping at the top', () => {
    assert.equal(loadError(file('list.yaml', '- name: demo\n')), 'DIR/list.yaml: top level must be a mapping (got a list)');
    assert.equal(loadError(file('scalar.yaml', 'demo\n')), 'DIR/scalar.yaml: top level must be a mapping (got a string)');
    assert.equal(loadError(file('empty.yaml', '# nothing\n')), 'DIR/empty.yaml: top level must be a mapping (got an empty file)');
    assert.equal(loadError(file('multi.yaml', 'name: a\n---\nname: b\n')), 'DIR/multi.yaml: must hold one YAML document (found 2)');
  });

  it('says plainly when the file cannot be read', () => {
    assert.equal(loadError(join(dir, 'missing.yaml')), 'DIR/missing.yaml: file not found');
    mkdirSync(join(dir, 'folder.yaml'));
    assert.equal(loadError(join(dir, 'folder.yaml')), 'DIR/folder.yaml: is a directory, not a file');
    assert.equal(loadError(file('binary.yaml', Buffer.from([0xff, 0xfe, 0x00]))), 'DIR/binary.yaml: not UTF-8 text');
  });
});
