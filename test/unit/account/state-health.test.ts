/**
 * watchStateHealth's retryWhenBack: a node's restore of its stored waits, refused while Redis is down,
 * runs again once it is back, including when its refusal arrives after the "back" was heard (a
 * command sent while the server was away fails late): else the waits would resume only at a restart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TwilioNodeError } from '../../../lib/core/errors';
import { RETRY_WHEN_BACK_MS, watchStateHealth } from '../../../lib/account/state-health';
import type { StateHealth } from '../../../lib/account/state-engines';
import { useManualClock } from '../../support/ticking';

function redisLike() {
  const listeners = new Set<(health: StateHealth) => void>();
  return {
    state: {},
    onStateHealth(listener: (health: StateHealth) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    say(health: StateHealth) {
      for (const listener of listeners) listener(health);
    },
  };
}
const status = { success: () => undefined, failed: () => undefined } as never;
const down = () => Promise.reject(new TwilioNodeError('STATE_UNAVAILABLE', 'Redis is down'));

describe('watchStateHealth: work refused while the store is down runs again once it is back', () => {
  const time = useManualClock();

  it('runs it again at the next "back" when it failed while down', async () => {
    const account = redisLike();
    const watch = watchStateHealth(account, { durable: 'server' }, status, time.clock);
    account.say({ up: false, reason: 'gone' });
    let runs = 0;
    const done = watch.retryWhenBack(() => (++runs === 1 ? down() : Promise.resolve('restored')));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runs, 1);
    account.say({ up: true });
    assert.equal(await done, 'restored');
    assert.equal(runs, 2);
    watch.stop();
  });

  it('runs it again in a moment when its refusal came after the "back" was heard', async () => {
    const account = redisLike();
    const watch = watchStateHealth(account, { durable: 'server' }, status, time.clock);
    account.say({ up: false, reason: 'gone' });
    let runs = 0;
    let refuse: () => void = () => undefined;
    const done = watch.retryWhenBack(() => {
      if (++runs > 1) return Promise.resolve('restored');
      // Sent while the server was away: its failure comes after the reconnection.
      return new Promise<string>((_, reject) => (refuse = () => reject(new TwilioNodeError('STATE_UNAVAILABLE', 'Redis is down'))));
    });
    account.say({ up: true });
    refuse();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runs, 1, 'not at once (no hot loop while it flaps)');
    await time.clock.advance(RETRY_WHEN_BACK_MS);
    assert.equal(await done, 'restored');
    assert.equal(runs, 2);
    watch.stop();
  });

  it('does not run again what failed for another reason', async () => {
    const account = redisLike();
    const watch = watchStateHealth(account, { durable: 'server' }, status, time.clock);
    await assert.rejects(
      watch.retryWhenBack(() => Promise.reject(new Error('a damaged record'))),
      /a damaged record/,
    );
    watch.stop();
  });
});
