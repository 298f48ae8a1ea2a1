/**
 * twilio-page removed from the flows (a full deploy without it) mid-page: while its call is being
 * placed (the request in flight), and while the call rings. Promise: the page's msg ends once; the
 * call it placed is hung up (nobody is woken by a page that no longer exists), although the full
 * deploy closes the account too: the account takes the page's final requests before it closes.
 * Once both failed with an unhandledRejection "Twilio account … closed" (hangUp threw synchronously
 * from account.getClient() through the room's close; a real red.js exited: test/process/twilio-page.removal).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { TwilioAccount } from '../../lib/account/account';
import { FlowNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';

const ANSWERS_NO_KEY = '+15555550121';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('twilio-page removed mid-page', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  const settings = (body: object) => fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify(body) });
  useManualClock(); // the nodes wait on a clock the test moves (here: nothing waits for it)
  afterEach(async () => {
    await settings({ latencyMs: 0 });
  });

  const flow = (withPage: boolean): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken').node,
    ...(withPage
      ? [
          {
            id: 'page',
            type: 'twilio-page',
            z: 'tab',
            account: 'account',
            contacts: `Bob ${ANSWERS_NO_KEY}`,
            contactsType: 'str',
            alert: 'Smoke',
            steps: [{ action: 'call', wait: 60 }],
            rounds: 1,
            wires: [['o0'], ['o1'], ['o2']],
          },
        ]
      : []),
    ...['o0', 'o1', 'o2'].map((id) => ({ id, type: 'helper', z: 'tab' })),
  ];
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });
  const calls = () => [...simulator.calls.values()].filter((c) => c.to === ANSWERS_NO_KEY);
  const hangUps = (sid: string) => simulator.requests.filter((r) => r.path.includes(sid) && r.method === 'POST');

  for (const when of ['while its call is being placed', 'while its call rings'])
    it(`hangs up the page's call when the node is removed ${when}`, async () => {
      await helper.load(allNodes, flow(true), credentials());
      const node = helper.getNode('page') as any;
      let dones = 0;
      const complete = node._complete.bind(node);
      node._complete = (m: unknown, err: unknown) => {
        dones++;
        complete(m, err);
      };
      // The account has heard from Twilio before (its clock is known): the page's first request is its call.
      const account = helper.getNode('account') as unknown as TwilioAccount;
      await account.getClient().api.v2010.accounts(account.accountSid).fetch();
      if (when.includes('placed')) await settings({ latencyMs: 600 });
      const arrived = simulator.stats.requests;
      node.receive({ topic: 'smoke' });
      // Removed once the call's request reached Twilio (whose answer takes 600 ms), not at a guessed moment:
      // the step is stored before it goes, and that write may take a while on a loaded machine.
      if (when.includes('placed')) for (let w = 0; simulator.stats.requests === arrived && w < 5_000; w += 10) await sleep(10);
      else for (let w = 0; calls().length === 0 && w < 5_000; w += 20) await sleep(20);
      await helper.setFlows(flow(false), 'full', credentials());
      await settings({ latencyMs: 0 });
      await sleep(1_500);
      assert.equal(dones, 1, 'the page msg ended once');
      assert.equal(calls().length, 1, 'the call was placed');
      const sid = String(calls()[0].sid);
      assert.ok(hangUps(sid).length >= 1, `the call ${sid} was hung up (status ${calls()[0].status})`);
    });
});
