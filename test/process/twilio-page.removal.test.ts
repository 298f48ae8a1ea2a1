/**
 * A real red.js process; a page calls someone; the operator deploys (full) the flows without the
 * page node. The page's close hangs its call up through the account, which the same deploy closes.
 * Once this crashed Node-RED: hangUp (lib/outbound/messages.ts) threw synchronously from a closed
 * account's getClient(), through WaitingRoom.close, and twilio-page's close left the rejection
 * unhandled (red.js exited, the call kept ringing). Now a request never throws synchronously, the
 * room's close never rejects, and the account takes the page's final requests before it closes.
 * Promise: a removal never crashes Node-RED; the page's call is hung up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { CREDENTIALS, TAB, accountConfig } from '../support/flows';
import { startRed } from '../support/red-process';

const ANSWERS_NO_KEY = '+15555550121';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a real Node-RED: full deploy removing a twilio-page mid-call', { timeout: 90_000 }, () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  before(() => simulator.start());
  after(() => simulator.stop());

  const flows = (withPage: boolean, steps: object[] = [{ action: 'call', wait: 60 }]) => [
    TAB,
    accountConfig(simulator.url),
    ...(withPage
      ? [
          {
            id: 'go',
            type: 'inject',
            z: 'tab',
            once: true,
            onceDelay: 0.1,
            topic: 'smoke',
            payload: '',
            payloadType: 'date',
            repeat: '',
            wires: [['page']],
          },
          {
            id: 'page',
            type: 'twilio-page',
            z: 'tab',
            account: 'account',
            contacts: `Bob ${ANSWERS_NO_KEY}`,
            contactsType: 'str',
            alert: 'Smoke',
            steps,
            rounds: 1,
            wires: [[], [], []],
          },
        ]
      : []),
  ];

  it('survives, and hangs the call up', async () => {
    const red = await startRed(flows(true), CREDENTIALS);
    try {
      const calls = () => [...simulator.calls.values()].filter((c) => c.to === ANSWERS_NO_KEY);
      for (let w = 0; calls().length === 0 && w < 10_000; w += 50) await sleep(50);
      assert.equal(calls().length, 1, 'the page called');
      await sleep(300);
      const deploy = fetch(`${red.url}/flows`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' },
        body: JSON.stringify(flows(false)),
      }).catch((err: Error) => err);
      await deploy;
      const sid = String(calls()[0].sid);
      const hungUpNow = () => simulator.requests.some((r) => r.method === 'POST' && r.path.includes(sid));
      for (let w = 0; !hungUpNow() && w < 2_000; w += 50) await sleep(50);
      await sleep(300); // a crash would come with the close, before this
      const hungUp = hungUpNow();
      assert.ok(red.alive(), `Node-RED is still running; its log:\n${red.log().split('\n').slice(-25).join('\n')}`);
      assert.ok(hungUp, `the call was hung up; Node-RED's log:\n${red.log().split('\n').slice(-25).join('\n')}`);
    } finally {
      await red.stop();
    }
  });

  it('survives a removal while the call is being placed (its request in flight)', async () => {
    const steps = [
      { action: 'text', wait: 2 },
      { action: 'call', wait: 60 },
    ];
    const red = await startRed(flows(true, steps), CREDENTIALS);
    try {
      const texts = () => [...simulator.messages.values()].filter((m) => m.to === ANSWERS_NO_KEY);
      for (let w = 0; texts().length === 0 && w < 10_000; w += 50) await sleep(50);
      (simulator as unknown as { latencyMs: number }).latencyMs = 3_000;
      await sleep(2_500); // the call's request is on its way
      await fetch(`${red.url}/flows`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' },
        body: JSON.stringify(flows(false)),
      }).catch((err: Error) => err);
      (simulator as unknown as { latencyMs: number }).latencyMs = 0;
      const placed = () => [...simulator.calls.values()].filter((c) => c.to === ANSWERS_NO_KEY);
      const hungUp = (sid: unknown) => simulator.requests.some((r) => r.method === 'POST' && r.path.includes(String(sid)));
      for (let w = 0; !placed().every((c) => hungUp(c.sid)) && w < 3_000; w += 50) await sleep(50);
      await sleep(300); // a crash would come with the close, before this
      const calls = placed();
      assert.ok(red.alive(), `Node-RED is still running; its log:\n${red.log().split('\n').slice(-25).join('\n')}`);
      for (const call of calls)
        assert.ok(
          simulator.requests.some((r) => r.method === 'POST' && r.path.includes(String(call.sid))),
          `the call was hung up; log:\n${red.log().split('\n').slice(-12).join('\n')}`,
        );
    } finally {
      await red.stop();
    }
  });
});
