/**
 * Outcome waits without Node-RED: the stored record and its deep check, the payload and port once
 * every outcome is in, the failure Catch hears of, and the lifecycle on a WaitingRoom (hold, a look
 * on a ManualClock, restore after a restart, a damaged record set aside, a removed node).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../lib/core/clock';
import { TwilioNodeError } from '../../../lib/core/errors';
import { InboundHub } from '../../../lib/inbound/hub';
import { OutcomeTracker, StatusReport, TrackedKind } from '../../../lib/inbound/outcomes';
import type { KeyValueStore } from '../../../lib/node-red/context';
import type { Delivery } from '../../../lib/outbound/delivery';
import type { AcceptedMessage } from '../../../lib/outbound/intake';
import {
  OUTCOME_WAIT_PREFIX,
  OutcomeWait,
  OutcomeWaits,
  OutcomeWaitsOptions,
  StoredIntent,
  intentOf,
  failureOf,
  isOutcomeWait,
  isSettled,
  outcomeReport,
  outcomeWaitOf,
} from '../../../lib/waits/outcome-waits';
import { WaitingRoom } from '../../../lib/waits/waiting-room';
import { reconcileRetryMs } from '../../../lib/outbound/reconcile';

const ANN = '+15555550100';
const BOB = '+15555550101';
const SM1 = 'SM' + '1'.repeat(32);
const SM2 = 'SM' + '2'.repeat(32);
const translate = (key: string) => key;

function delivery(sent: Record<string, string>, failed: Record<string, TwilioNodeError> = {}): Delivery<Record<string, unknown>> {
  const recipients = [...Object.keys(sent), ...Object.keys(failed)];
  const failures = new Map(Object.entries(failed));
  const first = recipients.find((r) => failures.has(r));
  return {
    recipients,
    results: new Map(Object.entries(sent).map(([to, sid]) => [to, { sid, to }])),
    failures,
    firstFailure: first === undefined ? undefined : failures.get(first),
  };
}

function record(overrides: Partial<Record<keyof OutcomeWait, unknown>> = {}): Record<string, unknown> {
  return {
    kind: 'message',
    deadline: Date.now() + 60_000,
    callbacks: false,
    msg: { payload: 'x', door: 'garage' },
    several: false,
    sids: { [ANN]: SM1 },
    errors: {},
    outcomes: {},
    ...overrides,
  };
}

const delivered = (sid: string) => ({ sid, kind: 'message', status: 'delivered', reached: true, via: 'poll' });

describe('the outcome wait record', () => {
  it('is built from a delivery: Sids by recipient, the failed ones, and the failure Catch hears once all are in', () => {
    const invalid = new TwilioNodeError('INVALID_TO_PHONE_NUMBER_ERROR', 'not a number');
    const wait = outcomeWaitOf(delivery({ [ANN]: SM1 }, { '+15005550001': invalid }), {
      kind: 'message',
      deadline: 1_000,
      callbacks: true,
      msg: { payload: 'x' },
      translate,
    });
    assert.deepEqual(wait.sids, { [ANN]: SM1 });
    assert.equal(wait.several, true);
    assert.deepEqual(Object.keys(wait.errors), ['+15005550001']);
    assert.equal((wait.errors['+15005550001'] as { code: string }).code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(wait.failure?.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.match(wait.failure!.message, /1 of 2 recipients failed; first: not a number/);
    assert.ok(isOutcomeWait(JSON.parse(JSON.stringify(wait))), 'what it stores passes its own check');
    const failure = failureOf(wait);
    assert.ok(failure instanceof TwilioNodeError);
    assert.equal(failure.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
  });

  it('has no failure when every recipient was sent', () => {
    const wait = outcomeWaitOf(delivery({ [ANN]: SM1 }), { kind: 'call', deadline: 1, callbacks: false, msg: {}, translate });
    assert.equal(wait.failure, undefined);
    assert.equal(failureOf(wait), undefined);
    assert.equal(wait.several, false);
  });

  it('reports one recipient as the outcome itself (with its number), several as a map, and whether all were reached', () => {
    const one = record({ outcomes: { [ANN]: delivered(SM1) } }) as unknown as OutcomeWait;
    assert.ok(isSettled(one));
    assert.deepEqual(outcomeReport(one), { payload: { ...delivered(SM1), to: ANN }, reached: true });

    const several = record({
      several: true,
      sids: { [ANN]: SM1, [BOB]: SM2 },
      outcomes: { [ANN]: delivered(SM1) },
    }) as unknown as OutcomeWait;
    assert.equal(isSettled(several), false, 'one outcome of two');
    several.outcomes[BOB] = { sid: SM2, kind: 'message', status: 'undelivered', reached: false, via: 'poll', errorCode: 30003 };
    const report = outcomeReport(several);
    assert.equal(report.reached, false);
    assert.deepEqual((report.payload as { results: unknown }).results, { [ANN]: SM1, [BOB]: SM2 });
    assert.equal((report.payload as { outcomes: Record<string, { status: string }> }).outcomes[BOB].status, 'undelivered');

    const withErrors = record({ outcomes: { [ANN]: delivered(SM1) }, errors: { x: { code: 'NOT_FOUND' } } }) as unknown as OutcomeWait;
    assert.equal(outcomeReport(withErrors).reached, false, 'a recipient never sent was not reached');
  });

  it('accepts a stored record, and refuses every damaged one without throwing', () => {
    assert.equal(isOutcomeWait(record()), true);
    assert.equal(isOutcomeWait(record({ outcomes: { [ANN]: delivered(SM1) }, failure: { code: 'NOT_FOUND', message: 'm' } })), true);
    const damaged: Array<[string, unknown]> = [
      ['null', null],
      ['an array', [record()]],
      ['a text', 'twilio-send-wait'],
      ['another kind', record({ kind: 'fax' })],
      ['no deadline', record({ deadline: undefined })],
      ['a deadline that is not a time', record({ deadline: 'soon' })],
      ['an infinite deadline', record({ deadline: Infinity })],
      ['callbacks not a boolean', record({ callbacks: 'yes' })],
      ['several not a boolean', record({ several: 1 })],
      ['no msg', record({ msg: undefined })],
      ['a msg that is null', record({ msg: null })],
      ['a msg that is a text', record({ msg: 'hello' })],
      ['sids null', record({ sids: null })],
      ['sids an array', record({ sids: [SM1] })],
      ['no sids at all', record({ sids: {} })],
      ['a recipient whose Sid is null', record({ sids: { [ANN]: null } })],
      ['a recipient whose Sid is a number', record({ sids: { [ANN]: 7 } })],
      ['errors null', record({ errors: null })],
      ['outcomes null', record({ outcomes: null })],
      ['an outcome that is null', record({ outcomes: { [ANN]: null } })],
      ['an outcome without a status', record({ outcomes: { [ANN]: { reached: true } } })],
      ['an outcome of nobody it sent to', record({ outcomes: { [BOB]: delivered(SM2) } })],
      ['a failure without a code', record({ failure: { message: 'm' } })],
      ['a failure that is a text', record({ failure: 'broken' })],
    ];
    for (const [what, value] of damaged) assert.equal(isOutcomeWait(value), false, what);
  });
});

/** An in-memory store, as a context store behaves. */
function memoryStore(initial: Record<string, unknown> = {}): KeyValueStore & { data: Map<string, unknown> } {
  const data = new Map(Object.entries(initial));
  return {
    data,
    get: async (key) => data.get(key),
    set: async (key, value) => {
      if (value === undefined) data.delete(key);
      else data.set(key, value);
    },
    keys: async () => [...data.keys()],
  };
}

