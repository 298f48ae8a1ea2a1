/**
 * twilio-page, what it stores and what it cannot: input while a new node still reads its pages from
 * a slow store (a shared one such as redis) waits for them (the same alarm is merged, nobody is
 * alerted twice; a cancel cancels the running page); a page stored while its node closed, before its
 * first step, still alerts; damaged records are set aside on a start while the valid one resumes; a
 * msg that cannot be kept ends as INVALID_INPUT, nobody alerted.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { initWithTestStores, refusingStore, slowStore } from '../support/context-stores';
import { FlowNode, accountNode, allNodes, helper, nodeRedPackage, useRuntime } from '../support/harness';
import { COMMON_DAMAGED, HOSTILE, assertSetAside, endsOf, startWithStored } from '../support/stored-waits';
import { useManualClock } from '../support/ticking';

initWithTestStores(helper, require.resolve(nodeRedPackage));

const NOBODY = '+15555550113'; // delivered, never replies
const SILENT = NOBODY;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('twilio-page: stored pages', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  const time = useManualClock();
  beforeEach(() => {
    slowStore.delayMs = 0;
    refusingStore.refuse = false;
  });

  const flow = (name = '', store = 'slow'): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken').node,
    {
      id: 'page',
      type: 'twilio-page',
      z: 'tab',
      name,
      account: 'account',
      contacts: `Nobody ${NOBODY}`,
      contactsType: 'str',
      alert: 'Smoke in the {{payload}}.',
      steps: [{ action: 'text', wait: 600 }],
      rounds: 1,
      alarmId: 'topic',
      alarmIdType: 'msg',
      stateIn: store ? `context:${store}` : '',
      wires: [['acknowledged'], ['exhausted'], ['cancelled']],
    },
    { id: 'acknowledged', type: 'helper', z: 'tab' },
    { id: 'exhausted', type: 'helper', z: 'tab' },
    { id: 'cancelled', type: 'helper', z: 'tab' },
  ];
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });
  const texts = () => [...simulator.messages.values()].filter((m) => m.to === NOBODY && m.direction !== 'inbound');

  async function pageThenRedeploy(store = 'slow'): Promise<void> {
    await helper.load(allNodes, flow('', store), credentials());
    await (helper as any)._context.load();
    helper.getNode('page').receive({ topic: 'smoke', payload: 'kitchen' });
    for (let w = 0; texts().length === 0 && w < 5_000; w += 20) await sleep(20);
    assert.equal(texts().length, 1, 'the first page texted');
    await sleep(100); // its step-sent is stored
    slowStore.delayMs = 150; // the store answers slowly from now on
    await helper.setFlows(flow('changed', store), 'nodes', credentials());
  }

  it('merges the same alarm that comes in while the new node restores: nobody is texted twice', async () => {
    await pageThenRedeploy();
    const got: any[] = [];
    for (const o of ['acknowledged', 'exhausted', 'cancelled']) helper.getNode(o).on('input', (m: any) => got.push(m));
    helper.getNode('page').receive({ topic: 'smoke', payload: 'kitchen again' });
    await sleep(2_000);
    assert.equal(
      texts().length,
      1,
      `one page per alarm: texts sent ${texts()
        .map((m) => m.body)
        .join(' | ')}`,
    );
  });

  it('with a store that answers at once, the same alarm is merged', async () => {
    await pageThenRedeploy('');
    helper.getNode('page').receive({ topic: 'smoke', payload: 'kitchen again' });
    await sleep(1_000);
    assert.equal(texts().length, 1);
  });

  it('a cancel that comes while the new node restores cancels the running page', async () => {
    await pageThenRedeploy();
    const cancelled: any[] = [];
    helper.getNode('cancelled').on('input', (m: any) => cancelled.push(m));
    helper.getNode('page').receive({ topic: 'smoke', cancel: true });
    for (let w = 0; cancelled.length === 0 && w < 2_000; w += 20) await sleep(20);
    await time.clock.advance(1_000);
    await sleep(200);
    assert.equal(cancelled.length, 1, 'the running page left by "cancelled"');
  });

  // A page held while its node closes stays stored before its first step began (Pager.start never
  // runs `start`): it was once resumed as if that step had gone out, so nobody was alerted. It is
  // stored as not started, and the next node begins it.
  it('a redeploy while a new page is being stored: the resumed page still alerts its first contact', async () => {
    await helper.load(allNodes, flow(), credentials());
    await (helper as any)._context.load();
    slowStore.delayMs = 300;
    const exhausted: any[] = [];
    helper.getNode('page').receive({ topic: 'fire', payload: 'hall' });
    await sleep(100); // its record is being written
    await helper.setFlows(flow('changed'), 'nodes', credentials());
    helper.getNode('exhausted').on('input', (m: any) => exhausted.push(m));
    await sleep(1_500); // the new node has restored it
    for (let i = 0; i < 8 && exhausted.length === 0; i++) {
      await time.clock.advance(100_000);
      await sleep(200);
    }
    assert.equal(exhausted.length, 1, 'the page ended');
    assert.ok(texts().length >= 1, `the contact was alerted (history: ${JSON.stringify(exhausted[0].page.history)})`);
  });
  it('sets damaged records aside and resumes the valid one', async () => {
    const valid = {
      alarmId: 'smoke',
      msg: { payload: 'x', mark: 'valid' },
      spoken: 'Smoke',
      contacts: [{ name: 'Nobody', number: SILENT }],
      round: 0,
      contact: 0,
      step: 0,
      stepEnds: Date.now() - 1000,
      texted: [],
      alerted: [],
      history: [],
      merged: 0,
      startedAt: new Date().toISOString(),
    };
    const damaged = [
      ...COMMON_DAMAGED,
      { ...valid, contacts: [] },
      { ...valid, contacts: [null] },
      { ...valid, contacts: [{ name: 'x', number: null }] },
      { ...valid, texted: [null] },
      { ...valid, texted: null },
      { ...valid, history: null },
      { ...valid, history: [null] },
      { ...valid, alerted: [null] },
      { ...valid, msg: null },
      { ...valid, step: -1 },
      { ...valid, round: 1.5 },
      { ...valid, stepEnds: null },
      { ...valid, calls: [{ sid: null }] },
      { ...valid, callSid: 5 },
      { ...valid, ended: 7 },
      { ...valid, alarmId: null },
      { ...valid, notStarted: false },
      { ...valid, intent: null },
      { ...valid, intent: { action: 'text', to: SILENT } },
      { ...valid, intent: { action: 'fax', to: SILENT, at: 0 } },
      { ...valid, ended: 0, endedWith: { acknowledged: null } },
      { ...valid, endedWith: 'acknowledged' },
    ];
    const r = await startWithStored(
      simulator,
      time.clock,
      {
        id: 'page',
        type: 'twilio-page',
        contacts: `Nobody ${SILENT}`,
        contactsType: 'str',
        alert: 'Smoke',
        steps: [{ action: 'text', wait: 60 }],
        rounds: 1,
        outputs: 3,
      },
      'twilio-page-',
      valid,
      damaged,
    );
    assertSetAside(r, 'twilio-page-', damaged.length);
  });

  for (const [what, make] of Object.entries(HOSTILE))
    it(`${what}: ends once as INVALID_INPUT, nobody alerted`, async () => {
      const config = {
        contacts: `Nobody ${NOBODY}`,
        contactsType: 'str',
        alert: 'Smoke',
        steps: [{ action: 'text', wait: 60 }],
        rounds: 1,
        outputs: 3,
      };
      const { ends, sent } = await endsOf(simulator, 'twilio-page', config, make());
      assert.equal(sent, 0, 'nothing sent');
      assert.deepEqual(ends, ['INVALID_INPUT']);
    });
});
