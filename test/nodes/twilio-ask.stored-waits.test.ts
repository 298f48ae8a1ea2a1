/**
 * twilio-ask, what it stores and what it cannot: damaged records set aside on a start while the
 * valid one resumes; a question whose wait could not be stored leaves no open question behind; a
 * cancel that comes while a new node still reads its questions from a slow store (a shared one such
 * as redis) cancels them; a msg that cannot be kept ends as INVALID_INPUT, nothing asked.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { initWithTestStores, refusingStore, slowStore } from '../support/context-stores';
import { FlowNode, accountNode, allNodes, helper, nodeRedPackage, useRuntime } from '../support/harness';
import { COMMON_DAMAGED, HOSTILE, assertSetAside, endsOf, startWithStored } from '../support/stored-waits';
import { useManualClock } from '../support/ticking';

initWithTestStores(helper, require.resolve(nodeRedPackage));

const SILENT = '+15555550113';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('twilio-ask: stored waits', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  const time = useManualClock();
  beforeEach(() => {
    refusingStore.refuse = false;
    slowStore.delayMs = 0;
  });
  afterEach(() => {
    refusingStore.refuse = false;
  });
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });
  const flow = (name = '', store = 'slow'): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken').node,
    {
      id: 'ask',
      type: 'twilio-ask',
      z: 'tab',
      name,
      account: 'account',
      to: SILENT,
      toType: 'str',
      body: 'Close the garage?',
      bodyType: 'str',
      answers: [{ type: 'words', value: 'yes' }],
      timeout: 600,
      stateIn: store ? `context:${store}` : '',
      outputs: 4,
      wires: [['o0'], ['o1'], ['o2'], ['o3']],
    },
    ...['o0', 'o1', 'o2', 'o3'].map((id) => ({ id, type: 'helper', z: 'tab' })),
  ];
  const questions = () => [...simulator.messages.values()].filter((m) => m.to === SILENT && m.direction !== 'inbound');

  it('sets damaged records aside and resumes the valid one', async () => {
    const asked = { sid: 'SM' + 'b'.repeat(32), code: '12', person: SILENT, open: true };
    const valid = {
      deadline: Date.now() - 1000,
      askedAt: new Date().toISOString(),
      msg: { payload: 'x', mark: 'valid' },
      question: 'Close?',
      recipients: { [SILENT]: asked },
    };
    const damaged = [
      ...COMMON_DAMAGED,
      { ...valid, recipients: null },
      { ...valid, recipients: {} },
      { ...valid, recipients: { [SILENT]: null } },
      { ...valid, recipients: { [SILENT]: { ...asked, sid: null } } },
      { ...valid, recipients: { [SILENT]: { ...asked, open: 'yes' } } },
      { ...valid, recipients: { [SILENT]: { ...asked, askedAt: 'now' } } },
      { ...valid, msg: null },
      { ...valid, deadline: null },
      { ...valid, deadline: 'tomorrow' },
      { ...valid, question: 5 },
      { ...valid, askedAt: null },
    ];
    const r = await startWithStored(
      simulator,
      time.clock,
      {
        id: 'ask',
        type: 'twilio-ask',
        to: SILENT,
        toType: 'str',
        body: 'Close?',
        bodyType: 'str',
        answers: [{ type: 'words', value: 'yes' }],
        outputs: 4,
      },
      'twilio-ask-',
      valid,
      damaged,
    );
    assertSetAside(r, 'twilio-ask-', damaged.length);
  });

  // Asking.ask once awaited the room's hold without a catch: the question sent stayed open on the board.
  // Now the wait is committed before its text goes: a refused write sends nothing.
  it('a question whose wait could not be stored leaves no open question behind', async () => {
    await helper.load(allNodes, flow('', 'refusing'), credentials());
    await (helper as any)._context.load();
    const node = helper.getNode('ask') as any;
    const errors: string[] = [];
    const complete = node._complete.bind(node);
    node._complete = (m: unknown, err: any) => {
      errors.push(err?.code ?? 'ok');
      complete(m, err);
    };
    refusingStore.refuse = true;
    node.receive({ payload: 1 });
    for (let w = 0; errors.length === 0 && w < 5_000; w += 20) await sleep(20);
    assert.equal(errors.length, 1, 'the first msg ended (its wait could not be stored)');
    assert.notEqual(errors[0], 'ok');
    refusingStore.refuse = false;
    node.receive({ payload: 2 });
    const bodies = () =>
      [...simulator.messages.values()].filter((m) => m.to === SILENT && m.direction !== 'inbound').map((m) => String(m.body));
    for (let w = 0; bodies().length < 1 && w < 5_000; w += 20) await sleep(20);
    await sleep(200);
    // Its intent not stored, the first question never went; the second is the only one open (no code).
    assert.deepEqual(bodies(), ['Close the garage?'], 'the second question is asked as the only one open');
  });

  // A cancel right after a redeploy, while the new node still reads its questions, was once lost:
  // Asking.cancel ended only the waits already restored, and resume() never looked at the cancels.
  for (const store of ['slow', ''])
    it(`cancels the restored question that a cancel named while it was being restored (${store ? 'a slow store' : 'the default store'})`, async () => {
      await helper.load(allNodes, flow('', store), credentials());
      await (helper as any)._context.load();
      helper.getNode('ask').receive({ payload: 1 });
      for (let w = 0; questions().length === 0 && w < 5_000; w += 20) await sleep(20);
      await sleep(100);
      slowStore.delayMs = 150;
      await helper.setFlows(flow('changed', store), 'nodes', credentials());
      const noReply: any[] = [];
      helper.getNode('o2').on('input', (m: any) => noReply.push(m));
      helper.getNode('ask').receive({ cancel: true });
      await sleep(1_500);
      await time.clock.advance(700_000);
      await sleep(200);
      assert.deepEqual(
        noReply.map((m) => m.ask.outcome),
        ['cancelled'],
      );
    });

  for (const [what, make] of Object.entries(HOSTILE))
    it(`${what}: ends once as INVALID_INPUT, nothing asked`, async () => {
      const config = { to: SILENT, toType: 'str', body: 'Close?', bodyType: 'str', answers: [{ type: 'words', value: 'yes' }], outputs: 4 };
      const { ends, sent } = await endsOf(simulator, 'twilio-ask', config, make());
      assert.equal(sent, 0, 'nothing sent');
      assert.deepEqual(ends, ['INVALID_INPUT']);
    });
});
