/**
 * Attack (#24 part 1): a stranger who can make a flow send photos (texting "photo" to a doorbell flow
 * many times at once) should not be able to push an account's held media past its bound. The bound
 * (MEDIA_HELD_MAX_ITEMS, MEDIA_HELD_MAX_BYTES) was checked by a scan before the puts: commits that
 * ran at once (twilio-send prepares up to 16 msgs at a time, and several nodes share an account) each
 * saw the room free and all wrote. A real embedded state engine, no mocks.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openStateEngine } from '../../lib/state/open';
import { MEDIA_HELD_MAX_BYTES, MEDIA_HELD_MAX_ITEMS, MediaShelf } from '../../lib/outbound/media';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atk24-media-race-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('attack: concurrent media commits and the per-account bound', () => {
  it(`holds at most ${MEDIA_HELD_MAX_ITEMS} items when many sends commit at once`, async () => {
    const engine = openStateEngine({ backend: 'embedded', dir: path.join(tmp, 'items') });
    try {
      const sid = 'AC' + '4'.repeat(32);
      const shelf = new MediaShelf(engine, sid);
      const entry = { bytes: PNG, type: 'image/png' };
      // 30 sends of 50 photos each, all at once: 1,500 items asked for, 1,000 allowed.
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, () =>
          shelf
            .hold(
              Array.from({ length: 50 }, () => entry),
              'https://example.test',
            )
            .commit(),
        ),
      );
      const kept = results.filter((r) => r.status === 'fulfilled').length;
      const refused = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'MEDIA_STORE_FULL');
      assert.equal(kept + refused.length, 30, 'each commit either kept its media or was refused with MEDIA_STORE_FULL');
      const held = await engine.scan(`media/size/${sid}/`, 10_000);
      assert.ok(held.length <= MEDIA_HELD_MAX_ITEMS, `${held.length} items held, more than ${MEDIA_HELD_MAX_ITEMS}`);
      assert.equal(kept, MEDIA_HELD_MAX_ITEMS / 50, 'and as many as fit were kept');
    } finally {
      await engine.close();
    }
  });

  it(`holds at most ${MEDIA_HELD_MAX_BYTES / 1024 / 1024} MiB when large photos commit at once`, async () => {
    const engine = openStateEngine({ backend: 'embedded', dir: path.join(tmp, 'bytes') });
    try {
      const sid = 'AC' + '5'.repeat(32);
      const shelf = new MediaShelf(engine, sid);
      // 16 photos of 4.9 MB at once (one twilio-send prepares 16 msgs at a time): 78 MB asked for.
      const big = { bytes: Buffer.concat([PNG, Buffer.alloc(4_900_000 - PNG.length)]), type: 'image/png' };
      await Promise.allSettled(Array.from({ length: 16 }, () => shelf.hold([big], 'https://example.test').commit()));
      const held = await engine.scan(`media/size/${sid}/`, 10_000);
      const bytes = held.reduce((sum, r) => sum + (r.value as number), 0);
      assert.ok(bytes <= MEDIA_HELD_MAX_BYTES, `${bytes} bytes held, more than ${MEDIA_HELD_MAX_BYTES}`);
      assert.ok(held.length >= 13, 'and as many as fit were kept');
    } finally {
      await engine.close();
    }
  });
});
