/**
 * What the tests of the three waiting nodes (twilio-send, twilio-ask, twilio-page) share: a start
 * with damaged records beside a valid one in the `refusing` context store (./context-stores), and
 * hostile msgs that cannot wait. Each node's file holds its own assertions.
 */
import assert from 'node:assert/strict';
import type { ManualClock } from '../../lib/core/clock';
import type { TwilioSimulator } from '../../simulator/server';
import { refusingStore } from './context-stores';
import { FlowNode, accountNode, allNodes, helper } from './harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Damaged records of every shape any node may find (each node adds its own). */
export const COMMON_DAMAGED: unknown[] = [null, 42, 'text', [], {}, true, { msg: null }, [{ msg: {} }]];

export interface StartedWith {
  out: any[];
  warnings: string[];
  keys: string[];
}

/**
 * Starts `node` (its outputs o0…o3) after a stop that left `valid` and `damaged` records under
 * `prefix` in its store: what it sent, warned, and what its store holds after.
 */
export async function startWithStored(
  simulator: TwilioSimulator,
  clock: ManualClock,
  node: FlowNode,
  prefix: string,
  valid: object,
  damaged: unknown[],
): Promise<StartedWith> {
  const flow: FlowNode[] = [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken').node,
    { ...node, z: 'tab', account: 'account', stateIn: 'context:refusing', wires: [['o0'], ['o1'], ['o2'], ['o3']] },
    ...['o0', 'o1', 'o2', 'o3'].map((id) => ({ id, type: 'helper', z: 'tab' })),
  ];
  await helper.load(allNodes, flow, { account: accountNode(simulator.url, 'authToken').credentials });
  const red = helper as any;
  await red._context.load();
  await red._redNodes.stopFlows();
  const store = refusingStore.instances.at(-1)!;
  const data: Record<string, unknown> = {};
  damaged.forEach((d, i) => (data[`${prefix}d${i}`] = d));
  data[`${prefix}valid`] = valid;
  store.data[`${node.id}:tab`] = data;
  await red._redNodes.startFlows();
  const out: any[] = [];
  for (const o of ['o0', 'o1', 'o2', 'o3']) helper.getNode(o).on('input', (m: any) => out.push(m));
  await sleep(200);
  await clock.advance(10);
  await sleep(200);
  const warnings = (helper.getNode(node.id as string).warn as any).getCalls().map((c: any) => String(c.args[0]));
  const keys = Object.keys(store.data[`${node.id}:tab`] ?? {});
  return { out, warnings, keys };
}

/** Every damaged record set aside (one warning for all), none left under the prefix; the valid one resumed and left. */
export function assertSetAside(r: StartedWith, prefix: string, count: number): void {
  assert.equal(r.warnings.length, 1, `one warning: ${r.warnings.join(' | ')}`);
  assert.equal(r.keys.filter((k) => k.startsWith(`damaged-${prefix}`)).length, count, `set aside: ${r.keys.join(', ')}`);
  assert.deepEqual(
    r.keys.filter((k) => k.startsWith(prefix) && k !== `${prefix}valid`),
    [],
  );
  assert.equal(r.out.length, 1, 'the valid record resumed and left');
  assert.equal(r.out[0].mark, 'valid');
}

/** Msgs that cannot wait: each must end once as INVALID_INPUT, with nothing sent. */
export const HOSTILE: Record<string, () => Record<string, unknown>> = {
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

/** Sends `msg` into a node of `type` (with `config`): how it ended (codes, or 'ok') and how many messages Twilio got meanwhile. */
export async function endsOf(
  simulator: TwilioSimulator,
  type: string,
  config: Record<string, unknown>,
  msg: Record<string, unknown>,
): Promise<{ ends: string[]; sent: number }> {
  const flow: FlowNode[] = [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken').node,
    { id: 'n', type, z: 'tab', account: 'account', ...config, wires: [['o0'], ['o1'], ['o2'], ['o3']] },
    ...['o0', 'o1', 'o2', 'o3'].map((id) => ({ id, type: 'helper', z: 'tab' })),
  ];
  await helper.load(allNodes, flow, { account: accountNode(simulator.url, 'authToken').credentials });
  const node = helper.getNode('n') as any;
  const ends: string[] = [];
  const complete = node._complete.bind(node);
  node._complete = (m: unknown, err: any) => {
    ends.push(err ? String(err.code) : 'ok');
    complete(m, err);
  };
  const before = simulator.messages.size;
  node.receive(msg);
  for (let w = 0; ends.length === 0 && w < 3_000; w += 20) await sleep(20);
  await sleep(200);
  return { ends, sent: simulator.messages.size - before };
}
