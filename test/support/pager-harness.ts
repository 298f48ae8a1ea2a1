/**
 * The pager without Node-RED, for the pager's tests and the attacks on it: a fake Twilio client, the
 * account's inbound hub, a waiting room in a memory store (writes that can be held or refused) and a
 * manual clock. What the escalation machine says becomes texts, calls, hang-ups, timers and an output.
 */
import type { TwilioAccount } from '../../lib/account/account';
import { escalationPolicy, isPageRecord, type PageRecord } from '../../lib/conversation/escalation';
import { Pager } from '../../lib/conversation/pager';
import { ManualClock } from '../../lib/core/clock';
import { reconcilingSince } from '../../lib/outbound/reconcile';
import { TwilioNodeError, toTwilioNodeError } from '../../lib/core/errors';
import { InboundHub } from '../../lib/inbound/hub';
import type { KeyValueStore } from '../../lib/node-red/context';
import { WaitingRoom, isCancel } from '../../lib/waits/waiting-room';

export const OURS = '+15017122661';
export const ALICE = '+15555550120';
export const BOB = '+15555550121';

/** A Twilio client that records what it is asked; a call's creation can be held back, its status set. */
export function fakeTwilio() {
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
/** Writes held while `slow` (deletes alone while `slowDeletes`) is pending; refused once `left` ran out (deletes alone with `failDeletes`). */
export type Writes = { left?: number; slow?: Promise<void>; slowDeletes?: Promise<void>; failDeletes?: boolean };

export function memoryStore(data = new Map<string, unknown>(), writes: Writes = {}): KeyValueStore {
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

export function setUp(settings: Parameters<typeof escalationPolicy>[0], data = new Map<string, unknown>(), writes: Writes = {}) {
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

export const port = (outputs: Array<Record<string, any> | null>) => outputs.findIndex((m) => m !== null);
