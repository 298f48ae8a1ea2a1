/**
 * Attack on issue #22: the power goes right after twilio-in committed that it heard a person's
 * "yes" (heard.ts claims what Twilio signed as being taken BEFORE the event is handed on) and before
 * the question it answers ended. Twilio got no answer to its webhook (the connection died with the
 * process) and tries again, with the same request and token, once Node-RED is back. That retry was
 * refused as a duplicate (the answer lost, the question open until its timeout); the claim names the
 * process that took it, gone now, so the retry is taken and answers the question.
 *
 * The crash is put on disk as it leaves it: the question's wait stored (by the real process), and
 * the claim of the reply's identity (`message|<MessageSid>`, what heardFirst commits first) written
 * into the same embedded store while Node-RED is down, exactly as the kill would leave it.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import twilio from 'twilio';
import { heardPrefix, digest, HEARD_MEMORY_MS } from '../../lib/inbound/heard';
import { EmbeddedStateEngine } from '../../lib/state/embedded';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually as until, sleep } from '../support/assertions';
import { CREDENTIALS, HOUSE, askFlow, postJson, postWebhook } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';

const PERSON = '+15555553201';
/** Asked too, and answers after the restart with nothing claimed: shows the path works. */
const OTHER = '+15555553202';
const PUBLIC = 'https://home.example.com';

function flows(simulatorUrl: string) {
  const label = (port: number) => ({
    id: `out${port}`,
    type: 'function',
    z: 'tab',
    func: `global.get('fs').appendFileSync(global.get('logFile'), 'port${port} ' + (msg.ask && msg.ask.outcome) + '\\n'); return null;`,
    outputs: 0,
    wires: [],
  });
  return [
    ...askFlow(simulatorUrl, {
      publicBaseUrl: PUBLIC,
      timeout: 600,
      unpack: 'msg.to = msg.payload.to; msg.payload = msg.payload.payload; return msg;',
      label,
      news: {
        id: 'news',
        type: 'function',
        z: 'tab',
        func: `global.get('fs').appendFileSync(global.get('logFile'), 'news\\n'); return null;`,
        outputs: 0,
        wires: [],
      },
    }),
    label(9),
  ];
}

describe('an answer claimed just before a power cut', { timeout: 120_000 }, () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let red: RedProcess | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-22-'));
  const logFile = path.join(dir, 'out.log');
  const settings = `functionGlobalContext: { fs: require('fs'), logFile: ${JSON.stringify(logFile)} },`;
  before(() => simulator.start());
  after(async () => {
    await red?.stop();
    await simulator.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the question when Twilio retries the webhook after the restart', async () => {
    red = await startRed(flows(simulator.url), CREDENTIALS, settings);
    for (const to of [PERSON, OTHER]) await postJson(`${red.url}/ask`, { to, payload: 'Unlock the door for the plumber?' });
    await until('the questions texted', () => [PERSON, OTHER].every((to) => [...simulator.messages.values()].some((m) => m.to === to)));
    await sleep(1_000); // its Sid written

    // The person's "yes", as Twilio posts it (and posts it again when it got no answer).
    const yes = (from: string) => ({
      MessageSid: 'SM' + crypto.randomBytes(16).toString('hex'),
      AccountSid: DEMO_ACCOUNT.sid,
      From: from,
      To: HOUSE,
      Body: 'yes',
      NumMedia: '0',
      SmsStatus: 'received',
    });
    const params = yes(PERSON);
    const token = crypto.randomUUID();
    const post = async (to: RedProcess, params: Record<string, string>) => {
      const signature = twilio.getExpectedTwilioSignature(DEMO_ACCOUNT.authToken, `${PUBLIC}/sms`, params);
      const r = await postWebhook(`${to.url}/sms`, params, signature, { token });
      return { status: r.status, body: await r.text() };
    };

    // kill -9 the instant after heardFirst committed the reply's identity, before the question ended.
    await red.kill();
    const engine = new EmbeddedStateEngine({ dir: path.join(red.userDir, 'twilio-state') });
    // As heardFirst claims it: being taken, by the process that is now gone, for this delivery.
    const taking = { taking: Date.now(), by: 'the-killed-process', token: digest(token) };
    const identity = `${heardPrefix(DEMO_ACCOUNT.sid)}e/${digest(`message|${params.MessageSid}`)}`;
    assert.equal(await engine.claim(identity, HEARD_MEMORY_MS, taking), true);
    await engine.close();

    red = await restartRed(red, settings);
    const retry = await post(red, params);
    await post(red, yes(OTHER));
    await sleep(2_000);
    assert.equal(retry.status, 200, `Twilio's retry was taken: ${retry.body}`);
    const out = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    assert.match(out, /port0/, `the other person's "yes" reached its question: ${JSON.stringify(out)}`);
    assert.equal(
      out.match(/port0/g)?.length,
      2,
      `Twilio's retry of the "yes" (answered ${retry.status} ${JSON.stringify(retry.body)}) never reached the open question: ${JSON.stringify(out)}`,
    );
  });
});
