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
import { after, before, it } from 'node:test';
import { QuestionBoard, Reply } from '../../lib/conversation/questions';
import { InboundEvent, InboundHub, Published } from '../../lib/inbound/hub';
import type { StateEngine } from '../../lib/state/engine';
import { openStateEngine } from '../../lib/state/open';
import { until } from '../support/assertions';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const HOUSE = '+15017122661';
const ANN = '+15555552501';
const ACCOUNT = 'AC00000000000000000000000000002501';
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

function instance(engine: StateEngine, name: string) {
  const hub = new InboundHub();
  const errors: unknown[] = [];
  const lost: string[] = [];
  const board = new QuestionBoard(hub, () => undefined, Math.random, {
    engine,
    accountSid: ACCOUNT,
    instance: name,
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

suiteNeeding(
  noRedis,
  'attack: two texts at once for a question held on another instance',
  () => {
    let redis: RedisServer | undefined;
    const engines: StateEngine[] = [];
    before(async () => void (redis = await startRedis()));
    after(async () => {
      await Promise.all(engines.map((e) => e.close()));
      await redis?.stop();
    });
    const open = () => {
      const engine = openStateEngine({ backend: 'redis', url: redis!.url, prefix: 'a25second:' });
      engines.push(engine);
      return engine;
    };

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
