/**
 * Msgs a node holds while it waits for something (a message's outcome; later an answer, an
 * acknowledgement), kept in the node's context so that a wait outlives a redeploy and, in a
 * persistent store, a restart. One context key per wait: holding or ending one costs one write,
 * whatever else waits. While the msg that started a wait is in hand, its `done` is held (as the
 * core join node holds its group's); a wait restored after a restart has no `done` left, and sends
 * on its outputs as a fresh msg.
 */
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { KeyValueStore } from './context';

/** What all the waits of one node may hold in stored msgs together: a flow of big msgs is refused, not a crash. */
export const MAX_HELD_BYTES = 64 * 2 ** 20;

/**
 * A msg as a context store can keep it, and its size: a JSON copy without req and res (an http in
 * node's, which cannot be stored). Made before anything is sent, so a msg that cannot wait (a
 * circular one) is refused while it is still safe to send again.
 */
export function storableCopy(msg: object): { copy: Record<string, unknown>; bytes: number } {
  const { req: _req, res: _res, ...rest } = msg as Record<string, unknown>;
  let json: string;
  try {
    json = JSON.stringify(rest);
  } catch (err) {
    throw new TwilioNodeError('INVALID_INPUT', text('cannotWait', { reason: (err as Error).message }));
  }
  return { copy: JSON.parse(json) as Record<string, unknown>, bytes: json.length };
}

/** How a held msg ends: the node's intake gives it (send at most once, done exactly once). */
export interface HeldHandle<M> {
  send(msg: M): void;
  done(error?: Error): void;
}

export interface HeldWait<R, M> {
  id: string;
  /** What is stored: enough to resume the wait after a restart (JSON-safe). */
  record: R;
  /** The msg itself and its own send and done, while the node that took it still runs; absent for a restored wait. */
  msg?: M;
  handle?: HeldHandle<M>;
  /** The stored record's size, counted against MAX_HELD_BYTES. */
  bytes: number;
}

export class HeldMessages<R, M> {
  private readonly waits = new Map<string, HeldWait<R, M>>();
  private heldBytes = 0;
  /** Waits admitted whose msgs are still being sent: counted in advance, so a burst cannot all pass the check. */
  private reserved = 0;

  constructor(
    private readonly store: KeyValueStore,
    private readonly prefix: string,
    /** Waits held at most: past it a new wait is refused (the oldest are someone's too). */
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.waits.size;
  }

  get full(): boolean {
    return this.waits.size + this.reserved >= this.capacity;
  }

  /** Sets room aside for a wait of this size (in number and bytes), or says there is none. */
  reserve(bytes: number): boolean {
    if (this.full || this.heldBytes + bytes > MAX_HELD_BYTES) return false;
    this.reserved++;
    this.heldBytes += bytes;
    return true;
  }

  /** Gives back room set aside for a wait that will not be held (nothing was sent, or the msg ended). */
  unreserve(bytes: number): void {
    this.reserved--;
    this.heldBytes -= bytes;
  }

  values(): IterableIterator<HeldWait<R, M>> {
    return this.waits.values();
  }

  get(id: string): HeldWait<R, M> | undefined {
    return this.waits.get(id);
  }

  /** Holds a wait whose room was reserved, and writes it to the store. */
  async hold(id: string, record: R, bytes: number, handle?: HeldHandle<M>, msg?: M): Promise<HeldWait<R, M>> {
    const wait = { id, record, handle, msg, bytes };
    this.waits.set(id, wait);
    this.reserved--;
    await this.store.set(this.prefix + id, record);
    return wait;
  }

  /** Writes a wait's record again (after it changed). */
  async update(id: string): Promise<void> {
    const wait = this.waits.get(id);
    if (wait) await this.store.set(this.prefix + id, wait.record);
  }

  /** Ends a wait: gone from memory and store. Returns it, or undefined when it had ended already. */
  release(id: string): HeldWait<R, M> | undefined {
    const wait = this.waits.get(id);
    if (!wait) return undefined;
    this.waits.delete(id);
    this.heldBytes -= wait.bytes;
    void this.store.set(this.prefix + id, undefined).catch(() => undefined);
    return wait;
  }

  /** The waits a previous run of the node left in the store (without their `done`). */
  async restore(isRecord: (value: unknown) => value is R): Promise<Array<HeldWait<R, M>>> {
    const restored: Array<HeldWait<R, M>> = [];
    for (const key of await this.store.keys()) {
      if (!key.startsWith(this.prefix)) continue;
      const id = key.slice(this.prefix.length);
      if (this.waits.has(id)) continue;
      const record = await this.store.get(key);
      if (!isRecord(record)) {
        await this.store.set(key, undefined); // not ours, or from a version that stored less: dropped
        continue;
      }
      const wait = { id, record, bytes: JSON.stringify(record).length };
      this.waits.set(id, wait);
      this.heldBytes += wait.bytes;
      restored.push(wait);
    }
    return restored;
  }

  /** Forgets every wait in memory; the store keeps them, for the node's next start. */
  letGo(): Array<HeldWait<R, M>> {
    const all = [...this.waits.values()];
    this.waits.clear();
    this.heldBytes -= all.reduce((sum, wait) => sum + wait.bytes, 0);
    return all;
  }
}
