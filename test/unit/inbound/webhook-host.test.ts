/**
 * Forged-host replays (found by attack23, ATTACK 2; fixed: requestProto takes only http or https, own
 * names only at Node-RED's ports). twilio-in's Host check (lib/inbound/webhook-receiver.ts + lib/inbound/webhook.ts). The host
 * is checked (acceptedHost) but, with trustProxy on, X-Forwarded-Proto goes into the signed URL as is
 * (webhook.ts signedUrl, `proto = firstHeader(x-forwarded-proto) || req.protocol`): any text, not just
 * http/https. Twilio signs `url + key1value1key2value2…` (no separators), so a proto that carries
 * another service's URL and the first parameters moves the boundary: a request Twilio signed for
 * another host of the same account is accepted here, with a Body the sender chose.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { ManualClock } from '../../../lib/core/clock';
import type { TwilioAccount } from '../../../lib/account/account';
import type { InboundMsg } from '../../../lib/inbound/inbound-message';
import { WebhookReceiver } from '../../../lib/inbound/webhook-receiver';
import { isValidSignature } from '../../../lib/twilio/signature';
import { EMPTY_TWIML } from '../../../lib/twilio/twiml';
import { standInState } from './stand-in-state';

const TOKEN = 'f'.repeat(32);

/** Twilio's signature of a form webhook to `url`. */
function sign(url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return crypto.createHmac('sha1', TOKEN).update(Buffer.from(data, 'utf-8')).digest('base64');
}

function receiverWith(trustProxy: boolean) {
  const got = { msgs: [] as InboundMsg[], urls: [] as string[] };
  const account = {
    redact: (text: string) => text,
    ...standInState(),
    canValidateWebhooks: () => true,
    validateWebhook: (signature: string | undefined, url: string, body: Parameters<typeof isValidSignature>[3]) => {
      got.urls.push(url);
      return isValidSignature(TOKEN, signature, url, body);
    },
  };
  const status = () => () => undefined;
  const receiver = new WebhookReceiver(
    account as unknown as TwilioAccount,
    {
      path: '/hook',
      validate: true,
      publicBaseUrl: () => undefined,
      trustProxy,
      reply: 'auto',
      replyTimeoutMs: 5_000,
      fallback: EMPTY_TWIML,
      bodyTimeoutMs: 10_000,
    },
    {
      emit: (msg) => void got.msgs.push(msg),
      warn: () => undefined,
      status: { working: status(), success: status(), warning: status(), failed: status() },
      clock: new ManualClock(1_000_000),
    },
  );
  return { receiver, got };
}

describe('forged-host replays (X-Forwarded-Proto with trustProxy on; own names at any port)', () => {
  let server: http.Server;
  let port = 0;
  let current: WebhookReceiver | undefined;
  before(async () => {
    const app = express();
    app.post('/hook', (req, res) => void current?.handle(req, res));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const postForm = (params: Record<string, string>, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const body = new URLSearchParams(params).toString();
      const req = http.request(`http://127.0.0.1:${port}/hook`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body), ...headers },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });

  it('a legit request (proto https, our host) still passes', async () => {
    const { receiver, got } = receiverWith(true);
    current = receiver;
    const params = { From: '+15558675310', To: '+15017122661', Body: 'hi', MessageSid: 'SM' + 'a'.repeat(32) };
    const signature = sign(`https://127.0.0.1:${port}/hook`, params);
    const status = await postForm(params, { 'X-Twilio-Signature': signature, 'X-Forwarded-Proto': 'https', Host: `127.0.0.1:${port}` });
    assert.equal(status, 200);
    assert.equal(got.msgs.length, 1);
  });

  it('a proto list in any case is its first value: "HTTPS, http" is https', async () => {
    const { receiver, got } = receiverWith(true);
    current = receiver;
    const params = { From: '+15558675310', To: '+15017122661', Body: 'hi', MessageSid: 'SM' + 'b'.repeat(32) };
    const signature = sign(`https://127.0.0.1:${port}/hook`, params);
    const status = await postForm(params, {
      'X-Twilio-Signature': signature,
      'X-Forwarded-Proto': ' HTTPS , http',
      Host: `127.0.0.1:${port}`,
    });
    assert.equal(status, 200);
    assert.deepEqual(got.urls, [`https://127.0.0.1:${port}/hook`]);
  });

  it('a proto that is not http/https is refused before any signature is checked against it', async () => {
    const { receiver, got } = receiverWith(true);
    current = receiver;
    const status = await postForm(
      { Body: 'x' },
      { 'X-Twilio-Signature': 'AAAA', 'X-Forwarded-Proto': 'https://other.example.com/sms?a=', Host: `127.0.0.1:${port}` },
    );
    assert.deepEqual(got.urls, [], `a signature was checked against ${got.urls[0]} (names another host)`);
    assert.equal(status, 403);
  });

  it('a webhook Twilio signed for other.example.com, replayed here with a chosen Body, is refused', async () => {
    const { receiver, got } = receiverWith(true);
    current = receiver;
    const ours = `://127.0.0.1:${port}/hook`;
    // What the other service got (its Body texted by the attacker), signed by Twilio for its URL.
    const other = 'https://other.example.com/sms';
    const original = {
      AccountSid: 'AC' + '0'.repeat(32),
      Body: `${ours}BodyOPEN THE DOOR`,
      From: '+15558675310',
      MessageSid: 'SM' + 'c'.repeat(32),
      To: '+15017122662',
    };
    const signature = sign(other, original);
    // The replay: the boundary between URL and parameters moved into the proto.
    const replayed = { Body: 'OPEN THE DOOR', From: original.From, MessageSid: original.MessageSid, To: original.To };
    const status = await postForm(replayed, {
      'X-Twilio-Signature': signature,
      'X-Forwarded-Proto': `${other}AccountSid${original.AccountSid}Body`,
      Host: `127.0.0.1:${port}`,
    });
    assert.equal(status, 403, `accepted (${status}): checked against ${got.urls[0]}; emitted Body ${JSON.stringify(got.msgs[0]?.payload)}`);
    assert.equal(got.msgs.length, 0);
  });
  it('trustProxy off: a webhook Twilio signed for ANOTHER port of this machine (another service, same path) is refused', async () => {
    // acceptedHost (webhook.ts) takes this machine's own names at any port: another Node-RED or app on
    // :8080 of the same host, with the same path, had its signed webhooks replayable here.
    const { receiver, got } = receiverWith(false);
    current = receiver;
    const otherPort = port === 8080 ? 8081 : 8080;
    const params = { From: '+15558675310', To: '+15017122662', Body: 'for the other service', MessageSid: 'SM' + 'd'.repeat(32) };
    const signature = sign(`http://127.0.0.1:${otherPort}/hook`, params);
    const status = await postForm(params, { 'X-Twilio-Signature': signature, Host: `127.0.0.1:${otherPort}` });
    assert.equal(status, 403, `accepted: checked against ${got.urls[0]}`);
  });
});
