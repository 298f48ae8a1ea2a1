/**
 * Attack on #22's all-clear texts as intents (lib/conversation/pager.ts) as an unlucky operator sees
 * it: a page reached six people, the alarm is cancelled, and the power is cut (kill -9 of red.js)
 * while the all-clear texts are on their way (Twilio slow: each create takes 800 ms), at a few
 * moments after twilio-page ended the cancel msg (a complete node answers the cancel's request);
 * Node-RED restarted on its user dir. Each person alerted gets the all clear exactly once, and the
 * page's msg ends once, on the cancelled output.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually, sleep } from '../support/assertions';
import { CREDENTIALS, pageCancelFlow, postJson, recorderSettings } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';

const CONTACTS = Array.from({ length: 6 }, (_, i) => `+1555555${3700 + i}`);

/** eventually(), with this file's longer patience (whole Node-RED processes restart in it). */
const until = <T>(what: string, check: () => T | undefined | false, ms = 40_000): Promise<T> => eventually(what, check, ms);

const flows = (simulatorUrl: string): object[] =>
  pageCancelFlow(simulatorUrl, {
    contacts: CONTACTS.map((n, i) => `P${i} ${n}`).join('\n'),
    contactsType: 'str',
    alert: 'Fire in {{topic}}',
    allClear: 'All clear: {{topic}}',
    steps: [{ action: 'text', wait: 1 }],
    rounds: 20,
  });

describe('all-clear texts through a power cut', { timeout: 300_000 }, () => {
  const simulator = new TwilioSimulator({
    accounts: [DEMO_ACCOUNT],
    people: Object.fromEntries(CONTACTS.map((n) => [n, { message: 'delivered' as const }])),
  });
  let dir: string;
  let red: RedProcess | undefined;
  before(async () => {
    await simulator.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-24-all-clear-'));
  });
  after(async () => {
    await red?.stop();
    await simulator.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = (what: string, alarm: string) => postJson(`${red!.url}/${what}`, { alarm });

  it('gives each person alerted the all clear once, and ends the msg once, whenever the power is cut', async () => {
    const logFile = path.join(dir, 'ended.log');
    const settings = recorderSettings({ logFile });
    red = await startRed(flows(simulator.url), CREDENTIALS, settings);
    const texts = (body: string, to: string) =>
      [...simulator.messages.values()].filter((m) => String(m.body).startsWith(body) && m.to === to).length;
    const endings = (alarm: string) =>
      fs.existsSync(logFile)
        ? fs
            .readFileSync(logFile, 'utf8')
            .split('\n')
            .filter((line) => line.split(' ')[1] === alarm)
        : [];
    const failures: string[] = [];
    for (const [i, killAfter] of [20, 150, 900].entries()) {
      const alarm = `room${i}`;
      simulator.latencyMs = 0;
      await post('page', alarm);
      await until('everyone alerted', () => CONTACTS.every((to) => texts(`Fire in ${alarm}`, to) >= 1)).catch((err: Error) => {
        const sent = [...simulator.messages.values()].map((m) => `${String(m.to)} ${String(m.body)}`);
        throw new Error(`${err.message}: ${JSON.stringify(sent)}\n${red!.log().slice(-3000)}`);
      });
      simulator.latencyMs = 800;
      await post('cancel', alarm);
      await sleep(killAfter);
      await red.kill();
      const atKill = CONTACTS.map((to) => texts(`All clear: ${alarm}`, to)).reduce((a, b) => a + b, 0);
      simulator.latencyMs = 0;
      red = await restartRed(red, settings);
      await until(`the page ${alarm} ended`, () => endings(alarm).length > 0).catch(() => undefined);
      await sleep(3_000); // a second ending, a second all clear on its way
      const counts = CONTACTS.map((to) => texts(`All clear: ${alarm}`, to));
      console.log(`# kill ${killAfter} ms after the cancel: ${atKill} of ${CONTACTS.length} all clears at Twilio then`);
      if (counts.some((c) => c !== 1)) failures.push(`kill after ${killAfter} ms: all clears per person ${counts.join(', ')}`);
      if (endings(alarm).length !== 1) failures.push(`kill after ${killAfter} ms: the msg ended ${JSON.stringify(endings(alarm))}`);
    }
    assert.deepEqual(failures, []);
  });
});
