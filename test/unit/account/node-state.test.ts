/**
 * A node's state store (lib/account/node-state.ts): a prefix of its account's engine seen as a
 * key-value store, over each backend; the move of what a previous release kept in a context store,
 * once, never losing a key (a crash between the write and the delete leaves it in both, never in
 * neither); and the closed state of an account whose engine could not open, which refuses writes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MOVED_PREFIX, engineStore, moveContextState, nodeState } from '../../../lib/account/node-state';
import type { KeyValueStore } from '../../../lib/node-red/context';
import type { StateEngine } from '../../../lib/state/engine';
import { openStateEngine } from '../../../lib/state/open';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../../support/redis';

/** A plain in-memory KeyValueStore (as a Node-RED context store is seen), with hooks to fail a step. */
function memoryStore(failOn?: (op: 'get' | 'set' | 'delete', key: string) => boolean): KeyValueStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    get: async (key) => {
      if (failOn?.('get', key)) throw new Error(`get ${key} failed`);
      return data.get(key);
    },
    set: async (key, value) => {
      if (failOn?.(value === undefined ? 'delete' : 'set', key)) throw new Error(`${value === undefined ? 'delete' : 'set'} ${key} failed`);
      if (value === undefined) data.delete(key);
      else data.set(key, structuredClone(value));
    },
    keys: async () => [...data.keys()],
  };
}

