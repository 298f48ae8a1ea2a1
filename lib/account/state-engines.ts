/**
 * The state engines of this process, shared: one embedded store per directory (LMDB allows one
 * environment per file in a process, and every account of this Node-RED keeps its state there), one
 * Redis connection per server and password. An engine opens with its first account node and closes
 * a while after its last (IDLE_CLOSE_MS).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Clock, Timer, systemClock } from '../core/clock';
import type { StateEngine } from '../state/engine';
import { openStateEngine } from '../state/open';
import { StateHealth, redactUrl, reportsHealth, urlCarriesPassword } from '../state/redis';

export { redactUrl, urlCarriesPassword };
export type { StateHealth };

export type StateBackend = 'embedded' | 'redis';

export interface StateChoice {
  backend: StateBackend;
  /** The embedded store's directory. */
  dir: string;
  /** Redis: `redis://host:port[/db]` or `rediss://…`. */
  redisUrl?: string;
  redisPassword?: string;
  onRedisError?: (err: Error) => void;
  /**
   * Where the engine says it went down or came back: ONE line each time, per engine (not per account
   * or node); the first account that opens the engine gives it (Node-RED's log).
   */
  log?: { down(url: string, reason: string): void; up(url: string): void };
}

/** What an account gets of a shared engine. */
export interface AcquiredEngine {
  engine: StateEngine;
  /** Up, or down with why (an embedded store is always up: it fails per write, if ever). */
  health(): StateHealth;
  /** Hears the engine go down and come back; called at once when it is down now. Returns how to stop. */
  onHealth(listener: (health: StateHealth) => void): () => void;
  release(): Promise<void>;
}

interface Shared {
  engine: StateEngine;
  users: number;
  closing?: ReturnType<typeof setTimeout>;
  closed?: boolean;
}
/**
 * How long an engine no account uses stays open: a full redeploy closes every account node after
 * its nodes (whose last writes, a removed node's cleanup, may still be under way) and opens new ones
 * that take the same engine again.
 */
const IDLE_CLOSE_MS = 30_000;
const engines = new Map<string, Shared>();
/** How long the last release waits for the writes under way: within the account's close budget. */
const SETTLE_MS = 3_000;

/** Resolves once the engine's writes under way have settled, or after `ms`. */
function settledWithin(engine: StateEngine, ms: number, clock: Clock): Promise<void> {
  if (!engine.settled) return Promise.resolve();
  let timer: Timer | undefined;
  const late = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, ms)));
  return Promise.race([engine.settled(), late]).finally(() => clock.clearTimeout(timer));
}

/** Where the embedded store lives: `twilio-state/` in the Node-RED user dir. */
export function embeddedStateDir(userDir: string | undefined): string {
  return userDir ? path.join(userDir, 'twilio-state') : processTempDir();
}

let tempDir: string | undefined;
/**
 * Without a user dir (node-red-node-test-helper starts a runtime without one) the store is this
 * process's own, removed when it exits: nothing of one test process is seen by another.
 */
function processTempDir(): string {
  if (!tempDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-state-'));
    tempDir = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return tempDir;
}

/** Takes the engine `choice` names (opening it if no one has it open); `release` gives it back. */
export function acquireStateEngine(choice: StateChoice, clock?: Clock): AcquiredEngine {
  const id =
    choice.backend === 'redis'
      ? `redis ${choice.redisUrl} ${crypto
          .createHash('sha256')
          .update(choice.redisPassword ?? '')
          .digest('hex')}`
      : `embedded ${path.resolve(choice.dir)}`;
  let shared = engines.get(id);
  if (!shared) {
    const engine =
      choice.backend === 'redis'
        ? openStateEngine(
            { backend: 'redis', url: choice.redisUrl ?? '', password: choice.redisPassword || undefined, onError: choice.onRedisError },
            clock,
          )
        : openEmbedded(choice.dir, clock);
    engines.set(id, (shared = { engine, users: 0 }));
    const { log } = choice;
    if (log && reportsHealth(engine)) {
      const url = redactUrl(choice.redisUrl ?? '');
      let wentDown = false;
      engine.onHealth((health) => {
        if (!health.up) log.down(url, health.reason ?? '');
        else if (wentDown) log.up(url);
        wentDown ||= !health.up;
      });
    }
  }
  shared.users++;
  if (shared.closing) clearTimeout(shared.closing);
  shared.closing = undefined;
  const taken = shared;
  let released = false;
  const { engine } = taken;
  return {
    engine,
    health: () => (reportsHealth(engine) ? engine.health : { up: true }),
    onHealth: (listener) => {
      if (!reportsHealth(engine)) return () => undefined;
      if (!engine.health.up) listener(engine.health);
      return engine.onHealth(listener);
    },
    release: async () => {
      if (released) return;
      released = true;
      if (--taken.users > 0) return;
      // The last account gives it back when Node-RED stops too, which exits as soon as its nodes have
      // closed: the writes under way commit first (one left waiting would hold the exit forever).
      await settledWithin(taken.engine, SETTLE_MS, clock ?? systemClock);
      if (taken.users > 0) return; // taken again meanwhile (a redeploy)
      if (taken.closed) return;
      taken.closing = setTimeout(() => void closeShared(id, taken), IDLE_CLOSE_MS);
      // An idle engine does not keep Node-RED from exiting (LMDB commits each write: nothing is pending).
      taken.closing.unref();
    },
  };
}

function closeShared(id: string, shared: Shared): Promise<void> {
  if (shared.users > 0 || shared.closed) return Promise.resolve();
  shared.closed = true;
  clearTimeout(shared.closing);
  if (engines.get(id) === shared) engines.delete(id);
  return shared.engine.close().catch(() => undefined);
}

/**
 * Closes at once every engine no account uses, instead of IDLE_CLOSE_MS later: for a process that
 * is done with Node-RED (a test file), which an idle Redis connection, reconnecting while its server
 * is gone, would otherwise hold open that long.
 */
export async function closeIdleStateEngines(): Promise<void> {
  await Promise.all([...engines].map(([id, shared]) => closeShared(id, shared)));
}

/**
 * The embedded store is one Node-RED's (its guarantee: "one instance"): a second process opening
 * the same user dir by mistake (a second service, a container started twice on one volume) would
 * resume every wait the first one holds. The first to open it writes its pid and host in
 * `owner.lock` (created exclusively); another process refuses while that pid lives on this host.
 * A lock whose process is gone (a power cut, kill -9) or that names another host (a container made
 * anew on the same volume) is taken over. Removed when this process exits.
 */
function openEmbedded(dir: string, clock?: Clock): StateEngine {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'owner.lock');
  const mine = `${process.pid} ${os.hostname()}`;
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lock, mine, { flag: 'wx' });
      process.once('exit', () => {
        if (readLock(lock) === mine) fs.rmSync(lock, { force: true });
      });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw err;
      const held = readLock(lock);
      if (held === mine) break; // this process opened it before (an engine closed when idle, opened again)
      const [pid, host] = (held ?? '').split(' ');
      if (host === os.hostname() && isAlive(Number(pid)))
        throw new Error(
          `${dir} is in use by another Node-RED (process ${pid}): one store serves one Node-RED; give each its own user dir, or share Redis`,
          { cause: err },
        );
      fs.rmSync(lock, { force: true }); // its process is gone: a stale lock
    }
  }
  return openStateEngine({ backend: 'embedded', dir }, clock);
}

function readLock(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
