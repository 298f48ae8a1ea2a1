/**
 * Asking (lib/conversation/asking.ts) without Node-RED: a waiting room on a memory store, a board on
 * a hub the test publishes replies to, an account whose client records each text, and a ManualClock.
 * A question sent with its code, an answer routed (first / each), not delivered, no reply, cancels,
 * an answer that came while the question was still being stored, and damaged stored waits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeMessageInFlow } from 'node-red';
import type { TwilioAccount } from '../../../lib/account/account';
import { ManualClock, installClock } from '../../../lib/core/clock';
import { RECONCILE_SETTLE_MS, reconcilingSince } from '../../../lib/outbound/reconcile';
import { TwilioNodeError, toTwilioNodeError } from '../../../lib/core/errors';
import { AskWait, RecentCancels, isAskWait } from '../../../lib/conversation/ask-waits';
import { Asking, LabelledAnswer } from '../../../lib/conversation/asking';
import { QuestionBoard } from '../../../lib/conversation/questions';
import { InboundHub } from '../../../lib/inbound/hub';
import type { KeyValueStore } from '../../../lib/node-red/context';
import { WaitingRoom } from '../../../lib/waits/waiting-room';

const HOUSE = '+15017122661';
const ANN = '+15555550130';
const BOB = '+15555550131';
const CAT = '+15555550132';
const ANSWERS: LabelledAnswer[] = [
  { type: 'words', value: 'yes, y', label: 'yes' },
  { type: 'regex', value: '^no\\b' },
];
/** Ports: yes, no, else, no reply, not delivered. */
const [YES, NO, ELSE, NO_REPLY, NOT_DELIVERED] = [0, 1, 2, 3, 4];
const HOUR = 3_600_000;

type Msg = NodeMessageInFlow & Record<string, any>;

function memoryStore(): KeyValueStore & { data: Map<string, unknown>; slow?: Promise<void> } {
  const data = new Map<string, unknown>();
  const store = {
    data,
    slow: undefined as Promise<void> | undefined,
    get: (key: string) => Promise.resolve(data.get(key)),
    async set(key: string, value: unknown) {
      if (store.slow) await store.slow;
      if (value === undefined) data.delete(key);
      else data.set(key, JSON.parse(JSON.stringify(value)));
    },
    keys: () => Promise.resolve([...data.keys()]),
  };
  return store;
}

/** An account whose client records each text, refuses some numbers, and says what became of each. */
function fakeAccount(clock: ManualClock, refused: Set<string>, existing: Array<Record<string, any>> = []) {
  const texts: Array<Record<string, any>> = [...existing];
  /** How many list requests fail before Twilio answers one (a reconcile's look). */
  const listing = { fails: 0, asked: 0 };
  const statuses = new Map<string, string>();
  const looked: string[] = [];
  let n = 0;
  const create = async (params: Record<string, any>) => {
    if (refused.has(String(params.to).replace(/^whatsapp:/, '')))
      throw Object.assign(new Error("The 'To' number is not a valid phone number."), { status: 400, code: 21211 });
    const sid = `SM${String(++n).padStart(32, '0')}`;
    texts.push({ ...params, sid });
    return { toJSON: () => ({ sid, to: params.to, from: params.from, body: params.body, dateCreated: new Date(clock.now() - 1000) }) };
  };
  const messages = Object.assign(
    (sid: string) => ({
      fetch: async () => {
        looked.push(sid);
        return { status: statuses.get(sid) ?? 'sent', errorCode: 30003, errorMessage: 'Unreachable' };
      },
    }),
    {
      page: async (filter: { to: string; from?: string }) => {
        listing.asked++;
        if (listing.fails > 0 && listing.fails--) throw Object.assign(new Error('Service unavailable'), { status: 503 });
        const instances = texts.filter((x) => x.to === filter.to && (!filter.from || x.from === filter.from)).reverse();
        return { instances, nextPage: async () => undefined };
      },
    },
  );
  const client = {
    accountSid: 'AC00000000000000000000000000000000',
    api: { v2010: { account: { messages: { create } } } },
    messages,
  };
  const account = {
    accountSid: client.accountSid,
    defaultFrom: HOUSE,
    redact: (t: string) => t,
    getClient: () => client,
    clientFor: () => client,
  } as unknown as TwilioAccount;
  return { account, texts, statuses, looked, listing };
}

