/**
 * Attacks the retried delete of an ended wait's record while the shared store (Redis) cannot answer
 * (lib/waits/waiting-room.ts, deleteLater/endOwned): 1,000 waits ending during a long outage (health
 * listeners and timers kept, store calls made while down, the burst when it is back, each msg once),
 * a delete that committed but whose reply was lost, a close with retries pending, and another
 * instance taking over the record before this instance's retry could reach the store (was a finding:
 * its msg left twice; an instance back from an outage now takes nothing over for the outage grace).
 * A real engine (embedded LMDB) seen as shared; the outage a proxy that refuses every call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeMessageInFlow } from 'node-red';
import { ManualClock } from '../../lib/core/clock';
import { TwilioNodeError } from '../../lib/core/errors';
import type { StateEngine } from '../../lib/state/engine';
import { WaitingRoom } from '../../lib/waits/waiting-room';
import { LEASE_MS, type Rec, fileEngines, roomInstance } from '../support/shared-rooms';

const { openEngine, settle, pass } = fileEngines('attack28-');

/** Redis as an outage sees it: every call refused while `down`, each health listener kept (all of them, unlike ownership.test's). */
interface Outage {
  down: boolean;
  listeners: Set<(health: { up: boolean }) => void>;
  callsWhileDown: number;
  /** Deletes that commit but whose reply is lost (rejected as a broken connection would). */
  loseDeleteReplies: number;
}
const outage = (): Outage => ({ down: false, listeners: new Set(), callsWhileDown: 0, loseDeleteReplies: 0 });

function sharedFailing(engine: StateEngine, o: Outage): StateEngine {
  return new Proxy(engine, {
    get: (target, property) => {
      if (property === 'guarantees') return { durable: 'commit', instances: 'many' };
      if (property === 'onHealth')
        return (listener: (health: { up: boolean }) => void) => {
          o.listeners.add(listener);
          return () => o.listeners.delete(listener);
        };
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (o.down) {
          o.callsWhileDown++;
          throw new TwilioNodeError('STATE_UNAVAILABLE', 'Redis is down');
        }
        const result = await (value as (...a: unknown[]) => unknown).apply(target, args);
        // A delete of a wait's record that committed: its reply lost on the way back.
        if (o.loseDeleteReplies > 0 && property === 'delete' && String(args[0]).includes('wait-') && result === true) {
          o.loseDeleteReplies--;
          throw new TwilioNodeError('STATE_UNAVAILABLE', 'connection lost before the reply');
        }
        return result;
      };
    },
  });
}

const instance = (engine: StateEngine, id: string, clock: ManualClock) =>
  roomInstance(engine, id, clock, { capacity: 5_000, closeBudgetMs: 1_000 });

function holder(room: WaitingRoom<Rec>) {
  const sent = new Map<number, number>();
  const done: Array<Error | undefined> = [];
  return {
    sent,
    done,
    hold: async (n: number) => {
      const m = { _msgid: `m${n}`, payload: n } as unknown as NodeMessageInFlow;
      const accepted = {
        send: () => sent.set(n, (sent.get(n) ?? 0) + 1),
        done: (err?: Error) => done.push(err),
        ended: false,
      };
      const id = (await room.hold(room.admit(m), { msg: { payload: n }, step: n }, accepted as never))!;
      return { id, m, key: `node/n1/wait-${id}` };
    },
  };
}

/** A fresh store, seen by one instance through an outage it controls (`o`); closed after `body`. */
async function throughOutage(body: (t: { clock: ManualClock; raw: StateEngine; o: Outage; engine: StateEngine }) => Promise<void>) {
  const clock = new ManualClock();
  const raw = openEngine(clock);
  const o = outage();
  try {
    await body({ clock, raw, o, engine: sharedFailing(raw, o) });
  } finally {
    await raw.close();
  }
}

const storedWaits = async (raw: StateEngine) => (await raw.scan('node/n1/wait-', 100_000)).length;

