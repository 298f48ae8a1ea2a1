/**
 * Attack: kill -9 during the look at Twilio's clock (twilioOffsetForIntent) through twilio-page in a
 * real red.js. A fresh Node-RED (no answer from Twilio yet) takes an alarm; before the page's first
 * step is saved with its intent, the look at the account's record goes (pager.ts offsetIntoIntent);
 * a proxy in front of the simulator holds it (Twilio slow) and the power is cut (SIGKILL) while it
 * is out. Node-RED is started again on the same user dir, Twilio answering now.
 *
 * Promise: the page begins again (its first step goes once: one text to the contact, never two),
 * and the msg ends once (one output of the page).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep, until } from '../support/assertions';
import { endedLog, endings, pageFlow, postSmoke, recorderSettings } from '../support/flows';
import { behindHoldingProxy } from '../support/proxy';
import { restartRed } from '../support/red-process';

const ALICE = '+15555552541';

const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: { [ALICE]: { message: 'delivered', call: 'no-answer' } } });
const { proxy, reds, start } = behindHoldingProxy(simulator, /\/(Messages|Calls)\.json/);

const flows = (baseUrl: string) => pageFlow(baseUrl, ALICE);

it(
  'kill -9 while a page’s first look at Twilio’s clock is out: the page begins again, its text goes once, it ends once',
  { timeout: 90_000 },
  async () => {
    const red = await start(flows(proxy.url));
    await postSmoke(red.url);
    await until(() => proxy.looks >= 1, 'the look went');
    await sleep(300);
    const createsBefore = proxy.creates;
    await red.kill();
    proxy.holding = false;
    const again = await restartRed(red, recorderSettings());
    reds.push(again);
    const ended = () => endings(endedLog(red.userDir)).get('page') ?? [];
    await until(() => ended().length > 0, 'the page ended', 60_000);
    await sleep(3_000); // a second ending, or a text sent again, on its way
    const texts = [...simulator.messages.values()].filter((m) => m.to === ALICE).length;
    const report = `creates before the kill ${createsBefore}; texts to Alice ${texts}; endings ${ended().join(' | ')}; looks ${proxy.looks}`;
    console.log(`# kill-during-look-page: ${report}`);
    assert.equal(createsBefore, 0, report);
    assert.equal(texts, 1, `the first step's text went once: ${report}`);
    assert.equal(ended().length, 1, `the page ended once: ${report}`);
  },
);
