/**
 * twilio-in's webhook handling without Node-RED: an Express app posts to a WebhookReceiver whose
 * account is a stand-in (the signature is good when it says "good"), on a ManualClock.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { ManualClock } from '../../../lib/core/clock';
import type { TwilioAccount } from '../../../lib/account/account';
import { DuplicateWindow } from '../../../lib/inbound/dedupe';
import { inboundHubFor } from '../../../lib/inbound/hub';
import type { InboundMsg } from '../../../lib/inbound/inbound-message';
import {
  WARNING_INTERVAL_MS,
  WebhookReceiver,
  WebhookSettings,
  fallbackTwiml,
  throttledWarnings,
} from '../../../lib/inbound/webhook-receiver';
import type { KeyValueStore } from '../../../lib/node-red/context';
import { EmbeddedStateEngine } from '../../../lib/state/embedded';
import { REFUSED_LINGER_MS } from '../../../lib/inbound/route';
import { EMPTY_TWIML } from '../../../lib/twilio/twiml';
import { standInState, webhookSettings } from './stand-in-state';

const SM = 'SM' + 'b'.repeat(32);
const FROM = '+15558675310';
const TO = '+15017122661';

function memoryStore(): KeyValueStore {
  const data = new Map<string, unknown>();
  return {
    get: async (key) => data.get(key),
    set: async (key, value) => void (value === undefined ? data.delete(key) : data.set(key, value)),
    keys: async () => [...data.keys()],
  };
}

/** A receiver as twilio-in makes one, with what it emits, warns and shows recorded. */
function receiverWith(settings: Partial<WebhookSettings> = {}, account: Partial<TwilioAccount> | null = {}) {
  const clock = new ManualClock(1_000_000);
  const got = { msgs: [] as InboundMsg[], warnings: [] as Array<[string, unknown]>, statuses: [] as string[], urls: [] as string[] };
  const stand = account && {
    ...standInState(),
    redact: (text: string) => text,
    canValidateWebhooks: () => true,
    validateWebhook: (signature: string | undefined, url: string) => {
      got.urls.push(url);
      return signature?.startsWith('good') === true;
    },
    ...account,
  };
  const status = (fill: string) => (key: string) => void got.statuses.push(`${fill} ${key}`);
  const receiver = new WebhookReceiver((stand ?? undefined) as TwilioAccount | undefined, webhookSettings(settings), {
    emit: (msg) => void got.msgs.push(msg),
    warn: (key, subs) => void got.warnings.push([key, subs]),
    status: { working: status('blue'), success: status('green'), warning: status('yellow'), failed: status('red') },
    clock,
  });
  return { receiver, got, clock, account: stand };
}

