/**
 * The Twilio sidebar's admin endpoint and pushes in a real Node-RED runtime against the simulator:
 * the values it serves are what the simulator recorded (Sids, masked numbers, statuses), it needs
 * `twilio.read`, refuses a cross-site request, pushes changes over comms only while an editor is
 * connected, and never carries a secret, a body or a full number.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskNumber } from '../../lib/account/activity';
import { ACCOUNT, API_KEY, FlowNode, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';
import path from 'node:path';
import { root } from '../support/paths';

const sidebarPlugin = require(path.join(root, 'dist', 'plugins', 'twilio-sidebar', 'twilio-sidebar.js')) as (RED: unknown) => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Served {
  accounts: Array<{
    id: string;
    name: string;
    traffic: Array<{ sid: string; direction: string; kind: string; from: string; to: string; status: string }>;
    refusals: Record<string, number>;
    minutes: Array<{ started: number }>;
  }>;
  waits: Array<{ nodeId: string; id: string; deadline?: number }>;
}

describe('the Twilio sidebar: admin endpoint and pushes', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  function flow(): FlowNode[] {
    return [
      { id: 'tab', type: 'tab', label: 't' },
      accountNode(simulator.url, 'authToken').node,
      {
        id: 'receipts',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        path: '/twilio/status',
        publicBaseUrl: httpNode.base(),
        validate: true,
        reply: 'auto',
        wires: [['out']],
      },
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: '+15558675310',
        toType: 'str',
        body: 'The garage is open',
        bodyType: 'str',
        statusCallbackNode: 'receipts',
        wires: [[]],
      },
      {
        id: 'bot',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        path: '/twilio/sms',
        publicBaseUrl: httpNode.base(),
        validate: true,
        reply: 'auto',
        wires: [['out']],
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
  }
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });
  const served = async (): Promise<Served> => {
    const answer = await helper.request().get('/twilio-activity').expect(200);
    return answer.body as Served;
  };

  it('serves each message in and out as the simulator recorded it, its status as it changed, and refusals', async () => {
    await helper.load([...allNodes, sidebarPlugin], flow(), credentials());
    const received: any[] = [];
    helper.getNode('out').on('input', (m: any) => received.push(m));
    helper.getNode('send').receive({ payload: 'x' });
    await until(() => received.length >= 2, 'two delivery receipts');
    const number = simulator.find('incomingPhoneNumbers')!;
    number.sms_url = `${httpNode.base()}/twilio/sms`;
    const { delivery } = await simulator.receiveMessage({ from: '+15558675399', to: String(number.phone_number), body: 'Lights off' });
    assert.equal(delivery?.status, 200);
    // A post without Twilio's signature: refused (403), and counted.
    const forged = await fetch(`${httpNode.base()}/twilio/sms`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'From=%2B15558675399&Body=hi',
    });
    assert.equal(forged.status, 403);
    await simulator.settled();

    const body = await served();
    const account = body.accounts.find((a) => a.id === 'account')!;
    assert.ok(account, JSON.stringify(body));
    assert.equal(account.name, 'test account');
    const out = [...simulator.messages.values()].find((m) => m.to === '+15558675310' && m.direction === 'outbound-api')!;
    const incoming = [...simulator.messages.values()].find((m) => m.from === '+15558675399' && m.direction === 'inbound')!;
    // This test's (an account node of the same id keeps what it showed across a redeploy).
    const ours = account.traffic.filter((t) => t.sid === incoming.sid || t.sid === out.sid);
    assert.deepEqual(ours, [
      {
        ...ours[0],
        sid: incoming.sid,
        kind: 'message',
        direction: 'in',
        from: maskNumber(incoming.from),
        to: maskNumber(incoming.to),
        status: 'received',
      },
      {
        ...ours[1],
        sid: out.sid,
        kind: 'message',
        direction: 'out',
        from: maskNumber(out.from),
        to: maskNumber(out.to),
        status: String(out.status),
      },
    ]);
    assert.equal(out.status, 'delivered');
    assert.equal(ours[1].to, '+•••••••5310');
    assert.equal(account.refusals.signature, 1);
    // This minute's bar, or the one before when the test ran across a minute's turn.
    assert.ok(
      account.minutes.slice(-2).some((minute) => minute.started >= 1),
      'the request is in this minute of the chart',
    );
    const text = JSON.stringify(body);
    for (const secret of [ACCOUNT.authToken, API_KEY.secret, 'Lights off', 'The garage is open', '+15558675310', '+15558675399'])
      assert.ok(!text.includes(secret), `${secret} is not served`);
  });

  it('needs twilio.read, and refuses a request a browser marks as cross-site', async () => {
    const asked: string[] = [];
    // Node-RED's own check, as adminAuth would make it: a request without the permission is refused.
    const withAuth = (red: any) =>
      sidebarPlugin({
        ...red,
        auth: {
          needsPermission: (permission: string) => {
            asked.push(permission);
            return (req: any, res: any, next: () => void) =>
              String(req.headers['x-test-permissions'] ?? '')
                .split(',')
                .includes(permission)
                ? next()
                : res.status(401).end();
          },
        },
      });
    await helper.load([...allNodes, withAuth], flow(), credentials());
    assert.deepEqual(asked, ['twilio.read']);
    await helper.request().get('/twilio-activity').expect(401);
    await helper.request().get('/twilio-activity').set('X-Test-Permissions', 'twilio.write').expect(401);
    const allowed = await helper.request().get('/twilio-activity').set('X-Test-Permissions', 'twilio.read').expect(200);
    assert.ok(Array.isArray(allowed.body.accounts));
    const crossSite = await helper
      .request()
      .get('/twilio-activity')
      .set('X-Test-Permissions', 'twilio.read')
      .set('Sec-Fetch-Site', 'cross-site');
    assert.equal(crossSite.status, 403);
    assert.equal(crossSite.body.accounts, undefined, 'nothing served');
  });

  it("pushes an account's changes over comms while an editor is connected, and nothing before", async () => {
    await helper.load([...allNodes, sidebarPlugin], flow(), credentials());
    const events = (helper as any)._events as import('node:events').EventEmitter;
    const pushed: Array<{ topic: string; data: any }> = [];
    const onComms = (event: { topic: string; data: unknown }) => {
      if (event.topic.startsWith('twilio/')) pushed.push(event as { topic: string; data: any });
    };
    events.on('comms', onComms);
    try {
      helper.getNode('send').receive({ payload: 'x' });
      await until(() => simulator.messages.size > 0 && [...simulator.messages.values()].some((m) => m.status === 'delivered'), 'delivered');
      await simulator.settled();
      await sleep(700);
      assert.equal(pushed.length, 0, 'no editor: nothing pushed');

      events.emit('comms:connection-added', { session: 'x' });
      const before = new Set(simulator.messages.keys());
      helper.getNode('send').receive({ payload: 'y' });
      await until(() => [...simulator.messages.values()].some((m) => !before.has(String(m.sid)) && m.status === 'delivered'), 'delivered');
      const second = [...simulator.messages.values()].find((m) => !before.has(String(m.sid)))!;
      const shows = (p: { data: any }) =>
        p.data.account?.traffic.some((t: { sid: string; status: string }) => t.sid === second.sid && t.status === 'delivered');
      await until(() => pushed.some(shows), 'a push of its delivery');
      const topics = new Set(pushed.map((p) => p.topic));
      assert.deepEqual([...topics], ['twilio/activity/account']);
      const text = JSON.stringify(pushed);
      for (const secret of [ACCOUNT.authToken, 'The garage is open', '+15558675310'])
        assert.ok(!text.includes(secret), `${secret} is not pushed`);
      events.emit('comms:connection-removed', { session: 'x' });
    } finally {
      events.removeListener('comms', onComms);
    }
  });
});
