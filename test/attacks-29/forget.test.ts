/**
 * Attack 29: a removed node's forget() (lib/account/node-state.ts), now a page of 500 deletes at a
 * time in parallel, within a 2 s budget, the rest going on in the background. A poller's node holds
 * thousands of keys (its cursor, the ring of its Sid memory). Attacked: the engine failing half-way
 * through a page (Redis going down), and the node added again with the same id (an undo of the
 * removal, a flow imported again) while the old keys are still being deleted in the background.
 *
 * Found (both not new: the one-by-one loop before did the same, its first failure ending it):
 * - PROVED: a page failing half-way ends forget: the failed keys of that page are owed (deleted once
 *   the engine is back), but the pages after it are never tried: those keys stay for good (the Sid
 *   memory's records carry no expiry).
 * - PROVED: the node added again with the same id while the old deletes go on loses keys it writes:
 *   the old forget deletes the names it listed, whoever wrote them since.
 * Both FIXED (node-state.ts forgetAll): every page is tried, what failed is deleted once the engine
 * is back, and each delete is of the version listed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, installClock } from '../../lib/core/clock';
import { nodeState } from '../../lib/account/node-state';
import type { StateEngine } from '../../lib/state/engine';
import { openStateEngine } from '../../lib/state/open';
import { memoryStore } from '../support/memory-store';

const RED = {} as never;

/** A poller's keys: its cursor, the head and `n` slots and Sids of its memory. */
const pollerKeys = (n: number) => [
  'twilio-in-poll-cursor',
  'twilio-in-polled-head',
  ...Array.from({ length: n }, (_, i) => `twilio-in-polled-s-${i}`),
  ...Array.from({ length: n }, (_, i) => `twilio-in-polled-t-${String(i).padStart(22, 'A')}`),
];

/** An engine whose deletes `decide` lets through, fails (Redis down) or holds (Redis stalled); its health, as Redis reports it. */
function controlled(engine: StateEngine, decide: (n: number) => 'go' | 'fail' | 'hold') {
  const listeners = new Set<(health: { up: boolean }) => void>();
  const held: Array<() => void> = [];
  let deletes = 0;
  const unavailable = () => Object.assign(new Error('Redis unreachable'), { code: 'STATE_UNAVAILABLE' });
  const state = new Proxy(engine, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      if (name !== 'delete') return value.bind(target);
      return (...args: unknown[]) => {
        const what = decide(++deletes);
        if (what === 'fail') return Promise.reject(unavailable());
        if (what === 'hold') return new Promise((resolve, reject) => held.push(() => void value.apply(target, args).then(resolve, reject)));
        return value.apply(target, args);
      };
    },
  });
  const account = {
    state,
    onStateHealth: (listener: (health: { up: boolean }) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return {
    account,
    health: (up: boolean) => [...listeners].forEach((listener) => listener({ up })),
    release: () => held.splice(0).forEach((go) => go()),
    held: () => held.length,
  };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const deadline = Date.now() + 3_000; !(await check());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('attack 29: a removed node forgets its keys', () => {
  it('a page failing half-way (Redis down): once Redis is back, none of the removed node’s keys is left', async () => {
    const engine = openStateEngine({ backend: 'context', store: memoryStore() });
    let down = false;
    const control = controlled(engine, (n) => {
      if (n === 251) down = true; // Redis goes down half-way through the first page
      return down ? 'fail' : 'go';
    });
    try {
      const state = nodeState(RED, { id: 'n1' } as never, control.account, {});
      for (const key of pollerKeys(700)) await state.store.set(key, 1);
      await assert.rejects(state.forget(), (err: { code?: string }) => err.code === 'STATE_UNAVAILABLE');
      down = false;
      control.health(true);
      await until(async () => (await engine.scan('node/n1/', 2_000)).length === 0, 'every key deleted').catch(() => undefined);
      const left = await engine.scan('node/n1/', 2_000);
      assert.equal(left.length, 0, `${left.length} keys of the removed node left for good (e.g. ${left.at(-1)?.key})`);
    } finally {
      await engine.close();
    }
  });

  it('added again with the same id while the old deletes go on: the new node keeps what it writes', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 7, 12));
    const restore = installClock(clock);
    const engine = openStateEngine({ backend: 'context', store: memoryStore() }, clock);
    let stalled = false;
    const control = controlled(engine, () => (stalled ? 'hold' : 'go'));
    try {
      const old = nodeState(RED, { id: 'n2' } as never, control.account, {});
      const keys = pollerKeys(700);
      for (const key of keys) await old.store.set(key, 'old');
      const listed = [...keys].sort();
      // Redis stalls as the removed node's first page of deletes goes: its close waits 2 s, then goes on.
      stalled = true;
      let forgotten = false;
      const forgetting = old.forget().then(() => (forgotten = true));
      await until(async () => control.held() === 500, 'the first page of deletes out');
      await clock.advance(2_000);
      await forgetting;
      assert.ok(forgotten, 'the removal went on after its budget');
      // The node is added again (same id) and writes its Sid memory; Redis answers again meanwhile.
      const again = nodeState(RED, { id: 'n2' } as never, control.account, {});
      const written = listed[700]; // a name the old node listed on its second page
      stalled = false;
      await again.store.set(written, 'new');
      control.release();
      await until(async () => (await engine.scan('node/n2/', 2_000)).length <= 1, 'the background deletes');
      assert.equal(await again.store.get(written), 'new', `the re-added node's ${written} was deleted by the old node's forget`);
    } finally {
      restore();
      await engine.close();
    }
  });
});