describe('attack 28: the retried delete of an ended wait (Redis down)', () => {
  it('1,000 waits end during a long outage: one listener and one timer each, backing off; all deleted when it is back, nothing kept, each msg once', async () => {
    await throughOutage(async ({ clock, raw, o, engine }) => {
      const a = instance(engine, 'A', clock);
      await a.restore();
      const h = holder(a.room);
      const N = 1_000;
      const held = [];
      for (let n = 0; n < N; n++) held.push(await h.hold(n));
      await settle();
      assert.equal(await storedWaits(raw), N);
      const timersBefore = clock.pending;

      o.down = true;
      await Promise.all(held.map((w) => a.room.emit(w.id, 0, w.m)));
      assert.equal(h.sent.size, N, 'every msg left though the store could not say');
      assert.equal(o.listeners.size, N, 'one health listener per pending delete');
      assert.equal(clock.pending - timersBefore, N, 'one timer per pending delete');

      // Down for ten minutes, the clock moving in 5 s steps: the retries back off to 10 s.
      o.callsWhileDown = 0;
      await pass(clock, 600_000, 5_000);
      const perWait = o.callsWhileDown / N;
      assert.ok(perWait <= 70, `store calls per ended wait during 10 min down: ${perWait} (backing off to 10 s is ~60 + presence)`);
      assert.equal(o.listeners.size, N, 'listeners do not pile up: one per pending delete, not one per try');
      assert.equal(clock.pending - timersBefore, N, 'timers do not pile up either');

      o.down = false;
      for (const listener of [...o.listeners]) listener({ up: true });
      await settle();
      await settle();
      assert.equal(await storedWaits(raw), 0, 'every record deleted once Redis said it was back (the burst)');
      assert.equal(o.listeners.size, 0, 'no listener kept');
      assert.equal(clock.pending, timersBefore, 'no timer kept');
      assert.ok(
        [...h.sent.values()].every((c) => c === 1),
        'each msg left exactly once',
      );
      assert.equal(h.done.length, N);
      await a.room.close(false);
    });
  });

  it('a delete that committed but whose reply was lost: the retry finds it gone, sends nothing again, stops', async () => {
    await throughOutage(async ({ clock, raw, o, engine }) => {
      const a = instance(engine, 'A', clock);
      await a.restore();
      const h = holder(a.room);
      const w = await h.hold(1);
      o.loseDeleteReplies = 1;
      await a.room.emit(w.id, 0, w.m);
      assert.equal(h.sent.get(1), 1);
      assert.equal(await raw.get(w.key), undefined, 'the delete committed');
      assert.equal(o.listeners.size, 1, 'a retry is pending: the instance could not know');
      await pass(clock, 2_000);
      assert.equal(o.listeners.size, 0, 'the retry found the record gone and stopped');
      assert.equal(h.sent.get(1), 1, 'not sent again');
      assert.deepEqual(h.done, [undefined]);
      await a.room.close(false);
    });
  });

  it('a close with retries pending: every listener and timer gone, within its budget, nothing tried after', async () => {
    await throughOutage(async ({ clock, o, engine }) => {
      const a = instance(engine, 'A', clock);
      await a.restore();
      const h = holder(a.room);
      const held = [];
      for (let n = 0; n < 50; n++) held.push(await h.hold(n));
      o.down = true;
      await Promise.all(held.map((w) => a.room.emit(w.id, 0, w.m)));
      assert.equal(o.listeners.size, 50);
      let closed = false;
      const closing = a.room.close(false).then(() => (closed = true));
      await settle();
      await clock.advance(1_000);
      await settle();
      assert.ok(closed, 'the close ended within its budget');
      await closing;
      assert.equal(o.listeners.size, 0, 'no health listener kept after the close');
      assert.equal(clock.pending, 0, 'no timer kept after the close');
      o.callsWhileDown = 0;
      await pass(clock, 30_000, 1_000);
      assert.equal(o.callsWhileDown, 0, 'nothing tried after the close');
      assert.ok([...h.sent.values()].every((c) => c === 1));
    });
  });

  it("another instance whose connection came back first takes nothing over within the outage grace: this instance's retry deletes the record first, its msg leaves once", async () => {
    const clock = new ManualClock();
    const raw = openEngine(clock);
    const oa = outage();
    const ob = outage();
    const a = instance(sharedFailing(raw, oa), 'A', clock);
    const b = instance(sharedFailing(raw, ob), 'B', clock);
    const sentByB: unknown[] = [];
    try {
      await Promise.all([a.restore(), b.restore()]);
      const h = holder(a.room);
      const w = await h.hold(1);
      // Redis goes for both; the wait ends on A meanwhile (its msg leaves, its delete refused).
      oa.down = true;
      ob.down = true;
      await a.room.emit(w.id, 0, w.m);
      assert.equal(h.sent.get(1), 1);
      // Down longer than a lease. B's connection comes back first (ioredis reconnects each
      // instance on its own jittered backoff, up to ~6 s apart); A's still retries.
      await pass(clock, LEASE_MS * 2, 500);
      ob.down = false;
      for (const l of [...ob.listeners]) l({ up: true });
      await pass(clock, LEASE_MS, 250);
      sentByB.push(...b.resumed.map((w) => w.id));
      oa.down = false;
      for (const l of [...oa.listeners]) l({ up: true });
      await pass(clock, LEASE_MS, 250);
      sentByB.push(...b.resumed.map((w) => w.id).filter((id) => !sentByB.includes(id)));
      // A sent it once; B, back first, waited out the outage grace instead of resuming it (its msg would leave twice).
      assert.equal(h.sent.get(1), 1);
      assert.deepEqual(sentByB, [], `msg sent by A and resumed by B: ${sentByB.length} resume(s)`);
    } finally {
      await Promise.all([a.room.close(false), b.room.close(false)]);
      await raw.close();
    }
  });
});
