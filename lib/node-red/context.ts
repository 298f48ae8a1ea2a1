/**
 * State a node keeps across redeploys (duplicate windows; later open questions and pages), in
 * Node-RED's context API as promises: the callback forms work with every store, in memory or shared.
 */
import type { Node, NodeAPI, NodeContextData } from 'node-red';

/** A context store as promises. */
export interface KeyValueStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  /** Every key held (read once, when a node starts, to find the waits it left). */
  keys(): Promise<string[]>;
}

/** One context (a node's, a flow's) in the store the user chose (`undefined`: the default store). */
export function contextStore(context: NodeContextData, store: string | undefined): KeyValueStore {
  return {
    get: (key) =>
      new Promise<unknown>((resolve, reject) => {
        const callback = (err: Error | undefined, value: unknown) => (err ? reject(err) : resolve(value));
        if (store) context.get(key, store, callback);
        else context.get(key, callback);
      }),
    set: (key, value) =>
      new Promise<void>((resolve, reject) => {
        const callback = (err: Error | undefined) => (err ? reject(err) : resolve());
        if (store) context.set(key, value, store, callback);
        else context.set(key, value, callback);
      }),
    keys: () =>
      new Promise<string[]>((resolve, reject) => {
        const callback = (err: Error | undefined, keys: unknown[]) => (err ? reject(err) : resolve((keys ?? []).map(String)));
        if (store) context.keys(store, callback);
        else context.keys(callback);
      }),
  };
}

/** Node state of the runtime's built-in memory, by node id: see nodeStateStore. */
const unconfiguredState = new Map<string, Map<string, unknown>>();

/**
 * The node's own context in the store the user chose. Without any `contextStorage` in settings.js,
 * Node-RED deletes a node's context whenever the node stops, a redeploy included; then the state is
 * kept here in memory by node id instead, so it outlives a redeploy as the user expects, and goes
 * when the node is removed (`forgetNodeState`). Across a restart of Node-RED only a persistent store
 * (localfilesystem, or a shared one) keeps it, as for any context.
 */
export function nodeStateStore(RED: NodeAPI, node: Node, store: string | undefined): KeyValueStore {
  const contextStorage = (RED.settings as unknown as { contextStorage?: Record<string, unknown> }).contextStorage;
  if (contextStorage && Object.keys(contextStorage).length > 0) return contextStore(node.context(), store);
  let state = unconfiguredState.get(node.id);
  if (!state) unconfiguredState.set(node.id, (state = new Map()));
  const memory = state;
  return {
    get: (key) => Promise.resolve(memory.get(key)),
    set: (key, value) => {
      if (value === undefined) memory.delete(key);
      else memory.set(key, value);
      return Promise.resolve();
    },
    keys: () => Promise.resolve([...memory.keys()]),
  };
}

/** Drops what nodeStateStore kept in memory for a node that was removed from the flows. */
export function forgetNodeState(node: Node): void {
  unconfiguredState.delete(node.id);
}
