/**
 * ATTACK (finding: restore race, twilio-ask): with a context store that answers slowly, a cancel
 * that comes right after a redeploy, while the new node still reads its stored questions, is lost:
 * Asking.cancel (lib/conversation/asking.ts) ends only the waits already restored, and resume()
 * never looks at RecentCancels (ask() does, for questions being sent). The question stays open and
 * the msg leaves later as "no reply" (or with the person's answer) instead of "cancelled".
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ManualClock, installClock } from '../../lib/core/clock';
import { FlowNode, accountNode, allNodes, helper, nodeRedPackage, useRuntime } from '../support/harness';
import { slowModule, slowStore } from './stores';

helper.init(require.resolve(nodeRedPackage), { contextStorage: { default: { module: 'memory' }, slow: { module: slowModule } } });

const SILENT = '+15555550113';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ATTACK twilio-ask: a cancel while the new node restores its questions', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  let clock: ManualClock;
  let restoreClock: () => void;
  beforeEach(() => {
    clock = new ManualClock();
    restoreClock = installClock(clock);
    slowStore.delayMs = 0;
  });
  afterEach(() => restoreClock());

  const flow = (name = '', contextStore = 'slow'): FlowNode[] => [
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
      contextStore,
      outputs: 4,
      wires: [['yes'], ['else'], ['noReply'], ['notDelivered']],
    },
    ...['yes', 'else', 'noReply', 'notDelivered'].map((id) => ({ id, type: 'helper', z: 'tab' })),
  ];
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });
  const questions = () => [...simulator.messages.values()].filter((m) => m.to === SILENT && m.direction !== 'inbound');

  for (const store of ['slow', ''])
    it(`cancels the restored question (${store ? 'a slow store' : 'control: the default store; holds'})`, async () => {
      await helper.load(allNodes, flow('', store), credentials());
      await (helper as any)._context.load();
      helper.getNode('ask').receive({ payload: 1 });
      for (let w = 0; questions().length === 0 && w < 5_000; w += 20) await sleep(20);
      await sleep(100);
      slowStore.delayMs = 150;
      await helper.setFlows(flow('changed', store), 'nodes', credentials());
      const noReply: any[] = [];
      helper.getNode('noReply').on('input', (m: any) => noReply.push(m));
      helper.getNode('ask').receive({ cancel: true });
      await sleep(1_500);
      await clock.advance(700_000);
      await sleep(200);
      assert.deepEqual(
        noReply.map((m) => m.ask.outcome),
        ['cancelled'],
      );
    });
});
