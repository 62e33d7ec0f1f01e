import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeFigures, parseInfo, serverOf } from './parse.ts';

test('serverOf: Valkey by valkey_version (its redis_version is the 7.2.4 it forked from), Redis by redis_version', () => {
  const valkey = nodeFigures(parseInfo('# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n'));
  assert.equal(valkey.valkeyVersion, '9.1.2');
  assert.equal(serverOf(valkey), 'valkey 9.1.2');
  assert.equal(serverOf(nodeFigures(parseInfo('# Server\r\nredis_version:7.0.15\r\n'))), 'redis 7.0.15');
  assert.equal(serverOf(nodeFigures(parseInfo('# Server\r\nredis_version:7.2.5\r\nserver_name:valkey\r\n'))), 'valkey 7.2.5', 'server_name without valkey_version');
  assert.equal(serverOf(nodeFigures(parseInfo('# Clients\r\nconnected_clients:1\r\n'))), undefined);
  assert.equal(serverOf(undefined), undefined);
});
