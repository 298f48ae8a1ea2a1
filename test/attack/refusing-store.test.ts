/**
 * ATTACK: a context store that refuses writes (a full disk, a shared store that is down).
 *
 * Finding "restore aborts": a node starts with a damaged record and a store that refuses the write
 * that sets it aside: WaitingRoom.restore (lib/waits/waiting-room.ts, the `store.set('damaged-…')`
 * in restore) throws, so the VALID waits it had already taken into memory are never resumed: their
 * msgs never leave, while the room counts them.
 *
 * Finding "ask leaks its open questions": twilio-ask sends a question, then storing its wait fails:
 * Asking.ask (lib/conversation/asking.ts, `await this.waits.hold(...)` with no catch) lets the error
 * out without letGo(sending): the question opened on the account's board as it was sent stays open,
 * so the next question to that person carries a code hint ("reply with 12 …") as if two were open.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ManualClock, installClock } from '../../lib/core/clock';
import { FlowNode, accountNode, allNodes, helper, nodeRedPackage, useRuntime } from '../support/harness';
import { refusingModule, refusingStore } from './stores';

helper.init(require.resolve(nodeRedPackage), { contextStorage: { default: { module: 'memory' }, refusing: { module: refusingModule } } });

const ANSWERS = '+15555550100';
const SILENT = '+15555550113';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ATTACK a context store that refuses writes', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  let clock: ManualClock;
  let restoreClock: () => void;
  beforeEach(() => {
    clock = new ManualClock();
    restoreClock = installClock(clock);
    refusingStore.refuse = false;
  });
  afterEach(() => {
    refusingStore.refuse = false;
    restoreClock();
  });
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });

  for (const refuse of [true, false])
    it(`twilio-send: a valid stored wait resumes beside a damaged one${refuse ? ' when setting the damaged one aside fails' : ' (control: the store takes writes; holds)'}`, async () => {
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
          contextStore: 'refusing',
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
          deadline: clock.now() + 600_000,
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
      await clock.advance(5_000);
      await sleep(200);
      assert.equal(out.length, 1, 'the valid wait (its outcome already in) leaves as a fresh msg');
      assert.equal(out[0].door, 'garage');
    });

  it('twilio-ask: a question whose wait could not be stored leaves no open question behind', async () => {
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      accountNode(simulator.url, 'authToken').node,
      {
        id: 'ask',
        type: 'twilio-ask',
        z: 'tab',
        account: 'account',
        to: SILENT,
        toType: 'str',
        body: 'Close the garage?',
        bodyType: 'str',
        answers: [{ type: 'words', value: 'yes' }],
        timeout: 600,
        contextStore: 'refusing',
        outputs: 4,
        wires: [['o0'], ['o1'], ['o2'], ['o3']],
      },
      ...['o0', 'o1', 'o2', 'o3'].map((id) => ({ id, type: 'helper', z: 'tab' })),
    ];
    await helper.load(allNodes, flow, credentials());
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
    for (let w = 0; bodies().length < 2 && w < 5_000; w += 20) await sleep(20);
    assert.deepEqual(bodies(), ['Close the garage?', 'Close the garage?'], 'the second question is asked as the only one open');
  });
});
