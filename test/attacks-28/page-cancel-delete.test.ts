/**
 * Attacks twilio-page's cancel that now waits for a cancelled page's record to be gone
 * (lib/conversation/pager.ts cancel/leave, WaitingRoom.emit's promise): a delete that the store
 * refuses (was a finding: the cancel msg ended as if the record were gone; it now ends with the
 * store's error), a delete that stalls across a redeploy
 * (the cancel msg must end once, not twice nor never), and a cancel of many pages at once.
 * The harness is test/unit/conversation/pager.test.ts's (copied: a fake Twilio, a memory store).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TwilioAccount } from '../../lib/account/account';
import { PageRecord, escalationPolicy, isPageRecord } from '../../lib/conversation/escalation';
import { Pager } from '../../lib/conversation/pager';
import { ManualClock } from '../../lib/core/clock';
import { reconcilingSince } from '../../lib/outbound/reconcile';
import { TwilioNodeError, toTwilioNodeError } from '../../lib/core/errors';
import { InboundHub } from '../../lib/inbound/hub';
import type { KeyValueStore } from '../../lib/node-red/context';
import { WaitingRoom, isCancel } from '../../lib/waits/waiting-room';

const OURS = '+15017122661';
const ALICE = '+15555550120';

/** A Twilio client that records what it is asked; a call's creation can be held back, its status set. */
function fakeTwilio() {
  const made: Array<{ what: 'text' | 'call' | 'hang-up'; to?: string; sid: string; params?: Record<string, unknown> }> = [];
  const callStatus = new Map<string, { status: string; answeredBy?: string }>();
  let count = 0;
  let holdCalls: Promise<void> | undefined;
  let holdHangUps: Promise<void> | undefined;
  /** Twilio's date of the next texts (its clock), and texts it refuses. */
  const texting: { dateCreated?: Date; refuse: number } = { refuse: 0 };
  const record = (fields: Record<string, unknown>) => ({ toJSON: () => fields });
  /** What Twilio's lists hold (a reconciliation reads them, newest first), and how many list requests fail first. */
  const listed: Array<{ kind: 'message' | 'call'; sid: string; to: string; from: string; body?: string; dateCreated: Date }> = [];
  const lists = { fail: 0, asked: 0 };
  const page = (kind: 'message' | 'call') => async (filter: { to: string; from?: string }) => {
    lists.asked++;
    if (lists.fail > 0 && lists.fail--) throw Object.assign(new Error('Service Unavailable'), { status: 503, code: 20503 });
    const instances = listed
      .filter((r) => r.kind === kind && r.to === filter.to && (!filter.from || r.from === filter.from))
      .sort((a, b) => b.dateCreated.getTime() - a.dateCreated.getTime());
    return { instances, nextPage: async () => undefined };
  };
  const calls = Object.assign(
    (sid: string) => ({
      update: async () => {
        await holdHangUps;
        made.push({ what: 'hang-up', sid });
        return record({ sid, status: 'completed' });
      },
      fetch: async () => ({ status: 'in-progress', ...callStatus.get(sid) }),
    }),
    {
      create: async (params: Record<string, unknown>) => {
        await holdCalls;
        const sid = `CA${++count}`;
        made.push({ what: 'call', to: String(params.to), sid, params });
        return record({ sid, from: params.from });
      },
      page: page('call'),
    },
  );
  const messages = {
    create: async (params: Record<string, unknown>) => {
      if (texting.refuse > 0 && texting.refuse--) throw Object.assign(new Error('Unreachable'), { status: 400, code: 21211 });
      const sid = `SM${++count}`;
      made.push({ what: 'text', to: String(params.to), sid, params });
      return record({ sid, from: params.from, ...(texting.dateCreated ? { dateCreated: texting.dateCreated } : {}) });
    },
    page: page('message'),
  };
  const client = { accountSid: 'AC1', calls, messages, api: { v2010: { account: { calls, messages } } } };
  const account = {
    accountSid: 'AC1',
    defaultFrom: OURS,
    getClient: () => client,
    clientFor: () => client,
    redact: (text: string) => text,
  } as unknown as TwilioAccount;
  return {
    account,
    made,
    callStatus,
    texting,
    listed,
    lists,
    /** Hang-ups wait until released. */
    holdHangUps(): () => void {
      let release!: () => void;
      holdHangUps = new Promise((resolve) => (release = resolve));
      return () => {
        holdHangUps = undefined;
        release();
      };
    },
    hold(): () => void {
      let release!: () => void;
      holdCalls = new Promise((resolve) => (release = resolve));
      return () => {
        holdCalls = undefined;
        release();
      };
    },
  };
}

/**
 * A store in memory; `writes.left` (when set) is how many more writes it takes before it refuses
 * them; `writes.slow` (when set) holds each write until it resolves.
 */
/** Writes held while `slow` (deletes alone while `slowDeletes`) is pending; refused once `left` ran out. */
type Writes = { left?: number; slow?: Promise<void>; slowDeletes?: Promise<void>; failDeletes?: boolean };

function memoryStore(data = new Map<string, unknown>(), writes: Writes = {}): KeyValueStore {
  return {
    get: async (key) => data.get(key),
    set: async (key, value) => {
      await writes.slow;
      if (value === undefined) await writes.slowDeletes;
      if (value === undefined && writes.failDeletes) throw new Error('store refuses the delete');
      if (writes.left !== undefined && writes.left-- <= 0) throw new Error('store refuses writes');
      void (value === undefined ? data.delete(key) : data.set(key, value));
    },
    keys: async () => [...data.keys()],
  };
}

