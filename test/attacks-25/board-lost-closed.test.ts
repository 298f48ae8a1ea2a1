/**
 * Attack on the question board's mirror (lib/conversation/questions.ts): "the index is the truth, the
 * mirror a cache". Redis pub/sub delivers at most once: events published while a subscriber's
 * connection is down (a Redis restart, a failover, a network blip) are never delivered. Instance A
 * opens and closes 300 questions, one per person, while B hears every `opened` but none of the
 * `closed` (they are dropped, as a reconnect drops them). The people never text again.
 *
 * The promise (the brief's "does anything grow without bound": the mirror and subscriptions shrink
 * back): once the index records are gone, B keeps nothing of them. B only forgets a mirrored question
 * when it hears `closed` or when its person texts (the look); nothing else ever reads the index again
 * (join() reads it once, at start), so each missed `closed` left a mirror entry and an inbound-hub
 * subscription for good, and B counted the question as open (openFor) for ever: its next question to
 * that person carried a code as if another were open. Now the board reads the whole index again every
 * minute (its clock): within a minute B keeps nothing of them.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Clock, ManualClock } from '../../lib/core/clock';
import type { StateEngine } from '../../lib/state/engine';
import { sleep, until } from '../support/assertions';
import { boardInstances, claimedIn, intercepted, message, redisEngines } from '../support/boards';
import { noRedis, suiteNeeding } from '../support/redis';

const ACCOUNT = 'AC00000000000000000000000000002581';

const board = boardInstances(ACCOUNT);
const instance = (engine: StateEngine, name: string, clock?: Clock) => board(engine, name, { clock });

const PEOPLE = Array.from({ length: 300 }, (_, i) => `+1555700${String(i).padStart(4, '0')}`);

/** `engine` that never delivers the board's `closed` events (published while a subscriber was reconnecting). */
function dropsClosed(engine: StateEngine): StateEngine {
  return intercepted(engine, (target, prop) =>
    prop === 'publish'
      ? (channel: string, message: unknown) =>
          (message as { type?: unknown }).type === 'closed' ? Promise.resolve() : target.publish(channel, message)
      : undefined,
  );
}

type Inside = Record<'remote' | 'unsubscribe', Map<unknown, unknown>>;

suiteNeeding(
  noRedis,
  'attack: `closed` events B never hears',
  () => {
    const { open } = redisEngines('a25closed:');

    it(`${PEOPLE.length} questions opened and closed on A, their \`closed\` lost: B keeps nothing of them once their records are gone`, async () => {
      const raw = open();
      const a = instance(dropsClosed(open()), 'A');
      const bClock = new ManualClock();
      const b = instance(open(), 'B', bClock);
      await Promise.all([a.board.ready, b.board.ready]);
      const baseline = { subscriptions: b.hub.subscriptions };
      const closes = PEOPLE.map((person, i) => a.ask(`q${i}`, person, '11'));
      await a.board.written(PEOPLE.map((_, i) => `q${i}`));
      await until(() => PEOPLE.every((p) => b.board.openFor(p) === 1), 'B to hear every question opened');
      closes.forEach((close) => close());
      for (let w = 0; (await raw.scan(`board/${ACCOUNT}/q/`, 10)).length > 0; w++) {
        assert.ok(w < 500, 'A removes its index records');
        await sleep(10);
      }
      // B reads the whole index again within a minute (its clock moved on), and what is gone from it goes.
      await bClock.advance(60_000);
      const inside = b.board as unknown as Inside;
      for (let w = 0; inside.remote.size > 0 && w < 250; w++) await sleep(20);
      const still = PEOPLE.filter((p) => b.board.openFor(p) > 0).length;
      const detail = `a minute on: B counts ${still} of ${PEOPLE.length} still open, mirrors ${inside.remote.size} people, ${inside.unsubscribe.size} board subscriptions, hub subscriptions ${b.hub.subscriptions} (was ${baseline.subscriptions}); the index holds none`;
      console.log(`board: ${detail}`);
      // What does hold: a text from one of them is routed on the index, news, and that one is forgotten.
      assert.equal(await claimedIn(b.hub.publish(message(PEOPLE[0], 'yes'))), false, 'a text from one of them is news');
      assert.equal(b.board.openFor(PEOPLE[0]), 0, 'and that one is forgotten');
      assert.equal(still, 0, `none counted open: ${detail}`);
      assert.equal(inside.remote.size, 0, `nothing mirrored: ${detail}`);
      assert.equal(b.hub.subscriptions, baseline.subscriptions, `no subscription left: ${detail}`);
    });
  },
  { timeout: 60_000 },
);
