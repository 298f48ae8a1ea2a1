/**
 * Where a node keeps what must outlive a redeploy, a restart or a power cut (its waits, pages, open
 * questions, poll cursor, duplicate window): its `stateIn` setting.
 *   ''               the account's state engine (the default): the embedded store in the user dir,
 *                    each change on disk before the node acts on it; or the account's Redis.
 *   'context:<name>' a Node-RED context store (`context:` alone: the default one), for a host whose
 *                    user dir does not persist: written every flush interval, one instance only.
 * A node's keys live under `node/<id>/` in its engine; a removed node's are deleted.
 */
import crypto from 'node:crypto';
import type { Node, NodeAPI } from 'node-red';
import type { Lease, StateEngine } from '../state/engine';
import { Timer, systemClock } from '../core/clock';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { KeyValueStore, contextStore, forgetNodeState, nodeStateStore } from '../node-red/context';

/**
 * How long a removed node's close waits for its state to be deleted: after the room's close budget
 * (12 s), within Node-RED's own 15 s for a node's close.
 */
const FORGET_BUDGET_MS = 2_000;

/** How many keys one scan reads: a node's waits are read in pages, never all at once. */
const SCAN_PAGE = 500;

/** A stored value and its version (compare-and-set on it). */
export interface Versioned {
  key: string;
  value: unknown;
  version: number;
}

/**
 * A KeyValueStore of a state engine, with the engine's versions: what several instances on one
 * engine need to take a record over exactly once (compare-and-set) and to fence a write with a lease.
 */
export interface VersionedStore extends KeyValueStore {
  readonly engine: StateEngine;
  /** The stored value and its version (undefined: absent or expired). */
  read(key: string): Promise<Versioned | undefined>;
  /** Writes (undefined: deletes) only when the stored version is `ifVersion` (0: absent); resolves the new version (0 for a delete), undefined when refused. */
  write(key: string, value: unknown, options?: { ifVersion?: number; fence?: Lease }): Promise<number | undefined>;
  /** Stored values whose keys start with `prefix`, with their versions, in pages. */
  entries(prefix: string): AsyncIterable<Versioned>;
}

export const isVersioned = (store: KeyValueStore): store is VersionedStore =>
  typeof (store as Partial<VersionedStore>).write === 'function' && (store as Partial<VersionedStore>).engine !== undefined;

/** A state engine seen as a key-value store under `prefix` (what the waiting room and the poller use). */
export function engineStore(engine: StateEngine, prefix: string): VersionedStore {
  return {
    engine,
    read: async (key) => {
      const record = await engine.get(prefix + key);
      return record && { key, value: record.value, version: record.version };
    },
    write: async (key, value, options = {}) => {
      if (value !== undefined) return engine.put(prefix + key, value, options);
      return (await engine.delete(prefix + key, options)) ? 0 : undefined;
    },
    entries: (start) => ({
      [Symbol.asyncIterator]: async function* () {
        for (let after: string | undefined; ;) {
          const page = await engine.scan(prefix + start, SCAN_PAGE, after);
          for (const record of page) yield { key: record.key.slice(prefix.length), value: record.value, version: record.version };
          if (page.length < SCAN_PAGE) return;
          after = page[page.length - 1].key;
        }
      },
    }),
    get: async (key) => (await engine.get(prefix + key))?.value,
    set: async (key, value) => {
      if (value === undefined) await engine.delete(prefix + key);
      else if ((await engine.put(prefix + key, value)) === undefined) throw new Error(`state refused ${key}`);
    },
    keys: async () => {
      const keys: string[] = [];
      for (let after: string | undefined; ;) {
        const page = await engine.scan(prefix, SCAN_PAGE, after);
        for (const record of page) keys.push(record.key.slice(prefix.length));
        if (page.length < SCAN_PAGE) return keys;
        after = page[page.length - 1].key;
      }
    },
  };
}

export interface NodeState {
  store: KeyValueStore;
  /** What the store promises: 'commit' (on disk before it resolves), 'server' (Redis), 'flush-interval' (a context store). */
  durable: 'commit' | 'server' | 'flush-interval';
  /** Deletes everything the node kept (it was removed from the flows). */
  forget(): Promise<void>;
  /** Settles once state a previous release kept in a context store is moved over (see moveContextState). */
  moved: Promise<void>;
}

/** The account's side of it: its engine (undefined while the account cannot open one), and its health (Redis). */
export interface StateOwner {
  readonly state?: StateEngine;
  onStateHealth?(listener: (health: { up: boolean }) => void): () => void;
}

export interface NodeStateSettings {
  stateIn?: string;
  /** Set by the config step that brought `stateIn` in: the context store the node used before ('' for the default). */
  stateMovedFrom?: string;
}