function setUp(settings: Parameters<typeof escalationPolicy>[0], data = new Map<string, unknown>(), writes: Writes = {}) {
  const twilio = fakeTwilio();
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 3));
  const hub = new InboundHub();
  const out: Array<Array<Record<string, any> | null>> = [];
  const ended: Array<Error | undefined> = [];
  const statuses: string[] = [];
  const warnings: string[] = [];
  // A restored page has no msg of its own to end: it leaves through the node's send.
  const node = {
    id: 'page',
    send: (m: unknown) => void out.push(m as Array<Record<string, any> | null>),
    log: () => undefined,
    warn: (m: string) => void warnings.push(m),
  };
  reconcilingSince(node, 0); // looking since long ago: a look that finds nothing is "not sent" at once
  const room = new WaitingRoom<PageRecord>({
    node,
    store: memoryStore(data, writes),
    prefix: 'twilio-page-',
    capacity: 10,
    outputs: 3,
    isRecord: isPageRecord,
    notSent: () => new TwilioNodeError('NOT_SENT', 'not sent'),
    abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', 'abandoned'),
    clock,
  });
  const say = (key: string) => void statuses.push(key);
  const pager = new Pager({
    node,
    account: twilio.account,
    hub,
    waits: room,
    policy: escalationPolicy(settings),
    alert: 'Smoke in the {{payload}}.',
    allClear: typeof settings.allClear === 'string' ? settings.allClear : undefined,
    keysUrl: () => 'https://example.com/keys',
    machineDetection: true,
    status: { working: say, success: say, warning: say, translate: (key) => key },
    clock,
  });
  /** A msg into the node, as its entry passes it on. */
  const input = (msg: Record<string, unknown>) =>
    room.input(
      async (_m, accepted) => {
        if (isCancel(msg, 'cleared')) return pager.cancel(msg.topic, 'cleared').then(() => accepted.done());
        await pager.start(msg as never, accepted, { contacts: msg.contacts });
      },
      (err) => toTwilioNodeError(err),
    )(
      msg as never,
      (m) => out.push(m as unknown as Array<Record<string, any> | null>),
      (err) => ended.push(err),
    );
  const key = (sid: string, digits: string) =>
    hub.publish({ kind: 'call', sid, params: { CallSid: sid, Digits: digits }, source: 'webhook' });
  const reply = (from: string, body: string, at?: number) =>
    hub.publish({
      kind: 'message',
      sid: `SM${body}${at ?? ''}`,
      from,
      to: OURS,
      params: { Body: body },
      source: at ? 'poll' : 'webhook',
      ...(at ? { at } : {}),
    });
  return { ...twilio, clock, room, pager, out, ended, statuses, warnings, data, input, key, reply };
}

const port = (outputs: Array<Record<string, any> | null>) => outputs.findIndex((m) => m !== null);

describe('attack 28: a page cancel waits for the record to go', () => {
  it("a delete the store refuses: the cancel msg ends with the store's error, not as done (the record is left behind: a restart would send the page again)", async () => {
    const writes: Writes = {};
    const data = new Map<string, unknown>();
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, data, writes);
    t.input({ topic: 'smoke', payload: 'garage', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    writes.failDeletes = true;
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(t.out.length, 1);
    assert.equal(port(t.out[0]), 2, 'the page left on cancelled');
    assert.equal(t.ended.length, 2, 'the page and the cancel each ended once');
    assert.equal(data.size, 1, 'the record is still stored');
    // The promise of commit 500a87d: a flow that heard the cancel end may rely on the page being gone.
    assert.ok(t.ended[1] instanceof Error, `the cancel ended with ${String(t.ended[1])} though the page's record stayed`);
  });

  it('a delete that stalls across a redeploy: the cancel msg ends once (by the close), not again when the store answers', async () => {
    const writes: Writes = {};
    const data = new Map<string, unknown>();
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, data, writes);
    t.input({ topic: 'smoke', payload: 'garage', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    let deleted!: () => void;
    writes.slowDeletes = new Promise((resolve) => (deleted = resolve));
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(t.ended.length, 1, "only the page's msg ended");
    t.pager.stop();
    let closed = false;
    const closing = t.room.close(false).then(() => (closed = true));
    for (let i = 0; i < 40 && !closed; i++) await t.clock.advance(1_000);
    assert.ok(closed, 'the close ended within its budget though the delete stalls');
    await closing;
    const afterClose = t.ended.length;
    assert.equal(afterClose, 2, 'the cancel msg ended by the close');
    deleted();
    await t.clock.advance(0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(t.ended.length, 2, 'and not a second time once the delete committed');
    assert.equal(t.out.length, 1, 'the page left once');
  });

  it('a cancel of every page at once: each leaves once, every record gone before the cancel ends', async () => {
    const writes: Writes = {};
    const data = new Map<string, unknown>();
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, data, writes);
    for (let i = 0; i < 8; i++) t.input({ topic: `smoke${i}`, payload: `room ${i}`, contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    assert.equal(data.size, 8);
    let deleted!: () => void;
    writes.slowDeletes = new Promise((resolve) => (deleted = resolve));
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(t.out.length, 8, 'all eight left on cancelled');
    assert.equal(t.ended.length, 8, 'the cancel waits for the records');
    deleted();
    await t.clock.advance(0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(data.size, 0);
    assert.equal(t.ended.length, 9, 'the cancel ended once, after');
    assert.ok(t.out.every((o) => port(o) === 2));
  });
});
