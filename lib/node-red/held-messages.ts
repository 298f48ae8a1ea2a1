/**
 * Msgs a node holds while it waits for something (a message's outcome; later an answer, an
 * acknowledgement), kept in the node's context so that a wait outlives a redeploy and, in a
 * persistent store, a restart. One context key per wait: holding or ending one costs one write,
 * whatever else waits. While the msg that started a wait is in hand, its `done` is held (as the
 * core join node holds its group's); a wait restored after a restart has no `done` left, and sends
 * on its outputs as a fresh msg.
 */
import type { KeyValueStore } from './context';

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
}

export class HeldMessages<R, M> {
  private readonly waits = new Map<string, HeldWait<R, M>>();

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
    return this.waits.size >= this.capacity;
  }

  values(): IterableIterator<HeldWait<R, M>> {
    return this.waits.values();
  }

  get(id: string): HeldWait<R, M> | undefined {
    return this.waits.get(id);
  }

  /** Holds a wait and writes it to the store. */
  async hold(id: string, record: R, handle?: HeldHandle<M>, msg?: M): Promise<HeldWait<R, M>> {
    const wait = { id, record, handle, msg };
    this.waits.set(id, wait);
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
      const wait = { id, record };
      this.waits.set(id, wait);
      restored.push(wait);
    }
    return restored;
  }

  /** Forgets every wait in memory; the store keeps them, for the node's next start. */
  letGo(): Array<HeldWait<R, M>> {
    const all = [...this.waits.values()];
    this.waits.clear();
    return all;
  }
}