describe('WebhookReceiver', () => {
  let server: http.Server;
  let base = '';
  let current: WebhookReceiver | undefined;
  const serverSockets: net.Socket[] = [];
  before(async () => {
    const app = express();
    app.post('/hook', (req, res) => void current?.handle(req, res));
    server = http.createServer(app);
    server.on('connection', (socket) => serverSockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/hook`, {
      method: 'POST',
      body,
      // Twilio's signature differs with what it signs (a stand-in for its HMAC: what was posted).
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': `good:${Buffer.from(body).toString('base64')}`,
        ...headers,
      },
    });
  const form = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const incoming = {
    MessageSid: SM,
    From: FROM,
    To: TO,
    Body: 'Hello',
    NumMedia: '1',
    MediaUrl0: 'https://x/m.jpg',
    MediaContentType0: 'image/jpeg',
  };

  it('emits a signed webhook with its parameters and media, answers empty TwiML at once, and publishes it', async () => {
    const { receiver, got, account } = receiverWith();
    current = receiver;
    const heard: string[] = [];
    inboundHubFor(account!).subscribe({ sid: SM }, (event) => void heard.push(`${event.source} ${event.kind}`));
    const res = await post(form(incoming));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), EMPTY_TWIML);
    assert.equal(got.msgs.length, 1);
    const [msg] = got.msgs;
    assert.deepEqual(msg.twilio, { event: 'message', sid: SM, from: FROM, to: TO, accountSid: undefined });
    assert.equal((msg.payload as Record<string, unknown>).Body, 'Hello');
    assert.deepEqual((msg.payload as { media: unknown }).media, [{ url: 'https://x/m.jpg', contentType: 'image/jpeg' }]);
    assert.ok(msg.req && msg.res?._res, 'the request and the response ride along');
    assert.deepEqual(heard, ['webhook message']);
    assert.equal(got.urls[0], `${base}/hook`);
    assert.deepEqual(got.statuses, ['green twilio-in.status.listening', 'green twilio-in.status.received']);
    assert.equal(inboundHubFor(account!).sources, 1);
    receiver.close();
    assert.equal(inboundHubFor(account!).sources, 0);
  });

  it('keeps an answer a subscriber claims from the flow', async () => {
    const { receiver, got, account } = receiverWith();
    current = receiver;
    inboundHubFor(account!).subscribe({ from: FROM, to: TO }, () => 'claimed');
    const res = await post(form(incoming));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), EMPTY_TWIML);
    assert.equal(got.msgs.length, 0);
    assert.equal(got.statuses.at(-1), 'green twilio-in.status.answer');
  });

  it("sends a Gather result on as its own event, gather (keys or words), and keeps one a subscriber claims (a page's call)", async () => {
    const CA = 'CA' + 'c'.repeat(32);
    const call = { CallSid: CA, From: TO, To: FROM, CallStatus: 'in-progress', Direction: 'outbound-api' };
    const results: Array<Record<string, string>> = [
      { Digits: '1', FinishedOnKey: '' },
      { Digits: '', FinishedOnKey: '#' },
      { SpeechResult: 'yes please', Confidence: '0.9' },
      { Digits: '12', SpeechResult: '' },
    ];
    const { receiver, got, account } = receiverWith();
    current = receiver;
    for (const result of results) assert.equal((await post(form({ ...call, ...result }))).status, 200);
    assert.deepEqual(
      got.msgs.map((m) => m.twilio.event),
      ['gather', 'gather', 'gather', 'gather'],
    );
    assert.equal((await post(form({ ...call, CallStatus: 'ringing', Direction: 'inbound' }))).status, 200);
    assert.equal(got.msgs.at(-1)?.twilio.event, 'call', 'a call without input is still an incoming call');
    const heard: string[] = [];
    inboundHubFor(account!).subscribe({ sid: CA }, (event) => {
      heard.push(event.kind);
      return String(event.kind) === 'gather' ? 'claimed' : undefined;
    });
    const before = got.msgs.length;
    assert.equal(await (await post(form({ ...call, Digits: '7' }))).text(), EMPTY_TWIML);
    assert.equal(got.msgs.length, before, 'a key press a page took is not news');
    assert.deepEqual(heard, ['gather']);
    assert.equal(got.statuses.at(-1), 'green twilio-in.status.answer');
  });

  it("passes what a webhook says through the account's masking before anyone reads it: the flow, a subscriber, a JSON body", async () => {
    const secret = 'tok-0123456789';
    const { receiver, got, account } = receiverWith({}, { redact: (text: string) => text.split(secret).join('********') });
    current = receiver;
    const heard: unknown[] = [];
    inboundHubFor(account!).subscribe({ sid: SM }, (event) => void heard.push(event.params.ErrorMessage));
    await post(form({ MessageSid: SM, MessageStatus: 'failed', ErrorMessage: `echo ${secret}`, [secret]: 'x' }));
    await post(JSON.stringify([`echo ${secret}`]), { 'Content-Type': 'application/json' });
    assert.deepEqual(heard, ['echo ********']);
    assert.equal((got.msgs[0].payload as Record<string, unknown>).ErrorMessage, 'echo ********');
    assert.deepEqual(got.msgs[1].payload, ['echo ********']);
    assert.ok(!JSON.stringify(got.msgs.map((m) => m.payload)).includes(secret));
  });

  /** A signed post naming `headers.host` (fetch cannot set Host): its status. */
  const postAs = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const body = form(incoming);
      const req = http.request(`${base}/hook`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-Twilio-Signature': 'good',
          'Content-Length': body.length,
          ...headers,
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });

  it('without a public URL, checks a signature only for a host of its own or one the user named, never a forged Host', async () => {
    const forged = [
      'other.example.com',
      'other.example.com:443',
      'twilio-in.example.net',
      '127.0.0.1:1@other.example.com',
      '10.9.8.7.nip.io',
    ];
    const port = new URL(base).port;
    for (const trustProxy of [false, true]) {
      const { receiver, got } = receiverWith({ trustProxy, hosts: () => ['home.example.com', 'tunnel.example.net:8443'] });
      current = receiver;
      for (const host of forged) {
        const headers: Record<string, string> = trustProxy ? { 'X-Forwarded-Host': host, 'X-Forwarded-Proto': 'https' } : { Host: host };
        assert.equal(await postAs(headers), 403, `${host} (trustProxy ${trustProxy})`);
      }
      assert.deepEqual(got.urls, [], 'no signature was checked against a forged host');
      assert.equal(got.msgs.length, 0);
      assert.equal(got.warnings[0][0], 'twilio-in.warnings.unknownHost');
      assert.equal((got.warnings[0][1] as { host: string }).host, forged[0]);
      const ours = [
        'home.example.com',
        'HOME.example.com:8080',
        'tunnel.example.net:8443',
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        os.hostname(),
      ];
      for (const host of ours) {
        const headers: Record<string, string> = trustProxy ? { 'X-Forwarded-Host': host, 'X-Forwarded-Proto': 'https' } : { Host: host };
        assert.equal(await postAs(headers), 200, `${host} (trustProxy ${trustProxy})`);
      }
      const refused: Record<string, string> = trustProxy
        ? { 'X-Forwarded-Host': 'tunnel.example.net' }
        : { Host: 'tunnel.example.net:443' };
      assert.equal(await postAs(refused), 403, 'a host named with a port is that port only');
      assert.deepEqual(
        got.urls.map((url) => new URL(url).host),
        ours.map((host) => new URL(`http://${host}`).host),
        'each checked for the host it named',
      );
    }
    // Without trusting the proxy, a forged X-Forwarded-Host is not even read: the connection's Host is.
    const { receiver, got } = receiverWith({ trustProxy: false });
    current = receiver;
    assert.equal(await postAs({ 'X-Forwarded-Host': 'other.example.com' }), 200);
    assert.equal(new URL(got.urls[0]).host, `127.0.0.1:${port}`);
  });

  it('with a public URL, checks against it alone, whatever host a request names', async () => {
    for (const trustProxy of [false, true]) {
      const { receiver, got } = receiverWith({ trustProxy, publicBaseUrl: () => 'https://home.example.com/red' });
      current = receiver;
      for (const host of ['other.example.com', '127.0.0.1', 'home.example.com'])
        assert.equal(await postAs({ Host: host, 'X-Forwarded-Host': host }), 200, host);
      assert.deepEqual(got.urls, Array(3).fill('https://home.example.com/red/hook'), `trustProxy ${trustProxy}`);
    }
  });

  it('refuses what is not signed with 403 before reading it, warning once per interval with a count of the rest', async () => {
    const { receiver, got, clock } = receiverWith();
    current = receiver;
    for (const headers of [{ 'X-Twilio-Signature': '' }, { 'X-Twilio-Signature': 'bad' }, { 'X-Twilio-Signature': 'bad' }]) {
      const res = await post(form(incoming), headers);
      assert.equal(res.status, 403);
    }
    assert.equal(got.msgs.length, 0);
    assert.deepEqual(
      got.warnings.map(([key]) => key),
      ['twilio-in.warnings.missingSignature'],
    );
    await clock.advance(WARNING_INTERVAL_MS);
    await post(form(incoming), { 'X-Twilio-Signature': 'bad' });
    assert.deepEqual(got.warnings[1], ['twilio-in.warnings.invalidSignature', { url: `${base}/hook`, suppressed: 2 }]);
    assert.equal(got.statuses.at(-1), 'red twilio-in.status.rejected');
  });

  it('refuses bodies Twilio never sends: another content type (415), too many parameters (413)', async () => {
    const { receiver, got } = receiverWith();
    current = receiver;
    assert.equal((await post('{}', { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal((await post(Array.from({ length: 300 }, (_, i) => `p${i}=1`).join('&'))).status, 413);
    assert.equal(got.msgs.length, 0);
    assert.deepEqual(got.warnings, [['twilio-in.warnings.badBody', { reason: 'not-a-webhook-type', status: 415, suppressed: 0 }]]);
  });

  it('answers a repeated delivery but sends it on once: the same token, or what Twilio signed with a fresh token', async () => {
    const { receiver, got } = receiverWith({ tokenWindowMs: 60_000 });
    current = receiver;
    const sent = [
      [{ ...incoming, MessageSid: 'SM' + 'c'.repeat(32) }, 'delivery-1'],
      [{ ...incoming, MessageSid: 'SM' + 'c'.repeat(32) }, 'delivery-1'],
      [{ ...incoming, MessageSid: 'SM' + 'c'.repeat(32) }, 'delivery-2'], // a replay with a fresh token
      [{ ...incoming, MessageSid: 'SM' + 'e'.repeat(32) }, 'delivery-1'], // a token heard before
      [{ ...incoming, MessageSid: 'SM' + 'f'.repeat(32) }, 'delivery-3'],
    ] as const;
    for (const [params, token] of sent) {
      const res = await post(form(params), { 'I-Twilio-Idempotency-Token': token });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), EMPTY_TWIML);
    }
    assert.deepEqual(
      got.msgs.map((msg) => msg.twilio.sid),
      ['SM' + 'c'.repeat(32), 'SM' + 'f'.repeat(32)],
    );
    assert.equal(got.statuses.filter((s) => s === 'yellow twilio-in.status.duplicate').length, 3);
  });

  it("answers 503 (Twilio tries again later) and hands nothing on when the account's state cannot say what was heard", async () => {
    const closedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-receiver-closed-'));
    const closed = new EmbeddedStateEngine({ dir: closedDir });
    await closed.close();
    try {
      for (const state of [undefined, closed]) {
        const { receiver, got, account } = receiverWith({}, { state });
        current = receiver;
        const heard: unknown[] = [];
        inboundHubFor(account!).subscribe({ from: FROM, to: TO }, (event) => void heard.push(event));
        const res = await post(form(incoming));
        assert.equal(res.status, 503, String(state));
        assert.deepEqual([got.msgs.length, heard.length], [0, 0]);
        assert.equal(got.statuses.at(-1), 'red twilio-in.status.stateUnavailable');
        assert.equal(got.warnings[0][0], 'twilio-in.warnings.stateUnavailable');
      }
    } finally {
      fs.rmSync(closedDir, { recursive: true, force: true });
    }
  });

  it('keeps the token window of an unchecked webhook in its own store', async () => {
    const { receiver, got } = receiverWith({
      validate: false,
      duplicates: new DuplicateWindow(memoryStore(), { windowMs: 60_000, capacity: 10 }),
    });
    current = receiver;
    for (const token of ['delivery-1', 'delivery-1', 'delivery-2'])
      assert.equal((await post(form(incoming), { 'I-Twilio-Idempotency-Token': token, 'X-Twilio-Signature': '' })).status, 200);
    assert.equal(got.msgs.length, 2, 'the token alone tells deliveries apart: nothing of it is signed');
  });

  it("waits for the flow's reply, and answers with the fallback when the reply timeout passes on the clock", async () => {
    const fallback = fallbackTwiml('message', 'We will call you back');
    const { receiver, got, clock } = receiverWith({ reply: 'flow', replyTimeoutMs: 8_000, fallback });
    current = receiver;
    const answered = post(form({ ...incoming, MessageSid: 'SM' + 'd'.repeat(32) }));
    while (got.msgs.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await clock.advance(7_999);
    assert.deepEqual(got.warnings, [], 'not late yet');
    await clock.advance(1);
    const res = await answered;
    assert.equal(await res.text(), fallback);
    assert.match(fallback, /We will call you back/);
    assert.deepEqual(got.warnings, [['twilio-in.warnings.replyTimeout', { seconds: 8 }]]);
    assert.equal(got.statuses.at(-1), 'yellow twilio-in.status.replyTimeout');
  });

  it('with the check off, sends on what anyone posts and publishes none of it', async () => {
    const { receiver, got, account } = receiverWith({ validate: false });
    current = receiver;
    const heard: unknown[] = [];
    inboundHubFor(account!).subscribe({ sid: SM }, (event) => void heard.push(event));
    await post(form(incoming), { 'X-Twilio-Signature': '' });
    assert.equal(got.msgs.length, 1);
    assert.deepEqual(heard, []);
    assert.equal(inboundHubFor(account!).sources, 0);
    assert.equal(got.statuses[0], 'yellow twilio-in.status.unchecked');
  });

  /**
   * A raw client that sends `head` and `body`, reads the whole answer, then goes on sending `after`
   * (a client that does not stop at a refusal) and ends its side unless `staySilent`. Resolves with
   * the answer, the client's socket error if any, and the server's socket for that connection.
   */
  async function sendOnAfterAnswer(head: string, body: Buffer[], after: Buffer[], staySilent = false) {
    const { port } = server.address() as AddressInfo;
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((resolve) => client.once('connect', resolve));
    const serverSocket = serverSockets.at(-1)!;
    let text = '';
    let error: string | undefined;
    client.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
    const answered = new Promise<void>((resolve) =>
      client.on('data', (chunk) => {
        text += chunk.toString();
        const [header, rest = ''] = text.split('\r\n\r\n');
        const length = Number(/content-length: *(\d+)/i.exec(header)?.[1] ?? NaN);
        if (Buffer.byteLength(rest) >= length) resolve();
      }),
    );
    client.write(head);
    for (const part of body) client.write(part);
    await answered;
    for (const part of after) client.write(part);
    if (staySilent) await new Promise<void>((resolve) => client.write('', () => resolve()));
    else client.end();
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text, client, serverSocket, error: () => error };
  }
  const closed = (socket: net.Socket) =>
    new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
  const chunk = (bytes: number) => {
    const part = Buffer.alloc(bytes, 'a');
    return Buffer.concat([Buffer.from(`${bytes.toString(16)}\r\n`), part, Buffer.from('\r\n')]);
  };
  const headOf = (headers: Record<string, string | number>) =>
    `POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
  const refusals = [
    {
      name: 'a body over the cap (413), chunked',
      status: 413,
      head: headOf({ 'X-Twilio-Signature': 'good', 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked' }),
      body: Array.from({ length: 17 }, () => chunk(64 * 1024)),
      after: [chunk(64 * 1024), chunk(64 * 1024), Buffer.from('0\r\n\r\n')],
    },
    {
      name: 'a declared length over the cap (413), sent anyway',
      status: 413,
      head: headOf({
        'X-Twilio-Signature': 'good',
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': 3 * 1024 * 1024,
      }),
      body: [Buffer.alloc(1024 * 1024, 'a')],
      after: [Buffer.alloc(2 * 1024 * 1024, 'a')],
    },
    {
      name: 'no signature (403), its body unread',
      status: 403,
      head: headOf({ 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 512 * 1024 }),
      body: [Buffer.alloc(64 * 1024, 'a')],
      after: [Buffer.alloc(448 * 1024, 'a')],
    },
    {
      name: 'a type Twilio never sends (415), its body unread',
      status: 415,
      head: headOf({ 'X-Twilio-Signature': 'good', 'Content-Type': 'text/plain', 'Content-Length': 512 * 1024 }),
      body: [Buffer.alloc(64 * 1024, 'a')],
      after: [Buffer.alloc(448 * 1024, 'a')],
    },
  ];

  // Closing at once would leave the client's bytes unread: the kernel then resets the connection,
  // and a reset can take the answer with it before the client reads it (seen as a status 0 in CI).
  it('lets a refused client that goes on sending finish: its answer first, the rest read and dropped, then a clean close', async () => {
    for (const refusal of refusals) {
      const { receiver } = receiverWith();
      current = receiver;
      const sent = refusal.body.concat(refusal.after).reduce((sum, part) => sum + part.length, refusal.head.length);
      const run = await sendOnAfterAnswer(refusal.head, refusal.body, refusal.after);
      await closed(run.serverSocket);
      await closed(run.client);
      assert.equal(run.status, refusal.status, refusal.name);
      assert.match(run.text, /\r\nConnection: close\r\n/i, refusal.name);
      assert.equal(run.serverSocket.bytesRead, sent, `${refusal.name}: every byte the client sent was read before the close`);
      assert.equal(run.error(), undefined, `${refusal.name}: the connection was not reset`);
    }
  });

  it('closes a refused connection REFUSED_LINGER_MS after its answer when the client neither stops nor ends', async () => {
    const { receiver, clock } = receiverWith();
    current = receiver;
    const refusal = refusals[0];
    const run = await sendOnAfterAnswer(refusal.head, refusal.body, [chunk(1024)], true);
    assert.equal(run.status, 413);
    await clock.advance(REFUSED_LINGER_MS - 1);
    assert.equal(run.serverSocket.destroyed, false, 'the client may still send');
    await clock.advance(1);
    assert.equal(run.serverSocket.destroyed, true);
    run.client.destroy();
  });

  it('answers nothing more on a refused connection: a request sent after the refused body crashes nothing', async () => {
    const { receiver, got } = receiverWith();
    current = receiver;
    const second = `${headOf({ 'X-Twilio-Signature': `good:${Buffer.from('a=1').toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 3 })}a=1`;
    const refusal = refusals[2];
    const run = await sendOnAfterAnswer(refusal.head, refusal.body, [...refusal.after, Buffer.from(second)]);
    await closed(run.serverSocket);
    await closed(run.client);
    assert.equal(run.status, 403);
    assert.equal(run.text.match(/HTTP\/1\.1/g)?.length, 1, 'one answer on the connection');
    assert.equal(got.msgs.length, 0);
    assert.equal((await post(form(incoming))).status, 200, 'the server still serves');
  });

  it('answers 500 without an account, and says why', async () => {
    const { receiver, got } = receiverWith({}, null);
    current = receiver;
    assert.equal((await post(form(incoming))).status, 500);
    assert.deepEqual(got.statuses, ['red twilio-in.status.noAccount']);
  });
});

describe('throttledWarnings', () => {
  it('passes one warning per interval, and counts those it held back', async () => {
    const clock = new ManualClock(0);
    const seen: unknown[] = [];
    const warn = throttledWarnings((key, subs) => void seen.push([key, subs]), clock, 1_000);
    warn('a', { n: 1 });
    warn('a', { n: 2 });
    await clock.advance(999);
    warn('a', { n: 3 });
    await clock.advance(1);
    warn('b', { n: 4 });
    assert.deepEqual(seen, [
      ['a', { n: 1, suppressed: 0 }],
      ['b', { n: 4, suppressed: 2 }],
    ]);
  });
});

describe('fallbackTwiml', () => {
  it('is empty TwiML for no fallback, an empty text, or TwiML that is no <Response> document', () => {
    assert.equal(fallbackTwiml(undefined, 'x'), EMPTY_TWIML);
    assert.equal(fallbackTwiml('say', '  '), EMPTY_TWIML);
    assert.equal(fallbackTwiml('twiml', 'Say hello'), EMPTY_TWIML);
    assert.match(fallbackTwiml('say', 'Hello & bye'), /<Say>Hello &amp; bye<\/Say>/);
  });
});
