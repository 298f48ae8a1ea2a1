/**
 * The product's client sends the SDK's requests with its own transport (lib/http-transport.ts). These
 * hold it to the SDK's: the same bytes on the wire as the SDK's axios transport, the same answers
 * read, the same errors (our error mapping and the queue read their codes).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import twilio from 'twilio';
import { createTwilioClient, judgeSdkOutcome } from '../../../lib/transport/sdk-client';
import { toTwilioNodeError } from '../../../lib/core/errors';
import { RequestQueue } from '../../../lib/transport/request-queue';
import { RawSdkRequestClient } from '../../../simulator/raw-sdk-client';
import { livingClock } from '../../support/ticking';

const ACCOUNT_SID = 'AC' + 'a'.repeat(32);
const KEY_SID = 'SK' + 'b'.repeat(32);
const KEY_SECRET = 'transport-secret-1';
const MESSAGE = {
  sid: 'SM' + 'c'.repeat(32),
  account_sid: ACCOUNT_SID,
  body: 'hé 😀',
  date_created: 'Wed, 25 Nov 2026 02:00:00 +0000',
  status: 'queued',
  num_segments: '1',
};

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

describe('http transport', () => {
  let server: http.Server;
  let baseUrl: string;
  const seen: Seen[] = [];
  /** The next answers, in order; then a message. */
  const script: Answer[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        (script.shift() ?? json(201, MESSAGE))(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    seen.length = 0;
    script.length = 0;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const ours = (timeoutMs?: number) =>
    createTwilioClient(
      { accountSid: ACCOUNT_SID, authMode: 'apiKey', apiKeySid: KEY_SID, apiKeySecret: KEY_SECRET },
      { baseUrl, timeoutMs },
    );
  const theSdks = () => {
    const requestClient = new RawSdkRequestClient(baseUrl);
    return { client: twilio(KEY_SID, KEY_SECRET, { accountSid: ACCOUNT_SID, httpClient: requestClient, env: {} }), requestClient };
  };

  /** What one call puts on the wire through the SDK's transport and through ours. */
  async function bothWires(call: (client: twilio.Twilio) => Promise<unknown>): Promise<[Seen, Seen]> {
    const sdk = theSdks();
    const product = ours();
    try {
      await call(sdk.client);
      await call(product.client);
    } finally {
      sdk.requestClient.destroy();
      product.requestClient.destroy();
    }
    assert.equal(seen.length, 2);
    return [seen[0], seen[1]];
  }

  /** Headers that carry meaning; axios alone asks for compression (we ask for none). */
  const meaningful = (headers: http.IncomingHttpHeaders) => {
    const { 'accept-encoding': _compression, host: _host, ...rest } = headers;
    return rest;
  };

  it('puts on the wire what the SDK would: form bodies with repeated keys, non-ASCII, auth, User-Agent', async () => {
    const [sdk, product] = await bothWires((client) =>
      client.messages.create({
        to: '+15558675310',
        from: '+15017122661',
        body: 'hé 😀 & = + %',
        mediaUrl: ['https://a.test/1.png', 'https://a.test/2.png'],
        statusCallback: 'https://a.test/cb?x=1&y=2',
      }),
    );
    assert.equal(product.method, sdk.method);
    assert.equal(product.url, sdk.url);
    assert.equal(product.body, sdk.body);
    assert.match(product.body, /MediaUrl=https%3A%2F%2Fa.test%2F1.png&MediaUrl=https%3A%2F%2Fa.test%2F2.png/);
    assert.deepEqual(meaningful(product.headers), meaningful(sdk.headers));
    assert.equal(product.headers['content-length'], String(Buffer.byteLength(product.body)));
    assert.equal(product.headers.authorization, `Basic ${Buffer.from(`${KEY_SID}:${KEY_SECRET}`).toString('base64')}`);
    assert.match(String(product.headers['user-agent']), /^twilio-node\//);
    assert.equal(product.headers['accept-encoding'], undefined);
  });

  it('puts text-only form bodies (a plain send) on the wire as the SDK would: reserved characters, non-ASCII, a lone surrogate', async () => {
    for (const body of ["it's (50%) *off*! ~ a_b.c-d/é 😀\n\t&=+?#[]@$,;:", 'half \ud800 a pair', '']) {
      seen.length = 0;
      const [sdk, product] = await bothWires((client) => client.messages.create({ to: '+15558675310', from: '+15017122661', body }));
      assert.equal(product.body, sdk.body, body);
      assert.equal(product.url, sdk.url);
      assert.equal(product.headers['content-length'], String(Buffer.byteLength(product.body)));
    }
  });

  it("carries a clientFor client's owner to the queue: withdraw(owner) takes back its queued requests, without requestOwner.run", async () => {
    const queue = new RequestQueue({ clock: livingClock, maxConcurrency: 1, initialConcurrency: 1 });
    const handle = createTwilioClient(
      { accountSid: ACCOUNT_SID, authMode: 'apiKey', apiKeySid: KEY_SID, apiKeySecret: KEY_SECRET },
      { baseUrl, queue },
    );
    const node = {};
    try {
      script.push((req, res) => setTimeout(() => json(201, MESSAGE)(req, res), 100));
      assert.equal(handle.clientFor(node), handle.clientFor(node), 'one client per owner');
      const inFlight = handle.clientFor(node).messages.create({ to: '+15558675310', from: '+15017122661', body: 'first' });
      const queued = handle.clientFor(node).messages.create({ to: '+15558675311', from: '+15017122661', body: 'second' });
      const others = handle.client.messages.create({ to: '+15558675312', from: '+15017122661', body: 'third' });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(queue.state.queued, 2);
      queue.withdraw(node);
      await assert.rejects(queued, (err: { code?: string }) => err.code === 'NOT_SENT');
      assert.equal((await inFlight).sid, MESSAGE.sid, 'what was in flight gets its answer');
      assert.equal((await others).sid, MESSAGE.sid, "another owner's request stays");
      assert.deepEqual(
        seen.map((s) => new URLSearchParams(s.body).get('Body')),
        ['first', 'third'],
      );
    } finally {
      handle.requestClient.destroy();
    }
  });

  it('puts query parameters on the wire as the SDK would (lists and filters)', async () => {
    script.push(json(200, { messages: [], next_page_uri: null }), json(200, { messages: [], next_page_uri: null }));
    const [sdk, product] = await bothWires((client) =>
      client.messages.list({ to: '+15558675310', dateSentAfter: new Date('2026-11-01T00:00:00Z'), pageSize: 5 }),
    );
    assert.equal(product.method, 'GET');
    assert.equal(product.url, sdk.url);
    assert.match(product.url, /\?To=%2B15558675310&DateSent%3E=2026-11-01T00%3A00%3A00Z&PageSize=5$/);
    assert.deepEqual(meaningful(product.headers), meaningful(sdk.headers));
    assert.equal(product.body, '');
  });

  it('puts JSON bodies on the wire as the SDK would', async () => {
    const content = { sid: 'HX' + 'd'.repeat(32), friendly_name: 'x', language: 'en', variables: {}, types: {} };
    script.push(json(201, content), json(201, content));
    const [sdk, product] = await bothWires((client) =>
      client.content.v1.contents.create({
        friendlyName: 'x',
        language: 'en',
        variables: { 1: 'name' },
        types: { 'twilio/text': { body: 'Hi {{1}}' } },
      } as never),
    );
    assert.equal(product.url, sdk.url);
    assert.equal(product.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(product.body), JSON.parse(sdk.body));
    assert.deepEqual(meaningful(product.headers), meaningful(sdk.headers));
  });

  it('reads answers as the SDK reads them: resources, errors, empty 204s, compressed bodies', async () => {
    const { client, requestClient } = ours();
    try {
      const created = await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'x' });
      assert.equal(created.body, 'hé 😀');
      assert.equal(created.dateCreated.toISOString(), '2026-11-25T02:00:00.000Z');
      script.push(
        json(400, {
          code: 21211,
          message: "The 'To' number is not valid.",
          more_info: 'https://www.twilio.com/docs/errors/21211',
          status: 400,
        }),
      );
      await assert.rejects(client.messages.create({ to: 'x', from: '+15017122661', body: 'x' }), {
        status: 400,
        code: 21211,
        message: "The 'To' number is not valid.",
      });
      script.push((_req, res) => res.writeHead(204).end());
      assert.equal(await client.messages(MESSAGE.sid).remove(), true);
      script.push((_req, res) =>
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }).end(zlib.gzipSync(JSON.stringify(MESSAGE))),
      );
      assert.equal((await client.messages(MESSAGE.sid).fetch()).sid, MESSAGE.sid);
    } finally {
      requestClient.destroy();
    }
  });

  it('sends to the base URL override with its path prefix, whatever Twilio domain the SDK chose', async () => {
    for (const prefix of ['/twilio-api', '/twilio-api/']) {
      const { client, requestClient } = createTwilioClient(
        { accountSid: ACCOUNT_SID, authMode: 'apiKey', apiKeySid: KEY_SID, apiKeySecret: KEY_SECRET },
        { baseUrl: baseUrl + prefix, region: 'ie1', edge: 'dublin' },
      );
      try {
        await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'x' });
        script.push(json(200, { results: [] }));
        await client.request({ method: 'get', uri: 'https://verify.twilio.com/v2/Services?PageSize=2' });
      } finally {
        requestClient.destroy();
      }
    }
    assert.deepEqual(
      seen.map((s) => s.url),
      [
        `/twilio-api/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`,
        '/twilio-api/v2/Services?PageSize=2',
        `/twilio-api/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`,
        '/twilio-api/v2/Services?PageSize=2',
      ],
    );
    assert.equal(seen[0].headers.host, baseUrl.replace('http://', ''));
  });

  it("gives the queue Twilio's 429 and Retry-After as the SDK's transport did", async () => {
    const { client, requestClient } = ours();
    try {
      script.push(json(429, { code: 20429, message: 'Too Many Requests', status: 429 }, { 'Retry-After': '3' }));
      const response = await client.request({ method: 'get', uri: 'https://api.twilio.com/2010-04-01/Accounts.json' });
      assert.deepEqual(judgeSdkOutcome({ value: response }), { kind: 'retry', reason: 'rate-limited', retryAfterMs: 3000 });
    } finally {
      requestClient.destroy();
    }
  });

  it('fails as the SDK did: a silent server (before or during its answer) is a timeout that may have sent, a cut answer a connection error', async () => {
    const { client, requestClient } = ours(150);
    try {
      script.push(() => undefined); // never answers
      const timedOut = await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'x' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.equal((timedOut as { code?: string }).code, 'ECONNABORTED');
      assert.equal(judgeSdkOutcome({ error: timedOut }).kind, 'fail', 'a request that may have reached Twilio is not repeated');
      assert.equal(toTwilioNodeError(timedOut).code, 'REQUEST_TIMEOUT');
      script.push((_req, res) => {
        res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': '500' });
        res.write('{"sid":'); // then silence, in the middle of the answer
      });
      const stalled = await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'x' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.equal((stalled as { code?: string }).code, 'ECONNABORTED');
      script.push((_req, res) => {
        res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': '500' });
        res.write('{"sid":');
        setTimeout(() => res.destroy(), 10);
      });
      const cut = await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'x' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.equal((cut as { code?: string }).code, 'ECONNRESET');
      assert.equal(toTwilioNodeError(cut).code, 'TWILIO_CONNECTION_ERROR');
      assert.ok(!String((cut as Error).message).includes(KEY_SECRET) && !String((timedOut as Error).message).includes(KEY_SECRET));
    } finally {
      requestClient.destroy();
    }
  });

  it('says a refused connection was never sent, so the queue may repeat it', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { client, requestClient } = createTwilioClient(
      { accountSid: ACCOUNT_SID, authMode: 'apiKey', apiKeySid: KEY_SID, apiKeySecret: KEY_SECRET },
      { baseUrl: `http://127.0.0.1:${port}` },
    );
    try {
      const refused = await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'x' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.equal((refused as { code?: string }).code, 'ECONNREFUSED');
      assert.deepEqual(judgeSdkOutcome({ error: refused }), { kind: 'retry', reason: 'not-connected' });
    } finally {
      requestClient.destroy();
    }
  });

  it('sends https requests through the proxy in HTTP_PROXY, as the SDK does, and times out when it opens no tunnel', async () => {
    // A proxy that records the CONNECT it is asked for, then hangs up. The proxy agent then never
    // gives the request a socket: only a clock that runs from the start can end it.
    const connects: string[] = [];
    const proxy = http.createServer();
    proxy.on('connect', (req: http.IncomingMessage, socket: import('node:net').Socket) => {
      connects.push(String(req.url));
      socket.destroy();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    const before = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    let handle: ReturnType<typeof createTwilioClient> | undefined;
    try {
      handle = createTwilioClient(
        { accountSid: ACCOUNT_SID, authMode: 'apiKey', apiKeySid: KEY_SID, apiKeySecret: KEY_SECRET },
        { baseUrl: 'https://twilio.example.test:8443', timeoutMs: 500 },
      );
      await assert.rejects(handle.client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'x' }), {
        code: 'ECONNABORTED',
      });
      assert.deepEqual(connects, ['twilio.example.test:8443']);
    } finally {
      if (before === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = before;
      handle?.requestClient.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('leaves what it does not do to the SDK: a request that follows redirects', async () => {
    script.push((_req, res) => res.writeHead(302, { Location: '/2010-04-01/Accounts/moved.json' }).end(), json(200, { moved: true }));
    const { client, requestClient } = ours();
    try {
      const response = await client.request({
        method: 'get',
        uri: 'https://api.twilio.com/2010-04-01/Accounts.json',
        allowRedirects: true,
      } as never);
      assert.deepEqual([response.statusCode, response.body], [200, { moved: true }]);
      assert.deepEqual(
        seen.map((s) => s.url),
        ['/2010-04-01/Accounts.json', '/2010-04-01/Accounts/moved.json'],
      );
    } finally {
      requestClient.destroy();
    }
  });

  it('cuts off an answer that never ends, or that comes a byte at a time, instead of filling memory or waiting for ever', async () => {
    // A body streamed without end: refused once past MAX_ANSWER_BYTES, and the heap does not follow it.
    script.push((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(1 << 20, 'x');
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const { client, requestClient } = ours(5_000);
    const before = process.memoryUsage().rss;
    await assert.rejects(client.messages(MESSAGE.sid).fetch(), (err: unknown) => /larger than/.test(toTwilioNodeError(err).message));
    assert.ok(process.memoryUsage().rss - before < 400 * 2 ** 20, 'memory stays near the cap');
    // Headers, then a byte every 200 ms: each byte is activity, but the whole answer has twice the timeout.
    script.push((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(' ')), 200);
      res.once('close', () => clearInterval(drip));
    });
    const slow = ours(500);
    const started = Date.now();
    await assert.rejects(slow.client.messages(MESSAGE.sid).fetch(), (err: unknown) => toTwilioNodeError(err).code === 'REQUEST_TIMEOUT');
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 3_000, `gave up after ${took} ms`);
    requestClient.destroy();
    slow.requestClient.destroy();
  });

  it("keeps a server's long error text short, and never the Authorization it echoes", () => {
    const long = toTwilioNodeError(Object.assign(new Error('x'.repeat(1 << 20)), { status: 500 }));
    assert.ok(long.message.length < 600, `${long.message.length} characters`);
    assert.match(long.message, /1048576 characters/);
  });
});
