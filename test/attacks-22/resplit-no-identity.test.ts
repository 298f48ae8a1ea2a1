/**
 * Attack (issue #22), the re-split class again (see resplit-replay.test.ts): a captured signed request
 * re-split so that it has NO identity at all (its Sids, or its CallStatus, moved into a key of their
 * own) is told apart by its unsigned delivery token only: with a fresh one each time, a captured
 * "open the gate" text, or an incoming call, is news for the flow again and again.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import { sleep } from '../support/assertions';
import { postWebhook } from '../support/flows';
import { ACCOUNT, loadWithAccount, received, signedInbound, signedText, useHttpNode, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';
import { acquireStateEngine, embeddedStateDir } from '../../lib/account/state-engines';

describe('attack: a captured signed webhook re-split into one without an identity', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  it('is not news again, however its boundaries move', async () => {
    await loadWithAccount(simulator.url, signedInbound('/twilio/in'));
    const { news } = received(['news']);
    const url = `${httpNode.base()}/twilio/in`;

    const sm = 'SM' + crypto.randomBytes(16).toString('hex');
    const text: Record<string, string> = {
      AccountSid: ACCOUNT.sid,
      ApiVersion: '2010-04-01',
      Body: 'open the gate',
      From: '+15555550177',
      MessageSid: sm,
      NumMedia: '0',
      SmsMessageSid: sm,
      SmsSid: sm,
      SmsStatus: 'received',
      To: '+15017122661',
    };
    // No MessageSid, SmsMessageSid, SmsSid nor SmsStatus: each swallowed by a key of its own.
    const { MessageSid, NumMedia, SmsMessageSid, SmsSid, SmsStatus, ...textRest } = text;
    const textWithout = {
      ...textRest,
      [`MessageSid${MessageSid}NumMedia`]: NumMedia,
      [`SmsMessageSid${SmsMessageSid}SmsSid${SmsSid}SmsStatus`]: SmsStatus,
    };

    const ca = 'CA' + crypto.randomBytes(16).toString('hex');
    const call: Record<string, string> = {
      AccountSid: ACCOUNT.sid,
      ApiVersion: '2010-04-01',
      CallSid: ca,
      CallStatus: 'ringing',
      Called: '+15017122661',
      Caller: '+15555550177',
      Direction: 'inbound',
      From: '+15555550177',
      To: '+15017122661',
    };
    // CallStatus (and Called) swallowed by a key: no longer "ringing", so a call without an identity.
    const { CallStatus, Called, ...callRest } = call;
    const callWithout = { ...callRest, [`CallStatus${CallStatus}Called`]: Called };

    /** How many records the account's memory of what it heard holds (the node's engine: embedded, this process's temp dir). */
    const heardKeys = async () => {
      const { engine, release } = acquireStateEngine({ backend: 'embedded', dir: embeddedStateDir(undefined) });
      try {
        return (await engine.scan('inbound/', 1000)).length;
      } finally {
        await release();
      }
    };
    const replays: string[] = [];
    for (const [name, original, variant] of [
      ['a text', text, textWithout],
      ['an incoming call', call, callWithout],
    ] as const) {
      assert.equal(signedText(variant), signedText(original));
      const signature = twilio.getExpectedTwilioSignature(ACCOUNT.authToken, url, original);
      assert.equal(twilio.validateRequest(ACCOUNT.authToken, signature, url, variant), true);
      const post = async (p: Record<string, string>) => (await postWebhook(url, p, signature)).status;
      const before = news.length;
      assert.equal(await post(original), 200, `${name}: Twilio's own delivery`);
      await sleep(50);
      const stored = await heardKeys();
      assert.ok(stored > 0, 'the delivery was remembered (in the engine the check reads)');
      for (let i = 0; i < 3; i++) await post(variant);
      await sleep(100);
      const after = await heardKeys();
      if (after !== stored) replays.push(`${name}: ${after - stored} records written by replays`);
      if (news.length - before !== 1) replays.push(`${name}: news ${news.length - before} times`);
    }
    assert.deepEqual(replays, []);
  });

  // A request within a call (CallStatus in-progress, a <Redirect>) is signed alike each time, so only
  // its unsigned token tells two apart (hub.ts's eventIdentity). What tells a replay is its call: over
  // (minutes ago) or not this account's. Within the call itself a replay stays news: README, "What is not".
  describe('within a call', () => {
    const time = useManualClock();
    it('a captured request within a call, replayed with fresh tokens once its call is over, is not news; nor one for a call the account does not have', async () => {
      await loadWithAccount(simulator.url, signedInbound('/twilio/in'));
      const { news } = received(['news']);
      const url = `${httpNode.base()}/twilio/in`;
      const { sid: ca } = await simulator.receiveCall({ from: '+15555550177', to: '+15017122661' }, { url });
      assert.equal(news.length, 1, "the call's first request (ringing) is news");
      const within = (callSid: string, status = 'in-progress') => ({
        AccountSid: ACCOUNT.sid,
        ApiVersion: '2010-04-01',
        CallSid: callSid,
        CallStatus: status,
        Direction: 'inbound',
        From: '+15555550177',
        To: '+15017122661',
      });
      const post = (params: Record<string, string>) =>
        fetch(url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            'X-Twilio-Signature': twilio.getExpectedTwilioSignature(ACCOUNT.authToken, url, params),
            'I-Twilio-Idempotency-Token': crypto.randomUUID(),
          },
          body: new URLSearchParams(params).toString(),
        }).then((r) => r.status);
      const looks = (sid: string) => simulator.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/Calls/${sid}.json`)).length;

      // During the call: Twilio's requests within it (a <Redirect> loop) are each news.
      for (let i = 0; i < 2; i++) assert.equal(await post(within(ca)), 200);
      assert.equal(news.length, 3, 'requests within a call going on are news');

      // The call ends; a <Dial> action right at its end is still Twilio's.
      Object.assign(simulator.calls.get(ca)!, { status: 'completed', end_time: new Date(time.clock.now()).toUTCString() });
      await time.clock.advance(1_100); // past the second a call seen going on is believed to be
      assert.equal(await post(within(ca, 'completed')), 200);
      assert.equal(news.length, 4, "a request right at the call's end is news");

      // Minutes later, the captured request replayed with fresh tokens: refused, and one look for all.
      await time.clock.advance(6 * 60_000);
      const before = looks(ca);
      for (let i = 0; i < 20; i++) assert.equal(await post(within(ca)), 200, 'answered, so Twilio would stop');
      assert.ok(looks(ca) - before <= 1, `${looks(ca) - before} looks at the call for 20 replays`);
      const other = 'CA' + crypto.randomBytes(16).toString('hex');
      // Replays arriving together wait for one look.
      const answers = await Promise.all(Array.from({ length: 10 }, () => post(within(other))));
      assert.deepEqual(new Set(answers), new Set([200]));
      assert.equal(looks(other), 1, 'a call the account does not have: one look for 10 replays at once');
      assert.equal(news.length, 4, `news ${news.length - 4} more times after the call ended`);
    });
  });
});
