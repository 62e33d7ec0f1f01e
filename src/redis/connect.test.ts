// withConnection's clean-up on real sockets: a connection that was refused leaves nothing behind that
// keeps the process open (ioredis's disconnect timer, 2 s, made every command that had probed a
// process not yet listening finish 2 s late; `up --detach` took 2.3 s instead of 0.6 s).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

/** Runs `body` in a fresh Node process with withConnection imported; what it prints. */
function inChild(body: string): string {
  const script = `import { withConnection } from ${JSON.stringify(new URL('./connect.ts', import.meta.url).href)};
import { createServer } from 'node:net';
${body}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
}

describe('withConnection leaves no timer behind', () => {
  it('after a refused connection: no Timeout is active, so the process can end at once', () => {
    const out = inChild(`
const server = createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address();
await new Promise((r) => server.close(r));
const error = await withConnection({ host: '127.0.0.1', port }, (c) => c.call('PING'), 500).then(() => 'none', (e) => e.code ?? e.message);
console.log(error, process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length);
`);
    assert.equal(out, 'ECONNREFUSED 0');
  });
});
