/** The clock lib reads: real by default, a ManualClock that tests move forward instead of sleeping. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, installClock, realClock, systemClock } from '../../../lib/core/clock';

describe('clock', () => {
  it('runs due timers in order of time as it moves, each after what the previous one started has settled', async () => {
    const clock = new ManualClock(1_000);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 200);
    clock.setTimeout(() => {
      seen.push(`a@${clock.now()}`);
      // A chain of awaits a timer starts runs before the next timer fires.
      void Promise.resolve()
        .then(() => undefined)
        .then(() => seen.push('a settled'));
    }, 100);
    const cleared = clock.setTimeout(() => seen.push('never'), 150);
    clock.clearTimeout(cleared);
    await clock.advance(150);
    assert.deepEqual(seen, ['a@1100', 'a settled']);
    assert.equal(clock.now(), 1_150);
    await clock.advance(1_000);
    assert.deepEqual(seen, ['a@1100', 'a settled', 'b@1200']);
    assert.equal(clock.pending, 0);
  });

  it('runs a timer that a timer sets, when it falls due within the same advance', async () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const tick = () => {
      seen.push(clock.now());
      if (seen.length < 5) clock.setTimeout(tick, 1_000);
    };
    clock.setTimeout(tick, 1_000);
    await clock.advance(3_500);
    assert.deepEqual(seen, [1_000, 2_000, 3_000]);
  });

  it('is what lib reads once installed, and clears each timer with the clock that started it', async () => {
    const clock = new ManualClock(5);
    const restore = installClock(clock);
    try {
      assert.equal(systemClock.now(), 5);
      let fired = false;
      const timer = systemClock.setTimeout(() => (fired = true), 10);
      restore();
      systemClock.clearTimeout(timer); // started by the manual clock, cleared after the real one is back
      await clock.advance(20);
      assert.equal(fired, false);
      assert.ok(Math.abs(systemClock.now() - Date.now()) < 1_000, 'real again');
    } finally {
      restore();
    }
    realClock.clearTimeout(undefined);
  });
});
