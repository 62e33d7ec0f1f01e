import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { passwordOf, runCli, statusOf, testHome } from './helpers.ts';
import { addressKey } from '../src/redis/address.ts';

// The client examples the README shows are the files in examples/, run here against a real
// deployment: what a user copies is what was tested.
const PORT_BASE = 7960;
const NAME = 'examples';
const home = testHome();
const examples = (file: string) => fileURLToPath(new URL(`../examples/${file}`, import.meta.url));

describe('README client examples on a real deployment', () => {
  let env: NodeJS.ProcessEnv = {};

  before(async () => {
    const up = await runCli(home, ['up', '-d', '--name', NAME, '--port-base', String(PORT_BASE)]);
    assert.equal(up.code, 0, up.stderr);
    const s = await statusOf<{ masterName: string; sentinels: { host: string; port: number }[] }>(home, NAME);
    env = {
      ...process.env,
      MASTER_NAME: s.masterName,
      SENTINELS: s.sentinels.map(addressKey).join(','),
      SENTINEL_PORT: String(s.sentinels[0].port),
      MASTER_ENDPOINT_PORT: String(PORT_BASE + 20),
      REPLICAS_ENDPOINT_PORT: String(PORT_BASE + 21),
      REDIS_PASSWORD: await passwordOf(home, NAME),
      SENTINEL_PASSWORD: await passwordOf(home, NAME, true),
    };
  });

  after(async () => {
    await runCli(home, ['down', '--name', NAME]);
  });

  const cases: [string, string[], string][] = [
    ['ioredis-sentinel.ts', [process.execPath, examples('ioredis-sentinel.ts')], 'hello from ioredis'],
    ['node-redis-sentinel.ts', [process.execPath, examples('node-redis-sentinel.ts')], 'hello from node-redis'],
    ['endpoint.ts', [process.execPath, examples('endpoint.ts')], 'hello through the endpoint'],
    ['redis-cli.sh', ['sh', examples('redis-cli.sh')], 'hello from redis-cli'],
  ];
  for (const [file, [command, ...args], expected] of cases) {
    test(`examples/${file} runs and is the code the README shows`, () => {
      const r = spawnSync(command, args, { env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), expected);
      const code = readFileSync(examples(file), 'utf8').trim();
      assert.ok(readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8').includes(code), `README.md shows examples/${file} verbatim`);
    });
  }
});
