/**
 * `npm start` as a user runs it: a real Node-RED (4 on Node 20, 5 on Node 22) loads this package from
 * its user dir, with the examples as demo flows on the local simulator; each example's inject reaches it.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import twilio from 'twilio';
import { DEMO_ACCOUNT } from '../../simulator/server';
import { nodeRedPackage } from '../support/harness';
import { Demo, root, startDemo, waitFor } from '../support/demo';

describe('npm start (the demo)', () => {
  let demo: Demo;
  let editor: string;
  let simulator: string;
  let userDir: string;
  const log = () => demo.log();

  before(async () => {
    demo = await startDemo();
    ({ editor, simulator, userDir } = demo);
  });

  after(async () => {
    await demo?.stop();
  });

  it('serves the editor on 127.0.0.1 with this package loaded and no load errors', async () => {
    const nodes = (await (await fetch(`${editor}/nodes`, { headers: { Accept: 'application/json' } })).json()) as Array<{
      id: string;
      enabled: boolean;
      err?: string;
      types: string[];
      module: string;
      version: string;
    }>;
    const ours = nodes.filter((n) => n.module === '@nr-twilio/node-red-twilio');
    assert.deepEqual(
      ours
        .map((n) => n.types)
        .flat()
        .sort(),
      [
        'twilio-ask',
        'twilio-config',
        'twilio-delete',
        'twilio-get',
        'twilio-in',
        'twilio-page',
        'twilio-query',
        'twilio-reply',
        'twilio-request',
        'twilio-send',
        'twilio-update',
        'twilio-verify',
      ],
    );
    for (const set of ours) assert.equal(set.err, undefined, `${set.id}: ${set.err}`);
    const expectedMajor = nodeRedPackage === 'node-red-5' ? 'v5.' : 'v4.';
    assert.ok(log().includes(`Node-RED version: ${expectedMajor}`), `runs Node-RED ${expectedMajor}`);
    const html = await (await fetch(`${editor}/nodes`, { headers: { Accept: 'text/html' } })).text();
    assert.match(html, /RED\.nodes\.registerType\('twilio-send'/);
    assert.match(html, /data-help-name="twilio-send"/);
    const icon = await fetch(`${editor}/icons/@nr-twilio/node-red-twilio/twilio-send.svg`);
    assert.equal(icon.status, 200);
  });

  it('runs every example flow against the simulator', async () => {
    const examples = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.json'));
    // Every inject but those that end what another started (the smoke alarm's "smoke cleared": a cancel is a second step).
    const injects = examples.flatMap((f) => {
      const nodes = JSON.parse(fs.readFileSync(path.join(root, 'examples', f), 'utf8')) as Array<Record<string, string>>;
      const cancels = new Set(nodes.map((n) => n.cancelTopic).filter(Boolean));
      return nodes.filter((n) => n.type === 'inject' && !cancels.has(n.topic)).map((n) => n.id);
    });
    assert.ok(injects.length >= examples.length, 'every example starts from an inject');
    // An example whose node ends on a cancel topic shows it: an inject that sends that topic.
    for (const f of examples) {
      const nodes = JSON.parse(fs.readFileSync(path.join(root, 'examples', f), 'utf8')) as Array<Record<string, string>>;
      for (const topic of nodes.map((n) => n.cancelTopic).filter(Boolean))
        assert.ok(
          nodes.some((n) => n.type === 'inject' && n.topic === topic),
          `${f}: an inject for the cancel topic "${topic}"`,
        );
    }
    for (const inject of injects) assert.equal((await fetch(`${editor}/inject/${inject}`, { method: 'POST' })).status, 200, inject);
    const get = async (what: string) => (await (await fetch(`${simulator}/_sim/${what}`)).json()) as Array<Record<string, any>>;
    const state = await waitFor('every example to reach the simulator', async () => {
      const [messages, participants, requests, deliveries] = [
        await get('messages'),
        await get('participants'),
        await get('requests'),
        await get('deliveries'),
      ];
      const done =
        messages.length >= 4 &&
        deliveries.some((d) => d.params.MessageStatus === 'delivered' && d.status === 200) &&
        deliveries.some((d) => d.replies.length > 0) &&
        participants.every((p) => p.muted) &&
        requests.some((r) => r.method === 'GET' && /\/Messages\/SM\w+\.json$/.test(r.path)) &&
        requests.some((r) => r.path.endsWith('/Recordings.json')) &&
        requests.some((r) => r.method === 'DELETE' && /\/Recordings\/RE\w+\.json$/.test(r.path)) &&
        requests.some((r) => r.path.endsWith('/Balance.json')) &&
        // Verify a code: a code sent, and checked.
        requests.some((r) => r.path.endsWith('/VerificationCheck')) &&
        requests.some((r) => r.path.endsWith('/Messages.json') && r.method === 'GET') &&
        // Text my house: the house (no URL) polled, and answered from its own number.
        messages.some((m) => m.from === '+15017122662' && m.to === '+15555550100' && /^All fine/.test(m.body)) &&
        // Wait for delivery: the text to the phone that is off came back undelivered, so the flow called instead.
        (await get('calls')).some((c) => c.to === '+15555550101' && c.status === 'no-answer') &&
        // Yes or no from two people: the first answer won, and the other was told.
        messages.some((m) => /already answered/.test(m.body)) &&
        // The garage: "close" came back to the questions' own number (polled), and the question took it.
        messages.some((m) => m.body === 'close' && m.to === '+15017122663') &&
        // The smoke alarm: past the phone that is off and the voicemail, Alice pressed 1 (her Digits reached twilio-in).
        deliveries.some((d) => d.params.Digits === '1' && d.params.To === '+15555550120' && d.status === 200) &&
        // Doorbell photo: the simulator fetched the PNG the flow made from this Node-RED, as Twilio would.
        (await get('fetched-media')).some((f) => f.status === 200 && f.contentType === 'image/png' && f.size === 189);
      return done ? { messages, requests, deliveries } : undefined;
    });
    assert.ok(state.messages.some((m) => m.body === 'Alert: the greenhouse is at 31 °C'));
    assert.equal(
      state.messages.filter((m) => m.body === '[ops] Disk 92% full on db-1').length,
      2,
      'the invalid test number is refused, the others sent',
    );
    assert.ok(
      state.requests.some((r) => r.path.endsWith('/Calls.json') && r.method === 'POST'),
      'the call example placed a call',
    );
    assert.deepEqual(await get('recordings'), [], 'the old recording was found and deleted');
    assert.ok(
      state.deliveries.some((d) => d.replies[0] === 'Hi! You said: Are the lights off?'),
      'the SMS bot answered through twilio-reply',
    );
    assert.ok(
      state.deliveries.every((d) => d.status === 200),
      'every webhook was accepted: signatures check out',
    );
    // Each tab has its own number: the SMS bot hears only the texts sent to it, never an answer to a question or a page.
    assert.deepEqual(
      state.deliveries.filter((d) => /\/twilio\/sms$/.test(d.url) && d.params.From !== '+15558675399').map((d) => d.params.Body),
      [],
    );
    // The only error the examples log is the one they show on purpose: the refused test number.
    const errors = log()
      .split('\n')
      .filter((l) => l.includes('[error]'));
    assert.deepEqual(
      errors.filter((l) => !/INVALID_TO_PHONE_NUMBER_ERROR|1 of 3 recipients failed/.test(l)),
      [],
    );
  });

  it('checks JSON webhooks by bodySHA256 in a real Node-RED, whose editor parses bodies first', async () => {
    const body = JSON.stringify({
      AccountSid: 'AC0123456789abcdef0123456789abcdef',
      MessageSid: 'SM' + 'c'.repeat(32),
      MessageStatus: 'delivered',
    });
    const hash = crypto.createHash('sha256').update(body).digest('hex');
    const url = `${editor}/twilio/status?bodySHA256=${hash}`;
    const signature = twilio.getExpectedTwilioSignature(DEMO_ACCOUNT.authToken, url, {});
    const post = (text: string) =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': signature }, body: text });
    assert.equal((await post(body)).status, 200);
    assert.equal((await post(body.replace('delivered', 'failed'))).status, 403);
  });

  it('keeps the demo credentials out of the flow file', () => {
    const flows = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
    assert.ok((JSON.parse(flows) as Array<Record<string, unknown>>).every((n) => !('credentials' in n)));
    for (const secret of [DEMO_ACCOUNT.authToken, DEMO_ACCOUNT.apiKeys![0].secret]) assert.ok(!flows.includes(secret));
    assert.ok(!log().includes('demo-api-key-secret'));
  });

  it("says its errors in Node-RED's runtime language (LANG=de, ja)", async () => {
    const cases = [
      ['de_DE.UTF-8', /\[error\] \[twilio-send:bad number\] .*ist kein gültiger Empfänger: E\.164 wie \+14155550100/],
      ['ja_JP.UTF-8', /\[error\] \[twilio-send:bad number\] .*は有効な宛先ではありません。/],
    ] as const;
    // One demo per language, both at once (each its own process, ports, user dir and simulator).
    const inLanguage = async ([lang, expected]: (typeof cases)[number]) => {
      const localised = await startDemo({ LANG: lang, LC_ALL: lang });
      try {
        // A tab of its own, with no Catch node: the runtime logs the error as the user would read it.
        const added = await fetch(`${localised.editor}/flow`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            label: 'language',
            nodes: [
              {
                id: 'langinject000001',
                type: 'inject',
                props: [{ p: 'payload' }],
                payload: 'hello',
                payloadType: 'str',
                wires: [['langsend00000001']],
              },
              {
                id: 'langsend00000001',
                type: 'twilio-send',
                name: 'bad number',
                account: 'twilio0demo0acct',
                resource: 'message',
                to: 'not-a-number',
                toType: 'str',
                from: '',
                fromType: 'str',
                body: '{{payload}}',
                bodyType: 'str',
                wires: [[]],
              },
            ],
          }),
        });
        assert.equal(added.status, 200, await added.text());
        await waitFor('the new tab to start', async () =>
          (await fetch(`${localised.editor}/inject/langinject000001`, { method: 'POST' })).status === 200 ? true : undefined,
        );
        await waitFor(`the ${lang} error in the log`, async () => (expected.test(localised.log()) ? true : undefined));
      } finally {
        await localised.stop();
      }
    };
    await Promise.all(cases.map(inLanguage));
  });
});