function accepted() {
  const seen = { sent: [] as unknown[], done: [] as Array<TwilioNodeError | undefined> };
  const msg: AcceptedMessage<any> & { seen: typeof seen } = {
    seen,
    get ended() {
      return seen.done.length > 0;
    },
    send: (m) => seen.sent.push(m),
    done: (error) => seen.done.push(error),
  };
  return msg;
}

/** OutcomeWaits on a room and a tracker whose looks answer from `twilio` (sid → status). */
function setUp(
  options: {
    store?: KeyValueStore & { data: Map<string, unknown> };
    failureOutput?: boolean;
    twilio?: Record<string, string>;
    reconcile?: OutcomeWaitsOptions['reconcile'];
    remember?: OutcomeWaitsOptions['remember'];
    twilioOffset?: OutcomeWaitsOptions['twilioOffset'];
    callbacks?: boolean;
    deadlineMs?: number;
  } = {},
) {
  const clock = new ManualClock();
  const store = options.store ?? memoryStore();
  const node = { id: 'send', sent: [] as unknown[], logs: [] as string[], warnings: [] as string[], errors: [] as Array<[any, any]> };
  const roomNode = {
    id: node.id,
    send: (m: unknown) => node.sent.push(m),
    log: (m: string) => node.logs.push(m),
    warn: (m: string) => node.warnings.push(m),
    error: (e: Error, m?: unknown) => void node.errors.push([e, m]),
  };
  const room = new WaitingRoom<OutcomeWait>({
    node: roomNode,
    store,
    prefix: OUTCOME_WAIT_PREFIX,
    capacity: 10,
    outputs: options.failureOutput ? 2 : 1,
    isRecord: isOutcomeWait,
    notSent: () => new TwilioNodeError('NOT_SENT', 'not sent'),
    abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', 'abandoned'),
    clock,
  });
  const looks: string[] = [];
  const twilio = options.twilio ?? {};
  const tracker = new OutcomeTracker({
    hub: new InboundHub(),
    clock,
    fetchStatus: async (_kind: TrackedKind, sid: string): Promise<StatusReport> => {
      looks.push(sid);
      return { status: twilio[sid] ?? 'sent' };
    },
  });
  const statuses: string[] = [];
  const status = {
    translate,
    working: (key: string) => statuses.push(key),
    success: (key: string) => statuses.push(key),
    warning: (key: string) => statuses.push(key),
  };
  const waits = new OutcomeWaits({
    room,
    tracker,
    kind: 'message',
    deadlineMs: options.deadlineMs ?? 10_000,
    callbacks: options.callbacks ?? false,
    status,
    clock,
    reconcile: options.reconcile,
    remember: options.remember,
    twilioOffset: options.twilioOffset,
    log: (m) => node.logs.push(m),
  });
  return { clock, store, node, room, waits, looks, statuses, twilio };
}

