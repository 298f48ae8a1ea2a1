/**
 * Attack 29's harness for a burst of texts handed on by twilio-in's PollReceiver (lib/inbound/
 * poll-receiver.ts), as in production: the account's state engine (a real embedded LMDB store in a
 * temp dir) holds both the account's memory (heardFirst / handedOn) and the node's store (its cursor
 * and Sid memory, `node/in/`). The engine is seen through `faulty()`, whose writes can be failed
 * (STATE_UNAVAILABLE, as a full disk makes them) or held (a stalled store) from any moment. Twilio is
 * a listing the test fills (newest first, `DateSent>` to the second), time a ManualClock installed as
 * lib's clock (heardFirst's TAKEOVER_MS is measured on it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { ManualClock, installClock } from '../../lib/core/clock';
import { TwilioNodeError } from '../../lib/core/errors';
import type { TwilioAccount } from '../../lib/account/account';
import { engineStore } from '../../lib/account/node-state';
import type { InboundMsg } from '../../lib/inbound/inbound-message';
import { PollReceiver } from '../../lib/inbound/poll-receiver';
import type { KeyValueStore } from '../../lib/node-red/context';
import { EmbeddedStateEngine } from '../../lib/state/embedded';
import type { StateEngine } from '../../lib/state/engine';

export const HOUSE = '+15017122661';
const PERSON = '+15558675310';
export const INTERVAL_MS = 10_000;

const WRITES = new Set(['put', 'delete', 'claim']);

/** What `faulty()` does to a write: goes through, fails (a full disk), or never answers (a stalled store). */
export type Fault = 'none' | 'fail' | 'hold';

/** An engine whose writes fail or hang while `fault` says so; `held` are the writes hanging now. */
export function faulty(engine: StateEngine): {
  engine: StateEngine;
  fault: Fault;
  failed: number;
  held: Array<{ release: () => void; fail: () => void }>;
  /** Told of each write as it is made (before it goes to the store). */
  onWrite: (method: string, key: string, value: unknown) => void;
} {
  const control = {
    engine: undefined as unknown as StateEngine,
    fault: 'none' as Fault,
    failed: 0,
    held: [] as Array<{ release: () => void; fail: () => void }>,
    onWrite: (() => undefined) as (method: string, key: string, value: unknown) => void,
  };
  control.engine = new Proxy(engine, {
    get: (target, property) => {
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const call = () => (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!WRITES.has(String(property))) return call();
        control.onWrite(String(property), String(args[0]), property === 'claim' ? args[2] : args[1]);
        if (control.fault === 'none') return call();
        const refused = () => new TwilioNodeError('STATE_UNAVAILABLE', 'the disk is full (attack 29)');
        if (control.fault === 'fail') {
          control.failed++;
          return Promise.reject(refused());
        }
        return new Promise((resolve, reject) =>
          control.held.push({
            release: () => void (call() as Promise<unknown>).then(resolve, reject),
            fail: () => reject(refused()),
          }),
        );
      };
    },
  });
  return control;
}

