/**
 * The question board across instances, in one process (test/unit/conversation/questions-shared.test.ts,
 * test/attacks-25/board-*.test.ts): boards each with their own inbound hub, as two Node-RED processes
 * have, on engines that may be wrapped to be slow, lossy or failing; inbound texts; and a redis-server
 * per suite with engines opened on it.
 */
import { after, before } from 'node:test';
import type { Clock } from '../../lib/core/clock';
import { QuestionBoard, Reply } from '../../lib/conversation/questions';
import { InboundEvent, InboundHub, Published } from '../../lib/inbound/hub';
import type { StateEngine } from '../../lib/state/engine';
import { openStateEngine } from '../../lib/state/open';
import { startRedis, type RedisServer } from './redis';

/** The house's number: the To of every text (as flows.ts HOUSE). */
export const HOUSE = '+15017122661';

let sids = 0;
/** A text from `from` to the house, with a fresh MessageSid, as a webhook brings it. */
export const message = (from: string, body: string): InboundEvent => ({
  kind: 'message',
  sid: `SM${String(++sids).padStart(32, '0')}`,
  from,
  to: HOUSE,
  params: { Body: body },
  source: 'webhook',
});

/** Whether the hub's subscribers took it in the end: at once, or once the board read the index. */
export const claimedIn = async (published: Published) => published.claimed || ((await published.settled) ?? false);

/** An instance: its own hub and board on `engine`. */
export interface BoardInstance {
  hub: InboundHub;
  board: QuestionBoard;
  /** Each answer its questions took, as "question:text". */
  got: string[];
  /** Replies handed to a question (of `ask`) after it ended: a twilio-ask drops them (asking.ts answered(): "takes no more answers"). */
  late: string[];
  errors: unknown[];
  lost: string[];
  /** The codes of each clarifying message the board sent. */
  clarified: string[][];
  /** A question that ends with its first answer, as a twilio-ask's does; returns its close. */
  ask(id: string, person: string, code: string): () => void;
  /** A question that takes every reply handed to it until closed; returns its close. */
  open(id: string, person: string, code: string): () => void;
}

/** Makes instances of the board of account `accountSid`: `instance(engine, name, { random, clock })`. */
export function boardInstances(accountSid: string) {
  return (engine: StateEngine, name: string, more: { random?: () => number; clock?: Clock } = {}): BoardInstance => {
    const hub = new InboundHub();
    const errors: unknown[] = [];
    const lost: string[] = [];
    const clarified: string[][] = [];
    const board = new QuestionBoard(hub, (_p, _n, open) => clarified.push(open.map((q) => q.code)), more.random ?? Math.random, {
      engine,
      accountSid,
      instance: name,
      clock: more.clock,
      onError: (err) => errors.push(err),
      onLost: (question) => lost.push(question),
    });
    const got: string[] = [];
    const late: string[] = [];
    const ask = (id: string, person: string, code: string) => {
      let open = true;
      const close: () => void = board.open({
        id,
        person,
        ourNumber: HOUSE,
        code,
        summary: `${id}?`,
        onReply: (r: Reply) => {
          if (!open) return void late.push(`${id}:${r.text}`);
          open = false;
          got.push(`${id}:${r.text}`);
          close();
        },
      });
      return close;
    };
    const open = (id: string, person: string, code: string) =>
      board.open({ id, person, ourNumber: HOUSE, code, summary: `${id}?`, onReply: (r: Reply) => got.push(`${id}:${r.text}`) });
    return { hub, board, got, late, errors, lost, clarified, ask, open };
  };
}

/** `engine` with the properties `override` gives (for the property read, at each read) in place of its own. */
export function intercepted(engine: StateEngine, override: (target: StateEngine, prop: string | symbol) => unknown): StateEngine {
  return new Proxy(engine, {
    get(target, prop) {
      const replaced = override(target, prop);
      if (replaced !== undefined) return replaced;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * `engine` whose scans under `prefix` answer, once `hold()` was called, only after `release()` (the
 * read itself is made at once: Redis answered in time, the reply is slow to come back); `read`
 * resolves when a held read is done.
 */
export function heldScans(engine: StateEngine, prefix: string) {
  let gate: Promise<void> | undefined;
  let release: () => void = () => undefined;
  let readDone: () => void = () => undefined;
  const read = new Promise<void>((r) => (readDone = r));
  const held = intercepted(engine, (target, prop) =>
    prop === 'scan'
      ? async (p: string, ...rest: unknown[]) => {
          const result = await (target.scan as (...args: unknown[]) => Promise<unknown>).call(target, p, ...rest);
          const holding = p.startsWith(prefix) ? gate : undefined;
          if (holding) {
            readDone();
            await holding;
          }
          return result;
        }
      : undefined,
  );
  return {
    engine: held,
    read,
    hold: () => void (gate = new Promise<void>((r) => (release = r))),
    release: () => release(),
  };
}

/**
 * Inside a suite: a redis-server started before it and stopped after it; `open()` opens an engine
 * on it under `prefix` (each closed after the suite, before the server stops); `url()` is the server's.
 */
export function redisEngines(prefix: string): { open(): StateEngine; url(): string } {
  let redis: RedisServer | undefined;
  const engines: StateEngine[] = [];
  before(async () => void (redis = await startRedis()));
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await redis?.stop();
  });
  return {
    open: () => {
      const engine = openStateEngine({ backend: 'redis', url: redis!.url, prefix });
      engines.push(engine);
      return engine;
    },
    url: () => redis!.url,
  };
}
