/**
 * A burst of questions into twilio-ask (one person each), then a redeploy mid-burst.
 * Promise: every msg ends exactly once in the run that took it; nothing reported NOT_SENT was
 * asked; every question asked is resumed by the new node and leaves exactly once (here as "no
 * reply" at its deadline); no question is asked twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';

const COUNT = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const numberOf = (i: number) => `+1555100${String(i).padStart(4, '0')}`;

describe('twilio-ask: burst then redeploy', { timeout: 120_000 }, () => {
  const { simulator } = useRuntime({ latencyMs: 100 });
  const time = useManualClock();

  const flow = (name = ''): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken').node,
    {
      id: 'ask',
      type: 'twilio-ask',
      z: 'tab',
      name,
      account: 'account',
      to: 'to',
      toType: 'msg',
      body: 'q-{{payload}}',
      bodyType: 'str',
      answers: [{ type: 'words', value: 'yes' }],
      timeout: 600,
      outputs: 4,
      wires: [['o0'], ['o1'], ['o2'], ['o3']],
    },
    ...['o0', 'o1', 'o2', 'o3'].map((id) => ({ id, type: 'helper', z: 'tab' })),
  ];
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });
  const asked = () => {
    const byIndex = new Map<number, number>();
    for (const m of simulator.messages.values()) {
      const i = Number(/^q-(\d+)/.exec(String(m.body))?.[1]);
      if (Number.isInteger(i)) byIndex.set(i, (byIndex.get(i) ?? 0) + 1);
    }
    return byIndex;
  };

  it('ends each msg once and resumes each question asked once, after a modified-nodes redeploy', async () => {
    await helper.load(allNodes, flow(), credentials());
    const node = helper.getNode('ask') as any;
    const dones = new Array<number>(COUNT).fill(0);
    const codes: string[][] = Array.from({ length: COUNT }, () => []);
    const complete = node._complete.bind(node);
    node._complete = (m: any, err: any) => {
      dones[m._index]++;
      if (err) codes[m._index].push(err.code);
      complete(m, err);
    };
    for (let i = 0; i < COUNT; i++) node.receive({ payload: i, _index: i, to: numberOf(i) });
    for (let w = 0; asked().size < 150 && w < 15_000; w += 20) await sleep(20);
    await helper.setFlows(flow('changed'), 'nodes', credentials());
    for (let w = 0; dones.some((d) => d === 0) && w < 5_000; w += 50) await sleep(50);
    const made = asked();
    assert.equal(dones.filter((d) => d !== 1).length, 0, 'every msg ended exactly once');
    for (const [i, n] of made) assert.equal(n, 1, `question ${i} asked ${n} times`);
    const notSentButAsked = codes.flatMap((c, i) => (c.includes('NOT_SENT') && made.has(i) ? [i] : []));
    assert.deepEqual(notSentButAsked, []);
    assert.deepEqual(
      [...new Set(codes.flat())].filter((c) => c !== 'NOT_SENT'),
      [],
    );

    const out: number[] = [];
    for (const o of ['o0', 'o1', 'o2', 'o3']) helper.getNode(o).on('input', (m: any) => out.push(m._index));
    await time.clock.advance(700_000);
    for (let w = 0; out.length < made.size && w < 10_000; w += 50) await sleep(50);
    await time.clock.advance(700_000);
    await sleep(200);
    const counts = new Map<number, number>();
    for (const i of out) counts.set(i, (counts.get(i) ?? 0) + 1);
    assert.deepEqual(
      [...counts].filter(([, n]) => n > 1),
      [],
      'left more than once',
    );
    const missing = [...made.keys()].filter((i) => !counts.has(i));
    assert.equal(missing.length, 0, `${missing.length} of ${made.size} questions asked never resumed: ${missing.slice(0, 10)}`);
    assert.deepEqual(
      [...counts.keys()].filter((i) => !made.has(i)),
      [],
      'left but never asked',
    );
  });
});
