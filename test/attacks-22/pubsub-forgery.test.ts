/**
 * Attack (issue #22): Redis shared with other apps, a stranger who may PUBLISH on it (not read keys).
 * The channels carry no proof of who wrote: a forged `opened` on the question board's events channel
 * is believed (a fake question of another instance), and a forged event on the account's inbound
 * channel reaches a Sid's subscriber as if Twilio had said it. Real redis-server, real engines.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import Redis from 'ioredis';
import { QuestionBoard, Reply } from '../../lib/conversation/questions';
import { InboundEvent, InboundHub } from '../../lib/inbound/hub';
import { inboundChannel } from '../../lib/inbound/heard';
import type { StateEngine } from '../../lib/state/engine';
import { openStateEngine } from '../../lib/state/open';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const HOUSE = '+15017122661';
const ANN = '+15555550130';
const ACCOUNT = 'AC00000000000000000000000000000001';
const PREFIX = 'nr-twilio:'; // the engine's default key prefix
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

suiteNeeding(noRedis, 'attack: forged messages on the shared Redis channels', () => {
  let redis: RedisServer | undefined;
  let stranger: Redis;
  const engines: StateEngine[] = [];
  before(async () => {
    redis = await startRedis();
    stranger = new Redis(redis.url);
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    stranger.disconnect();
    await redis?.stop();
  });
  const engine = () => {
    const e = openStateEngine({ backend: 'redis', url: redis!.url });
    engines.push(e);
    return e;
  };
  /** What the stranger can do: PUBLISH a JSON text on a channel of the engine. */
  const publish = (channel: string, message: unknown) => stranger.publish(`${PREFIX}events:${channel}`, JSON.stringify(message));

  it('a forged "opened" question on the board channel neither steals a reply nor texts the person its words', async () => {
    const hub = new InboundHub();
    const clarified: string[] = [];
    const got: string[] = [];
    const board = new QuestionBoard(hub, (_p, _f, open) => clarified.push(...open.map((q) => q.summary)), Math.random, {
      engine: engine(),
      accountSid: ACCOUNT,
      instance: 'A',
    });
    await board.ready;
    board.open({
      id: 'q1',
      person: ANN,
      ourNumber: HOUSE,
      code: '11',
      summary: 'Leave the heating on?',
      onReply: (r: Reply) => got.push(r.text),
    });
    await board.written(['q1']);
    await publish(`board/${encodeURIComponent(ACCOUNT)}/events`, {
      type: 'opened',
      question: { id: 'evil', person: ANN, ourNumber: HOUSE, code: '12', summary: 'Reply with your bank PIN', instance: 'nobody' },
    });
    await sleep(200);
    const reply = hub.publish({
      kind: 'message',
      sid: `SM${'1'.repeat(32)}`,
      from: ANN,
      to: HOUSE,
      params: { Body: 'yes' },
      source: 'webhook',
    });
    await sleep(100);
    assert.deepEqual({ got, clarified, claimed: reply.claimed }, { got: ['yes'], clarified: [], claimed: true });
  });

  it('forged verdicts and hand-overs on an instance channel neither lose a forwarded answer nor make it news twice', async () => {
    const gotA: string[] = [];
    const hubB = new InboundHub();
    const a = new QuestionBoard(new InboundHub(), () => undefined, Math.random, { engine: engine(), accountSid: ACCOUNT, instance: 'FA' });
    const b = new QuestionBoard(hubB, () => undefined, Math.random, { engine: engine(), accountSid: ACCOUNT, instance: 'FB' });
    await Promise.all([a.ready, b.ready]);
    const bob = '+15555550131';
    let open = true;
    const close = a.open({
      id: 'fq',
      person: bob,
      ourNumber: HOUSE,
      code: '21',
      summary: '?',
      onReply: (r: Reply) => {
        if (!open) return false;
        open = false;
        gotA.push(r.text);
        close();
      },
    });
    await a.written(['fq']);
    const text = (n: number, body: string): InboundEvent => ({
      kind: 'message',
      sid: `SM${String(n).padStart(32, '7')}`,
      from: bob,
      to: HOUSE,
      params: { Body: body },
      source: 'webhook',
    });
    const claimedOf = async (p: { claimed: boolean; settled?: Promise<boolean> }) => p.claimed || ((await p.settled) ?? false);
    // The stranger floods both instance channels with wake-ups for keys it guesses, and hand-overs that
    // name itself as the sender (it would hear the verdict instead of B).
    const channel = (name: string) => `board/${encodeURIComponent(ACCOUNT)}/instance/${name}`;
    const forging = setInterval(() => {
      for (const key of [`board/${encodeURIComponent(ACCOUNT)}/fwd/fq/x`, 'node/anything'])
        for (const name of ['FA', 'FB']) {
          void publish(channel(name), { verdict: key });
          void publish(channel(name), { key, from: 'stranger' });
        }
    }, 5);
    try {
      const claimed = await Promise.all([claimedOf(hubB.publish(text(1, 'yes'))), claimedOf(hubB.publish(text(2, 'no, wait')))]);
      // One is the answer (claimed on B); the other finds the question ended: news on B. Neither lost.
      assert.deepEqual([...claimed].sort(), [false, true]);
      assert.deepEqual(gotA, [claimed[0] ? 'yes' : 'no, wait']);
    } finally {
      clearInterval(forging);
    }
  });

  it('forged "opened" questions for many people do not grow an instance without bound', async () => {
    const hub = new InboundHub();
    const board = new QuestionBoard(hub, () => undefined, Math.random, { engine: engine(), accountSid: ACCOUNT, instance: 'B' });
    await board.ready;
    const before = hub.subscriptions;
    for (let i = 0; i < 5_000; i++)
      void publish(`board/${encodeURIComponent(ACCOUNT)}/events`, {
        type: 'opened',
        question: { id: `f${i}`, person: `+1555${String(i).padStart(7, '0')}`, code: '10', summary: 'x', instance: 'nobody' },
      });
    await sleep(1500);
    assert.ok(
      hub.subscriptions - before < 100,
      `forged questions held: ${hub.subscriptions - before} subscriptions (and as many remote questions)`,
    );
  });

  it('a forged event on the inbound channel does not reach a Sid subscriber as if Twilio had said it', async () => {
    const hub = new InboundHub();
    hub.connect(engine(), ACCOUNT);
    await sleep(200);
    const sid = `CA${'a'.repeat(32)}`;
    const heard: InboundEvent[] = [];
    hub.subscribe({ sid }, (event) => void heard.push(event));
    await publish(inboundChannel(ACCOUNT), {
      origin: 'forged-instance',
      event: { kind: 'gather', sid, params: { CallSid: sid, Digits: '1' }, source: 'webhook', route: '/twilio/gather' },
    });
    // The same, called a 'call' (a request within a call has no identity to check): the pager and the
    // outcome tracker read Digits and CallStatus whatever the kind.
    await publish(inboundChannel(ACCOUNT), {
      origin: 'forged-instance',
      event: { kind: 'call', sid, params: { CallSid: sid, Digits: '1', CallStatus: 'completed' }, source: 'webhook' },
    });
    await sleep(300);
    assert.deepEqual(
      heard.map((e) => e.params),
      [],
      'a key press no instance heard from Twilio (its identity was never claimed) acknowledged a page',
    );
  });
});