/** What every backend's engine store must do. */
function engineStoreContract(open: () => Promise<StateEngine> | StateEngine) {
  let engine: StateEngine;
  before(async () => (engine = await open()));
  after(() => engine.close());

  it('gets, sets, deletes (set to undefined) and lists keys under its prefix only', async () => {
    const a = engineStore(engine, 'node/a/');
    const b = engineStore(engine, 'node/b/');
    await a.set('wait-1', { msg: { payload: 1 } });
    await a.set('wait-2', [1, 2]);
    await b.set('wait-1', 'other node');
    assert.deepEqual(await a.get('wait-1'), { msg: { payload: 1 } });
    assert.deepEqual((await a.keys()).sort(), ['wait-1', 'wait-2']);
    assert.deepEqual(await b.keys(), ['wait-1']);
    await a.set('wait-1', undefined);
    assert.equal(await a.get('wait-1'), undefined);
    assert.deepEqual(await a.keys(), ['wait-2']);
    assert.equal(await b.get('wait-1'), 'other node', "another node's key is untouched");
    await a.set('wait-1', undefined); // deleting what is gone is no error
    await a.set('wait-2', undefined);
    await b.set('wait-1', undefined);
  });

  it('lists more keys than one scan page holds (500), each once', async () => {
    const store = engineStore(engine, 'node/many/');
    const names = Array.from({ length: 1_203 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    for (const name of names) await store.set(name, i(name));
    const keys = await store.keys();
    assert.equal(keys.length, names.length);
    assert.deepEqual([...keys].sort(), names);
    for (const name of names) await store.set(name, undefined);
    assert.deepEqual(await store.keys(), []);
  });
}
const i = (name: string) => Number(name.slice(1));

describe('engineStore over each backend', () => {
  describe('embedded', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-node-state-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    engineStoreContract(() => openStateEngine({ backend: 'embedded', dir }));
  });
  describe('context', () => {
    engineStoreContract(() => openStateEngine({ backend: 'context', store: memoryStore() }));
  });
  suiteNeeding(noRedis, 'redis', () => {
    let server: RedisServer;
    before(async () => (server = await startRedis()));
    after(() => server.stop());
    engineStoreContract(() => openStateEngine({ backend: 'redis', url: server.url, prefix: 'node-state-test:' }));
  });
});

describe('moveContextState', () => {
  it('moves every key once: the context is empty after, a second run moves nothing', async () => {
    const from = memoryStore();
    const to = memoryStore();
    await from.set('twilio-send-a', { msg: { payload: 'a' } });
    await from.set('twilio-send-b', { msg: { payload: 'b' } });
    assert.equal(await moveContextState(from, to), 2);
    assert.deepEqual([...from.data.keys()], []);
    const moved = () => Object.fromEntries([...to.data].filter(([k]) => !k.startsWith(MOVED_PREFIX)));
    assert.deepEqual(moved(), {
      'twilio-send-a': { msg: { payload: 'a' } },
      'twilio-send-b': { msg: { payload: 'b' } },
    });
    assert.equal(await moveContextState(from, to), 0);
    assert.equal(Object.keys(moved()).length, 2);
  });

  it('a key the context still holds after its record was moved and ended (a delete not yet on disk) is not moved again', async () => {
    const from = memoryStore();
    const to = memoryStore();
    await from.set('twilio-send-wait-x', { msg: { payload: 'x' } });
    assert.equal(await moveContextState(from, to), 1);
    await to.set('twilio-send-wait-x', undefined); // the wait resumed and ended
    await from.set('twilio-send-wait-x', { msg: { payload: 'x' } }); // the power went before the file store wrote its delete
    assert.equal(await moveContextState(from, to), 0);
    assert.equal(to.data.has('twilio-send-wait-x'), false, 'not resumed a second time');
    assert.equal(from.data.has('twilio-send-wait-x'), false, 'deleted from the context');
  });

  it('a crash between the write and the delete leaves the key in both; the next run finishes without overwriting', async () => {
    let crash = true;
    const from = memoryStore((op) => op === 'delete' && crash);
    const to = memoryStore();
    await from.set('w', { v: 'old' });
    await assert.rejects(moveContextState(from, to), /delete w failed/);
    assert.deepEqual(from.data.get('w'), { v: 'old' }, 'still in the context');
    assert.deepEqual(to.data.get('w'), { v: 'old' }, 'and in the engine');
    // The engine's copy moved on meanwhile (the wait was saved again): the next run keeps it.
    to.data.set('w', { v: 'newer' });
    crash = false;
    assert.equal(await moveContextState(from, to), 0, 'moved before: deleted from the context only');
    assert.equal(from.data.has('w'), false);
    assert.deepEqual(to.data.get('w'), { v: 'newer' });
  });

  it('a write the engine refuses leaves the key where it was: never in neither', async () => {
    const from = memoryStore();
    const to = memoryStore((op) => op === 'set');
    await from.set('w', { v: 1 });
    await assert.rejects(moveContextState(from, to), /set w failed/);
    assert.deepEqual(from.data.get('w'), { v: 1 });
    assert.equal(to.data.has('w'), false);
  });
});

describe('nodeState', () => {
  const RED = {} as never;
  it("keeps a node's keys under node/<id>/ in its account's engine, and forgets them when it is removed", async () => {
    const engine = openStateEngine({ backend: 'context', store: memoryStore() });
    try {
      const node = { id: 'n1', context: () => assert.fail('no context is read without stateMovedFrom') } as never;
      const state = nodeState(RED, node, { state: engine }, {});
      await state.store.set('twilio-send-x', { msg: {} });
      assert.deepEqual((await engine.get('node/n1/twilio-send-x'))?.value, { msg: {} });
      assert.equal(state.durable, 'flush-interval', "the context backend's promise");
      await state.forget();
      assert.deepEqual(await engine.scan('node/n1/', 10), []);
    } finally {
      await engine.close();
    }
  });

  it("forgets a removed node's 1,200 keys a page of deletes at a time (one commit a page), not one key after another", async () => {
    const engine = openStateEngine({ backend: 'context', store: memoryStore() });
    let pending = 0;
    let most = 0;
    const counted = new Proxy(engine, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        if (name !== 'delete') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<StateEngine['delete']>) => {
          most = Math.max(most, ++pending);
          try {
            return await target.delete(...args);
          } finally {
            pending--;
          }
        };
      },
    });
    try {
      const state = nodeState(RED, { id: 'n4' } as never, { state: counted }, {});
      await Promise.all(Array.from({ length: 1_200 }, (_, i) => state.store.set(`polled-t-${i}`, i)));
      await state.forget();
      assert.deepEqual(await engine.scan('node/n4/', 10), []);
      assert.equal(most, 500, 'a scan page of deletes in flight at once');
    } finally {
      await engine.close();
    }
  });

  it('moves what the context store (stateMovedFrom) held before anything is read', async () => {
    const engine = openStateEngine({ backend: 'context', store: memoryStore() });
    const file = new Map<string, unknown>([['twilio-send-old', { msg: { payload: 'kept' } }]]);
    const context = {
      get: (key: string, store: string, cb: (err: undefined, v: unknown) => void) => {
        assert.equal(store, 'file');
        cb(undefined, file.get(key));
      },
      set: (key: string, value: unknown, store: string, cb: (err: undefined) => void) => {
        assert.equal(store, 'file');
        if (value === undefined) file.delete(key);
        else file.set(key, value);
        cb(undefined);
      },
      keys: (store: string, cb: (err: undefined, keys: string[]) => void) => {
        assert.equal(store, 'file');
        cb(undefined, [...file.keys()]);
      },
    };
    try {
      const node = { id: 'n2', context: () => context, warn: (m: string) => assert.fail(m) } as never;
      const state = nodeState(RED, node, { state: engine }, { stateIn: '', stateMovedFrom: 'file' });
      assert.deepEqual((await state.store.keys()).sort(), [`${MOVED_PREFIX}twilio-send-old`, 'twilio-send-old']);
      assert.deepEqual(await state.store.get('twilio-send-old'), { msg: { payload: 'kept' } });
      assert.equal(file.size, 0, 'gone from the file context store');
    } finally {
      await engine.close();
    }
  });

  it('refuses every write as STATE_UNAVAILABLE when the account has no engine (it could not open), and reads nothing', async () => {
    const node = { id: 'n3', context: () => assert.fail('not read') } as never;
    const state = nodeState(RED, node, { state: undefined }, {});
    await assert.rejects(state.store.set('k', { v: 1 }), (err: { code?: string }) => err.code === 'STATE_UNAVAILABLE');
    await assert.rejects(state.store.set('k', undefined), (err: { code?: string }) => err.code === 'STATE_UNAVAILABLE');
    assert.equal(await state.store.get('k'), undefined);
    assert.deepEqual(await state.store.keys(), []);
    await state.forget();
    await state.moved;
  });

  it('does a delete again once the engine is back when it could not be done while the engine was down', async () => {
    const engine = openStateEngine({ backend: 'context', store: memoryStore() });
    let down = false;
    const listeners = new Set<(health: { up: boolean }) => void>();
    const unavailable = () => Object.assign(new Error('Redis unreachable'), { code: 'STATE_UNAVAILABLE' });
    const flaky = new Proxy(engine, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (down ? Promise.reject(unavailable()) : value.apply(target, args));
      },
    });
    const account = {
      state: flaky,
      onStateHealth: (listener: (health: { up: boolean }) => void) => {
        listeners.add(listener);
        if (down) listener({ up: false });
        return () => listeners.delete(listener);
      },
    };
    const health = (up: boolean) => {
      down = !up;
      for (const listener of [...listeners]) listener({ up });
    };
    try {
      const node = { id: 'n4', context: () => assert.fail('not read') } as never;
      const state = nodeState(RED, node, account, {});
      await state.store.set('ended-while-down', { msg: {} });
      await state.store.set('kept', { msg: {} });
      health(false);
      await assert.rejects(state.store.set('ended-while-down', undefined), (err: { code?: string }) => err.code === 'STATE_UNAVAILABLE');
      await assert.rejects(state.store.set('new', { msg: {} }), (err: { code?: string }) => err.code === 'STATE_UNAVAILABLE');
      assert.equal(listeners.size, 1, 'listening while a delete is owed');
      health(true);
      for (let i = 0; i < 20 && (await engine.get('node/n4/ended-while-down')) !== undefined; i++)
        await new Promise((r) => setTimeout(r, 5));
      assert.equal(await engine.get('node/n4/ended-while-down'), undefined, 'deleted once the engine was back');
      assert.deepEqual((await engine.get('node/n4/kept'))?.value, { msg: {} }, 'the others stay');
      assert.equal(await engine.get('node/n4/new'), undefined, 'a refused write is not done later');
      assert.equal(listeners.size, 0, 'no listener left once nothing is owed');
    } finally {
      await engine.close();
    }
  });
});
