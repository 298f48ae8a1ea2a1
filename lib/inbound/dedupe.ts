/**
 * A bounded window of recently seen delivery tokens (Twilio's I-Twilio-Idempotency-Token), kept in a
 * Node-RED context store so it outlives a redeploy and, in a shared store, serves several instances.
 *
 * Each token is a key of its own (a shared store never rewrites the whole window) and a ring of slots
 * remembers the order they came in: the oldest is dropped once the ring is full. A check costs a fixed
 * handful of context calls, whatever the window holds.
 */
import crypto from 'node:crypto';
import { Clock, systemClock } from '../core/clock';
import type { KeyValueStore } from '../node-red/context';

/** How many tokens rememberAll writes together: a listing's page. */
const REMEMBER_BATCH = 1_000;

export interface DuplicateWindowOptions {
  /** How long a token is remembered. */
  windowMs: number;
  /** How many tokens are remembered at most; the oldest goes first. */
  capacity: number;
  /** Prefix of every context key this window writes. */
  prefix?: string;
  /** What "within the window" is measured by. */
  clock?: Clock;
}

export class DuplicateWindow {
  private readonly prefix: string;
  private readonly clock: Clock;
  /** Tokens being checked right now: the same token twice at once is a duplicate before the store answers. */
  private readonly checking = new Set<string>();
  private head?: Promise<number>;
  private nextSlot = 0;

  constructor(
    private readonly store: KeyValueStore,
    private readonly options: DuplicateWindowOptions,
  ) {
    this.prefix = options.prefix ?? 'dedupe';
    this.clock = options.clock ?? systemClock;
  }

  /**
   * True when `token` was seen within the window; otherwise remembers it. Tokens are hashed into
   * key names: a stranger's token never becomes a context path (no dots, no `__proto__`).
   */
  async seen(token: string): Promise<boolean> {
    const key = this.keyOf(token);
    if (this.checking.has(key)) return true;
    this.checking.add(key);
    try {
      if (await this.holds(key)) return true;
      await this.write([key]);
      return false;
    } finally {
      this.checking.delete(key);
    }
  }

  /** Whether `token` is in the window, without remembering it (a poll emits first, then remembers). */
  has(token: string): Promise<boolean> {
    return this.holds(this.keyOf(token));
  }

  /** Remembers `token` (again: its window starts over). */
  remember(token: string): Promise<void> {
    return this.write([this.keyOf(token)]);
  }

  /**
   * Remembers many tokens at once (a poller's first look at a busy number): their writes go together,
   * so the embedded store commits them in one transaction, not one durable commit (two fsyncs) each.
   */
  async rememberAll(tokens: Iterable<string>): Promise<void> {
    const keys = [...new Set(Array.from(tokens, (token) => this.keyOf(token)))];
    // Within one batch each key has a slot of its own: never more than the ring holds.
    const batch = Math.min(this.options.capacity, REMEMBER_BATCH);
    for (let i = 0; i < keys.length; i += batch) await this.write(keys.slice(i, i + batch));
  }

  /** A token's key of this window: a slot holding anything else (a damaged record) names nothing to delete. */
  private isToken(key: unknown): key is string {
    return typeof key === 'string' && key.startsWith(`${this.prefix}-t-`);
  }

  private keyOf(token: string): string {
    return `${this.prefix}-t-${crypto.createHash('sha256').update(token).digest('base64url').slice(0, 22)}`;
  }

  private async holds(key: string): Promise<boolean> {
    const expiry = await this.store.get(key);
    return typeof expiry === 'number' && expiry > this.clock.now();
  }

  /** Each key into the next slot of the ring; what a slot held before is forgotten (unless it is written again here). */
  private async write(keys: string[]): Promise<void> {
    const slots: number[] = [];
    for (let i = 0; i < keys.length; i++) slots.push(await this.claimSlot());
    const slotKeys = slots.map((slot) => `${this.prefix}-s-${slot}`);
    const written = new Set(keys);
    const evicted = await Promise.all(slotKeys.map((slotKey) => this.store.get(slotKey)));
    await Promise.all(
      evicted.filter((key): key is string => this.isToken(key) && !written.has(key)).map((key) => this.store.set(key, undefined)),
    );
    const expiry = this.clock.now() + this.options.windowMs;
    await Promise.all([
      ...keys.flatMap((key, i) => [this.store.set(slotKeys[i], key), this.store.set(key, expiry)]),
      this.store.set(`${this.prefix}-head`, (slots[slots.length - 1] + 1) % this.options.capacity),
    ]);
  }

  /** The next slot of the ring; where the ring stood is read from the store once, then kept here. */
  private async claimSlot(): Promise<number> {
    this.head ??= this.store.get(`${this.prefix}-head`).then((stored) => {
      const at = typeof stored === 'number' && Number.isInteger(stored) && stored >= 0 ? stored % this.options.capacity : 0;
      this.nextSlot = at;
      return at;
    });
    await this.head;
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % this.options.capacity;
    return slot;
  }
}
