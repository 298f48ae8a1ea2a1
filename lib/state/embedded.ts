/**
 * The embedded backend (the default): an LMDB environment, one file (`state.mdb` and its lock file) in
 * the directory the caller gives (the Node-RED user dir's `twilio-state/`). Nothing to set up.
 *
 * Durability: `overlappingSync: false` and never `noSync`. With lmdb-js's default on Linux
 * (overlappingSync) a write's promise resolves when the transaction is committed and visible, and the
 * flush to disk follows later (`db.flushed`); without it, LMDB flushes inside the commit, so every
 * write here resolves only once its change is on disk and a crash (SIGKILL or power loss) cannot take
 * back anything a node was told is stored. `commitDelay` stays 0: writes of one event turn share one
 * commit, nothing waits longer. Every write is a transaction (`env.transaction`): LMDB has one writer
 * at a time across every process that opens the file, and reads inside the callback see the latest
 * commit, so compare-and-set, claims, leases and takeDue are atomic (a plain `get` outside a write
 * sees this process's latest snapshot). Engines opened on one directory in one process share one
 * environment (lmdb-js's read snapshots are per environment: two would read past each other's
 * writes). Events (publish/subscribe) stay in this process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { systemClock, type Clock } from '../core/clock';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { busFor, type InProcessBus } from './bus';
import type { DueTimer, EngineGuarantees, Lease, StateEngine, StoredRecord, WriteOptions } from './engine';
import { currentVersion, decodeLease, decodeRecord, encodeLease, encodeRecord, expiryOf, isLive, toJson } from './envelope';

export interface EmbeddedOptions {
  /** The directory of the store (created if missing). */
  dir: string;
  clock?: Clock;
}

const buses = new Map<unknown, InProcessBus>();

/** One LMDB environment per file in this process, and its databases; closed when its last engine closes. */
interface Environment {
  env: RootDatabase;
  /** key → record text (binary: a damaged value is read as bytes, never decoded by lmdb-js). */
  records: Database<Buffer, string>;
  leases: Database<Buffer, string>;
  /** The version sequence and each lease's last fencing token. */
  meta: Database<number, string>;
  /** key → dueAt, and the index [dueAt, key] that takeDue reads in order. */
  timers: Database<number, string>;
  due: Database<number, [number, string]>;
  /** [expiresAt, key] of each expiring record: each write drops a few that have expired (a claim leaves no litter). */
  expiries: Database<number, [number, string]>;
  engines: number;
}
const environments = new Map<string, Environment>();

function environment(file: string): Environment {
  let shared = environments.get(file);
  if (!shared) {
    const env = open({ path: file, overlappingSync: false, noSync: false, commitDelay: 0 });
    shared = {
      env,
      records: env.openDB<Buffer, string>('records', { encoding: 'binary' }),
      leases: env.openDB<Buffer, string>('leases', { encoding: 'binary' }),
      meta: env.openDB<number, string>('meta', {}),
      timers: env.openDB<number, string>('timers', {}),
      due: env.openDB<number, [number, string]>('due', {}),
      expiries: env.openDB<number, [number, string]>('expiries', {}),
      engines: 0,
    };
    environments.set(file, shared);
  }
  shared.engines++;
  return shared;
}
const SEQUENCE = 'sequence';
/** Expired records a write removes on its way (more expire than one write adds only in a burst of claims). */
const SWEEP = 8;
const fenceKey = (name: string) => `fence:${name}`;

export class EmbeddedStateEngine implements StateEngine {
  readonly backend = 'embedded';
  readonly guarantees: EngineGuarantees = { durable: 'commit', instances: 'one' };
  private readonly clock: Clock;
  private readonly file: string;
  private readonly shared: Environment;
  private readonly env: RootDatabase;
  private readonly records: Database<Buffer, string>;
  private readonly leases: Database<Buffer, string>;
  private readonly meta: Database<number, string>;
  private readonly timers: Database<number, string>;
  private readonly due: Database<number, [number, string]>;
  private readonly expiries: Database<number, [number, string]>;
  private readonly bus: InProcessBus;
  private closed = false;
  /** Each write under way (settled either way), until it has. */
  private readonly writing = new Set<Promise<void>>();

