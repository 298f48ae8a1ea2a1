/**
 * twilio-in's polling without Node-RED: a PollReceiver over a stand-in SDK client (a listing of
 * messages the test fills), on a ManualClock. What it finds is published on the account's hub; what
 * no one claims is emitted once; its status and log follow the looks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../lib/core/clock';
import type { TwilioAccount } from '../../../lib/account/account';
import { inboundHubFor } from '../../../lib/inbound/hub';
import type { InboundMsg } from '../../../lib/inbound/inbound-message';
import { PollReceiver } from '../../../lib/inbound/poll-receiver';
import { POLL_MAX_BACKOFF_MS } from '../../../lib/inbound/poller';
import type { KeyValueStore } from '../../../lib/node-red/context';
import { standInState } from './stand-in-state';

const HOUSE = '+15017122661';
const PERSON = '+15558675310';
const sid = (n: number) => 'SM' + n.toString(16).padStart(32, '0');

function memoryStore(): KeyValueStore {
  const data = new Map<string, unknown>();
  return {
    get: async (key) => data.get(key),
    set: async (key, value) => void (value === undefined ? data.delete(key) : data.set(key, value)),
    keys: async () => [...data.keys()],
  };
}

/** An account whose client lists `records` (newest first, as Twilio does), or fails while `failing`. */
function standInAccount(clock: ManualClock) {
  const state = { records: [] as Array<Record<string, unknown>>, failing: false, looks: 0 };
  const client = {
    messages: {
      page: async () => {
        state.looks++;
        if (state.failing) throw Object.assign(new Error('Authenticate'), { status: 401, code: 20003 });
        return { instances: state.records, nextPageUrl: undefined, nextPage: async () => undefined };
      },
    },
  };
  const text = (n: number, body: string) =>
    state.records.unshift({
      sid: sid(n),
      direction: 'inbound',
      accountSid: 'AC' + '0'.repeat(32),
      from: PERSON,
      to: HOUSE,
      body,
      numMedia: '0',
      dateSent: new Date(clock.now()),
    });
  const account = {
    getClient: () => client,
    clientFor: () => client,
    queue: { withdraw: () => undefined },
    redact: (s: string) => s,
    ...standInState(),
  } as unknown as TwilioAccount;
  return { account, state, text };
}

function start() {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const { account, state, text } = standInAccount(clock);
  const got = { msgs: [] as InboundMsg[], warnings: [] as string[], logs: [] as string[], statuses: [] as string[] };
  const status = (fill: string) => (key: string) => void got.statuses.push(`${fill} ${key}`);
  const receiver = new PollReceiver(
    account,
    { store: memoryStore(), to: HOUSE, calls: false, intervalMs: 10_000 },
    {
      emit: (msg) => void got.msgs.push(msg),
      warn: (key) => void got.warnings.push(key),
      log: (key) => void got.logs.push(key),
      status: { working: status('blue'), success: status('green'), warning: status('yellow'), failed: status('red') },
      clock,
    },
  );
  return { clock, account, state, text, got, receiver };
}

/**
 * Moves the clock on, then waits (real time: what a look heard is claimed in the engine, real I/O)
 * until the poller has scheduled its next look, as it does once a look ends.
 */
async function step(clock: ManualClock, ms: number): Promise<void> {
  await clock.advance(ms);
  for (const deadline = Date.now() + 5_000; clock.pending === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 1));
}

describe('PollReceiver', () => {
  it('hands on what arrives after its first look, once, published first; history is not replayed', async () => {
    const { clock, account, state, text, got, receiver } = start();
    const heard: string[] = [];
    inboundHubFor(account).subscribe({ to: HOUSE }, (event) => void heard.push(`${event.source} ${event.sid}`));
    text(1, 'history');
    await step(clock, 0);
    assert.equal(state.looks, 1);
    assert.equal(got.msgs.length, 0);
    text(2, 'Lights on');
    await step(clock, 10_000);
    await step(clock, 10_000);
    assert.equal(state.looks, 3);
    assert.deepEqual(
      got.msgs.map((m) => [(m.payload as { Body: string }).Body, m.twilio.source, m.twilio.event]),
      [['Lights on', 'poll', 'message']],
    );
    assert.deepEqual(heard, [`poll ${sid(2)}`]);
    assert.equal(got.statuses[0], 'blue twilio-in.status.polling');
    assert.equal(got.statuses.at(-1), 'green twilio-in.status.polled');
    assert.equal(inboundHubFor(account).sources, 1);
    await receiver.close();
    assert.equal(inboundHubFor(account).sources, 0);
    await clock.advance(60_000); // closed: nothing waits
    assert.equal(state.looks, 3, 'no look after close');
  });

  it('keeps an answer a subscriber claims from the flow', async () => {
    const { clock, account, text, got, receiver } = start();
    inboundHubFor(account).subscribe({ from: PERSON, to: HOUSE }, () => 'claimed');
    await step(clock, 0);
    text(3, 'YES');
    await step(clock, 10_000);
    assert.equal(got.msgs.length, 0);
    await receiver.close();
  });

  it('backs off while looks fail (by the clock), warns once, and logs the recovery', async () => {
    const { clock, state, text, got, receiver } = start();
    await step(clock, 0);
    state.failing = true;
    await step(clock, 10_000); // fails: next in 20 s
    await step(clock, 19_999);
    assert.equal(state.looks, 2, 'not before the backoff');
    await step(clock, 1); // fails: next in 40 s
    assert.equal(state.looks, 3);
    assert.deepEqual(got.statuses.slice(-2), ['red twilio-in.status.pollFailed', 'red twilio-in.status.pollFailed']);
    state.failing = false;
    text(4, 'after the outage');
    await step(clock, 40_000);
    assert.equal(state.looks, 4);
    assert.deepEqual(got.warnings, ['twilio-in.warnings.pollFailed']);
    assert.deepEqual(got.logs, ['twilio-in.warnings.pollRecovered']);
    assert.equal(got.msgs.length, 1);
    assert.ok(POLL_MAX_BACKOFF_MS >= 40_000);
    await receiver.close();
  });

  it("looks again later when the account's state cannot say whether a text was heard, and then hands it on once", async () => {
    const { clock, account, text, got, receiver } = start();
    const real = account.state!;
    let down = false;
    // The engine stops answering (Redis down): its claims fail; the rest goes to the real one.
    (account as { state?: unknown }).state = {
      guarantees: real.guarantees,
      claim: (key: string, ttlMs: number) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : real.claim(key, ttlMs)),
      subscribe: real.subscribe.bind(real),
      publish: real.publish.bind(real),
    };
    await step(clock, 0);
    down = true;
    text(7, 'yes');
    await step(clock, 10_000);
    assert.equal(got.msgs.length, 0, 'not known to be new: not handed on');
    assert.equal(got.statuses.at(-1), 'red twilio-in.status.pollFailed');
    down = false;
    await step(clock, 20_000);
    await step(clock, 10_000);
    assert.deepEqual(
      got.msgs.map((m) => (m.payload as { Body: string }).Body),
      ['yes'],
    );
    await receiver.close();
  });
});
