/**
 * Attack on the question board's index-first routing (lib/conversation/questions.ts): a person
 * answers twice at once ("yes", then "no, wait" a second later: two texts in flight together) and
 * both land on instance B while the question is held on instance A (one redis-server, two boards,
 * each with its own inbound hub, as two Node-RED processes have).
 *
 * The promise (module header, BRIEF ground rules): nothing a person texts vanishes: a reply is the
 * answer to exactly one question, or news on twilio-in's output. On one instance the first text
 * answers and closes the question, and the second is news. Across instances each text is routed on
 * its own fresh index read; both reads see A's record, so both are forwarded to A and claimed on B
 * (not news). A takes the first, its question ends, and the second finds no question: it answers
 * nothing and is only said in the log (onLost), or stays in the engine for a question that never
 * opens again. Either way it ends neither as an answer nor as news: lost.
 *
 * Found: both forwarded replies are taken at once (take(): each `get` sees the question open, each
 * deletes its own record, then both call onReply); the second reaches the question after the first
 * ended it, where a twilio-ask drops it ("a question already closed takes no more answers"). Claimed
 * on B, so never news: the second text vanishes.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sleep, until } from '../support/assertions';
import { boardInstances, claimedIn, message, redisEngines } from '../support/boards';
import { noRedis, suiteNeeding } from '../support/redis';

const ANN = '+15555552501';
const ACCOUNT = 'AC00000000000000000000000000002501';

const instance = boardInstances(ACCOUNT);

suiteNeeding(
  noRedis,
  'attack: two texts at once for a question held on another instance',
  () => {
    const { open } = redisEngines('a25second:');

    it('each text ends once: one answers the question, the other is news; none vanishes', async () => {
      const a = instance(open(), 'A');
      const b = instance(open(), 'B');
      await Promise.all([a.board.ready, b.board.ready]);
      a.ask('ask q ann', ANN, '11');
      await a.board.written(['ask q ann']);
      await until(() => b.board.openFor(ANN) === 1, 'B to hear of A’s question');

      const first = b.hub.publish(message(ANN, 'yes'));
      const second = b.hub.publish(message(ANN, 'no, wait'));
      const claimed = await Promise.all([claimedIn(first), claimedIn(second)]);
      await until(() => a.got.length >= 1, 'an answer to reach A');
      // Time for the second forwarded reply to be taken (or not) and for anything late to show.
      await sleep(500);
      const answers = a.got.length + b.got.length;
      const news = claimed.filter((c) => !c).length;
      const detail = `answers ${JSON.stringify([...a.got, ...b.got])}, claimed ${JSON.stringify(claimed)}, lost ${JSON.stringify([...a.lost, ...b.lost])}, handed to the ended question ${JSON.stringify([...a.late, ...b.late])}`;
      assert.equal(answers, 1, `one answer, never two: ${detail}`);
      assert.equal(answers + news, 2, `every text ends once, as the answer or as news: ${detail}`);
      assert.deepEqual([a.lost, b.lost], [[], []], `nothing said lost: ${detail}`);
    });
  },
  { timeout: 60_000 },
);
