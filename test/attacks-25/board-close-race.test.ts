/**
 * Attack on the question board's index-first routing (lib/conversation/questions.ts): a question
 * held on instance A ends by its timeout at the very moment its answer lands on instance B (one
 * redis-server, two boards each with its own inbound hub, as two Node-RED processes have). B reads
 * the index (its look) while A's record is still there; A removes it right after.
 *
 * The promise (BRIEF, attack list): the answer is news exactly once or the answer exactly once:
 * never both, never neither. Here the question has ended, so the answer cannot take it: the text must
 * be news (B's twilio-in passes it on).
 *
 * The moment is made exact, not hoped for: B's engine holds back the result of its index read until
 * A's close has removed the record (the read was made before; Redis answered it in time, the reply
 * was just slow to come back), as a busy event loop or a slow network does.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sleep, until } from '../support/assertions';
import { boardInstances, claimedIn, heldScans, message, redisEngines } from '../support/boards';
import { noRedis, suiteNeeding } from '../support/redis';

const ANN = '+15555552511';
const ACCOUNT = 'AC00000000000000000000000000002511';

const instance = boardInstances(ACCOUNT);

suiteNeeding(
  noRedis,
  'attack: a question closing on one instance as its answer lands on another',
  () => {
    const { open } = redisEngines('a25close:');

    it('the answer of a question that just ended is news on the instance it landed on, once; never neither', async () => {
      const raw = open();
      const slow = heldScans(open(), `board/${ACCOUNT}/q/`);
      const a = instance(open(), 'A');
      const b = instance(slow.engine, 'B');
      await Promise.all([a.board.ready, b.board.ready]);
      const closeA = a.ask('ask q ann', ANN, '11');
      await a.board.written(['ask q ann']);
      await until(() => b.board.openFor(ANN) === 1, 'B to hear of A’s question');

      slow.hold();
      const published = b.hub.publish(message(ANN, 'yes'));
      // B's look has read the index (the record was there); its reply is on its way. A's timeout now.
      await slow.read;
      closeA();
      const key = `board/${ACCOUNT}/q/${encodeURIComponent(ANN)}/${encodeURIComponent('ask q ann')}`;
      for (let w = 0; (await raw.get(key)) !== undefined; w++) {
        assert.ok(w < 500, 'A removes its index record');
        await sleep(10);
      }
      slow.release();
      const claimed = await claimedIn(published);
      await sleep(500);
      const answers = a.got.length + a.late.length + b.got.length;
      const detail = `claimed ${claimed}, answers ${JSON.stringify([...a.got, ...b.got])}, handed to the ended question ${JSON.stringify(a.late)}, lost ${JSON.stringify([...a.lost, ...b.lost])}, forwarded records left ${(await raw.scan(`board/${ACCOUNT}/fwd/`, 10)).length}`;
      assert.ok(!(claimed && answers === 0), `never neither (claimed on B, answered nowhere): ${detail}`);
      assert.ok(!(!claimed && answers > 0), `never both: ${detail}`);
      assert.equal(claimed, false, `the question had ended: news: ${detail}`);
    });
  },
  { timeout: 60_000 },
);
