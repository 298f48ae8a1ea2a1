/**
 * Attack on the question board's index-first routing by a stranger, end to end: two real red.js
 * processes on one redis-server behind the round-robin proxy, the simulator as Twilio. 1,000 signed
 * texts from 1,000 distinct numbers, 50 at a time, none answering anything: each now costs the
 * instance it lands on an index read (the board's onUnclaimed look) before its webhook is answered.
 * The promise: every webhook answered 200, every text news exactly once, a question asked meanwhile
 * still answered once, and the processes' memory does not run away (figures printed). The class is
 * the same at 1,000 as at 5,000 (each text one index read; no bound in between); the rate a flood
 * is taken at is bench c's and h's (`npm run bench`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { it } from 'node:test';
import { askInstancesOnRedis } from '../support/ask-instances';
import { eventually, sleep } from '../support/assertions';
import { endings } from '../support/flows';
import { type RedProcess } from '../support/red-process';
import { noRedis, suiteNeeding } from '../support/redis';

const PERSON = '+15555552591';
const FLOOD = 1_000;
const until = <T>(what: string, check: () => T | undefined | false, ms = 20_000): Promise<T> => eventually(what, check, ms);

suiteNeeding(
  noRedis,
  'attack: a flood of strangers’ texts through two instances',
  () => {
    const { logFile, reds, askOnA, text } = askInstancesOnRedis({ proxied: 'both' });

    const rss = (red: RedProcess) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${red.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

    it(`${FLOOD} texts from ${FLOOD} strangers: each answered 200 and news once; a question asked meanwhile answered once`, async () => {
      const before = reds.map(rss);
      const started = Date.now();
      const results: Array<{ sid: string; status?: number; ms: number }> = [];
      let asked = false;
      for (let i = 0; i < FLOOD; i += 50) {
        if (i >= FLOOD / 2 && !asked) {
          asked = true;
          await askOnA('q9', PERSON);
          results.push(await text(PERSON, 'yes'));
        }
        results.push(
          ...(await Promise.all(Array.from({ length: 50 }, (_, j) => text(`+1888${String(i + j).padStart(7, '0')}`, `hello ${i + j}`)))),
        );
      }
      const tookMs = Date.now() - started;
      const after = reds.map(rss);
      const slowest = Math.max(...results.map((r) => r.ms));
      console.log(
        `board: ${FLOOD} stranger texts through 2 instances in ${tookMs} ms (${Math.round(FLOOD / (tookMs / 1000))}/s), slowest webhook ${slowest} ms, RSS MB before ${before.map(Math.round)} after ${after.map(Math.round)}`,
      );
      assert.deepEqual(
        results.filter((r) => r.status !== 200).map((r) => r.status),
        [],
        'every webhook answered 200',
      );
      const strangers = results.slice(0).filter((r) => r !== results[FLOOD / 2]);
      await until('every stranger text news', () => strangers.every((r) => endings(logFile).has(r.sid)), 30_000);
      await until('the question to end', () => endings(logFile).get('q9'));
      await sleep(1_000);
      const all = endings(logFile);
      assert.deepEqual(
        strangers.filter((r) => all.get(r.sid)?.length !== 1).map((r) => all.get(r.sid)),
        [],
        'each stranger text news exactly once',
      );
      assert.deepEqual(all.get('q9'), ['out0 - on A'], 'the question answered once');
      assert.equal(all.get(results[FLOOD / 2].sid), undefined, 'its answer not news');
      assert.ok(slowest < 15_000, `no webhook near Twilio's 15 s (${slowest} ms)`);
    });
  },
  { timeout: 90_000 },
);
