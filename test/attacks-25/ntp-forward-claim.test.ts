/**
 * Attack on reconcile (lib/outbound/reconcile.ts) with a clock BEHIND Twilio's, the dangerous
 * direction: a Raspberry Pi boots an hour behind Twilio. Its first alarm ("Smoke in the kitchen")
 * goes through "wait for the outcome": the intent looked at Twilio's clock first, the text went, its
 * Sid was claimed for the intent (rememberSid: SID_MEMORY_MS), it was delivered and its wait
 * ended. Three minutes later the SAME alarm fires again: its intent is stored (with the right offset),
 * the power is cut before its request reached Twilio (nothing went). NTP steps the clock forward an
 * hour before Node-RED is back (the machine now agrees with Twilio).
 *
 * Promise (reconcile.ts): each Sid goes to one intent only, remembered SID_MEMORY_MS; a record the
 * intent did not make is never taken: the second alarm is reported NOT_SENT (undefined), never
 * delivered with the first alarm's Sid (an undelivered alarm reported delivered).
 *
 * The claim's time to live is kept by the embedded engine on the wall clock (lib/state/embedded.ts
 * reads clock.now()): a forward NTP step of an hour ended every claim at once while SID_MEMORY_MS was
 * an hour (this failed). It is a day now: a step of more than a day still ends them (the README says so).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ManualClock, installClock, systemClock } from '../../lib/core/clock';
import { SendIntent, reconcileIntent, reconcilingSince, rememberSid, twilioOffsetForIntent } from '../../lib/outbound/reconcile';
import { setClockSkew } from '../../simulator/resources';
import { FROM, accountAt, skewedSimulator } from '../support/accounts';

const TO = '+15555552501';
const HOUR = 3_600_000;
const owner = {};
reconcilingSince(owner, 0);

/** The simulated Twilio's clock is the real one plus a skew: moving lib's clock moves Twilio's as much. */
let skew = 0;
const skewTo = (ms: number) => setClockSkew((skew = ms));
async function later(clock: ManualClock, ms: number): Promise<void> {
  skewTo(skew + ms);
  await clock.advance(ms);
}

const simulator = skewedSimulator();

it('an alarm whose request never reached Twilio is not reported delivered with an earlier identical alarm after NTP steps the clock forward', async () => {
  skewTo(HOUR); // Twilio's clock an hour ahead of this machine's
  const clock = new ManualClock(Date.now());
  const restore = installClock(clock);
  const body = 'Smoke in the kitchen';
  let firstSid: string;
  let second: SendIntent;
  const booted = accountAt(simulator.url);
  try {
    // The first alarm: intent (with the look), text, its Sid claimed for its intent; delivered, its wait ends.
    const offset = await twilioOffsetForIntent(booted.account);
    assert.ok(offset !== undefined && Math.abs(offset - HOUR) < 5_000, `the look told Twilio's clock: ${offset}`);
    firstSid = ((await booted.account.getClient().messages.create({ to: TO, from: FROM, body })) as { sid: string }).sid;
    await rememberSid(booted.account, firstSid, 'send/first');
    await later(clock, 3 * 60_000); // three minutes later, the same alarm again
    const offset2 = await twilioOffsetForIntent(booted.account);
    second = { kind: 'message', to: TO, from: FROM, body, at: systemClock.now(), twilioOffsetMs: offset2 };
    // The power is cut before its request left: nothing went.
  } finally {
    await booted.close();
  }
  clock.set(clock.now() + HOUR); // NTP: this machine agrees with Twilio now
  await later(clock, 30_000); // Node-RED is back half a minute later
  const restarted = accountAt(simulator.url);
  try {
    const found = await reconcileIntent(restarted.account, owner, second, new Set(), 'send/second');
    assert.equal(
      found,
      undefined,
      `the second alarm never went, yet reconcile reported it sent as the first alarm's text (${found}; first was ${firstSid})`,
    );
  } finally {
    await restarted.close();
    restore();
    skewTo(0);
  }
});

it('control: without the NTP step, the first alarm stays its own intent and the second is NOT_SENT', async () => {
  skewTo(0);
  const clock = new ManualClock(Date.now());
  const restore = installClock(clock);
  const to = '+15555552502';
  const body = 'Smoke in the kitchen';
  let second: SendIntent;
  const booted = accountAt(simulator.url);
  try {
    await twilioOffsetForIntent(booted.account);
    const sid = ((await booted.account.getClient().messages.create({ to, from: FROM, body })) as { sid: string }).sid;
    await rememberSid(booted.account, sid, 'send/c-first');
    await later(clock, 3 * 60_000);
    second = { kind: 'message', to, from: FROM, body, at: systemClock.now(), twilioOffsetMs: await twilioOffsetForIntent(booted.account) };
  } finally {
    await booted.close();
  }
  await later(clock, 30_000);
  const restarted = accountAt(simulator.url);
  try {
    assert.equal(await reconcileIntent(restarted.account, owner, second, new Set(), 'send/c-second'), undefined);
  } finally {
    await restarted.close();
    restore();
    skewTo(0);
  }
});
