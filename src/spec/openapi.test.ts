import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { specToOpenAPI } from './index.ts';
import type { OpenAPISchema } from './index.ts';

/** Every node of the schema with its path. */
function* walk(node: OpenAPISchema, path = 'spec'): Generator<[string, OpenAPISchema]> {
  yield [path, node];
  for (const [key, child] of Object.entries(node.properties ?? {})) yield* walk(child, `${path}.${key}`);
  if (node.additionalProperties) yield* walk(node.additionalProperties, `${path}.*`);
}

describe('specToOpenAPI', () => {
  const schema = specToOpenAPI();

  it('is structural: every node has a type and a description', () => {
    const types = new Set(['object', 'integer', 'string', 'boolean', 'array']);
    let nodes = 0;
    for (const [path, node] of walk(schema)) {
      nodes++;
      assert.ok(types.has(node.type), `${path} has type ${String(node.type)}`);
      if (!path.endsWith('.*')) assert.ok(node.description, `${path} has a description`);
      if (node.type === 'object') assert.ok(node.properties || node.additionalProperties, `${path} lists its fields`);
    }
    assert.ok(nodes > 15);
  });

  it('carries defaults, ranges, enums and patterns from the field table', () => {
    const p = schema.properties!;
    assert.deepEqual(schema.required, ['name']);
    assert.equal(p.replicas!.default, 2);
    assert.equal(p.replicas!.maximum, 8);
    assert.equal(p.sentinels!.default, 3);
    assert.equal(p.sentinels!.minimum, 1);
    assert.equal(p.persistence!.properties!.enabled!.default, false);
    assert.equal(p.persistence!.properties!.size!.default, '1Gi');
    assert.deepEqual(p.sentinel!.properties!.profile, {
      type: 'string',
      description: p.sentinel!.properties!.profile!.description,
      enum: ['default', 'fast'],
      default: 'default',
    });
    assert.equal(p.name!.pattern, '^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$');
    assert.deepEqual(p.redisConfig!.additionalProperties, { type: 'string', maxLength: 1024 });
  });

  it('leaves derived defaults to the resolver, so the API server cannot fill in a value the rules reject', () => {
    const p = schema.properties!;
    for (const node of [p.quorum!, p.minReplicasToWrite!, p.sentinel!.properties!.downAfterMilliseconds!, p.auth!.properties!.password!])
      assert.equal(node.default, undefined);
  });

  it('is plain JSON', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(schema)), schema);
  });
});
