/**
 * The question board across instances (lib/conversation/questions.ts, SharedBoard): two boards, each
 * with its own inbound hub as two Node-RED processes have, on one state engine: the embedded engine
 * opened twice on one directory (two engines of one process share its bus, as two Redis clients
 * would), and a real redis-server (skipped with the reason where it is not installed). A reply landing
 * on the instance that does not hold its question reaches the question, once, and is not news; a reply
 * forwarded to an instance that died stays in the engine until the question's next owner takes it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QuestionBoard, Reply } from '../../../lib/conversation/questions';
import { InboundEvent, InboundHub } from '../../../lib/inbound/hub';
import type { StateEngine } from '../../../lib/state/engine';
import { openStateEngine } from '../../../lib/state/open';
import { until } from '../../support/assertions';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../../support/redis';

const HOUSE = '+15017122661';
const ANN = '+15555550130';
const BOB = '+15555550131';
const ACCOUNT = 'AC00000000000000000000000000000001';
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

/** An instance: its own hub and board on `engine`; `got` holds each answer its questions took, as "question:text". */
function instance(engine: StateEngine, name: string) {
  const hub = new InboundHub();
  const errors: unknown[] = [];
  const clarified: string[][] = [];
  const board = new QuestionBoard(hub, (_p, _f, open) => clarified.push(open.map((q) => q.code)), Math.random, {
    engine,
    accountSid: ACCOUNT,
    instance: name,
    onError: (err) => errors.push(err),
  });
  const got: string[] = [];
  const open = (id: string, person: string, code: string) =>
    board.open({ id, person, ourNumber: HOUSE, code, summary: `${id}?`, onReply: (r: Reply) => got.push(`${id}:${r.text}`) });
  return { hub, board, got, errors, clarified, open };
}

