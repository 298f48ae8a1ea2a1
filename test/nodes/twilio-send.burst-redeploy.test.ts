/**
 * Thousands of msgs into twilio-send "wait for the outcome", then a redeploy (modified nodes,
 * full) while they are being sent. Promise: every msg taken ends exactly once in the run that took
 * it; every message Twilio has is held and resumed by the new node as a fresh msg exactly once;
 * nothing reported NOT_SENT reached Twilio.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowNode, RuntimeNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';

const COUNT = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('twilio-send outcome waits: burst then redeploy', { timeout: 120_000 }, () => {
  const { simulator } = useRuntime({ latencyMs: 100 });
  const time = useManualClock();

  const flow = (name = ''): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url).node,
    {
      id: 'send',
      type: 'twilio-send',
      z: 'tab',
      name,
      account: 'account',
      resource: 'message',
      to: '+15555550100',
      toType: 'str',
      body: 'm-{{payload}}',
      bodyType: 'str',
      waitFor: 'outcome',
      wires: [['out']],
    },
    { id: 'out', type: 'helper', z: 'tab' },
  ];
  const credentials = () => ({ account: accountNode(simulator.url).credentials });

  function created(): Map<number, number> {
    const byIndex = new Map<number, number>();
    for (const m of simulator.messages.values()) {
      const i = Number(/^m-(\d+)$/.exec(String(m.body))?.[1]);
      if (Number.isInteger(i)) byIndex.set(i, (byIndex.get(i) ?? 0) + 1);
    }
    return byIndex;
  }

  for (const how of ['nodes', 'full'] as const) {
    it(`every msg ends once, and every sent one resumes once, after a ${how} redeploy mid-burst`, async () => {
      await helper.load(allNodes, flow(), credentials());
      const node = helper.getNode('send') as RuntimeNode & Record<string, any>;
      const dones = new Array<number>(COUNT).fill(0);
      const codes: string[][] = Array.from({ length: COUNT }, () => []);
      const firstOutputs: number[] = [];
      helper.getNode('out').on('input', (m: any) => firstOutputs.push(m._index));
      const complete = node._complete.bind(node);
      node._complete = (m: any, err: any) => {
        dones[m._index]++;
        if (err) codes[m._index].push(err.code);
        complete(m, err);
      };
      for (let i = 0; i < COUNT; i++) node.receive({ payload: i, _index: i });
      for (let w = 0; simulator.messages.size < 300 && w < 15_000; w += 20) await sleep(20);
      const started = Date.now();
      await helper.setFlows(flow('changed'), how, credentials());
      const closedIn = Date.now() - started;
      for (let w = 0; dones.some((d) => d === 0) && w < 5_000; w += 50) await sleep(50);

      const made = created();
      assert.ok(closedIn < 15_000, `closed in ${closedIn} ms`);
      assert.equal(dones.filter((d) => d !== 1).length, 0, `msgs that did not end exactly once: ${dones.filter((d) => d !== 1).length}`);
      for (const [i, times] of made) assert.equal(times, 1, `msg ${i} created ${times} times`);
      const notSentButMade = codes.flatMap((c, i) => (c.includes('NOT_SENT') && made.has(i) ? [i] : []));
      assert.deepEqual(notSentButMade, [], 'reported NOT_SENT but Twilio has them');
      const otherCodes = new Set(codes.flat().filter((c) => c !== 'NOT_SENT'));
      assert.deepEqual([...otherCodes], [], 'only NOT_SENT');

      // The new node resumes every wait of a message Twilio has; each leaves once as a fresh msg.
      const resumed: number[] = [];
      helper.getNode('out').on('input', (m: any) => resumed.push(m._index));
      await fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify({ latencyMs: 1 }) });
      const expected = [...made.keys()].filter((i) => !firstOutputs.includes(i));
      for (let w = 0; resumed.length < expected.length && w < 400; w++) {
        await time.clock.advance(1_000);
        await sleep(20);
      }
      await time.clock.advance(3_600_000);
      await sleep(200);
      const counts = new Map<number, number>();
      for (const i of resumed) counts.set(i, (counts.get(i) ?? 0) + 1);
      const twice = [...counts].filter(([, n]) => n > 1).map(([i]) => i);
      const missing = expected.filter((i) => !counts.has(i));
      const strangers = [...counts.keys()].filter((i) => !made.has(i));
      assert.deepEqual(twice, [], 'resumed more than once');
      assert.deepEqual(strangers, [], 'resumed but never sent');
      assert.equal(
        missing.length,
        0,
        `${missing.length} of ${expected.length} sent msgs never resumed: ${missing.slice(0, 10).join(', ')}`,
      );
    });
  }
});
