/**
 * Attack on the question board's index-first routing (lib/conversation/questions.ts) by a stranger:
 * a flood of (signed) texts from 20,000 distinct numbers that answer nothing. Each now costs an
 * index read (the board's onUnclaimed look), where before it cost nothing. The promise: the cost is
 * one bounded read per text (SCAN_PAGE records at most), every text is news, and nothing grows
 * without bound: the hub's pending claims settle and go, its memory of events stays at its cap, the
 * board keeps no person, subscription or mirror entry for a stranger. And the mirror shrinks back:
 * a question another instance opened (its `opened` never heard here) that a look added to the
 * mirror leaves it, and its subscription goes, once that question closes.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { QuestionBoard } from '../../lib/conversation/questions';
import { InboundHub } from '../../lib/inbound/hub';
import type { StateEngine } from '../../lib/state/engine';
import { until } from '../support/assertions';
import { boardInstances, claimedIn, intercepted, message, redisEngines } from '../support/boards';
import { noRedis, suiteNeeding } from '../support/redis';

const ANN = '+15555552521';
const ACCOUNT = 'AC00000000000000000000000000002521';

const instance = boardInstances(ACCOUNT);

const FLOOD = 20_000;

/** `engine` counting its scans (and the largest page asked for), and dropping the board's `opened` events while `dropOpened` says. */
function watched(engine: StateEngine) {
  const seen = { scans: 0, largestPage: 0, dropOpened: false };
  const proxy = intercepted(engine, (target, prop) => {
    if (prop === 'scan')
      return (p: string, limit: number, ...rest: unknown[]) => {
        seen.scans++;
        seen.largestPage = Math.max(seen.largestPage, limit);
        return (target.scan as (...args: unknown[]) => Promise<unknown>).call(target, p, limit, ...rest);
      };
    if (prop === 'publish')
      return (channel: string, message: unknown) =>
        seen.dropOpened && (message as { type?: unknown }).type === 'opened' ? Promise.resolve() : target.publish(channel, message);
    return undefined;
  });
  return { engine: proxy, seen };
}

type Inside = Record<'byPerson' | 'unsubscribe' | 'pending' | 'clarified' | 'remote' | 'writes', Map<unknown, unknown>>;
const sizes = (board: QuestionBoard) => {
  const inside = board as unknown as Inside;
  return Object.fromEntries(
    (['byPerson', 'unsubscribe', 'pending', 'clarified', 'remote', 'writes'] as const).map((k) => [k, inside[k].size]),
  );
};
const hubInside = (hub: InboundHub) => hub as unknown as { settling: Map<unknown, unknown>; seen: Map<unknown, unknown> };

suiteNeeding(
  noRedis,
  'attack: a flood of texts that answer nothing, each an index read',
  () => {
    const { open } = redisEngines('a25flood:');

    it(`${FLOOD} texts from ${FLOOD} strangers: each news after one bounded read; nothing left behind`, async () => {
      const a = instance(open(), 'A');
      const w = watched(open());
      const b = instance(w.engine, 'B');
      await Promise.all([a.board.ready, b.board.ready]);
      // One real question elsewhere, so the index is not empty.
      a.ask('ask q ann', ANN, '11');
      await a.board.written(['ask q ann']);
      await until(() => b.board.openFor(ANN) === 1, 'B to hear of A’s question');
      const before = { board: sizes(b.board), subscriptions: b.hub.subscriptions, scans: w.seen.scans };
      const heapBefore = process.memoryUsage().heapUsed;
      let news = 0;
      let pendingMost = 0;
      for (let i = 0; i < FLOOD; i += 1000) {
        const batch: Array<Promise<boolean>> = [];
        for (let j = i; j < i + 1000; j++) {
          const published = b.hub.publish(message(`+1999${String(j).padStart(7, '0')}`, `hello ${j} 42`));
          batch.push(claimedIn(published));
        }
        pendingMost = Math.max(pendingMost, hubInside(b.hub).settling.size);
        news += (await Promise.all(batch)).filter((c) => !c).length;
      }
      const heapAfter = process.memoryUsage().heapUsed;
      const scans = w.seen.scans - before.scans;
      console.log(
        `flood: ${FLOOD} texts, news ${news}, index reads ${scans}, largest page ${w.seen.largestPage}, pending claims at most ${pendingMost}, after ${hubInside(b.hub).settling.size}, hub memory ${hubInside(b.hub).seen.size}, heap +${Math.round((heapAfter - heapBefore) / 1e6)} MB, board ${JSON.stringify(sizes(b.board))}`,
      );
      assert.equal(news, FLOOD, 'every text is news');
      assert.ok(scans <= FLOOD, `one index read per text at most (${scans})`);
      assert.ok(w.seen.largestPage <= 500, 'each read bounded');
      assert.equal(hubInside(b.hub).settling.size, 0, 'no pending claim left');
      assert.ok(hubInside(b.hub).seen.size <= 10_000, 'the hub’s memory of events at its cap');
      assert.deepEqual(sizes(b.board), before.board, 'the board keeps nothing of the strangers');
      assert.equal(b.hub.subscriptions, before.subscriptions, 'no subscription for a stranger');
      assert.deepEqual([a.errors, b.errors, a.got, b.got], [[], [], [], []]);
    });

    it('a question a look put in the mirror leaves it, with its subscription, once it closes', async () => {
      const w = watched(open());
      const a = instance(w.engine, 'A2');
      const b = instance(open(), 'B2');
      await Promise.all([a.board.ready, b.board.ready]);
      const baseline = { board: sizes(b.board), subscriptions: b.hub.subscriptions };
      const CAT = '+15555552529';
      // A's `opened` is never heard by B: only B's look can put the question in B's mirror.
      w.seen.dropOpened = true;
      const close = a.ask('ask q cat', CAT, '33');
      await a.board.written(['ask q cat']);
      assert.equal(b.board.openFor(CAT), 0, 'B has not heard of it');
      // Cat answers; the text lands on B, which knows no question of hers: its look finds A's.
      assert.equal(await claimedIn(b.hub.publish(message(CAT, 'yes'))), true, 'the index says: A’s question takes it');
      await until(() => a.got.length === 1, 'the answer to reach A');
      // Answered, it closed on A; B hears `closed`.
      await until(() => b.board.openFor(CAT) === 0, 'B to hear it closed');
      await until(
        () => JSON.stringify(sizes(b.board)) === JSON.stringify(baseline.board) && b.hub.subscriptions === baseline.subscriptions,
        `B's mirror and subscriptions back to what they were (${JSON.stringify(sizes(b.board))}, ${b.hub.subscriptions} subscriptions)`,
        3_000,
      );
      close();
      assert.deepEqual([a.errors, b.errors], [[], []]);
    });
  },
  { timeout: 60_000 },
);
