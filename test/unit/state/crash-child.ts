/**
 * The child of embedded-crash.test.ts: writes records to the embedded engine in `argv[2]` for ever,
 * 16 at a time, numbered from `argv[3]`, and prints each number once its put has resolved, until the
 * parent kills it (SIGKILL, mid-stream).
 */
import { EmbeddedStateEngine } from '../../../lib/state/embedded';

const engine = new EmbeddedStateEngine({ dir: process.argv[2] });
let next = Number(process.argv[3] ?? 0);

async function writer(): Promise<void> {
  for (;;) {
    const i = next++;
    await engine.put(`crash:${String(i).padStart(8, '0')}`, { i, text: 'x'.repeat(200) });
    // A pipe's writes are synchronous on Linux: once this returns, the parent can read the line.
    process.stdout.write(`${i}\n`);
  }
}

for (let w = 0; w < 16; w++) void writer();
