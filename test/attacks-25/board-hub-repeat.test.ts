/**
 * Attack on the inbound hub's pending claims (lib/inbound/hub.ts) with the question board's look: the
 * same text (one MessageSid) published again while its first publication's claim is still pending
 * (the board is reading the index), as a webhook and a poll of one text, or Twilio's retry, do when
 * they reach the hub together. The promise (hub.ts: "a repeat of the same event while pending waits
 * on the same promise"): the repeat reaches no one, and ends as the first does: both claimed when the
 * first answers a question (neither is news), both unclaimed when it does not (the receivers'
 * heardFirst keeps the second from being news twice); the question gets one answer.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sleep, until } from '../support/assertions';
import { boardInstances, claimedIn, heldScans, message, redisEngines } from '../support/boards';
import { noRedis, suiteNeeding } from '../support/redis';

const ANN = '+15555552601';
const ACCOUNT = 'AC00000000000000000000000000002601';

const instance = boardInstances(ACCOUNT);

suiteNeeding(
  noRedis,
  'attack: the same text again while its claim is pending',
  () => {
    const { open } = redisEngines('a25repeat:');

    it('an answer and its repeat: both claimed, one answer; a stranger’s text and its repeat: both unclaimed', async () => {
      const slow = heldScans(open(), `board/${ACCOUNT}/q/`);
      const a = instance(open(), 'A');
      const b = instance(slow.engine, 'B');
      await Promise.all([a.board.ready, b.board.ready]);
      a.ask('ask q ann', ANN, '11');
      await a.board.written(['ask q ann']);
      slow.hold();
      const event = message(ANN, 'yes');
      const first = b.hub.publish(event);
      await slow.read;
      const again = b.hub.publish({ ...event, source: 'poll' });
      assert.equal(again.delivered, 0, 'the repeat reaches no one');
      assert.ok(first.settled && again.settled, 'both pending');
      const stranger = message('+15555552609', 'hello');
      const s1 = b.hub.publish(stranger);
      const s2 = b.hub.publish({ ...stranger });
      slow.release();
      assert.deepEqual(await Promise.all([claimedIn(first), claimedIn(again)]), [true, true], 'both claimed');
      assert.deepEqual(await Promise.all([claimedIn(s1), claimedIn(s2)]), [false, false], 'both unclaimed');
      await until(() => a.got.length === 1, 'the answer to reach A');
      await sleep(300);
      assert.deepEqual(a.got, ['ask q ann:yes'], 'one answer');
      assert.deepEqual([a.errors, b.errors, a.lost, b.lost, a.late], [[], [], [], [], []]);
    });
  },
  { timeout: 60_000 },
);
