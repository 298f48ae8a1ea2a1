/** The per-account request queue: unit behaviour, and faults injected by the simulator through real flows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestQueue, Verdict, requestOwner } from '../../../lib/transport/request-queue';
import { accountNode, allNodes, helper, runSend, statusesOf, useRuntime } from '../../support/harness';
import { livingClock } from '../../support/ticking';

const done: Verdict = { kind: 'done' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RequestQueue', () => {
  it('keeps requests in flight within its window, and grows it on success', async () => {
    const queue = new RequestQueue({ clock: livingClock, initialConcurrency: 2, maxConcurrency: 4 });
    let running = 0;
    let peak = 0;
    const task = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(5);
      running--;
    };
    await Promise.all(Array.from({ length: 40 }, () => queue.schedule(task, () => done)));
    assert.ok(peak >= 3 && peak <= 4, `peak ${peak}: grew from 2, never above 4`);
    assert.equal(queue.state.window, 4);
  });

  it('on 429, drops its window just under the level that drew it, retries after Retry-After, and gives the last answer when retries run out', async () => {
    const queue = new RequestQueue({ clock: livingClock, initialConcurrency: 8, baseDelayMs: 1, random: () => 0 });
    let calls = 0;
    const started = Date.now();
    // Three in flight: the third draws a 429, so the account allows at most two at a time.
    const blockers = [
      queue.schedule(
        () => sleep(200),
        () => done,
      ),
      queue.schedule(
        () => sleep(200),
        () => done,
      ),
    ];
    let windowAtRetry = 0;
    const value = await queue.schedule(
      async () => {
        if (++calls === 2) windowAtRetry = queue.state.window;
        return calls;
      },
      (o) => (o.value === 1 ? { kind: 'retry', reason: 'rate-limited', retryAfterMs: 120 } : done),
    );
    await Promise.all(blockers);
    assert.equal(value, 2);
    assert.ok(Date.now() - started >= 115, 'waited for Retry-After');
    assert.equal(windowAtRetry, 2, '8 → 2, just under the level of the 429');
    assert.deepEqual([queue.stats.retried, queue.stats.rateLimited], [1, 1]);

    const stubborn = new RequestQueue({ clock: livingClock, maxRetries: 2, baseDelayMs: 1 });
    let tries = 0;
    const last = await stubborn.schedule(
      async () => ({ statusCode: 429, try: ++tries }),
      () => ({ kind: 'retry', reason: 'rate-limited' }),
    );
    assert.deepEqual(last, { statusCode: 429, try: 3 }, 'three tries, then the 429 goes to the caller');
  });

  it('settles at a concurrency limit it is not told, probing above it ever more rarely', async () => {
    const limit = 5;
    const queue = new RequestQueue({ clock: livingClock, baseDelayMs: 1, random: () => 0 });
    let running = 0;
    let refused = 0;
    const call = async () => {
      running++;
      const over = running > limit;
      await sleep(2);
      running--;
      if (over) refused++;
      return over ? 429 : 200;
    };
    const judge = (o: { value?: unknown }): Verdict => (o.value === 429 ? { kind: 'retry', reason: 'rate-limited' } : done);
    const answers = await Promise.all(Array.from({ length: 600 }, () => queue.schedule(call, judge)));
    assert.ok(
      answers.every((a) => a === 200),
      'every request ended in success',
    );
    assert.ok(
      queue.state.window >= limit && queue.state.window <= limit + 1,
      `window ${queue.state.window}: at the limit, or one probe above it`,
    );
    assert.ok(refused < 30, `${refused} of 600 requests drew a 429 (slow start's overshoot, then rare probes)`);
  });

  it('asks for about one window of requests waiting ahead, at least sixteen', async () => {
    const small = new RequestQueue({ clock: livingClock, initialConcurrency: 1, maxConcurrency: 1 });
    const release: Array<() => void> = [];
    const blocked = () => new Promise<void>((resolve) => release.push(resolve));
    const all = Array.from({ length: 10 }, () => small.schedule(blocked, () => done));
    assert.deepEqual([small.state.inFlight, small.state.queued], [1, 9]);
    assert.equal(small.wantsMore(6), true, '9 waiting and 6 being prepared are fewer than 16');
    assert.equal(small.wantsMore(7), false);
    while (release.length > 0 || small.state.inFlight > 0) {
      release.splice(0).forEach((r) => r());
      await sleep(1);
    }
    await Promise.all(all);
    const wide = new RequestQueue({ clock: livingClock, initialConcurrency: 40, maxConcurrency: 100 });
    assert.equal(wide.wantsMore(39), true);
    assert.equal(wide.wantsMore(40), false, 'a window of 40 wants 40 ready');
  });

  it('does not retry failures it is not told are safe', async () => {
    const queue = new RequestQueue({ clock: livingClock, baseDelayMs: 1 });
    let tries = 0;
    await assert.rejects(
      queue.schedule(
        async () => {
          tries++;
          throw new Error('socket hang up');
        },
        () => ({ kind: 'fail' }),
      ),
      /socket hang up/,
    );
    assert.equal(tries, 1);
  });

  it('spaces requests to a per-second cap', async () => {
    const queue = new RequestQueue({ clock: livingClock, ratePerSecond: 50, initialConcurrency: 10 });
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, () =>
        queue.schedule(
          async () => starts.push(Date.now()),
          () => done,
        ),
      ),
    );
    const span = starts[starts.length - 1] - starts[0];
    assert.ok(span >= 90, `6 requests at 50/s span ${span} ms`);
  });

  it('on close, fails what is queued (nothing silently lost) and lets what is in flight finish', async () => {
    const queue = new RequestQueue({ clock: livingClock, initialConcurrency: 1 });
    const first = queue.schedule(
      async () => {
        await sleep(50);
        return 'finished';
      },
      () => done,
    );
    const second = queue.schedule(
      async () => 'never',
      () => done,
    );
    const closing = queue.close();
    await assert.rejects(second, { code: 'NOT_SENT' });
    assert.equal(await first, 'finished');
    await closing;
    await assert.rejects(
      queue.schedule(
        async () => 'late',
        () => done,
      ),
      /not sent/,
    );
  });

  it("withdraws one owner's waiting and retrying requests (NOT_SENT), and no one else's", async () => {
    const queue = new RequestQueue({ clock: livingClock, initialConcurrency: 1, baseDelayMs: 60_000 });
    const [mine, theirs] = [{}, {}];
    let answered429 = false;
    const inFlight = requestOwner.run(mine, () =>
      queue.schedule(
        async () => {
          await sleep(30);
          return 'finished';
        },
        () => done,
      ),
    );
    const retrying = requestOwner.run(mine, () =>
      queue.schedule(
        async () => 'limited',
        () => (answered429 ? done : ((answered429 = true), { kind: 'retry', reason: 'rate-limited' } as const)),
      ),
    );
    const other = requestOwner.run(theirs, () =>
      queue.schedule(
        async () => {
          await sleep(200);
          return 'theirs';
        },
        () => done,
      ),
    );
    const queued = requestOwner.run(mine, () =>
      queue.schedule(
        async () => 'never',
        () => done,
      ),
    );
    await sleep(80); // the first finished, the second got its 429 and waits a minute, the third is in flight, the last queued
    queue.withdraw(mine);
    assert.equal(await inFlight, 'finished', 'in flight: it finishes');
    await assert.rejects(retrying, { code: 'NOT_SENT' });
    await assert.rejects(queued, { code: 'NOT_SENT' });
    assert.equal(await other, 'theirs');
    assert.equal(queue.state.retrying, 0);
  });
});

describe('faults through a flow', () => {
  const { simulator } = useRuntime({ seed: 7, statusCallbackDelayMs: 1 });
  const recipients = (n: number) => Array.from({ length: n }, (_, i) => `+1555010${String(i).padStart(4, '0')}`);

  it('ends every message in exactly one outcome under 429, 503 and resets, with no duplicates', async () => {
    simulator.faultRates = { tooManyRequests: 0.25, unavailable: 0.1, reset: 0.05 };
    try {
      const to = recipients(40);
      const { output, error } = await runSend(
        simulator.url,
        { to: 'to', toType: 'msg', body: 'storm', bodyType: 'str' },
        { to },
        { account: { maxRetries: 8 } },
      );
      assert.ok(output, 'some recipients got through');
      const { results, errors } = output.payload;
      assert.equal(Object.keys(results).length + Object.keys(errors).length, 40, 'each recipient has one outcome');
      for (const recipient of to) assert.ok(!(recipient in results && recipient in errors), recipient);
      // Only resets may fail (they may have reached Twilio, so they are not repeated); 429 and 503 were retried.
      for (const failure of Object.values(errors) as Array<{ code: string }>) assert.equal(failure.code, 'TWILIO_CONNECTION_ERROR');
      const created = [...simulator.messages.values()].filter((m) => m.body === 'storm');
      assert.equal(created.length, Object.keys(results).length, 'created once for each success, never twice');
      assert.equal(new Set(created.map((m) => m.to)).size, created.length, 'no recipient got two messages');
      assert.ok(simulator.stats.faults > 5, `${simulator.stats.faults} faults injected`);
      if (Object.keys(errors).length > 0) assert.ok(error, 'a partial failure still reaches Catch');
    } finally {
      simulator.faultRates = {};
    }
  });

  it("finds the account's concurrency limit (429 above it) and delivers everything once", async () => {
    simulator.maxConcurrent = 3;
    simulator.latencyMs = 30;
    try {
      const to = recipients(30);
      const { output, error, statuses } = await runSend(
        simulator.url,
        { to: 'to', toType: 'msg', body: 'capped', bodyType: 'str' },
        { to },
      );
      assert.equal(error, undefined, error?.message);
      assert.ok(
        statuses.some((s) => s.text === 'twilio.status.queued'),
        'the status showed the queue',
      );
      assert.equal(Object.keys(output.payload.results).length, 30);
      const created = [...simulator.messages.values()].filter((m) => m.body === 'capped');
      assert.equal(created.length, 30);
      assert.equal(new Set(created.map((m) => m.to)).size, 30);
    } finally {
      simulator.maxConcurrent = 0;
      simulator.latencyMs = 0;
    }
  });

  it('keeps taking a burst when some of its messages cannot be sent: each ends in one output or one Catch', async () => {
    const account = accountNode(simulator.url, 'apiKey', { maxConcurrency: 1 });
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 'test' },
        account.node,
        {
          id: 'send',
          type: 'twilio-send',
          z: 'tab',
          account: 'account',
          resource: 'message',
          to: 'to',
          toType: 'msg',
          body: 'mixed',
          bodyType: 'str',
          wires: [['out']],
        },
        { id: 'out', type: 'helper', z: 'tab' },
        { id: 'catcher', type: 'catch', z: 'tab', scope: ['send'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const count = 60;
    const sent: number[] = [];
    const caught: Array<{ n: number; code: string }> = [];
    const finished = new Promise<void>((resolve) => {
      const check = () => sent.length + caught.length >= count && resolve();
      helper.getNode('out').on('input', (msg: { n: number }) => {
        sent.push(msg.n);
        check();
      });
      helper.getNode('caught').on('input', (msg: { n: number; error: { code: string } }) => {
        caught.push({ n: msg.n, code: msg.error.code });
        check();
      });
    });
    // Every third message has no valid recipient: it fails while it is prepared, before the queue.
    for (let n = 0; n < count; n++)
      helper.getNode('send').receive({ n, to: n % 3 === 0 ? 'not a number' : `+1555030${String(n).padStart(4, '0')}` });
    const stalled = new Promise<string>((resolve) =>
      setTimeout(() => resolve(`stalled after ${sent.length} sent and ${caught.length} caught`), 20_000).unref(),
    );
    assert.equal(await Promise.race([finished.then(() => 'finished'), stalled]), 'finished');
    assert.deepEqual(
      caught.map((c) => c.n),
      [...Array(count).keys()].filter((n) => n % 3 === 0),
    );
    assert.ok(caught.every((c) => c.code === 'INVALID_TO_PHONE_NUMBER_ERROR'));
    assert.equal(sent.length, count - count / 3);
    assert.equal(new Set(sent).size, sent.length, 'each sent once');
  });

  it('takes a burst of messages, shows the burst in its status (not each message), and delivers each once', async () => {
    simulator.latencyMs = 5;
    try {
      const account = accountNode(simulator.url, 'apiKey', { maxConcurrency: 4 });
      await helper.load(
        allNodes,
        [
          { id: 'tab', type: 'tab', label: 'test' },
          account.node,
          {
            id: 'send',
            type: 'twilio-send',
            z: 'tab',
            account: 'account',
            resource: 'message',
            to: 'to',
            toType: 'msg',
            body: 'burst {{n}}',
            bodyType: 'str',
            metadata: '',
            metadataType: 'none',
            wires: [['out']],
          },
          { id: 'out', type: 'helper', z: 'tab' },
        ],
        { account: account.credentials },
      );
      const send = helper.getNode('send');
      const out = helper.getNode('out');
      let maxQueued = 0;
      (helper.getNode('account') as unknown as { queue: RequestQueue }).queue.onChange(
        (state) => (maxQueued = Math.max(maxQueued, state.queued)),
      );
      const outputs: Array<{ n: number }> = [];
      const count = 300;
      const all = new Promise<void>((resolve) => out.on('input', (msg: { n: number }) => outputs.push(msg) >= count && resolve()));
      for (let n = 0; n < count; n++) send.receive({ n, to: `+1555020${String(n).padStart(4, '0')}` });
      await all;
      assert.ok(
        maxQueued > 0 && maxQueued <= 16,
        `requests prepared ahead stayed about one window (at most ${maxQueued} waited, for a window of 4)`,
      );
      const created = [...simulator.messages.values()].filter((m) => String(m.body).startsWith('burst '));
      assert.equal(created.length, count);
      assert.equal(new Set(created.map((m) => m.to)).size, count, 'once each');
      const statuses = statusesOf(send);
      assert.ok(statuses.length < count / 2, `${statuses.length} statuses for ${count} messages`);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(statusesOf(send).at(-1), { fill: 'green', shape: 'dot', text: 'twilio.status.sent' }, 'the burst ends green');
    } finally {
      simulator.latencyMs = 0;
    }
  });
});
