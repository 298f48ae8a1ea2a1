/**
 * Attack on the embedded store (lib/state/embedded.ts) under MMS media when the disk filled up (an SD
 * card on a Raspberry Pi): a 6 MB tmpfs (needs root to mount: skipped otherwise), filled with photos
 * by the media shelf until a commit fails. Once those photos' 15 minutes are over, the store must take
 * new media again: expired records go only on a write's way (its sweep), and a write that cannot grow
 * the file takes its sweep down with it, so nothing could ever be written again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { MEDIA_TTL_MS, MediaShelf } from '../../lib/outbound/media';
import { openStateEngine } from '../../lib/state/open';
import { suiteNeeding } from '../support/redis';

const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-24-recover-'));
let cannotMount: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mountPoint], { stdio: 'pipe' });
} catch (err) {
  cannotMount = `cannot mount a small tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`;
  fs.rmSync(mountPoint, { recursive: true, force: true });
}

const ACCOUNT = 'AC' + '4'.repeat(32);
const photo = (size: number) => ({ bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(size)]), type: 'image/jpeg' });

suiteNeeding(cannotMount, 'the embedded store after the disk filled with media', () => {
  after(() => {
    execFileSync('umount', [mountPoint]);
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });

  it('takes new media again once what filled the disk expired', async () => {
    const clock = new ManualClock();
    const engine = openStateEngine({ backend: 'embedded', dir: path.join(mountPoint, 'twilio-state') }, clock);
    try {
      const shelf = new MediaShelf(engine, ACCOUNT);
      let kept = 0;
      let refusal: unknown;
      for (let i = 0; i < 20 && refusal === undefined; i++) {
        await shelf
          .hold([photo(500_000)], 'https://example.test')
          .commit()
          .then(() => kept++)
          .catch((err: unknown) => (refusal = err));
      }
      assert.ok(refusal !== undefined, 'the disk filled');
      await clock.advance(MEDIA_TTL_MS + 60_000);
      // A camera keeps trying (a photo a minute); each write sweeps a few expired records on its way.
      const later: string[] = [];
      for (let i = 0; i < 5; i++) {
        later.push(
          await shelf
            .hold([photo(500_000)], 'https://example.test')
            .commit()
            .then(
              () => 'kept',
              (err: { code?: string; message?: string }) => `${err.code ?? ''} ${err.message ?? ''}`,
            ),
        );
        await clock.advance(60_000);
      }
      console.log(`# ${kept} photos of 500 kB filled the disk; after their 15 minutes: ${JSON.stringify(later)}`);
      assert.ok(later.includes('kept'), `nothing could be kept after the media expired: ${JSON.stringify(later)}`);
    } finally {
      await engine.close();
    }
  });
});
