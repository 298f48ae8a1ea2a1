/**
 * One contract, every backend (lib/state/): the embedded engine on lmdb, Redis (a redis-server of
 * its own on a free port; skipped, with the reason, where redis-server is not installed) and a
 * Node-RED context store. Each test opens TWO engines on one fresh store, as two callers or two
 * instances would, and moves a ManualClock rather than sleeping.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { Redis } from 'ioredis';
import { ManualClock } from '../../../lib/core/clock';
import type { KeyValueStore } from '../../../lib/node-red/context';
import type { StateEngine } from '../../../lib/state/engine';
import { openStateEngine } from '../../../lib/state/open';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../../support/redis';

/** A fresh store: engines opened on it see one another's writes; `damage` writes bytes by hand. */
interface Store {
  open(clock: ManualClock): StateEngine;
  damage(key: string, garbage: string): Promise<void>;
  /** Whether the backend still holds `key`'s record itself, expired or not (read by hand). */
  holds(key: string): Promise<boolean>;
  dispose(): Promise<void>;
}

interface Backend {
  name: string;
  skip?: string;
  start?(): Promise<void>;
  stop?(): Promise<void>;
  store(): Store;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-state-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
let stores = 0;

function memoryStore(): KeyValueStore {
  const map = new Map<string, unknown>();
  return {
    get: async (key) => map.get(key),
    set: async (key, value) => void (value === undefined ? map.delete(key) : map.set(key, value)),
    keys: async () => [...map.keys()],
  };
}

let redis: RedisServer | undefined;
const backends: Backend[] = [
  {
    name: 'embedded (lmdb)',
    store() {
      const dir = path.join(tmp, `embedded-${++stores}`);
      const opened: StateEngine[] = [];
      return {
        open: (clock) => {
          const engine = openStateEngine({ backend: 'embedded', dir }, clock);
          opened.push(engine);
          return engine;
        },
        // By hand: through the engines' own LMDB environment (a second one would read an older snapshot).
        damage: async (key, garbage) => void (await (opened[0] as any).records.put(key, Buffer.from(garbage, 'latin1'))),
        holds: async (key) => (opened[0] as any).records.get(key) !== undefined,
        dispose: async () => void (await Promise.all(opened.map((e) => e.close()))),
      };
    },
  },
  {
    name: 'redis',
    skip: noRedis,
    start: async () => void (redis = await startRedis()),
    stop: async () => redis?.stop(),
    store() {
      const prefix = `test${++stores}:`;
      const opened: StateEngine[] = [];
      return {
        open: (clock) => {
          const engine = openStateEngine({ backend: 'redis', url: redis!.url, prefix }, clock);
          opened.push(engine);
          return engine;
        },
        damage: async (key, garbage) => {
          const client = new Redis(redis!.url);
          await client.set(`${prefix}r:${key}`, Buffer.from(garbage, 'latin1'));
          await client.zadd(`${prefix}keys`, 0, key); // a record the engine stored, damaged since
          await client.quit();
        },
        holds: async (key) => {
          const client = new Redis(redis!.url);
          const held = (await client.exists(`${prefix}r:${key}`)) === 1 || (await client.zscore(`${prefix}keys`, key)) !== null;
          await client.quit();
          return held;
        },
        dispose: async () => void (await Promise.all(opened.map((e) => e.close()))),
      };
    },
  },
  {
    name: 'context (Node-RED context store)',
    store() {
      const store = memoryStore();
      return {
        open: (clock) => openStateEngine({ backend: 'context', store }, clock),
        damage: async (key, garbage) => store.set(`r:${encodeURIComponent(key)}`, garbage),
        holds: async (key) => (await store.get(`r:${encodeURIComponent(key)}`)) !== undefined,
        dispose: async () => undefined,
      };
    },
  },
];

for (const backend of backends) {
  suiteNeeding(backend.skip, `state engine contract: ${backend.name}`, () => {
    before(async () => backend.start?.());
    after(async () => backend.stop?.());

    /** Two engines on one fresh store, on one clock, closed after the test. */
    async function withPair(test: (a: StateEngine, b: StateEngine, clock: ManualClock, store: Store) => Promise<void>): Promise<void> {
      const store = backend.store();
      const clock = new ManualClock(Date.now());
      try {
        await test(store.open(clock), store.open(clock), clock, store);
      } finally {
        await store.dispose();
      }
    }

    it('stores JSON records with versions that only grow, never repeating after a delete', () =>
      withPair(async (a, b) => {
        assert.equal(await a.get('wait:1'), undefined);
        const v1 = await a.put('wait:1', { to: '+15551234567', n: 1 });
        const v2 = await b.put('wait:1', { to: '+15551234567', n: 2 });
        assert.ok(v1! > 0 && v2! > v1!, `${v1} then ${v2}`);
        assert.deepEqual(await a.get('wait:1'), { key: 'wait:1', value: { to: '+15551234567', n: 2 }, version: v2 });
        assert.equal(await a.put('undefined', undefined).then(async () => (await b.get('undefined'))?.value), null);
        assert.equal(await b.delete('wait:1', { ifVersion: v1 }), false, 'a stale version deletes nothing');
        assert.equal(await b.delete('wait:1'), true);
        assert.equal(await a.delete('wait:1'), false, 'already gone');
        assert.equal(await a.get('wait:1'), undefined);
        const v3 = await a.put('wait:1', 'again', { ifVersion: 0 });
        assert.ok(v3! > v2!, 'a key put again after a delete does not reuse an old version');
        assert.equal(await b.put('wait:1', 'stale writer', { ifVersion: v1 }), undefined);
        assert.equal(await b.put('wait:1', 'stale writer', { ifVersion: v2 }), undefined);
      }));

    it('compare-and-set: of 100 concurrent writers on one version exactly one wins, and 100 read-modify-writes all count', () =>
      withPair(async (a, b) => {
        const v = (await a.put('cursor', 0))!;
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).put('cursor', i, { ifVersion: v })));
        const winners = results.filter((r) => r !== undefined);
        assert.equal(winners.length, 1, `winners: ${winners}`);
        const winner = results.findIndex((r) => r !== undefined);
        assert.deepEqual(await b.get('cursor'), { key: 'cursor', value: winner, version: winners[0] });

        // Each increment reads, then writes only if no one wrote since: each version is won once.
        await a.put('counter', 0);
        const won: number[] = [];
        const increment = async (engine: StateEngine) => {
          for (;;) {
            const current = (await engine.get('counter'))!;
            const version = await engine.put('counter', (current.value as number) + 1, { ifVersion: current.version });
            if (version !== undefined) return void won.push(version);
          }
        };
        await Promise.all(Array.from({ length: 100 }, (_, i) => increment(i % 2 ? a : b)));
        assert.equal((await a.get('counter'))!.value, 100);
        assert.equal(new Set(won).size, 100, 'no version was won twice');
      }));

