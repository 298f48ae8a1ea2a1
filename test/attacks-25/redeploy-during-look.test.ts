/**
 * Attack: a redeploy, and a removal of the node, during the first look at Twilio's clock
 * (twilioOffsetForIntent) through twilio-send "wait for the outcome" in a real red.js. A fresh
 * Node-RED takes a burst of alarms; their intents are held while the look at the account's record
 * goes; a proxy in front of the simulator holds that look (Twilio slow, up to the 3 s cap); the
 * operator deploys meanwhile.
 *
 * Promises: (1) full redeploy of the same flows: every msg ends exactly once where the flow hears it
 * (an output or a Catch, in the old flows or the new: a redeploy keeps stored waits for the new node,
 * and outcome-waits.ts says of this very case "its stored intents never went (NOT_SENT at the next
 * start)"), and each text at Twilio
 * belongs to exactly one msg that did not end NOT_SENT (nothing sent twice); (2) the send node
 * removed: nothing is sent after the node let go (no create reaches Twilio, 5 s after the look's cap).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { EmbeddedStateEngine } from '../../lib/state/embedded';
import { it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep, until } from '../support/assertions';
import { TAB, accountConfig, deployFlows, endedLog, endings as endingsIn, outcomeFlow, postJson } from '../support/flows';
import { behindHoldingProxy } from '../support/proxy';
import { RedProcess } from '../support/red-process';

const N = 10;

const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
const { proxy, start } = behindHoldingProxy(simulator);

const deploy = (red: RedProcess, flows: object[]) =>
  deployFlows(red.url, flows).then(async (res) => {
    assert.ok(res.ok, `deploy answered ${res.status}`);
    await res.body?.cancel();
  });

async function burst(red: RedProcess): Promise<void> {
  for (let id = 0; id < N; id++) await postJson(`${red.url}/go`, { id });
  const looks = proxy.looks;
  await until(() => proxy.looks > looks || looks > 0, 'the look went');
  await sleep(300); // the intents held while the look is out
}

it('a full redeploy during the first look: every msg ends once, nothing is sent twice', { timeout: 90_000 }, async () => {
  const to = '+15555552551';
  const flows = outcomeFlow(proxy.url, `msg.id = msg.payload.id; msg.to = '${to}'; msg.text = 'Smoke in the kitchen';`);
  const red = await start(flows);
  proxy.holding = true;
  await burst(red);
  const createsBefore = proxy.creates;
  const looksBefore = proxy.looks;
  const deployStarted = Date.now();
  await deploy(red, flows);
  const deployMs = Date.now() - deployStarted;
  proxy.holding = false;
  const ended = () => endingsIn(endedLog(red.userDir));
  const allEnded = () => [...Array(N).keys()].every((id) => ended().has(String(id)));
  for (let waited = 0; !allEnded() && waited < 20_000; waited += 100) await sleep(100);
  await sleep(3_000);
  const texts = [...simulator.messages.values()].filter((m) => m.to === to).length;
  const all = [...ended()].map(([id, e]) => `${id}: ${e.join(' | ')}`).join('; ');
  const report = `deploy took ${deployMs} ms; looks before the deploy ${looksBefore}, after ${proxy.looks - looksBefore}; creates before the deploy ${createsBefore}; texts at Twilio ${texts}; endings ${all}`;
  console.log(`# redeploy-during-look: ${report}`);
  if (!allEnded()) {
    await red.kill();
    const look = new EmbeddedStateEngine({ dir: path.join(red.userDir, 'twilio-state') });
    const kept = await look.scan('node/', 100);
    await look.close();
    console.log(`# waits stored after the redeploy (killed to read its store): ${kept.length} ${kept.map((r) => r.key).join(', ')}`);
  }
  if (!allEnded()) console.log(`# Node-RED's log:\n${red.log().split('\n').slice(-30).join('\n')}\n# requests: ${proxy.log.join('\n')}`);
  for (let id = 0; id < N; id++) assert.equal(ended().get(String(id))?.length, 1, `msg ${id} ended once: ${report}`);
  const notSent = [...ended().values()].filter((e) => e[0].includes('NOT_SENT')).length;
  assert.equal(texts, N - notSent, `texts at Twilio vs msgs not NOT_SENT: ${report}`);
  assert.ok(red.alive() || !allEnded());
});

it('the send node removed during the first look: nothing is sent after it let go', { timeout: 90_000 }, async () => {
  const to = '+15555552552';
  const flows = outcomeFlow(proxy.url, `msg.id = msg.payload.id; msg.to = '${to}'; msg.text = 'Smoke in the kitchen';`);
  const red = await start(flows);
  proxy.holding = true;
  await burst(red);
  const createsBefore = proxy.creates;
  await deploy(red, [TAB, accountConfig(proxy.url)]);
  proxy.holding = false;
  await sleep(5_000); // past the look's 3 s cap and any retry
  const texts = [...simulator.messages.values()].filter((m) => m.to === to).length;
  const report = `creates before the removal ${createsBefore}, after ${proxy.creates - createsBefore}; texts at Twilio ${texts}; endings ${JSON.stringify([...endingsIn(endedLog(red.userDir))])}`;
  console.log(`# removal-during-look: ${report}`);
  assert.equal(texts, 0, `nothing sent after the node let go: ${report}`);
  assert.ok(red.alive());
});

it(
  'control: the same redeploy once Twilio’s clock is known (the creates slow instead): every msg ends once',
  { timeout: 90_000 },
  async () => {
    const to = '+15555552553';
    const flows = outcomeFlow(proxy.url, `msg.id = msg.payload.id; msg.to = '${to}'; msg.text = 'Smoke in the kitchen';`);
    proxy.holding = false;
    const red = await start(flows);
    const ended = () => endingsIn(endedLog(red.userDir));
    const post = (id: string) => postJson(`${red.url}/go`, { id });
    await post('warm'); // the first send: the look answers, the offset is known
    await until(() => ended().has('warm'), 'the first send ended', 20_000);
    simulator.latencyMs = 1_500;
    for (let id = 0; id < N; id++) await post(String(id));
    await sleep(300); // the creates are out
    await deploy(red, flows);
    simulator.latencyMs = 0;
    const allEnded = () => [...Array(N).keys()].every((id) => ended().has(String(id)));
    for (let waited = 0; !allEnded() && waited < 20_000; waited += 100) await sleep(100);
    await sleep(2_000);
    const texts = [...simulator.messages.values()].filter((m) => m.to === to).length;
    const report = `texts at Twilio ${texts}; endings ${[...ended()].map(([id, e]) => `${id}: ${e.join(' | ')}`).join('; ')}`;
    console.log(`# redeploy-control: ${report}`);
    for (let id = 0; id < N; id++) assert.equal(ended().get(String(id))?.length, 1, `msg ${id} ended once: ${report}`);
  },
);
