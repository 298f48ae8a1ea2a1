/**
 * Waits owned by an instance lease (several Node-RED instances on one engine): a live instance's
 * waits are never taken, a dead one's are taken over by exactly one instance within the lease, a
 * paused one lets go of what was taken, and on a one-instance engine a restart resumes everything at once.
 * A real engine (embedded LMDB), seen as shared; each "instance" is its own Presence with its own id.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeMessageInFlow } from 'node-red';
import { ManualClock } from '../../../lib/core/clock';
import { TwilioNodeError } from '../../../lib/core/errors';
import type { StateEngine } from '../../../lib/state/engine';
import { OUTAGE_GRACE_MIN_MS, Presence } from '../../../lib/state/instance';
import { DELETE_RETRY_FIRST_MS, HELD_BY, WaitingRoom } from '../../../lib/waits/waiting-room';
import { LEASE_MS, type Rec, fileEngines, roomInstance, sharedView } from '../../support/shared-rooms';

const { openEngine, settle, pass } = fileEngines('ownership-');

/** `engine` as Redis is while it is down: every call refused (STATE_UNAVAILABLE); `heard` is its health listener (Redis says when it is back). */
function failingWhile(engine: StateEngine, outage: { down: boolean; heard?: (health: { up: boolean }) => void }): StateEngine {
  return new Proxy(engine, {
    get: (target, property) => {
      if (property === 'onHealth')
        return (listener: (health: { up: boolean }) => void) => {
          outage.heard = listener;
          return () => (outage.heard = undefined);
        };
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (outage.down) return Promise.reject(new TwilioNodeError('STATE_UNAVAILABLE', 'Redis is down'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const instance = (engine: StateEngine, id: string, clock: ManualClock, home?: string) => roomInstance(engine, id, clock, { home });

async function holdOne(room: WaitingRoom<Rec>, step: number) {
  const done: Array<Error | undefined> = [];
  const m = { _msgid: `m${step}`, payload: step } as unknown as NodeMessageInFlow;
  const admission = room.admit(m);
  const id = await room.hold(admission, { msg: admission.copy, step }, {
    send: () => undefined,
    done: (err?: Error) => done.push(err),
    ended: false,
  } as never);
  return { id: id!, done };
}

describe('waits owned by an instance lease', () => {
  it('a live instance keeps its waits; a dead one’s are taken over once, by one of the others, within the lease', async () => {
    const clock = new ManualClock();
    const raw = openEngine(clock);
    const engine = sharedView(raw);
    try {
      const deadClock = new ManualClock(clock.now());
      const a = instance(engine, 'A', deadClock);
      await a.restore();
      const held = [await holdOne(a.room, 1), await holdOne(a.room, 2), await holdOne(a.room, 3)];
      const stored = await raw.get(`node/n1/wait-${held[0].id}`);
      assert.equal((stored?.value as Record<string, unknown>)[HELD_BY], 'A', 'each record says which instance holds it');

      const b = instance(engine, 'B', clock);
      const c = instance(engine, 'C', clock);
      await Promise.all([b.restore(), c.restore()]);
      assert.equal(b.resumed.length + c.resumed.length, 0, 'a live instance’s waits are never taken');
      // A dies: its clock stops, its lease is no longer renewed. B and C keep theirs and look every third of it.
      await pass(clock, LEASE_MS / 2);
      assert.equal(b.resumed.length + c.resumed.length, 0, 'not before A’s lease has expired');
      await pass(clock, LEASE_MS);
      const taken = [...b.resumed, ...c.resumed].map((w) => w.id).sort();
      assert.deepEqual(taken, held.map((h) => h.id).sort(), 'every wait taken over once, by one instance');
      assert.deepEqual(
        taken.map((id) => [...b.resumed, ...c.resumed].find((w) => w.id === id)!.record.step).sort(),
        [1, 2, 3],
        'resumed from their records',
      );
      await pass(clock, LEASE_MS * 3);
      assert.equal(b.resumed.length + c.resumed.length, 3, 'and never again');
      const owners = await Promise.all(
        held.map(async (h) => ((await raw.get(`node/n1/wait-${h.id}`))?.value as Record<string, unknown>)[HELD_BY]),
      );
      for (const owner of owners) assert.ok(owner === 'B' || owner === 'C');

      // A was only paused: its next write finds the wait taken, lets it go (its msg done, nothing sent) and writes nothing.
      const before = await raw.get(`node/n1/wait-${held[0].id}`);
      await a.room.save(held[0].id);
      assert.equal(a.room.get(held[0].id), undefined, 'let go');
      assert.deepEqual(held[0].done, [undefined], 'its msg done once, without an error');
      assert.equal((await raw.get(`node/n1/wait-${held[0].id}`))?.version, before?.version, 'the new holder’s record untouched');
      assert.match(a.logs.join('\n'), /taken over by another Node-RED instance/);
      // Its end of a taken wait does not delete the new holder's record either.
      a.room.end(held[1].id);
      await settle();
      assert.ok(await raw.get(`node/n1/wait-${held[1].id}`), 'still there for its new holder');

      // The new holder ends its wait: gone from the store.
      const holder = b.room.get(held[2].id) ? b : c;
      holder.room.end(held[2].id);
      // The delete is a commit to disk: on a loaded machine it can take longer than any fixed wait.
      for (const deadline = Date.now() + 10_000; (await raw.get(`node/n1/wait-${held[2].id}`)) && Date.now() < deadline;) await settle();
      assert.equal(await raw.get(`node/n1/wait-${held[2].id}`), undefined);
      await Promise.all([a.room.close(false), b.room.close(false), c.room.close(false)]);
    } finally {
      await raw.close();
    }
  });

  it('after a stall that lapsed every lease at once, an owner takes its lease back at once, and none is taken over within the outage grace', async () => {
    const clock = new ManualClock();
    const raw = openEngine(clock);
    // Redis stalled past every lease: each command fails meanwhile (no renewal gets through).
    let stalled = false;
    const shared = sharedView(raw);
    const engine = new Proxy(shared, {
      get: (target, property) => {
        const value = (target as unknown as Record<string | symbol, unknown>)[property];
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (stalled ? Promise.reject(new Error('stalled')) : (value as (...a: unknown[]) => unknown)(...args));
      },
    });
    const [a, b, c] = ['A', 'B', 'C'].map((id) => new Presence(engine, id, clock, LEASE_MS));
    try {
      for (const p of [a, b, c]) p.join();
      await Promise.all([a.ready(), b.ready(), c.ready()]);
      stalled = true;
      await pass(clock, LEASE_MS * 2);
      stalled = false;
      // Back, before any renewal: B's own lease lapsed too, so it takes nothing over (else A and B would
      // each find the other gone and take the same work back and forth).
      assert.equal(await b.isGone('A'), false, 'an instance without its own lease takes nothing over');
      await b.ready();
      // Every instance was cut off: A may still be reconnecting on its own backoff, so B takes nothing of it yet.
      assert.equal(await b.isGone('A'), false, 'within the outage grace, A (not renewed yet) is not gone to B');
      await a.ready(); // A was only cut off: its lease is free for it to take back at once
      assert.equal(a.holding, true);
      assert.equal(await b.isGone('A'), false, 'A alive again, for everyone');
      assert.equal(await a.isGone('B'), false);
      // A stops for good: once the grace is over, one instance at a time takes it over.
      a.leave();
      await pass(clock, Math.max(2 * LEASE_MS, OUTAGE_GRACE_MIN_MS) + LEASE_MS);
      assert.equal(await b.isGone('A'), true, 'after the grace, A (not renewed) is gone to B');
      assert.equal(await c.isGone('A'), false, 'one instance at a time takes A over');
    } finally {
      for (const p of [a, b, c]) p.leave();
      await raw.close();
    }
  });

  it('a wait saved again by its live holder stays its own (its versions follow its writes)', async () => {
    const clock = new ManualClock();
    const raw = openEngine(clock);
    const engine = sharedView(raw);
    try {
      const a = instance(engine, 'A', clock);
      await a.restore();
      const { id } = await holdOne(a.room, 1);
      a.room.get(id)!.record.step = 2;
      await Promise.all([a.room.save(id), a.room.save(id), a.room.save(id)]);
      assert.equal(((await raw.get(`node/n1/wait-${id}`))?.value as Rec).step, 2);
      assert.ok(a.room.get(id), 'still held');
      const b = instance(engine, 'B', clock);
      await b.restore();
      await pass(clock, LEASE_MS * 3);
      assert.equal(b.resumed.length, 0, 'A is alive: B takes nothing');
      await Promise.all([a.room.close(false), b.room.close(false)]);
    } finally {
      await raw.close();
    }
  });

  it('a restart in the same home (host and user dir) takes over what its predecessor held at once, not a lease later', async () => {
    const clock = new ManualClock();
    const raw = openEngine(clock);
    const engine = sharedView(raw);
    try {
      const first = instance(engine, 'A1', new ManualClock(clock.now()), 'host /data');
      await first.restore();
      const held = await holdOne(first.room, 1);
      const other = instance(engine, 'B', clock, 'other-host /data');
      await other.restore();
      // A1 is killed; A2 starts on its user dir at once (A1's lease still runs).
      const second = instance(engine, 'A2', clock, 'host /data');
      await second.restore();
      assert.deepEqual(
        second.resumed.map((w) => w.id),
        [held.id],
        'resumed at once by its successor',
      );
      await pass(clock, LEASE_MS * 2);
      assert.equal(other.resumed.length, 0, 'and by no one else');
      await Promise.all([first.room.close(false), other.room.close(false), second.room.close(false)]);
    } finally {
      await raw.close();
    }
  });

  it('one-instance engine (embedded): a restart resumes every wait at once, whoever held it before', async () => {
    const clock = new ManualClock();
    const engine = openEngine(clock);
    try {
      await engine.put('node/n1/wait-x', { msg: {}, step: 1, [HELD_BY]: 'a previous process' });
      await engine.put('node/n1/wait-y', { msg: {}, step: 2 });
      const b = instance(engine, 'B', clock);
      await b.restore();
      assert.deepEqual(b.resumed.map((w) => w.record.step).sort(), [1, 2]);
      await b.room.close(false);
    } finally {
      await engine.close();
    }
  });

  it('a record of no instance (written before leases) is taken at once by one instance', async () => {
    const clock = new ManualClock();
    const raw = openEngine(clock);
    const engine = sharedView(raw);
    try {
      await raw.put('node/n1/wait-old', { msg: {}, step: 7 });
      const a = instance(engine, 'A', clock);
      const b = instance(engine, 'B', clock);
      await Promise.all([a.restore(), b.restore()]);
      assert.equal(a.resumed.length + b.resumed.length, 1);
      await Promise.all([a.room.close(false), b.room.close(false)]);
    } finally {
      await raw.close();
    }
  });

  it('a wait that ends while the store cannot answer: its msg leaves once, its record goes once the store is back, and no instance resumes it', async () => {
    const clock = new ManualClock();
    const raw = openEngine(clock);
    const outage: { down: boolean; heard?: (health: { up: boolean }) => void } = { down: false };
    const engine = failingWhile(sharedView(raw), outage);
    try {
      const a = instance(engine, 'A', clock);
      const b = instance(engine, 'B', clock);
      await Promise.all([a.restore(), b.restore()]);
      const sent: unknown[] = [];
      const done: Array<Error | undefined> = [];
      const hold = async (n: number) => {
        const m = { _msgid: `m${n}`, payload: n } as unknown as NodeMessageInFlow;
        const accepted = { send: (out: unknown) => sent.push(out), done: (err?: Error) => done.push(err), ended: false };
        const id = (await a.room.hold(a.room.admit(m), { msg: { payload: n }, step: n }, accepted as never))!;
        return { id, m, key: `node/n1/wait-${id}` };
      };
      const [first, second] = [await hold(1), await hold(2)];

      // Redis goes; a wait ends meanwhile; Redis says it is back: the delete goes at once, the clock unmoved.
      outage.down = true;
      await a.room.emit(first.id, 0, first.m);
      assert.equal(sent.length, 1, 'the msg left (never lost) though the store could not say');
      assert.deepEqual(done, [undefined]);
      assert.ok(await raw.get(first.key), 'its record is still stored: the delete was refused');
      outage.down = false;
      outage.heard?.({ up: true });
      await settle();
      assert.equal(await raw.get(first.key), undefined, 'deleted as soon as Redis said it was back');

      // Again, with no word from the store: the delete is tried again on the clock.
      outage.down = true;
      await a.room.emit(second.id, 0, second.m);
      assert.ok(await raw.get(second.key));
      outage.down = false;
      await pass(clock, DELETE_RETRY_FIRST_MS + 250);
      assert.equal(await raw.get(second.key), undefined, 'deleted once the store answered again');

      // A goes: its lease runs out; B looks and finds nothing of A's to take over.
      await a.room.close(false);
      await pass(clock, LEASE_MS * 3);
      assert.deepEqual(b.resumed, [], 'no instance resumes a wait whose msg has left');
      assert.equal(sent.length, 2, 'each msg left once');
      await b.room.close(false);
    } finally {
      await raw.close();
    }
  });
});
