/** SlicedIntake: a burst of messages is prepared in order, a slice at a time, and only while downstream has room. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlicedIntake } from '../../../lib/outbound/intake';

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
