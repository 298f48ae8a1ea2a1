/**
 * Attack on twilio-page's cancel (a68a243) as an unlucky operator sees it: a page texts, then calls,
 * round after round; the alarm is cancelled through an HTTP request that a complete node answers once
 * twilio-page ended the cancel msg (the commit's promise: from then on a power cut still cancels), and
 * the power is cut (kill -9 of red.js) at a few moments after that answer; once with the cancel right
 * behind the page's start. Also a clean stop (SIGTERM) right after the cancel. After each restart on
 * the same user dir: nobody is alerted again (no text, no call), each person alerted gets the all
 * clear once, and the page's msg leaves once, on the cancelled output.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually, sleep } from '../support/assertions';
import { CREDENTIALS, endings, pageCancelFlow, postJson, recorderSettings } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';

const CONTACTS = ['+15555553801', '+15555553802'];

const until = <T>(what: string, check: () => T | undefined | false, ms = 30_000): Promise<T> => eventually(what, check, ms);

const flows = (simulatorUrl: string, stateIn = ''): object[] =>
  pageCancelFlow(simulatorUrl, {
    contacts: CONTACTS.map((n, i) => `P${i} ${n}`).join('\n'),
    contactsType: 'str',
    alert: 'Fire in {{topic}}',
    allClear: 'All clear: {{topic}}',
    steps: [
      { action: 'text', wait: 1 },
      { action: 'call', wait: 2 },
    ],
    rounds: 20,
    stateIn,
  });

describe('twilio-page: a cancel through a power cut', { timeout: 300_000 }, () => {
  const simulator = new TwilioSimulator({
    accounts: [DEMO_ACCOUNT],
    // Texts delivered; calls ring out unanswered: the page would go on alerting if it resumed.
    people: Object.fromEntries(CONTACTS.map((n) => [n, { message: 'delivered' as const, call: 'no-answer' as const }])),
  });
  let dir: string;
  let logFile: string;
  let settings: string;
  let red: RedProcess | undefined;
  before(async () => {
    await simulator.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-26-cancel-'));
    logFile = path.join(dir, 'ended.log');
    settings = recorderSettings({ logFile });
    red = await startRed(flows(simulator.url), CREDENTIALS, settings);
  });
  after(async () => {
    await red?.stop();
    await simulator.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = (what: string, alarm: string) => postJson(`${red!.url}/${what}`, { alarm });
  /** The alerts of an alarm (texts and calls) to `to`. */
  const alerts = (alarm: string, to: string) =>
    [...simulator.messages.values()].filter((m) => m.to === to && String(m.body).startsWith(`Fire in ${alarm} `)).length +
    simulator.requests.filter((r) => r.params?.To === to && String(r.params?.Twiml ?? '').includes(`Fire in ${alarm}`)).length;
  const allAlerts = (alarm: string) => CONTACTS.map((to) => alerts(alarm, to));
  const allClears = (alarm: string, to: string) =>
    [...simulator.messages.values()].filter((m) => m.to === to && String(m.body) === `All clear: ${alarm}`).length;
  /** How the page of `alarm` ended: "<output> <error code or ->", once per ending. */
  const endedAs = (alarm: string) => endings(logFile).get(alarm) ?? [];

  /** After the restart: nobody alerted since `atCancel`, the all clear once to each alerted, the msg once on cancelled. */
  async function afterRestart(
    alarm: string,
    atCancel: number[],
    failures: string[],
    label: string,
    endingFailures = failures,
  ): Promise<void> {
    await until(`the page ${alarm} ended`, () => endedAs(alarm).length > 0, 8_000).catch(() => undefined);
    await sleep(4_000); // longer than a step's wait: a resumed page would alert again by now
    const now = allAlerts(alarm);
    if (JSON.stringify(now) !== JSON.stringify(atCancel)) failures.push(`${label}: alerts at the cancel ${atCancel}, now ${now}`);
    const clears = CONTACTS.map((to) => allClears(alarm, to));
    const expected = now.map((n) => (n > 0 ? 1 : 0));
    if (JSON.stringify(clears) !== JSON.stringify(expected)) failures.push(`${label}: all clears ${clears} for alerts ${now}`);
    if (JSON.stringify(endedAs(alarm)) !== JSON.stringify(['cancelled -']))
      endingFailures.push(`${label}: the page's msg ended ${JSON.stringify(endedAs(alarm))}`);
  }

  /** How the page's msg ended after each kill -9 that went wrong (asserted by the todo below: a finding). */
  const twice: string[] = [];

  it('after the complete node heard the cancel, a kill -9 never resumes the page', async () => {
    const failures: string[] = [];
    for (const [i, killAfter] of [0, 60, 400].entries()) {
      const alarm = `room${i}`;
      await post('page', alarm);
      // Texted, then called (the call rings unanswered): a call is live when the cancel comes.
      await until(`${alarm}: a text and a call`, () => alerts(alarm, CONTACTS[0]) >= 2);
      await post('cancel', alarm);
      const atCancel = allAlerts(alarm);
      await sleep(killAfter);
      await red!.kill();
      red = await restartRed(red!, settings);
      await afterRestart(alarm, atCancel, failures, `kill ${killAfter} ms after the cancel`, twice);
    }
    assert.deepEqual(failures, []);
  });

  it('a cancel right behind the page: a kill -9 after the complete node heard it never resumes the page', async () => {
    const failures: string[] = [];
    const alarm = 'hall';
    const started = post('page', alarm);
    await sleep(5);
    await post('cancel', alarm);
    const atCancel = allAlerts(alarm);
    await red!.kill();
    await started.catch(() => undefined);
    red = await restartRed(red!, settings);
    await afterRestart(alarm, atCancel, failures, 'kill at the cancel behind the start', twice);
    assert.deepEqual(failures, []);
  });

  it(
    "after those kills, each page's msg left once, on cancelled",
    {
      todo:
        "known limit, not a bug to fix: a page's msg can leave twice on cancelled: the old run sends it, then deletes its " +
        'record; a power cut between the two finds the ended record at the restart, which sends it again. Node-RED ' +
        'keeps msgs on wires in memory only, so an output is at least once (deleting first would lose it instead)',
    },
    () => assert.deepEqual(twice, []),
  );

  // Was a finding of the attack (as the full redeploy of page-cancel-ends-once; fixed): a page whose end was still
  // on its way when Node-RED stopped sent its msg during the close, after the other nodes stopped: the cancelled
  // output was lost and the record gone.
  it('a clean stop (SIGTERM) right after the cancel: the page leaves once on cancelled, nobody alerted again', async () => {
    const failures: string[] = [];
    const alarm = 'attic';
    await post('page', alarm);
    await until(`${alarm}: a text and a call`, () => alerts(alarm, CONTACTS[0]) >= 2);
    simulator.latencyMs = 300; // the hang-up and the all clear are still on their way as the stop comes
    await post('cancel', alarm);
    const atCancel = allAlerts(alarm);
    const stopped = red!;
    process.kill(stopped.pid, 'SIGTERM');
    await until('red.js stopped', () => !stopped.alive(), 25_000);
    simulator.latencyMs = 0;
    red = await restartRed(stopped, settings);
    await afterRestart(alarm, atCancel, failures, 'SIGTERM at the cancel');
    assert.deepEqual(failures, []);
  });
});

