/**
 * A captured, validly signed webhook posted again (issue #22): with a fresh I-Twilio-Idempotency-Token
 * (which Twilio does not sign), after a redeploy, twenty thousand times. What Twilio signed was heard
 * before: it answers no newer question, ends no newer page, and is never news. Two account nodes of
 * one Twilio account share one board: one "yes" answers one question. (After a restart of Node-RED:
 * test/process/twilio-in.replay.test.ts.)
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import { ACCOUNT, FlowNode, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';
import { acquireStateEngine, embeddedStateDir } from '../../lib/account/state-engines';

const HOUSE = '+15017122661';
/** Not one of simulator/people.ts: never answers by itself; the test posts what they "text". */
const PERSON = '+15555550177';
const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('twilio-in: a replayed webhook', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();
  const time = useManualClock();
  const account = (id = 'account') => ({ ...accountNode(simulator.url, 'authToken').node, id });
  const credentials = () => accountNode(simulator.url, 'authToken').credentials;

  /** Resolves once `check` holds, the simulator given real time and the nodes' clock a quarter second a turn. */
  async function until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await Promise.race([simulator.settled(), sleep(20)]);
      await sleep(2);
      if (!check()) await time.clock.advance(250);
    }
  }

  const inNode = (accountId = 'account'): FlowNode => ({
    id: `in-${accountId}`,
    type: 'twilio-in',
    z: 'tab',
    account: accountId,
    path: `/twilio/${accountId}`,
    validate: true,
    reply: 'auto',
    dedupe: true,
    dedupeWindow: 600,
    wires: [['news']],
  });
  const askNode = (id: string, accountId: string, body: string): FlowNode => ({
    id,
    type: 'twilio-ask',
    z: 'tab',
    account: accountId,
    to: 'to',
    toType: 'msg',
    from: HOUSE,
    fromType: 'str',
    body,
    bodyType: 'str',
    answers: [{ type: 'words', value: 'yes, y', label: 'yes' }],
    timeout: 3600,
    mode: 'each',
    outputs: 4,
    wires: [[`${id}-yes`], [`${id}-else`], [`${id}-noReply`], [`${id}-notDelivered`]],
  });
  const helpers = (ids: string[]) => ids.map((id) => ({ id, type: 'helper', z: 'tab' }));

  async function load(flow: FlowNode[], accounts: string[] = ['account']): Promise<Record<string, any[]>> {
    await helper.load(allNodes, [{ id: 'tab', type: 'tab', label: 't' }, ...accounts.map((id) => account(id)), ...flow], {
      ...Object.fromEntries(accounts.map((id) => [id, credentials()])),
    });
    const got: Record<string, any[]> = {};
    for (const node of flow.filter((n) => n.type === 'helper')) {
      got[node.id] = [];
      helper.getNode(node.id).on('input', (m: any) => got[node.id].push(m));
    }
    return got;
  }

  /** What Twilio posts when `from` texts `body` to the house: one text (its own Sid), signed for `route`. */
  function captured(body: string, route = '/twilio/account', from = PERSON) {
    const params = {
      MessageSid: 'SM' + crypto.randomBytes(16).toString('hex'),
      SmsSid: '',
      AccountSid: ACCOUNT.sid,
      From: from,
      To: HOUSE,
      Body: body,
      NumMedia: '0',
      SmsStatus: 'received',
      ApiVersion: '2010-04-01',
    };
    params.SmsSid = params.MessageSid;
    const form = new URLSearchParams(params).toString();
    const signature = twilio.getExpectedTwilioSignature(ACCOUNT.authToken, `${httpNode.base()}${route}`, params);
    /** Posts it, with a token of its own unless one is given (a replay brings a fresh one). */
    const post = async (token: string = crypto.randomUUID()) => {
      const res = await fetch(`${httpNode.base()}${route}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-Twilio-Signature': signature,
          'I-Twilio-Idempotency-Token': token,
        },
        body: form,
      });
      return { status: res.status, body: await res.text() };
    };
    return { params, post };
  }
  /** Waits until `prefix` of the state store holds `count` records (real time). */
  async function untilStored(prefix: string, count: number): Promise<void> {
    const { engine, release } = acquireStateEngine({ backend: 'embedded', dir: embeddedStateDir(undefined) });
    try {
      for (const deadline = Date.now() + 10_000; ;) {
        const records = await engine.scan(prefix, 100);
        if (records.length === count) return;
        if (Date.now() > deadline) throw new Error(`${prefix} holds ${records.map((r) => r.key).join(', ')}`);
        await sleep(10);
      }
    } finally {
      await release();
    }
  }
  const questions = () => [...simulator.messages.values()].filter((m) => m.to === PERSON && m.direction !== 'inbound');

  it('a "yes" replayed with a fresh token after a redeploy answers no newer question, and is not news', async () => {
    const flow = [
      inNode(),
      askNode('ask', 'account', 'Leave the heating on?'),
      ...helpers(['news', 'ask-yes', 'ask-else', 'ask-noReply', 'ask-notDelivered']),
    ];
    let got = await load(flow);
    helper.getNode('ask').receive({ to: PERSON, payload: 'heating' });
    await until(() => questions().length === 1, 'the first question');
    const yes = captured('yes');
    assert.deepEqual(await yes.post(), { status: 200, body: EMPTY });
    await until(() => got['ask-yes'].length === 1, 'the answer');
    assert.equal(got['ask-yes'][0].payload, 'heating');
    // The answered question's record is gone before the redeploy (else the new node would restore it as open).
    await untilStored('node/ask/', 0);

    // A full redeploy: new config node, new twilio-in, new twilio-ask; the account's memory is its store's.
    const flows = helper._redNodes.getFlows();
    await helper.setFlows(flows.flows, 'full', flows.credentials as Record<string, object>);
    got = Object.fromEntries(['news', 'ask-yes', 'ask-else', 'ask-noReply', 'ask-notDelivered'].map((id) => [id, [] as any[]]));
    for (const id of Object.keys(got)) helper.getNode(id).on('input', (m: any) => got[id].push(m));
    helper.getNode('ask').receive({ to: PERSON, payload: 'front door' });
    await until(() => questions().length === 2, 'the newer question');
    assert.deepEqual(await yes.post(), { status: 200, body: EMPTY }, 'answered as Twilio would want, so it stops');
    await sleep(100);
    assert.deepEqual([got['ask-yes'].length, got['ask-else'].length, got.news.length], [0, 0, 0]);

    // Two thousand more, each with a fresh token, fifty at a time: not one is news or an answer (the
    // replay is known by what Twilio signs, so the count reaches no bound; the rate is bench c's).
    const REPLAYS = 2_000;
    const started = Date.now();
    let answered = 0;
    for (let sent = 0; sent < REPLAYS; sent += 50) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => yes.post()));
      answered += answers.filter((a) => a.status === 200 && a.body === EMPTY).length;
    }
    const ms = Date.now() - started;
    console.log(`# ${REPLAYS} replays of a signed "yes" with fresh tokens: ${ms} ms (${Math.round(REPLAYS / (ms / 1000))}/s), 0 news`);
    await sleep(100);
    assert.equal(answered, REPLAYS);
    assert.deepEqual([got['ask-yes'].length, got['ask-else'].length, got.news.length], [0, 0, 0]);

    // The person's real answer to the newer question (a text of its own) still answers it.
    assert.equal((await captured('yes').post()).status, 200);
    const counts = () => JSON.stringify(Object.fromEntries(Object.entries(got).map(([id, msgs]) => [id, msgs.length])));
    await until(() => got['ask-yes'].length === 1, 'the real answer').catch((err: Error) => {
      throw new Error(`${err.message}: ${counts()}`);
    });
    assert.equal(got['ask-yes'][0].payload, 'front door');
  });

  it('a replayed "OK" does not end a newer page: the next contact is still alerted', async () => {
    const page = {
      id: 'page',
      type: 'twilio-page',
      z: 'tab',
      account: 'account',
      contacts: `Dana ${PERSON}, Erin +15555550178`,
      contactsType: 'str',
      alert: 'Smoke detected in the {{payload}}.',
      steps: [{ action: 'text', wait: 20 }],
      rounds: 1,
      ackKey: '1',
      ackWords: 'ack, ok',
      keysNode: '',
      alarmId: 'topic',
      alarmIdType: 'msg',
      wires: [['acknowledged'], ['exhausted'], ['cancelled']],
    };
    const got = await load([inNode(), page, ...helpers(['news', 'acknowledged', 'exhausted', 'cancelled'])]);
    simulator.find('incomingPhoneNumbers')!.sms_url = '';
    helper.getNode('page').receive({ topic: 'smoke', payload: 'kitchen' });
    await until(() => questions().length === 1, 'the first page text');
    const ok = captured('OK');
    assert.equal((await ok.post()).status, 200);
    await until(() => got.acknowledged.length === 1, 'the first page acknowledged');

    helper.getNode('page').receive({ topic: 'water', payload: 'basement' });
    await until(() => questions().length === 2, 'the newer page text');
    assert.deepEqual(await ok.post(), { status: 200, body: EMPTY });
    const erin = () => [...simulator.messages.values()].filter((m) => m.to === '+15555550178' && m.direction !== 'inbound');
    await until(() => erin().length === 1, 'the next contact alerted');
    assert.match(String(erin()[0].body), /basement/);
    assert.deepEqual([got.acknowledged.length, got.news.length], [1, 0]);
  });

  it('two account nodes of one Twilio account share one board: one "yes" answers one question', async () => {
    const flow = [
      inNode('account'),
      askNode('a', 'account', 'Water the plants?'),
      askNode('b', 'account2', 'Unlock the front door for a stranger?'),
      ...helpers(['news', 'a-yes', 'a-else', 'a-noReply', 'a-notDelivered', 'b-yes', 'b-else', 'b-noReply', 'b-notDelivered']),
    ];
    const got = await load(flow, ['account', 'account2']);
    helper.getNode('a').receive({ to: PERSON, payload: 'plants' });
    await until(() => questions().length === 1, 'the first question');
    helper.getNode('b').receive({ to: PERSON, payload: 'door' });
    await until(() => questions().length === 2, 'the second question');
    const code = /(\d{2,})/.exec(String(questions()[1].body).replace('Unlock the front door for a stranger?', ''))?.[1];
    assert.ok(code, `the second question carries a code: another is open for the person (${questions()[1].body})`);

    assert.equal((await captured('yes').post()).status, 200);
    await until(() => got.news.length === 1, 'a "yes" without a code: news');
    assert.deepEqual([got['a-yes'].length, got['b-yes'].length], [0, 0], 'no question takes a "yes" two could mean');

    assert.equal((await captured(`yes ${code}`).post()).status, 200);
    await until(() => got['b-yes'].length === 1, 'the answer quoting the code');
    await sleep(100);
    assert.deepEqual([got['a-yes'].length, got['b-yes'].length], [0, 1]);
    assert.equal(got['b-yes'][0].payload, 'door');
  });
});
