/**
 * Attack 29: the account's state engine fails mid-burst (a full disk: every write refused with
 * STATE_UNAVAILABLE) while twilio-in's poller hands on a burst of texts with the records of each
 * text written together with the next text's claim (lib/inbound/poller.ts handOn, "pipelining").
 * The store fails right as text 5 is emitted: its records (handedOn, its Sid remembered) and the
 * next claim are refused.
 *
 * Found:
 * - HELD: the look fails (STATE_UNAVAILABLE), nothing is unhandled, and the next look once the disk
 *   has room hands on the rest: every text once, text 5 not again.
 * - HELD: a disk full for several looks (the next look after TAKEOVER_MS): text 5 (the one between
 *   its emit and its records) is handed on a second time, as before the change, and no other.
 * - PROVED (not new: the old code ends the same way): the text whose records failed is "remembered
 *   but not heard": the next look finds its claim still "being taken" by this process, counts it a
 *   duplicate, remembers its Sid and never says handedOn. Its claim stays "being taken" for 30 days,
 *   so a replay of its signed webhook (or Twilio's webhook to another twilio-in of the account)
 *   more than TAKEOVER_MS later is taken and handed on again. FIXED: a record the engine refused
 *   is said again after each look until it is taken (poll-receiver.ts record).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TAKEOVER_MS, heardFirst } from '../../lib/inbound/heard';
import { INTERVAL_MS, burstOnEmbedded, twice, unhandledDuring } from './burst';

const BURST = 12;
const FAILS_AT = 5;

describe('attack 29: the store fails mid-burst', () => {
  it('full from text 5’s records until the look fails: every text once after, nothing unhandled', async () => {
    const { store, burst, end } = burstOnEmbedded();
    try {
      const unhandled = await unhandledDuring(async () => {
        await burst.step(0); // the first look: the mark
        const sent = Array.from({ length: BURST }, () => burst.twilio.text());
        burst.onEmit = (_sid, index) => {
          if (index === FAILS_AT) store.fault = 'fail';
        };
        await burst.step(INTERVAL_MS);
        assert.equal(burst.statuses.at(-1), 'red twilio-in.status.pollFailed', 'the look failed');
        assert.deepEqual(burst.emitted, sent.slice(0, FAILS_AT), 'the texts up to the failure went, no further');
        store.fault = 'none';
        await burst.step(2 * INTERVAL_MS); // the backoff: within TAKEOVER_MS of text 5's claim
        await burst.step(INTERVAL_MS);
        assert.deepEqual(burst.emitted, sent, 'every text once, oldest first');
        assert.ok(store.failed > 0);
      });
      assert.deepEqual(unhandled, []);
    } finally {
      await end();
    }
  });

  it('full for several looks (back after TAKEOVER_MS): text 5 at most twice, as before, every other once', async (t) => {
    const { store, burst, end } = burstOnEmbedded();
    try {
      const unhandled = await unhandledDuring(async () => {
        await burst.step(0);
        const sent = Array.from({ length: BURST }, () => burst.twilio.text());
        burst.onEmit = (_sid, index) => {
          if (index === FAILS_AT) store.fault = 'fail';
        };
        await burst.step(INTERVAL_MS);
        await burst.step(2 * INTERVAL_MS); // fails again: next in 40 s
        store.fault = 'none';
        await burst.step(4 * INTERVAL_MS); // 60 s after text 5's claim
        await burst.step(INTERVAL_MS);
        assert.deepEqual([...new Set(burst.emitted)], sent, 'every text, in order');
        const repeated = twice(burst.emitted);
        t.diagnostic(`emitted more than once: ${JSON.stringify(repeated)}`);
        assert.ok(
          Object.keys(repeated).every((sid) => sid === sent[FAILS_AT - 1]),
          `only the text between its emit and its records may go twice: ${JSON.stringify(repeated)}`,
        );
      });
      assert.deepEqual(unhandled, []);
    } finally {
      await end();
    }
  });

  it('the text whose records failed is heard for good once the store is back: its signed webhook replayed later is refused', async () => {
    const { clock, store, burst, end } = burstOnEmbedded();
    try {
      await burst.step(0);
      const sent = Array.from({ length: BURST }, () => burst.twilio.text());
      burst.onEmit = (_sid, index) => {
        if (index === FAILS_AT) store.fault = 'fail';
      };
      await burst.step(INTERVAL_MS);
      store.fault = 'none';
      await burst.step(2 * INTERVAL_MS);
      await burst.step(INTERVAL_MS);
      assert.deepEqual(burst.emitted, sent, 'every text once');
      // Every text was handed on, and the store has answered for a while: each is heard. A replay of
      // the webhook Twilio signed for one (a fresh delivery token: Twilio does not sign it) comes later.
      clock.set(clock.now() + TAKEOVER_MS);
      const taken: string[] = [];
      for (const sid of sent) {
        const replay = { value: `replay-${sid}`, windowMs: 600_000 };
        if (await heardFirst(store.engine, burst.accountSid, `message|${sid}`, replay, clock.now(), `signature-of-${sid}`)) taken.push(sid);
      }
      assert.deepEqual(
        taken,
        [],
        `handed on by poll, yet taken again by a replay: ${taken.join(', ')} (text ${FAILS_AT} is ${sent[FAILS_AT - 1]})`,
      );
    } finally {
      await end();
    }
  });
});
