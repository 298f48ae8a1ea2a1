/**
 * twilio-send with MMS media from bytes (#24 part 1): a Buffer (or a file under settings.js
 * `twilio.mediaDir`) is kept in the account's state engine and served at an unguessable URL under the
 * public URL, where the simulator fetches it as Twilio does; it goes once fetched and final, or after
 * 15 minutes; everything that would not reach Twilio is refused with a code before anything is sent.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { until } from '../support/assertions';
import { FlowNode, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';
import { ManualClock, installClock } from '../../lib/core/clock';

/** A 1×1 PNG, as a camera node or a function node would hand it on. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]);
const TO = '+15555550100';
const MEDIA_URL = /\/twilio\/media\/([A-Za-z0-9_-]{43})$/;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-media-'));
const allowed = path.join(dir, 'snapshots');
fs.mkdirSync(allowed);
fs.writeFileSync(path.join(allowed, 'door.png'), PNG);
fs.writeFileSync(path.join(dir, 'secret.png'), PNG);
fs.symlinkSync(path.join(dir, 'secret.png'), path.join(allowed, 'link.png'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('twilio-send: MMS media from a Buffer or a file', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  interface Sent {
    output?: any;
    error?: any;
    statuses: any[];
  }

  function flow(send: Record<string, unknown> = {}, account: Record<string, unknown> = {}, extra: FlowNode[] = []): FlowNode[] {
    return [
      { id: 'tab', type: 'tab', label: 't' },
      accountNode(simulator.url, 'authToken', { publicBaseUrl: httpNode.base(), ...account }).node,
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: TO,
        toType: 'str',
        body: 'Someone is at the door',
        bodyType: 'str',
        mediaUrl: 'payload',
        mediaUrlType: 'msg',
        wires: [['out']],
        ...send,
      },
      { id: 'out', type: 'helper', z: 'tab' },
      ...extra,
    ];
  }
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });

  async function load(nodes: FlowNode[]): Promise<void> {
    await helper.load(allNodes, nodes, credentials());
  }

  /** Sends one msg and resolves once the node is done with it. */
  function send(msg: Record<string, unknown>): Promise<Sent> {
    const node = helper.getNode('send');
    const out = helper.getNode('out');
    const result: Sent = { statuses: [] };
    node.on('call:status', (call: any) => result.statuses.push(call.args[0]));
    return new Promise((resolve) => {
      out.once('input', (m: any) => (result.output = m));
      node.on('call:error', (call: any) => (result.error = call.args[1]?.error ?? call.args[0]));
      node.receive({ ...msg, _done: undefined });
      const started = Date.now();
      const check = () => {
        if (result.output || result.error || Date.now() - started > 10_000) return resolve(result);
        setTimeout(check, 10);
      };
      check();
    });
  }

  /** Sends and waits for the node's done(err) code (Catch's view). */
  async function refused(msg: Record<string, unknown>): Promise<{ code: string; message: string; statuses: any[] }> {
    const node = helper.getNode('send');
    const statuses: any[] = [];
    node.on('call:status', (call: any) => statuses.push(call.args[0]));
    const caught = new Promise<any>((resolve) => helper.getNode('caught').once('input', resolve));
    node.receive(msg);
    const m = await caught;
    return { ...m.error, statuses };
  }

  const withCatch: FlowNode[] = [
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];

  /** Resolves once `url` answers 404 (the media was forgotten), within 5 s. */
  async function gone(url: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if ((await fetch(url)).status === 404) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.fail(`${url} is still served`);
  }

  const lastMediaUrls = (): string[] => {
    const params = simulator.requests.filter((r) => r.method === 'POST' && /Messages\.json$/.test(r.path)).at(-1)?.params;
    const urls = params?.MediaUrl;
    return urls === undefined ? [] : Array.isArray(urls) ? urls : [urls];
  };

  it('sends a Buffer by MMS: the simulator fetches it (HEAD and GET) byte-identical, as image/png; the token is in no log line', async () => {
    await load(flow());
    const { output, error } = await send({ payload: PNG });
    assert.equal(error, undefined);
    const sid = output.payload.sid as string;
    assert.match(sid, /^MM/);
    const [url] = lastMediaUrls();
    assert.ok(url.startsWith(`${httpNode.base()}/twilio/media/`), url);
    const token = MEDIA_URL.exec(url)![1];
    await until(() => simulator.media.of(sid).some((f) => f.status === 200), 'the simulator fetched the photo', 10_000);
    const fetched = simulator.media.of(sid)[0];
    assert.equal(fetched.head, 200);
    assert.equal(fetched.contentType, 'image/png');
    assert.equal(fetched.size, PNG.length);
    assert.ok(fetched.bytes!.equals(PNG), 'byte-identical');
    const record = [...simulator.collection('media').values()].find((r) => r.parent_sid === sid);
    assert.equal(record?.content_type, 'image/png');
    const logged = JSON.stringify((helper as any).log().args);
    assert.ok(!logged.includes(token), 'the token is in no log line');
  });

  it('serves GET and HEAD with no-store, refuses other methods, and gives one 404 for a wrong token', async () => {
    simulator.media.delayMs = 60_000; // Twilio has not fetched it yet
    try {
      await load(flow());
      const { output } = await send({ payload: [JPEG, 'https://demo.twilio.com/owl.png'] });
      assert.match(output.payload.sid, /^MM/);
      const urls = lastMediaUrls();
      assert.equal(urls.length, 2);
      assert.equal(urls[1], 'https://demo.twilio.com/owl.png', 'a URL is sent as it is, in its place');
      const head = await fetch(urls[0], { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-type'), 'image/jpeg');
      assert.equal(head.headers.get('content-length'), String(JPEG.length));
      assert.equal(head.headers.get('cache-control'), 'no-store');
      const got = await fetch(urls[0]);
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(JPEG));
      assert.equal((await fetch(urls[0])).status, 200, 'fetched, but its message is not final yet: still served');
      const post = await fetch(urls[0], { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      const token = MEDIA_URL.exec(urls[0])![1];
      const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
      const answers = await Promise.all(
        [wrong, 'x', '..%2f..%2fetc%2fpasswd', 'A'.repeat(43)].map(async (t) => {
          const res = await fetch(`${httpNode.base()}/twilio/media/${t}`);
          return [res.status, res.headers.get('cache-control'), res.headers.get('content-type'), await res.text()].join('|');
        }),
      );
      assert.deepEqual(new Set(answers), new Set(['404|no-store|text/plain|Not Found']));
    } finally {
      simulator.media.delayMs = 0;
    }
  });

  it('forgets the media once Twilio fetched it and the message reached a final status (receipts through a twilio-in)', async () => {
    const receipts: FlowNode = {
      id: 'receipts',
      type: 'twilio-in',
      z: 'tab',
      account: 'account',
      path: '/twilio/receipts',
      publicBaseUrl: httpNode.base(),
      validate: true,
      wires: [[]],
    };
    await load(flow({ statusCallbackNode: 'receipts' }, { publicBaseUrl: '' }, [receipts]));
    const { output } = await send({ payload: PNG });
    const sid = output.payload.sid as string;
    const [url] = lastMediaUrls();
    assert.ok(url.startsWith(`${httpNode.base()}/twilio/media/`), 'served under the twilio-in public URL');
    await until(() => simulator.messages.get(sid)?.status === 'delivered', 'the message was delivered', 10_000);
    await until(() => simulator.deliveries.some((d) => d.params.MessageStatus === 'delivered'), 'the receipt arrived', 10_000);
    assert.ok(simulator.media.of(sid)[0].bytes!.equals(PNG));
    await gone(url);
  });

  it('forgets the media after 15 minutes, fetched or not', async () => {
    simulator.media.delayMs = 60_000;
    const clock = new ManualClock();
    const restore = installClock(clock);
    try {
      await load(flow());
      await send({ payload: PNG });
      const [url] = lastMediaUrls();
      assert.equal((await fetch(url, { method: 'HEAD' })).status, 200);
      await clock.advance(14 * 60_000);
      assert.equal((await fetch(url, { method: 'HEAD' })).status, 200, 'still there at 14 minutes');
      await clock.advance(60_000 + 1);
      assert.equal((await fetch(url)).status, 404, 'gone at 15 minutes');
    } finally {
      restore();
      simulator.media.delayMs = 0;
    }
  });

  it('still serves the photo after a restart before Twilio fetched it', async () => {
    simulator.media.delayMs = 60_000;
    try {
      await load(flow());
      await send({ payload: PNG });
      const [url] = lastMediaUrls();
      await helper.unload();
      await load(flow({ id: 'send' }));
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(PNG));
    } finally {
      simulator.media.delayMs = 0;
    }
  });

  it('without a public URL says so in its status and error, naming what to set, and sends nothing', async () => {
    await load(flow({}, { publicBaseUrl: '' }, withCatch));
    const error = await refused({ payload: PNG });
    assert.equal(error.code, 'MEDIA_NEEDS_PUBLIC_URL');
    assert.match(error.message, /Public URL/);
    // Said in the status too (the code and its reason, once translated: "no public URL (MEDIA_NEEDS_PUBLIC_URL)").
    assert.ok(
      error.statuses.some((s) => s.fill === 'red' && /failed/.test(String(s.text))),
      JSON.stringify(error.statuses),
    );
    assert.equal(simulator.requests.length, 0);
  });

  it('refuses too large media, a huge Buffer without copying it, and a type Twilio would not take, before sending', async () => {
    await load(flow({}, {}, withCatch));
    const large = Buffer.concat([PNG, Buffer.alloc(5_000_001 - PNG.length)]);
    assert.equal((await refused({ payload: large })).code, 'MEDIA_TOO_LARGE');
    assert.equal((await refused({ payload: [PNG, large] })).code, 'MEDIA_TOO_LARGE');
    const huge = Buffer.alloc(100 * 1024 * 1024);
    PNG.copy(huge);
    const before = process.memoryUsage();
    assert.equal((await refused({ payload: huge })).code, 'MEDIA_TOO_LARGE');
    const grown = process.memoryUsage();
    assert.ok(grown.arrayBuffers - before.arrayBuffers < 20 * 1024 * 1024, 'the Buffer was not copied');
    assert.ok(grown.heapUsed - before.heapUsed < 50 * 1024 * 1024, 'nor turned into text');
    assert.equal((await refused({ payload: Buffer.from('<html>not a photo</html>') })).code, 'MEDIA_TYPE_UNSUPPORTED');
    assert.equal((await refused({ payload: { not: 'media' } })).code, 'INVALID_INPUT');
    assert.equal(simulator.requests.length, 0);
  });

  it('reads a file under twilio.mediaDir and nothing else on disk', async () => {
    helper.settings({ twilio: { mediaDir: allowed } });
    try {
      await load(flow({}, {}, withCatch));
      for (const outside of [
        '../secret.png',
        'sub/../../secret.png',
        '%2e%2e/secret.png',
        '..%2fsecret.png',
        'link.png',
        path.join(dir, 'secret.png'),
        '/etc/hostname',
        'door.png\0.txt',
        'missing.png',
        allowed,
      ]) {
        const error = await refused({ payload: outside });
        assert.equal(error.code, 'MEDIA_PATH_REFUSED', `${JSON.stringify(outside)}: ${error.code} ${error.message}`);
        assert.ok(!error.message.includes(dir), 'the error names no path');
      }
      assert.equal(simulator.requests.length, 0);
      const { output } = await send({ payload: 'door.png' });
      const [url] = lastMediaUrls();
      assert.match(url, MEDIA_URL);
      await until(() => simulator.media.of(output.payload.sid).some((f) => f.status === 200), 'fetched', 10_000);
      assert.ok(simulator.media.of(output.payload.sid)[0].bytes!.equals(PNG));
      const absolute = await send({ payload: path.join(allowed, 'door.png') });
      assert.match(absolute.output.payload.sid, /^MM/);
    } finally {
      helper.settings({});
    }
  });

  it('refuses a path when settings.js allows no folder', async () => {
    await load(flow({}, {}, withCatch));
    const error = await refused({ payload: 'door.png' });
    assert.equal(error.code, 'MEDIA_PATH_REFUSED');
    assert.match(error.message, /mediaDir/);
  });

  it("masks the token in Twilio's error when it quotes the MediaUrl, and forgets the media nothing was created for", async () => {
    // A Twilio that refuses the media URL and quotes it back, as its 21620 does.
    let quoted = '';
    const echo = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        quoted = new URLSearchParams(body).get('MediaUrl') ?? '';
        const answer = JSON.stringify({ code: 21620, message: `Invalid media URL(s): ${quoted}`, status: 400 });
        res.writeHead(400, { 'Content-Type': 'application/json' }).end(answer);
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(echo.address() as import('node:net').AddressInfo).port}`;
      await load(flow({}, { baseUrl: url }, withCatch));
      const error = await refused({ payload: PNG });
      assert.equal(error.code, 'INVALID_REQUEST_ERROR');
      const token = MEDIA_URL.exec(quoted)![1];
      assert.ok(!error.message.includes(token), error.message);
      assert.match(error.message, /\/twilio\/media\/…/);
      assert.ok(!JSON.stringify((helper as any).log().args).includes(token), 'the token is in no log line');
      await gone(quoted); // nothing was created: nothing will fetch it
    } finally {
      await new Promise<void>((resolve) => echo.close(() => resolve()));
    }
  });

  it('makes the message fail as Twilio does when the media cannot be fetched: 11200, 12300, a redirect not followed', async () => {
    // Someone else's media server on this machine: a page, a redirect, a photo that is missing.
    const other = http.createServer((req, res) => {
      if (req.url === '/page') return res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html></html>');
      if (req.url === '/moved') return res.writeHead(302, { Location: '/photo.png' }).end();
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', () => resolve()));
    const at = `http://127.0.0.1:${(other.address() as import('node:net').AddressInfo).port}`;
    try {
      for (const [url, code] of [
        [`${httpNode.base()}/twilio/media/${'B'.repeat(43)}`, 11200],
        [`${at}/missing.png`, 11200],
        [`${at}/moved`, 11200],
        [`${at}/page`, 12300],
      ] as const) {
        await load(flow({ mediaUrl: url, mediaUrlType: 'str' }));
        const { output } = await send({ payload: 'x' });
        const sid = output.payload.sid as string;
        await until(() => simulator.messages.get(sid)?.status === 'failed', `the message with ${url} failed`, 10_000);
        assert.equal(simulator.messages.get(sid)?.error_code, code, url);
        await helper.unload();
      }
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});
