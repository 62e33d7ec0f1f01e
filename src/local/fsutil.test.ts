import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { removeRedisDataFiles } from './fsutil.ts';

describe('removeRedisDataFiles', () => {
  it("removes the snapshot, the temp files of a save or a full sync and the AOF, and nothing else", () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-ha-data-'));
    try {
      const keep = ['dump.rdb.bak', 'node-0.log', 'redis.conf', 'temp.rdb'];
      for (const name of [...keep, 'dump.rdb', 'temp-1700000000.42.rdb', 'temp-42.rdb', 'temp-rewriteaof-bg-42.aof', 'appendonly.aof']) writeFileSync(join(dir, name), 'x');
      mkdirSync(join(dir, 'appendonlydir'));
      writeFileSync(join(dir, 'appendonlydir', 'appendonly.aof.1.base.rdb'), 'x');
      assert.deepEqual(removeRedisDataFiles(dir), ['appendonly.aof', 'appendonlydir', 'dump.rdb', 'temp-1700000000.42.rdb', 'temp-42.rdb', 'temp-rewriteaof-bg-42.aof']);
      assert.deepEqual(readdirSync(dir).sort(), keep);
      assert.deepEqual(removeRedisDataFiles(dir), []);
      assert.deepEqual(removeRedisDataFiles(join(dir, 'missing')), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
