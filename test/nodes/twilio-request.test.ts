/** twilio-request against the simulator, and against a local echo server for bodies, retries and timeouts. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ACCOUNT, API_KEY, accountNode, allNodes, helper, runNode, sendTo, useRuntime } from '../support/harness';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

describe('twilio-request', () => {
  const { simulator } = useRuntime();
  let echo: http.Server;
  let echoUrl: string;
  const seen: Seen[] = [];
  /** The next answers the echo server gives, in order; then 200 with what it saw. */
  const script: Array<{ status: number; headers?: Record<string, string>; body?: string; hang?: boolean }> = [];

  before(async () => {
    echo = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const next = script.shift();
        if (next?.hang) return; // never answers
        if (next) return res.writeHead(next.status, { 'Content-Type': 'application/json', ...next.headers }).end(next.body ?? '{}');
        if (req.url!.startsWith('/bytes'))
          return res.writeHead(200, { 'Content-Type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255]));
        res
          .writeHead(200, { 'Content-Type': 'application/json', 'X-Echo': 'yes' })
          .end(JSON.stringify({ method: req.method, url: req.url, contentType: req.headers['content-type'], body: body.toString('utf8') }));
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    seen.length = 0;
    script.length = 0;
  });
  after(async () => {
    echo.closeAllConnections();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  const request = async (config: Record<string, unknown>, msg: Record<string, unknown> = {}, url = echoUrl) => {
    const result = await runNode(
      url,
      'twilio-request',
      {
        domain: 'api',
        method: 'GET',
        responseType: 'json',
        timeout: 5,
        retries: 0,
        retryDelay: 1,
        backoff: 2,
        retryOn: 'server',
        pathType: 'str',
        ...config,
      },
      msg,
    );
    await helper.unload();
    return result;
  };

  it("calls the 2010 API on the simulator with the account's auth, filling in {AccountSid}", async () => {
    const created = await request(
      {
        method: 'POST',
        path: '/2010-04-01/Accounts/{AccountSid}/Messages.json',
        form: '{"To":"+15558675310","From":"+15017122661","Body":"raw","MediaUrl":["https://x.test/1.png","https://x.test/2.png"]}',
        formType: 'json',
      },
      {},
      simulator.url,
    );
    assert.equal(created.error, undefined);
    assert.equal(created.output.statusCode, 201);
    assert.match(created.output.payload.sid, /^MM/);
    assert.deepEqual(simulator.requests[0].params.MediaUrl, ['https://x.test/1.png', 'https://x.test/2.png'], 'arrays repeat the key');
    assert.equal(simulator.requests[0].username, API_KEY.sid);
    const listed = await request(
      { path: '/2010-04-01/Accounts/{AccountSid}/Messages.json', query: 'q', queryType: 'msg' },
      { q: { PageSize: 1 } },
      simulator.url,
    );
    assert.equal(listed.output.payload.messages.length, 1);
    assert.equal(listed.output.payload.page_size, 1);
  });

  it("maps Twilio's error answers to the usual codes, keeping the status", async () => {
    const { error, output } = await request(
      { path: '/2010-04-01/Accounts/{AccountSid}/Messages/SM00000000000000000000000000000000.json' },
      {},
      simulator.url,
    );
    assert.equal(output, undefined);
    assert.equal(error?.code, 'NOT_FOUND');
    assert.equal(error?.cause?.twilioCode, 20404);
  });

  it('sends JSON bodies, headers and multipart files with their names', async () => {
    const json = await request({
      method: 'POST',
      domain: 'verify',
      path: '/v2/Services',
      json: '{"FriendlyName":"My app","Nested":{"a":[1,2]}}',
      jsonType: 'json',
      headers: '{"X-Custom":"1"}',
      headersType: 'json',
    });
    assert.equal(json.error, undefined);
    assert.equal(json.output.payload.contentType, 'application/json');
    assert.deepEqual(JSON.parse(json.output.payload.body), { FriendlyName: 'My app', Nested: { a: [1, 2] } });
    assert.equal(seen[0].headers['x-custom'], '1');
    assert.equal(seen[0].headers.authorization, `Basic ${Buffer.from(`${API_KEY.sid}:${API_KEY.secret}`).toString('base64')}`);
    assert.equal(json.output.headers['x-echo'], 'yes');
    seen.length = 0;

    const multipart = await request(
      {
        method: 'POST',
        path: '/v1/Services/ZS00000000000000000000000000000000/Assets',
        domain: 'serverless',
        form: '{"Path":"/a.txt"}',
        formType: 'json',
        files: 'upload',
        filesType: 'msg',
      },
      { upload: [{ field: 'Content', filename: 'hello "world".txt', contentType: 'text/plain', data: Buffer.from('héllo') }] },
    );
    assert.equal(multipart.error, undefined);
    assert.match(multipart.output.payload.contentType, /^multipart\/form-data; boundary=/);
    const body = seen[0].body.toString('utf8');
    assert.match(body, /name="Path"\r\n\r\n\/a.txt/);
    assert.match(body, /name="Content"; filename="hello %22world%22.txt"/, 'the file name, its quotes escaped');
    assert.match(body, /Content-Type: text\/plain\r\n\r\nhéllo/);
  });

  it('answers as text or bytes when asked', async () => {
    const text = await request({ path: '/anything', responseType: 'text' });
    assert.ok(
      text.statuses.some((st: any) => st.text === 'twilio-request.status.doneFirstTry'),
      'status: 200 (1 try), not "1 tries"',
    );
    assert.equal(typeof text.output.payload, 'string');
    const bytes = await request({ path: '/bytes', responseType: 'binary' });
    assert.ok(Buffer.isBuffer(bytes.output.payload));
    assert.deepEqual([...bytes.output.payload], [0x89, 0x50, 0x4e, 0x47, 0, 255]);
  });

  it('retries 5xx with exponential backoff and honours Retry-After', async () => {
    script.push({ status: 503 }, { status: 500 });
    const started = Date.now();
    const ok = await request({ path: '/2010-04-01/Accounts/{AccountSid}.json', retries: 3, retryDelay: 40, backoff: 2 });
    const took = Date.now() - started;
    assert.equal(ok.error, undefined);
    assert.equal(ok.output.twilio.attempts, 3);
    assert.ok(
      ok.statuses.some((st: any) => st.text === 'twilio-request.status.done'),
      'status: 200 (3 tries)',
    );
    assert.ok(took >= 40 + 80, `waited ${took} ms`);
    script.push({ status: 429, headers: { 'Retry-After': '0.3' }, body: '{"code":20429,"message":"Too Many Requests"}' });
    const started2 = Date.now();
    const limited = await request({ path: '/x', retries: 1, retryDelay: 1 });
    assert.equal(limited.error, undefined);
    assert.ok(Date.now() - started2 >= 280, 'waited for Retry-After');
  });

  it('gives up after the last retry with the coded error, and retries 4xx only when told to', async () => {
    script.push({ status: 503 }, { status: 503 }, { status: 503 });
    const failed = await request({ path: '/x', retries: 2, retryDelay: 1 });
    assert.equal(failed.error?.code, 'SERVICE_UNAVAILABLE');
    assert.equal(seen.length, 3);
    seen.length = 0;
    script.push({ status: 400, body: '{"code":21211,"message":"bad To"}' });
    const notRetried = await request({ path: '/x', retries: 2, retryDelay: 1, retryOn: 'server' });
    assert.equal(notRetried.error?.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(seen.length, 1);
    seen.length = 0;
    script.push({ status: 400, body: '{"code":21211,"message":"bad To"}' });
    const retried = await request({ path: '/x', retries: 2, retryDelay: 1, retryOn: 'all' });
    assert.equal(retried.error, undefined);
    assert.equal(seen.length, 2);
  });

  it("retries through the account's queue (one retry engine): its counts, its withdrawal on close", async () => {
    script.push({ status: 503 }, { status: 503 });
    const account = accountNode(echoUrl);
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'req',
          type: 'twilio-request',
          z: 'tab',
          account: 'account',
          domain: 'api',
          method: 'GET',
          path: '/x',
          pathType: 'str',
          responseType: 'json',
          timeout: 5,
          retries: 3,
          retryDelay: 1,
          backoff: 1,
          retryOn: 'server',
          wires: [['out']],
        },
        {
          id: 'slow',
          type: 'twilio-request',
          z: 'tab',
          account: 'account',
          domain: 'api',
          method: 'GET',
          path: '/x',
          pathType: 'str',
          responseType: 'json',
          timeout: 5,
          retries: 3,
          retryDelay: 5000,
          backoff: 1,
          retryOn: 'server',
          wires: [['out']],
        },
        { id: 'out', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const queue = (helper.getNode('account') as unknown as { queue: { stats: { retried: number } } }).queue;
    const done = await sendTo(helper.getNode('req'), helper.getNode('out'), {});
    assert.equal(done.error, undefined);
    assert.equal(queue.stats.retried, 2, 'the queue counted the two retries');
    // A retry waiting when the account stops is not sent: NOT_SENT, as every other request's.
    script.push({ status: 503 });
    const pending = sendTo(helper.getNode('slow'), helper.getNode('out'), {});
    await new Promise((r) => setTimeout(r, 100));
    await helper.unload();
    assert.equal((await pending).error?.code, 'NOT_SENT');
  });

  it("takes back its own retry waiting in the account's queue when it is removed: NOT_SENT, never sent", async () => {
    script.push({ status: 503 });
    const account = accountNode(echoUrl);
    const node = (id: string) => ({
      id,
      type: 'twilio-request',
      z: 'tab',
      account: 'account',
      domain: 'api',
      method: 'GET',
      path: '/x',
      pathType: 'str',
      responseType: 'json',
      timeout: 5,
      retries: 3,
      retryDelay: 5000,
      backoff: 1,
      retryOn: 'server',
      wires: [['out']],
    });
    const flow = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      node('slow'),
      node('other'),
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    await helper.load(allNodes, flow, { account: account.credentials });
    const pending = sendTo(helper.getNode('slow'), helper.getNode('out'), {});
    await new Promise((r) => setTimeout(r, 100)); // its first try answered 503: the retry waits in the queue
    // Only this node goes (the account and the other node stay): its request is withdrawn by owner.
    await helper.setFlows(
      flow.filter((n) => n.id !== 'slow'),
      'nodes',
      { account: account.credentials } as never,
    );
    assert.equal((await pending).error?.code, 'NOT_SENT');
    assert.equal(seen.length, 1, 'the retry never left');
  });

  it("sends https requests through HTTP_PROXY with the account's agents, as the SDK's own requests", async () => {
    const connects: string[] = [];
    const proxy = http.createServer();
    proxy.on('connect', (req: http.IncomingMessage, socket: import('node:net').Socket) => {
      connects.push(String(req.url));
      socket.destroy();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    const before = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const proxied = await request(
        { path: '/2010-04-01/Accounts/{AccountSid}.json', timeout: 0.5 },
        {},
        'https://twilio.example.test:8443',
      );
      assert.equal(proxied.error?.code, 'REQUEST_TIMEOUT');
      assert.deepEqual(connects, ['twilio.example.test:8443'], 'the request asked the proxy for the tunnel');
    } finally {
      if (before === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = before;
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('times out, and does not repeat a POST that may have reached Twilio', async () => {
    script.push({ status: 0, hang: true }, { status: 0, hang: true });
    const post = await request({ method: 'POST', path: '/x', form: '{"a":1}', formType: 'json', timeout: 0.3, retries: 3, retryDelay: 1 });
    assert.equal(post.error?.code, 'REQUEST_TIMEOUT');
    assert.match(post.error!.message, /may have reached Twilio/);
    assert.equal(seen.length, 1);
    seen.length = 0;
    const get = await request({ path: '/x', timeout: 0.3, retries: 1, retryDelay: 1 });
    assert.equal(get.error, undefined, 'the GET was repeated and the second try answered');
    assert.equal(seen.length, 2);
  });

  it('refuses full URLs, unknown domains, its own Authorization header and bad bodies, before any request', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ path: 'https://evil.example.com/steal' }, 'INVALID_INPUT'],
      [{ path: '//evil.example.com/steal' }, 'INVALID_INPUT'],
      [{ path: '/x', domain: 'evil' }, 'INVALID_INPUT'],
      [{ path: '/x', headers: '{"authorization":"Basic abc"}', headersType: 'json' }, 'INVALID_INPUT'],
      [{ path: '/x', method: 'POST', form: '[1,2]', formType: 'json' }, 'INVALID_INPUT'],
      [{ path: '/x', method: 'BREW' }, 'INVALID_INPUT'],
      [{ path: '', pathType: 'str' }, 'MISSING_INPUT'],
      [{ path: '/x', method: 'POST', files: 'f', filesType: 'msg' }, 'INVALID_INPUT'],
    ];
    for (const [config, code] of cases) {
      const { error } = await request(config, { f: [{ name: 'no data' }] });
      assert.equal(error?.code, code, JSON.stringify(config));
    }
    assert.equal(seen.length, 0);
  });

  it('reaches the unreachable as TWILIO_CONNECTION_ERROR, without the secret anywhere', async () => {
    const { error, output } = await request({ path: '/x' }, {}, 'http://127.0.0.1:1');
    assert.equal(output, undefined);
    assert.equal(error?.code, 'TWILIO_CONNECTION_ERROR');
    assert.ok(!JSON.stringify(error).includes(API_KEY.secret) && !JSON.stringify(error).includes(ACCOUNT.authToken));
  });
});
