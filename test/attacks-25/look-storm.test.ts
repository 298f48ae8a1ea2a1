/**
 * Attack on the look at Twilio's clock (twilioOffsetForIntent, lib/outbound/reconcile.ts) as an
 * operator meets it at a start: a burst of first intents, Twilio answering the look 500, Twilio not
 * answering it at all.
 *
 * Promises: (1) 500 intents arriving at once after a start make ONE look (GET Accounts/AC….json,
 * counted where it reaches "Twilio"), and each intent gets the offset; (2) a look answered 500 lets
 * the intents go at once, without an offset, and no intent in the next minute looks again (no look
 * storm: a look whose connection is reset tells nothing); one minute later, one new look (a 500 carries a Date header and teaches the offset: checked); (3) a look Twilio never answers holds the intents at most
 * 3 s on lib's clock, and the alarm's create still goes right after.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ManualClock, installClock } from '../../lib/core/clock';
import { twilioOffsetForIntent } from '../../lib/outbound/reconcile';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { FROM, accountAt } from '../support/accounts';
import { lookCounter } from '../support/proxy';

const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
let proxy: Awaited<ReturnType<typeof lookCounter>>;
before(async () => {
  await simulator.start();
  proxy = await lookCounter(simulator.url);
});
after(async () => {
  await proxy.close();
  await simulator.stop();
});

it('500 first intents at once after a start make one look, and each gets the offset', async () => {
  const before = proxy.looks();
  const started = accountAt(proxy.url);
  try {
    const offsets = await Promise.all(Array.from({ length: 500 }, () => twilioOffsetForIntent(started.account)));
    assert.equal(proxy.looks() - before, 1, `looks at Twilio's clock for 500 intents: ${proxy.looks() - before}`);
    assert.equal(offsets.filter((o) => o === undefined).length, 0, 'every intent has the offset');
  } finally {
    await started.close();
  }
});

it('a look answered 500 still tells Twilio’s clock (its Date header)', async () => {
  const started = accountAt(proxy.url);
  try {
    simulator.failNext({ type: 'http', status: 500, code: 20500 });
    const offset = await twilioOffsetForIntent(started.account);
    assert.ok(offset !== undefined && Math.abs(offset) < 5_000, `offset after a look answered 500: ${offset}`);
  } finally {
    await started.close();
  }
});

it('a look whose connection is reset lets the intents go at once, and no intent looks again within the minute', async () => {
  const clock = new ManualClock(Date.now());
  const restore = installClock(clock);
  const started = accountAt(proxy.url);
  try {
    const before = proxy.looks();
    simulator.failNext({ type: 'reset' });
    let settled = 0;
    const first = Array.from({ length: 50 }, () => twilioOffsetForIntent(started.account).finally(() => settled++));
    await clock.advance(100);
    for (let i = 0; i < 200 && settled < 50; i++) await new Promise((r) => setTimeout(r, 10));
    await clock.advance(3_000);
    for (let i = 0; i < 200 && settled < 50; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(settled, 50, `intents that went within 3.1 s of lib's clock after a reset look: ${settled} of 50`);
    const offsets = await Promise.all(first);
    const afterFirst = proxy.looks() - before;
    // Every 5 s of the rest of the minute, another intent.
    for (let s = 5; s < 55; s += 5) {
      await clock.advance(2_000);
      const pending = twilioOffsetForIntent(started.account);
      await clock.advance(3_000);
      await pending;
    }
    const withinMinute = proxy.looks() - before - afterFirst;
    console.log(
      `look-storm: reset look: ${afterFirst} look request(s) for 50 intents (retries included); offsets ${[...new Set(offsets)].join(',')}; ${withinMinute} more within the minute`,
    );
    assert.ok(afterFirst <= 6, `look requests for 50 intents after a reset: ${afterFirst}`);
    assert.equal(withinMinute, 0, `looks within the minute after a reset look: ${withinMinute}`);
  } finally {
    await started.close();
    restore();
  }
});

it('a look Twilio never answers holds an intent at most 3 s of lib’s clock, and the alarm’s create goes right after', async () => {
  const clock = new ManualClock(Date.now());
  const restore = installClock(clock);
  const started = accountAt(proxy.url);
  try {
    simulator.failNext({ type: 'timeout' });
    let settled = 0;
    const intents = Array.from({ length: 20 }, () => twilioOffsetForIntent(started.account).finally(() => settled++));
    await clock.advance(2_900);
    assert.equal(settled, 0, 'still looking before 3 s');
    await clock.advance(200);
    for (let i = 0; i < 200 && settled < 20; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(settled, 20, `intents that went 3.1 s after a look that never came back: ${settled} of 20`);
    assert.deepEqual(new Set(await Promise.all(intents)), new Set([undefined]));
    const created = (await started.account.getClient().messages.create({ to: '+15555552521', from: FROM, body: 'Smoke' })) as {
      sid: string;
    };
    assert.match(created.sid, /^SM/);
  } finally {
    await started.close();
    restore();
  }
});
