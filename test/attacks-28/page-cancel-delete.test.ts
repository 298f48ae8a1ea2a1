/**
 * Attacks twilio-page's cancel that now waits for a cancelled page's record to be gone
 * (lib/conversation/pager.ts cancel/leave, WaitingRoom.emit's promise): a delete that the store
 * refuses (was a finding: the cancel msg ended as if the record were gone; it now ends with the
 * store's error), a delete that stalls across a redeploy
 * (the cancel msg must end once, not twice nor never), and a cancel of many pages at once.
 * The harness is the pager tests' (test/support/pager-harness.ts: a fake Twilio, a memory store).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALICE, type Writes, port, setUp } from '../support/pager-harness';

describe('attack 28: a page cancel waits for the record to go', () => {
  it("a delete the store refuses: the cancel msg ends with the store's error, not as done (the record is left behind: a restart would send the page again)", async () => {
    const writes: Writes = {};
    const data = new Map<string, unknown>();
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, data, writes);
    t.input({ topic: 'smoke', payload: 'garage', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    writes.failDeletes = true;
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(t.out.length, 1);
    assert.equal(port(t.out[0]), 2, 'the page left on cancelled');
    assert.equal(t.ended.length, 2, 'the page and the cancel each ended once');
    assert.equal(data.size, 1, 'the record is still stored');
    // The promise of commit 500a87d: a flow that heard the cancel end may rely on the page being gone.
    assert.ok(t.ended[1] instanceof Error, `the cancel ended with ${String(t.ended[1])} though the page's record stayed`);
  });

  it('a delete that stalls across a redeploy: the cancel msg ends once (by the close), not again when the store answers', async () => {
    const writes: Writes = {};
    const data = new Map<string, unknown>();
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, data, writes);
    t.input({ topic: 'smoke', payload: 'garage', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    let deleted!: () => void;
    writes.slowDeletes = new Promise((resolve) => (deleted = resolve));
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(t.ended.length, 1, "only the page's msg ended");
    t.pager.stop();
    let closed = false;
    const closing = t.room.close(false).then(() => (closed = true));
    for (let i = 0; i < 40 && !closed; i++) await t.clock.advance(1_000);
    assert.ok(closed, 'the close ended within its budget though the delete stalls');
    await closing;
    const afterClose = t.ended.length;
    assert.equal(afterClose, 2, 'the cancel msg ended by the close');
    deleted();
    await t.clock.advance(0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(t.ended.length, 2, 'and not a second time once the delete committed');
    assert.equal(t.out.length, 1, 'the page left once');
  });

  it('a cancel of every page at once: each leaves once, every record gone before the cancel ends', async () => {
    const writes: Writes = {};
    const data = new Map<string, unknown>();
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, data, writes);
    for (let i = 0; i < 8; i++) t.input({ topic: `smoke${i}`, payload: `room ${i}`, contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    assert.equal(data.size, 8);
    let deleted!: () => void;
    writes.slowDeletes = new Promise((resolve) => (deleted = resolve));
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(t.out.length, 8, 'all eight left on cancelled');
    assert.equal(t.ended.length, 8, 'the cancel waits for the records');
    deleted();
    await t.clock.advance(0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(data.size, 0);
    assert.equal(t.ended.length, 9, 'the cancel ended once, after');
    assert.ok(t.out.every((o) => port(o) === 2));
  });
});
