/**
 * A process that exits while an embedded write is under way never exits: lmdb's writer (a libuv pool
 * thread, which process.exit joins) waits for the write's callback on the main thread, which no
 * longer runs. So the engine says when its writes have settled, and the last account to give the
 * engine back (as Node-RED stops) waits for that before Node-RED exits.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EmbeddedStateEngine } from '../../../lib/state/embedded';

const lib = path.resolve(__dirname, '..', '..', '..', 'lib');

describe('embedded state engine: writes under way at exit', () => {
  it('settled() resolves once every write under way has committed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-state-settled-'));
    const engine = new EmbeddedStateEngine({ dir });
    try {
      await engine.settled();
      for (let i = 0; i < 200; i++) void engine.put(`k${i}`, { i });
      await engine.settled();
      const missing = [];
      for (let i = 0; i < 200; i++) if ((await engine.get(`k${i}`))?.value === undefined) missing.push(i);
      assert.deepEqual(missing, [], 'every write committed once settled() resolved');
    } finally {
      await engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a process whose last account gives the engine back while writes are under way, then exits, exits', () => {
    // Each child: an engine from the registry, bursts of writes not awaited, the release an account's
    // close makes, then process.exit (as red.js does once its nodes have closed). Ten of them: an exit
    // during a write held the process forever in about one of three.
    const child = `
      const fs = require('fs'), os = require('os'), path = require('path');
      const { acquireStateEngine } = require(${JSON.stringify(path.join(lib, 'account', 'state-engines'))});
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-state-exit-'));
      const { engine, release } = acquireStateEngine({ backend: 'embedded', dir });
      (async () => {
        for (let round = 0; round < 5; round++) {
          for (let i = 0; i < 50; i++) void engine.put('k' + round + '-' + i, { i }).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 1));
        }
        await release();
        fs.rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      })();`;
    const hung: number[] = [];
    for (let run = 0; run < 10; run++) {
      const result = spawnSync(process.execPath, ['-e', child], { timeout: 15_000, encoding: 'utf8' });
      if (result.status !== 0) hung.push(run);
    }
    assert.deepEqual(hung, [], 'every process exited');
  });
});