describe('twilio-page: a cancel through a power cut, pages kept in a file context store', { timeout: 120_000 }, () => {
  const simulator = new TwilioSimulator({
    accounts: [DEMO_ACCOUNT],
    people: Object.fromEntries(CONTACTS.map((n) => [n, { message: 'delivered' as const, call: 'no-answer' as const }])),
  });
  let dir: string;
  let red: RedProcess | undefined;
  before(async () => {
    await simulator.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-26-cancel-file-'));
  });
  after(async () => {
    await red?.stop();
    await simulator.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const texts = (start: string) => [...simulator.messages.values()].filter((m) => String(m.body).startsWith(start)).length;

  // Was a finding of the attack: the help said that once the cancel msg ends a power cut no longer undoes it, also
  // with a persistent context store; such a store (cached, written every flushInterval) took the write at once, and a
  // kill -9 before the next flush resumed the cancelled page. The help now says it holds with the state store (the
  // default), and with a context store from its next flush on: what this test holds.
  it('pages in a file context store: a kill -9 a flush interval after the complete node heard the cancel does not resume the page', async () => {
    const logFile = path.join(dir, 'ended.log');
    const settings = recorderSettings(
      { logFile },
      `contextStorage: { default: { module: 'memory' }, file: { module: 'localfilesystem', config: { flushInterval: 2 } } },`,
    );
    red = await startRed(flows(simulator.url, 'context:file'), CREDENTIALS, settings);
    const post = (what: string) => postJson(`${red!.url}/${what}`, { alarm: 'cellar' });
    await post('page');
    await until('the first alert', () => texts('Fire in cellar') >= 1);
    await sleep(2_500); // the running page is flushed to the file
    await post('cancel');
    const atCancel = texts('Fire in cellar');
    await sleep(2_500); // the context store's next flush
    await red.kill();
    const atKill = texts('Fire in cellar');
    red = await restartRed(red, settings);
    await sleep(5_000); // a resumed page alerts again by now (its steps wait 1 and 2 s)
    const ended = [...endings(logFile)].map(([alarm, how]) => `${alarm}: ${how.join(', ')}`);
    assert.deepEqual(
      { alerts: texts('Fire in cellar'), ended },
      { alerts: atCancel, ended: ['cellar: cancelled -'] },
      `alerts at the kill ${atKill}; all clears ${texts('All clear: cellar')}; ${JSON.stringify([...simulator.messages.values()].map((m) => [m.to, m.body]))}`,
    );
  });
});
