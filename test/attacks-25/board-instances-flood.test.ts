/**
 * Attack on the question board's index-first routing by a stranger, end to end: two real red.js
 * processes on one redis-server behind the round-robin proxy, the simulator as Twilio. 5,000 signed
 * texts from 5,000 distinct numbers, 50 at a time, none answering anything: each now costs the
 * instance it lands on an index read (the board's onUnclaimed look) before its webhook is answered.
 * The promise: every webhook answered 200, every text news exactly once, a question asked meanwhile
 * still answered once, and the processes' memory does not run away (figures printed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually, sleep } from '../support/assertions';
import { CREDENTIALS, askFlow, endings, logFiles, recorder, recorderSettings } from '../support/flows';
import { startProxy, type RoundRobinProxy } from '../support/proxy';
import { type RedProcess, startRed } from '../support/red-process';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const PERSON = '+15555552591';
const FLOOD = 5_000;
const until = <T>(what: string, check: () => T | undefined | false, ms = 20_000): Promise<T> => eventually(what, check, ms);

suiteNeeding(
  noRedis,
  'attack: a flood of strangers’ texts through two instances',
  () => {
    const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
    const files = logFiles();
    const logFile = files.next();
    let redis: RedisServer;
    let proxy: RoundRobinProxy;
    const reds: RedProcess[] = [];

    before(async () => {
      await simulator.start();
      redis = await startRedis();
      proxy = await startProxy([]);
      const flows = askFlow(simulator.url, {
        publicBaseUrl: proxy.url,
        timeout: 60,
        unpack: 'msg.id = msg.payload.id; msg.to = msg.payload.to; msg.payload = msg.payload.text; return msg;',
        label: (port) => recorder(`out${port}`, `out${port}`, `'-'`),
        news: recorder('news', 'news', 'msg.payload.Body.replace(/ /g, "_")', 'msg.payload.MessageSid'),
      }).map((node) => ((node as { id?: string }).id === 'account' ? { ...node, stateBackend: 'redis', redisUrl: redis.url } : node));
      reds.push(
        ...(await Promise.all(['A', 'B'].map((name) => startRed(flows, CREDENTIALS, recorderSettings({ logFile, instance: name }))))),
      );
      proxy.targets.push(...reds.map((r) => r.url));
    });
    after(async () => {
      await proxy?.close();
      await Promise.all(reds.map((r) => r.stop()));
      await simulator.stop();
      await redis?.stop();
      files.remove();
    });

    /** Asks `person` on A (POST to A itself); resolves once the question's text exists (its index record is written before it goes). */
    async function askOnA(id: string, person: string): Promise<void> {
      const res = await fetch(`${reds[0].url}/ask`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ id, to: person, text: `Question ${id}?` }),
      });
      assert.equal(res.status, 200);
      await until(`the question ${id} texted`, () =>
        [...simulator.messages.values()].some((m) => String(m.body).includes(`Question ${id}?`)),
      );
    }

    /** The person texts `body` to the house; Twilio posts it to the proxy (to B). Answers the webhook's status and how long it took. */
    async function text(from: string, body: string): Promise<{ sid: string; status?: number; ms: number }> {
      const started = Date.now();
      const arrival = await simulator.receiveMessage({ from, to: '+15017122661', body }, { url: `${proxy.url}/sms` });
      return { sid: arrival.sid, status: arrival.delivery?.status, ms: Date.now() - started };
    }

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
