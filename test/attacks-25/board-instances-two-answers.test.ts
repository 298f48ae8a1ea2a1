/**
 * Attack on the question board's index-first routing, end to end: two real red.js processes (A and
 * B) on one redis-server, Twilio's webhooks through a round-robin proxy pointed at B, the simulator
 * as Twilio. A twilio-ask on A asks a person; the person answers twice at once ("yes", and "no" right
 * after: two texts in flight together), both landing on B.
 *
 * The promise (BRIEF ground rules, lib/conversation/questions.ts header): nothing a person texts
 * vanishes; each text is the answer to one question or news; nothing twice. On one instance the first
 * ends the question and the second is news. Here both are routed on B's index reads while the
 * question is open, both forwarded to A and claimed on B (never news); A hands both to the question,
 * whose twilio-ask takes the first and drops the second ("a question already closed takes no more
 * answers"): the second text ends nowhere (unit-level twin: board-second-text-lost.test.ts).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { askInstancesOnRedis } from '../support/ask-instances';
import { eventually, sleep } from '../support/assertions';
import { endings } from '../support/flows';
import { noRedis, suiteNeeding } from '../support/redis';

const PERSON = '+15555552561';
const OTHER = '+15555552562';
const until = <T>(what: string, check: () => T | undefined | false, ms = 20_000): Promise<T> => eventually(what, check, ms);

suiteNeeding(
  noRedis,
  'attack: two answers at once landing on the instance that does not hold their question',
  () => {
    const instances = askInstancesOnRedis({ proxied: 'B' });
    const { logFile, reds, askOnA, text } = instances;

    it('control: both landing on A, which holds the question: one answers, the other is news', async () => {
      instances.proxy.targets = [reds[0].url];
      try {
        await askOnA('q0', OTHER);
        const [first, second] = await Promise.all([text(OTHER, 'yes'), text(OTHER, 'no')]);
        assert.deepEqual([first.status, second.status], [200, 200], 'both webhooks answered');
        await until('the question to end', () => endings(logFile).get('q0'));
        await until('the other text to be news', () => [first.sid, second.sid].some((sid) => endings(logFile).has(sid)));
        await sleep(1_000);
        const news = [first.sid, second.sid].filter((sid) => endings(logFile).has(sid));
        assert.equal(endings(logFile).get('q0')?.length, 1, 'the question ends once');
        assert.equal(news.length, 1, 'the other text is news, once');
      } finally {
        instances.proxy.targets = [reds[1].url];
      }
    });

    it('one ends the question, the other is news; neither vanishes, none twice', async () => {
      await askOnA('q3', PERSON);
      const [first, second] = await Promise.all([text(PERSON, 'yes'), text(PERSON, 'no')]);
      assert.deepEqual([first.status, second.status], [200, 200], 'both webhooks answered');
      await until('the question to end', () => endings(logFile).get('q3'));
      await sleep(2_000);
      const ended = endings(logFile).get('q3') ?? [];
      const news = [first.sid, second.sid].filter((sid) => endings(logFile).has(sid));
      const detail = `question ended ${JSON.stringify(ended)}, news ${JSON.stringify(news.map((sid) => endings(logFile).get(sid)))}`;
      assert.equal(ended.length, 1, `the question ends once: ${detail}`);
      assert.equal(ended.length + news.length, 2, `each text ends once, as the answer or as news: ${detail}`);
    });
  },
  { timeout: 90_000 },
);
