import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { STALE_ANSWER_MS, staleOnTemporaryFailure } from './lookup.ts';

type Reply = { err?: string; address?: string };

/** A resolver that answers from a script, one reply per call, as getaddrinfo would. */
function scripted(replies: Reply[]) {
  return (_host: string, _o: unknown, cb: (err: NodeJS.ErrnoException | null, address: string, family?: number) => void) => {
    const r = replies.shift()!;
    if (r.err) cb(Object.assign(new Error(`getaddrinfo ${r.err} sentinel-0.headless`), { code: r.err }), '');
    else cb(null, r.address!, 4);
  };
}

function resolve(l: ReturnType<typeof staleOnTemporaryFailure>, host = 'sentinel-0.headless') {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: string }>((done) => {
    (l as unknown as (h: string, o: object, cb: (err: NodeJS.ErrnoException | null, a: string) => void) => void)(host, {}, (err, address) => done({ err, address }));
  });
}

test('a temporary failure (EAI_AGAIN) gets the last good answer, within the staleness bound only', async () => {
  let clock = 0;
  const l = staleOnTemporaryFailure(scripted([{ address: '10.0.0.5' }, { err: 'EAI_AGAIN' }, { err: 'EAI_AGAIN' }]), STALE_ANSWER_MS, () => clock);
  assert.deepEqual(await resolve(l), { err: null, address: '10.0.0.5' });
  clock = STALE_ANSWER_MS;
  assert.deepEqual(await resolve(l), { err: null, address: '10.0.0.5' });
  clock = STALE_ANSWER_MS + 1;
  assert.equal((await resolve(l)).err?.code, 'EAI_AGAIN');
});

test('a name that no longer exists (ENOTFOUND) is never answered from the past', async () => {
  const l = staleOnTemporaryFailure(scripted([{ address: '10.0.0.5' }, { err: 'ENOTFOUND' }]), STALE_ANSWER_MS, () => 0);
  await resolve(l);
  assert.equal((await resolve(l)).err?.code, 'ENOTFOUND');
});

test('a temporary failure for a name never resolved is passed on; a new answer replaces the old', async () => {
  const l = staleOnTemporaryFailure(scripted([{ err: 'EAI_AGAIN' }, { address: '10.0.0.5' }, { address: '10.0.0.9' }, { err: 'EAI_AGAIN' }]), STALE_ANSWER_MS, () => 0);
  assert.equal((await resolve(l)).err?.code, 'EAI_AGAIN');
  await resolve(l);
  await resolve(l);
  assert.deepEqual(await resolve(l), { err: null, address: '10.0.0.9' });
});

test('a real socket connects by name through it', async () => {
  const server = net.createServer((s) => s.end('hi'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const got = await new Promise<string>((done, fail) => {
    const s = net.createConnection({ host: 'localhost', port, family: 4, lookup: staleOnTemporaryFailure() });
    let data = '';
    s.on('data', (d) => (data += d)).on('end', () => done(data)).on('error', fail);
  });
  server.close();
  assert.equal(got, 'hi');
});
