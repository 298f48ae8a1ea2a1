/**
 * Attack 29: a replayed signed webhook of a text the poller has just handed on, arriving while that
 * text's records (handedOn, its Sid remembered) are still pending: now they are written with the next
 * text's claim instead of before it. The replay is heardFirst with the text's identity, a signature
 * and a fresh delivery token (Twilio does not sign the token), as the webhook receiver calls it.
 *
 * Found: HELD. While the records are pending the text's claim is "being taken" by this (live)
 * process, and the replay is refused; once they land it is heard, and the replay is refused again.
 * (After a power cut in that window the claim is a previous run's and the replay is taken: the one
 * text between its emit and its records, as before the change: see kill-during-burst.test.ts.)
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { heardFirst } from '../../lib/inbound/heard';
import { INTERVAL_MS, burstOnEmbedded } from './burst';

it('attack 29: a replay of a text’s signed webhook while its records are pending, and after, is refused', async () => {
  const { clock, raw, store, burst, end } = burstOnEmbedded();
  try {
    await burst.step(0);
    const sent = Array.from({ length: 8 }, () => burst.twilio.text());
    burst.onEmit = (_sid, index) => {
      if (index === 3) store.fault = 'hold'; // text 3 is out; its records (and text 4's claim) hang
    };
    await clock.advance(INTERVAL_MS);
    for (const deadline = Date.now() + 5_000; !(burst.emitted.length === 3 && store.held.length >= 1) && Date.now() < deadline;)
      await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(burst.emitted.length, 3);
    const replay = (sid: string, n: number) =>
      heardFirst(raw, burst.accountSid, `message|${sid}`, { value: `fresh-token-${n}`, windowMs: 600_000 }, clock.now(), `sig-${sid}`);
    assert.equal(await replay(sent[2], 1), false, 'refused while its records are pending');
    assert.equal(await replay(sent[0], 2), false, 'an earlier text of the burst: refused');
    store.fault = 'none';
    for (const write of store.held.splice(0)) write.release();
    await burst.step(INTERVAL_MS);
    assert.deepEqual(burst.emitted, sent, 'every text once');
    clock.set(clock.now() + 61_000); // past TAKEOVER_MS: a claim still "being taken" would be taken now
    for (const [i, sid] of sent.entries()) assert.equal(await replay(sid, 10 + i), false, `text ${i + 1} refused later`);
  } finally {
    await end();
  }
});
