/**
 * The one state engine behind what must outlive a crash or be shared by a second instance: the
 * waiting lifecycle, the question board, the hub's memory of what it heard, the duplicate window,
 * poll cursors. One interface, three backends held to one contract test suite
 * (test/unit/state/contract.test.ts):
 *   embedded (lmdb, the default), redis (several Node-RED instances), context (Node-RED's context
 *   store: one instance, written every flush interval).
 * What a record holds is the caller's business: the engine stores JSON and hands back whatever it
 * finds as `unknown`; a damaged value is returned (version 0), never thrown.
 */

/** A stored record and its version. Versions come from one sequence per store: they never repeat. */
export interface StoredRecord {
  readonly key: string;
  readonly value: unknown;
  /** 0: the stored value is damaged (unreadable header); it can be overwritten with `ifVersion: 0`. */
  readonly version: number;
  /** When the record stops being seen, by the engine's Clock; undefined: never. */
  readonly expiresAt?: number;
}

/** A lease held: `token` fences every guarded write (a newer holder always has a larger token). */
export interface Lease {
  readonly name: string;
  readonly holder: string;
  readonly token: number;
  readonly expiresAt: number;
}

/** How a write is guarded; a refused write changes nothing and resolves `undefined`. */
export interface WriteOptions {
  /** The record expires this long after the write, by the engine's Clock. */
  ttlMs?: number;
  /** Compare-and-set: write only if the record's version is this (0: absent, expired or damaged). */
  ifVersion?: number;
  /** Write only while this lease is still the current one (not expired, not taken over). */
  fence?: Lease;
}

/** A due timer taken by takeDue: the taker owns it, no one else gets it. */
export interface DueTimer {
  readonly key: string;
  readonly dueAt: number;
}

/** What a backend promises, stated so a node can say it in its status or docs. */
export interface EngineGuarantees {
  /** 'commit': each write is on disk before it resolves; 'server': as durable as the Redis server is
   * configured; 'flush-interval': written by Node-RED every flush interval (a crash loses the rest). */
  readonly durable: 'commit' | 'server' | 'flush-interval';
  /** 'many': atomic across processes and hosts; 'one': atomic within this Node-RED process only. */
  readonly instances: 'many' | 'one';
}

export interface StateEngine {
  readonly backend: 'embedded' | 'redis' | 'context';
  readonly guarantees: EngineGuarantees;

  /** The live record at `key` (undefined: absent or expired). */
  get(key: string): Promise<StoredRecord | undefined>;
  /** Writes `value` (JSON); resolves its new version once stored, or undefined when a guard refused it. */
  put(key: string, value: unknown, options?: WriteOptions): Promise<number | undefined>;
  /** Deletes `key`; false when absent or a guard refused it. */
  delete(key: string, options?: Omit<WriteOptions, 'ttlMs'>): Promise<boolean>;
  /**
   * The first caller wins `key` for `ttlMs` (a duplicate window entry, a webhook's identity): true for
   * exactly one of any number of concurrent callers until the claim expires.
   */
  claim(key: string, ttlMs: number, value?: unknown): Promise<boolean>;
  /** Live records whose key starts with `prefix`, in key order, at most `limit`, after key `after`. */
  scan(prefix: string, limit: number, after?: string): Promise<StoredRecord[]>;

  /** Takes or keeps lease `name` for `holder`; undefined while another holder's lease is live. */
  lease(name: string, holder: string, ttlMs: number): Promise<Lease | undefined>;
  /** Extends a lease still current (same token); undefined when it was taken over. */
  renew(lease: Lease, ttlMs: number): Promise<Lease | undefined>;
  /** Gives a current lease up; false when it was no longer current. */
  release(lease: Lease): Promise<boolean>;

  /** Schedules (or moves) timer `key` to fire at `dueAt`. */
  schedule(key: string, dueAt: number): Promise<void>;
  /** Cancels timer `key`; false when it was not scheduled (or already taken). */
  unschedule(key: string): Promise<boolean>;
  /** Removes and returns up to `limit` timers due at `now`, earliest first: each goes to one taker only. */
  takeDue(now: number, limit: number): Promise<DueTimer[]>;

  /** Sends `message` (JSON) to every subscriber of `channel` on this store, this instance included. */
  publish(channel: string, message: unknown): Promise<void>;
  /** Hears `channel`; resolves once subscribed, with how to stop. */
  subscribe(channel: string, listener: (message: unknown) => void): Promise<() => Promise<void>>;

  /**
   * Resolves once every write under way has committed (or failed). The embedded store's: a process
   * that exits while one waits for its turn on the main thread never exits (lmdb's writer is a libuv
   * pool thread, which exit joins), so whoever is the last to give the engine back waits for this.
   */
  settled?(): Promise<void>;

  close(): Promise<void>;
}
