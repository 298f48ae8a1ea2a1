/**
 * Attack (a figure, and its bound): a burst of twilio-send "wait for the outcome" msgs right after a
 * start, before any answer told Twilio's clock: each wait is held (stored) first, then the look at
 * Twilio's clock, then stored again with the offset (outcome-waits.ts intend). How many more store
 * commits does the burst cost than the same burst once the offset is known, and how many looks?
 *
 * Promise (the brief's "bounded, O(1) per event"): at most one extra commit per msg, one look for
 * the burst; every msg is sent once.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { EmbeddedStateEngine } from '../../lib/state/embedded';
import { accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { lookCounter } from '../support/proxy';

const N = 200;
const { simulator } = useRuntime();

let proxy: Awaited<ReturnType<typeof lookCounter>> | undefined;
after(() => proxy?.close());

it(`a burst of ${N} waiting sends at a start costs at most one extra commit each, and one look`, { timeout: 60_000 }, async () => {
  proxy = await lookCounter(simulator.url);
  const looks = proxy.looks;
  let puts = 0;
  const proto = EmbeddedStateEngine.prototype as unknown as { put: (key: string, ...rest: unknown[]) => Promise<unknown> };
  const put = proto.put;
  proto.put = function (this: unknown, key: string, ...rest: unknown[]) {
    if (typeof key === 'string' && key.startsWith('node/send/')) puts++;
    return put.call(this, key, ...rest);
  };
  try {
    const account = accountNode(proxy.url);
    const flow = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: 'to',
        toType: 'msg',
        body: 'payload',
        bodyType: 'msg',
        waitFor: 'outcome',
        outcomeTimeout: 600,
        wires: [[]],
      },
    ];
    await helper.load(allNodes, flow, { account: account.credentials });
    const node = helper.getNode('send');
    const burst = async (tag: string) => {
      const before = { puts, texts: simulator.messages.size };
      for (let i = 0; i < N; i++)
        node.receive({ payload: `Smoke ${tag} ${i}`, to: `+1555555${String(2600 + (i % 300)).padStart(4, '0')}` });
      for (let w = 0; w < 30_000 && simulator.messages.size < before.texts + N; w += 20) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 500)); // the saves after each Sid
      return { puts: puts - before.puts, texts: simulator.messages.size - before.texts };
    };
    const first = await burst('first');
    const looksFirst = looks();
    const second = await burst('second');
    const report = `first burst (no offset known): ${first.puts} commits for ${first.texts} texts, ${looksFirst} look(s); second burst (offset known): ${second.puts} commits for ${second.texts} texts, ${looks() - looksFirst} more look(s); extra commits ${first.puts - second.puts}`;
    console.log(`# look-commits: ${report}`);
    assert.equal(first.texts, N, report);
    assert.equal(second.texts, N, report);
    assert.equal(looksFirst, 1, report);
    assert.ok(first.puts - second.puts <= N, report);
  } finally {
    proto.put = put;
  }
});
