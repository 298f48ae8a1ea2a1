/** The waiting lifecycle every waiting node shares: admit, hold, emit, end, restore, close. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeMessageInFlow } from 'node-red';
import { ManualClock } from '../../../lib/core/clock';
import { TwilioNodeError } from '../../../lib/core/errors';
import type { KeyValueStore } from '../../../lib/node-red/context';
import { AcceptedMessage } from '../../../lib/outbound/intake';
import { MAX_HELD_BYTES, WaitingRoom, isCancel, storableCopy } from '../../../lib/waits/waiting-room';

interface Record_ {
  msg: Record<string, unknown>;
  step: number;
}

const isRecord = (value: unknown): value is Record_ =>
  typeof value === 'object' && value !== null && typeof (value as Record_).step === 'number' && typeof (value as Record_).msg === 'object';

function memoryStore(initial: Record<string, unknown> = {}): KeyValueStore & { data: Map<string, unknown>; refuse: boolean } {
  const data = new Map(Object.entries(initial));
  const store = {
    data,
    refuse: false,
    get: (key: string) => Promise.resolve(data.get(key)),
    set: (key: string, value: unknown) => {
      if (store.refuse) return Promise.reject(new Error('store refused the write'));
      if (value === undefined) data.delete(key);
      else data.set(key, value);
      return Promise.resolve();
    },
    keys: () => Promise.resolve([...data.keys()]),
  };
  return store;
}

function room(options: { store?: ReturnType<typeof memoryStore>; capacity?: number; outputs?: number; clock?: ManualClock } = {}) {
  const sent: unknown[] = [];
  const logs: string[] = [];
  const store = options.store ?? memoryStore();
  const waits = new WaitingRoom<Record_>({
    node: { id: 'n1', send: (m) => sent.push(m), log: (t) => logs.push(`log: ${t}`), warn: (t) => logs.push(`warn: ${t}`) },
    store,
    prefix: 'wait-',
    capacity: options.capacity ?? 10,
    outputs: options.outputs ?? 3,
    isRecord,
    notSent: () => new TwilioNodeError('NOT_SENT', 'not sent'),
    abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', 'abandoned'),
    clock: options.clock ?? new ManualClock(),
  });
  return { waits, sent, logs, store };
}

/** A msg taken through the room's intake: what it sent and how it ended. */
async function take(waits: WaitingRoom<Record_>, work: (accepted: AcceptedMessage<NodeMessageInFlow>) => Promise<unknown>) {
  const ended: Array<Error | undefined> = [];
  const sent: unknown[] = [];
  let accepted!: AcceptedMessage<NodeMessageInFlow>;
  waits.input(
    (_msg, a) => {
      accepted = a;
      return work(a);
    },
    (err) => (err instanceof TwilioNodeError ? err : new TwilioNodeError('INVALID_INPUT', String(err))),
  )(
    msg('taken'),
    (m) => sent.push(m),
    (err) => ended.push(err),
  );
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return { ended, sent, accepted };
}

const msg = (payload: unknown) => ({ _msgid: 'm', payload }) as unknown as NodeMessageInFlow;

