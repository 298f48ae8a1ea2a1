/**
 * Attack (issue #22): Twilio signs a JSON body by its hash (bodySHA256 in the signed URL); the
 * Content-Type is not signed. A stranger holding one captured JSON webhook posts its very bytes again
 * as a form, with a fresh I-Twilio-Idempotency-Token each time: the signature holds (the body hash
 * matches), the form's "parameters" carry no Sid, so the event has no identity and only its token
 * is checked: every replay is news for the flow.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import { sleep } from '../support/assertions';
import { ACCOUNT, loadWithAccount, received, signedInbound, useHttpNode, useRuntime } from '../support/harness';

describe('attack: a captured JSON webhook replayed as a form', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  it('its bytes under another Content-Type, with fresh tokens, are news once at most', async () => {
    await loadWithAccount(simulator.url, signedInbound('/twilio/json'));
    const { news } = received(['news']);

    const sid = 'SM' + crypto.randomBytes(16).toString('hex');
    const raw = JSON.stringify({
      MessageSid: sid,
      AccountSid: ACCOUNT.sid,
      From: '+15555550177',
      To: '+15017122661',
      Body: 'open the gate',
    });
    const hash = crypto.createHash('sha256').update(raw).digest('hex');
    const url = `${httpNode.base()}/twilio/json?bodySHA256=${hash}`;
    const signature = twilio.getExpectedTwilioSignature(ACCOUNT.authToken, url, {});
    const post = async (type: string) =>
      (
        await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': type, 'X-Twilio-Signature': signature, 'I-Twilio-Idempotency-Token': crypto.randomUUID() },
          body: raw,
        })
      ).status;
    assert.equal(await post('application/json'), 200, 'Twilio’s own delivery');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await post('application/x-www-form-urlencoded'));
    for (let i = 0; i < 5; i++) statuses.push(await post('application/json'));
    await sleep(200);
    assert.equal(news.length, 1, `news ${news.length} times for one captured webhook (statuses ${statuses.join(',')})`);
  });
});
