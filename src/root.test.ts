import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLI_BIN, NODE_FLAGS } from './root.ts';

test("the CLI's shebang starts Node with NODE_FLAGS, as the supervisor and proxy workers are started", () => {
  const shebang = readFileSync(CLI_BIN, 'utf8').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
});
