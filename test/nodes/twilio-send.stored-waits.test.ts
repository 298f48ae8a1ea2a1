/**
 * twilio-send "wait for the outcome", what it stores and what it cannot: damaged records of every
 * shape set aside on a start (logged once, never a crash) while the valid one beside them resumes,
 * even when the store refuses to set them aside; a msg that cannot be kept ends as INVALID_INPUT; a
 * store that refuses a msg's intent means nothing is sent.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { initWithTestStores, refusingStore } from '../support/context-stores';
import { FlowNode, accountNode, allNodes, helper, nodeRedPackage, useRuntime } from '../support/harness';
import { COMMON_DAMAGED, HOSTILE, assertSetAside, endsOf, startWithStored } from '../support/stored-waits';
import { useManualClock } from '../support/ticking';

initWithTestStores(helper, require.resolve(nodeRedPackage));

const ANSWERS = '+15555550100';
const SILENT = '+15555550113';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('twilio-send: stored waits', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  const time = useManualClock();
  beforeEach(() => {
    refusingStore.refuse = false;
  });
  afterEach(() => {
    refusingStore.refuse = false;
  });
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });

  it('sets damaged records aside and resumes the valid one', async () => {
    const valid = {
      kind: 'message',
      deadline: Date.now() + 600_000,
      callbacks: false,
      msg: { payload: 'x', mark: 'valid' },
      several: false,
      sids: { [ANSWERS]: 'SM' + 'a'.repeat(32) },
      errors: {},
      outcomes: { [ANSWERS]: { status: 'delivered', reached: true } },
    };
    const damaged = [
      ...COMMON_DAMAGED,
      { ...valid, sids: null },
      { ...valid, sids: { [ANSWERS]: null } },
      { ...valid, sids: {} },
      { ...valid, msg: null },
      { ...valid, msg: [] },
      { ...valid, deadline: 'x' },
      { ...valid, deadline: null },
      { ...valid, kind: 'fax' },
      { ...valid, outcomes: { other: { status: 'delivered', reached: true } } },
      { ...valid, outcomes: { [ANSWERS]: null } },
      { ...valid, errors: null },
      { ...valid, failure: 'boom' },
      { ...valid, several: 'no' },
    ];
    const r = await startWithStored(
      simulator,
      time.clock,
      {
        id: 'send',
        type: 'twilio-send',
        resource: 'message',
        to: ANSWERS,
        toType: 'str',
        body: 'hi',
        bodyType: 'str',
        waitFor: 'outcome',
        failureOutput: true,
        outputs: 2,
      },
      'twilio-send-wait-',
      valid,
      damaged,
    );
    assertSetAside(r, 'twilio-send-wait-', damaged.length);
  });

  // A store that refuses writes at start once stopped the restore at the first damaged record.
  for (const refuse of [true, false])
    it(`a valid stored wait resumes beside a damaged one${refuse ? ' when setting the damaged one aside fails' : ' (the store takes writes)'}`, async () => {
      const flow: FlowNode[] = [
        { id: 'tab', type: 'tab', label: 't' },
        accountNode(simulator.url, 'authToken').node,
        {
          id: 'send',
          type: 'twilio-send',
          z: 'tab',
          account: 'account',
          resource: 'message',
          to: ANSWERS,
          toType: 'str',
          body: 'hi',
          bodyType: 'str',
          waitFor: 'outcome',
          stateIn: 'context:refusing',
          wires: [['out']],
        },
        { id: 'out', type: 'helper', z: 'tab' },
      ];
      await helper.load(allNodes, flow, credentials());
      const red = helper as any;
      await red._context.load();
      await red._redNodes.stopFlows();
      const store = refusingStore.instances.at(-1)!;
      store.data['send:tab'] = {
        'twilio-send-wait-damaged': { kind: 'message', sids: null },
        'twilio-send-wait-good': {
          kind: 'message',
          deadline: time.clock.now() + 600_000,
          callbacks: false,
          msg: { payload: 'x', door: 'garage' },
          several: false,
          sids: { [ANSWERS]: 'SM' + 'a'.repeat(32) },
          errors: {},
          outcomes: { [ANSWERS]: { status: 'delivered', reached: true } },
        },
      };
      refusingStore.refuse = refuse; // Node-RED restarts; the store cannot be written now
      await red._redNodes.startFlows();
      const out: any[] = [];
      helper.getNode('out').on('input', (m: any) => out.push(m));
      await sleep(300);
      await time.clock.advance(5_000);
      await sleep(200);
      assert.equal(out.length, 1, 'the valid wait (its outcome already in) leaves as a fresh msg');
      assert.equal(out[0].door, 'garage');
    });

  it("sends nothing when its store refuses the intent: the msg ends once with the store's error", async () => {
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      accountNode(simulator.url, 'authToken').node,
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: SILENT,
        toType: 'str',
        body: 'hi',
        bodyType: 'str',
        waitFor: 'outcome',
        stateIn: 'context:refusing',
        wires: [['out']],
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    await helper.load(allNodes, flow, credentials());
    const red = helper as any;
    await red._context.load();
    await red._redNodes.stopFlows();
    await red._redNodes.startFlows();
    refusingStore.refuse = true;
    const node = helper.getNode('send') as any;
    const ends: string[] = [];
    const complete = node._complete.bind(node);
    node._complete = (m: unknown, err: any) => {
      ends.push(err ? String(err.message) : 'ok');
      complete(m, err);
    };
    const before = simulator.messages.size;
    node.receive({ payload: 'x' });
    for (let w = 0; ends.length === 0 && w < 3_000; w += 20) await sleep(20);
    await sleep(200);
    assert.equal(simulator.messages.size - before, 0, 'nothing sent: the intent comes before the request');
    assert.equal(ends.length, 1);
    assert.match(ends[0], /store refuses writes/);
  });

  for (const [what, make] of Object.entries(HOSTILE))
    it(`${what}: ends once as INVALID_INPUT, nothing sent`, async () => {
      const config = { resource: 'message', to: SILENT, toType: 'str', body: 'hi', bodyType: 'str', waitFor: 'outcome', outputs: 1 };
      const { ends, sent } = await endsOf(simulator, 'twilio-send', config, make());
      assert.equal(sent, 0, 'nothing sent');
      assert.deepEqual(ends, ['INVALID_INPUT']);
    });
});
