/**
 * twilio-page: contacts in turn, a ladder of steps each, until someone acknowledges by key or by
 * reply; voicemail skipped; a contact that cannot be reached; cancel mid-call with all clear; one
 * page per alarm; 50 pages at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCOUNT, FlowNode, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';

/** simulator/people.ts */
const PRESSES_1 = '+15555550120';
const ANSWERS_NO_KEY = '+15555550121';
const TEXTS_ACK = '+15555550122';
const VOICEMAIL = '+15555550103';
const PHONE_OFF = '+15555550101';
const ANSWERS_BY_HAND = '+15555550100';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('twilio-page', () => {
  // Carol acknowledges by text at once, not after a second and a half of real time.
  const { simulator } = useRuntime({ people: { [TEXTS_ACK]: { call: 'no-answer', reply: { text: 'ACK', afterMs: 50 } } } });
  const httpNode = useHttpNode();
  const account = () => accountNode(simulator.url, 'authToken');

  // The pages' step waits and their looks at calls run on a manual clock; the simulator runs on real time.
  const time = useManualClock();

  /**
   * Resolves once `check` holds. Between two looks the simulator gets a moment of real time to do
   * what it was asked (ring, answer, press a key, reply), and then the pages' time.clock moves on a
   * quarter of a second: a step's wait of 20 s is 80 turns, however long it would really take.
   */
  async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
    const deadline = time.clock.now() + ms * 4;
    const realDeadline = Date.now() + 20_000;
    while (!check()) {
      if (time.clock.now() > deadline || Date.now() > realDeadline) throw new Error(`timed out waiting for ${what}`);
      await Promise.race([simulator.settled(), sleep(20)]);
      await sleep(2);
      if (!check()) await time.clock.advance(250);
    }
  }

  function flow(page: Record<string, unknown>): FlowNode[] {
    return [
      { id: 'tab', type: 'tab', label: 't' },
      account().node,
      // Receives the key presses (a public URL) and the texts back.
      {
        id: 'in',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        path: '/twilio/keys',
        publicBaseUrl: httpNode.base(),
        validate: true,
        reply: 'auto',
        wires: [[]],
      },
      {
        id: 'page',
        type: 'twilio-page',
        z: 'tab',
        account: 'account',
        contacts: '',
        contactsType: 'str',
        alert: 'Smoke detected in the {{payload}}.',
        steps: [{ action: 'call', wait: 20 }],
        rounds: 1,
        ackKey: '1',
        ackWords: 'ack, ok',
        skipVoicemail: true,
        keysNode: 'in',
        alarmId: 'topic',
        alarmIdType: 'msg',
        wires: [['acknowledged'], ['exhausted'], ['cancelled']],
        ...page,
      },
      { id: 'acknowledged', type: 'helper', z: 'tab' },
      { id: 'exhausted', type: 'helper', z: 'tab' },
      { id: 'cancelled', type: 'helper', z: 'tab' },
    ];
  }
  async function load(page: Record<string, unknown>) {
    simulator.find('incomingPhoneNumbers')!.sms_url = `${httpNode.base()}/twilio/keys`;
    await helper.load(allNodes, flow(page), { account: account().credentials });
    const got = { acknowledged: [] as any[], exhausted: [] as any[], cancelled: [] as any[], statuses: [] as string[], dones: 0 };
    for (const o of ['acknowledged', 'exhausted', 'cancelled'] as const) helper.getNode(o).on('input', (m: any) => got[o].push(m));
    const node = helper.getNode('page') as any;
    node.on('call:status', (c: any) => got.statuses.push(String(c.args[0].text)));
    const complete = node._complete.bind(node);
    node._complete = (m: unknown, err: unknown) => {
      got.dones++;
      complete(m, err);
    };
    return got;
  }
  const calls = (to: string) => [...simulator.calls.values()].filter((c) => c.to === to);
  const texts = (to: string) =>
    [...simulator.messages.values()].filter((m) => m.to === to && m.direction !== 'inbound').map((m) => String(m.body));

  it('calls in turn, skips voicemail and a phone that rings out, and ends when someone presses 1', async () => {
    const got = await load({ contacts: `Voicemail ${VOICEMAIL}, Off ${PHONE_OFF}, Alice ${PRESSES_1}, Bob ${ANSWERS_NO_KEY}` });
    helper.getNode('page').receive({ topic: 'smoke', payload: 'kitchen', sensor: 3 });
    await until(() => got.acknowledged.length === 1, 'the acknowledgement');
    const [msg] = got.acknowledged;
    assert.equal(msg.sensor, 3);
    assert.deepEqual([msg.page.acknowledged.name, msg.page.acknowledged.how, msg.page.acknowledged.afterSteps], ['Alice', 'key', 2]);
    assert.deepEqual(
      msg.page.history.map((h: any) => [h.name, h.action, h.outcome]),
      [
        ['Voicemail', 'call', 'voicemail'],
        ['Off', 'call', 'no-answer'],
      ],
    );
    assert.equal(calls(ANSWERS_NO_KEY).length, 0, 'Bob was never called');
    const twiml = String(calls(PRESSES_1)[0].twiml ?? simulator.requests.find((r) => r.params.To === PRESSES_1)?.params.Twiml);
    assert.match(twiml, /<Gather[^>]*action="http:\/\/127\.0\.0\.1:\d+\/twilio\/keys"/);
    assert.match(twiml, /Smoke detected in the kitchen\. Press 1 to acknowledge\./);
    assert.ok(got.statuses.includes('twilio-page.status.calling'));
    assert.equal(got.dones, 1);
  });

  it('texts, and takes a reply with an acknowledgement word; without a public URL its calls ask for a text', async () => {
    const got = await load({
      contacts: JSON.stringify([{ name: 'Carol', number: TEXTS_ACK }]),
      contactsType: 'json',
      steps: [
        { action: 'call', wait: 5 },
        { action: 'text', wait: 20 },
      ],
      keysNode: '',
    });
    helper.getNode('page').receive({ topic: 'water', payload: 'basement' });
    await until(() => got.acknowledged.length === 1, 'the acknowledgement by text');
    assert.deepEqual([got.acknowledged[0].page.acknowledged.how, got.acknowledged[0].page.acknowledged.number], ['reply', TEXTS_ACK]);
    const call = simulator.requests.find((r) => r.path.endsWith('/Calls.json') && r.params.To === TEXTS_ACK)!;
    assert.doesNotMatch(String(call.params.Twiml), /<Gather/);
    assert.match(String(call.params.Twiml), /reply ACK to our text/);
    assert.match(texts(TEXTS_ACK)[0], /^Smoke detected in the basement\. Reply ACK to acknowledge\.$/);
  });

  it('goes on past a contact whose number is invalid, and reports every step when nobody acknowledges', async () => {
    const got = await load({ contacts: `Nobody +15005550001, Bob ${ANSWERS_NO_KEY}`, rounds: 2 });
    helper.getNode('page').receive({ topic: 'smoke', payload: 'hall' });
    await until(() => got.exhausted.length === 1, 'nobody acknowledged', 30_000);
    assert.deepEqual(
      got.exhausted[0].page.history.map((h: any) => [h.name, h.round, h.outcome]),
      [
        ['Nobody', 1, 'failed'],
        ['Bob', 1, 'no-ack'],
        ['Nobody', 2, 'failed'],
        ['Bob', 2, 'no-ack'],
      ],
    );
    assert.match(got.exhausted[0].page.history[0].error, /^INVALID_TO_PHONE_NUMBER_ERROR/);
  });

  it('cancels mid-call: hangs up, texts all clear to those alerted, and leaves by cancelled; one page per alarm', async () => {
    await simulatorSettings({ statusCallbackDelayMs: 1_000 });
    try {
      const got = await load({
        contacts: `Bob ${ANSWERS_NO_KEY}`,
        steps: [
          { action: 'text', wait: 5 },
          { action: 'call', wait: 30 },
        ],
        allClear: 'All clear: {{payload}} is fine.',
        cancelTopic: 'cleared',
      });
      helper.getNode('page').receive({ topic: 'smoke', payload: 'garage' });
      helper.getNode('page').receive({ topic: 'smoke', payload: 'garage again' });
      await until(() => calls(ANSWERS_NO_KEY).length === 1, 'the call');
      assert.equal(texts(ANSWERS_NO_KEY).length, 1, 'the second alarm was merged, not paged again');
      helper.getNode('page').receive({ topic: 'cleared' });
      await until(() => got.cancelled.length === 1, 'the cancel');
      assert.equal(got.cancelled[0].page.merged, 1);
      await until(() => texts(ANSWERS_NO_KEY).length === 2, 'all clear');
      assert.equal(texts(ANSWERS_NO_KEY)[1], 'All clear: garage is fine.');
      await until(() => calls(ANSWERS_NO_KEY)[0].status === 'completed', 'the call hung up');
      assert.equal(got.dones, 3, 'the page, the merged alarm and the cancel each ended once');
    } finally {
      await simulatorSettings({ statusCallbackDelayMs: 20 });
    }
  });

  it('keeps a running page across a redeploy: the step goes on with the time it had left, and its end leaves once', async () => {
    const got = await load({ contacts: `Bob ${ANSWERS_NO_KEY}, Alice ${PRESSES_1}`, steps: [{ action: 'text', wait: 6 }] });
    helper.getNode('page').receive({ topic: 'smoke', payload: 'attic' });
    await until(() => texts(ANSWERS_NO_KEY).length === 1, "Bob's text");
    await helper.setFlows(
      flow({ contacts: `Bob ${ANSWERS_NO_KEY}, Alice ${PRESSES_1}`, steps: [{ action: 'text', wait: 6 }], name: 'changed' }),
      'full',
      {
        account: account().credentials,
      },
    );
    assert.equal(got.dones, 1, 'the msg that started it ended when its node stopped');
    const after = { exhausted: [] as any[] };
    helper.getNode('exhausted').on('input', (m: any) => after.exhausted.push(m));
    await until(() => after.exhausted.length === 1, 'the page ends after the redeploy', 30_000);
    assert.deepEqual(
      after.exhausted[0].page.history.map((h: any) => h.name),
      ['Bob', 'Alice'],
      'Bob was not texted again: his step resumed',
    );
    assert.equal(texts(ANSWERS_NO_KEY).length, 1);
    assert.equal(after.exhausted[0].payload, 'attic');
  });

  /** A key pressed in a call (what Twilio posts to the <Gather>'s action), now, whatever the simulated person does. */
  const press = (sid: string, digits: string) =>
    simulator.deliver(
      `${httpNode.base()}/twilio/keys`,
      { AccountSid: ACCOUNT.sid, CallSid: sid, CallStatus: 'in-progress', Digits: digits, Direction: 'outbound-api', From: '+15017122661' },
      { authToken: ACCOUNT.authToken! },
    );
  /** Calls that stay under way a while in real time, while the pages' time.clock runs ahead. */
  async function slowCalls(run: () => Promise<void>): Promise<void> {
    await simulatorSettings({ statusCallbackDelayMs: 2_000 });
    try {
      await run();
    } finally {
      await simulatorSettings({ statusCallbackDelayMs: 20 });
    }
  }

  it("takes a key pressed after the step's wait in a call still under way: Alice, who picked up late, presses 1 at 35 s of a 30 s step", () =>
    slowCalls(async () => {
      const got = await load({ contacts: `Alice ${ANSWERS_NO_KEY}, Bob ${ANSWERS_BY_HAND}`, steps: [{ action: 'call', wait: 30 }] });
      helper.getNode('page').receive({ topic: 'smoke', payload: 'kitchen' });
      await until(() => calls(ANSWERS_NO_KEY).length === 1, "Alice's call");
      await time.clock.advance(35_000);
      const delivery = await press(String(calls(ANSWERS_NO_KEY)[0].sid), '1');
      assert.equal(delivery.status, 200);
      await until(() => got.acknowledged.length + got.exhausted.length === 1, 'the end of the page');
      assert.equal(got.acknowledged.length, 1, `acknowledged, not ${JSON.stringify(got.exhausted[0]?.page.history)}`);
      assert.deepEqual([got.acknowledged[0].page.acknowledged.name, got.acknowledged[0].page.acknowledged.how], ['Alice', 'key']);
      assert.equal(calls(ANSWERS_BY_HAND).length, 0, 'Bob was not called');
    }));

  it("takes a key pressed in an earlier step's call while the next step runs, and hangs up the call still ringing", () =>
    slowCalls(async () => {
      const got = await load({ contacts: `Alice ${ANSWERS_NO_KEY}, Bob ${ANSWERS_BY_HAND}`, steps: [{ action: 'call', wait: 30 }] });
      helper.getNode('page').receive({ topic: 'smoke', payload: 'kitchen' });
      await until(() => calls(ANSWERS_NO_KEY).length === 1, "Alice's call");
      await time.clock.advance(60_000);
      await until(() => calls(ANSWERS_BY_HAND).length === 1, "Bob's call, Alice's step over");
      await press(String(calls(ANSWERS_NO_KEY)[0].sid), '1');
      await until(() => got.acknowledged.length + got.exhausted.length === 1, 'the end of the page');
      assert.equal(got.acknowledged.length, 1, `acknowledged, not ${JSON.stringify(got.exhausted[0]?.page.history)}`);
      const { acknowledged, history } = got.acknowledged[0].page;
      assert.deepEqual([acknowledged.name, acknowledged.number, acknowledged.how], ['Alice', ANSWERS_NO_KEY, 'key']);
      assert.deepEqual(
        history.map((h: any) => [h.name, h.outcome]),
        [['Alice', 'no-ack']],
      );
      const bob = String(calls(ANSWERS_BY_HAND)[0].sid);
      await until(
        () => simulator.requests.some((r) => r.path.endsWith(`/Calls/${bob}.json`) && r.params.Status === 'completed'),
        "Bob's call hung up",
      );
    }));

  it('records a phone that rings out past its ring timeout (Twilio rings up to 5 s more) as no-answer, not no-ack', async () => {
    await simulatorSettings({ statusCallbackDelayMs: 100 });
    try {
      const got = await load({ contacts: `Off ${PHONE_OFF}` });
      helper.getNode('page').receive({ topic: 'smoke', payload: 'hall' });
      await until(() => calls(PHONE_OFF).length === 1, 'the call');
      await time.clock.advance(23_000); // the 20 s ring timeout is over; Twilio still rings
      await until(() => got.exhausted.length === 1, 'nobody acknowledged');
      assert.deepEqual(
        got.exhausted[0].page.history.map((h: any) => [h.name, h.outcome]),
        [['Off', 'no-answer']],
      );
    } finally {
      await simulatorSettings({ statusCallbackDelayMs: 20 });
    }
  });

  it("takes no polled reply dated before the page's text as its acknowledgement, as twilio-ask does not", async () => {
    const HOUSE = '+15017122661';
    // No public URL: the house's texts come in by polling, with Twilio's date of each.
    simulator.find('incomingPhoneNumbers')!.sms_url = '';
    const nodes = flow({ contacts: `Alice ${PRESSES_1}`, steps: [{ action: 'text', wait: 600 }], keysNode: '' }).map((n) =>
      n.id === 'in'
        ? {
            id: 'in',
            type: 'twilio-in',
            z: 'tab',
            account: 'account',
            receive: 'poll',
            pollNumber: HOUSE,
            pollInterval: 1,
            wires: [['news']],
          }
        : n,
    );
    await helper.load(allNodes, [...nodes, { id: 'news', type: 'helper', z: 'tab' }], { account: account().credentials });
    const acknowledged: any[] = [];
    const news: any[] = [];
    helper.getNode('acknowledged').on('input', (m: any) => acknowledged.push(m));
    helper.getNode('news').on('input', (m: any) => news.push(m));
    helper.getNode('page').receive({ topic: 'smoke', payload: 'hall' });
    await until(() => texts(PRESSES_1).length === 1, "Alice's text");
    // The poller's first look has been (it takes what is there as history): the "ok" comes after it.
    const looks = () => simulator.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/Messages.json')).length;
    await until(() => looks() > 0, 'the first look');
    // Alice's "ok" is dated 5 s before the page texted her (a text she sent about something else, listed by the next poll).
    await simulatorSettings({ clockSkewMs: -5_000 });
    try {
      await simulator.receiveMessage({ from: PRESSES_1, to: HOUSE, body: 'ok' });
    } finally {
      await simulatorSettings({ clockSkewMs: 0 });
    }
    await until(() => news.length + acknowledged.length === 1, 'the old "ok" polled');
    assert.deepEqual([news.length, acknowledged.length], [1, 0], 'the old reply is news, not an acknowledgement');
    await simulator.receiveMessage({ from: PRESSES_1, to: HOUSE, body: 'ok' });
    await until(() => acknowledged.length === 1, 'a new "ok" acknowledges');
    assert.deepEqual([acknowledged[0].page.acknowledged.name, acknowledged[0].page.acknowledged.how], ['Alice', 'reply']);
  });

  it('runs 50 pages at once, each to its end exactly once', async () => {
    const got = await load({ contacts: 'contacts', contactsType: 'msg' });
    for (let i = 0; i < 50; i++)
      helper.getNode('page').receive({ topic: `alarm ${i}`, payload: `room ${i}`, contacts: `Alice ${PRESSES_1}` });
    await until(() => got.acknowledged.length === 50, '50 acknowledgements', 30_000);
    assert.equal(new Set(got.acknowledged.map((m) => m.page.alarmId)).size, 50);
    assert.equal(got.dones, 50);
  });

  it('survives its ladder shrinking under a running page, a cancel whose all clear cannot render, and keys to an unchecked twilio-in', async () => {
    const got = await load({
      contacts: `Bob ${ANSWERS_NO_KEY}, Alice ${PRESSES_1}`,
      steps: [
        { action: 'text', wait: 5 },
        { action: 'text', wait: 30 },
      ],
      allClear: 'All clear in {{room}}',
      cancelTopic: 'cleared',
    });
    helper.getNode('page').receive({ topic: 'smoke', payload: 'attic' });
    await until(() => texts(ANSWERS_NO_KEY).length === 2, "Bob's second step", 15_000);
    // The same page, its node now with one step: it goes on from the nearest step, no crash.
    await helper.setFlows(
      flow({
        contacts: `Bob ${ANSWERS_NO_KEY}, Alice ${PRESSES_1}`,
        steps: [{ action: 'text', wait: 30 }],
        allClear: 'All clear in {{room}}',
        cancelTopic: 'cleared',
      }),
      'full',
      { account: account().credentials },
    );
    const cancelled: any[] = [];
    helper.getNode('cancelled').on('input', (m: any) => cancelled.push(m));
    await until(() => texts(PRESSES_1).length === 1, 'Alice texted after the change');
    helper.getNode('page').receive({ topic: 'cleared' });
    await until(() => cancelled.length === 1, 'cancelled although its all clear lacks {{room}}');
    assert.equal(got.dones, 1);

    // A twilio-in that does not check signatures passes no key presses on: the call asks for a text.
    await helper.setFlows(
      flow({ contacts: `Alice ${PRESSES_1}` }).map((n) => (n.id === 'in' ? { ...n, validate: false } : n)),
      'full',
      { account: account().credentials },
    );
    helper.getNode('page').receive({ topic: 'smoke 2', payload: 'hall' });
    await until(() => simulator.requests.some((r) => r.path.endsWith('/Calls.json') && /hall/.test(String(r.params.Twiml))), 'the call');
    const call = simulator.requests.find((r) => r.path.endsWith('/Calls.json') && /hall/.test(String(r.params.Twiml)))!;
    assert.doesNotMatch(String(call.params.Twiml), /<Gather/);
  });

  const simulatorSettings = (body: object) => fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify(body) });
});