/** A temp dir's embedded engine on `clock`, and how to close and remove it. */
export function embedded(clock: ManualClock): { engine: EmbeddedStateEngine; close: () => Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack29-'));
  const engine = new EmbeddedStateEngine({ dir, clock });
  return {
    engine,
    close: async () => {
      await engine.settled();
      await engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Twilio's list of messages to the house, the test adding texts "now". */
export function standInTwilio(clock: ManualClock, accountSid: string) {
  const records: Array<Record<string, unknown> & { sid: string; dateSent: Date }> = [];
  let n = 0;
  let looks = 0;
  const page = async (params: { dateSentAfter?: Date }) => {
    looks++;
    const after = params.dateSentAfter ? Math.floor(params.dateSentAfter.getTime() / 1000) * 1000 : -Infinity;
    const instances = records.filter((r) => r.dateSent.getTime() >= after).reverse(); // newest first
    return { instances, nextPageUrl: undefined, nextPage: async () => undefined };
  };
  return {
    client: { messages: { page } },
    looks: () => looks,
    /** Someone texts the house now; returns its Sid. */
    text(body = `text ${n + 1}`): string {
      const sid = 'SM' + (++n).toString(16).padStart(32, '0');
      records.push({
        sid,
        direction: 'inbound',
        accountSid,
        from: PERSON,
        to: HOUSE,
        body,
        numMedia: '0',
        numSegments: '1',
        dateSent: new Date(Math.floor(clock.now() / 1000) * 1000),
      });
      return sid;
    },
  };
}

export interface Burst {
  clock: ManualClock;
  engine: StateEngine;
  accountSid: string;
  twilio: ReturnType<typeof standInTwilio>;
  store: KeyValueStore;
  receiver: PollReceiver;
  /** The Sids of the msgs emitted, in order; `onEmit` runs as each goes (the flow got it). */
  emitted: string[];
  onEmit: (sid: string, index: number) => void;
  statuses: string[];
  warnings: string[];
  /** Moves the clock `ms` on and waits (real I/O) until the look that started has ended (the next is scheduled) or `ms` of real time. */
  step(ms: number): Promise<void>;
  restoreClock(): void;
}

/** A PollReceiver of account `accountSid` on `engine` (its node store `node/in/` in it), started on `clock`. */
export function burstReceiver(
  clock: ManualClock,
  engine: StateEngine,
  options: { accountSid?: string; twilio?: ReturnType<typeof standInTwilio>; store?: KeyValueStore } = {},
): Burst {
  const restoreClock = installClock(clock);
  const accountSid = options.accountSid ?? 'AC' + crypto.randomBytes(16).toString('hex');
  const twilio = options.twilio ?? standInTwilio(clock, accountSid);
  const store = options.store ?? engineStore(engine, 'node/in/');
  const account = {
    accountSid,
    state: engine,
    getClient: () => twilio.client,
    clientFor: () => twilio.client,
    queue: { withdraw: () => undefined },
    redact: (s: string) => s,
  } as unknown as TwilioAccount;
  const burst = {
    clock,
    engine,
    accountSid,
    twilio,
    store,
    emitted: [] as string[],
    onEmit: (() => undefined) as (sid: string, index: number) => void,
    statuses: [] as string[],
    warnings: [] as string[],
    restoreClock,
  } as Burst;
  const status = (fill: string) => (key: string) => void burst.statuses.push(`${fill} ${key}`);
  burst.receiver = new PollReceiver(
    account,
    { store, to: HOUSE, calls: false, intervalMs: INTERVAL_MS },
    {
      emit: (msg: InboundMsg) => {
        const sid = String((msg.payload as { MessageSid: string }).MessageSid);
        burst.emitted.push(sid);
        burst.onEmit(sid, burst.emitted.length);
      },
      warn: (key) => void burst.warnings.push(key),
      log: () => undefined,
      status: { working: status('blue'), success: status('green'), warning: status('yellow'), failed: status('red') },
      clock,
    },
  );
  burst.step = async (ms: number) => {
    const before = burst.statuses.length;
    await clock.advance(ms);
    // A look ends with a status (polled, failed); real I/O (the engine's commits) until then.
    for (const deadline = Date.now() + 5_000; burst.statuses.length === before && Date.now() < deadline;)
      await new Promise((resolve) => setTimeout(resolve, 1));
  };
  return burst;
}

/**
 * A burst receiver on a fresh embedded store that `store` can fail or hold, on a ManualClock; `end`
 * closes the receiver, puts the real clock back and closes the store.
 */
export function burstOnEmbedded(): {
  clock: ManualClock;
  raw: EmbeddedStateEngine;
  store: ReturnType<typeof faulty>;
  burst: Burst;
  end(): Promise<void>;
} {
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 12));
  const { engine: raw, close } = embedded(clock);
  const store = faulty(raw);
  const burst = burstReceiver(clock, store.engine);
  const end = async () => {
    // Its close waits for a look under way on the clock (5 s at most): moved past that, a stalled look does not hang the test.
    const closing = burst.receiver.close();
    await clock.advance(5_000);
    await closing;
    burst.restoreClock();
    await close();
  };
  return { clock, raw, store, burst, end };
}

/**
 * The node a redeploy adds in `old`'s place (its clock put back first): a receiver on the same store,
 * account and Twilio, after its first look and one interval (closed again, its emitted kept).
 */
export async function redeployed(old: Burst, engine: StateEngine): Promise<Burst> {
  old.restoreClock();
  const again = burstReceiver(old.clock, engine, { accountSid: old.accountSid, twilio: old.twilio, store: old.store });
  await again.step(0);
  await again.step(INTERVAL_MS);
  await again.receiver.close();
  again.restoreClock();
  return again;
}

/** How often each Sid was emitted, for those emitted more than once. */
export function twice(emitted: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sid of emitted) counts[sid] = (counts[sid] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 1));
}

/** Unhandled rejections while `fn` runs (one would end Node-RED). */
export async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => void seen.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await fn();
    // A rejection left unhandled is reported after the microtasks of its turn: a few turns more.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}
