/**
 * Attacks on how twilio-in closes a connection whose request it refused without reading all of its
 * body (closeAfterAnswer, lib/inbound/route.ts): the connection half-closes, what the client still
 * sends is read and dropped, and the socket goes when the client ends or REFUSED_LINGER_MS after the
 * answer. Express + a WebhookReceiver on a ManualClock, raw sockets as a stranger would use them.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { ManualClock } from '../../lib/core/clock';
import type { TwilioAccount } from '../../lib/account/account';
import type { InboundMsg } from '../../lib/inbound/inbound-message';
import { WebhookReceiver, type WebhookSettings } from '../../lib/inbound/webhook-receiver';
import { REFUSED_LINGER_MS } from '../../lib/inbound/route';
import { EMPTY_TWIML } from '../../lib/twilio/twiml';
import { until } from '../support/assertions';
import { standInState, webhookSettings } from '../unit/inbound/stand-in-state';

/** A receiver as twilio-in makes one (the signature is good when it starts with "good"), on its own ManualClock. */
function receiverWith(settings: Partial<WebhookSettings> = {}) {
  const clock = new ManualClock(1_000_000);
  const got = { msgs: [] as InboundMsg[], warnings: [] as string[] };
  const account = {
    ...standInState(),
    redact: (text: string) => text,
    canValidateWebhooks: () => true,
    validateWebhook: (signature: string | undefined) => signature?.startsWith('good') === true,
  };
  const noop = () => undefined;
  const receiver = new WebhookReceiver(account as unknown as TwilioAccount, webhookSettings(settings), {
    emit: (msg) => void got.msgs.push(msg),
    warn: (key) => void got.warnings.push(key),
    status: { working: noop, success: noop, warning: noop, failed: noop },
    clock,
  });
  return { receiver, got, clock };
}

const headOf = (headers: Record<string, string | number>, path = '/hook') =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
const chunk = (bytes: number) => Buffer.concat([Buffer.from(`${bytes.toString(16)}\r\n`), Buffer.alloc(bytes, 'a'), Buffer.from('\r\n')]);
/** A webhook the stand-in account takes as Twilio's, as raw bytes. */
const signedRequest = (body = `MessageSid=SM${'d'.repeat(32)}&From=%2B15558675310&To=%2B15017122661&Body=pipelined`) =>
  headOf({
    'X-Twilio-Signature': `good:${Buffer.from(body).toString('base64')}`,
    'Content-Type': 'application/x-www-form-urlencoded',
    'Content-Length': Buffer.byteLength(body),
  }) + body;
