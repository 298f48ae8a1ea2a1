/**
 * twilio-ask: a question sent, its answer routed to the output it matches; anything else, no reply,
 * not delivered; two open questions for one person; waits that outlive a restart; cancel.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ManualClock, installClock } from '../../lib/core/clock';
import { until as untilWithin } from '../support/assertions';
import { untilTicking } from '../support/ticking';
import { FlowNode, initWithFileContext, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';

initWithFileContext();

const HOUSE = '+15017122661';
/** simulator/people.ts */
const SAYS_YES = '+15555550110';
const SAYS_NO = '+15555550111';
const SAYS_SOMETHING_ELSE = '+15555550112';
const NEVER_ANSWERS = '+15555550113';
const CLOSES_THE_GARAGE = '+15555550114';
const PHONE_OFF = '+15555550101';
const SOMEONE = '+15555550199';

const OUTPUTS = ['yes', 'no', 'else', 'noReply', 'notDelivered'] as const;

const until = (check: () => boolean, what: string, ms = 15_000) => untilWithin(check, what, ms);

/**
 * The people answer within a blink rather than seconds (simulator/people.ts has them slower, for the
 * demo). The one who replies "what garage?" still answers before the one who says yes, and not so
 * fast that their answer to "someone answered" comes before a test is over.
 */
const QUICK_PEOPLE = {
  [SAYS_YES]: { reply: { text: 'Yes!', afterMs: 600 } },
  [SAYS_NO]: { reply: { text: 'no', afterMs: 100 } },
  [SAYS_SOMETHING_ELSE]: { reply: { text: 'what garage?', afterMs: 300 } },
  [CLOSES_THE_GARAGE]: { reply: { text: 'close', afterMs: 100 } },
};

