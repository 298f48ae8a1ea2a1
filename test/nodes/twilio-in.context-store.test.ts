/**
 * twilio-in's duplicate window of an unchecked webhook (signature check off: only the token tells
 * deliveries apart) in the context store the user chose (settings.js contextStorage): one key per
 * token there, kept across full and modified-nodes redeploys. A checked webhook's duplicates are the
 * account's, in its state engine (twilio-in.replay.test.ts).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import { ACCOUNT, FlowNode, accountNode, allNodes, helper, nodeRedPackage, useHttpNode, useRuntime } from '../support/harness';

helper.init(require.resolve(nodeRedPackage), { contextStorage: { default: { module: 'memory' }, shared: { module: 'memory' } } });

const PARAMS = { MessageSid: 'SM' + 'd'.repeat(32), AccountSid: ACCOUNT.sid, From: '+15558675310', To: '+15017122661', Body: 'hi' };

describe('twilio-in duplicate window in a configured context store', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  const post = (token: string) =>
    fetch(`${httpNode.base()}/twilio/sms`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': twilio.getExpectedTwilioSignature(ACCOUNT.authToken, `${httpNode.base()}/twilio/sms`, PARAMS),
        'I-Twilio-Idempotency-Token': token,
      },
      body: new URLSearchParams(PARAMS).toString(),
    });

  it('keeps one key per token in the chosen store, across redeploys', async () => {
    const account = accountNode(simulator.url, 'authToken');
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      {
        id: 'in',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        path: '/twilio/sms',
        validate: false,
        reply: 'auto',
        dedupe: true,
        dedupeWindow: 600,
        stateIn: 'context:shared',
        wires: [['out']],
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    await helper.load(allNodes, flow, { account: account.credentials });
    // The test helper never opens the stores settings.js configures (Node-RED's start does): open them.
    await (helper as any)._context.load();
    const received: unknown[] = [];
    const listen = () => helper.getNode('out').on('input', (m: unknown) => received.push(m));
    listen();
    const tokens = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const token of tokens) assert.equal((await post(token)).status, 200);
    const context = (helper.getNode('in') as any).context();
    const keys = (
      await new Promise<string[]>((resolve, reject) =>
        context.keys('shared', (err: Error, k: string[]) => (err ? reject(err) : resolve(k))),
      )
    ).filter((k) => k.startsWith('twilio-in-dedupe-t-'));
    assert.equal(keys.length, 3, 'one key per token, in the store the node names');
    const defaults = await new Promise<string[]>((resolve, reject) =>
      context.keys('default', (err: Error, k: string[]) => (err ? reject(err) : resolve(k))),
    );
    assert.deepEqual(
      defaults.filter((k) => k.startsWith('twilio-in')),
      [],
      `nothing in the default store: ${JSON.stringify(defaults)}`,
    );

    for (const type of ['full', 'nodes']) {
      const flows = helper._redNodes.getFlows();
      await helper.setFlows(
        flows.flows.map((n) => (n.id === 'in' ? { ...n, name: `after ${type}` } : n)),
        type,
        flows.credentials as Record<string, object>,
      );
      listen();
      for (const token of tokens) assert.equal((await post(token)).status, 200);
    }
    for (let waited = 0; received.length < 3 && waited < 2000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(received.length, 3, 'each token emitted once, before and after both redeploys');
  });
});
