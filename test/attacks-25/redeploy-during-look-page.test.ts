/**
 * Attack: a full redeploy during the look at Twilio's clock (twilioOffsetForIntent) through
 * twilio-page in a real red.js. A fresh Node-RED (no answer from Twilio yet) takes an alarm; before
 * the page's first step is saved with its intent, the look at the account's record goes (pager.ts
 * offsetIntoIntent); a proxy in front of the simulator holds it (Twilio slow, up to the 3 s cap) and
 * the operator deploys the same flows meanwhile.
 *
 * Promise: a redeploy keeps a page for the new node: the page goes on (its first step's text goes
 * once, never twice) and the msg ends once where the flow hears it (one output or one Catch).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep, until } from '../support/assertions';
import { deployFlows, endedLog, endings, pageFlow, postSmoke } from '../support/flows';
import { behindHoldingProxy } from '../support/proxy';

const ALICE = '+15555552542';

const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: { [ALICE]: { message: 'delivered', call: 'no-answer' } } });
const { proxy, start } = behindHoldingProxy(simulator, /\/(Messages|Calls)\.json/);

const flows = (baseUrl: string) => pageFlow(baseUrl, ALICE);

it(
  'a full redeploy while a page’s first look at Twilio’s clock is out: the page goes on, its text goes once, it ends once',
  { timeout: 90_000 },
  async () => {
    const red = await start(flows(proxy.url));
    await postSmoke(red.url);
    await until(() => proxy.looks >= 1, 'the look went');
    await sleep(300);
    const createsBefore = proxy.creates;
    const deployStarted = Date.now();
    const deployed = await deployFlows(red.url, flows(proxy.url));
    assert.ok(deployed.ok, `deploy answered ${deployed.status}`);
    await deployed.body?.cancel();
    const deployMs = Date.now() - deployStarted;
    proxy.holding = false;
    const ended = () => endings(endedLog(red.userDir)).get('page') ?? [];
    for (let waited = 0; ended().length === 0 && waited < 40_000; waited += 100) await sleep(100);
    await sleep(3_000); // a second ending, or a text sent again, on its way
    const texts = [...simulator.messages.values()].filter((m) => m.to === ALICE).length;
    const report = `deploy took ${deployMs} ms; creates before the deploy ${createsBefore}; texts to Alice ${texts}; endings ${ended().join(' | ')}; looks ${proxy.looks}`;
    console.log(`# redeploy-during-look-page: ${report}`);
    assert.equal(createsBefore, 0, report);
    assert.equal(ended().length, 1, `the page ended once: ${report}`);
    assert.equal(texts, 1, `the first step's text went once: ${report}`);
  },
);