describe('OutcomeWaits', () => {
  it('holds a sent msg (stored first), looks on its clock, and sends it on once with the outcome', async () => {
    const { clock, store, waits, looks, statuses, twilio } = setUp({ twilio: { [SM1]: 'delivered' } });
    const msg = { _msgid: 'm1', payload: 'x' } as any;
    const admission = waits.admit(msg);
    const taken = accepted();
    await waits.hold(admission, msg, taken, delivery({ [ANN]: SM1 }));
    assert.equal(store.data.size, 1, 'stored before any look');
    assert.deepEqual(taken.seen.sent, []);
    await clock.advance(1_999);
    assert.deepEqual(looks, [], 'the first look comes after 2 s');
    await clock.advance(1);
    assert.deepEqual(looks, [SM1]);
    assert.equal(taken.seen.sent.length, 1);
    assert.equal((taken.seen.sent[0] as any).payload.status, 'delivered');
    assert.equal((taken.seen.sent[0] as any).payload.to, ANN);
    assert.deepEqual(taken.seen.done, [undefined], 'done once, without an error');
    assert.equal(store.data.size, 0, 'gone from the store');
    assert.deepEqual(statuses, ['twilio-send.status.waiting', 'twilio-send.status.reached']);
    twilio[SM1] = 'read';
    await clock.advance(60_000);
    assert.equal(taken.seen.sent.length, 1, 'once');
  });

  it('sends what did not reach everyone by the second output, and tells Catch of recipients never sent', async () => {
    const { clock, waits } = setUp({ failureOutput: true, twilio: { [SM1]: 'delivered', [SM2]: 'undelivered' } });
    const msg = { payload: 'x' } as any;
    const taken = accepted();
    const invalid = new TwilioNodeError('INVALID_TO_PHONE_NUMBER_ERROR', 'not a number');
    await waits.hold(waits.admit(msg), msg, taken, delivery({ [ANN]: SM1, [BOB]: SM2 }, { '+15005550001': invalid }));
    await clock.advance(2_000);
    const [out] = taken.seen.sent as Array<[unknown, any]>;
    assert.equal(out[0], null);
    assert.deepEqual(Object.keys(out[1].payload.outcomes).sort(), [ANN, BOB].sort());
    assert.equal(taken.seen.done.length, 1);
    assert.equal(taken.seen.done[0]?.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
  });

  it('ends as unknown at the deadline, with the last status Twilio gave', async () => {
    const { clock, waits } = setUp();
    const msg = { payload: 'x' } as any;
    const taken = accepted();
    await waits.hold(waits.admit(msg), msg, taken, delivery({ [ANN]: SM1 }));
    await clock.advance(10_000);
    const payload = (taken.seen.sent[0] as any).payload;
    assert.deepEqual([payload.status, payload.lastStatus, payload.via], ['unknown', 'sent', 'deadline']);
  });

  it('resumes the waits a previous run stored and sends their msgs as fresh ones; a damaged record is set aside, not resumed', async () => {
    const good = record({
      deadline: Date.now() + 60_000,
      several: true,
      sids: { [ANN]: SM1, [BOB]: SM2 },
      outcomes: { [ANN]: delivered(SM1) },
    });
    const store = memoryStore({
      [`${OUTCOME_WAIT_PREFIX}good`]: good,
      [`${OUTCOME_WAIT_PREFIX}nosids`]: record({ sids: null }),
      [`${OUTCOME_WAIT_PREFIX}nullrecipient`]: record({ sids: { [ANN]: null } }),
      [`${OUTCOME_WAIT_PREFIX}nomsg`]: record({ msg: undefined }),
      'someone-else': { kept: true },
    });
    const { clock, node, waits, looks, room } = setUp({ store, twilio: { [SM2]: 'delivered' } });
    assert.equal(await waits.resume(), 1);
    assert.equal(room.size, 1);
    assert.equal(node.warnings.length, 1, 'said once');
    assert.match(node.warnings[0], /3/);
    for (const id of ['nosids', 'nullrecipient', 'nomsg']) {
      assert.equal(store.data.has(`${OUTCOME_WAIT_PREFIX}${id}`), false, `${id} is no longer a wait`);
      assert.ok(store.data.has(`damaged-${OUTCOME_WAIT_PREFIX}${id}`), `${id} is kept aside for inspection`);
    }
    assert.deepEqual(store.data.get('someone-else'), { kept: true });
    await clock.advance(60_000);
    assert.deepEqual(looks, [SM2], 'only the outcome it did not have yet');
    assert.equal(node.sent.length, 1, 'the resumed msg, sent by the node (its done ended with the run that took it)');
    const out = node.sent[0] as any;
    assert.equal(out.door, 'garage', 'the msg as it came in');
    assert.deepEqual(Object.keys(out.payload.outcomes).sort(), [ANN, BOB].sort());
  });

  it('with status callbacks on, looks 30 s after a send, but 2 s after a restore (a callback may have come while no one held it)', async () => {
    const held = setUp({ callbacks: true, deadlineMs: 600_000 });
    const msg = { payload: 'x' } as any;
    await held.waits.hold(held.waits.admit(msg), msg, accepted(), delivery({ [ANN]: SM1 }));
    await held.clock.advance(29_999);
    assert.deepEqual(held.looks, [], 'a callback is on its way: the look only catches a lost one');
    await held.clock.advance(1);
    assert.deepEqual(held.looks, [SM1]);

    const store = memoryStore({ [`${OUTCOME_WAIT_PREFIX}w`]: record({ callbacks: true, deadline: Date.now() + 600_000 }) });
    const restored = setUp({ store, callbacks: true });
    assert.equal(await restored.waits.resume(), 1);
    await restored.clock.advance(2_000);
    assert.deepEqual(restored.looks, [SM1], 'looked at soon after the restore');
    await restored.clock.advance(59_999);
    assert.deepEqual(restored.looks, [SM1], 'then as often as with callbacks');
    await restored.clock.advance(1);
    assert.deepEqual(restored.looks, [SM1, SM1]);
  });

  it('sends on at once a restored wait whose outcomes were all in, and looks once for one whose deadline passed', async () => {
    const store = memoryStore({
      [`${OUTCOME_WAIT_PREFIX}complete`]: record({ outcomes: { [ANN]: delivered(SM1) } }),
      [`${OUTCOME_WAIT_PREFIX}late`]: record({ deadline: Date.now() - 1_000, sids: { [BOB]: SM2 } }),
    });
    const { node, waits, looks } = setUp({ store, twilio: { [SM2]: 'undelivered' } });
    await waits.resume();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(looks, [SM2]);
    assert.deepEqual(
      node.sent.map((m: any) => m.payload.status),
      ['delivered', 'undelivered'],
    );
  });

  it('keeps its waits on a redeploy (done, stored, no more looks), and ends them as OUTCOME_UNKNOWN when the node is removed', async () => {
    for (const removed of [false, true]) {
      const { clock, store, waits, room, looks } = setUp();
      const msg = { payload: 'x' } as any;
      const taken = accepted();
      await waits.hold(waits.admit(msg), msg, taken, delivery({ [ANN]: SM1 }));
      waits.stop();
      await room.close(removed, waits.endRemoved);
      assert.equal(taken.seen.done.length, 1);
      if (removed) {
        assert.equal(taken.seen.done[0]?.code, 'OUTCOME_UNKNOWN');
        assert.equal(store.data.size, 0, 'the store forgets it');
      } else {
        assert.equal(taken.seen.done[0], undefined);
        assert.equal(store.data.size, 1, 'stored, to resume');
      }
      await clock.advance(60_000);
      assert.deepEqual(looks, [], 'no look after the close');
      assert.deepEqual(taken.seen.sent, []);
    }
  });

  it('gives back the room of a msg that will not wait, and refuses one its wait could not keep', () => {
    const { waits, room } = setUp();
    const circular: Record<string, unknown> = { payload: 'x' };
    circular.self = circular;
    assert.throws(() => waits.admit(circular as any), { code: 'INVALID_INPUT' });
    const admissions = Array.from({ length: 10 }, () => waits.admit({ payload: 'x' } as any));
    assert.throws(() => waits.admit({ payload: 'x' } as any), { code: 'NOT_SENT' });
    waits.withdraw(admissions[0]);
    assert.doesNotThrow(() => waits.admit({ payload: 'x' } as any));
    assert.equal(room.size, 0);
  });
});

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};
const intent = (to: string, body: string): StoredIntent => ({ to, from: '+15017122661', body, at: Date.now() });

