/**
 * The context backend, for a host whose user dir does not persist: records kept in a Node-RED context
 * store (lib/node-red/context.ts's KeyValueStore). Its promise is weaker, and said so in
 * `guarantees`: Node-RED's context API has no compare-and-set, so every operation here runs one at a
 * time through a queue in this process (compare-and-set, claims, leases, takeDue are atomic between
 * the callers of THIS process only: two Node-RED instances on one shared store can both win), and a
 * persistent store (localfilesystem) writes what it caches every flush interval (30 s by default), so
 * a crash loses what came since. Events stay in this process.
 */
import { systemClock, type Clock } from '../core/clock';
import type { KeyValueStore } from '../node-red/context';
import { busFor, type InProcessBus } from './bus';
import type { DueTimer, EngineGuarantees, Lease, StateEngine, StoredRecord, WriteOptions } from './engine';
import { currentVersion, decodeLease, decodeRecord, encodeLease, encodeRecord, expiryOf, isLive, toJson } from './envelope';

export interface ContextOptions {
  store: KeyValueStore;
  clock?: Clock;
}

const buses = new Map<unknown, InProcessBus>();
/** One queue per store, shared by every engine opened on it in this process. */
const queues = new WeakMap<KeyValueStore, Promise<unknown>>();
/**
 * Expiring records this process wrote, per store, oldest write first: each write removes the first
 * few that have expired, so a duplicate window leaves no litter. Those a previous run wrote go when a
 * scan meets them.
 */
const expiring = new WeakMap<KeyValueStore, Map<string, number>>();
const SWEEP = 8;

/**
 * A context key is a path to Node-RED ('a.b' is property b of a): each part of ours is escaped, dots
 * and brackets included, so any key is one flat entry. Escaping keeps prefixes, so scans still work.
 */
const escape = (key: string) => encodeURIComponent(key).replace(/\./g, '%2E');
const RECORD = 'r:';
const recordKey = (key: string) => `${RECORD}${escape(key)}`;
const leaseKey = (name: string) => `l:${escape(name)}`;
const fenceKey = (name: string) => `f:${escape(name)}`;
const TIMER = 't:';
const timerKey = (key: string) => `${TIMER}${escape(key)}`;
const SEQUENCE = 'sequence';

export class ContextStateEngine implements StateEngine {
  readonly backend = 'context';
  readonly guarantees: EngineGuarantees = { durable: 'flush-interval', instances: 'one' };
  private readonly clock: Clock;
  private readonly store: KeyValueStore;
  private readonly bus: InProcessBus;

  constructor(options: ContextOptions) {
    this.clock = options.clock ?? systemClock;
    this.store = options.store;
    this.bus = busFor(buses, options.store);
    if (!expiring.has(this.store)) expiring.set(this.store, new Map());
  }

  async get(key: string): Promise<StoredRecord | undefined> {
    const record = await this.read(key);
    return isLive(record, this.clock.now()) ? record : undefined;
  }

  async put(key: string, value: unknown, options: WriteOptions = {}): Promise<number | undefined> {
    const now = this.clock.now();
    const expiresAt = expiryOf(now, options.ttlMs);
    const json = toJson(value);
    return this.atomically(async () => {
      if (!(await this.allowed(key, options, now))) return undefined;
      const version = Number((await this.store.get(SEQUENCE)) ?? 0) + 1;
      await this.store.set(SEQUENCE, version);
      await this.sweep(now);
      await this.store.set(recordKey(key), encodeRecord(version, json, expiresAt));
      this.expiring.delete(key);
      if (expiresAt !== undefined) this.expiring.set(key, expiresAt);
      return version;
    });
  }

  async delete(key: string, options: Omit<WriteOptions, 'ttlMs'> = {}): Promise<boolean> {
    const now = this.clock.now();
    return this.atomically(async () => {
      if (!(await this.allowed(key, options, now)) || !isLive(await this.read(key), now)) return false;
      await this.store.set(recordKey(key), undefined);
      this.expiring.delete(key);
      return true;
    });
  }

  async claim(key: string, ttlMs: number, value: unknown = true): Promise<boolean> {
    return (await this.put(key, value, { ttlMs, ifVersion: 0 })) !== undefined;
  }

