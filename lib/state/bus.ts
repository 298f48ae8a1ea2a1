/**
 * Events between engines in one process (the embedded and context backends: a single instance has
 * no one else to tell). Engines opened on the same store share a bus, so two of them in one process
 * hear each other as two Redis clients would.
 */
export class InProcessBus {
  private readonly listeners = new Map<string, Set<(message: unknown) => void>>();

  publish(channel: string, message: unknown): void {
    // A copy, as a message that crossed the wire would be: a listener cannot change the sender's object.
    const text = JSON.stringify(message ?? null);
    for (const listener of [...(this.listeners.get(channel) ?? [])]) {
      try {
        listener(JSON.parse(text));
      } catch {
        // One listener's failure is not the publisher's, nor the other listeners'.
      }
    }
  }

  subscribe(channel: string, listener: (message: unknown) => void): () => Promise<void> {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    const wrapped = (message: unknown) => listener(message);
    set.add(wrapped);
    return async () => {
      set.delete(wrapped);
      if (set.size === 0 && this.listeners.get(channel) === set) this.listeners.delete(channel);
    };
  }
}

/** One bus per store (a directory, a context store object). */
export function busFor(registry: Map<unknown, InProcessBus>, store: unknown): InProcessBus {
  let bus = registry.get(store);
  if (!bus) registry.set(store, (bus = new InProcessBus()));
  return bus;
}
