/**
 * Attack on the question board's index-first routing (lib/conversation/questions.ts) as an unlucky
 * operator's Redis behaves: the answer to a question held on instance A lands on instance B; B's
 * index read succeeds, and Redis refuses the very next write (here for real: its memory limit is
 * reached, `CONFIG SET maxmemory 1`, "OOM command not allowed"; a failover or a dropped connection
 * does the same). B forwards a reply by writing it to the engine for A.
 *
 * The promise (commit d9fbb08: "an engine that cannot be read makes the text news"; BRIEF: nothing
 * accepted is lost): when the engine fails while routing, the text is news, not lost. forward()
 * claims the text at once and writes the reply afterwards, fire and forget: a failed write is only
 * reported (onError), the text was already claimed (B's twilio-in does not pass it on, the webhook is
 * answered 200 so Twilio never retries), and A never hears it: lost.
 *
 * Also: the board is closed (a redeploy: the account node leaves) while a look is pending: the text
 * still ends once (answer or news), nothing thrown.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import type { StateEngine } from '../../lib/state/engine';
import { sleep, until } from '../support/assertions';
import { boardInstances, claimedIn, intercepted, message, redisEngines } from '../support/boards';
import { noRedis, suiteNeeding } from '../support/redis';

const ANN = '+15555552571';
const ACCOUNT = 'AC00000000000000000000000000002571';

const instance = boardInstances(ACCOUNT);

/** `engine` whose scans answer only once `held.gate` resolves (the read is made at once; its answer is slow to come back). */
function unlucky(engine: StateEngine, held: { gate?: Promise<void> }): StateEngine {
  return intercepted(engine, (target, prop) =>
    prop === 'scan'
      ? async (...args: unknown[]) => {
          const result = await (target.scan as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (held.gate) await held.gate;
          return result;
        }
      : undefined,
  );
}

suiteNeeding(
  noRedis,
  'attack: the engine fails right after the look',
  () => {
    const redis = redisEngines('a25fails:');
    const open = redis.open;

    it('the write of the forwarded reply fails: the text is news, not claimed and lost', async () => {
      const held: { gate?: Promise<void> } = {};
      let release: () => void = () => undefined;
      const a = instance(open(), 'A');
      const b = instance(unlucky(open(), held), 'B');
      await Promise.all([a.board.ready, b.board.ready]);
      a.ask('ask q ann', ANN, '11');
      await a.board.written(['ask q ann']);
      await until(() => b.board.openFor(ANN) === 1, 'B to hear of A’s question');
      held.gate = new Promise<void>((r) => (release = r));
      const published = b.hub.publish(message(ANN, 'yes'));
      // The index was read; Redis refuses writes from now on (its memory limit reached: a real OOM).
      const admin = new Redis(redis.url());
      const claimed = await (async () => {
        try {
          await admin.config('SET', 'maxmemory', '1');
          release();
          const result = await claimedIn(published);
          await sleep(500);
          return result;
        } finally {
          await admin.config('SET', 'maxmemory', '0');
          admin.disconnect();
        }
      })();
      const detail = `claimed on B ${claimed}, answers ${JSON.stringify(a.got)}, B's errors ${JSON.stringify(b.errors.map(String))}`;
      assert.ok(claimed ? a.got.length === 1 : a.got.length === 0, `the answer or news, once: ${detail}`);
    });

    it('the board leaves (a redeploy) while a look is pending: the text ends once, nothing thrown', async () => {
      const held: { gate?: Promise<void> } = {};
      let release: () => void = () => undefined;
      const a = instance(open(), 'A2');
      const b = instance(unlucky(open(), held), 'B2');
      await Promise.all([a.board.ready, b.board.ready]);
      const BOB = '+15555552572';
      a.ask('ask q bob', BOB, '22');
      await a.board.written(['ask q bob']);
      await until(() => b.board.openFor(BOB) === 1, 'B to hear of A’s question');
      held.gate = new Promise<void>((r) => (release = r));
      const published = b.hub.publish(message(BOB, 'yes'));
      await b.board.leave();
      release();
      const claimed = await claimedIn(published);
      if (claimed) await until(() => a.got.length === 1, 'the answer to reach A', 3_000);
      await sleep(300);
      assert.deepEqual(a.got, claimed ? ['ask q bob:yes'] : [], 'the answer once, or news');
      assert.deepEqual(b.errors, [], 'nothing thrown');
    });
  },
  { timeout: 60_000 },
);
