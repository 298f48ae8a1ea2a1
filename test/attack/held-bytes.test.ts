/**
 * ATTACK (finding: the 64 MiB a node holds counts characters, not bytes): storableCopy
 * (lib/waits/waiting-room.ts) measures a msg as `json.length`, UTF-16 code units. A msg of
 * 24 million '€' is 72 MB as the store writes it (UTF-8: the file store's JSON) and 48 MB in memory,
 * yet counts as 24 "bytes"-million: one such msg alone passes the 64 MiB a node promises to hold at
 * most, and the room takes it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TwilioNodeError } from '../../lib/core/errors';
import type { KeyValueStore } from '../../lib/node-red/context';
import { MAX_HELD_BYTES, WaitingRoom, storableCopy } from '../../lib/waits/waiting-room';

const store: KeyValueStore = { get: async () => undefined, set: async () => undefined, keys: async () => [] };

describe('ATTACK the bytes a waiting room holds', () => {
  it('refuses a msg whose stored JSON is past MAX_HELD_BYTES', () => {
    const msg = { payload: '€'.repeat(24_000_000) };
    const { bytes } = storableCopy(msg);
    const utf8 = Buffer.byteLength(JSON.stringify(msg));
    assert.ok(utf8 > MAX_HELD_BYTES, `the stored JSON is ${utf8} bytes, more than ${MAX_HELD_BYTES}`);
    const room = new WaitingRoom<object>({
      node: { id: 'n', send: () => undefined, log: () => undefined, warn: () => undefined },
      store,
      prefix: 'w-',
      capacity: 10,
      outputs: 1,
      isRecord: (v): v is object => typeof v === 'object',
      notSent: () => new TwilioNodeError('NOT_SENT', 'not sent'),
      abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', 'abandoned'),
    });
    assert.throws(() => room.admit(msg), { code: 'NOT_SENT' }, `admitted as ${bytes} "bytes" although it is ${utf8} bytes`);
  });
});
