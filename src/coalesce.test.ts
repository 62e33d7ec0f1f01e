import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coalesced } from './coalesce.ts';

/** A pass that waits for `release` each time, counting how many ran. */
function gated() {
  let passes = 0;
  let open: (() => void) | undefined;
  const c = new Coalesced(async () => {
    passes += 1;
    await new Promise<void>((r) => { open = r; });
  });
  const release = async () => {
    // Let the pass reach its gate first.
    while (!open) await new Promise((r) => setImmediate(r));
    const go = open;
    open = undefined;
    go();
  };
  return { c, release, passes: () => passes };
}

describe('Coalesced: one pass at a time, requests during a pass coalesced into one more', () => {
  it('three requests during a pass make exactly one more pass, which the requests\' promise waits for', async () => {
    const { c, release, passes } = gated();
    const first = c.run();
    const during = [c.run(), c.run(), c.run()];
    assert.equal(passes(), 1);
    await release();
    await release();
    await Promise.all([first, ...during]);
    assert.equal(passes(), 2);
  });

  it('a pass that returns true runs again at once, until one returns false', async () => {
    let n = 0;
    const c = new Coalesced(async () => ++n < 3);
    await c.run();
    assert.equal(n, 3);
  });

  it('stopped: no pass starts, and the one in flight is waited for', async () => {
    const { c, release, passes } = gated();
    void c.run();
    void c.run();
    const stopped = c.stop();
    await release();
    await stopped;
    await c.run();
    assert.equal(passes(), 1, 'neither the coalesced request nor a later one ran');
  });

  it('a pass that throws ends the passes and rejects run; the next run starts afresh', async () => {
    let n = 0;
    const c = new Coalesced(async () => {
      n += 1;
      if (n === 1) throw new Error('boom');
    });
    await assert.rejects(c.run(), /boom/);
    await c.idle();
    await c.run();
    assert.equal(n, 2);
  });
});