interface Options {
  mode?: 'first' | 'each';
  anythingElse?: 'end' | 'wait';
  tellOthers?: string;
  timeoutMs?: number;
  refused?: string[];
  store?: ReturnType<typeof memoryStore>;
  /** Texts Twilio has already (a previous run sent them). */
  existing?: Array<Record<string, any>>;
  /** The node has just begun reconciling (a restart now): a look that finds nothing is not believed yet. */
  justRestarted?: boolean;
}

function setup(options: Options = {}) {
  const clock = new ManualClock(Date.parse('2026-01-01T08:00:00Z'));
  const store = options.store ?? memoryStore();
  const fresh: Msg[] = [];
  const warnings: string[] = [];
  const errors: Array<[any, any]> = [];
  const node = {
    id: 'ask',
    send: (m: any) => fresh.push(m),
    log: () => undefined,
    warn: (m: string) => warnings.push(m),
    error: (err: unknown, msg?: object) => errors.push([err, msg]),
  };
  // Looking since long ago: a look that finds nothing is "not sent" at once (unless it just restarted).
  if (!options.justRestarted) reconcilingSince(node, 0);
  const room = new WaitingRoom<AskWait>({
    node,
    store,
    prefix: 'twilio-ask-',
    capacity: 100,
    outputs: ANSWERS.length + 3,
    isRecord: isAskWait,
    notSent: () => new TwilioNodeError('NOT_SENT', 'not sent'),
    abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', 'abandoned'),
    clock,
  });
  const hub = new InboundHub();
  const board = new QuestionBoard(hub);
  const { account, texts, statuses, looked, listing } = fakeAccount(clock, new Set(options.refused), options.existing);
  const asking = new Asking({
    node,
    account,
    board,
    hub,
    waits: room,
    answers: ANSWERS,
    mode: options.mode ?? 'each',
    anythingElse: options.anythingElse,
    timeoutMs: options.timeoutMs ?? HOUR,
    tellOthers: options.tellOthers,
    readFields: async (msg) => ({ to: (msg as Msg).to, body: (msg as Msg).question ?? 'Leave the heating on?' }),
    templates: { body: true },
    translate: (key) => key,
    clone: (msg) => structuredClone(msg),
    clock,
  });
  /** Each output msg as [port, msg], and each done (null: without error). */
  const out: Array<[number, Msg]> = [];
  const dones: Array<Error | null> = [];
  /** What an ask threw (its msg ends with it). */
  const failures: unknown[] = [];
  const portOf = (sent: any): [number, Msg] => {
    const port = (sent as Array<Msg | null>).findIndex((m) => m !== null);
    return [port, sent[port]];
  };
  const ask = (msg: Record<string, unknown>) =>
    new Promise<void>((resolve) =>
      room.input(
        (m, accepted) => asking.ask(m, accepted).finally(resolve),
        (err) => {
          failures.push(err);
          resolve();
          return toTwilioNodeError(err);
        },
      )(
        msg as Msg,
        (sent) => out.push(portOf(sent)),
        (err) => dones.push(err ?? null),
      ),
    );
  let replies = 0;
  const reply = (from: string, body: string) =>
    hub.publish({ kind: 'message', sid: `SMreply${++replies}`, from, to: HOUSE, params: { Body: body }, source: 'webhook' });
  const restoredOut = () => fresh.map(portOf);
  return {
    clock,
    store,
    room,
    hub,
    board,
    asking,
    texts,
    statuses,
    looked,
    listing,
    out,
    dones,
    failures,
    ask,
    reply,
    warnings,
    errors,
    restoredOut,
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('asking', () => {
  it('asks, and routes the answer to its output with the msg as it came, msg.reply and msg.ask', async () => {
    const t = setup();
    await t.ask({ to: ANN, door: 'garage' });
    assert.deepEqual(
      t.texts.map((x) => [x.to, x.from, x.body]),
      [[ANN, HOUSE, 'Leave the heating on?']],
    );
    assert.equal(t.room.size, 1);
    assert.equal(t.reply(ANN, ' Y! ').claimed, true, 'the answer is the question’s, not news');
    assert.equal(t.out.length, 1);
    const [port, msg] = t.out[0];
    assert.equal(port, YES);
    assert.equal(msg.door, 'garage');
    assert.deepEqual([msg.reply.text, msg.reply.answer, msg.reply.matched], [' Y! ', 'yes', 0]);
    assert.deepEqual([msg.ask.to, msg.ask.outcome, msg.ask.sid, msg.ask.from], [ANN, 'answered', t.texts[0].sid, HOUSE]);
    assert.deepEqual(t.dones, [null]);
    assert.equal(t.room.size, 0);
    assert.equal(t.reply(ANN, 'yes again').claimed, false, 'the question closed: a later text is news');
    // Answered: whether the question was delivered no longer matters, so Twilio is not asked again.
    const looks = t.looked.length;
    await t.clock.advance(30 * 60_000);
    assert.equal(t.looked.length, looks, 'no look at an answered question');
  });

  it('each: every answer goes out, the msg ends with the last; anything else by its output', async () => {
    const t = setup({ mode: 'each' });
    await t.ask({ to: [ANN, BOB, CAT] });
    t.reply(BOB, 'no way');
    t.reply(ANN, 'what heating?');
    assert.deepEqual(
      t.out.map(([p, m]) => [p, m.ask.to]),
      [
        [NO, BOB],
        [ELSE, ANN],
      ],
    );
    assert.deepEqual(t.dones, []);
    assert.deepEqual(t.asking.summary(), { open: 1, nearest: t.clock.now() + HOUR });
    await t.clock.advance(HOUR);
    assert.deepEqual(t.out[2][0], NO_REPLY);
    assert.deepEqual([t.out[2][1].ask.to, t.out[2][1].ask.outcome, t.out[2][1].reply], [CAT, 'no-reply', null]);
    assert.deepEqual(t.dones, [null]);
    assert.deepEqual(t.asking.summary(), { open: 0, nearest: Infinity });
  });

  it('first: a reply that matches nothing goes out alone, the first valid answer wins and the others are told', async () => {
    const t = setup({ mode: 'first', anythingElse: 'wait', tellOthers: '{{reply.from}} said {{reply.answer}}' });
    await t.ask({ to: [ANN, BOB, CAT] });
    t.reply(ANN, 'hmm');
    t.reply(BOB, 'yes');
    assert.deepEqual(
      t.out.map(([p, m]) => [p, m.ask.to]),
      [
        [ELSE, ANN],
        [YES, BOB],
      ],
    );
    assert.deepEqual(t.dones, [null]);
    await settle();
    assert.deepEqual(
      t.texts.slice(3).map((x) => [x.to, x.body]),
      [
        [ANN, `${BOB} said yes`],
        [CAT, `${BOB} said yes`],
      ],
    );
    assert.equal(t.reply(CAT, 'yes').claimed, false, 'the others’ questions closed');
    await t.clock.advance(HOUR);
    assert.equal(t.out.length, 2, 'no "no reply" after the win');
  });

  it('anything else: ends that person’s question by default, with one recipient and with several', async () => {
    const one = setup({ mode: 'first' });
    await one.ask({ to: ANN });
    assert.equal(one.reply(ANN, 'what heating?').claimed, true);
    assert.deepEqual(
      one.out.map(([p, m]) => [p, m.reply.text]),
      [[ELSE, 'what heating?']],
    );
    assert.deepEqual(one.dones, [null], 'the msg ended by anything else');
    assert.equal(one.reply(ANN, 'yes').claimed, false, 'the question is over: a later text is news');

    for (const mode of ['first', 'each'] as const) {
      const several = setup({ mode, anythingElse: 'end', tellOthers: 'taken' });
      await several.ask({ to: [ANN, BOB, CAT] });
      several.reply(ANN, 'hmm');
      assert.equal(several.reply(ANN, 'yes').claimed, false, `${mode}: Ann’s question ended with her first reply`);
      several.reply(BOB, 'yes');
      if (mode === 'each') several.reply(CAT, 'hmm');
      assert.deepEqual(
        several.out.map(([p, m]) => [p, m.ask.to]),
        [[ELSE, ANN], [YES, BOB], ...(mode === 'each' ? [[ELSE, CAT]] : [])],
        mode,
      );
      assert.deepEqual(several.dones, [null], `${mode}: the msg ends once`);
      await settle();
      if (mode === 'first')
        assert.deepEqual(
          several.texts.slice(3).map((x) => x.to),
          [CAT],
          'only those still asked are told',
        );
    }
  });

  it('anything else: keeps waiting for a valid answer when the node says so, with one recipient and with several', async () => {
    const one = setup({ mode: 'first', anythingElse: 'wait' });
    await one.ask({ to: ANN });
    one.reply(ANN, 'what heating?');
    one.reply(ANN, 'hmm?');
    assert.deepEqual(one.dones, [], 'still waiting');
    assert.equal(one.reply(ANN, 'y').claimed, true);
    assert.deepEqual(
      one.out.map(([p, m]) => [p, m.reply.text]),
      [
        [ELSE, 'what heating?'],
        [ELSE, 'hmm?'],
        [YES, 'y'],
      ],
    );
    assert.deepEqual(one.dones, [null]);
    assert.notEqual(one.out[0][1], one.out[2][1], 'anything else leaves as a copy');

    const each = setup({ mode: 'each', anythingElse: 'wait' });
    await each.ask({ to: [ANN, BOB] });
    each.reply(ANN, 'hmm');
    each.reply(BOB, 'no');
    each.reply(ANN, 'yes');
    assert.deepEqual(
      each.out.map(([p, m]) => [p, m.ask.to]),
      [
        [ELSE, ANN],
        [NO, BOB],
        [YES, ANN],
      ],
    );
    assert.deepEqual(each.dones, [null]);

    const unanswered = setup({ mode: 'each', anythingElse: 'wait' });
    await unanswered.ask({ to: ANN });
    unanswered.reply(ANN, 'hmm');
    await unanswered.clock.advance(HOUR);
    assert.deepEqual(
      unanswered.out.map(([p, m]) => [p, m.ask.outcome]),
      [
        [ELSE, 'answered'],
        [NO_REPLY, 'no-reply'],
      ],
    );
    assert.deepEqual(unanswered.dones, [null]);
  });

  it('two questions open for one person: a reply without a code is news for twilio-in, not swallowed', async () => {
    const t = setup();
    await t.ask({ to: ANN, question: 'Heating on?', n: 1 });
    await t.ask({ to: ANN, question: 'Garage shut?', n: 2 });
    assert.equal(t.reply(ANN, 'yes').claimed, false);
    assert.equal(t.reply(ANN, 'FIRE in the kitchen, call 911').claimed, false);
    await settle();
    assert.equal(t.texts.filter((x) => /open questions/.test(x.body)).length, 1, 'one clarifying message');
    assert.equal(t.out.length, 0);
  });

  it('first: a broken "tell the others" is a warning; the answer still wins', async () => {
    const t = setup({ mode: 'first', tellOthers: '{{#unclosed}}' });
    await t.ask({ to: [ANN, BOB] });
    t.reply(ANN, 'y');
    assert.deepEqual(t.out[0][0], YES);
    assert.equal(t.warnings.length, 1);
    assert.equal(t.texts.length, 2, 'no one told');
  });

  it('not delivered: at the look that finds it; in `first` only once no one can answer', async () => {
    const each = setup({ mode: 'each' });
    await each.ask({ to: [ANN, BOB] });
    each.statuses.set(each.texts[0].sid, 'undelivered');
    await each.clock.advance(2_000); // the first look
    assert.deepEqual(each.out[0][0], NOT_DELIVERED);
    assert.deepEqual(
      [each.out[0][1].ask.to, each.out[0][1].ask.error],
      [ANN, { status: 'undelivered', errorCode: 30003, errorMessage: 'Unreachable' }],
    );
    assert.deepEqual(each.dones, []);

    const first = setup({ mode: 'first' });
    await first.ask({ to: [ANN, BOB] });
    first.statuses.set(first.texts[0].sid, 'undelivered');
    await first.clock.advance(2_000);
    assert.equal(first.out.length, 0, 'Bob can still answer');
    first.statuses.set(first.texts[1].sid, 'failed');
    await first.clock.advance(4_000); // the next look
    assert.deepEqual(
      first.out.map(([p, m]) => [p, m.ask.to]),
      [[NOT_DELIVERED, BOB]],
    );
    assert.deepEqual(first.dones, [null]);
  });

  it('sends nothing at all: the msg leaves "not delivered" at once, with why, and its codes are given back', async () => {
    const t = setup({ refused: [ANN, BOB] });
    await t.ask({ to: [ANN, BOB] });
    assert.equal(t.out.length, 1);
    const [port, msg] = t.out[0];
    assert.equal(port, NOT_DELIVERED);
    assert.deepEqual([msg.ask.to, msg.ask.outcome, msg.ask.error.code], [[ANN, BOB], 'not-delivered', 'INVALID_TO_PHONE_NUMBER_ERROR']);
    assert.deepEqual(t.dones, [null]);
    assert.equal(t.room.size, 0);
    assert.deepEqual([t.board.openFor(ANN), t.board.openFor(BOB)], [0, 0]);
  });

  it('some refused: each refused one is "not delivered", the others wait', async () => {
    const t = setup({ refused: [BOB] });
    await t.ask({ to: [ANN, BOB] });
    assert.deepEqual(
      t.out.map(([p, m]) => [p, m.ask.to, m.ask.error?.code]),
      [[NOT_DELIVERED, BOB, 'INVALID_TO_PHONE_NUMBER_ERROR']],
    );
    t.reply(ANN, 'no');
    assert.deepEqual(t.out[1][0], NO);
    assert.deepEqual(t.dones, [null]);
  });

  it('two questions for one person: the second carries its code, and a reply quoting it goes to it', async () => {
    const t = setup();
    await t.ask({ to: ANN, question: 'Heating on?', n: 1 });
    await t.ask({ to: ANN, question: 'Garage shut?', n: 2 });
    const code = /reply with (\d+), e\.g\. "YES \d+"/.exec(t.texts[1].body)?.[1];
    assert.ok(code, t.texts[1].body);
    assert.equal(t.texts[0].body, 'Heating on?');
    t.reply(ANN, `no ${code}`);
    assert.deepEqual(
      t.out.map(([p, m]) => [p, m.n, m.reply.text, m.reply.code]),
      [[NO, 2, 'no', code]],
    );
    t.reply(ANN, 'yes');
    assert.deepEqual([t.out[1][0], t.out[1][1].n], [YES, 1]);
  });

  it('an answer that comes while the question’s Sid is being stored is its answer once it is armed', async () => {
    const t = setup();
    let stored!: () => void;
    const gate = new Promise<void>((r) => (stored = r));
    const set = t.store.set.bind(t.store);
    const written: unknown[] = [];
    let writes = 0;
    t.store.set = async (key: string, value: unknown) => {
      written.push(JSON.parse(JSON.stringify(value ?? null)));
      if (++writes === 2) await gate;
      return set(key, value);
    };
    const asked = t.ask({ to: ANN });
    while (t.texts.length === 0) await settle();
    await settle();
    const intent = (written[0] as AskWait).recipients[ANN];
    assert.equal(intent.sid, '', 'the wait was committed before its text went');
    assert.deepEqual([intent.intent?.to, intent.intent?.from, intent.intent?.body], [ANN, HOUSE, 'Leave the heating on?']);
    assert.equal(t.reply(ANN, 'yes').claimed, true, 'taken by the question opened before it was sent');
    assert.equal(t.out.length, 0);
    stored();
    await asked;
    assert.equal((written[1] as AskWait).recipients[ANN].sid, t.texts[0].sid, 'its Sid written after');
    assert.equal((written[1] as AskWait).recipients[ANN].intent, undefined);
    assert.deepEqual(t.out[0][0], YES);
    assert.deepEqual(t.dones, [null]);
    assert.equal(t.board.openFor(ANN), 0);
  });

  it('a wait the store refuses sends nothing: the msg ends with the store’s error, its code given back', async () => {
    const t = setup();
    t.store.set = () => Promise.reject(new TwilioNodeError('STATE_UNAVAILABLE', 'no store'));
    await t.ask({ to: ANN });
    await settle();
    assert.equal(t.texts.length, 0, 'no text without its intent stored');
    assert.deepEqual(
      t.dones.map((e) => (e as TwilioNodeError | null)?.code),
      ['STATE_UNAVAILABLE'],
    );
    assert.equal(t.board.openFor(ANN), 0);
  });

  it('cancels: the waits of the recipients named (all when none), and a question still being sent when it came', async () => {
    const t = setup();
    await t.ask({ to: ANN, n: 1 });
    await t.ask({ to: BOB, n: 2 });
    await t.asking.cancel({ to: ANN } as unknown as Msg);
    assert.deepEqual(
      t.out.map(([p, m]) => [p, m.n, m.ask.outcome]),
      [[NO_REPLY, 1, 'cancelled']],
    );
    await assert.rejects(t.asking.cancel({ to: 'not a number' } as unknown as Msg), { code: 'INVALID_TO_PHONE_NUMBER_ERROR' });
    assert.equal(t.out.length, 1, 'a To that is no number cancels nothing');

    let stored!: () => void;
    t.store.slow = new Promise<void>((r) => (stored = r));
    const asked = t.ask({ to: CAT, n: 3 });
    await settle();
    await t.asking.cancel({} as Msg);
    t.store.slow = undefined;
    stored();
    await asked;
    assert.deepEqual(
      t.out.map(([, m]) => m.n),
      [1, 2, 3],
    );
    assert.equal(t.texts.length, 2, 'cancelled while its wait was being committed: its question never went');
    assert.equal(t.room.size, 0);
    await t.ask({ to: CAT, n: 4 });
    assert.equal(t.room.size, 1, 'a cancel before a msg came does not end it');
    assert.deepEqual(t.failures, [], 'no ask failed');
  });

  it('resumes stored waits with the time they have left, and sets damaged ones aside without a crash', async () => {
    const store = memoryStore();
    const first = setup({ store, timeoutMs: 10 * 60_000 });
    await first.ask({ to: ANN, door: 'garage' });
    await first.ask({ to: BOB, door: 'gate' });
    const keys = [...store.data.keys()];
    const good = store.data.get(keys[0]) as AskWait;
    const damaged = {
      'twilio-ask-norecipients': { ...good, recipients: null },
      'twilio-ask-nullrecipient': { ...good, recipients: { [ANN]: null } },
      'twilio-ask-nomsg': { ...good, msg: undefined },
      'twilio-ask-noone': { ...good, recipients: {} },
      'twilio-ask-text': 'garbage',
    };
    for (const [k, v] of Object.entries(damaged)) store.data.set(k, v);

    const second = setup({ store });
    second.clock.set(Date.parse('2026-01-01T08:05:00Z'));
    second.asking.resume(await second.room.restore());
    assert.equal(second.room.size, 2);
    assert.equal(second.warnings.length, 1, 'said once');
    assert.deepEqual(
      [...store.data.keys()].filter((k) => k.startsWith('damaged-')).sort(),
      Object.keys(damaged)
        .map((k) => `damaged-${k}`)
        .sort(),
    );
    second.reply(ANN, 'yes');
    assert.deepEqual(
      second.restoredOut().map(([p, m]) => [p, m.door]),
      [[YES, 'garage']],
      'the answer leaves as a fresh msg',
    );
    await second.clock.advance(5 * 60_000 - 1);
    assert.equal(second.restoredOut().length, 1, 'not before its deadline');
    await second.clock.advance(1);
    const [port, msg] = second.restoredOut()[1];
    assert.deepEqual([port, msg.door, msg.ask.outcome], [NO_REPLY, 'gate', 'no-reply']);
    assert.deepEqual(
      keys.filter((k) => store.data.has(k)),
      [],
      'gone from the store',
    );
  });
});

describe('asking after a crash: questions whose Sid was never written', () => {
  const T0 = Date.parse('2026-01-01T08:00:00Z');
  const intentOf = (to: string, body: string, extra: Record<string, unknown> = {}) => ({
    deadline: T0 + HOUR,
    askedAt: new Date(T0).toISOString(),
    msg: { to, ...extra },
    question: body,
    recipients: { [to]: { sid: '', code: '11', person: to, from: HOUSE, open: true, intent: { to, from: HOUSE, body, at: T0 } } },
  });

  it('reconciles each: found → it waits on as asked (with its Sid); not found → the msg ends NOT_SENT, its question never opened', async () => {
    const store = memoryStore();
    store.data.set('twilio-ask-sent', intentOf(ANN, 'Open the gate?', { n: 1 }));
    store.data.set('twilio-ask-lost', intentOf(BOB, 'Open the gate?', { n: 2 }));
    const existing = [{ sid: 'SMfound', to: ANN, from: HOUSE, body: 'Open the gate?', dateCreated: new Date(T0 + 800).toISOString() }];
    const t = setup({ store, existing });
    t.clock.set(T0 + 60_000);
    await t.room.restore((r) => t.asking.resume(r));
    await t.asking.reconciled();
    assert.equal(t.texts.length, 1, 'nothing texted again');
    assert.equal(t.errors.length, 1);
    const [err, msg] = t.errors[0];
    assert.deepEqual([err.code, msg.n], ['NOT_SENT', 2], 'the lost question’s msg ends NOT_SENT, for Catch');
    assert.equal(t.board.openFor(BOB), 0, 'its question was never opened');
    assert.equal(t.reply(BOB, 'yes').claimed, false, 'a text from its person is news');
    assert.equal((store.data.get('twilio-ask-sent') as AskWait).recipients[ANN].sid, 'SMfound', 'the Sid found is stored');
    assert.equal(t.reply(ANN, 'yes').claimed, true);
    assert.deepEqual(
      t.restoredOut().map(([p, m]) => [p, m.n, m.ask.sid]),
      [[YES, 1, 'SMfound']],
    );
    assert.deepEqual([...store.data.keys()], [], 'both ended, both gone from the store');
  });

  it('believes a look that finds nothing only RECONCILE_SETTLE_MS after the restart began looking, saying no warning meanwhile', async () => {
    const store = memoryStore();
    store.data.set('twilio-ask-late', intentOf(ANN, 'Open the gate?', { n: 1 }));
    store.data.set('twilio-ask-lost', intentOf(BOB, 'Open the gate?', { n: 2 }));
    const t = setup({ store, justRestarted: true });
    t.clock.set(T0 + 2_000);
    const restore = installClock(t.clock);
    try {
      await t.room.restore((r) => t.asking.resume(r));
      for (let i = 0; i < 5; i++) await settle();
      assert.deepEqual([t.listing.asked, t.errors.length, t.warnings], [1, 0, []], 'nothing found yet: not believed, nothing said');
      // The create that reached Twilio as the process died is made there now.
      t.texts.push({ sid: 'SMlate', to: ANN, from: HOUSE, body: 'Open the gate?', dateCreated: new Date(T0 + 3_000).toISOString() });
      await t.clock.advance(RECONCILE_SETTLE_MS);
      await t.asking.reconciled();
      assert.deepEqual(t.warnings, []);
      assert.equal((store.data.get('twilio-ask-late') as AskWait).recipients[ANN].sid, 'SMlate', 'found after the wait');
      assert.deepEqual(
        t.errors.map(([err, msg]) => [err.code, msg.n]),
        [['NOT_SENT', 2]],
        'the other one, not found after the wait, ends NOT_SENT',
      );
      assert.equal(t.texts.length, 1, 'nothing texted again');
    } finally {
      restore();
    }
  });

  it('asks Twilio again, with backoff on the Clock, while it cannot be asked: never a guess', async () => {
    const store = memoryStore();
    store.data.set('twilio-ask-sent', intentOf(ANN, 'Open the gate?'));
    const existing = [{ sid: 'SMfound', to: ANN, from: HOUSE, body: 'Open the gate?', dateCreated: new Date(T0).toISOString() }];
    const t = setup({ store, existing });
    t.listing.fails = 3;
    await t.room.restore((r) => t.asking.resume(r));
    for (let i = 0; i < 5; i++) await settle();
    assert.equal(t.listing.asked, 1);
    assert.equal(t.warnings.length, 1, 'said once');
    await t.clock.advance(1000);
    assert.equal(t.listing.asked, 2);
    await t.clock.advance(2000);
    assert.equal(t.listing.asked, 3);
    await t.clock.advance(4000);
    await t.asking.reconciled();
    assert.equal(t.listing.asked, 4);
    assert.deepEqual([t.errors.length, t.board.openFor(ANN)], [0, 1], 'found at last: it waits on');
    await t.clock.advance(HOUR);
    assert.deepEqual(
      t.restoredOut().map(([p]) => p),
      [NO_REPLY],
    );
  });

  it('a stop while Twilio cannot be asked ends the backoff: no timer, no question left', async () => {
    const store = memoryStore();
    store.data.set('twilio-ask-sent', intentOf(ANN, 'Open the gate?'));
    const t = setup({ store });
    t.listing.fails = 100;
    await t.room.restore((r) => t.asking.resume(r));
    for (let i = 0; i < 5; i++) await settle();
    t.asking.stop();
    await t.asking.reconciled();
    assert.equal(t.board.openFor(ANN), 0);
    assert.equal(t.clock.pending, 0);
    assert.ok(store.data.has('twilio-ask-sent'), 'the intent stays stored for the next start');
  });
});

describe('ask waits', () => {
  const good: AskWait = {
    deadline: 1,
    askedAt: '2026-01-01T08:00:00.000Z',
    msg: { payload: 1 },
    question: 'q',
    recipients: { [ANN]: { sid: 'SM1', code: '12', person: ANN, from: HOUSE, askedAt: 5, open: true } },
  };

  it('takes a stored wait only whole: every recipient checked, never a throw', () => {
    assert.equal(isAskWait(good), true);
    assert.equal(isAskWait(JSON.parse(JSON.stringify({ ...good, recipients: { [ANN]: { sid: '', code: '', open: false } } }))), true);
    const broken: unknown[] = [
      null,
      'x',
      [],
      { ...good, recipients: null },
      { ...good, recipients: { [ANN]: null } },
      { ...good, recipients: { [ANN]: { ...good.recipients[ANN], open: 'yes' } } },
      { ...good, recipients: { [ANN]: { ...good.recipients[ANN], sid: 7 } } },
      { ...good, recipients: { [ANN]: { ...good.recipients[ANN], person: {} } } },
      { ...good, recipients: {} },
      { ...good, msg: undefined },
      { ...good, msg: null },
      { ...good, msg: [] },
      { ...good, deadline: '1' },
      { ...good, deadline: NaN },
      { ...good, askedAt: undefined },
      { ...good, question: undefined },
    ];
    for (const value of broken) assert.equal(isAskWait(value), false, JSON.stringify(value));
  });

  it('remembers cancels by their order, for the recipients they named', () => {
    const clock = new ManualClock(0);
    const cancels = new RecentCancels(clock);
    const before = cancels.mark();
    cancels.add(new Set([ANN]));
    const between = cancels.mark();
    assert.equal(cancels.since(before, [ANN, BOB]), true);
    assert.equal(cancels.since(before, [BOB]), false);
    assert.equal(cancels.since(between, [ANN]), false, 'a cancel before the msg, in the same millisecond');
    cancels.add();
    assert.equal(cancels.since(between, [CAT]), true, 'a cancel of all');
    clock.set(61_000);
    cancels.add(new Set([CAT]));
    assert.equal(cancels.since(before, [ANN]), false, 'a minute on, forgotten');
  });
});