function sharedBoardSuite(name: string, engines: () => { open(): StateEngine; dispose(): Promise<void> }) {
  describe(`the question board across instances (${name})`, { timeout: 60_000 }, () => {
    let store: ReturnType<typeof engines>;
    before(() => (store = engines()));
    after(() => store.dispose());

    it('a reply landing on the other instance reaches its question there, once, and is not news there', async () => {
      const a = instance(store.open(), 'A');
      const b = instance(store.open(), 'B');
      await Promise.all([a.board.ready, b.board.ready]);
      const close = a.open('ask q1 ann', ANN, '11');
      await a.board.written(['ask q1 ann']);
      await until(() => b.board.openFor(ANN) === 1, 'B to hear of A’s question');
      const published = b.hub.publish(message(ANN, 'yes'));
      assert.equal(published.claimed, true, 'claimed where it landed: twilio-in on B does not pass it on');
      await until(() => a.got.length === 1, 'the answer to reach A');
      assert.deepEqual(a.got, ['ask q1 ann:yes']);
      assert.deepEqual(b.got, []);
      close();
      await until(() => b.board.openFor(ANN) === 0, 'B to hear it closed');
      assert.equal(b.hub.publish(message(ANN, 'yes again')).claimed, false, 'closed: news');
      await sleep(100);
      assert.deepEqual(a.got, ['ask q1 ann:yes'], 'nothing more for the closed question');
      assert.deepEqual(await store.open().scan(`board/`, 100), [], 'nothing left in the engine');
      assert.deepEqual([a.errors, b.errors], [[], []]);
    });

    it('several open across instances: a code picks one, wherever it is held; no code is news and one clarifying message', async () => {
      const a = instance(store.open(), 'A2');
      const b = instance(store.open(), 'B2');
      await Promise.all([a.board.ready, b.board.ready]);
      const closeA = a.open('ask q2 ann', ANN, '22');
      await a.board.written(['ask q2 ann']);
      await until(() => b.board.openFor(ANN) === 1, 'B to hear of A’s question');
      const code = b.board.codeFor(ANN);
      assert.notEqual(code, '22', 'a code no question of that person has, on any instance');
      const closeB = b.open('ask q3 ann', ANN, code);
      await b.board.written(['ask q3 ann']);
      await until(() => a.board.openFor(ANN) === 2, 'A to hear of B’s question');
      assert.equal(a.hub.publish(message(ANN, `yes ${code}`)).claimed, true);
      assert.equal(a.hub.publish(message(ANN, 'no 22')).claimed, true);
      assert.equal(a.hub.publish(message(ANN, 'maybe')).claimed, false, 'no code: news');
      assert.equal(a.clarified.length, 1, 'one clarifying message');
      assert.deepEqual(a.clarified[0].sort(), ['22', code].sort());
      await until(() => b.got.length === 1, 'the answer to reach B');
      assert.deepEqual([a.got, b.got], [['ask q2 ann:no'], [`ask q3 ann:yes`]]);
      closeA();
      closeB();
    });

    it('a reply forwarded to an instance that died stays in the engine; the question’s next owner takes it as it opens the question again', async () => {
      const deadEngine = store.open();
      const dead = instance(deadEngine, 'dead');
      const b = instance(store.open(), 'B3');
      await Promise.all([dead.board.ready, b.board.ready]);
      dead.open('ask q4 bob', BOB, '44');
      await dead.board.written(['ask q4 bob']);
      await until(() => b.board.openFor(BOB) === 1, 'B to hear of the question');
      // A power cut: the instance hears nothing more, and nothing of it closes its questions.
      await dead.board.leave();
      assert.equal(b.hub.publish(message(BOB, 'yes')).claimed, true, 'claimed: not news');
      const engine = store.open();
      for (let w = 0; (await engine.scan('board/', 100)).filter((r) => r.key.includes('/fwd/')).length === 0 && w < 100; w++)
        await sleep(20);
      assert.equal((await engine.scan('board/', 100)).filter((r) => r.key.includes('/fwd/')).length, 1, 'the reply is kept in the engine');
      // The question's new owner (a restart of it, or the instance taking its waits over) opens it again.
      const next = instance(store.open(), 'next');
      await next.board.ready;
      next.open('ask q4 bob', BOB, '44');
      await until(() => next.got.length === 1, 'the new owner to take the stored answer');
      assert.deepEqual(next.got, ['ask q4 bob:yes']);
      assert.equal((await engine.scan('board/', 100)).filter((r) => r.key.includes('/fwd/')).length, 0, 'taken once, gone');
      // B now routes to the new owner.
      await until(() => b.board.openFor(BOB) === 1, 'B to know the new owner');
      assert.equal(b.hub.publish(message(BOB, 'no')).claimed, true);
      await until(() => next.got.length === 2, 'the next answer to reach the new owner');
      assert.deepEqual(dead.got, [], 'the dead instance took nothing');
    });

    it('a third instance started later reads the open questions from the engine', async () => {
      const a = instance(store.open(), 'A4');
      await a.board.ready;
      const close = a.open('ask q5 ann', ANN, '55');
      await a.board.written(['ask q5 ann']);
      const late = instance(store.open(), 'late');
      await late.board.ready;
      assert.equal(late.board.openFor(ANN), 1, 'known at once from the index');
      assert.equal(late.hub.publish(message(ANN, 'yes')).claimed, true);
      await until(() => a.got.length === 1, 'the answer to reach A');
      close();
    });
  });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-board-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

sharedBoardSuite('embedded engine opened twice on one directory', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'e-'));
  const opened: StateEngine[] = [];
  return {
    open: () => {
      const engine = openStateEngine({ backend: 'embedded', dir });
      opened.push(engine);
      return engine;
    },
    dispose: async () => void (await Promise.all(opened.map((e) => e.close()))),
  };
});

suiteNeeding(noRedis, 'the question board across instances on a real redis-server', () => {
  let redis: RedisServer | undefined;
  before(async () => void (redis = await startRedis()));
  after(() => redis?.stop());
  let n = 0;
  sharedBoardSuite('redis', () => {
    const opened: StateEngine[] = [];
    const prefix = `t${++n}:`;
    return {
      open: () => {
        const engine = openStateEngine({ backend: 'redis', url: redis!.url, prefix });
        opened.push(engine);
        return engine;
      },
      dispose: async () => void (await Promise.all(opened.map((e) => e.close()))),
    };
  });
});
