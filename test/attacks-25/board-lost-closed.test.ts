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
import { after, before, it } from 'node:test';
import { Clock, ManualClock } from '../../lib/core/clock';
import { QuestionBoard, Reply } from '../../lib/conversation/questions';
import { InboundEvent, InboundHub, Published } from '../../lib/inbound/hub';
import type { StateEngine } from '../../lib/state/engine';
import { openStateEngine } from '../../lib/state/open';
import { until } from '../support/assertions';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const HOUSE = '+15017122661';
const ACCOUNT = 'AC00000000000000000000000000002581';
let sids = 0;
const message = (from: string, body: string): InboundEvent => ({
  kind: 'message',
  sid: `SM${String(++sids).padStart(32, '0')}`,
  from,
  to: HOUSE,
  params: { Body: body },
  source: 'webhook',
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const claimedIn = async (published: Published) => published.claimed || ((await published.settled) ?? false);

function instance(engine: StateEngine, name: string, clock?: Clock) {
  const hub = new InboundHub();
  const errors: unknown[] = [];
  const lost: string[] = [];
  const board = new QuestionBoard(hub, () => undefined, Math.random, {
    engine,
    accountSid: ACCOUNT,
    instance: name,
    clock,
    onError: (err) => errors.push(err),
    onLost: (question) => lost.push(question),
  });
  const got: string[] = [];
  /** Replies handed to a question after it ended: a twilio-ask drops them (asking.ts answered(): "takes no more answers"). */
  const late: string[] = [];
  /** A question that ends with its first answer, as a twilio-ask's does. */
  const ask = (id: string, person: string, code: string) => {
    let open = true;
    const close: () => void = board.open({
      id,
      person,
      ourNumber: HOUSE,
      code,
      summary: `${id}?`,
      onReply: (r: Reply) => {
        if (!open) return void late.push(`${id}:${r.text}`);
        open = false;
        got.push(`${id}:${r.text}`);
        close();
      },
    });
    return close;
  };
  return { hub, board, got, late, errors, lost, ask };
}

const PEOPLE = Array.from({ length: 300 }, (_, i) => `+1555700${String(i).padStart(4, '0')}`);

/** `engine` that never delivers the board's `closed` events (published while a subscriber was reconnecting). */
function dropsClosed(engine: StateEngine): StateEngine {
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'publish')
        return (channel: string, message: unknown) =>
          (message as { type?: unknown }).type === 'closed' ? Promise.resolve() : target.publish(channel, message);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

type Inside = Record<'remote' | 'unsubscribe', Map<unknown, unknown>>;

suiteNeeding(
  noRedis,
  'attack: `closed` events B never hears',
  () => {
    let redis: RedisServer | undefined;
    const engines: StateEngine[] = [];
    before(async () => void (redis = await startRedis()));
    after(async () => {
      await Promise.all(engines.map((e) => e.close()));
      await redis?.stop();
    });
    const open = () => {
      const engine = openStateEngine({ backend: 'redis', url: redis!.url, prefix: 'a25closed:' });
      engines.push(engine);
      return engine;
    };

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
