/**
 * Attack: kill -9 during the look at Twilio's clock (twilioOffsetForIntent), through twilio-send
 * "wait for the outcome" in a real red.js. A fresh Node-RED (no answer from Twilio yet) takes a burst
 * of alarms; the first intents are HELD (stored without an offset) while the look at the account's
 * record goes; a proxy in front of the simulator holds that look (Twilio slow), and the power is cut
 * (SIGKILL) while it is out. Node-RED is started again on the same user dir, Twilio answering now.
 *
 * Promise: every msg the node accepted ends exactly once (NOT_SENT is right: nothing went), nothing
 * is sent twice (no text at Twilio for them: none was made), and Node-RED comes back up. Figures:
 * looks before the kill, looks after the restart, creates seen.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep, until } from '../support/assertions';
import { endedLog, endings as endingsIn, outcomeFlow, postJson, recorderSettings } from '../support/flows';
import { behindHoldingProxy } from '../support/proxy';
import { restartRed } from '../support/red-process';

const N = 12;
const TO = '+15555552531';

const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
const { proxy, reds, start } = behindHoldingProxy(simulator);

it('kill -9 while the first look at Twilio’s clock is out: every msg ends once, nothing is sent', { timeout: 90_000 }, async () => {
  const flows = outcomeFlow(proxy.url, `msg.id = msg.payload.id; msg.to = '${TO}'; msg.text = 'Smoke in the kitchen';`);
  const red = await start(flows);
  for (let id = 0; id < N; id++) await postJson(`${red.url}/go`, { id });
  await until(() => proxy.looks >= 1, 'the look went');
  await sleep(300); // the intents are held (stored) while the look is out; well within its 3 s
  const looksBefore = proxy.looks;
  const createsBefore = proxy.creates;
  await red.kill();
  proxy.holding = false;
  const again = await restartRed(red, recorderSettings());
  reds.push(again);
  const ended = () => endingsIn(endedLog(red.userDir));
  await until(() => [...Array(N).keys()].every((id) => ended().has(String(id))), `all ${N} msgs ended`, 60_000);
  await sleep(3_000); // a second ending, or a text sent again, on its way
  const texts = [...simulator.messages.values()].filter((m) => m.to === TO).length;
  const all = [...ended()].map(([id, e]) => `${id}: ${e.join(' | ')}`).join('; ');
  const report = `looks before the kill ${looksBefore}, after ${proxy.looks - looksBefore}; creates before the kill ${createsBefore}, after ${proxy.creates - createsBefore}; texts at Twilio ${texts}; endings ${all}`;
  console.log(`# kill-during-look: ${report}`);
  for (let id = 0; id < N; id++) assert.equal(ended().get(String(id))?.length, 1, `msg ${id} ended once: ${report}`);
  assert.equal(createsBefore, 0, `no create before the kill (the look held them): ${report}`);
  const notSent = [...ended().values()].filter((e) => e[0].includes('NOT_SENT')).length;
  // Each text at Twilio belongs to one msg that did not end NOT_SENT; none sent twice.
  assert.equal(texts, N - notSent, `texts at Twilio vs msgs not NOT_SENT: ${report}`);
  assert.ok(again.alive());
});
