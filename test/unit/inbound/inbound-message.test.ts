/**
 * One builder of what twilio-in sends for an event, by webhook or by poll: published first, held back
 * when a subscriber claims it, and not published at all without a hub (a webhook nobody checked).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InboundHub } from '../../../lib/inbound/hub';
import { receiveInbound } from '../../../lib/inbound/inbound-message';

const CA = 'CA' + 'e'.repeat(32);
const call = { CallSid: CA, From: '+15558675310', To: '+15017122661', CallStatus: 'no-answer', AccountSid: 'AC1' };

describe('receiveInbound', () => {
  it('builds the same msg for a webhook and a poll, a poll marked as such and with the kind it was listed as', async () => {
    const hook = await receiveInbound(new InboundHub(), call, { source: 'webhook' });
    const poll = await receiveInbound(new InboundHub(), call, { source: 'poll', event: 'call', at: 5 });
    assert.deepEqual(hook, {
      payload: call,
      twilio: { event: 'call-status', sid: CA, from: call.From, to: call.To, accountSid: 'AC1' },
    });
    assert.deepEqual(poll, {
      payload: call,
      twilio: { event: 'call', sid: CA, from: call.From, to: call.To, accountSid: 'AC1', source: 'poll' },
    });
  });

  it('publishes on the hub, and returns nothing when a subscriber claims it (its repeat too)', async () => {
    const hub = new InboundHub();
    const heard: unknown[] = [];
    hub.subscribe({ sid: CA }, (event) => {
      heard.push([event.kind, event.source, event.at]);
      return 'claimed';
    });
    assert.equal(await receiveInbound(hub, call, { source: 'poll', event: 'call', at: 5 }), undefined);
    assert.equal(await receiveInbound(hub, call, { source: 'poll', event: 'call', at: 5 }), undefined);
    assert.deepEqual(heard, [['call', 'poll', 5]]);
  });

  it('waits for a claim still being decided (a question another instance may hold): nothing when it is claimed, the msg when not', async () => {
    const hub = new InboundHub();
    hub.subscribe({ from: '+15558675310' }, (event) => Promise.resolve(event.params.Body === 'yes' ? 'claimed' : undefined));
    const text = (sid: string, Body: string) => ({ MessageSid: sid, From: '+15558675310', To: '+15017122661', Body });
    assert.equal(await receiveInbound(hub, text('SM1', 'yes'), { source: 'webhook' }), undefined);
    assert.equal(((await receiveInbound(hub, text('SM2', 'hello'), { source: 'webhook' }))?.payload as { Body: string }).Body, 'hello');
  });

  it('publishes nothing without a hub, and gathers media', async () => {
    const msg = await receiveInbound(
      undefined,
      { MessageSid: 'SM1', NumMedia: '1', MediaUrl0: 'https://m/0', MediaContentType0: 'image/png' },
      { source: 'webhook' },
    );
    assert.deepEqual((msg?.payload as { media: unknown }).media, [{ url: 'https://m/0', contentType: 'image/png' }]);
  });
});
