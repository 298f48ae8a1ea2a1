/**
 * f. The state engine (lib/state/): what a durable write costs.
 *   embedded put: one at a time (each its own commit, flushed to disk before it resolves), then 32 at
 *     a time (writes of one event turn share a commit): commits per second and p99 latency
 *   embedded compare-and-set: read, then put with ifVersion, one at a time
 *   redis claim: one at a time against a local redis-server (no persistence): Redis round trips per
 *     claim (commands the client sent; the commands the script ran inside Redis beside them) and p99
 *     latency; skipped without redis-server
 * Alone: `npm run build && node dist/bench/state.js`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { EmbeddedStateEngine } from '../lib/state/embedded';
import type { StateEngine } from '../lib/state/engine';
import { RedisStateEngine } from '../lib/state/redis';
import { noRedis, startRedis } from '../test/support/redis';

export interface StateRow {
  subject: string;
  messages: number;
  seconds: number;
  delivered: number;
  lost: number;
  duplicated: number;
  note: string;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** Runs `op(i)` `count` times, `concurrency` at a time; the seconds it took and each op's latency in ms. */
async function timed(count: number, concurrency: number, op: (i: number) => Promise<boolean>) {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t = process.hrtime.bigint();
        if (!(await op(i))) failed++;
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { seconds, failed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

function row(subject: string, count: number, r: Awaited<ReturnType<typeof timed>>, note: string): StateRow {
  return {
    subject,
    messages: count,
    seconds: r.seconds,
    delivered: count - r.failed,
    lost: r.failed,
    duplicated: 0,
    note: `${(count / r.seconds).toFixed(0)} per second; p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${note}`,
  };
}

export async function stateEngine(scale = 1): Promise<StateRow[]> {
  const rows: StateRow[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-state-'));
  const count = Math.max(100, Math.round(2_000 * scale));
  try {
    const embedded: StateEngine = new EmbeddedStateEngine({ dir });
    const value = { to: '+15551234567', sid: 'SM' + 'a'.repeat(32), status: 'queued', at: 0 };
    rows.push(
      row(
        'embedded put, 1 at a time',
        count,
        await timed(count, 1, async (i) => (await embedded.put(`one:${i}`, value)) !== undefined),
        '; a commit each',
      ),
    );
    rows.push(
      row(
        'embedded put, 32 at a time',
        count,
        await timed(count, 32, async (i) => (await embedded.put(`many:${i}`, value)) !== undefined),
        '; commits shared',
      ),
    );
    await embedded.put('cas', 0);
    rows.push(
      row(
        'embedded compare-and-set, 1 at a time',
        count,
        await timed(count, 1, async () => {
          const current = (await embedded.get('cas'))!;
          return (await embedded.put('cas', (current.value as number) + 1, { ifVersion: current.version })) !== undefined;
        }),
        '',
      ),
    );
    await embedded.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (noRedis) {
    console.log(`bench: ${noRedis}; the redis row is skipped`);
    return rows;
  }
  const server = await startRedis();
  const redis = new RedisStateEngine({ url: server.url });
  const admin = new Redis(server.url);
  try {
    await redis.claim('warm-up', 60_000); // loads the scripts (EVALSHA's first NOSCRIPT retry is not a claim's cost)
    // Round trips: commands the engine's client sent. Commands: what Redis ran, those inside the script included.
    const client = (redis as any).redis as Redis;
    let sent = 0;
    const sendCommand = client.sendCommand.bind(client);
    client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => (sent++, sendCommand(...args))) as Redis['sendCommand'];
    const processed = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
    const before = await processed();
    const r = await timed(count, 1, (i) => redis.claim(`dedupe:${i}`, 60_000));
    const commands = (await processed()) - before - 1; // the INFO itself
    rows.push(
      row(
        'redis claim, 1 at a time',
        count,
        r,
        `; ${(sent / count).toFixed(2)} round trips per claim (${(commands / count).toFixed(1)} commands inside Redis)`,
      ),
    );
  } finally {
    await redis.close();
    await admin.quit();
    await server.stop();
  }
  return rows;
}

if (require.main === module)
  stateEngine(Number(process.env.BENCH_SCALE || 1)).then(
    (rows) => console.table(rows),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
