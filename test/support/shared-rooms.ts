/**
 * Waiting rooms of several "instances" on one real engine (embedded LMDB) seen as shared (what
 * Redis is), for the ownership tests and the attacks on them: the record they hold, an instance's
 * room (node n1) and presence, the engines a file opens (removed after it), and a clock moved on
 * while the engines' real I/O settles.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { ManualClock } from '../../lib/core/clock';
import { TwilioNodeError } from '../../lib/core/errors';
import { engineStore } from '../../lib/account/node-state';
import type { StateEngine } from '../../lib/state/engine';
import { Presence } from '../../lib/state/instance';
import { openStateEngine } from '../../lib/state/open';
import { WaitingRoom, type Wait } from '../../lib/waits/waiting-room';

export interface Rec {
  msg: Record<string, unknown>;
  step: number;
}
export const isRecord = (value: unknown): value is Rec =>
  typeof value === 'object' && value !== null && typeof (value as Rec).step === 'number' && typeof (value as Rec).msg === 'object';

/** The embedded engine as an engine instances share (what Redis is): ownership applies. */
export function sharedView(engine: StateEngine): StateEngine {
  return new Proxy(engine, {
    get: (target, property) => {
      if (property === 'guarantees') return { durable: 'commit', instances: 'many' };
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The engines of one test file, each in its own directory under a temporary one (removed after the file). */
export function fileEngines(prefix: string) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let dirs = 0;
  const engines = new Set<StateEngine>();
  const openEngine = (clock: ManualClock): StateEngine => {
    const engine = openStateEngine({ backend: 'embedded', dir: path.join(tmp, `e${++dirs}`) }, clock);
    engines.add(engine);
    return engine;
  };
  /** Lets the engines' writes under way (each a chain of awaits) finish, without moving the clock. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      await Promise.all([...engines].map((engine) => engine.settled?.()));
    }
  };
  /**
   * Moves the clock on in steps, letting the store's real I/O (LMDB commits, each a chain of awaits)
   * finish between them: on a loaded machine a lease renewal can else fall a lease behind the clock.
   */
  const pass = async (clock: ManualClock, ms: number, step = 250): Promise<void> => {
    for (let left = ms; left > 0; left -= step) {
      await clock.advance(Math.min(step, left));
      await settle();
    }
  };
  return { openEngine, settle, pass };
}

/** The instance lease of these tests: short, so a takeover comes within a few steps of the clock. */
export const LEASE_MS = 3_000;

/** One "instance": its own Presence (id `id`, in `home`) and node n1's waiting room on `engine`; `resumed` is what its restore took. */
export function roomInstance(
  engine: StateEngine,
  id: string,
  clock: ManualClock,
  options: { home?: string; capacity?: number; closeBudgetMs?: number } = {},
) {
  const presence = new Presence(engine, id, clock, LEASE_MS, options.home);
  const resumed: Array<Wait<Rec>> = [];
  const logs: string[] = [];
  const room = new WaitingRoom<Rec>({
    node: { id: 'n1', send: () => undefined, log: (t) => logs.push(t), warn: (t) => logs.push(t) },
    store: engineStore(engine, 'node/n1/'),
    prefix: 'wait-',
    capacity: options.capacity ?? 100,
    outputs: 1,
    isRecord,
    notSent: () => new TwilioNodeError('NOT_SENT', 'not sent'),
    abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', 'abandoned'),
    clock,
    presence,
    ...(options.closeBudgetMs !== undefined ? { closeBudgetMs: options.closeBudgetMs } : {}),
  });
  return { room, presence, resumed, logs, restore: () => room.restore((waits) => resumed.push(...waits)) };
}