  constructor(options: EmbeddedOptions) {
    this.clock = options.clock ?? systemClock;
    fs.mkdirSync(options.dir, { recursive: true });
    this.file = path.join(path.resolve(options.dir), 'state.mdb');
    this.shared = environment(this.file);
    ({
      env: this.env,
      records: this.records,
      leases: this.leases,
      meta: this.meta,
      timers: this.timers,
      due: this.due,
      expiries: this.expiries,
    } = this.shared);
    this.bus = busFor(buses, this.file);
  }

  /**
   * A write transaction. When its commit fails (the disk is full, an I/O error), it rejects with
   * LMDB's error, and the other promises LMDB made for it (each write's, and `commitError`) are
   * settled here: left unhandled, they would end the Node-RED process.
   */
  private transaction<T>(body: () => T): Promise<T> {
    this.quietCommit();
    const written = this.env.transaction(body).catch((err: unknown) => {
      settled((err as { commitError?: unknown } | null)?.commitError);
      this.quietCommit();
      // A write the disk refused (full, read-only, an I/O error): the caller hears it as the store's refusal.
      throw new TwilioNodeError(
        'STATE_UNAVAILABLE',
        text('stateWriteFailed', { message: err instanceof Error ? err.message : String(err) }),
      );
    }) as Promise<T>;
    const under = written.then(
      () => undefined,
      () => undefined,
    );
    this.writing.add(under);
    void under.then(() => this.writing.delete(under));
    return written;
  }

  async settled(): Promise<void> {
    while (this.writing.size > 0) await Promise.all(this.writing);
  }

  /** LMDB's promise for the batch under way (made in a turn of its own, held by no one): its failure is each transaction's. */
  private quietCommit(): void {
    const noop = () => undefined;
    (this.env.committed as unknown as { then(ok: () => void, failed: () => void): unknown }).then(noop, noop);
  }

  async get(key: string): Promise<StoredRecord | undefined> {
    const record = this.read(key);
    return isLive(record, this.clock.now()) ? record : undefined;
  }

  async put(key: string, value: unknown, options: WriteOptions = {}): Promise<number | undefined> {
    const now = this.clock.now();
    const expiresAt = expiryOf(now, options.ttlMs);
    const json = toJson(value);
    return this.transaction(() => {
      if (!this.allowed(key, options, now)) return undefined;
      this.sweep(now);
      const version = this.nextVersion();
      this.unindexExpiry(key);
      settled(this.records.put(key, Buffer.from(encodeRecord(version, json, expiresAt))));
      if (expiresAt !== undefined) settled(this.expiries.put([expiresAt, key], 1));
      return version;
    });
  }

  async delete(key: string, options: Omit<WriteOptions, 'ttlMs'> = {}): Promise<boolean> {
    const now = this.clock.now();
    return this.transaction(() => {
      if (!this.allowed(key, options, now) || !isLive(this.read(key), now)) return false;
      this.unindexExpiry(key);
      settled(this.records.remove(key));
      return true;
    });
  }

  async claim(key: string, ttlMs: number, value: unknown = true): Promise<boolean> {
    return (await this.put(key, value, { ttlMs, ifVersion: 0 })) !== undefined;
  }

  async scan(prefix: string, limit: number, after?: string): Promise<StoredRecord[]> {
    const now = this.clock.now();
    const found: StoredRecord[] = [];
    for (const { key, value } of this.records.getRange({ start: after ?? prefix })) {
      if (!key.startsWith(prefix) || found.length >= limit) break;
      if (key === after) continue;
      const record = decodeRecord(key, value);
      if (isLive(record, now)) found.push(record);
    }
    return found;
  }

