/**
 * A captured, validly signed webhook posted again after Node-RED was killed (SIGKILL, as a power cut)
 * and started again on its user dir: what Twilio signed was heard before the kill, remembered in the
 * embedded store, so the replay with a fresh I-Twilio-Idempotency-Token is answered empty and is not
 * news; a new text still is.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, describe, it } from 'node:test';
import twilio from 'twilio';
import { DEMO_ACCOUNT } from '../../simulator/server';
import { CREDENTIALS, postWebhook, replyFlow } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';

const TOKEN = DEMO_ACCOUNT.authToken;
const PUBLIC = 'https://home.example.com';
const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

const flows = replyFlow('/twilio/sms', { publicBaseUrl: PUBLIC });

/** A text as Twilio posts it, signed for the public URL (the same whatever port Node-RED listens on). */
function text(body: string) {
  const params = {
    MessageSid: 'SM' + crypto.randomBytes(16).toString('hex'),
    AccountSid: DEMO_ACCOUNT.sid,
    From: '+15558675310',
    To: '+15017122661',
    Body: body,
    NumMedia: '0',
    SmsStatus: 'received',
  };
  const signature = twilio.getExpectedTwilioSignature(TOKEN, `${PUBLIC}/twilio/sms`, params);
  return async (red: RedProcess, token: string = crypto.randomUUID()) => {
    const res = await postWebhook(`${red.url}/twilio/sms`, params, signature, { token });
    return { status: res.status, body: await res.text() };
  };
}

describe('twilio-in after a power cut', { timeout: 120_000 }, () => {
  let red: RedProcess | undefined;
  after(async () => red?.stop());

  it('drops a signed "yes" replayed with a fresh token after Node-RED was killed and started again', async () => {
    red = await startRed(flows, CREDENTIALS);
    const yes = text('yes');
    const first = await yes(red);
    assert.equal(first.status, 200);
    assert.match(first.body, /got yes/, 'heard the first time: news, answered by the flow');
    assert.deepEqual(await yes(red), { status: 200, body: EMPTY }, 'a replay before the kill');

    await red.kill();
    red = await restartRed(red);
    assert.deepEqual(await yes(red), { status: 200, body: EMPTY }, 'a replay after the restart: answered, not news');
    const another = await text('no')(red);
    assert.match(another.body, /got no/, 'a new text is news');
    assert.doesNotMatch(red.log(), /TypeError|Unhandled/);
  });
});
