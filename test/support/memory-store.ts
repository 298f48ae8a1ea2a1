/**
 * A KeyValueStore in memory, as a Node-RED memory context store is seen by lib (a value is kept as a
 * copy, as a store that serialises would), with its map for a test to read or damage.
 */
import type { KeyValueStore } from '../../lib/node-red/context';

export function memoryStore(data = new Map<string, unknown>()): KeyValueStore & { data: Map<string, unknown> } {
  return {
    data,
    get: async (key) => data.get(key),
    set: async (key, value) => void (value === undefined ? data.delete(key) : data.set(key, structuredClone(value))),
    keys: async () => [...data.keys()],
  };
}