    it('claims: exactly one of 100 concurrent callers wins, until the claim expires on the clock', () =>
      withPair(async (a, b, clock) => {
        const claims = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).claim('dedupe:MM1', 60_000, { by: i })));
        assert.equal(claims.filter(Boolean).length, 1);
        await clock.advance(59_999);
        assert.equal(await a.claim('dedupe:MM1', 60_000), false, 'still inside the window');
        assert.ok(await b.get('dedupe:MM1'));
        await clock.advance(1);
        assert.equal(await b.get('dedupe:MM1'), undefined, 'expired on the clock');
        const again = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).claim('dedupe:MM1', 60_000)));
        assert.equal(again.filter(Boolean).length, 1, 'claimable again, by one');
      }));

    it('expiring keys: visible until their time on the clock, then gone from reads and scans', () =>
      withPair(async (a, b, clock) => {
        const v = (await a.put('poll:cursor', { after: 'SM1' }, { ttlMs: 30_000 }))!;
        await a.put('poll:other', 'kept');
        assert.deepEqual(await b.get('poll:cursor'), {
          key: 'poll:cursor',
          value: { after: 'SM1' },
          version: v,
          expiresAt: clock.now() + 30_000,
        });
        await clock.advance(30_000);
        assert.equal(await b.get('poll:cursor'), undefined);
        assert.deepEqual(
          (await b.scan('poll:', 10)).map((r) => r.key),
          ['poll:other'],
        );
        assert.equal(await b.delete('poll:cursor'), false, 'an expired record is absent');
        await assert.rejects(a.put('x', 1, { ttlMs: -5 }), RangeError);
        await assert.rejects(a.put('x', 1n), TypeError, 'a value JSON cannot hold is refused, not stored');
      }));

    it('expired records do not pile up: later writes remove them from the store itself', () =>
      withPair(async (a, b, clock, store) => {
        for (let i = 0; i < 5; i++) assert.ok(await (i % 2 ? a : b).claim(`dedupe:${i}`, 1_000));
        await a.put('kept', 'no expiry');
        await a.put('made-permanent', 'first', { ttlMs: 1_000 });
        await b.put('made-permanent', 'then kept');
        await clock.advance(1_000);
        assert.ok(await store.holds('dedupe:0'), 'expired, not yet swept');
        await b.put('a later write', 1);
        for (let i = 0; i < 5; i++) assert.equal(await store.holds(`dedupe:${i}`), false, `dedupe:${i} swept`);
        assert.ok(await store.holds('kept'));
        assert.equal((await a.get('made-permanent'))!.value, 'then kept');
      }));

    it('leases: one holder at a time; after a takeover the stale holder is fenced off every guarded write', () =>
      withPair(async (a, b, clock) => {
        const first = (await a.lease('poller:AC1', 'instance-a', 10_000))!;
        assert.ok(first.token > 0);
        assert.equal(await b.lease('poller:AC1', 'instance-b', 10_000), undefined, 'held by a');
        assert.deepEqual(
          await a.lease('poller:AC1', 'instance-a', 10_000),
          { ...first, expiresAt: clock.now() + 10_000 },
          'kept, same token',
        );
        assert.ok(await a.put('cursor', 'from a', { fence: first }));
        await clock.advance(5_000);
        const renewed = (await a.renew(first, 10_000))!;
        assert.equal(renewed.expiresAt, clock.now() + 10_000);
        await clock.advance(9_999);
        assert.equal(await b.lease('poller:AC1', 'instance-b', 10_000), undefined, 'renewed: still a’s');
        await clock.advance(1);
        // a pauses past its lease: b takes over with a larger token.
        const second = (await b.lease('poller:AC1', 'instance-b', 10_000))!;
        assert.ok(second.token > first.token, `${second.token} > ${first.token}`);
        assert.equal(await a.put('cursor', 'stale a', { fence: renewed }), undefined, 'a stale holder cannot write');
        assert.equal(await a.delete('cursor', { fence: renewed }), false);
        assert.equal(await a.renew(renewed, 10_000), undefined);
        assert.equal(await a.release(renewed), false);
        assert.ok(await b.put('cursor', 'from b', { fence: second }));
        assert.equal((await a.get('cursor'))!.value, 'from b');
        assert.equal(await b.release(second), true);
        assert.equal(await b.put('cursor', 'released', { fence: second }), undefined, 'a released lease guards nothing');
        const third = (await a.lease('poller:AC1', 'instance-a', 10_000))!;
        assert.ok(third.token > second.token, 'tokens never repeat');
      }));

    it('due timers: each is taken exactly once by concurrent takers, earliest first; later ones wait', () =>
      withPair(async (a, b, clock) => {
        const now = clock.now();
        for (let i = 0; i < 60; i++) await (i % 2 ? a : b).schedule(`ask:${i}`, now + i * 1_000);
        await a.schedule('ask:59', now + 100_000); // moved later
        assert.equal(await b.unschedule('ask:58'), true);
        assert.equal(await b.unschedule('ask:58'), false);
        const taken: string[] = [];
        const taker = async (engine: StateEngine) => {
          for (;;) {
            const due = await engine.takeDue(now + 49_000, 3);
            if (due.length === 0) return;
            for (let i = 1; i < due.length; i++) assert.ok(due[i - 1].dueAt <= due[i].dueAt);
            taken.push(...due.map((d) => d.key));
          }
        };
        await Promise.all(Array.from({ length: 10 }, (_, i) => taker(i % 2 ? a : b)));
        assert.equal(taken.length, 50);
        assert.deepEqual(new Set(taken), new Set(Array.from({ length: 50 }, (_, i) => `ask:${i}`)));
        assert.deepEqual(
          await a.takeDue(now + 99_999, 100),
          [50, 51, 52, 53, 54, 55, 56, 57].map((i) => ({ key: `ask:${i}`, dueAt: now + i * 1_000 })),
        );
        assert.deepEqual(await b.takeDue(now + 100_000, 100), [{ key: 'ask:59', dueAt: now + 100_000 }]);
        assert.deepEqual(await a.takeDue(now + 1e9, 100), []);
      }));

    it('scans by prefix: in key order, bounded, paged with `after`', () =>
      withPair(async (a, b) => {
        for (const id of ['c', 'a', 'e', 'b', 'd']) await a.put(`node:n1:${id}`, id);
        await a.put('node:n10:a', 'other node');
        await a.put('node:n0', 'before');
        const page1 = await b.scan('node:n1:', 3);
        assert.deepEqual(
          page1.map((r) => r.value),
          ['a', 'b', 'c'],
        );
        const page2 = await b.scan('node:n1:', 3, page1[2].key);
        assert.deepEqual(
          page2.map((r) => r.key),
          ['node:n1:d', 'node:n1:e'],
        );
        assert.ok(page2.every((r) => r.version > 0));
        assert.deepEqual(await b.scan('nothing:', 10), []);
      }));

    it('events: a message published by one engine is heard by every subscriber on the store, until it unsubscribes', () =>
      withPair(async (a, b) => {
        const heard: unknown[] = [];
        const stop = await a.subscribe('board', (m) => heard.push(m));
        const other: unknown[] = [];
        await a.subscribe('elsewhere', (m) => other.push(m));
        await b.publish('board', { answered: 'Q1' });
        await b.publish('board', 'second');
        await until(() => heard.length === 2);
        assert.deepEqual(heard, [{ answered: 'Q1' }, 'second']);
        await stop();
        await b.publish('board', 'unheard');
        await b.publish('elsewhere', 'marker');
        await until(() => other.length === 1);
        assert.deepEqual(heard, [{ answered: 'Q1' }, 'second']);
      }));

    it('returns a damaged value as it finds it (version 0), never throws, and lets a compare-and-set on 0 replace it', () =>
      withPair(async (a, b, _clock, store) => {
        await a.put('wait:ok', { fine: true });
        await store.damage('wait:bad', '\xff\xfe{not json');
        await store.damage('wait:half', '7 \n{"cut":');
        const bad = await b.get('wait:bad');
        assert.equal(bad!.version, 0);
        assert.equal(typeof bad!.value, 'string');
        assert.deepEqual(await b.get('wait:half'), { key: 'wait:half', value: '{"cut":', version: 7 });
        const scanned = await b.scan('wait:', 10);
        assert.deepEqual(scanned.map((r) => r.key).sort(), ['wait:bad', 'wait:half', 'wait:ok']);
        assert.ok(await a.put('wait:bad', 'replaced', { ifVersion: 0 }));
        assert.equal((await b.get('wait:bad'))!.value, 'replaced');
      }));
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), 'in time');
}