  async lease(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const now = this.clock.now();
    const expiresAt = expiryOf(now, ttlMs)!;
    return this.transaction(() => {
      const current = decodeLease(name, this.leases.get(name));
      if (current && current.expiresAt > now && current.holder !== holder) return undefined;
      const token = current && current.expiresAt > now ? current.token : (this.meta.get(fenceKey(name)) ?? 0) + 1;
      settled(this.meta.put(fenceKey(name), token));
      settled(this.leases.put(name, Buffer.from(encodeLease(token, expiresAt, holder))));
      return { name, holder, token, expiresAt };
    });
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    const expiresAt = expiryOf(this.clock.now(), ttlMs)!;
    return this.transaction(() => {
      if (decodeLease(lease.name, this.leases.get(lease.name))?.token !== lease.token) return undefined;
      settled(this.leases.put(lease.name, Buffer.from(encodeLease(lease.token, expiresAt, lease.holder))));
      return { ...lease, expiresAt };
    });
  }

  async release(lease: Lease): Promise<boolean> {
    return this.transaction(() => {
      if (decodeLease(lease.name, this.leases.get(lease.name))?.token !== lease.token) return false;
      settled(this.leases.remove(lease.name));
      return true;
    });
  }

  async schedule(key: string, dueAt: number): Promise<void> {
    return this.transaction(() => {
      this.dropTimer(key);
      settled(this.timers.put(key, dueAt));
      settled(this.due.put([dueAt, key], 1));
    });
  }

  async unschedule(key: string): Promise<boolean> {
    return this.transaction(() => this.dropTimer(key));
  }

  async takeDue(now: number, limit: number): Promise<DueTimer[]> {
    return this.transaction(() => {
      const taken: DueTimer[] = [];
      for (const { key } of this.due.getRange({ end: [now, '\uffff'], limit })) {
        const [dueAt, timer] = key;
        if (dueAt > now) break;
        settled(this.due.remove(key));
        settled(this.timers.remove(timer));
        taken.push({ key: timer, dueAt });
      }
      return taken;
    });
  }

  async publish(channel: string, message: unknown): Promise<void> {
    this.bus.publish(channel, message);
  }

  async subscribe(channel: string, listener: (message: unknown) => void): Promise<() => Promise<void>> {
    return this.bus.subscribe(channel, listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (--this.shared.engines > 0) return;
    environments.delete(this.file);
    await this.env.close();
  }

  private read(key: string): StoredRecord | undefined {
    const stored = this.records.get(key);
    return stored === undefined ? undefined : decodeRecord(key, stored);
  }

  /** The guards of a write, read inside its transaction. */
  private allowed(key: string, options: Omit<WriteOptions, 'ttlMs'>, now: number): boolean {
    if (options.ifVersion !== undefined && currentVersion(this.read(key), now) !== options.ifVersion) return false;
    if (options.fence) {
      const lease = decodeLease(options.fence.name, this.leases.get(options.fence.name));
      if (!lease || lease.token !== options.fence.token || lease.expiresAt <= now) return false;
    }
    return true;
  }

  /** Removes up to `SWEEP` records that expired by `now`, inside the current write. */
  private sweep(now: number): void {
    for (const { key } of this.expiries.getRange({ end: [now, '\uffff'], limit: SWEEP })) {
      if (key[0] > now) break;
      settled(this.expiries.remove(key));
      if (this.read(key[1])?.expiresAt === key[0]) settled(this.records.remove(key[1]));
    }
  }

  private unindexExpiry(key: string): void {
    const expiresAt = this.read(key)?.expiresAt;
    if (expiresAt !== undefined) settled(this.expiries.remove([expiresAt, key]));
  }

  private nextVersion(): number {
    const version = (this.meta.get(SEQUENCE) ?? 0) + 1;
    settled(this.meta.put(SEQUENCE, version));
    return version;
  }

  private dropTimer(key: string): boolean {
    const dueAt = this.timers.get(key);
    if (dueAt === undefined) return false;
    settled(this.timers.remove(key));
    settled(this.due.remove([dueAt, key]));
    return true;
  }
}

/** A promise LMDB made for a write inside a transaction: its failure is the transaction's (the caller hears it there). */
function settled(result: unknown): void {
  if (result && typeof (result as Promise<unknown>).catch === 'function') (result as Promise<unknown>).catch(() => undefined);
}