  async scan(prefix: string, limit: number, after?: string): Promise<StoredRecord[]> {
    const now = this.clock.now();
    const keys = (await this.store.keys())
      .filter((k) => k.startsWith(recordKey(prefix)))
      .map((k) => decodeURIComponent(k.slice(RECORD.length)))
      .filter((key) => after === undefined || key > after)
      .sort();
    const found: StoredRecord[] = [];
    const expired: StoredRecord[] = [];
    for (const key of keys) {
      if (found.length >= limit) break;
      const record = await this.read(key);
      if (isLive(record, now)) found.push(record);
      else if (record) expired.push(record);
    }
    if (expired.length > 0)
      await this.atomically(async () => {
        for (const { key, version } of expired)
          if ((await this.read(key))?.version === version) await this.store.set(recordKey(key), undefined);
      });
    return found;
  }

  async lease(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const now = this.clock.now();
    const expiresAt = expiryOf(now, ttlMs)!;
    return this.atomically(async () => {
      const current = decodeLease(name, await this.store.get(leaseKey(name)));
      const live = current !== undefined && current.expiresAt > now;
      if (live && current.holder !== holder) return undefined;
      const token = live ? current.token : Number((await this.store.get(fenceKey(name))) ?? 0) + 1;
      await this.store.set(fenceKey(name), token);
      await this.store.set(leaseKey(name), encodeLease(token, expiresAt, holder));
      return { name, holder, token, expiresAt };
    });
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    const expiresAt = expiryOf(this.clock.now(), ttlMs)!;
    return this.atomically(async () => {
      if (decodeLease(lease.name, await this.store.get(leaseKey(lease.name)))?.token !== lease.token) return undefined;
      await this.store.set(leaseKey(lease.name), encodeLease(lease.token, expiresAt, lease.holder));
      return { ...lease, expiresAt };
    });
  }

  async release(lease: Lease): Promise<boolean> {
    return this.atomically(async () => {
      if (decodeLease(lease.name, await this.store.get(leaseKey(lease.name)))?.token !== lease.token) return false;
      await this.store.set(leaseKey(lease.name), undefined);
      return true;
    });
  }

  async schedule(key: string, dueAt: number): Promise<void> {
    return this.atomically(() => this.store.set(timerKey(key), dueAt));
  }

  async unschedule(key: string): Promise<boolean> {
    return this.atomically(async () => {
      if ((await this.store.get(timerKey(key))) === undefined) return false;
      await this.store.set(timerKey(key), undefined);
      return true;
    });
  }

  async takeDue(now: number, limit: number): Promise<DueTimer[]> {
    return this.atomically(async () => {
      const due: DueTimer[] = [];
      for (const k of (await this.store.keys()).filter((k) => k.startsWith(TIMER))) {
        const dueAt = Number(await this.store.get(k));
        if (Number.isFinite(dueAt) && dueAt <= now) due.push({ key: decodeURIComponent(k.slice(TIMER.length)), dueAt });
      }
      const taken = due.sort((a, b) => a.dueAt - b.dueAt || (a.key < b.key ? -1 : 1)).slice(0, limit);
      for (const timer of taken) await this.store.set(timerKey(timer.key), undefined);
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
    await queues.get(this.store)?.catch(() => undefined);
  }

  private get expiring(): Map<string, number> {
    return expiring.get(this.store)!;
  }

  /** Removes the first few expired records of `expiring`, inside the current step. */
  private async sweep(now: number): Promise<void> {
    let looked = 0;
    for (const [key, expiresAt] of this.expiring) {
      if (looked++ >= SWEEP) break;
      if (expiresAt > now) continue;
      this.expiring.delete(key);
      if ((await this.read(key))?.expiresAt === expiresAt) await this.store.set(recordKey(key), undefined);
    }
  }

  private async read(key: string): Promise<StoredRecord | undefined> {
    const stored = await this.store.get(recordKey(key));
    return stored === undefined ? undefined : decodeRecord(key, stored);
  }

  private async allowed(key: string, options: Omit<WriteOptions, 'ttlMs'>, now: number): Promise<boolean> {
    if (options.ifVersion !== undefined && currentVersion(await this.read(key), now) !== options.ifVersion) return false;
    if (options.fence) {
      const lease = decodeLease(options.fence.name, await this.store.get(leaseKey(options.fence.name)));
      if (!lease || lease.token !== options.fence.token || lease.expiresAt <= now) return false;
    }
    return true;
  }

  /** Runs `step` after every step queued before it on this store: the only atomicity a context store allows. */
  private atomically<T>(step: () => Promise<T>): Promise<T> {
    const previous = queues.get(this.store) ?? Promise.resolve();
    const result = previous.catch(() => undefined).then(step);
    queues.set(this.store, result);
    return result;
  }
}
