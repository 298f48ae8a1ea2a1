/** SlicedIntake: a burst of messages is prepared in order, a slice at a time, and only while downstream has room. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcceptedMessage, MessageIntake, SlicedIntake } from '../../../lib/outbound/intake';
import { TwilioNodeError } from '../../../lib/core/errors';
import { text } from '../../../lib/core/texts';
import { until } from '../../support/assertions';

const tick = () => new Promise((r) => setImmediate(r));

describe('SlicedIntake', () => {
  it('runs tasks in arrival order and lets the event loop in between slices', async () => {
    const intake = new SlicedIntake(() => true, 1);
    const ran: number[] = [];
    const between: number[] = [];
    for (let i = 0; i < 20; i++) {
      intake.run(() => {
        const until = performance.now() + 0.6; // work that fills a slice in two tasks
        while (performance.now() < until);
        ran.push(i);
      });
    }
    const probe = setInterval(() => between.push(ran.length), 0);
    while (ran.length < 20) await tick();
    clearInterval(probe);
    assert.deepEqual(ran, [...Array(20).keys()]);
    assert.ok(new Set(between).size > 2, `other callbacks ran between slices (saw ${[...new Set(between)].join(', ')} tasks done)`);
  });

  it('waits while downstream is full and resumes on wake()', async () => {
    let room = 3;
    const intake = new SlicedIntake(() => room > 0);
    const ran: number[] = [];
    for (let i = 0; i < 10; i++)
      intake.run(() => {
        room--;
        ran.push(i);
      });
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(ran, [0, 1, 2], 'stopped when full');
    room = 4;
    intake.wake();
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(ran, [0, 1, 2, 3, 4, 5, 6]);
    room = 100;
    intake.wake();
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(ran, [...Array(10).keys()], 'nothing lost, nothing reordered');
  });

  it('keeps arrival order across thousands of tasks while its list is cut as it goes', async () => {
    let room = 0;
    const intake = new SlicedIntake(() => room > 0, 1);
    const ran: number[] = [];
    const count = 5000;
    for (let i = 0; i < count; i++)
      intake.run(() => {
        room--;
        ran.push(i);
      });
    // Downstream takes a few at a time, as a queue with a small window does.
    let late = false;
    while (ran.length < count) {
      room = 1 + (ran.length % 7);
      intake.wake();
      await tick();
      if (!late && ran.length >= 2000) {
        // Tasks arriving while the burst drains join its end.
        late = true;
        for (let i = count; i < count + 100; i++)
          intake.run(() => {
            room--;
            ran.push(i);
          });
      }
    }
    room = 1000;
    intake.wake();
    while (ran.length < count + 100) await tick();
    assert.deepEqual(ran, [...Array(count + 100).keys()]);
  });
});

describe('MessageIntake.take', () => {
  const notSent = () => new TwilioNodeError('NOT_SENT', text('nodeStopped'));
  const abandoned = () => new TwilioNodeError('REQUEST_TIMEOUT', text('stoppedWaiting'));

  it("starts each msg with the node's one start function, in order, and ends each once", async () => {
    let room = 2;
    const intake = new MessageIntake<{ n: number }>({ ready: () => room > 0, notSent, abandoned });
    const started: number[] = [];
    const sent: number[] = [];
    const ended: Array<[number, string | undefined]> = [];
    const start = (msg: { n: number }, accepted: AcceptedMessage<{ n: number }>) => {
      room--;
      started.push(msg.n);
      setImmediate(() => {
        accepted.send(msg);
        accepted.done();
        accepted.done(new TwilioNodeError('UNKNOWN_ERROR', 'a second end is ignored'));
        room++;
        intake.wake();
      });
    };
    for (let n = 0; n < 5; n++)
      intake.take(
        { n },
        (msg) => sent.push(msg.n),
        (error) => ended.push([n, (error as TwilioNodeError | undefined)?.code]),
        start,
      );
    await until(() => ended.length === 5, 'every msg ended');
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.deepEqual(sent, [0, 1, 2, 3, 4]);
    assert.deepEqual(ended, [
      [0, undefined],
      [1, undefined],
      [2, undefined],
      [3, undefined],
      [4, undefined],
    ]);
  });

  it('ends what waits as not sent when the node closes first, in the language it is given', async () => {
    const intake = new MessageIntake<{ n: number }>({ ready: () => false, notSent, abandoned, translate: (key) => `«${key}»` });
    const ended: Error[] = [];
    let started = 0;
    for (let n = 0; n < 3; n++)
      intake.take(
        { n },
        () => assert.fail('nothing is sent'),
        (error) => ended.push(error!),
        () => started++,
      );
    await intake.close();
    assert.equal(started, 0);
    assert.deepEqual(
      ended.map((e) => [(e as TwilioNodeError).code, e.message]),
      Array.from({ length: 3 }, () => ['NOT_SENT', '«twilio.errors.nodeStopped»']),
    );
  });
});
