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
import { Clock, ManualClock } from '../../../lib/core/clock';
import type { StateEngine } from '../../../lib/state/engine';
import { openStateEngine } from '../../../lib/state/open';
import { sleep, until } from '../../support/assertions';
import { HOUSE, boardInstances, claimedIn, intercepted, message } from '../../support/boards';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../../support/redis';

const ANN = '+15555550130';
const BOB = '+15555550131';
const CAT = '+15555550132';
const ACCOUNT = 'AC00000000000000000000000000000001';

/** An engine whose messages `drop` says are never sent (held back as a slow or lost event would be), and whose scans fail while `failing()` says. */
function unsteady(engine: StateEngine, drop: (message: unknown) => boolean, failing: () => boolean = () => false): StateEngine {
  return intercepted(engine, (target, prop) => {
    if (prop === 'publish')
      return (channel: string, message: unknown) => (drop(message) ? Promise.resolve() : target.publish(channel, message));
    if (prop === 'scan' && failing()) return () => Promise.reject(new Error('the engine cannot be read'));
    return undefined;
  });
}
const typed = (type: string) => (message: unknown) => (message as { type?: unknown }).type === type;

/** An instance: its own hub and board on `engine`; `got` holds each answer its questions took, as "question:text". */
const board = boardInstances(ACCOUNT);
const instance = (engine: StateEngine, name: string, random: () => number = Math.random, clock?: Clock) =>
  board(engine, name, { random, clock });

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
      assert.equal(await claimedIn(published), true, 'claimed where it landed: twilio-in on B does not pass it on');
      await until(() => a.got.length === 1, 'the answer to reach A');
      assert.deepEqual(a.got, ['ask q1 ann:yes']);
      assert.deepEqual(b.got, []);
      close();
      await until(() => b.board.openFor(ANN) === 0, 'B to hear it closed');
      assert.equal(await claimedIn(b.hub.publish(message(ANN, 'yes again'))), false, 'closed: news');
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
      assert.equal(await claimedIn(a.hub.publish(message(ANN, `yes ${code}`))), true);
      assert.equal(await claimedIn(a.hub.publish(message(ANN, 'no 22'))), true);
      assert.equal(await claimedIn(a.hub.publish(message(ANN, 'maybe'))), false, 'no code: news');
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
      const bClock = new ManualClock();
      const b = instance(store.open(), 'B3', Math.random, bClock);
      await Promise.all([dead.board.ready, b.board.ready]);
      dead.open('ask q4 bob', BOB, '44');
      await dead.board.written(['ask q4 bob']);
      await until(() => b.board.openFor(BOB) === 1, 'B to hear of the question');
      // A power cut: the instance hears nothing more, and nothing of it closes its questions.
      await dead.board.leave();
      const claimed = claimedIn(b.hub.publish(message(BOB, 'yes')));
      const engine = store.open();
      for (let w = 0; (await engine.scan('board/', 100)).filter((r) => r.key.includes('/fwd/')).length === 0 && w < 100; w++)
        await sleep(20);
      // No word from the holder within its time (it died): claimed, and kept for the question's next owner.
      await bClock.advance(5_000);
      assert.equal(await claimed, true, 'claimed: not news');
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
      assert.equal(await claimedIn(b.hub.publish(message(BOB, 'no'))), true);
      await until(() => next.got.length === 2, 'the next answer to reach the new owner');
      assert.deepEqual(dead.got, [], 'the dead instance took nothing');
    });

    it('a question record whose deadline is long past (its instance died, its node was removed) takes no text: news again', async () => {
      const a = instance(store.open(), 'A5');
      const b = instance(store.open(), 'B5');
      await Promise.all([a.board.ready, b.board.ready]);
      a.board.open({
        id: 'ask stale bob',
        person: BOB,
        ourNumber: HOUSE,
        code: '66',
        summary: '?',
        deadline: Date.now() - 11 * 60_000,
        onReply: () => undefined,
      });
      await a.board.written(['ask stale cat']);
      await sleep(100);
      assert.equal(b.board.openFor(CAT), 0);
      assert.equal(await claimedIn(b.hub.publish(message(CAT, 'yes'))), false, 'news');
    });

    it('two instances asking one person at the same moment never hand out one code', async () => {
      // Both boards would pick 10 first (the same random numbers): the claim in the engine decides.
      const sequence = () => {
        let i = 0;
        return () => [0, 0.5, 0.7][i++ % 3];
      };
      const a = instance(store.open(), 'A6', sequence());
      const b = instance(store.open(), 'B6', sequence());
      await Promise.all([a.board.ready, b.board.ready]);
      const dan = '+15555550133';
      const [codeA, codeB] = await Promise.all([
        a.board.claimCode(dan, a.board.codeFor(dan), 60_000),
        b.board.claimCode(dan, b.board.codeFor(dan), 60_000),
      ]);
      assert.notEqual(codeA, codeB);
      assert.ok([codeA, codeB].includes('10'), `one of them kept 10: ${codeA}, ${codeB}`);
      const closeA = a.open('ask q7 dan', dan, codeA);
      const closeB = b.open('ask q7b dan', dan, codeB);
      await a.board.written(['ask q7 dan']);
      await b.board.written(['ask q7b dan']);
      closeA();
      closeB();
      await until(() => a.board.openFor(dan) === 0 && b.board.openFor(dan) === 0, 'both to hear the others closed');
      const engine = store.open();
      for (let w = 0; (await engine.scan('board/', 100)).some((r) => r.key.includes('/code/')) && w < 100; w++) await sleep(20);
      assert.deepEqual(
        (await engine.scan('board/', 100)).filter((r) => r.key.includes('/code/')),
        [],
        'the claims are given back as the questions close',
      );
    });

    it('a reply forwarded to an instance that no longer holds the question: handed on to its holder, or (it ended) said and removed', async () => {
      const engine = store.open();
      const old = instance(store.open(), 'old7');
      const holder = instance(store.open(), 'holder7');
      await Promise.all([old.board.ready, holder.board.ready]);
      const eve = '+15555550134';
      const prefix = `board/${ACCOUNT}/`;
      // Taken over: the holder opened it; a sender that had not heard yet forwarded to the old instance.
      holder.open('ask q8 eve', eve, '88');
      await holder.board.written(['ask q8 eve']);
      const reply = { text: 'yes', from: eve, to: HOUSE, media: [], at: new Date().toISOString(), sid: 'SMq8' };
      await engine.put(`${prefix}fwd/${encodeURIComponent('ask q8 eve')}/SMq8`, { question: 'ask q8 eve', reply });
      await engine.publish(`${prefix}instance/old7`, { key: `${prefix}fwd/${encodeURIComponent('ask q8 eve')}/SMq8` });
      await until(() => holder.got.length === 1, 'the holder to get the reply, handed on');
      assert.deepEqual(holder.got, ['ask q8 eve:yes']);
      // Ended everywhere: it answers nothing, and it is said.
      await engine.put(`${prefix}fwd/${encodeURIComponent('ask gone eve')}/SMgone`, {
        question: 'ask gone eve',
        reply: { ...reply, sid: 'SMgone' },
      });
      await engine.publish(`${prefix}instance/old7`, { key: `${prefix}fwd/${encodeURIComponent('ask gone eve')}/SMgone` });
      await until(() => old.lost.length === 1, 'the lost reply to be said');
      assert.deepEqual(old.lost, ['ask gone eve']);
      assert.equal((await engine.scan(`${prefix}fwd/`, 100)).length, 0, 'nothing left behind');
    });

    it('a reply landing on B before B heard of A’s question (its `opened` on the way): B reads the index, and A’s question gets it once; not news', async () => {
      const a = instance(unsteady(store.open(), typed('opened')), 'A9');
      const b = instance(store.open(), 'B9');
      await Promise.all([a.board.ready, b.board.ready]);
      const fay = '+15555550135';
      a.open('ask q9 fay', fay, '19');
      await a.board.written(['ask q9 fay']);
      await sleep(50);
      assert.equal(b.board.openFor(fay), 0, 'B has not heard of it');
      const published = b.hub.publish(message(fay, 'yes'));
      assert.equal(await claimedIn(published), true, 'claimed on B: twilio-in there does not pass it on');
      await until(() => a.got.length === 1, 'the answer to reach A');
      await sleep(100);
      assert.deepEqual([a.got, b.got, b.clarified], [['ask q9 fay:yes'], [], []]);
      assert.equal(b.board.openFor(fay), 1, 'B knows of it now');
      assert.deepEqual([a.errors, b.errors, a.lost, b.lost], [[], [], [], []]);
    });

    it('a question asked on B counts what the index says of A’s: an answered one still mirrored (its `closed` not heard) is not counted, one just opened and not heard of is', async () => {
      const a = instance(unsteady(store.open(), typed('closed')), 'A11');
      const b = instance(store.open(), 'B11');
      await Promise.all([a.board.ready, b.board.ready]);
      const hal = '+15555550137';
      const engine = store.open();
      const closeOld = a.open('ask old hal', hal, '41');
      await a.board.written(['ask old hal']);
      await until(() => b.board.openFor(hal) === 1, 'B to hear of A’s question');
      closeOld();
      const key = `board/${ACCOUNT}/q/${encodeURIComponent(hal)}/${encodeURIComponent('ask old hal')}`;
      for (let w = 0; (await engine.get(key)) && w < 100; w++) await sleep(20);
      assert.equal(b.board.openFor(hal), 1, 'the mirror still counts it');
      assert.equal(await b.board.openForNow(hal), 0, 'the index does not');
      assert.equal(b.board.openFor(hal), 0, 'and the mirror follows');
      // One just opened elsewhere, its `opened` not heard yet, is counted.
      const closeNew = a.open('ask new hal', hal, '42');
      await a.board.written(['ask new hal']);
      assert.equal(await b.board.openForNow(hal), 1);
      closeNew();
    });

    it('a stale mirror (a question closed on A, its `closed` not heard on B): a reply on B goes to the one open, no clarifying text; with none open it is news, not forwarded into nothing', async () => {
      const a = instance(unsteady(store.open(), typed('closed')), 'A10');
      const b = instance(store.open(), 'B10');
      await Promise.all([a.board.ready, b.board.ready]);
      const gus = '+15555550136';
      const engine = store.open();
      const gone = async (id: string) => {
        const key = `board/${ACCOUNT}/q/${encodeURIComponent(gus)}/${encodeURIComponent(id)}`;
        for (let w = 0; (await engine.get(key)) && w < 100; w++) await sleep(20);
        assert.equal(await engine.get(key), undefined, `${id} closed in the index`);
      };
      const closeOld = a.open('ask old gus', gus, '31');
      await a.board.written(['ask old gus']);
      await until(() => b.board.openFor(gus) === 1, 'B to hear of the first question');
      closeOld();
      await gone('ask old gus');
      const closeNew = a.open('ask new gus', gus, '32');
      await a.board.written(['ask new gus']);
      await until(() => b.board.openFor(gus) === 2, 'B to hear of the second (the first still mirrored)');
      assert.equal(await claimedIn(b.hub.publish(message(gus, 'yes'))), true, 'an answer: not news');
      await until(() => a.got.length === 1, 'the answer to reach the open question');
      assert.deepEqual([a.got, b.clarified], [['ask new gus:yes'], []], 'no clarifying text');
      assert.equal(b.board.openFor(gus), 1, 'the stale one is dropped');
      // The single stale candidate: the second closes unheard too.
      closeNew();
      await gone('ask new gus');
      assert.equal(b.board.openFor(gus), 1, 'still mirrored on B');
      assert.equal(await claimedIn(b.hub.publish(message(gus, 'and another thing'))), false, 'news: nothing is open');
      await sleep(100);
      assert.deepEqual([a.got, a.lost, b.lost, b.clarified], [['ask new gus:yes'], [], [], []], 'not forwarded, not lost');
      assert.equal(b.board.openFor(gus), 0);
      assert.deepEqual([a.errors, b.errors], [[], []]);
    });

    it('an engine that cannot be read while a text is routed: the text is news (not thrown, not lost), said once', async () => {
      let failing = false;
      const a = instance(store.open(), 'A11');
      const b = instance(
        unsteady(
          store.open(),
          () => false,
          () => failing,
        ),
        'B11',
      );
      await Promise.all([a.board.ready, b.board.ready]);
      const hal = '+15555550137';
      a.open('ask q11 hal', hal, '41');
      await a.board.written(['ask q11 hal']);
      await until(() => b.board.openFor(hal) === 1, 'B to hear of it');
      failing = true;
      assert.equal(await claimedIn(b.hub.publish(message(hal, 'yes'))), false, 'a mirrored question that cannot be checked: news');
      assert.equal(await claimedIn(b.hub.publish(message(CAT, 'hello'))), false, 'no question known: news');
      await sleep(100);
      assert.deepEqual(a.got, [], 'not forwarded on a mirror that could not be checked');
      assert.equal(b.errors.length, 2, 'each failed look is told to onError (the account says the first)');
    });

    it('a reply quoting the code of A’s question unheard on B lands on B, where another question of that person is open: it reaches A’s, not B’s', async () => {
      const a = instance(unsteady(store.open(), typed('opened')), 'A12');
      const b = instance(store.open(), 'B12');
      await Promise.all([a.board.ready, b.board.ready]);
      const ivy = '+15555550138';
      const closeB = b.open('ask b12 ivy', ivy, '51');
      await b.board.written(['ask b12 ivy']);
      const closeA = a.open('ask a12 ivy', ivy, '52');
      await a.board.written(['ask a12 ivy']);
      await sleep(50);
      assert.equal(b.board.openFor(ivy), 1, 'B has not heard of A’s');
      assert.equal(await claimedIn(b.hub.publish(message(ivy, 'yes 52'))), true);
      await until(() => a.got.length === 1, 'the answer to reach A');
      closeA();
      await until(() => b.board.openFor(ivy) === 1, 'B to hear A’s closed');
      assert.equal(await claimedIn(b.hub.publish(message(ivy, 'room 17'))), true, 'a number no question has: B’s one question takes it');
      assert.deepEqual([a.got, b.got, b.clarified], [['ask a12 ivy:yes'], ['ask b12 ivy:room 17'], []]);
      closeB();
    });

    it('a third instance started later reads the open questions from the engine', async () => {
      const a = instance(store.open(), 'A4');
      await a.board.ready;
      const close = a.open('ask q5 ann', ANN, '55');
      await a.board.written(['ask q5 ann']);
      const late = instance(store.open(), 'late');
      await late.board.ready;
      assert.equal(late.board.openFor(ANN), 1, 'known at once from the index');
      assert.equal(await claimedIn(late.hub.publish(message(ANN, 'yes'))), true);
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
