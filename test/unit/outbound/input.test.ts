/**
 * NodeInput: the message API of the resource nodes, twilio-request and twilio-reply. Every msg taken
 * ends exactly once, a failure is a coded error in the runtime's language with a red status, the work
 * runs as the node's (its queued requests are its to withdraw), and a close ends what it took.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, NodeStatus as NodeRedStatus } from 'node-red';
import { ManualClock } from '../../../lib/core/clock';
import { TwilioNodeError } from '../../../lib/core/errors';
import { text } from '../../../lib/core/texts';
import { NodeStatus } from '../../../lib/node-red/status';
import { NodeInput } from '../../../lib/outbound/input';

type Msg = { payload?: unknown };

/** A node's status and the ends of the msgs it took: each msg's done calls, in order. */
function setUp(options: ConstructorParameters<typeof NodeInput>[2] = {}) {
  const shown: NodeRedStatus[] = [];
  const owner = { id: 'n1' };
  // A "runtime language" that marks what it translated.
  const status = new NodeStatus({ status: (s: NodeRedStatus) => shown.push(s) } as unknown as Node, (key) => `«${key}»`);
  const input = new NodeInput<Msg>(owner, status, options);
  const sent: Msg[] = [];
  const ends: Array<Error | undefined> = [];
  const take = (work: Parameters<typeof input.take>[2]) =>
    input.take(
      (msg) => sent.push(msg),
      (error) => ends.push(error),
      work,
    );
  return { input, owner, shown, sent, ends, take };
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('NodeInput', () => {
  // That the work's requests carry the node as their owner (the node's view of the client, or the
  // owner passed to a raw request) is held where requests are made: test/nodes/resource-nodes.test.ts
  // ('a resource node that stops') and twilio-request.test.ts withdraw a stopped node's queued request.
  it('ends a msg once its work resolves, after what it sent', async () => {
    const { sent, ends, take } = setUp();
    take(async (accepted) => {
      await Promise.resolve();
      accepted.send({ payload: 1 });
      accepted.send({ payload: 2 }); // a query's records, one msg each
    });
    await turns();
    assert.deepEqual(sent, [{ payload: 1 }, { payload: 2 }]);
    assert.deepEqual(ends, [undefined]);
  });

  it('ends a failed msg with a coded error in the runtime language, a red status, and secrets masked', async () => {
    const { shown, sent, ends, take } = setUp({ redact: () => (t) => t.replaceAll('s3cret', '***') });
    take(() => Promise.reject(new TwilioNodeError('INVALID_INPUT', text('notSet', { field: 'Path' }))));
    take(() => {
      throw new Error('boom with s3cret'); // a synchronous throw, not coded
    });
    await turns();
    assert.deepEqual(sent, []);
    assert.equal(ends.length, 2);
    const coded = (ends as TwilioNodeError[]).find((e) => e.code === 'INVALID_INPUT')!;
    const plain = (ends as TwilioNodeError[]).find((e) => e !== coded)!;
    assert.ok(coded, 'the coded failure ends its msg');
    assert.equal(coded.message, '«twilio.errors.notSet»', 'said in the runtime language');
    assert.ok(plain instanceof TwilioNodeError);
    assert.equal(plain.code, 'UNKNOWN_ERROR');
    assert.doesNotMatch(plain.message, /s3cret/);
    // A red status with a short reason beside the code (this test's catalogue knows every key).
    assert.deepEqual(shown.at(-1), { fill: 'red', shape: 'ring', text: '«twilio.status.failedBecause»' });
  });

  it('on close ends what had not started as NOT_SENT, waits for what is under way, withdraws the node from the queue', async () => {
    const { input, owner, shown, sent, ends, take } = setUp();
    let answer!: () => void;
    take(async (accepted) => {
      await new Promise<void>((resolve) => (answer = resolve));
      accepted.send({ payload: 'answered' });
    });
    await turns(); // the first has started
    take(() => assert.fail('never starts'));
    take(() => assert.fail('never starts'));
    const withdrawn: object[] = [];
    let closed = false;
    const closing = input.close({ withdraw: (o) => withdrawn.push(o) }).then(() => (closed = true));
    await turns();
    assert.deepEqual(withdrawn, [owner]);
    assert.deepEqual(
      ends.map((e) => (e as TwilioNodeError).code),
      ['NOT_SENT', 'NOT_SENT'],
    );
    assert.equal(closed, false, 'the close waits for the answer under way');
    answer();
    await closing;
    assert.deepEqual(sent, [{ payload: 'answered' }]);
    assert.equal(ends.length, 3);
    assert.equal(ends[2], undefined);
    assert.deepEqual(shown.at(-1), {}, 'the status is cleared once all ended');
    take(() => assert.fail('never starts'));
    assert.equal((ends[3] as TwilioNodeError).code, 'NOT_SENT', 'a msg after the close ends at once');
  });

  it('ends what has no answer within the close budget as REQUEST_TIMEOUT, and sends nothing after', async () => {
    const clock = new ManualClock();
    const { input, sent, ends, take } = setUp({ clock, closeWaitMs: 12_000 });
    let answer!: () => void;
    take(async (accepted) => {
      await new Promise<void>((resolve) => (answer = resolve));
      accepted.send({ payload: 'too late' });
    });
    await turns();
    const closing = input.close();
    await clock.advance(11_999);
    assert.deepEqual(ends, []);
    await clock.advance(1);
    await closing;
    assert.deepEqual(
      ends.map((e) => (e as TwilioNodeError).code),
      ['REQUEST_TIMEOUT'],
    );
    answer();
    await turns();
    assert.deepEqual(sent, [], 'an abandoned msg sends nothing');
    assert.equal(ends.length, 1, 'and ends only once');
  });
});
