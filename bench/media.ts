/**
 * j. MMS media served (lib/outbound/media.ts): GETs per second of one held photo (100 kB) from the
 * embedded engine through answerMedia (hash lookup, base64 decode, write), 16 keep-alive connections,
 * and the same for a wrong token (the 404 a guesser gets). Alone: `npm run build && node dist/bench/media.js`.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { NodeAPI } from 'node-red';
import { EmbeddedStateEngine } from '../lib/state/embedded';
import { answerMedia, mediaSending } from '../lib/outbound/media';
import type { StateRow } from './state';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function hammer(url: string, seconds: number, connections: number): Promise<{ count: number; failed: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let failed = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < until) {
        const started = process.hrtime.bigint();
        const status = await new Promise<number>((resolve) =>
          http
            .get(url, { agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            })
            .on('error', () => resolve(0)),
        );
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (status !== 200 && status !== 404) failed++;
      }
    }),
  );
  agent.destroy();
  return {
    count: latencies.length,
    failed,
    p99: percentile(
      latencies.sort((a, b) => a - b),
      99,
    ),
  };
}

export async function mediaServed(scale = 1): Promise<StateRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-bench-media-'));
  const engine = new EmbeddedStateEngine({ dir });
  const server = http.createServer((req, res) => void answerMedia(req.method ?? 'GET', (req.url ?? '').split('/').pop() ?? '', res));
  try {
    const sending = mediaSending({ settings: {} } as unknown as NodeAPI, { state: engine, accountSid: 'AC' + 'b'.repeat(32) });
    const photo = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100_000 - 4, 1)]);
    const held = sending.shelf()!.hold([{ bytes: photo, type: 'image/jpeg' }], 'http://127.0.0.1');
    await held.commit();
    const token = held.urls[0].split('/').pop()!;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/twilio/media/`;
    const seconds = Math.max(2, Math.round(5 * scale));
    const rows: StateRow[] = [];
    for (const [subject, url] of [
      ['media GET, 100 kB photo, 16 connections', base + token],
      ['media GET, wrong token (404), 16 connections', base + 'A'.repeat(43)],
    ]) {
      const r = await hammer(url, seconds, 16);
      rows.push({
        subject,
        messages: r.count,
        seconds,
        delivered: r.count - r.failed,
        lost: r.failed,
        duplicated: 0,
        note: `p99 ${r.p99.toFixed(1)} ms`,
      });
    }
    return rows;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module)
  void mediaServed(Number(process.env.BENCH_SCALE || 1)).then((rows) => {
    for (const r of rows) console.log(JSON.stringify({ ...r, perSecond: Math.round(r.messages / r.seconds) }));
  });
