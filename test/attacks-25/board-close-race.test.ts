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
import { after, before, it } from 'node:test';
import { QuestionBoard, Reply } from '../../lib/conversation/questions';
import { InboundEvent, InboundHub, Published } from '../../lib/inbound/hub';
import type { StateEngine } from '../../lib/state/engine';
import { openStateEngine } from '../../lib/state/open';
import { until } from '../support/assertions';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const HOUSE = '+15017122661';
const ANN = '+15555552511';
const ACCOUNT = 'AC00000000000000000000000000002511';
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

/** `engine` whose scans under `prefix` answer only once `gate` resolves (the read itself is made at once; `read()` is told when it is done). */
function slowScans(engine: StateEngine, prefix: string, gate: () => Promise<void> | undefined, read: () => void): StateEngine {
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'scan')
        return async (p: string, ...rest: unknown[]) => {
          const result = await (target.scan as (...args: unknown[]) => Promise<unknown>).call(target, p, ...rest);
          const held = p.startsWith(prefix) ? gate() : undefined;
          if (held) {
            read();
            await held;
          }
          return result;
        };
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

suiteNeeding(
  noRedis,
  'attack: a question closing on one instance as its answer lands on another',
  () => {
    let redis: RedisServer | undefined;
    const engines: StateEngine[] = [];
    before(async () => void (redis = await startRedis()));
    after(async () => {
      await Promise.all(engines.map((e) => e.close()));
      await redis?.stop();
    });
    const open = () => {
      const engine = openStateEngine({ backend: 'redis', url: redis!.url, prefix: 'a25close:' });
      engines.push(engine);
      return engine;
    };

    it('the answer of a question that just ended is news on the instance it landed on, once; never neither', async () => {
      const raw = open();
      const held: { gate?: Promise<void> } = {};
      let readDone: () => void = () => undefined;
      const read = new Promise<void>((r) => (readDone = r));
      let release: () => void = () => undefined;
      const a = instance(open(), 'A');
      const b = instance(
        slowScans(
          open(),
          `board/${ACCOUNT}/q/`,
          () => held.gate,
          () => readDone(),
        ),
        'B',
      );
      await Promise.all([a.board.ready, b.board.ready]);
      const closeA = a.ask('ask q ann', ANN, '11');
      await a.board.written(['ask q ann']);
      await until(() => b.board.openFor(ANN) === 1, 'B to hear of A’s question');

      held.gate = new Promise<void>((r) => (release = r));
      const published = b.hub.publish(message(ANN, 'yes'));
      // B's look has read the index (the record was there); its reply is on its way. A's timeout now.
      await read;
      closeA();
      const key = `board/${ACCOUNT}/q/${encodeURIComponent(ANN)}/${encodeURIComponent('ask q ann')}`;
      for (let w = 0; (await raw.get(key)) !== undefined; w++) {
        assert.ok(w < 500, 'A removes its index record');
        await sleep(10);
      }
      release();
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
