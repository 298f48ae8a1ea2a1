/**
 * The embedded engine's promise across a process kill: a put that resolved survives. A child process
 * writes records and reports each put as it resolves; it is SIGKILLed mid-stream, three times over
 * on one store; after each kill, the store reopens and holds every record the child reported (and
 * nothing damaged). A kill leaves the OS page cache; that a resolved put is on disk too rests on the
 * environment's flags (no noSync, no overlapping sync), which lib/state/embedded.ts sets and states.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EmbeddedStateEngine } from '../../../lib/state/embedded';

describe('embedded state engine: crash', () => {
  it('keeps every put that resolved before a SIGKILL of its process, across three kills of writers on one store', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-state-crash-'));
    try {
      const reported: number[] = [];
      for (let round = 0; round < 3; round++) {
        const start = round * 1_000_000;
        reported.push(...(await runUntilKilled(dir, start, 300 + round * 100)));
        const engine = new EmbeddedStateEngine({ dir });
        try {
          const missing: number[] = [];
          for (const i of reported) {
            const record = await engine.get(`crash:${String(i).padStart(8, '0')}`);
            if (!record || (record.value as { i: number }).i !== i) missing.push(i);
          }
          assert.deepEqual(missing, [], `round ${round}: of ${reported.length} reported puts, these are missing`);
          const stored = await engine.scan('crash:', 1e9);
          assert.ok(
            stored.every((r) => r.version > 0),
            'nothing damaged',
          );
          assert.ok(stored.length >= reported.length);
          // The store still takes writes after the crash.
          assert.ok(await engine.put(`after-crash:${round}`, round));
        } finally {
          await engine.close();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Starts the writer, kills it once it has reported `count` resolved puts, returns what it reported. */
function runUntilKilled(dir: string, start: number, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'crash-child.js'), dir, String(start)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const reported: number[] = [];
    let partial = '';
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      reported.push(...lines.map(Number));
      if (reported.length >= count && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(reported) : reject(new Error(`writer exited ${code}: ${errors}`))));
  });
}
