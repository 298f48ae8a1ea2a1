/**
 * The signature claim (the re-split fix, heard.ts) keeps the crash promise of the identity's: a
 * delivery whose taker died before it was handed on goes to Twilio's retry after TAKEOVER_MS (same
 * signature), and once handed on, no re-split variant (another identity, the same signature) is taken.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TAKEOVER_MS, handedOn, heardFirst } from '../../lib/inbound/heard';
import type { StateEngine } from '../../lib/state/engine';
import { openStateEngine } from '../../lib/state/open';

const ACCOUNT = 'AC00000000000000000000000000000022';

describe('heard: the signature claim across a crash', () => {
  let dir: string;
  let engine: StateEngine;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heard-sig-'));
    engine = openStateEngine({ backend: 'embedded', dir });
  });
  after(async () => {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a retry after a crash is taken; once handed on, a variant with another identity is not', async () => {
    const t0 = 1_000_000;
    const token = (value: string) => ({ value, windowMs: 600_000 });
    const sig = 'c2lnbmF0dXJlLW9mLXRoZS15ZXM=';
    assert.equal(await heardFirst(engine, ACCOUNT, 'message|SMa', token('t1'), t0, sig), true, 'the first delivery');
    // Its taker died before handedOn. A variant at once (another identity, the same signature): not taken.
    assert.equal(await heardFirst(engine, ACCOUNT, 'message|SMaNumMedia0', token('t2'), t0 + 1_000, sig), false);
    // Twilio's retry after the takeover time: taken.
    assert.equal(await heardFirst(engine, ACCOUNT, 'message|SMa', token('t3'), t0 + TAKEOVER_MS + 1, sig), true, 'the retry after a crash');
    await handedOn(engine, ACCOUNT, 'message|SMa', sig);
    // Handed on: no variant, however late, is taken.
    for (const [identity, at] of [
      ['message|SMaNumMedia0', t0 + 10 * TAKEOVER_MS],
      [undefined, t0 + 20 * TAKEOVER_MS],
      ['message|SMa', t0 + 30 * TAKEOVER_MS],
    ] as const)
      assert.equal(await heardFirst(engine, ACCOUNT, identity, token(`late-${at}`), at, sig), false, `${identity} at ${at}`);
  });
});
