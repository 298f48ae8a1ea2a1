/**
 * Attacks on reconcile after a crash (lib/outbound/reconcile.ts) with a clock that is wrong, as an
 * unlucky operator's machine has it: an intent's time is this machine's, compared with Twilio's
 * `dateCreated` through the offset learnt from the `Date` headers of Twilio's answers.
 *
 * 1. A Raspberry Pi whose RTC keeps local time boots an hour ahead of Twilio; its first text after the
 *    boot (an alarm: no answer came before, so no offset is stored with the intent) goes, the power is
 *    cut before its Sid is written, NTP steps the clock right before Node-RED is back. The reconcile
 *    learns an offset of 0 and looks for a text made an hour after the real one: "not sent".
 * 2. A proxy on the way to Twilio strips the `Date` header: no offset is ever learnt, and a machine
 *    ten minutes ahead never finds the texts it sent.
 * Either way the alarm a person got is reported NOT_SENT (a flow sends it again: twice; a page's step
 * is sent again). Both are `todo`: what remains is in the report (no small fix in reconcile alone).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Node, NodeAPI } from 'node-red';
import { TwilioAccount, openAccount } from '../../lib/account/account';
import { ManualClock, installClock } from '../../lib/core/clock';
import { SendIntent, reconcileIntent, reconcilingSince } from '../../lib/outbound/reconcile';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { setClockSkew } from '../../simulator/resources';

const RED = { util: (require('@node-red/util') as { util: NodeAPI['util'] }).util, _: (key: string) => key } as unknown as NodeAPI;
const API_KEY = DEMO_ACCOUNT.apiKeys![0];
const FROM = '+15017122661';
/** Looking since long ago (RECONCILE_SETTLE_MS is not what these tests are about): nothing found is "not sent". */
const owner = {};
reconcilingSince(owner, 0);

function accountAt(baseUrl: string): { account: TwilioAccount; close: () => Promise<void> } {
  const node = {} as Node & TwilioAccount;
  const close = openAccount(
    RED,
    node,
    { authMode: 'apiKey', region: '', edge: '', defaultFrom: FROM, baseUrl },
    { accountSid: DEMO_ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret },
  );
  return { account: node, close };
}

/** A proxy to `target` that strips the Date header of every answer (as some corporate proxies do). */
async function dateStripper(target: string): Promise<{ url: string; close: () => Promise<void> }> {
  const to = new URL(target);
  const server = http.createServer((req, res) => {
    res.sendDate = false;
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (answer) => {
        const headers = { ...answer.headers };
        delete headers.date;
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('reconcile with a wrong clock', () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let n = 0;
  const recipient = () => `+1555555${String(7600 + n++)}`;
  before(() => simulator.start());
  after(async () => {
    setClockSkew(0);
    await simulator.stop();
  });

  it(
    'finds the first text after a boot an hour ahead when NTP set the clock right before the restart',
    { todo: 'an intent made before any answer has no offset; the one learnt after NTP is 0' },
    async () => {
      setClockSkew(-3_600_000); // Twilio's clock an hour behind this machine's
      const to = recipient();
      const booted = accountAt(simulator.url);
      let sid: string;
      const intent: SendIntent = { kind: 'message', to, from: FROM, body: 'Smoke in the kitchen', at: Date.now() };
      try {
        assert.equal(booted.account.queue.twilioClock.offsetMs(), undefined, 'no answer before the first text');
        ({ sid } = (await booted.account.getClient().messages.create({ to, from: FROM, body: 'Smoke in the kitchen' })) as { sid: string });
      } finally {
        await booted.close(); // the power cut: the Sid was never written
      }
      // NTP stepped this machine's clock back an hour: it now agrees with Twilio's.
      const restore = installClock(new ManualClock(Date.now() - 3_600_000));
      const restarted = accountAt(simulator.url);
      try {
        assert.equal(await reconcileIntent(restarted.account, owner, intent, new Set(), 'send/boot/' + to), sid);
      } finally {
        await restarted.close();
        restore();
        setClockSkew(0);
      }
    },
  );

  it(
    "finds a text a machine ten minutes ahead sent when a proxy strips Twilio's Date header",
    { todo: 'no Date header: no offset is ever learnt' },
    async () => {
      setClockSkew(-600_000); // Twilio's clock ten minutes behind this machine's
      const proxy = await dateStripper(simulator.url);
      const to = recipient();
      const running = accountAt(proxy.url);
      try {
        await running.account.getClient().messages.list({ limit: 1 }); // answers come, but say no time
        const intent: SendIntent = { kind: 'message', to, from: FROM, body: 'Water leak', at: Date.now() };
        const { sid } = (await running.account.getClient().messages.create({ to, from: FROM, body: 'Water leak' })) as { sid: string };
        assert.equal(running.account.queue.twilioClock.offsetMs(), undefined, 'no offset learnt without a Date header');
        assert.equal(await reconcileIntent(running.account, owner, intent, new Set(), 'send/strip/' + to), sid);
      } finally {
        await running.close();
        await proxy.close();
        setClockSkew(0);
      }
    },
  );
});
