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
  failureOf,
  isOutcomeWait,
  isSettled,
  outcomeReport,
  outcomeWaitOf,
} from '../../../lib/waits/outcome-waits';
import { WaitingRoom } from '../../../lib/waits/waiting-room';

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
function setUp(options: { store?: ReturnType<typeof memoryStore>; failureOutput?: boolean; twilio?: Record<string, string> } = {}) {
  const clock = new ManualClock();
  const store = options.store ?? memoryStore();
  const node = { id: 'send', sent: [] as unknown[], logs: [] as string[], warnings: [] as string[] };
  const roomNode = {
    id: node.id,
    send: (m: unknown) => node.sent.push(m),
    log: (m: string) => node.logs.push(m),
    warn: (m: string) => node.warnings.push(m),
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
  const waits = new OutcomeWaits({ room, tracker, kind: 'message', deadlineMs: 10_000, callbacks: false, status, clock });
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
