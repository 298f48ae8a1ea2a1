/**
 * Attacks on the bound of MMS media an account holds (lib/outbound/media.ts: 64 MiB, 1000 items), as
 * a disk that fills would show it: a burst of photos (a camera that fires on every motion) commits its
 * media at once, and a crash leaves media no one deletes.
 *
 * 1. Each commit checked the room, then wrote: a burst of commits each saw the room the others were
 *    about to take, and all were kept (40 photos of 5 MB: 200 MB where 64 MiB is the bound).
 * 3. The same across two instances on one Redis: each process took its turn, but each saw the room
 *    the other was about to take (70 MB held).
 * 2. Media a crash left (never fetched, never deleted) stops counting once its 15 minutes are over.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';
import { ManualClock } from '../../lib/core/clock';
import { TwilioNodeError } from '../../lib/core/errors';
import { MAX_MMS_BYTES, MEDIA_HELD_MAX_BYTES, MEDIA_HELD_MAX_ITEMS, MEDIA_TTL_MS, MediaShelf } from '../../lib/outbound/media';
import { openStateEngine } from '../../lib/state/open';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const ACCOUNT = 'AC' + '3'.repeat(32);

async function outcome(commit: Promise<void>): Promise<string> {
  try {
    await commit;
    return 'kept';
  } catch (err) {
    return (err as TwilioNodeError).code ?? String(err);
  }
}

describe('the media bound under a burst and after a crash (embedded store)', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-24-media-cap-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('keeps at most 64 MiB when 40 photos of 5 MB commit at once', async () => {
    const engine = openStateEngine({ backend: 'embedded', dir: path.join(tmp, 'burst') });
    try {
      const shelf = new MediaShelf(engine, ACCOUNT);
      const big = { bytes: Buffer.concat([PNG, Buffer.alloc(MAX_MMS_BYTES - PNG.length)]), type: 'image/png' };
      const results = await Promise.all(Array.from({ length: 40 }, () => outcome(shelf.hold([big], 'https://example.test').commit())));
      const kept = results.filter((r) => r === 'kept').length;
      const held = await engine.scan(`media/size/${ACCOUNT}/`, 1000);
      const bytes = held.reduce((sum, record) => sum + Number(record.value), 0);
      assert.ok(bytes <= MEDIA_HELD_MAX_BYTES, `held ${bytes} bytes (${kept} photos kept) where ${MEDIA_HELD_MAX_BYTES} is the bound`);
      assert.equal(kept, Math.floor(MEDIA_HELD_MAX_BYTES / MAX_MMS_BYTES));
      assert.deepEqual(new Set(results), new Set(['kept', 'MEDIA_STORE_FULL']));
    } finally {
      await engine.close();
    }
  });

  it('keeps at most 1000 items when a burst of small photos commits at once', async () => {
    const engine = openStateEngine({ backend: 'embedded', dir: path.join(tmp, 'items') });
    try {
      const shelf = new MediaShelf(engine, ACCOUNT);
      const small = { bytes: Buffer.concat([PNG, Buffer.alloc(100)]), type: 'image/png' };
      for (let i = 0; i < MEDIA_HELD_MAX_ITEMS - 10; i++) await shelf.hold([small], 'https://example.test').commit();
      const results = await Promise.all(Array.from({ length: 30 }, () => outcome(shelf.hold([small], 'https://example.test').commit())));
      const held = await engine.scan(`media/size/${ACCOUNT}/`, 2000);
      assert.ok(held.length <= MEDIA_HELD_MAX_ITEMS, `held ${held.length} items`);
      assert.equal(results.filter((r) => r === 'kept').length, 10);
    } finally {
      await engine.close();
    }
  });

  it('stops counting media a crash left once its 15 minutes are over', async () => {
    const clock = new ManualClock();
    const engine = openStateEngine({ backend: 'embedded', dir: path.join(tmp, 'crash') }, clock);
    try {
      const small = { bytes: Buffer.concat([PNG, Buffer.alloc(100)]), type: 'image/png' };
      // The process that held them died: nothing of it will delete them.
      const crashed = new MediaShelf(engine, ACCOUNT);
      for (let i = 0; i < MEDIA_HELD_MAX_ITEMS; i++) await crashed.hold([small], 'https://example.test').commit();
      const restarted = new MediaShelf(engine, ACCOUNT);
      assert.equal(await outcome(restarted.hold([small], 'https://example.test').commit()), 'MEDIA_STORE_FULL');
      await clock.advance(MEDIA_TTL_MS + 1);
      assert.equal(await outcome(restarted.hold([small], 'https://example.test').commit()), 'kept');
    } finally {
      await engine.close();
    }
  });
});

suiteNeeding(noRedis, 'the media bound across two instances on one Redis', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('keeps at most 64 MiB when two instances each commit a burst of 5 MB photos at once', async () => {
    const engines = [0, 1].map(() => openStateEngine({ backend: 'redis', url: redis.url, prefix: 'cap:' }));
    try {
      const shelves = engines.map((engine) => new MediaShelf(engine, ACCOUNT));
      const big = { bytes: Buffer.concat([PNG, Buffer.alloc(MAX_MMS_BYTES - PNG.length)]), type: 'image/png' };
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => outcome(shelves[i % 2].hold([big], 'https://example.test').commit())),
      );
      const kept = results.filter((r) => r === 'kept').length;
      console.log(`# two instances, 20 photos of 5 MB at once: ${kept} kept`);
      assert.ok(kept >= 10, `only ${kept} kept: the bound is 13`);
      const held = await engines[0].scan(`media/size/${ACCOUNT}/`, 1000);
      const bytes = held.reduce((sum, record) => sum + Number(record.value), 0);
      assert.ok(bytes <= MEDIA_HELD_MAX_BYTES, `held ${bytes} bytes where ${MEDIA_HELD_MAX_BYTES} is the bound`);
    } finally {
      for (const engine of engines) await engine.close();
    }
  });
});
