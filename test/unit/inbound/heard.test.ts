/**
 * heardFirst / handedOn: an event's identity is claimed as being taken, then marked heard once handed
 * on. A taker that died between the two (a power cut) does not lose the event: after TAKEOVER_MS its
 * next arrival takes it, once; before that, Twilio's retry of the same delivery is asked to come back
 * later, and anything else is a duplicate.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TAKEOVER_MS, handedOn, heardFirst, heardPrefix, digest } from '../../../lib/inbound/heard';
import type { StateEngine } from '../../../lib/state/engine';
import { openStateEngine } from '../../../lib/state/open';

const SID = 'AC' + 'c'.repeat(32);
const T0 = 1_800_000_000_000;
const token = (value: string) => ({ value, windowMs: 600_000 });

describe('heardFirst and handedOn: a taker that dies between the claim and the hand-off', () => {
  let dir: string;
  let engine: StateEngine;
  let n = 0;
  const identity = () => `message|SM${String(++n).padStart(32, '0')}||`;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heard-'));
    engine = openStateEngine({ backend: 'embedded', dir });
  });
  after(async () => {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hands an event on once while its taker lives: a replay with a fresh token is a duplicate, Twilio’s retry is asked to wait', async () => {
    const id = identity();
    assert.equal(await heardFirst(engine, SID, id, token('delivery-1'), T0), true);
    assert.equal(await heardFirst(engine, SID, id, token('fresh'), T0 + 1_000), false, 'a replay with another token');
    assert.equal(await heardFirst(engine, SID, id, undefined, T0 + 1_000), false, 'a poll of the same text');
    await assert.rejects(
      heardFirst(engine, SID, id, token('delivery-1'), T0 + 1_000),
      { name: 'HeardUnknownError' },
      'Twilio retries: 503',
    );
  });

  it('answers a delivery whose event a poll is taking as a duplicate, and Twilio’s retry of it too (never asked to come back)', async () => {
    const id = identity();
    assert.equal(await heardFirst(engine, SID, id, undefined, T0), true, 'a poll takes it');
    assert.equal(await heardFirst(engine, SID, id, token('delivery-4'), T0 + 10, 'signature-4'), false, 'the webhook: a duplicate');
    assert.equal(
      await heardFirst(engine, SID, id, token('delivery-4'), T0 + 500, 'signature-4'),
      false,
      'its retry: a duplicate, not a 503',
    );
    await handedOn(engine, SID, id);
    assert.equal(await heardFirst(engine, SID, id, token('replay'), T0 + 10 * TAKEOVER_MS, 'signature-4'), false, 'and for good');
  });

  it('gives an event whose taker died to its next arrival after TAKEOVER_MS, to one of many', async () => {
    const id = identity();
    assert.equal(await heardFirst(engine, SID, id, token('delivery-2'), T0), true);
    // No handedOn: the process died. Later, Twilio's retry and a poll arrive at once.
    const later = T0 + TAKEOVER_MS + 1;
    const verdicts = await Promise.all([
      heardFirst(engine, SID, id, token('delivery-2'), later),
      heardFirst(engine, SID, id, undefined, later),
      heardFirst(engine, SID, id, token('replay'), later),
    ]);
    assert.equal(verdicts.filter(Boolean).length, 1, `one taker: ${verdicts.join()}`);
  });

  it('never gives an event that was handed on again, however late', async () => {
    const id = identity();
    assert.equal(await heardFirst(engine, SID, id, token('delivery-3'), T0), true);
    await handedOn(engine, SID, id);
    for (const late of [T0 + TAKEOVER_MS + 1, T0 + 10 * TAKEOVER_MS])
      for (const t of [token('delivery-3'), token('fresh'), undefined]) assert.equal(await heardFirst(engine, SID, id, t, late), false);
  });

  it('reads a damaged claim as heard (never hands a replay on because of it)', async () => {
    for (const damaged of [null, 'text', 42, [], { taking: 'soon' }, { heard: false }]) {
      const id = identity();
      await engine.put(`${heardPrefix(SID)}e/${digest(id)}`, damaged, { ttlMs: 60_000 });
      assert.equal(await heardFirst(engine, SID, id, token('x'), T0 + 10 * TAKEOVER_MS), false, JSON.stringify(damaged));
    }
  });
});
