/**
 * Attack on the first intent after a start (twilioOffsetForIntent, lib/outbound/reconcile.ts): its
 * offset to Twilio's clock comes from ONE answer, the look at the account's record. A caching proxy
 * on the way (or any middlebox) hands back a stale answer to that GET: its `Date` header is two
 * hours old. The median of nine samples does not help: at the look there is one sample.
 *
 * Story: the same alarm ("Smoke in the kitchen") went to the same person 90 minutes ago, as a wait's
 * text (its Sid claimed as that wait's, as the nodes do). Node-RED starts; the alarm fires again; its
 * intent is stored with the look's offset; the power is cut before its request reached Twilio
 * (nothing went). After the restart (no proxy in the way now) the intent is reconciled.
 *
 * Promise: an intent whose request never reached Twilio is NOT_SENT (undefined), never "delivered"
 * as an older identical text (an undelivered alarm reported delivered).
 * Found: with SID_MEMORY_MS an hour, the older text's claim had gone and it was taken. One stale
 * sample cannot be told from the truth (the intent's offset IS two hours off); what holds the promise
 * is the memory of whose each Sid is, a day now (a wrong offset moves the look-up back by as much).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { systemClock } from '../../lib/core/clock';
import { SendIntent, reconcileIntent, reconcilingSince, rememberSid, twilioOffsetForIntent } from '../../lib/outbound/reconcile';
import { setClockSkew } from '../../simulator/resources';
import { FROM, accountAt, skewedSimulator } from '../support/accounts';
import { type PassThrough, isLook, passThrough } from '../support/proxy';

const TO = '+15555552511';
const owner = {};
reconcilingSince(owner, 0);

/** A proxy to `target` whose answers to GET of the account's record carry a Date `staleMs` old (a stale cached answer). */
async function staleCache(target: string, staleMs: number): Promise<PassThrough & { looks: () => number }> {
  let looks = 0;
  const proxy = await passThrough(target, {
    onRequest: (req) => void (isLook(req) && looks++),
    headers: (req, headers) => (isLook(req) ? { ...headers, date: new Date(Date.now() - staleMs).toUTCString() } : headers),
  });
  return { ...proxy, looks: () => looks };
}

const simulator = skewedSimulator();

it('one stale Date header at the look does not make an alarm that never went "delivered" as an older identical text', async () => {
  const body = 'Smoke in the kitchen';
  // The same alarm, 90 minutes ago (Twilio's record says so); whose it was is forgotten by now.
  setClockSkew(-90 * 60_000);
  const older = accountAt(simulator.url);
  let olderSid: string;
  try {
    olderSid = ((await older.account.getClient().messages.create({ to: TO, from: FROM, body })) as { sid: string }).sid;
    await rememberSid(older.account, olderSid, 'send/older/' + TO);
  } finally {
    await older.close();
    setClockSkew(0);
  }
  const proxy = await staleCache(simulator.url, 2 * 3_600_000);
  const booted = accountAt(proxy.url);
  let intent: SendIntent;
  try {
    const twilioOffsetMs = await twilioOffsetForIntent(booted.account);
    intent = {
      kind: 'message',
      to: TO,
      from: FROM,
      body,
      at: systemClock.now(),
      ...(twilioOffsetMs === undefined ? {} : { twilioOffsetMs }),
    };
    assert.equal(proxy.looks(), 1, 'one look at Twilio’s clock');
    // The power is cut here: the alarm's request never left.
  } finally {
    await booted.close();
    await proxy.close();
  }
  const restarted = accountAt(simulator.url);
  try {
    const found = await reconcileIntent(restarted.account, owner, intent, new Set(), 'send/stale/' + TO);
    assert.equal(
      found,
      undefined,
      `the alarm never went, yet reconcile reported it sent as the 90-minute-old text ${olderSid} (intent stored with twilioOffsetMs ${intent.twilioOffsetMs})`,
    );
  } finally {
    await restarted.close();
  }
});
