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
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep, until } from '../support/assertions';
import { CREDENTIALS, TAB, accountConfig, endedLog, endings, recorder, recorderSettings } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';

const ALICE = '+15555552541';
const LOOK = /^\/2010-04-01\/Accounts\/AC[0-9a-f]+\.json/;

/** A pass-through proxy that holds every look (GET of the account's record) while `holding`; counts looks and creates. */
async function holdingProxy(target: string) {
  const to = new URL(target);
  const state = { holding: true, looks: 0, creates: 0, url: '', close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    const isLook = req.method === 'GET' && LOOK.test(req.url ?? '');
    if (isLook) state.looks++;
    if (req.method === 'POST' && /\/(Messages|Calls)\.json/.test(req.url ?? '')) state.creates++;
    if (isLook && state.holding) return; // never answered: Twilio slow; the socket dies with the proxy
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: { [ALICE]: { message: 'delivered', call: 'no-answer' } } });
let proxy: Awaited<ReturnType<typeof holdingProxy>>;
const reds: RedProcess[] = [];
before(async () => {
  await simulator.start();
  proxy = await holdingProxy(simulator.url);
});
after(async () => {
  for (const red of reds) await red.stop();
  await proxy.close();
  await simulator.stop();
});

const flows = (baseUrl: string) => [
  TAB,
  accountConfig(baseUrl),
  { id: 'trigger', type: 'http in', z: 'tab', url: '/smoke', method: 'post', wires: [['page', 'answer']] },
  { id: 'answer', type: 'http response', z: 'tab', statusCode: '202', wires: [] },
  {
    id: 'page',
    type: 'twilio-page',
    z: 'tab',
    account: 'account',
    contacts: `Alice ${ALICE}`,
    contactsType: 'str',
    alarmId: 'smoke',
    alarmIdType: 'str',
    alert: 'Smoke in the kitchen.',
    steps: [{ action: 'text', wait: 2 }],
    rounds: 1,
    wires: [['port0'], ['port1'], ['port2']],
  },
  ...[0, 1, 2].map((port) => recorder(`port${port}`, `out${port}`, 'msg.page && msg.page.steps', "'page'")),
  { id: 'catcher', type: 'catch', z: 'tab', scope: ['page'], uncaught: false, wires: [['caught']] },
  recorder('caught', 'error', 'msg.error && msg.error.code', "'page'"),
];

it(
  'kill -9 while a page’s first look at Twilio’s clock is out: the page begins again, its text goes once, it ends once',
  { timeout: 90_000 },
  async () => {
    const red = await startRed(flows(proxy.url), CREDENTIALS, recorderSettings());
    reds.push(red);
    const res = await fetch(`${red.url}/smoke`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 202);
    await res.body?.cancel();
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
