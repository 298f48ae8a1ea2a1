/**
 * Attacks on reconcile after a crash (lib/outbound/reconcile.ts) with a clock that is wrong, as an
 * unlucky operator's machine has it: an intent's time is this machine's, compared with Twilio's
 * `dateCreated` through the offset to Twilio's clock the account learnt from Twilio's answers.
 *
 * 1. A Raspberry Pi whose RTC keeps local time boots an hour ahead of Twilio; its first text after the
 *    boot (an alarm: no answer came before) goes, the power is cut before its Sid is written, NTP
 *    steps the clock right before Node-RED is back. The intent looked at Twilio's clock first
 *    (twilioOffsetForIntent), so its time is placed right on Twilio's clock: found.
 * 2. The same Pi, but NTP steps the clock while Node-RED runs, after the offset was learnt and before
 *    the alarm, with no answer in between: the offset follows the step (it is kept against the
 *    monotonic clock), so the intent is not an hour off: found.
 * 3. A proxy on the way to Twilio strips the `Date` header: a create's `date_created` tells Twilio's
 *    time, so every text after the first is found. The first text after a start, on a machine minutes
 *    ahead, is the one case left: nothing tells the time before it, and its reconcile says "not sent"
 *    (sent twice: the safe way to be wrong; never an undelivered alarm reported delivered).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TwilioAccount } from '../../lib/account/account';
import { ManualClock, installClock, systemClock } from '../../lib/core/clock';
import { SendIntent, reconcileIntent, reconcilingSince, twilioOffsetForIntent, twilioOffsetOf } from '../../lib/outbound/reconcile';
import { setClockSkew } from '../../simulator/resources';
import { FROM, accountAt, skewedSimulator } from '../support/accounts';
import { passThrough } from '../support/proxy';

/** Looking since long ago (RECONCILE_SETTLE_MS is not what these tests are about): nothing found is "not sent". */
const owner = {};
reconcilingSince(owner, 0);

/** A proxy to `target` that strips the Date header of every answer (as some corporate proxies do). */
const dateStripper = (target: string) =>
  passThrough(target, {
    headers: (_req, headers) => {
      delete headers.date;
      return headers;
    },
  });

describe('reconcile with a wrong clock', () => {
  const simulator = skewedSimulator();
  let n = 0;
  const recipient = () => `+1555555${String(7600 + n++)}`;

  /** An intent as the nodes make it (lib/waits/outcome-waits.ts intend, asking, pager): the offset looked up first. */
  const intentFor = async (account: TwilioAccount, to: string, body: string): Promise<SendIntent> => {
    const twilioOffsetMs = await twilioOffsetForIntent(account);
    return { kind: 'message', to, from: FROM, body, at: systemClock.now(), ...(twilioOffsetMs === undefined ? {} : { twilioOffsetMs }) };
  };
  const text = async (account: TwilioAccount, to: string, body: string) =>
    ((await account.getClient().messages.create({ to, from: FROM, body })) as { sid: string }).sid;

  it('finds the first text after a boot an hour ahead when NTP set the clock right before the restart', async () => {
    setClockSkew(-3_600_000); // Twilio's clock an hour behind this machine's
    const to = recipient();
    const booted = accountAt(simulator.url);
    let sid: string;
    let intent: SendIntent;
    try {
      assert.equal(booted.account.queue.twilioClock.offsetMs(), undefined, 'no answer before the first text');
      intent = await intentFor(booted.account, to, 'Smoke in the kitchen');
      assert.ok(Math.abs(intent.twilioOffsetMs! + 3_600_000) < 5_000, `the intent knows Twilio's clock: ${intent.twilioOffsetMs}`);
      sid = await text(booted.account, to, 'Smoke in the kitchen');
    } finally {
      await booted.close(); // the power cut: the Sid was never written
    }
    // NTP stepped this machine's clock back an hour: it now agrees with Twilio's.
    const restore = installClock(new ManualClock(Date.now() - 3_600_000));
    const restarted = accountAt(simulator.url);
    try {
      assert.equal(await reconcileIntent(restarted.account, owner, intent, new Set(), 'send/boot/' + to), sid);
    } finally {
      await restarted.close();
      restore();
      setClockSkew(0);
    }
  });

  it('finds the alarm of a machine whose clock NTP stepped while it ran, after the offset was learnt, with no answer since', async () => {
    setClockSkew(-3_600_000);
    const clock = new ManualClock(Date.now());
    const restore = installClock(clock);
    const to = recipient();
    const running = accountAt(simulator.url);
    let sid: string;
    let intent: SendIntent;
    try {
      await running.account.getClient().messages.list({ limit: 1 }); // it talked to Twilio: the offset is an hour
      assert.ok(Math.abs(twilioOffsetOf(running.account)! + 3_600_000) < 5_000, `${twilioOffsetOf(running.account)}`);
      clock.set(clock.now() - 3_600_000); // NTP: this machine's clock agrees with Twilio's now
      intent = await intentFor(running.account, to, 'Water leak in the cellar');
      assert.ok(Math.abs(intent.twilioOffsetMs!) < 5_000, `the offset followed the step: ${intent.twilioOffsetMs}`);
      sid = await text(running.account, to, 'Water leak in the cellar');
    } finally {
      await running.close(); // the power cut
    }
    const restarted = accountAt(simulator.url);
    try {
      assert.equal(await reconcileIntent(restarted.account, owner, intent, new Set(), 'send/step/' + to), sid);
    } finally {
      await restarted.close();
      restore();
      setClockSkew(0);
    }
  });

  it("finds every text but a start's first of a machine ten minutes ahead when a proxy strips Twilio's Date header", async () => {
    setClockSkew(-600_000); // Twilio's clock ten minutes behind this machine's
    const proxy = await dateStripper(simulator.url);
    const [first, second] = [recipient(), recipient()];
    const running = accountAt(proxy.url);
    let intents: SendIntent[];
    let sids: string[];
    try {
      // The first text after the start: nothing tells Twilio's time before it (the look's answer has no Date).
      const firstIntent = await intentFor(running.account, first, 'Front door open');
      assert.equal(firstIntent.twilioOffsetMs, undefined, 'no offset learnt without a Date header');
      const firstSid = await text(running.account, first, 'Front door open');
      // Its create's date_created told Twilio's time: the next intent carries it.
      const secondIntent = await intentFor(running.account, second, 'Front door open');
      assert.ok(Math.abs(secondIntent.twilioOffsetMs! + 600_000) < 5_000, `${secondIntent.twilioOffsetMs}`);
      const secondSid = await text(running.account, second, 'Front door open');
      [intents, sids] = [
        [firstIntent, secondIntent],
        [firstSid, secondSid],
      ];
    } finally {
      await running.close(); // the power cut: neither Sid was written
    }
    const restarted = accountAt(proxy.url);
    try {
      assert.equal(await reconcileIntent(restarted.account, owner, intents[1], new Set(), 'send/strip/' + second), sids[1]);
      // The one left: reported not sent (a text sent twice), never a text that did not go reported sent.
      assert.equal(await reconcileIntent(restarted.account, owner, intents[0], new Set(), 'send/strip/' + first), undefined);
    } finally {
      await restarted.close();
      await proxy.close();
      setClockSkew(0);
    }
  });
});
