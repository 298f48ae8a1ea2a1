/**
 * twilio-page across a restart of Node-RED with the file context store, mid-step. Promise:
 * the msg that started it ends once in the first run; the page resumes (its step is not sent again)
 * and leaves once, as a fresh msg, with its history.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowNode, accountNode, allNodes, helper, initWithFileContext, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';

initWithFileContext();

const SILENT = '+15555550113';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('twilio-page across a restart (file store)', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  const time = useManualClock();

  const flow = (): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken').node,
    {
      id: 'page',
      type: 'twilio-page',
      z: 'tab',
      account: 'account',
      contacts: `Nobody ${SILENT}`,
      contactsType: 'str',
      alert: 'Smoke',
      steps: [{ action: 'text', wait: 60 }],
      rounds: 1,
      wires: [['o0'], ['o1'], ['o2']],
    },
    ...['o0', 'o1', 'o2'].map((id) => ({ id, type: 'helper', z: 'tab' })),
  ];
  const texts = () => [...simulator.messages.values()].filter((m) => m.to === SILENT && m.direction !== 'inbound');

  it('resumes a page mid-step after a restart, without texting again, and it leaves once', async () => {
    await helper.load(allNodes, flow(), { account: accountNode(simulator.url, 'authToken').credentials });
    const red = helper as any;
    await red._context.load();
    const node = helper.getNode('page') as any;
    let dones = 0;
    const complete = node._complete.bind(node);
    node._complete = (m: unknown, err: unknown) => {
      dones++;
      complete(m, err);
    };
    node.receive({ topic: 'smoke', mark: 'first' });
    for (let w = 0; texts().length === 0 && w < 5_000; w += 20) await sleep(20);
    await sleep(200);
    await red._redNodes.stopFlows();
    await red._context.close();
    await red._context.load();
    await red._redNodes.startFlows();
    assert.equal(dones, 1, 'the first run ended its msg once');
    const out: any[] = [];
    for (const o of ['o0', 'o1', 'o2']) helper.getNode(o).on('input', (m: any) => out.push(m));
    await sleep(300);
    await time.clock.advance(61_000);
    await sleep(300);
    await time.clock.advance(600_000);
    await sleep(200);
    assert.equal(out.length, 1, 'the page left once');
    assert.equal(out[0].mark, 'first');
    assert.deepEqual(
      out[0].page.history.map((h: any) => h.outcome),
      ['sent'],
    );
    assert.equal(texts().length, 1, 'not texted again');
  });
});
