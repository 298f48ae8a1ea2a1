/**
 * lib/outbound/media.ts without Node-RED: what a msg's media value becomes, the magic numbers, the
 * folder a path must stay in, and the account's bound on what it holds (a real embedded engine).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { NodeAPI } from 'node-red';
import type { Node } from 'node-red';
import { RedisServer, noRedis, startRedis, suiteNeeding } from '../../support/redis';
import { root } from '../../support/paths';
import { TwilioNodeError } from '../../../lib/core/errors';
import { NodeStatus } from '../../../lib/node-red/status';
import { openStateEngine } from '../../../lib/state/open';
import {
  MAX_MMS_BYTES,
  MediaSending,
  MediaShelf,
  answerMedia,
  collectMedia,
  holdsBytes,
  mediaSending,
  prepareMedia,
  readAllowedFile,
  sniffType,
} from '../../../lib/outbound/media';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-media-unit-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const codeOfAsync = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (err: { code?: string }) => String(err.code),
  );

describe('media', () => {
  it('sniffs the types Twilio takes by their first bytes, and nothing else', () => {
    assert.equal(sniffType(PNG), 'image/png');
    assert.equal(sniffType(Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0])), 'image/jpeg');
    assert.equal(sniffType(Buffer.from('GIF89a....')), 'image/gif');
    assert.equal(sniffType(Buffer.from('GIF87a....')), 'image/gif');
    assert.equal(sniffType(Buffer.from('%PDF-1.7')), 'application/pdf');
    for (const other of ['', '<svg/>', 'GIF8', '\x89PNG', 'RIFF....WEBP']) assert.equal(sniffType(Buffer.from(other)), undefined);
  });

  it('keeps URLs as they were (one text split at commas) and tells bytes and paths apart', async () => {
    assert.deepEqual(await collectMedia('https://a.test/1.png, https://a.test/2.png', undefined), [
      'https://a.test/1.png',
      'https://a.test/2.png',
    ]);
    assert.equal(holdsBytes('https://a.test/1.png https://a.test/2.png'), false);
    assert.equal(holdsBytes(['https://a.test/1.png', PNG]), true);
    assert.equal(holdsBytes('photo.png'), true);
    assert.equal(holdsBytes(new Uint8Array(PNG)), true);
    assert.equal(await codeOfAsync(collectMedia('ftp://a.test/x.png', undefined)), 'INVALID_INPUT');
    assert.equal(await codeOfAsync(collectMedia(Array(11).fill(PNG), undefined)), 'INVALID_INPUT');
    const [entry] = await collectMedia(new Uint8Array(PNG), undefined);
    assert.equal(typeof entry === 'object' && entry.type, 'image/png');
    assert.equal(await codeOfAsync(collectMedia([PNG, Buffer.alloc(MAX_MMS_BYTES)], undefined)), 'MEDIA_TOO_LARGE');
  });

  it('reads a file only from the real folder, never through a symlink out, and no more than the room left', async () => {
    const folder = path.join(tmp, 'allowed');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'a.png'), PNG);
    fs.writeFileSync(path.join(tmp, 'outside.png'), PNG);
    fs.symlinkSync(path.join(tmp, 'outside.png'), path.join(folder, 'out.png'));
    fs.symlinkSync(tmp, path.join(folder, 'up'));
    assert.ok((await readAllowedFile('a.png', folder, MAX_MMS_BYTES)).equals(PNG));
    // A FIFO (or a device) in the folder is no file: refused at once, never waited on.
    execFileSync('mkfifo', [path.join(folder, 'pipe.png')]);
    assert.equal(await codeOfAsync(readAllowedFile('pipe.png', folder, MAX_MMS_BYTES)), 'MEDIA_PATH_REFUSED');
    // The folder itself may be named through a symlink.
    fs.symlinkSync(folder, path.join(tmp, 'alias'));
    assert.ok((await readAllowedFile('a.png', path.join(tmp, 'alias'), MAX_MMS_BYTES)).equals(PNG));
    for (const bad of ['out.png', 'up/outside.png', '../outside.png', path.join(tmp, 'outside.png'), 'a.png\0', '.', ''])
      assert.equal(await codeOfAsync(readAllowedFile(bad, folder, MAX_MMS_BYTES)), 'MEDIA_PATH_REFUSED', JSON.stringify(bad));
    assert.equal(await codeOfAsync(readAllowedFile('a.png', undefined, MAX_MMS_BYTES)), 'MEDIA_PATH_REFUSED');
    assert.equal(await codeOfAsync(readAllowedFile('a.png', folder, PNG.length - 1)), 'MEDIA_TOO_LARGE');
  });

  it('bounds what an account holds (64 MiB) with MEDIA_STORE_FULL, and frees it when media goes', async () => {
    const engine = openStateEngine({ backend: 'embedded', dir: path.join(tmp, 'engine') });
    try {
      const shelf = new MediaShelf(engine, 'AC' + '1'.repeat(32));
      const big = { bytes: Buffer.concat([PNG, Buffer.alloc(MAX_MMS_BYTES - PNG.length)]), type: 'image/png' };
      const held = [];
      for (let i = 0; i < 13; i++) {
        const media = shelf.hold([big], 'https://example.test');
        await media.commit();
        held.push(media);
      }
      assert.equal(await codeOfAsync(shelf.hold([big], 'https://example.test').commit()), 'MEDIA_STORE_FULL');
      // Another account has its own share.
      await new MediaShelf(engine, 'AC' + '2'.repeat(32)).hold([big], 'https://example.test').commit();
      await held[0].drop();
      await shelf.hold([big], 'https://example.test').commit();
    } finally {
      await engine.close();
    }
  });
});

describe('media refusals in a status line', () => {
  for (const [lang, publicUrl, folder] of [
    ['en-US', 'set a Public URL (MEDIA_NEEDS_PUBLIC_URL)', 'set twilio.mediaDir (MEDIA_PATH_REFUSED)'],
    ['de', 'öffentliche URL setzen (MEDIA_NEEDS_PUBLIC_URL)', 'twilio.mediaDir setzen (MEDIA_PATH_REFUSED)'],
    ['ja', '公開 URL を設定 (MEDIA_NEEDS_PUBLIC_URL)', 'twilio.mediaDir を設定 (MEDIA_PATH_REFUSED)'],
  ]) {
    it(`names what to set (${lang})`, async () => {
      const strings: Record<string, string> = {};
      const walk = (value: object, prefix: string): void => {
        for (const [k, v] of Object.entries(value)) {
          if (typeof v === 'object' && v !== null) walk(v as object, `${prefix}${k}.`);
          else strings[`${prefix}${k}`] = String(v);
        }
      };
      walk(JSON.parse(fs.readFileSync(path.join(root, 'locales', lang, '_shared.json'), 'utf8')) as object, '');
      const t = (key: string, subs: Record<string, string | number> = {}) =>
        (strings[key] ?? key).replace(/__(\w+)__/g, (m, name: string) => (name in subs ? String(subs[name]) : m));
      const shown: string[] = [];
      const status = new NodeStatus({ status: (s: { text?: string }) => shown.push(String(s.text)) } as unknown as Node, t);
      const refusal = (value: unknown, sending: MediaSending) => prepareMedia(value, sending).catch((err: TwilioNodeError) => err);
      const noPublicUrl: MediaSending = { base: () => undefined, shelf: () => undefined };
      status.failedWith((await refusal(PNG, noPublicUrl)) as TwilioNodeError);
      status.failedWith((await refusal('door.png', noPublicUrl)) as TwilioNodeError);
      assert.deepEqual(shown, [publicUrl, folder]);
    });
  }
});

suiteNeeding(noRedis, 'media on Redis (several instances)', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('holds a 5 MB photo in one instance and serves it byte-identical from another', async () => {
    const [one, two] = [0, 1].map(() => openStateEngine({ backend: 'redis', url: redis.url, prefix: 'media:' }));
    try {
      const sid = 'AC' + '3'.repeat(32);
      const photo = Buffer.concat([PNG, crypto.randomBytes(MAX_MMS_BYTES - PNG.length)]);
      const held = new MediaShelf(one, sid).hold([{ bytes: photo, type: 'image/png' }], 'https://example.test');
      await held.commit();
      // The second instance knows the account (a twilio-send of it started there), not the media.
      mediaSending({ settings: {} } as unknown as NodeAPI, { state: two, accountSid: sid });
      const token = held.urls[0].split('/').pop()!;
      const served = await new Promise<{ status: number; type: string; body: Buffer }>((resolve) => {
        const chunks: Buffer[] = [];
        const res = Object.assign(new PassThrough(), {
          writeHead(status: number, headers: Record<string, string>) {
            Object.assign(res, { status, type: headers['Content-Type'] });
            return res;
          },
        }) as unknown as PassThrough & { status: number; type: string };
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('finish', () => resolve({ status: res.status, type: res.type, body: Buffer.concat(chunks) }));
        void answerMedia('GET', token, res as unknown as import('node:http').ServerResponse);
      });
      assert.equal(served.status, 200);
      assert.equal(served.type, 'image/png');
      assert.ok(served.body.equals(photo));
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
