/**
 * Nothing accepted is lost: thousands of messages in twilio-send (in flight, queued on the account,
 * waiting in the node's intake) when the flows are redeployed (full, modified nodes), stopped, or the
 * account node is removed. Every msg ends exactly once (sent, or done(err) NOT_SENT), nothing is sent
 * twice, nothing reported as not sent was sent, and the close finishes within Node-RED's 15 s.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowNode, RuntimeNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';

const COUNT = 3000;

interface Outcome {
  sent: number;
  done: number;
  errors: string[];
}

describe('twilio-send on close', { timeout: 120_000 }, () => {
  const { simulator } = useRuntime({ latencyMs: 150 });

  function flow(withAccount = true): FlowNode[] {
    const account = accountNode(simulator.url);
    return [
      { id: 'tab', type: 'tab', label: 't' },
      ...(withAccount ? [account.node] : []),
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: '+15558675310',
        toType: 'str',
        body: 'm-{{payload}}',
        bodyType: 'str',
        wires: [['out']],
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
  }
  const credentials = () => ({ account: accountNode(simulator.url).credentials });

  /** Sends COUNT msgs into the node and records, per msg (payload i), every send and done. */
  function flood(node: RuntimeNode): Outcome[] {
    const outcomes: Outcome[] = Array.from({ length: COUNT }, () => ({ sent: 0, done: 0, errors: [] }));
    const send = node.send as (msg: any) => void;
    node.send = (msg: any) => {
      outcomes[msg.payload?.sid ? Number(/m-(\d+)/.exec(msg.payload.body)![1]) : -1].sent++;
      send.call(node, msg);
    };
    const complete = node._complete as (msg: any, err?: any) => void;
    node._complete = (msg: any, err?: any) => {
      const outcome = outcomes[msg._index as number];
      outcome.done++;
      if (err) outcome.errors.push(err.code);
      complete.call(node, msg, err);
    };
    for (let i = 0; i < COUNT; i++) node.receive({ payload: i, _index: i });
    return outcomes;
  }

  async function waitUntilEnded(outcomes: Outcome[]): Promise<void> {
    for (let waited = 0; waited < 20_000 && outcomes.some((o) => o.done === 0); waited += 50) await new Promise((r) => setTimeout(r, 50));
  }

  /** What the simulator created, by msg index: each at most once. */
  function created(): Map<number, number> {
    const byIndex = new Map<number, number>();
    for (const message of simulator.messages.values()) {
      const index = Number(/^m-(\d+)$/.exec(String(message.body))?.[1]);
      byIndex.set(index, (byIndex.get(index) ?? 0) + 1);
    }
    return byIndex;
  }

  function assertEachEndedOnce(outcomes: Outcome[], label: string): void {
    const made = created();
    const lost = outcomes.filter((o) => o.done === 0).length;
    assert.equal(lost, 0, `${label}: ${lost} of ${COUNT} never ended`);
    for (const [i, o] of outcomes.entries()) {
      assert.equal(o.done, 1, `${label}: msg ${i} ended ${o.done} times`);
      assert.ok(o.sent + o.errors.length === 1, `${label}: msg ${i} sent ${o.sent}, failed ${o.errors.join()}`);
      if (o.errors.includes('NOT_SENT')) assert.ok(!made.has(i), `${label}: msg ${i} was reported not sent but Twilio has it`);
      if (o.sent) assert.equal(made.get(i), 1, `${label}: msg ${i} sent, so Twilio has it once`);
    }
    for (const [i, times] of made) assert.equal(times, 1, `${label}: msg ${i} created ${times} times`);
    const codes = new Set(outcomes.flatMap((o) => o.errors));
    assert.deepEqual(
      [...codes].filter((c) => c !== 'NOT_SENT'),
      [],
      `${label}: only NOT_SENT (got ${[...codes].join(', ')})`,
    );
    const sent = outcomes.filter((o) => o.sent).length;
    assert.ok(sent > 0 && sent < COUNT, `${label}: some sent (${sent}), the rest withdrawn`);
  }

  /** Floods the node, waits until some have gone out, then runs `stop` and checks every msg's end. */
  async function floodThen(label: string, stop: () => Promise<void>): Promise<void> {
    await helper.load(allNodes, flow(), credentials());
    const outcomes = flood(helper.getNode('send'));
    for (let waited = 0; simulator.messages.size < 200 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await stop();
    const closedIn = Date.now() - started;
    await waitUntilEnded(outcomes);
    assertEachEndedOnce(outcomes, label);
    assert.ok(closedIn < 15_000, `${label}: closed in ${closedIn} ms`);
  }

  it('ends every msg once on a full redeploy', async () => {
    await floodThen('full', async () => {
      await helper.setFlows(flow(), 'full', credentials());
    });
  });

  it('ends every msg once on a modified-nodes redeploy (the account keeps running)', async () => {
    await floodThen('nodes', async () => {
      const changed = flow().map((n) => (n.id === 'send' ? { ...n, name: 'changed' } : n));
      await helper.setFlows(changed, 'nodes', credentials());
    });
  });

  it('ends every msg once when Node-RED stops its flows (RED.stop)', async () => {
    await floodThen('stop', () => helper.unload());
  });

  it('ends every msg once when the account node is removed', async () => {
    await floodThen('account removed', async () => {
      await helper.setFlows(flow(false), 'full', {});
    });
  });
});
