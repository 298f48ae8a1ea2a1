/**
 * Attack (issue #22): Twilio's signature runs over the URL and the sorted parameters written as
 * key+value with NO separator. A stranger holding one captured, validly signed "yes" can move the
 * boundary between one parameter and the next (`MessageSid=SMx&NumMedia=0` becomes
 * `MessageSid=SMxNumMedia0`): the signature still holds, but the event's identity (its MessageSid)
 * is new, so the durable duplicate memory (heard.ts) does not know it, and with a fresh
 * I-Twilio-Idempotency-Token it answers a newer question. Each capture yields several such variants.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import { sleep } from '../support/assertions';
import { postWebhook } from '../support/flows';
import { ACCOUNT, helper, loadWithAccount, received, signedInbound, signedText, useHttpNode, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';

const HOUSE = '+15017122661';
const PERSON = '+15555550177';

describe('attack: a captured signed webhook re-split at a parameter boundary', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();
  const time = useManualClock();

  async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await Promise.race([simulator.settled(), sleep(20)]);
      await sleep(2);
      if (!check()) await time.clock.advance(250);
    }
  }

  it('the same signature with moved boundaries is a duplicate: it answers no newer question', async () => {
    await loadWithAccount(simulator.url, [
      ...signedInbound('/twilio/account'),
      {
        id: 'ask',
        type: 'twilio-ask',
        z: 'tab',
        account: 'account',
        to: 'to',
        toType: 'msg',
        from: HOUSE,
        fromType: 'str',
        body: 'Question',
        bodyType: 'str',
        answers: [{ type: 'words', value: 'yes, y', label: 'yes' }],
        timeout: 3600,
        mode: 'each',
        outputs: 4,
        wires: [['yes'], ['else'], ['noReply'], ['notDelivered']],
      },
      ...['yes', 'else', 'noReply', 'notDelivered'].map((id) => ({ id, type: 'helper', z: 'tab' })),
    ]);
    const got = received(['news', 'yes', 'else', 'noReply', 'notDelivered']);
    const questions = () => [...simulator.messages.values()].filter((m) => m.to === PERSON && m.direction !== 'inbound');
    const url = `${httpNode.base()}/twilio/account`;

    // The person's real "yes" to the first question: Twilio signs and posts it; the stranger captures it.
    const sid = 'SM' + crypto.randomBytes(16).toString('hex');
    const params: Record<string, string> = {
      MessageSid: sid,
      SmsSid: sid,
      AccountSid: ACCOUNT.sid,
      From: PERSON,
      To: HOUSE,
      Body: 'yes',
      NumMedia: '0',
      SmsStatus: 'received',
      ApiVersion: '2010-04-01',
    };
    const signature = twilio.getExpectedTwilioSignature(ACCOUNT.authToken, url, params);
    const post = async (p: Record<string, string>) => {
      const res = await postWebhook(url, p, signature);
      return res.status;
    };
    helper.getNode('ask').receive({ to: PERSON, payload: 'first' });
    await until(() => questions().length === 1, 'the first question');
    assert.equal(await post(params), 200);
    await until(() => got.yes.length === 1, 'the real answer');

    // For each variant a newer question ("unlock the door?") is asked, and the stranger replays the
    // captured "yes" re-split: the signed text and the signature are unchanged.
    const variants: Record<string, Record<string, string>> = {
      // MessageSid swallows NumMedia: a new MessageSid, so a new identity
      'MessageSid=SMxNumMedia0': (({ NumMedia, ...rest }) => ({ ...rest, MessageSid: `${sid}NumMedia${NumMedia}` }))(params),
      // MessageSid empty, the Sid moved into a key of its own: no identity at all (token only)
      'MessageSid=&SMxNumMedia=0': (({ NumMedia, ...rest }) => ({ ...rest, MessageSid: '', [`${sid}NumMedia`]: NumMedia }))(params),
    };
    const answered: string[] = [];
    let asked = 1;
    for (const [name, v] of Object.entries(variants)) {
      assert.equal(signedText(v), signedText(params), `${name}: the signed text is unchanged`);
      assert.equal(twilio.validateRequest(ACCOUNT.authToken, signature, url, v), true, `${name}: the captured signature still holds`);
      helper.getNode('ask').receive({ to: PERSON, payload: `unlock the door (${name})` });
      asked++;
      await until(() => questions().length === asked, 'the newer question');
      const before = got.yes.length;
      assert.equal(await post(v), 200);
      await sleep(200);
      await time.clock.advance(250);
      await sleep(50);
      if (got.yes.length > before) answered.push(name);
    }
    assert.deepEqual({ answeredByReplay: answered, news: got.news.length }, { answeredByReplay: [], news: 0 });
  });
});
