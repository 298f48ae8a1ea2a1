/**
 * Attack 29: twilio-in closed (a redeploy, a removal, a shutdown) in the middle of a poller's
 * hand-on of a burst, while the records of the text just emitted are still being written with the
 * next text's claim (lib/inbound/poller.ts handOn). Node-RED takes a closing node's flow out before
 * it calls close (Flow.stop deletes it from activeNodes, then stopNode): a msg the closed node sends
 * after that reaches no one. A fresh receiver on the same store is the redeployed node.
 *
 * Found:
 * - HELD: the store stalls (every write hangs) right after text 5: close resolves after its 5 s
 *   budget (on the clock), not later; when the hanging writes then fail, nothing is unhandled and
 *   the redeployed node hands on texts 6 to 12 once, text 5 not again.
 * - PROVED: a claim in flight when the node closes goes on: once the engine answers, the closed
 *   node emits that text (to no one: Node-RED has taken its flow out) and records it heard and
 *   remembered, so the redeployed node never hands it on: the text is lost. Shown twice:
 *   - the store stalls right after text 5's emit and answers after the close: NEW. The code before
 *     the change waited there for text 5's records and claimed nothing more (this test passes on
 *     4881ce8); now text 6's claim is already out with them.
 *   - no stall, close called as text 6's claim goes out: not new (fails on 4881ce8 too), but the
 *     loop now awaits nothing but claims (the records ride along), so a close lands on one almost
 *     every time (redeploy-mid-burst.test.ts: 9 texts lost in 9 redeploys; on 4881ce8, 5 in 15).
 *   FIXED: the receiver checks for a close once the claim is back (and again before the emit),
 *   gives the claim back (heard.ts notHandedOn, on the engine it claimed on: the account closes in
 *   the same redeploy) and fails the look, so the text stays for the node that comes next.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digest, heardPrefix } from '../../lib/inbound/heard';
import { INTERVAL_MS, burstOnEmbedded, redeployed, unhandledDuring } from './burst';

const BURST = 12;
const AT = 5;

/** Waits (real I/O) until `check` holds, or fails after 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 5_000; !check();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const turns = async (n = 10) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('attack 29: closed in the middle of a hand-on', () => {
  it('a stalled store: close resolves within its budget, nothing unhandled, the redeployed node hands on the rest once', async () => {
    const { clock, store, burst: old, end } = burstOnEmbedded();
    try {
      const unhandled = await unhandledDuring(async () => {
        await old.step(0);
        const sent = Array.from({ length: BURST }, () => old.twilio.text());
        old.onEmit = (_sid, index) => {
          if (index === AT) store.fault = 'hold';
        };
        await clock.advance(INTERVAL_MS);
        await until(() => old.emitted.length === AT && store.held.length >= 1, 'text 5 out, its records hanging');
        let closed = false;
        const closing = old.receiver.close().then(() => (closed = true));
        await turns();
        await clock.advance(4_999);
        await turns();
        assert.equal(closed, false, 'close waits for the look a while');
        await clock.advance(1);
        await turns();
        assert.equal(closed, true, 'close resolves once its 5 s are up, the store still stalled');
        await closing;
        // The store answers at last: every hanging write fails (the disk was full).
        store.fault = 'none';
        for (const write of store.held.splice(0)) write.fail();
        await turns(50);
        assert.deepEqual(old.emitted, sent.slice(0, AT), 'nothing emitted after close');
        const again = await redeployed(old, store.engine);
        assert.deepEqual([...old.emitted, ...again.emitted], sent, 'every text once, by the old node or the redeployed one');
      });
      assert.deepEqual(unhandled, []);
    } finally {
      await end();
    }
  });

  for (const how of ['the store stalled at close, answering after', 'no stall: close called as the next claim goes out'] as const) {
    it(`a claim in flight at close (${how}): the text is emitted by no closed node and handed on by the redeployed one`, async () => {
      const { clock, raw, store, burst: old, end } = burstOnEmbedded();
      let closing: Promise<void> | undefined;
      let closedAt: number | undefined;
      try {
        const unhandled = await unhandledDuring(async () => {
          await old.step(0);
          const sent = Array.from({ length: BURST }, () => old.twilio.text());
          const nextClaim = `${heardPrefix(old.accountSid)}e/${digest(`message|${sent[AT]}`)}`;
          if (how === 'the store stalled at close, answering after') {
            old.onEmit = (_sid, index) => {
              if (index === AT) store.fault = 'hold';
            };
          } else {
            // Node-RED stops the node (its flow is out first) as the claim of text 6 goes to the store.
            store.onWrite = (method, key) => {
              if (method === 'claim' && key === nextClaim && !closing) {
                closedAt = old.emitted.length;
                closing = old.receiver.close();
              }
            };
          }
          await clock.advance(INTERVAL_MS);
          if (how === 'the store stalled at close, answering after') {
            await until(() => old.emitted.length === AT && store.held.length >= 1, 'text 5 out, its records hanging');
            closedAt = old.emitted.length;
            closing = old.receiver.close();
            await turns();
            await clock.advance(5_000); // close's budget: the redeploy goes on
            await closing;
            store.fault = 'none';
            for (const write of store.held.splice(0)) write.release(); // the store answers again
          }
          await until(() => closing !== undefined, 'the close');
          await clock.advance(5_000);
          await closing;
          await turns(50);
          await raw.settled();
          const again = await redeployed(old, store.engine);
          const reached = [...old.emitted.slice(0, closedAt), ...again.emitted];
          const afterClose = old.emitted.slice(closedAt);
          assert.deepEqual(
            { reached, afterClose },
            { reached: sent, afterClose: [] },
            `a text emitted by the closed node (to no one), then never handed on by the redeployed one`,
          );
        });
        assert.deepEqual(unhandled, []);
      } finally {
        await end();
      }
    });
  }
});