describe('OutcomeWaits: intents before sends, reconciled after a crash', () => {
  it('keeps intents in its record check, and refuses damaged ones', () => {
    const pending = record({ sids: {}, intents: { [ANN]: intent(ANN, 'hi') } });
    assert.equal(isOutcomeWait(pending), true);
    assert.equal(isOutcomeWait(record({ sids: { [ANN]: SM1 }, intents: { [BOB]: intent(BOB, 'hi') } })), true);
    const damaged: Array<[string, unknown]> = [
      ['neither a Sid nor an intent', record({ sids: {}, intents: {} })],
      ['intents not an object', record({ sids: {}, intents: [intent(ANN, 'hi')] })],
      ['an intent null', record({ sids: {}, intents: { [ANN]: null } })],
      ['an intent without its recipient', record({ sids: {}, intents: { [ANN]: { at: 1 } } })],
      ['an intent without its time', record({ sids: {}, intents: { [ANN]: { to: ANN } } })],
      ['a body that is no text', record({ sids: {}, intents: { [ANN]: { ...intent(ANN, 'x'), body: 7 } } })],
      ['a recipient both sent and intended', record({ sids: { [ANN]: SM1 }, intents: { [ANN]: intent(ANN, 'hi') } })],
    ];
    for (const [what, value] of damaged) assert.equal(isOutcomeWait(value), false, what);
  });

  it("reads an intent from a create's parameters: To, sender, the body as sent, the time", () => {
    assert.deepEqual(intentOf({ to: ANN, from: '+15017122661', body: 'Hi Ann', statusCallback: 'https://x' }, 5), {
      to: ANN,
      from: '+15017122661',
      body: 'Hi Ann',
      at: 5,
    });
    assert.deepEqual(intentOf({ to: ANN, messagingServiceSid: 'MG' + '1'.repeat(32), contentSid: 'HX' + '2'.repeat(32) }, 6), {
      to: ANN,
      messagingServiceSid: 'MG' + '1'.repeat(32),
      contentSid: 'HX' + '2'.repeat(32),
      at: 6,
    });
  });

  it('stores every recipient as an intent before anything is sent, writes each Sid after, then tracks', async () => {
    const { clock, store, waits, looks } = setUp({ twilio: { [SM1]: 'delivered', [SM2]: 'delivered' } });
    const msg = { payload: 'x' } as any;
    const taken = accepted();
    const params: Array<[string, Record<string, unknown>]> = [
      [ANN, { to: ANN, from: '+15017122661', body: 'Hi' }],
      [BOB, { to: BOB, from: '+15017122661', body: 'Hi' }],
    ];
    const intended = await waits.intend(waits.admit(msg), msg, taken, params);
    assert.ok(intended);
    const [stored] = [...store.data.values()] as OutcomeWait[];
    assert.deepEqual(Object.keys(stored.intents!).sort(), [ANN, BOB].sort(), 'both intents committed before any request');
    assert.deepEqual(stored.sids, {});
    assert.equal(stored.intents![ANN].body, 'Hi');
    assert.equal(stored.intents![ANN].at, clock.now());
    intended.sent(ANN, { sid: SM1 });
    await settle();
    const afterOne = [...store.data.values()][0] as OutcomeWait;
    assert.deepEqual(afterOne.sids, { [ANN]: SM1 });
    assert.deepEqual(Object.keys(afterOne.intents!), [BOB]);
    intended.sent(BOB, { sid: SM2 });
    await intended.hold(delivery({ [ANN]: SM1, [BOB]: SM2 }));
    const held = [...store.data.values()][0] as OutcomeWait;
    assert.equal(held.intents, undefined, 'no intent left once every request was answered');
    await clock.advance(2_000);
    assert.deepEqual(looks.sort(), [SM1, SM2].sort());
    assert.equal(taken.seen.sent.length, 1);
    assert.equal(store.data.size, 0);
  });

  it("stores the offset to Twilio's clock with each intent, remembers each Sid as its intent's, and reconciles by that name", async () => {
    const remembered: Array<[string, string]> = [];
    let offset: number | undefined = -600_000;
    const { store, waits } = setUp({ remember: (sid, ref) => remembered.push([sid, ref]), twilioOffset: () => offset });
    const msg = { payload: 'x' } as any;
    const params: Array<[string, Record<string, unknown>]> = [
      [ANN, { to: ANN, from: '+15017122661', body: 'Hi' }],
      [BOB, { to: BOB, from: '+15017122661', body: 'Hi' }],
    ];
    const intended = await waits.intend(waits.admit(msg), msg, accepted(), params);
    const [[key, stored]] = [...store.data.entries()] as Array<[string, OutcomeWait]>;
    const id = key.slice(OUTCOME_WAIT_PREFIX.length);
    assert.equal(stored.intents![ANN].twilioOffsetMs, -600_000);
    intended!.sent(ANN, { sid: SM1 });
    assert.deepEqual(remembered, [[SM1, `send/${id}/${ANN}`]]);
    await settle();
    // The power goes with Bob's request on its way: the next start asks Twilio for it, by its name.
    const asked: Array<[string, string | undefined, string]> = [];
    const next = setUp({
      store,
      reconcile: async (_kind, intent, _taken, ref) => {
        asked.push([intent.to, String(intent.twilioOffsetMs), ref]);
        return undefined;
      },
    });
    await next.waits.resume();
    assert.deepEqual(asked, [[BOB, '-600000', `send/${id}/${BOB}`]]);
    // Before any answer of the account told it, an intent carries no offset (the reconcile learns it then).
    offset = undefined;
    const fresh = setUp({ twilioOffset: () => offset });
    await fresh.waits.intend(fresh.waits.admit(msg), msg, accepted(), [[ANN, { to: ANN, body: 'x' }]]);
    const [late] = [...fresh.store.data.values()] as OutcomeWait[];
    assert.equal(Object.hasOwn(late.intents![ANN], 'twilioOffsetMs'), false);
  });

  it("refuses with the store's coded error when the intent cannot be committed (nothing to send), and frees its room", async () => {
    const store = memoryStore();
    store.set = async () => {
      throw new TwilioNodeError('STATE_UNAVAILABLE', 'state store not open');
    };
    const { waits, room } = setUp({ store });
    const msg = { payload: 'x' } as any;
    await assert.rejects(waits.intend(waits.admit(msg), msg, accepted(), [[ANN, { to: ANN, body: 'x' }]]), { code: 'STATE_UNAVAILABLE' });
    assert.equal(room.size, 0);
    for (let i = 0; i < 10; i++) waits.admit({ payload: 'x' } as any); // all ten places are free again
  });

  it('releases a wait nothing was sent for: gone from the store, its msg not ended by the room', async () => {
    const { store, waits, room } = setUp();
    const msg = { payload: 'x' } as any;
    const taken = accepted();
    const intended = await waits.intend(waits.admit(msg), msg, taken, [[ANN, { to: ANN, body: 'x' }]]);
    intended!.release();
    await settle();
    assert.equal(room.size, 0);
    assert.equal(store.data.size, 0);
    assert.deepEqual(taken.seen.done, [], 'the caller ends it');
  });

  it('after a restart: found intents wait on with their Sid, unfound ones are NOT_SENT, before anything else', async () => {
    const asked: Array<[string, string[]]> = [];
    const atTwilio: Record<string, string> = { 'found-ann': SM1 };
    const store = memoryStore({
      [`${OUTCOME_WAIT_PREFIX}found`]: record({ sids: {}, intents: { [ANN]: intent(ANN, 'found-ann') } }),
      [`${OUTCOME_WAIT_PREFIX}lost`]: record({ sids: {}, intents: { [BOB]: intent(BOB, 'lost-bob') }, msg: { payload: 'lost' } }),
      [`${OUTCOME_WAIT_PREFIX}sent`]: record({ sids: { [BOB]: SM2 } }),
    });
    const reconcile: OutcomeWaitsOptions['reconcile'] = async (_kind, i, taken) => {
      asked.push([i.body!, [...taken]]);
      return atTwilio[i.body!];
    };
    const { clock, node, waits, looks, statuses } = setUp({ store, reconcile, twilio: { [SM1]: 'delivered', [SM2]: 'delivered' } });
    await waits.resume();
    await waits.ready();
    assert.deepEqual(statuses.slice(0, 2), ['twilio-send.status.reconciling', 'twilio-send.status.waiting']);
    assert.deepEqual(asked.map(([body]) => body).sort(), ['found-ann', 'lost-bob']);
    for (const [, taken] of asked) assert.ok(taken.includes(SM2), 'the Sids other waits hold are never given');
    await settle();
    assert.equal(node.errors.length, 1, 'the unfound one ended at once');
    const [error, msg] = node.errors[0];
    assert.equal(error.code, 'NOT_SENT');
    assert.equal(msg.payload, 'lost', 'Catch hears it with its msg');
    assert.equal(store.data.has(`${OUTCOME_WAIT_PREFIX}lost`), false);
    const found = store.data.get(`${OUTCOME_WAIT_PREFIX}found`) as OutcomeWait;
    assert.deepEqual([found.sids, found.intents], [{ [ANN]: SM1 }, undefined], 'its Sid committed before it goes on');
    await clock.advance(2_000);
    assert.deepEqual(looks.sort(), [SM1, SM2].sort());
    assert.equal(node.sent.length, 2, 'the found one and the one already sent end as delivered');
    assert.deepEqual(
      node.sent.map((m: any) => m.payload.status),
      ['delivered', 'delivered'],
    );
  });

  it('a msg with several recipients: the found ones wait on, Catch hears of the unfound ones at the end', async () => {
    const store = memoryStore({
      [`${OUTCOME_WAIT_PREFIX}two`]: record({
        several: true,
        sids: {},
        intents: { [ANN]: intent(ANN, 'same'), [BOB]: intent(BOB, 'same') },
      }),
    });
    const reconcile: OutcomeWaitsOptions['reconcile'] = async (_kind, i) => (i.to === ANN ? SM1 : undefined);
    const { clock, node, waits } = setUp({ store, reconcile, twilio: { [SM1]: 'delivered' } });
    await waits.resume();
    await clock.advance(2_000);
    assert.equal(node.sent.length, 1);
    const out = node.sent[0] as any;
    assert.deepEqual(out.payload.results, { [ANN]: SM1 });
    assert.equal(out.payload.errors[BOB].code, 'NOT_SENT');
    assert.equal(node.errors.length, 1);
    assert.equal(node.errors[0][0].code, 'NOT_SENT');
  });

  it('when Twilio cannot be asked, tries again after the backoff on its clock, and never ends the msg on a guess', async () => {
    let reachable = false;
    let asked = 0;
    const store = memoryStore({ [`${OUTCOME_WAIT_PREFIX}w`]: record({ sids: {}, intents: { [ANN]: intent(ANN, 'x') } }) });
    const reconcile: OutcomeWaitsOptions['reconcile'] = async () => {
      asked++;
      if (!reachable) throw new Error('connect ECONNREFUSED');
      return SM1;
    };
    const { clock, node, waits, room } = setUp({ store, reconcile, twilio: { [SM1]: 'delivered' } });
    await waits.resume();
    await waits.ready();
    assert.equal(asked, 1);
    assert.equal(node.logs.length, 1, 'said once');
    assert.match(node.logs[0], /ECONNREFUSED/);
    await clock.advance(reconcileRetryMs(0) - 1);
    assert.equal(asked, 1);
    await clock.advance(1);
    assert.equal(asked, 2);
    await clock.advance(reconcileRetryMs(1));
    assert.equal(asked, 3);
    assert.equal(room.size, 1, 'still waiting: not ended as NOT_SENT');
    assert.deepEqual([node.errors, node.sent], [[], []]);
    assert.equal(node.logs.length, 1, 'said once');
    reachable = true;
    await clock.advance(reconcileRetryMs(2));
    assert.equal(asked, 4);
    await clock.advance(2_000);
    assert.equal(node.sent.length, 1);
    assert.equal((node.sent[0] as any).payload.status, 'delivered');
  });

  it('a close stops the retries: the intent stays stored for the next start', async () => {
    let asked = 0;
    const store = memoryStore({ [`${OUTCOME_WAIT_PREFIX}w`]: record({ sids: {}, intents: { [ANN]: intent(ANN, 'x') } }) });
    const reconcile: OutcomeWaitsOptions['reconcile'] = async () => {
      asked++;
      throw new Error('unreachable');
    };
    const { clock, waits, room } = setUp({ store, reconcile });
    await waits.resume();
    waits.stop();
    await room.close(false);
    await clock.advance(60_000);
    assert.equal(asked, 1);
    assert.ok((store.data.get(`${OUTCOME_WAIT_PREFIX}w`) as OutcomeWait).intents![ANN]);
  });

  it('gives each of two identical intents its own record (taken grows as they are found)', async () => {
    const records = [SM1, SM2];
    const store = memoryStore({
      [`${OUTCOME_WAIT_PREFIX}a`]: record({ sids: {}, intents: { [ANN]: intent(ANN, 'same') } }),
      [`${OUTCOME_WAIT_PREFIX}b`]: record({ sids: {}, intents: { [ANN]: intent(ANN, 'same') } }),
    });
    const reconcile: OutcomeWaitsOptions['reconcile'] = async (_kind, _i, taken) => {
      const sid = records.find((r) => !taken.has(r));
      if (sid) taken.add(sid);
      return sid;
    };
    const { waits, room } = setUp({ store, reconcile });
    await waits.resume();
    const sids = [...room.values()].map((w) => Object.values(w.record.sids)[0]).sort();
    assert.deepEqual(sids, [SM1, SM2].sort());
  });
});
