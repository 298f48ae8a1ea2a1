/**
 * Attack on the question board's index-first routing as an unlucky operator runs it: two real
 * red.js processes (A and B) on one redis-server, Twilio's webhooks through a round-robin proxy (here
 * pointed at B alone, so the answer lands where the question is NOT held), the simulator as Twilio.
 *
 * 1. A question asked on A; the person's answer posted to B the moment its text exists (before B can
 *    be relied on to have heard A's `opened`). Promise: the answer ends the question once, on A; the
 *    webhook is answered 200; the text is not news on either instance.
 * 2. The same while Redis stalls (SIGSTOP of redis-server for 2 s, as a fork on a full disk or a VM
 *    migration does) as the answer arrives. Promise: Twilio's webhook is answered well within its
 *    15 s timeout once Redis is back, the answer ends the question once, nothing is news.
 * 3. A stranger's text (answers nothing: B's look reads the index) while Redis stalls 2 s: answered,
 *    news once.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { askInstancesOnRedis } from '../support/ask-instances';
import { eventually, sleep } from '../support/assertions';
import { endings } from '../support/flows';
import { noRedis, redisPidOf, suiteNeeding } from '../support/redis';

const PEOPLE = ['+15555552551', '+15555552552'];
const STRANGER = '+15555552559';
const until = <T>(what: string, check: () => T | undefined | false, ms = 20_000): Promise<T> => eventually(what, check, ms);

suiteNeeding(
  noRedis,
  'attack: an answer landing on the instance that does not hold its question, on a real Redis',
  () => {
    let redisPid = 0;
    const { logFile, askOnA, text } = askInstancesOnRedis({
      proxied: 'B',
      onRedis: (redis) => void (redisPid = redisPidOf(redis.url)),
      stopping: () => {
        try {
          process.kill(redisPid, 'SIGCONT');
        } catch {
          // gone
        }
      },
    });

    const stall = (ms: number) => {
      process.kill(redisPid, 'SIGSTOP');
      setTimeout(() => process.kill(redisPid, 'SIGCONT'), ms);
    };

    it('asked on A, answered at once through B: the question ends once, on A; not news', async () => {
      await askOnA('q1', PEOPLE[0]);
      const answer = await text(PEOPLE[0], 'yes');
      assert.equal(answer.status, 200, 'the webhook is answered');
      await until('the question to end', () => endings(logFile).get('q1'));
      await sleep(1_500);
      assert.deepEqual(endings(logFile).get('q1'), ['out0 - on A'], 'answered once, on A, "yes"');
      assert.equal(endings(logFile).get(answer.sid), undefined, 'not news');
    });

    it('the same while Redis stalls 2 s: the webhook answered within Twilio’s 15 s, the question ends once, not news', async () => {
      await askOnA('q2', PEOPLE[1]);
      stall(2_000);
      const answer = await text(PEOPLE[1], 'yes');
      console.log(`board: the answer's webhook through a 2 s Redis stall answered ${answer.status} after ${answer.ms} ms`);
      assert.equal(answer.status, 200, 'the webhook is answered');
      assert.ok(answer.ms < 15_000, `within Twilio's 15 s (${answer.ms} ms)`);
      await until('the question to end', () => endings(logFile).get('q2'));
      await sleep(1_500);
      assert.deepEqual(endings(logFile).get('q2'), ['out0 - on A'], 'answered once, on A');
      assert.equal(endings(logFile).get(answer.sid), undefined, 'not news');
    });

    it('a stranger’s text while Redis stalls 2 s: answered within 15 s, news once', async () => {
      stall(2_000);
      const news = await text(STRANGER, 'hello there');
      console.log(`board: a stranger's webhook through a 2 s Redis stall answered ${news.status} after ${news.ms} ms`);
      assert.equal(news.status, 200, 'the webhook is answered');
      assert.ok(news.ms < 15_000, `within Twilio's 15 s (${news.ms} ms)`);
      await until('the text to be news', () => endings(logFile).get(news.sid));
      await sleep(1_000);
      assert.deepEqual(endings(logFile).get(news.sid), ['news hello_there on B'], 'news once, where it landed');
    });
  },
  { timeout: 90_000 },
);
