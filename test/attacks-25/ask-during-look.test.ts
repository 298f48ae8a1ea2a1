/**
 * Attack: the first questions after a start (twilio-ask) while the look at Twilio's clock
 * (twilioOffsetForIntent, asking.ts withTwilioOffset) is out, in a real red.js: a proxy in front of
 * the simulator holds the look (Twilio slow, up to the 3 s cap), and (1) the power is cut (kill -9)
 * and Node-RED started again on the same user dir, or (2) the operator deploys the same flows.
 * Nobody answers; each ask has a short timeout.
 *
 * Promise: every msg the node took ends exactly once where the flow hears it (one output or one
 * Catch), and nobody is asked twice (at most one text per recipient; a msg whose question went does
 * not end NOT_SENT).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { EmbeddedStateEngine } from '../../lib/state/embedded';
import { it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep, until } from '../support/assertions';
import { askFlow, deployFlows, endedLog, endings, postJson, recorder, recorderSettings } from '../support/flows';
import { behindHoldingProxy } from '../support/proxy';
import { RedProcess, restartRed } from '../support/red-process';

const N = 4;

const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
const { proxy, reds, start } = behindHoldingProxy(simulator);

const flows = (baseUrl: string) => [
  ...askFlow(baseUrl, {
    publicBaseUrl: 'http://127.0.0.1:1',
    timeout: 8,
    unpack: 'msg.n = msg.payload.n; msg.to = msg.payload.to; msg.payload = "Is the kitchen on fire?"; return msg;',
    label: (port: number) => recorder(`out${port}`, `out${port}`, String(port), 'msg.n'),
    news: { id: 'news', type: 'function', z: 'tab', func: 'return null;', outputs: 0, wires: [] },
  }),
  { id: 'catcher', type: 'catch', z: 'tab', scope: ['ask'], uncaught: false, wires: [['caught']] },
  recorder('caught', 'error', 'msg.error && msg.error.code', 'msg.n'),
];

async function askBurst(red: RedProcess, recipients: string[]): Promise<void> {
  for (let n = 0; n < recipients.length; n++) await postJson(`${red.url}/ask`, { n, to: recipients[n] });
  await until(() => proxy.looks >= 1, 'the look went');
  await sleep(300); // the questions held (stored) while the look is out
}

function verdict(red: RedProcess, recipients: string[], what: string, extra: string): void {
  const ended = endings(endedLog(red.userDir));
  const texts = recipients.map((to) => [...simulator.messages.values()].filter((m) => m.to === to).length);
  const report = `${extra}; texts per recipient ${texts.join(',')}; endings ${[...ended].map(([n, e]) => `${n}: ${e.join(' | ')}`).join('; ')}`;
  console.log(`# ${what}: ${report}`);
  for (let n = 0; n < recipients.length; n++) {
    assert.equal(ended.get(String(n))?.length, 1, `msg ${n} ended once: ${report}`);
    assert.ok(texts[n] <= 1, `recipient ${n} asked ${texts[n]} times: ${report}`);
    if (texts[n] === 1) assert.notEqual(ended.get(String(n))![0], 'error NOT_SENT', `msg ${n}'s question went: ${report}`);
  }
}

it(
  'kill -9 while the first questions’ look at Twilio’s clock is out: each msg ends once, nobody asked twice',
  { timeout: 90_000 },
  async () => {
    const recipients = Array.from({ length: N }, (_, n) => `+1555555256${n}`);
    proxy.holding = true;
    const red = await start(flows(proxy.url));
    await askBurst(red, recipients);
    const createsBefore = proxy.creates;
    await red.kill();
    proxy.holding = false;
    reds.push(await restartRed(red, recorderSettings()));
    const ended = () => endings(endedLog(red.userDir));
    for (let waited = 0; ended().size < N && waited < 20_000; waited += 100) await sleep(100);
    await sleep(3_000);
    verdict(red, recipients, 'ask kill during look', `creates before the kill ${createsBefore}`);
  },
);

it(
  'a full redeploy while the first questions’ look is out: each msg ends once where the flow hears it, nobody asked twice',
  { timeout: 90_000 },
  async () => {
    const recipients = Array.from({ length: N }, (_, n) => `+1555555257${n}`);
    proxy.holding = true;
    const looks = proxy.looks;
    const red = await start(flows(proxy.url));
    for (let n = 0; n < recipients.length; n++) await postJson(`${red.url}/ask`, { n, to: recipients[n] });
    await until(() => proxy.looks > looks, 'the look went');
    await sleep(300);
    const started = Date.now();
    const deployed = await deployFlows(red.url, flows(proxy.url));
    assert.ok(deployed.ok);
    await deployed.body?.cancel();
    const deployMs = Date.now() - started;
    proxy.holding = false;
    const ended = () => endings(endedLog(red.userDir));
    for (let waited = 0; ended().size < N && waited < 20_000; waited += 100) await sleep(100);
    await sleep(3_000);
    let stored = '';
    if (ended().size < N) {
      await red.kill(); // to read its store: what the new flows could still resume
      const look = new EmbeddedStateEngine({ dir: path.join(red.userDir, 'twilio-state') });
      stored = `; records under node/ after the redeploy: ${(await look.scan('node/', 100)).length}`;
      await look.close();
    }
    verdict(red, recipients, 'ask redeploy during look', `deploy took ${deployMs} ms${stored}`);
  },
);
