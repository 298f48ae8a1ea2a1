/**
 * The duplicate window twilio-in keeps in context: a fixed number of context calls per webhook however
 * many tokens it remembers, a cap with the oldest dropped first, expiry, hashed key names, and a ring
 * that carries on where it stood after a restart; many tokens remembered at once in one round of writes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../../lib/core/clock';
import { DuplicateWindow } from '../../../lib/inbound/dedupe';
import type { KeyValueStore } from '../../../lib/node-red/context';

/** A store like Node-RED's memory store, counting the calls made to it. */
function countingStore(): KeyValueStore & { data: Map<string, unknown>; calls: number } {
  const data = new Map<string, unknown>();
  const store = {
    data,
    calls: 0,
    get: async (key: string) => {
      store.calls++;
      return data.get(key);
    },
    set: async (key: string, value: unknown) => {
      store.calls++;
      if (value === undefined) data.delete(key);
      else data.set(key, value);
    },
    keys: async () => [...data.keys()],
  };
  return store;
}

describe('DuplicateWindow', () => {
  it('remembers a token within the window and forgets it after', async () => {
    const clock = new ManualClock(1_000);
    const window = new DuplicateWindow(countingStore(), { windowMs: 600_000, capacity: 10, clock });
    assert.equal(await window.seen('token-a'), false);
    assert.equal(await window.seen('token-a'), true);
    await clock.advance(600_001);
    assert.equal(await window.seen('token-a'), false, 'expired: taken as new');
  });

  it('takes the same token twice at once as one delivery', async () => {
    const window = new DuplicateWindow(countingStore(), { windowMs: 60_000, capacity: 10 });
    assert.deepEqual(await Promise.all([window.seen('t'), window.seen('t')]), [false, true]);
  });

  it('costs the same number of context calls with 10 or 20,000 tokens remembered', async () => {
    const store = countingStore();
    const window = new DuplicateWindow(store, { windowMs: 60_000, capacity: 100_000 });
    const costs: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const before = store.calls;
      await window.seen(`token-${i}`);
      if (i === 10 || i === 19_999) costs.push(store.calls - before);
    }
    assert.equal(costs[0], costs[1]);
    assert.ok(costs[0] <= 6, `${costs[0]} calls per new token`);
  });

  it('never holds more than its capacity, dropping the oldest first (any sequence of tokens)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 8 }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 12 }),
        async (tokens, capacity) => {
          const store = countingStore();
          const window = new DuplicateWindow(store, { windowMs: 60_000, capacity, prefix: 'd' });
          for (const token of tokens) await window.seen(token);
          const remembered = [...store.data.keys()].filter((k) => k.startsWith('d-t-'));
          assert.ok(remembered.length <= capacity, `${remembered.length} > ${capacity}`);
          // The newest distinct token is always still known.
          if (tokens.length > 0) assert.equal(await window.seen(tokens.at(-1)!), true);
        },
      ),
    );
  });

  it('remembers a batch as it remembers one token after another: the newest `capacity` kept, the rest dropped (any batches)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 12 }),
        async (sizes, capacity) => {
          const store = countingStore();
          const window = new DuplicateWindow(store, { windowMs: 60_000, capacity, prefix: 'd' });
          const all: string[] = [];
          for (const size of sizes) {
            const batch = Array.from({ length: size }, (_, i) => `t${all.length + i}`);
            all.push(...batch);
            if (size === 1) await window.remember(batch[0]);
            else await window.rememberAll([...batch, ...batch.slice(0, 2)]); // a token twice in a batch takes one slot
          }
          const kept = all.slice(-capacity);
          for (const token of all) assert.equal(await window.has(token), kept.includes(token), token);
          assert.equal([...store.data.keys()].filter((k) => k.startsWith('d-t-')).length, kept.length);
        },
      ),
    );
  });

  it("writes a batch in one round (the embedded store commits it once), not one token's writes after another's", async () => {
    const store = countingStore();
    let pending = 0;
    let most = 0;
    const gated: KeyValueStore = {
      ...store,
      set: async (key, value) => {
        most = Math.max(most, ++pending);
        await new Promise((resolve) => setImmediate(resolve));
        pending--;
        return store.set(key, value);
      },
    };
    const window = new DuplicateWindow(gated, { windowMs: 60_000, capacity: 20_000, prefix: 'd' });
    await window.rememberAll(Array.from({ length: 1_000 }, (_, i) => `sid-${i}`));
    assert.equal(most, 2 * 1_000 + 1, 'each token and its slot, and the head, at once');
    assert.equal(await window.has('sid-999'), true);
  });

  it("names keys by a hash: a stranger's token is never a context path", async () => {
    const store = countingStore();
    const window = new DuplicateWindow(store, { windowMs: 60_000, capacity: 10, prefix: 'd' });
    for (const token of ['__proto__', 'a.b.c', 'constructor', '[0]', 'x'.repeat(10_000)]) assert.equal(await window.seen(token), false);
    for (const key of store.data.keys()) assert.match(key, /^d-(t-[A-Za-z0-9_-]{22}|s-\d+|head)$/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('carries on from where the ring stood after a restart (a new window on the same store)', async () => {
    const store = countingStore();
    const first = new DuplicateWindow(store, { windowMs: 60_000, capacity: 3, prefix: 'd' });
    for (const token of ['a', 'b']) await first.seen(token);
    const second = new DuplicateWindow(store, { windowMs: 60_000, capacity: 3, prefix: 'd' });
    assert.equal(await second.seen('a'), true, 'remembered across the restart');
    await second.seen('c');
    await second.seen('d'); // the ring is full: 'a', the oldest, goes
    assert.equal(await second.seen('b'), true);
    assert.equal(await second.seen('a'), false);
  });
});
