/**
 * Attack (#24 part 1): a media path from a msg may be text a stranger wrote (a flow that sends "the
 * photo you name"). Nothing outside settings.js `twilio.mediaDir` is read, but the refusal told which
 * files exist anywhere on the disk: an absolute path outside the folder that exists was "leads outside
 * the allowed folder", one that does not exist "is not a readable file". A flow that answers with its
 * error (or a Catch that texts it back) hands a stranger a map of the disk. Outside is outside, without
 * a look at the disk. lib/outbound/media.ts readAllowedFile, with a real folder.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { readAllowedFile } from '../../lib/outbound/media';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atk24-media-oracle-'));
const allowed = path.join(dir, 'snapshots');
fs.mkdirSync(allowed);
fs.writeFileSync(path.join(allowed, 'door.png'), PNG);
fs.writeFileSync(path.join(dir, 'exists.png'), PNG);
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const refusal = (given: string) =>
  readAllowedFile(given, allowed, 5_000_000).then(
    () => 'read',
    (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
  );

describe('attack: a media path as an oracle of what exists on disk', () => {
  it('refuses a path outside the folder alike whether the file exists or not', async () => {
    for (const [existing, missing] of [
      [path.join(dir, 'exists.png'), path.join(dir, 'missing.png')],
      ['/etc/hostname', '/etc/no-such-file-atk24'],
      [os.homedir(), path.join(os.homedir(), 'no-such-dir-atk24')],
    ]) {
      const [a, b] = [await refusal(existing), await refusal(missing)];
      assert.match(a, /^MEDIA_PATH_REFUSED/);
      assert.equal(a, b, `${existing} and ${missing} are told apart`);
    }
  });

  it('still reads a file under the folder, by a relative or an absolute path', async () => {
    assert.ok((await readAllowedFile('door.png', allowed, 5_000_000)).equals(PNG));
    assert.ok((await readAllowedFile(path.join(allowed, 'door.png'), allowed, 5_000_000)).equals(PNG));
    assert.match(await refusal('missing.png'), /^MEDIA_PATH_REFUSED/);
  });
});
