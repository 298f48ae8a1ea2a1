/**
 * The account's one inbound path: subscribers by Sid, by a pair of numbers and by a number; each
 * event reaches each subscriber once, even when it arrives twice; memory of events is bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InboundEvent, InboundHub, eventIdentity, inboundHubFor } from '../../../lib/inbound/hub';

const SM = 'SM' + 'a'.repeat(32);
const reply = (overrides: Partial<InboundEvent> = {}, params: Record<string, unknown> = {}): InboundEvent => ({
  kind: 'message',
  sid: SM,
  from: '+15558675310',
  to: '+15017122661',
  params: { MessageSid: SM, Body: 'YES', ...params },
  source: 'webhook',
  ...overrides,
});

describe('InboundHub', () => {
  it('delivers by Sid, by the pair of numbers and by the number, once to a subscriber that matches several ways', () => {
    const hub = new InboundHub();
    const got: string[] = [];
    hub.subscribe({ sid: SM }, () => got.push('sid'));
    hub.subscribe({ from: '+15558675310', to: '+15017122661' }, () => got.push('pair'));
    hub.subscribe({ to: '+15017122661' }, () => got.push('number'));
    hub.subscribe({ from: '+15550000000', to: '+15017122661' }, () => got.push('someone else'));
    const both = () => got.push('both');
    hub.subscribe({ sid: SM }, both);
    hub.subscribe({ to: '+15017122661' }, both);
    hub.subscribe({ from: '+15558675310' }, () => got.push('sender'));
    assert.deepEqual(hub.publish(reply()), { delivered: 5, claimed: false });
    assert.deepEqual(got.sort(), ['both', 'number', 'pair', 'sender', 'sid']);
  });

  it('reaches no one with the same event a second time (webhook, then poll), but does with its next status', () => {
    const hub = new InboundHub();
    const statuses: string[] = [];
    hub.subscribe({ sid: SM }, (e) => statuses.push(String(e.params.MessageStatus)));
    const status = (value: string, source: InboundEvent['source']) => reply({ kind: 'message-status', source }, { MessageStatus: value });
    hub.publish(status('sent', 'webhook'));
    hub.publish(status('sent', 'poll'));
    hub.publish(status('delivered', 'poll'));
    hub.publish(status('delivered', 'webhook'));
    assert.deepEqual(statuses, ['sent', 'delivered']);
    assert.notEqual(eventIdentity(status('sent', 'webhook')), eventIdentity(status('delivered', 'webhook')));
  });

  it('stops delivering once unsubscribed, and keeps no empty index behind', () => {
    const hub = new InboundHub();
    let count = 0;
    const stop = hub.subscribe({ from: '+15558675310', to: '+15017122661' }, () => count++);
    hub.publish(reply({ sid: 'SM' + '1'.repeat(32) }));
    stop();
    hub.publish(reply({ sid: 'SM' + '2'.repeat(32) }));
    assert.equal(count, 1);
    assert.equal(hub.subscriptions, 0);
  });

  it("keeps one subscriber's failure from the others and from the publisher", () => {
    const errors: unknown[] = [];
    const hub = new InboundHub((err) => errors.push(err));
    let reached = false;
    hub.subscribe({ sid: SM }, () => {
      throw new Error('a broken subscriber');
    });
    hub.subscribe({ sid: SM }, () => (reached = true));
    assert.doesNotThrow(() => hub.publish(reply()));
    assert.ok(reached);
    assert.equal(errors.length, 1);
  });

  it('remembers a bounded number of events: the oldest may come again', () => {
    const hub = new InboundHub();
    let count = 0;
    hub.subscribe({ to: '+15017122661' }, () => count++);
    const sid = (i: number) => 'SM' + String(i).padStart(32, '0');
    for (let i = 0; i < 10_001; i++) hub.publish(reply({ sid: sid(i) }));
    assert.equal(count, 10_001);
    hub.publish(reply({ sid: sid(10_000) }));
    assert.equal(count, 10_001, 'a recent one is still known');
    hub.publish(reply({ sid: sid(0) }));
    assert.equal(count, 10_002, 'the oldest was forgotten');
  });

  it('says an event was claimed when one subscriber took it as its own, for its repeat too', () => {
    const hub = new InboundHub();
    hub.subscribe({ from: '+15558675310', to: '+15017122661' }, () => 'claimed');
    hub.subscribe({ to: '+15017122661' }, () => undefined);
    assert.deepEqual(hub.publish(reply()), { delivered: 2, claimed: true });
    assert.deepEqual(hub.publish(reply({ source: 'poll' })), { delivered: 0, claimed: true }, 'the same answer by poll');
    assert.deepEqual(hub.publish(reply({ sid: 'SM' + 'b'.repeat(32), from: '+15550000000' })), { delivered: 1, claimed: false });
  });

  it('waits for a claim a subscriber is still deciding: a repeat meanwhile waits on the same answer; claimed once it resolves', async () => {
    const hub = new InboundHub();
    let decide!: (value: unknown) => void;
    let calls = 0;
    hub.subscribe({ from: '+15558675310' }, () => (calls++, new Promise((resolve) => (decide = resolve))));
    const first = hub.publish(reply());
    assert.equal(first.claimed, false);
    assert.ok(first.settled, 'a pending claim is said');
    const repeat = hub.publish(reply({ source: 'poll' }));
    assert.equal(repeat.delivered, 0);
    assert.equal(repeat.settled, first.settled, 'the repeat waits on the same answer, not news on its own');
    decide('claimed');
    assert.equal(await first.settled, true);
    assert.deepEqual(hub.publish(reply({ source: 'poll' })), { delivered: 0, claimed: true }, 'remembered as claimed');
    assert.equal(calls, 1);
  });

  it('a pending claim that fails or declines is news, the failure told to onHandlerError; nothing pending allocates no promise', async () => {
    const errors: unknown[] = [];
    const hub = new InboundHub((err) => errors.push(err));
    let n = 0;
    hub.subscribe({ from: '+15558675310' }, () => (n++ % 2 === 0 ? Promise.reject(new Error('engine down')) : Promise.resolve(undefined)));
    const failed = hub.publish(reply());
    assert.equal(await failed.settled, false);
    assert.equal(errors.length, 1);
    const declined = hub.publish(reply({ sid: 'SM' + 'd'.repeat(32) }));
    assert.equal(await declined.settled, false);
    assert.deepEqual(hub.publish(reply({ sid: 'SM' + 'd'.repeat(32) })), { delivered: 0, claimed: false }, 'settled: no longer pending');
    assert.deepEqual(hub.publish(reply({ sid: 'SM' + 'e'.repeat(32), from: '+15550000000' })), { delivered: 0, claimed: false });
  });

  it('hands what no one claimed or is deciding to the onUnclaimed hooks, which may claim it later', async () => {
    const hub = new InboundHub();
    const looked: string[] = [];
    const stop = hub.onUnclaimed(
      (event) => (looked.push(String(event.params.Body)), Promise.resolve(event.params.Body === 'mine' ? 'claimed' : undefined)),
    );
    hub.subscribe({ from: '+15558675310' }, (event) => (event.params.Body === 'taken' ? 'claimed' : undefined));
    assert.equal(hub.publish(reply({ sid: 'SM' + '3'.repeat(32) }, { Body: 'taken' })).claimed, true);
    const mine = hub.publish(reply({ sid: 'SM' + '4'.repeat(32) }, { Body: 'mine' }));
    assert.equal(await mine.settled, true);
    const news = hub.publish(reply({ sid: 'SM' + '5'.repeat(32) }, { Body: 'news' }));
    assert.equal(await news.settled, false);
    assert.deepEqual(looked, ['mine', 'news'], 'not asked about what a subscriber claimed');
    stop();
    assert.deepEqual(hub.publish(reply({ sid: 'SM' + '6'.repeat(32) }, { Body: 'mine' })), { delivered: 1, claimed: false });
  });

  it('counts the sources that feed it', () => {
    const hub = new InboundHub();
    const stop = hub.addSource();
    hub.addSource();
    assert.equal(hub.sources, 2);
    stop();
    stop();
    assert.equal(hub.sources, 1);
  });

  it('gives each account its own hub, the same one every time', () => {
    const [a, b] = [{}, {}];
    assert.equal(inboundHubFor(a), inboundHubFor(a));
    assert.notEqual(inboundHubFor(a), inboundHubFor(b));
  });

  it('tells events apart by what Twilio signs: one arrival however it came, each status and step, a key press by its route', () => {
    const CA = 'CA' + 'c'.repeat(32);
    const call = (kind: InboundEvent['kind'], params: Record<string, unknown>, extra: Partial<InboundEvent> = {}) =>
      eventIdentity({ kind, sid: CA, params: { CallSid: CA, ...params }, source: 'webhook', ...extra });
    // A text's arrival: with or without SmsStatus, by webhook or by poll.
    assert.equal(eventIdentity(reply()), eventIdentity(reply({ source: 'poll' }, { SmsStatus: 'received' })));
    // A call's arrival: its first request, or the poll that lists it later (ended by then).
    assert.equal(call('call', { CallStatus: 'ringing' }), call('call', { CallStatus: 'completed' }, { source: 'poll' }));
    // A request within a call (a <Redirect>): nothing signed tells two apart; its token does.
    assert.equal(call('call', { CallStatus: 'in-progress' }), undefined);
    const statuses = [
      call('call-status', { CallStatus: 'ringing', SequenceNumber: '1' }),
      call('call-status', { CallStatus: 'completed', SequenceNumber: '3' }),
    ];
    assert.notEqual(statuses[0], statuses[1]);
    const press = (digits: string, route: string) => call('gather', { CallStatus: 'in-progress', Digits: digits }, { route });
    assert.equal(press('1', '/twilio/keys'), press('1', '/twilio/keys'), 'a replayed key press');
    assert.notEqual(press('1', '/twilio/keys'), press('2', '/twilio/keys'));
    assert.notEqual(press('1', '/twilio/keys'), press('1', '/twilio/keys?step=2'), "another <Gather>'s action URL");
    assert.equal(eventIdentity(reply({ sid: undefined })), undefined, 'without a Sid: by its token only');
  });
});