describe('twilio-ask', () => {
  // Each test loads the context stores anew: closed after it, a file store flushes now rather than
  // keep the process alive 30 s for its flush timer. Declared before useRuntime's, so it runs before
  // the unload, whose clean-up of the store's files would otherwise race the flush.
  afterEach(() => (helper as any)._context.close());
  const { simulator } = useRuntime({ people: QUICK_PEOPLE });
  // The nodes' deadlines and looks run on a clock the tests move (Twilio and the people keep real time).
  const clock = new ManualClock();
  let restoreClock: () => void;
  before(() => (restoreClock = installClock(clock)));
  after(() => restoreClock());
  const httpNode = useHttpNode();
  const account = () => accountNode(simulator.url, 'authToken');

  function askNode(id: string, extra: Record<string, unknown> = {}): FlowNode {
    return {
      id,
      type: 'twilio-ask',
      z: 'tab',
      account: 'account',
      to: 'to',
      toType: 'msg',
      from: HOUSE,
      fromType: 'str',
      body: 'Leave the heating on?',
      bodyType: 'str',
      answers: [
        { type: 'words', value: 'yes, y, yeah', label: 'yes' },
        { type: 'regex', value: '^(no|nope)\\b' },
      ],
      timeout: 3600,
      mode: 'each',
      outputs: 5,
      wires: OUTPUTS.map((o) => [`${id}-${o}`]),
      ...extra,
    };
  }

  /** A flow with twilio-in receiving the house's texts (webhook, or polling) and the given asks. */
  function flow(asks: FlowNode[], inbound: 'webhook' | 'poll' = 'webhook'): FlowNode[] {
    return [
      { id: 'tab', type: 'tab', label: 't' },
      account().node,
      inbound === 'webhook'
        ? {
            id: 'in',
            type: 'twilio-in',
            z: 'tab',
            account: 'account',
            path: '/twilio/sms',
            validate: true,
            reply: 'auto',
            wires: [['news']],
          }
        : {
            id: 'in',
            type: 'twilio-in',
            z: 'tab',
            account: 'account',
            receive: 'poll',
            pollNumber: HOUSE,
            pollInterval: 1,
            wires: [['news']],
          },
      { id: 'news', type: 'helper', z: 'tab' },
      ...asks,
      ...asks.flatMap((a) => OUTPUTS.map((o) => ({ id: `${a.id}-${o}`, type: 'helper', z: 'tab' }))),
    ];
  }

  type Got = Record<(typeof OUTPUTS)[number] | 'news', any[]> & { dones: number; errors: any[] };
  function listen(ask = 'ask'): Got {
    const got = { dones: 0, errors: [] as any[], news: [] as any[] } as unknown as Got;
    for (const o of OUTPUTS) {
      got[o] = [];
      helper.getNode(`${ask}-${o}`).on('input', (m: any) => got[o].push(m));
    }
    helper.getNode('news').on('input', (m: any) => got.news.push(m));
    const node = helper.getNode(ask) as any;
    const complete = node._complete.bind(node);
    node._complete = (m: unknown, err: unknown) => {
      got.dones++;
      if (err) got.errors.push(err);
      complete(m, err);
    };
    return got;
  }
  const total = (got: Got) => OUTPUTS.reduce((n, o) => n + got[o].length, 0);

  async function load(asks: FlowNode[], inbound: 'webhook' | 'poll' = 'webhook'): Promise<void> {
    simulator.find('incomingPhoneNumbers')!.sms_url = inbound === 'webhook' ? `${httpNode.base()}/twilio/sms` : '';
    await helper.load(allNodes, flow(asks, inbound), { account: account().credentials });
    await (helper as any)._context.load();
  }
  const texts = (to: string) =>
    [...simulator.messages.values()].filter((m) => m.to === to && m.direction !== 'inbound').map((m) => String(m.body));
  const textIn = (from: string, body: string) => simulator.receiveMessage({ from, to: HOUSE, body });

  it('asks the garage question and routes "close" to its output, with the msg as it came and the reply beside it', async () => {
    await load([askNode('ask', { body: 'The garage is open. Reply CLOSE to close it.', answers: [{ type: 'words', value: 'close' }] })]);
    const got = listen();
    helper.getNode('ask').receive({ to: CLOSES_THE_GARAGE, door: 'garage', payload: 'sensor 3' });
    await until(() => got.yes.length === 1, 'the answer');
    const [msg] = got.yes;
    assert.equal(msg.door, 'garage');
    assert.equal(msg.payload, 'sensor 3');
    assert.deepEqual(
      [msg.reply.text, msg.reply.from, msg.reply.to, msg.reply.answer, msg.reply.matched],
      ['close', CLOSES_THE_GARAGE, HOUSE, 'close', 0],
    );
    assert.equal(msg.ask.outcome, 'answered');
    assert.match(msg.ask.sid, /^SM[0-9a-f]{32}$/);
    assert.deepEqual(texts(CLOSES_THE_GARAGE), ['The garage is open. Reply CLOSE to close it.']);
    assert.equal(got.news.length, 0, 'twilio-in does not pass on an answer a question took');
    assert.equal(got.dones, 1);
  });

  it('sends each reply to its output: a word in any case and punctuation, a regex, anything else, no reply, not delivered', async () => {
    await load([askNode('ask', { timeout: 10 })]);
    const got = listen();
    for (const to of [SAYS_YES, SAYS_NO, SAYS_SOMETHING_ELSE, NEVER_ANSWERS, PHONE_OFF, '+15005550001'])
      helper.getNode('ask').receive({ to, topic: to });
    await until(() => got.yes.length + got.no.length + got.else.length === 3, 'three answers');
    await until(() => got.notDelivered.length === 1, 'the invalid number, at once');
    // The phone that is off: Twilio learns it soon, the node at its first look (2 s after the send).
    const phoneOff = () => [...simulator.messages.values()].find((m) => m.to === PHONE_OFF);
    await until(() => phoneOff()?.status === 'undelivered', "Twilio's undelivered");
    await clock.advance(2_000);
    await until(() => got.notDelivered.length === 2, 'not delivered, at the first look');
    assert.equal(got.noReply.length, 0, 'no deadline yet');
    await clock.advance(8_000); // 10 s after the questions: the deadline
    await until(() => total(got) === 6, 'six outcomes');
    const where = Object.fromEntries(OUTPUTS.flatMap((o) => got[o].map((m) => [m.topic, o])));
    assert.deepEqual(where, {
      [SAYS_YES]: 'yes',
      [SAYS_NO]: 'no',
      [SAYS_SOMETHING_ELSE]: 'else',
      [NEVER_ANSWERS]: 'noReply',
      [PHONE_OFF]: 'notDelivered',
      '+15005550001': 'notDelivered',
    });
    const by = (to: string) => OUTPUTS.flatMap((o) => got[o]).find((m) => m.topic === to);
    assert.equal(by(SAYS_YES).reply.text, 'Yes!');
    assert.equal(by(SAYS_SOMETHING_ELSE).reply.answer, null);
    assert.equal(by(NEVER_ANSWERS).reply, null);
    assert.equal(by(NEVER_ANSWERS).ask.outcome, 'no-reply');
    assert.equal(by(PHONE_OFF).ask.error.errorCode, 30003);
    assert.equal(by('+15005550001').ask.error.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(got.dones, 6);
    assert.equal(got.errors.length, 0);
  });

  it('never misroutes two open questions for one person: codes, and a clarifying reply when none is quoted', async () => {
    await load([
      askNode('ask', { body: 'Leave the heating on?' }),
      askNode('garage', {
        body: 'Close the garage?',
        answers: [
          { type: 'words', value: 'yes' },
          { type: 'words', value: 'no' },
        ],
      }),
    ]);
    const heating = listen('ask');
    const garage = listen('garage');
    helper.getNode('ask').receive({ to: SOMEONE, payload: 'first' });
    await until(() => texts(SOMEONE).length === 1, 'the first question');
    helper.getNode('garage').receive({ to: SOMEONE, payload: 'second' });
    await until(() => texts(SOMEONE).length === 2, 'the second question');
    assert.equal(texts(SOMEONE)[0], 'Leave the heating on?', 'one question open: no code');
    const code = /reply with (\d+)/.exec(texts(SOMEONE)[1])?.[1];
    assert.ok(code, `the second carries its code: ${texts(SOMEONE)[1]}`);

    await textIn(SOMEONE, 'yes');
    await until(() => texts(SOMEONE).length === 3, 'the clarifying reply');
    assert.match(texts(SOMEONE)[2], /2 open questions/);
    assert.match(texts(SOMEONE)[2], new RegExp(`${code}: Close the garage\\?`));
    const heatingCode = new RegExp(`(\\d+): Leave the heating on\\?`).exec(texts(SOMEONE)[2])?.[1];
    assert.ok(heatingCode && heatingCode !== code);
    assert.equal(total(heating) + total(garage), 0, 'an answer without a code goes to neither');

    await textIn(SOMEONE, `YES ${code}`);
    await until(() => garage.yes.length === 1, "the garage's answer");
    assert.deepEqual([garage.yes[0].reply.text, garage.yes[0].reply.code], ['YES', code]);
    await textIn(SOMEONE, 'nope'); // one question open now: no code needed
    await until(() => heating.no.length === 1, "the heating's answer");
    assert.equal(total(heating) + total(garage), 2);
    assert.deepEqual(
      heating.news.map((m) => m.payload.Body),
      ['yes'],
      'the reply without a code answered neither: twilio-in passed it on',
    );
  });

  it('lets nothing a person texts vanish while two questions are open: every text without a code reaches twilio-in as news', async () => {
    await load([askNode('ask', { body: 'Is the oven off?' }), askNode('door', { body: 'Is the door locked?' })]);
    const oven = listen('ask');
    const door = listen('door');
    helper.getNode('ask').receive({ to: SOMEONE });
    await until(() => texts(SOMEONE).length === 1, 'the first question');
    helper.getNode('door').receive({ to: SOMEONE });
    await until(() => texts(SOMEONE).length === 2, 'the second question');
    const doorCode = /reply with (\d+)/.exec(texts(SOMEONE)[1])![1];
    for (let i = 0; i < 20; i++) await textIn(SOMEONE, `note ${i} of the day`);
    await textIn(SOMEONE, `yes, the oven is off. Home at 7:${doorCode}`);
    await textIn(SOMEONE, 'FIRE in the kitchen, call 911');
    await until(() => oven.news.length === 22, 'every text as news');
    assert.equal(oven.news[21].payload.Body, 'FIRE in the kitchen, call 911');
    assert.equal(oven.news[20].payload.Body, `yes, the oven is off. Home at 7:${doorCode}`, 'a time is no code');
    assert.equal(total(oven) + total(door), 0, 'no text answered a question');
    assert.equal(texts(SOMEONE).filter((t) => /open questions/.test(t)).length, 1, 'one clarifying message');
  });

  it('anything else ends a one-person question by default, or keeps it waiting for a valid answer', async () => {
    await load([askNode('ends'), askNode('waits', { anythingElse: 'wait', mode: 'first' })]);
    const ends = listen('ends');
    const waits = listen('waits');
    helper.getNode('ends').receive({ to: SAYS_SOMETHING_ELSE });
    helper.getNode('waits').receive({ to: SOMEONE });
    await until(() => ends.else.length === 1, "the one who says 'what garage?'");
    assert.equal(ends.dones, 1, 'ended by anything else');
    await until(() => texts(SOMEONE).length === 1, 'the question that waits');
    await textIn(SOMEONE, 'which heating?');
    await until(() => waits.else.length === 1, 'anything else, as a copy');
    assert.equal(waits.dones, 0, 'still waiting');
    await textIn(SOMEONE, 'yeah');
    await until(() => waits.yes.length === 1, 'the valid answer');
    assert.equal(waits.dones, 1);
    assert.equal(waits.news.length, 0);
  });

  it('refuses an answer pattern that can take exponential time, and the answers after it keep their outputs', async () => {
    await load([
      askNode('ask', {
        answers: [
          { type: 'regex', value: '^(a+)+$' },
          { type: 'words', value: 'yes, y, yeah' },
        ],
      }),
    ]);
    const got = listen();
    helper.getNode('ask').receive({ to: SAYS_YES });
    await until(() => total(got) === 1, 'the answer');
    assert.equal(got.no.length, 1, "'Yes!' by the second answer's output, as wired");
    assert.equal(got.no[0].reply.matched, 1);
    helper.getNode('ask').receive({ to: SOMEONE });
    await until(() => texts(SOMEONE).length === 1, 'the question');
    await textIn(SOMEONE, 'aaaa');
    await until(() => total(got) === 2, 'the reply');
    assert.equal(got.else.length, 1, 'the refused pattern is never tried: anything else');
  });

  it('keeps a wait across a restart of Node-RED (re-armed), and the answer leaves as a fresh msg', async () => {
    await load([askNode('ask')]);
    const before = listen();
    helper.getNode('ask').receive({ to: SOMEONE, door: 'garage' });
    await until(() => texts(SOMEONE).length === 1, 'the question');
    await new Promise((r) => setTimeout(r, 200));
    const red = helper as any;
    await red._redNodes.stopFlows();
    await red._context.close();
    await red._context.load();
    await red._redNodes.startFlows();
    assert.equal(before.dones, 1, 'the msg that waited ended when its node stopped');
    const after = listen();
    await new Promise((r) => setTimeout(r, 300)); // restored from the store
    await textIn(SOMEONE, 'y');
    await until(() => after.yes.length === 1, 'the answer after the restart');
    assert.equal(after.yes[0].door, 'garage');
    assert.equal(total(before), 0);
  });

  it('with several people, the first valid answer wins and the others are told; a stranger is left to twilio-in', async () => {
    await load([askNode('ask', { mode: 'first', anythingElse: 'wait', tellOthers: '{{reply.from}} answered {{reply.text}}' })]);
    const got = listen();
    helper.getNode('ask').receive({ to: [SAYS_SOMETHING_ELSE, SAYS_YES, NEVER_ANSWERS] });
    await until(() => got.yes.length === 1, 'the winning answer');
    await until(() => texts(NEVER_ANSWERS).length === 2, 'the others told');
    assert.equal(texts(NEVER_ANSWERS)[1], `${SAYS_YES} answered Yes!`);
    assert.equal(got.else.length, 1, "'what garage?' went to anything else, alone");
    assert.equal(got.else[0].reply.text, 'what garage?');
    assert.equal(got.dones, 1);
    await textIn('+15555550198', 'yes');
    await until(() => got.news.length === 1, 'the stranger reaches twilio-in');
    assert.equal(got.news[0].payload.Body, 'yes');
    assert.equal(total(got), 2);
  });

  it('ends a wait on msg.cancel or the cancel topic, by the no-reply output', async () => {
    await load([askNode('ask', { cancelTopic: 'sensor-cleared' })]);
    const got = listen();
    helper.getNode('ask').receive({ to: SOMEONE, payload: 'a' });
    helper.getNode('ask').receive({ to: NEVER_ANSWERS, payload: 'b' });
    await until(() => texts(SOMEONE).length === 1 && texts(NEVER_ANSWERS).length === 1, 'two questions');
    await new Promise((r) => setTimeout(r, 100));
    helper.getNode('ask').receive({ to: SOMEONE, cancel: true });
    await until(() => got.noReply.length === 1, 'the cancelled one');
    assert.deepEqual([got.noReply[0].payload, got.noReply[0].ask.outcome], ['a', 'cancelled']);
    helper.getNode('ask').receive({ topic: 'sensor-cleared' });
    await until(() => got.noReply.length === 2, 'the rest cancelled by topic');
    assert.equal(got.noReply[1].payload, 'b');
    await textIn(SOMEONE, 'yes');
    await until(() => got.news.length === 1, 'a reply after the cancel is news again');
  });

  it('receives answers by polling too, with no public URL', async () => {
    await load([askNode('ask')], 'poll');
    const got = listen();
    helper.getNode('ask').receive({ to: SAYS_NO });
    // The poller looks on lib's clock: moved on while it waits, real time while a look is under way.
    await untilTicking(clock, () => got.no.length === 1, 'the answer by poll');
    assert.equal(got.no[0].reply.text, 'no');
    const looks = () => simulator.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/Messages.json')).length;
    const before = looks();
    await untilTicking(clock, () => looks() > before + 1, 'two more looks');
    assert.equal(got.news.length, 0, 'the polling twilio-in does not also emit it');
  });

  it('holds against what a stranger or a busy phone can do: an auto-reply, twelve questions at once, WhatsApp, a broken "tell the others", a cancel with a bad To', async () => {
    await load([
      askNode('ask', { body: 'Leave the heating on?', tellOthers: 'Answered: {{missing.field}}', mode: 'first' }),
      askNode('second', { body: 'Close the garage?' }),
    ]);
    const got = listen();
    const second = listen('second');
    // A phone that answers every text ("Yes!") with two questions open: one clarifying message, not a loop.
    helper.getNode('ask').receive({ to: [SAYS_YES, NEVER_ANSWERS] });
    helper.getNode('second').receive({ to: SAYS_YES });
    await until(() => texts(SAYS_YES).length >= 3, 'the questions and a clarifying message');
    await new Promise((r) => setTimeout(r, 1_800)); // three times the phone's answer time: a loop would show
    const clarifying = texts(SAYS_YES).filter((t) => /open questions/.test(t));
    assert.equal(clarifying.length, 1, `one clarifying message: ${texts(SAYS_YES).join(' | ')}`);
    // The broken "tell the others" template: the answer still wins, on its output.
    await textIn(SAYS_YES, `yes ${/reply with (\d+)/.exec(texts(SAYS_YES).find((t) => /reply with/.test(t)) ?? '')?.[1] ?? ''}`);
    await until(() => got.yes.length + second.yes.length === 1, 'the coded answer');

    // Twelve questions to one person at the same moment: twelve codes, each (but the first) in its text.
    for (let i = 0; i < 12; i++) helper.getNode('second').receive({ to: SOMEONE, payload: i });
    await until(() => texts(SOMEONE).length === 12, 'twelve questions');
    const codes = texts(SOMEONE).map((t) => /reply with (\d+)/.exec(t)?.[1]);
    assert.ok(codes.filter(Boolean).length >= 11, codes.join());
    assert.equal(new Set(codes.filter(Boolean)).size, codes.filter(Boolean).length, 'no code twice');

    // A cancel whose To is no number cancels nothing and says so.
    const errors: any[] = [];
    const node = helper.getNode('second') as any;
    const complete = node._complete.bind(node);
    node._complete = (m: unknown, err: any) => {
      if (err) errors.push(err);
      complete(m, err);
    };
    helper.getNode('second').receive({ to: 'not a number', cancel: true });
    await until(() => errors.length === 1, 'the refused cancel');
    assert.equal(errors[0].code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(second.noReply.length, 0);
  });

  it('takes a WhatsApp answer when To is a bare number and From a WhatsApp sender', async () => {
    await load([askNode('ask', { from: `whatsapp:${HOUSE}` })]);
    const got = listen();
    helper.getNode('ask').receive({ to: SAYS_YES });
    await until(() => got.yes.length === 1, 'the WhatsApp answer');
    assert.equal(got.yes[0].reply.from, `whatsapp:${SAYS_YES}`);
  });
});
