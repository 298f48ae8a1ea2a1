/**
 * Attack 29, as an unlucky operator: the power is cut (SIGKILL) twice while a real Node-RED
 * (red.js, the embedded state store in its user dir) polls the simulator and hands on a burst of
 * 300 texts, now writing each text's records (handedOn, its Sid remembered) in the commit of the
 * next text's claim. A recorder behind twilio-in appends each MessageSid to a file (a write a
 * SIGKILL does not take back). Node-RED is started again on the same user dir after each cut.
 *
 * Promise (as before the change): nothing lost (every text reaches the flow at least once) and at
 * most one text per cut handed on twice (the one between its emit and the commit of its records).
 *
 * Found: HELD.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { until } from '../support/assertions';
import { CREDENTIALS, HOUSE, TAB, accountConfig, endedLog, recorderSettings } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';

const BURST = 300;

const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
const reds: RedProcess[] = [];
before(() => simulator.start());
after(async () => {
  for (const red of reds.reverse()) await red.stop();
  await simulator.stop();
});

const flows = () => [
  TAB,
  accountConfig(simulator.url),
  { id: 'in', type: 'twilio-in', z: 'tab', account: 'account', receive: 'poll', pollNumber: HOUSE, pollInterval: 1, wires: [['rec']] },
  {
    id: 'rec',
    type: 'function',
    z: 'tab',
    func: `global.get('fs').appendFileSync(global.get('logFile'), msg.payload.MessageSid + '\\n'); return null;`,
    outputs: 0,
    wires: [],
  },
];

const looks = () => simulator.requests.filter((r) => r.method === 'GET' && /\/Messages\.json$/.test(r.path)).length;

it(`two power cuts while ${BURST} polled texts are handed on: none lost, at most one per cut twice`, { timeout: 180_000 }, async (t) => {
  let red = await startRed(flows(), CREDENTIALS, recorderSettings());
  reds.push(red);
  const log = endedLog(red.userDir);
  const recorded = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  await until(() => looks() >= 1, 'the first look', 30_000);
  const sent: string[] = [];
  for (let i = 0; i < BURST; i++)
    sent.push((await simulator.receiveMessage({ from: `+1555557${1000 + i}`, to: HOUSE, body: `reading ${i}` })).sid);
  const cuts: number[] = [];
  for (const at of [40, 160]) {
    await until(() => recorded().length >= at, `${at} texts recorded`, 60_000);
    await red.kill();
    cuts.push(recorded().length);
    red = await restartRed(red, recorderSettings());
    reds.push(red);
  }
  const missing = () => sent.filter((sid) => !recorded().includes(sid));
  await until(() => missing().length === 0, 'every text recorded', 90_000).catch(() => undefined);
  const from = looks();
  await until(() => looks() >= from + 2, 'two more looks after', 30_000); // a text handed on again comes with them
  const counts = new Map<string, number>();
  for (const sid of recorded()) counts.set(sid, (counts.get(sid) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1);
  t.diagnostic(
    `cut after ${cuts.join(' and ')} recorded; ${recorded().length} recorded for ${BURST}; twice: ${twice.map(([s, n]) => `${s}×${n}`).join(', ') || 'none'}`,
  );
  assert.deepEqual(missing(), [], 'lost');
  assert.ok(
    twice.length <= cuts.length && twice.every(([, n]) => n === 2),
    `handed on twice beyond one text per cut: ${JSON.stringify(twice)}`,
  );
  assert.ok(red.alive());
});
