/**
 * ATTACK: hostile msgs into the three waiting nodes: a msg whose toJSON answers undefined, one
 * whose toJSON throws, a getter that throws, a BigInt. Promise: each msg ends exactly once with a
 * coded error (INVALID_INPUT: it cannot wait), nothing is sent, Node-RED does not crash.
 *
 * Finding (toJSON → undefined): WaitingRoom's storableCopy (lib/waits/waiting-room.ts) calls
 * JSON.parse(json) outside its try: JSON.stringify answered undefined, so JSON.parse throws a
 * SyntaxError the node reports with an uncoded error instead of INVALID_INPUT.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';

const SILENT = '+15555550113';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NODES: Record<string, Record<string, unknown>> = {
  'twilio-send': { resource: 'message', to: SILENT, toType: 'str', body: 'hi', bodyType: 'str', waitFor: 'outcome', outputs: 1 },
  'twilio-ask': { to: SILENT, toType: 'str', body: 'Close?', bodyType: 'str', answers: [{ type: 'words', value: 'yes' }], outputs: 4 },
  'twilio-page': {
    contacts: `Nobody ${SILENT}`,
    contactsType: 'str',
    alert: 'Smoke',
    steps: [{ action: 'text', wait: 60 }],
    rounds: 1,
    outputs: 3,
  },
};

const HOSTILE: Record<string, () => Record<string, unknown>> = {
  'toJSON answers undefined': () => ({ payload: 1, toJSON: () => undefined }),
  'toJSON throws': () => ({
    payload: 1,
    toJSON: () => {
      throw new Error('no');
    },
  }),
  'a getter that throws': () =>
    Object.defineProperty({ payload: 1 }, 'trap', {
      enumerable: true,
      get() {
        throw new Error('trap');
      },
    }),
  'a BigInt': () => ({ payload: 10n }),
};

describe('ATTACK hostile msgs into the waiting nodes', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });

  for (const [type, config] of Object.entries(NODES))
    for (const [what, make] of Object.entries(HOSTILE))
      it(`${type}: ${what} ends once as INVALID_INPUT, nothing sent`, async () => {
        const flow: FlowNode[] = [
          { id: 'tab', type: 'tab', label: 't' },
          accountNode(simulator.url, 'authToken').node,
          { id: 'n', type, z: 'tab', account: 'account', ...config, wires: [['o0'], ['o1'], ['o2'], ['o3']] },
          ...['o0', 'o1', 'o2', 'o3'].map((id) => ({ id, type: 'helper', z: 'tab' })),
        ];
        await helper.load(allNodes, flow, credentials());
        const node = helper.getNode('n') as any;
        const ends: string[] = [];
        const complete = node._complete.bind(node);
        node._complete = (m: unknown, err: any) => {
          ends.push(err ? String(err.code) : 'ok');
          complete(m, err);
        };
        const before = simulator.messages.size;
        node.receive(make());
        for (let w = 0; ends.length === 0 && w < 3_000; w += 20) await sleep(20);
        await sleep(200);
        assert.equal(simulator.messages.size - before, 0, 'nothing sent');
        assert.deepEqual(ends, ['INVALID_INPUT']);
      });
});
