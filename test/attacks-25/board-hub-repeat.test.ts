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
import { after, before, it } from 'node:test';
import { QuestionBoard, Reply } from '../../lib/conversation/questions';
import { InboundEvent, InboundHub, Published } from '../../lib/inbound/hub';
import type { StateEngine } from '../../lib/state/engine';
import { openStateEngine } from '../../lib/state/open';
import { until } from '../support/assertions';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const HOUSE = '+15017122661';
const ANN = '+15555552601';
const ACCOUNT = 'AC00000000000000000000000000002601';
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
  'attack: the same text again while its claim is pending',
  () => {
    let redis: RedisServer | undefined;
    const engines: StateEngine[] = [];
    before(async () => void (redis = await startRedis()));
    after(async () => {
      await Promise.all(engines.map((e) => e.close()));
      await redis?.stop();
    });
    const open = () => {
      const engine = openStateEngine({ backend: 'redis', url: redis!.url, prefix: 'a25repeat:' });
      engines.push(engine);
      return engine;
    };

    it('an answer and its repeat: both claimed, one answer; a stranger’s text and its repeat: both unclaimed', async () => {
      const held: { gate?: Promise<void> } = {};
      let release: () => void = () => undefined;
      let readDone: () => void = () => undefined;
      const read = new Promise<void>((r) => (readDone = r));
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
      a.ask('ask q ann', ANN, '11');
      await a.board.written(['ask q ann']);
      held.gate = new Promise<void>((r) => (release = r));
      const event = message(ANN, 'yes');
      const first = b.hub.publish(event);
      await read;
      const again = b.hub.publish({ ...event, source: 'poll' });
      assert.equal(again.delivered, 0, 'the repeat reaches no one');
      assert.ok(first.settled && again.settled, 'both pending');
      const stranger = message('+15555552609', 'hello');
      const s1 = b.hub.publish(stranger);
      const s2 = b.hub.publish({ ...stranger });
      release();
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