describe('WaitingRoom', () => {
  it('input: one handler for every msg takes each in its turn, passes the same msg object on, ends it once, and a failure with its coded error', async () => {
    const { waits } = room();
    const order: unknown[] = [];
    const handler = waits.input(
      (m, accepted) => {
        order.push(m.payload);
        if (m.payload === 'bad') return Promise.reject(new Error('boom'));
        m.payload = { sid: `SM-${String(m.topic)}` };
        accepted.send(m);
        accepted.done();
        accepted.done();
        return Promise.resolve();
      },
      (err) => new TwilioNodeError('INVALID_INPUT', String(err)),
    );
    const first = { ...msg('one'), topic: 't1' } as NodeMessageInFlow;
    const sent: unknown[] = [];
    const ended: Array<Error | undefined> = [];
    handler(
      first,
      (m) => sent.push(m),
      (err) => ended.push(err),
    );
    handler(
      msg('bad'),
      (m) => sent.push(m),
      (err) => ended.push(err),
    );
    assert.deepEqual(order, [], 'nothing starts before its turn');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['one', 'bad']);
    assert.equal(sent.length, 1);
    assert.equal(sent[0], first, 'the same msg object passes on, its other properties kept');
    assert.deepEqual(first.payload, { sid: 'SM-t1' });
    assert.equal(first.topic, 't1');
    assert.equal(ended.length, 2, 'each msg ends once');
    assert.equal(ended[0], undefined);
    assert.equal((ended[1] as TwilioNodeError).code, 'INVALID_INPUT');
    await waits.close(false);
    const late: Array<Error | undefined> = [];
    handler(
      msg('late'),
      () => assert.fail('not started'),
      (err) => late.push(err),
    );
    assert.equal((late[0] as TwilioNodeError).code, 'NOT_SENT', 'after the close a msg ends as not sent');
  });

  it('holds a wait once stored, emits on one port with the others null, and ends its msg once', async () => {
    const { waits, store } = room();
    let id: string | undefined;
    const taken = await take(waits, async (accepted) => {
      const admission = waits.admit(msg('hi'));
      id = await waits.hold(admission, { msg: admission.copy, step: 1 }, accepted, msg('hi'));
    });
    assert.ok(id);
    assert.deepEqual(store.data.get(`wait-${id}`), { msg: { _msgid: 'm', payload: 'hi' }, step: 1 });
    assert.equal(taken.ended.length, 0, 'held: its done waits');
    waits.emit(id!, 1, msg('copy'), false);
    waits.emit(id!, 2, msg('last'));
    waits.emit(id!, 0, msg('after the end'));
    assert.deepEqual(taken.sent, [
      [null, msg('copy'), null],
      [null, null, msg('last')],
    ]);
    assert.deepEqual(taken.ended, [undefined], 'done once');
    assert.equal(store.data.size, 0, 'forgotten in the store');
    assert.equal(waits.size, 0);
  });

  it('refuses before anything is sent what it cannot keep: past its count, past its bytes, a circular msg', () => {
    const { waits } = room({ capacity: 2 });
    waits.admit(msg(1));
    const second = waits.admit(msg(2));
    assert.throws(
      () => waits.admit(msg(3)),
      (err: TwilioNodeError) => err.code === 'NOT_SENT',
    );
    waits.withdraw(second);
    waits.admit(msg(3));
    const big = room();
    assert.throws(
      () => big.waits.admit(msg('x'.repeat(MAX_HELD_BYTES + 1))),
      (err: TwilioNodeError) => err.code === 'NOT_SENT',
    );
    const circular: Record<string, unknown> = { payload: 1 };
    circular.self = circular;
    assert.throws(
      () => big.waits.admit(circular),
      (err: TwilioNodeError) => err.code === 'INVALID_INPUT',
    );
  });

  it('does not hold a msg that ended meanwhile, nor one its store refused: the room is free again', async () => {
    const { waits, store } = room({ capacity: 1 });
    const admission = waits.admit(msg(1));
    const ended = { ended: true, send: () => undefined, done: () => undefined } as unknown as AcceptedMessage<NodeMessageInFlow>;
    assert.equal(await waits.hold(admission, { msg: admission.copy, step: 0 }, ended), undefined);
    store.refuse = true;
    const next = waits.admit(msg(2));
    await assert.rejects(waits.hold(next, { msg: next.copy, step: 0 }), /refused/);
    assert.equal(waits.size, 0);
    store.refuse = false;
    waits.admit(msg(3)); // the one place is free again
  });

  it('restores what a previous run stored, and sets a damaged record aside (logged once, never resumed, never a crash)', async () => {
    const store = memoryStore({
      'wait-good': { msg: { payload: 'kept' }, step: 2 },
      'wait-null': null,
      'wait-shape': { msg: null, step: 'x' },
      other: 'not ours',
    });
    const throwing = new WaitingRoom<Record_>({
      ...{ node: { id: 'n', send: () => undefined, log: () => undefined, warn: () => undefined } },
      store,
      prefix: 'wait-',
      capacity: 5,
      outputs: 1,
      isRecord: (v): v is Record_ => (v as Record_).step === 2, // throws on null
      notSent: () => new TwilioNodeError('NOT_SENT', 'x'),
      abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', 'x'),
    });
    const restored = await throwing.restore();
    assert.deepEqual(
      restored.map((w) => w.id),
      ['good'],
    );
    assert.deepEqual([...store.data.keys()].sort(), ['damaged-wait-null', 'damaged-wait-shape', 'other', 'wait-good']);
    const { waits, logs, sent } = room({ store: memoryStore({ 'wait-a': { msg: { payload: 1 }, step: 1 }, 'wait-b': [] }) });
    const again = await waits.restore();
    assert.equal(again.length, 1);
    assert.equal(logs.filter((l) => l.startsWith('warn:')).length, 1, 'one warning for the damaged ones');
    waits.emit(again[0].id, 0, waits.message(again[0].id)!);
    assert.deepEqual(sent, [[{ payload: 1 }, null, null]], 'a restored wait leaves as a fresh msg');
  });

  it('on a redeploy lets each wait go (done, kept in the store); on removal ends each with its error and forgets it', async () => {
    const kept = room();
    const taken = await take(kept.waits, async (accepted) => {
      const admission = kept.waits.admit(msg('a'));
      await kept.waits.hold(admission, { msg: admission.copy, step: 0 }, accepted);
    });
    await kept.waits.close(false);
    assert.deepEqual(taken.ended, [undefined]);
    assert.equal(kept.store.data.size, 1, 'stored, for the next start');
    assert.equal(kept.logs.filter((l) => l.startsWith('log:')).length, 1);

    const removed = room();
    const gone = await take(removed.waits, async (accepted) => {
      const admission = removed.waits.admit(msg('b'));
      await removed.waits.hold(admission, { msg: admission.copy, step: 0 }, accepted);
    });
    await removed.waits.close(true, () => new TwilioNodeError('OUTCOME_UNKNOWN', 'removed'));
    assert.equal((gone.ended[0] as TwilioNodeError).code, 'OUTCOME_UNKNOWN');
    assert.equal(removed.store.data.size, 0);
  });

  it('gives work under way one budget on close, then ends what is left; a msg that comes after ends as not sent', async () => {
    const clock = new ManualClock();
    const { waits } = room({ clock });
    const never = await take(waits, () => new Promise(() => undefined));
    let closed = false;
    const closing = waits.close(false).then(() => (closed = true));
    await clock.advance(11_000);
    assert.equal(closed, false, 'still within the budget');
    await clock.advance(1_000);
    await closing;
    assert.equal((never.ended[0] as TwilioNodeError).code, 'REQUEST_TIMEOUT', 'may have been sent');
    const late = await take(waits, async () => assert.fail('a closed room starts nothing'));
    assert.equal((late.ended[0] as TwilioNodeError).code, 'NOT_SENT');
  });

  it('ends a msg whose work fails with the coded error, once', async () => {
    const { waits } = room();
    const failed = await take(waits, async () => {
      throw new TwilioNodeError('MISSING_INPUT', 'no To');
    });
    assert.deepEqual(
      failed.ended.map((e) => (e as TwilioNodeError).code),
      ['MISSING_INPUT'],
    );
  });

  it('tells a cancel from a msg to wait on: msg.cancel, or the node’s cancel topic', () => {
    assert.equal(isCancel({ cancel: true }, undefined), true);
    assert.equal(isCancel({ topic: 'stop' }, 'stop'), true);
    assert.equal(isCancel({ topic: 'stop' }, ''), false);
    assert.equal(isCancel({ cancel: 'yes' }, 'stop'), false);
  });
  it('refuses a msg whose stored JSON is past MAX_HELD_BYTES (bytes as the store writes them, UTF-8, not characters)', () => {
    // A msg of 24 million '€' is 72 MB as a file store writes it: it once counted as 24 million.
    const msg = { payload: '€'.repeat(24_000_000) };
    const { bytes } = storableCopy(msg);
    const utf8 = Buffer.byteLength(JSON.stringify(msg));
    assert.ok(utf8 > MAX_HELD_BYTES, `the stored JSON is ${utf8} bytes, more than ${MAX_HELD_BYTES}`);
    const { waits } = room({ outputs: 1 });
    assert.throws(() => waits.admit(msg), { code: 'NOT_SENT' }, `admitted as ${bytes} "bytes" although it is ${utf8} bytes`);
  });

  it('refuses as INVALID_INPUT a msg that cannot be copied: toJSON answering undefined or throwing, a getter that throws', () => {
    const trap = Object.defineProperty({ payload: 1 }, 'trap', {
      enumerable: true,
      get() {
        throw new Error('trap');
      },
    });
    for (const hostile of [{ payload: 1, toJSON: () => undefined }, { payload: 1, toJSON: () => 'text' }, trap, { payload: 10n }])
      assert.throws(() => storableCopy(hostile), { code: 'INVALID_INPUT' });
  });

  it('starts msgs that come while it restores only once the restored waits are resumed, in their order', async () => {
    const store = memoryStore({ 'wait-old': { msg: { payload: 'old' }, step: 1 } });
    let answerKeys!: () => void;
    const slow = { ...store, keys: () => new Promise<string[]>((resolve) => (answerKeys = () => resolve([...store.data.keys()]))) };
    const { waits } = room({ store: slow as unknown as ReturnType<typeof memoryStore> });
    const seen: string[] = [];
    const restoring = waits.restore((restored) => seen.push(`resumed ${restored.map((w) => w.id).join()}`));
    const first = take(waits, async () => seen.push(`started with ${waits.size} wait(s)`));
    const second = take(waits, async () => seen.push('second'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, [], 'nothing starts while the store is read');
    answerKeys();
    await restoring;
    await Promise.all([first, second]);
    assert.deepEqual(seen, ['resumed old', 'started with 1 wait(s)', 'second']);
  });

  it('resumes the valid waits when the store refuses to set a damaged one aside (logged, never a failed restore)', async () => {
    const store = memoryStore({ 'wait-good': { msg: { payload: 'kept' }, step: 2 }, 'wait-bad': { step: 'x' } });
    store.refuse = true;
    const { waits, logs } = room({ store });
    const restored = await waits.restore();
    assert.deepEqual(
      restored.map((w) => w.id),
      ['good'],
    );
    assert.equal(logs.filter((l) => l.startsWith('warn:')).length, 2, 'the damaged one, and the store that refused to set it aside');
  });

  it('closes whatever ending a removed wait throws: the close resolves, the wait ends, the log says why', async () => {
    const { waits, logs, store } = room();
    const taken = await take(waits, async (accepted) => {
      const admission = waits.admit(msg('a'));
      await waits.hold(admission, { msg: admission.copy, step: 0 }, accepted);
    });
    await waits.close(true, () => {
      throw new Error('account closed');
    });
    assert.deepEqual(taken.ended, [undefined]);
    assert.equal(store.data.size, 0);
    assert.ok(logs.some((l) => l === 'warn: account closed'));
  });
});