/** Refused before a byte of the body is read: no signature (403). */
const unsignedHead = (length: number) => headOf({ 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': length });
/** Refused as its body grows over the cap (413), chunked. */
const chunkedHead = headOf({
  'X-Twilio-Signature': 'good',
  'Content-Type': 'application/x-www-form-urlencoded',
  'Transfer-Encoding': 'chunked',
});
const overCap = () => Array.from({ length: 17 }, () => chunk(64 * 1024));

const closed = (socket: net.Socket) =>
  new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
/** The server's side of a client's connection is over: its FIN (or a reset) has reached the client. */
const hearsEnd = (client: net.Socket) =>
  new Promise<void>((resolve) => {
    if (client.destroyed || client.readableEnded) return resolve();
    client.once('end', () => resolve());
    client.once('close', () => resolve());
  });

describe('attacks on a refused connection that lingers (closeAfterAnswer)', () => {
  let server: http.Server;
  let port = 0;
  let current: WebhookReceiver | undefined;
  /** Every request the app dispatched to the receiver, with its handling (settled once the receiver is done). */
  const handled: Array<{ url: string; done: Promise<void> }> = [];
  const serverSockets: net.Socket[] = [];
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => void crashes.push(err);

  before(async () => {
    process.on('uncaughtException', onCrash);
    const app = express();
    app.post('/hook', (req, res) => void handled.push({ url: req.originalUrl, done: current!.handle(req, res) }));
    server = http.createServer(app);
    server.on('connection', (socket) => serverSockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    process.off('uncaughtException', onCrash);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A raw client: sends `head` and `body`, reads the answer; the rest is the test's. */
  async function refusedClient(head: string, body: Buffer[] = []) {
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((resolve) => client.once('connect', resolve));
    await until(() => serverSockets.some((s) => s.remotePort === client.localPort), 'the server socket');
    const serverSocket = serverSockets.find((s) => s.remotePort === client.localPort)!;
    let text = '';
    const errors: string[] = [];
    client.on('error', (err: NodeJS.ErrnoException) => void errors.push(err.code ?? err.message));
    const answered = new Promise<void>((resolve) =>
      client.on('data', (data) => {
        text += data.toString('latin1');
        const split = text.indexOf('\r\n\r\n');
        const length = Number(/content-length: *(\d+)/i.exec(text.slice(0, split))?.[1] ?? NaN);
        if (split !== -1 && Buffer.byteLength(text.slice(split + 4)) >= length) resolve();
      }),
    );
    client.write(head);
    for (const part of body) client.write(part);
    await answered;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    return { client, serverSocket, status, text: () => text, errors };
  }
  const written = (client: net.Socket, data: Buffer | string) => new Promise<void>((resolve) => client.write(data, () => resolve()));
  const stillServes = async () => {
    const { receiver, got } = receiverWith();
    current = receiver;
    const body = `MessageSid=SM${'e'.repeat(32)}&From=%2B15558675310&To=%2B15017122661&Body=fine`;
    const res = await fetch(`http://127.0.0.1:${port}/hook`, {
      method: 'POST',
      body,
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': `good:${Buffer.from(body).toString('base64')}`,
      },
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), EMPTY_TWIML);
    assert.equal(got.msgs.length, 1);
  };

  // Found by this attack: the half-closed connection's parser still hands on the next request. The
  // receiver now drops every request on a connection it refused (in Node-RED, a hook at the root does,
  // before any route), so nothing of it is emitted or answered.
  it('takes no request pipelined after a refused body while the client keeps its side open: nothing more is answered or emitted', async () => {
    const { receiver, got, clock } = receiverWith();
    current = receiver;
    const before = handled.length;
    const run = await refusedClient(unsignedHead(4096), [Buffer.alloc(1024, 'a')]);
    assert.equal(run.status, 403);
    // The rest of the refused body, then a second request, on the same connection; the client does not end.
    await written(run.client, Buffer.concat([Buffer.alloc(3072, 'a'), Buffer.from(signedRequest())]));
    // The connection goes REFUSED_LINGER_MS after the answer; whatever was dispatched meanwhile has settled then.
    await clock.advance(REFUSED_LINGER_MS);
    await closed(run.serverSocket);
    await Promise.all(handled.slice(before).map((h) => h.done));
    run.client.destroy();
    assert.equal(run.text().match(/HTTP\/1\.1 /g)?.length, 1, 'one answer on the connection');
    assert.equal(got.msgs.length, 0, 'nothing pipelined after a refusal is emitted');
    assert.ok(handled.length - before <= 2, 'the refused request, and at most the one behind it (dropped)');
  });

  // Found by this attack (and older than the half-close): Node hands on a request pipelined in the same
  // packet as soon as it parses it, before the refusal is written.
  it('takes no request pipelined in the same packet as a refused one: nothing more is emitted', async () => {
    const { receiver, got, clock } = receiverWith();
    current = receiver;
    const before = handled.length;
    const run = await refusedClient(unsignedHead(64) + 'a'.repeat(64) + signedRequest());
    assert.equal(run.status, 403);
    await clock.advance(REFUSED_LINGER_MS);
    await closed(run.serverSocket);
    await Promise.all(handled.slice(before).map((h) => h.done));
    run.client.destroy();
    assert.equal(got.msgs.length, 0, 'nothing pipelined behind a refusal is emitted');
    assert.equal(run.text().match(/HTTP\/1\.1 /g)?.length, 1, 'one answer on the connection');
  });

  it('closes every one of many refused connections that keep sending and never end, REFUSED_LINGER_MS after their answers', async () => {
    const { receiver, clock } = receiverWith();
    current = receiver;
    const runs = [];
    for (let i = 0; i < 40; i++) {
      const run = await refusedClient(i % 2 ? chunkedHead : unsignedHead(10 * 1024 * 1024), i % 2 ? overCap() : [Buffer.alloc(8192, 'a')]);
      assert.equal(run.status, i % 2 ? 413 : 403);
      await written(run.client, i % 2 ? chunk(32 * 1024) : Buffer.alloc(32 * 1024, 'a'));
      runs.push(run);
    }
    assert.equal(clock.pending, runs.length, 'one linger timer per refused connection');
    assert.ok(
      runs.every((r) => !r.serverSocket.destroyed),
      'they may go on sending within the linger',
    );
    await clock.advance(REFUSED_LINGER_MS);
    await Promise.all(runs.map((r) => closed(r.serverSocket)));
    await Promise.all(runs.map((r) => hearsEnd(r.client)));
    runs.forEach((r) => r.client.destroy());
    assert.equal(clock.pending, 0, 'no timer left behind');
    const open = await new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    assert.equal(open, 0, 'no socket left open');
    assert.deepEqual(crashes, []);
    await stillServes();
  });

  it('reads and drops what a refused client sends as fast as it can during the linger: nothing is buffered', async () => {
    const { receiver, clock } = receiverWith();
    current = receiver;
    const total = 64 * 1024 * 1024;
    const run = await refusedClient(unsignedHead(total + 1024), [Buffer.alloc(1024, 'a')]);
    assert.equal(run.status, 403);
    const before = run.serverSocket.bytesRead;
    const block = Buffer.alloc(1024 * 1024, 'a');
    // The clock stands still: the whole flood arrives within the linger, and is read as it comes.
    for (let sent = 0; sent < total; sent += block.length) await written(run.client, block);
    await until(() => run.serverSocket.bytesRead - before >= total, 'every byte the client sent is read');
    assert.equal(run.serverSocket.readableLength, 0, 'nothing waits in the socket');
    assert.equal(run.serverSocket.destroyed, false, 'still within the linger');
    await clock.advance(REFUSED_LINGER_MS);
    await closed(run.serverSocket);
    run.client.destroy();
    assert.deepEqual(crashes, []);
  });

  it('lets a client reset a lingering connection: its timer is cleared, nothing crashes, the server serves', async () => {
    const { receiver, clock } = receiverWith();
    current = receiver;
    const run = await refusedClient(chunkedHead, overCap());
    assert.equal(run.status, 413);
    assert.equal(clock.pending, 1);
    run.client.resetAndDestroy();
    await closed(run.serverSocket);
    assert.equal(clock.pending, 0, 'the linger timer goes with the socket');
    assert.deepEqual(crashes, []);
    await stillServes();
  });

  it('closes a lingering connection at once when the client half-closes right after the answer', async () => {
    const { receiver, clock } = receiverWith();
    current = receiver;
    const run = await refusedClient(unsignedHead(1024 * 1024), [Buffer.alloc(1024, 'a')]);
    assert.equal(run.status, 403);
    run.client.end();
    await closed(run.serverSocket);
    await closed(run.client);
    assert.equal(clock.pending, 0);
    assert.deepEqual(run.errors, [], 'a clean close, no reset');
  });

  it('closes a lingering connection on garbage chunk framing after the answer, without a crash or a second answer', async () => {
    const { receiver, clock } = receiverWith();
    current = receiver;
    const run = await refusedClient(chunkedHead, overCap());
    assert.equal(run.status, 413);
    await written(run.client, 'zz-not-hex\r\n\r\n\x00\x01garbage');
    // Node's parser may end the connection at the broken framing; else it goes with the linger.
    await clock.advance(REFUSED_LINGER_MS);
    await closed(run.serverSocket);
    run.client.destroy();
    assert.equal(run.text().match(/HTTP\/1\.1 /g)?.length, 1, 'Node does not answer the broken framing on a half-closed socket');
    assert.equal(clock.pending, 0);
    assert.deepEqual(crashes, []);
    await stillServes();
  });

  it('survives a second oversized body and garbage pipelined after a refused one', async () => {
    const { receiver, got, clock } = receiverWith();
    current = receiver;
    const run = await refusedClient(unsignedHead(2048), [Buffer.alloc(2048, 'a')]);
    assert.equal(run.status, 403);
    await written(run.client, Buffer.concat([Buffer.from(chunkedHead), ...overCap(), Buffer.from('GARBAGE / HTTP/9.9\r\n\r\n')]));
    await clock.advance(REFUSED_LINGER_MS);
    await closed(run.serverSocket);
    run.client.destroy();
    await Promise.all(handled.map((h) => h.done));
    assert.equal(got.msgs.length, 0);
    assert.deepEqual(crashes, []);
    await stillServes();
  });
});