export function nodeState(RED: NodeAPI, node: Node, account: StateOwner | undefined, settings: NodeStateSettings): NodeState {
  const choice = settings.stateIn ?? '';
  if (choice.startsWith('context:') || !account) {
    // Without an account the node takes no msg; its store is never written.
    const name = choice.startsWith('context:') ? choice.slice('context:'.length) || undefined : undefined;
    return {
      store: nodeStateStore(RED, node, name),
      durable: 'flush-interval',
      forget: async () => forgetNodeState(node),
      moved: Promise.resolve(),
    };
  }
  const engine = account.state;
  if (!engine) return closedState();
  const own = engineStore(engine, `node/${node.id}/`);
  const from = settings.stateMovedFrom;
  // Nothing is read before what the context held is moved (a wait left there is restored like any other).
  const moved =
    from === undefined
      ? Promise.resolve()
      : moveContextState(contextStore(node.context(), from || undefined), own).then(
          () => undefined,
          // What cannot be moved stays where it was (still readable there by hand); the node goes on.
          (err: unknown) => node.warn(`${err instanceof Error ? err.message : String(err)}`),
        );
  const retry = retryDeletes(account, own);
  const store: VersionedStore = {
    engine,
    get: (key) => moved.then(() => own.get(key)),
    set: (key, value) => moved.then(() => retry.set(key, value)),
    keys: () => moved.then(() => own.keys()),
    read: (key) => moved.then(() => own.read(key)),
    write: (key, value, options) => moved.then(() => own.write(key, value, options)),
    entries: (start) => ({
      [Symbol.asyncIterator]: async function* () {
        await moved;
        yield* own.entries(start);
      },
    }),
  };
  return {
    store,
    durable: engine.guarantees.durable,
    forget: () => {
      const all = moved.then(() => forgetAll(own, account));
      // Redis stalled: the close goes on after the budget, and the deletes when Redis answers again.
      all.catch(() => undefined);
      let timer: Timer | undefined;
      const budget = new Promise<void>((resolve) => (timer = systemClock.setTimeout(resolve, FORGET_BUDGET_MS)));
      return Promise.race([all, budget]).finally(() => systemClock.clearTimeout(timer));
    },
    moved,
  };
}

/**
 * Where the engine remembers that a context key was moved, and what it held (a digest): a file
 * context store writes its deletes to disk every 30 s, so after a power cut the context may still
 * hold a key whose record the engine has moved and since ended (a wait): it must not be moved again.
 */
export const MOVED_PREFIX = 'moved-from-context/';
const digestOf = (value: unknown) => crypto.createHash('sha256').update(JSON.stringify(value)).digest('base64url');

/**
 * Moves what a node kept in a context store (before the state engine) into its engine store, once:
 * each key is written to the engine (unless the engine already has it), then marked moved (with a
 * digest of its value), before it is deleted from the context, so a crash in between leaves it in
 * both, never in neither; a key the context still holds with a value already moved (its delete had
 * not reached the context's disk) is only deleted there.
 */
export async function moveContextState(from: KeyValueStore, to: KeyValueStore): Promise<number> {
  let moved = 0;
  for (const key of await from.keys()) {
    const value = await from.get(key);
    if (value === undefined) continue;
    const digest = digestOf(value);
    if ((await to.get(MOVED_PREFIX + key)) !== digest) {
      if ((await to.get(key)) === undefined) await to.set(key, value);
      await to.set(MOVED_PREFIX + key, digest);
      moved++;
    }
    await from.set(key, undefined);
  }
  return moved;
}

/**
 * Deletes every key of a removed node as it was listed: a key written since (the node added again
 * under its id) is kept. A page of deletes at a time: the embedded store commits a page once, not
 * each key (a poller remembers up to 20,000 Sids), and Redis answers a page in one round. A page that
 * fails does not stop the next; what the engine refused while down (`keys`, then) is deleted once it
 * is back, and the first refusal is the forget's error.
 */
async function forgetAll(own: VersionedStore, account: StateOwner, keys?: Array<{ key: string; version: number }>): Promise<void> {
  const listed = keys ?? [];
  if (!keys) for await (const { key, version } of own.entries('')) listed.push({ key, version });
  const owed: typeof listed = [];
  let failure: unknown;
  for (let i = 0; i < listed.length; i += SCAN_PAGE) {
    const page = listed.slice(i, i + SCAN_PAGE);
    const results = await Promise.allSettled(page.map(({ key, version }) => own.write(key, undefined, { ifVersion: version })));
    results.forEach((result, j) => {
      if (result.status === 'fulfilled') return;
      failure ??= result.reason;
      owed.push(page[j]);
    });
  }
  if (owed.length > 0 && account.onStateHealth) {
    const stop = account.onStateHealth((health) => {
      if (!health.up) return;
      stop();
      void forgetAll(own, account, owed).catch(() => undefined);
    });
  }
  if (failure !== undefined) throw failure;
}

/**
 * A delete the engine could not do (Redis unreachable: a wait that ended meanwhile) is done again once
 * the engine is back, so that its record is not resumed a second time by a later start. A write of
 * the key meanwhile supersedes it. Listens to the account's health only while a delete is owed.
 */
function retryDeletes(account: StateOwner, own: KeyValueStore): Pick<KeyValueStore, 'set'> {
  const owed = new Set<string>();
  let stop: (() => void) | undefined;
  const flush = async () => {
    for (const key of [...owed]) {
      try {
        await own.set(key, undefined);
        owed.delete(key);
      } catch {
        return; // down again: the next return tries the rest
      }
    }
    stop?.();
    stop = undefined;
  };
  return {
    set: async (key, value) => {
      try {
        await own.set(key, value);
        owed.delete(key);
      } catch (err) {
        if (value !== undefined || (err as { code?: unknown })?.code !== 'STATE_UNAVAILABLE' || !account.onStateHealth) throw err;
        owed.add(key);
        stop ??= account.onStateHealth((health) => void (health.up && flush()));
        throw err;
      }
    },
  };
}

/** The state of a node whose account's engine could not open: it refuses every write (a msg that must be kept is refused, never kept in memory only). */
function closedState(): NodeState {
  const refuse = () => Promise.reject(new TwilioNodeError('STATE_UNAVAILABLE', text('stateNotOpen')));
  return {
    store: { get: () => Promise.resolve(undefined), set: refuse, keys: () => Promise.resolve([]) },
    durable: 'commit',
    forget: () => Promise.resolve(),
    moved: Promise.resolve(),
  };
}
