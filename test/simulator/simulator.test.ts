/** The simulator itself, driven by the unmodified twilio SDK through the base-URL request client. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import twilio from 'twilio';
import { createTwilioClient } from '../../lib/transport/sdk-client';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';

const KEY = DEMO_ACCOUNT.apiKeys![0];
const TO = '+15558675310';
const FROM = '+15017122661';

describe('simulator', () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let client: ReturnType<typeof createTwilioClient>;
  before(async () => {
    await simulator.start();
    client = createTwilioClient(
      { accountSid: DEMO_ACCOUNT.sid, authMode: 'apiKey', apiKeySid: KEY.sid, apiKeySecret: KEY.secret },
      { baseUrl: simulator.url },
    );
  });
  beforeEach(() => {
    simulator.reset();
    simulator.latencyMs = 0;
    simulator.maxConcurrent = 0;
    simulator.faultRates = {};
  });
  after(async () => {
    client.requestClient.destroy();
    await simulator.stop();
  });

  it('listens on 127.0.0.1 only', () => {
    assert.match(simulator.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates, fetches and lists messages in Twilio JSON shapes', async () => {
    const created = await client.client.messages.create({ to: TO, from: FROM, body: 'hello' });
    assert.match(created.sid, /^SM[0-9a-f]{32}$/);
    assert.ok(created.dateCreated instanceof Date && !Number.isNaN(created.dateCreated.getTime()), 'RFC 2822 dates parse');
    const fetched = await client.client.messages(created.sid).fetch();
    assert.equal(fetched.body, 'hello');
    const raw = simulator.messages.get(created.sid)!;
    for (const key of ['account_sid', 'api_version', 'date_created', 'num_segments', 'subresource_uris', 'uri']) assert.ok(key in raw, key);
    assert.equal(raw.num_segments, '1');
  });

  it('moves a message to delivered and a call to completed with or without a status callback', async () => {
    const message = await client.client.messages.create({ to: TO, from: FROM, body: 'where are you' });
    const call = await client.client.calls.create({ to: TO, from: FROM, twiml: '<Response><Say>hi</Say></Response>' });
    assert.equal(message.status, 'queued');
    await simulator.settled();
    assert.equal((await client.client.messages(message.sid).fetch()).status, 'delivered', 'a later Get sees where it got to');
    assert.equal((await client.client.calls(call.sid).fetch()).status, 'completed');
    assert.equal(simulator.deliveries.length, 0, 'no callback was asked for, none was sent');
  });

  it("signs each status callback as Twilio does: a message's POSTed as a form, a call's by GET with its parameters in the query", async () => {
    const heard: { method?: string; url: string; body: string; signature: string }[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        heard.push({ method: req.method, url: req.url ?? '', body, signature: String(req.headers['x-twilio-signature']) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    try {
      await client.client.messages.create({ to: TO, from: FROM, body: 'hi', statusCallback: `${base}/message?x=1` });
      const twiml = '<Response><Say>hi</Say></Response>';
      const events = ['initiated', 'ringing', 'answered', 'completed'];
      await client.client.calls.create({
        to: TO,
        from: FROM,
        twiml,
        statusCallback: `${base}/call`,
        statusCallbackMethod: 'GET',
        statusCallbackEvent: events,
      });
      await simulator.settled();
      for (const [path, method, field] of [
        ['/message', 'POST', 'MessageStatus'],
        ['/call', 'GET', 'CallStatus'],
      ]) {
        const mine = heard.filter((h) => h.url.startsWith(path));
        assert.ok(mine.length >= 2, `${path}: a callback for each step (${mine.length})`);
        for (const h of mine) {
          assert.equal(h.method, method);
          const url = new URL(h.url, base);
          const params = method === 'POST' ? Object.fromEntries(new URLSearchParams(h.body)) : {};
          if (method === 'GET') assert.equal(h.body, '', 'a GET carries no body');
          assert.ok(method === 'POST' ? params[field] : url.searchParams.get(field), `${path}: ${field} is there`);
          assert.ok(twilio.validateRequest(DEMO_ACCOUNT.authToken, h.signature, url.href, params), `${path}: the signature holds`);
        }
      }
      assert.ok(
        simulator.deliveries.every((d) => d.error === undefined && d.status === 200),
        'every delivery was answered',
      );
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('pages lists as Twilio does (next_page_uri), followed by the SDK', async () => {
    for (let i = 0; i < 7; i++) await client.client.messages.create({ to: TO, from: FROM, body: `m${i}` });
    const all = await client.client.messages.list({ pageSize: 3 });
    assert.equal(all.length, 7);
    assert.equal(all[0].body, 'm6', 'newest first');
    const pages = simulator.requests.filter((r) => r.method === 'GET').length;
    assert.equal(pages, 3);
    const filtered = await client.client.messages.list({ to: TO, limit: 2 });
    assert.equal(filtered.length, 2);
  });

  it('accepts the Auth Token and API Keys, refuses anything else with 20003', async () => {
    const token = createTwilioClient(
      { accountSid: DEMO_ACCOUNT.sid, authMode: 'authToken', authToken: DEMO_ACCOUNT.authToken },
      { baseUrl: simulator.url },
    );
    assert.equal((await token.client.api.v2010.accounts(DEMO_ACCOUNT.sid).fetch()).status, 'active');
    token.requestClient.destroy();
    const wrong = createTwilioClient(
      { accountSid: DEMO_ACCOUNT.sid, authMode: 'authToken', authToken: 'wrong' },
      { baseUrl: simulator.url },
    );
    await assert.rejects(wrong.client.messages.create({ to: TO, from: FROM, body: 'x' }), { status: 401, code: 20003 });
    wrong.requestClient.destroy();
    const otherAccount = createTwilioClient(
      { accountSid: 'AC' + 'e'.repeat(32), authMode: 'apiKey', apiKeySid: KEY.sid, apiKeySecret: KEY.secret },
      { baseUrl: simulator.url },
    );
    await assert.rejects(otherAccount.client.messages.create({ to: TO, from: FROM, body: 'x' }), { status: 401, code: 20003 });
    otherAccount.requestClient.destroy();
    const record = simulator.requests.find((r) => r.username);
    assert.ok(record && !JSON.stringify(simulator.requests).includes(KEY.secret), 'it never records a password');
  });

  it("answers Twilio's validation errors and test numbers", async () => {
    await assert.rejects(client.client.messages.create({ to: 'abc', from: FROM, body: 'x' }), { status: 400, code: 21211 });
    await assert.rejects(client.client.messages.create({ to: TO, from: FROM }), { status: 400, code: 21619 });
    await assert.rejects(client.client.messages.create({ to: TO, from: FROM, body: 'x'.repeat(1601) }), { status: 400, code: 21617 });
    await assert.rejects(client.client.messages.create({ to: '+15005550002', from: FROM, body: 'x' }), { code: 21612 });
    await assert.rejects(client.client.messages.create({ to: TO, from: '+15005550007', body: 'x' }), { code: 21606 });
    await assert.rejects(client.client.calls.create({ to: TO, from: FROM }), { status: 400, code: 21205 });
    await assert.rejects(client.client.calls.create({ to: TO, from: FROM, url: 'https://x.test/a', twiml: '<Response/>' }), {
      code: 21205,
    });
    await assert.rejects(client.client.messages('SM' + '0'.repeat(32)).fetch(), { status: 404, code: 20404 });
    assert.equal(simulator.messages.size, 0);
  });

  it('counts segments as Twilio does (GSM-7 153 a part, UCS-2 67)', async () => {
    const gsm = await client.client.messages.create({ to: TO, from: FROM, body: 'a'.repeat(161) });
    const ucs = await client.client.messages.create({ to: TO, from: FROM, body: '😀'.repeat(71) });
    assert.equal(gsm.numSegments, '2');
    assert.equal(ucs.numSegments, '2');
  });

  it('injects faults in order: 429 with Retry-After, 5xx, a reset', async () => {
    simulator.failNext(
      { type: 'http', status: 429, code: 20429, message: 'Too Many Requests', retryAfter: 2 },
      { type: 'http', status: 503, code: 20503 },
      { type: 'reset' },
    );
    const response = await fetch(`${simulator.url}/2010-04-01/Accounts/${DEMO_ACCOUNT.sid}/Messages.json`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${KEY.sid}:${KEY.secret}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ To: TO, From: FROM, Body: 'x' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '2');
    assert.deepEqual(await response.json(), {
      code: 20429,
      message: 'Too Many Requests',
      more_info: 'https://www.twilio.com/docs/errors/20429',
      status: 429,
    });
    await assert.rejects(client.client.messages.create({ to: TO, from: FROM, body: 'x' }), { status: 503, code: 20503 });
    await assert.rejects(
      client.client.messages.create({ to: TO, from: FROM, body: 'x' }),
      (err: NodeJS.ErrnoException) => ['ECONNRESET', 'ERR_NETWORK'].includes(String(err.code)) || /socket hang up/.test(err.message),
    );
    await client.client.messages.create({ to: TO, from: FROM, body: 'after the faults' });
    assert.equal(simulator.messages.size, 1);
    assert.equal(simulator.stats.faults, 3);
  });

  it('draws faults at set rates from a seeded generator, the same each run', async () => {
    const run = async () => {
      const local = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], faultRates: { serverError: 0.3 }, seed: 42 });
      await local.start();
      const c = createTwilioClient(
        { accountSid: DEMO_ACCOUNT.sid, authMode: 'apiKey', apiKeySid: KEY.sid, apiKeySecret: KEY.secret },
        { baseUrl: local.url },
      );
      const outcomes: string[] = [];
      for (let i = 0; i < 20; i++)
        outcomes.push(
          await c.client.messages.create({ to: TO, from: FROM, body: 'x' }).then(
            () => 'ok',
            (e: { status: number }) => String(e.status),
          ),
        );
      c.requestClient.destroy();
      await local.stop();
      return outcomes;
    };
    const first = await run();
    assert.deepEqual(await run(), first);
    const failures = first.filter((o) => o === '500').length;
    assert.ok(failures > 0 && failures < 20, `${failures} of 20 failed`);
  });

  it('adds latency and refuses requests over the concurrency cap with 429 / 20429', async () => {
    simulator.latencyMs = 250; // long enough that all five overlap, even on a busy machine
    simulator.maxConcurrent = 2;
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        client.client.messages.create({ to: TO, from: FROM, body: 'x' }).then(
          () => 'ok',
          (e: { code: number }) => String(e.code),
        ),
      ),
    );
    assert.ok(Date.now() - started >= 240, 'latency applied');
    assert.equal(outcomes.filter((o) => o === 'ok').length, 2);
    assert.equal(outcomes.filter((o) => o === '20429').length, 3);
    assert.equal(simulator.stats.tooManyRequests, 3);
  });

  it('serves control endpoints for the demo and benchmarks', async () => {
    await client.client.messages.create({ to: TO, from: FROM, body: 'x' });
    const messages = (await (await fetch(`${simulator.url}/_sim/messages`)).json()) as unknown[];
    assert.equal(messages.length, 1);
    await fetch(`${simulator.url}/_sim/settings`, {
      method: 'POST',
      body: JSON.stringify({ latencyMs: 5, failNext: [{ type: 'http', status: 500 }] }),
    });
    assert.equal(simulator.latencyMs, 5);
    await assert.rejects(client.client.messages.create({ to: TO, from: FROM, body: 'x' }), { status: 500 });
    await fetch(`${simulator.url}/_sim/reset`, { method: 'POST' });
    assert.equal(simulator.messages.size, 0);
  });

  /** Resolves once the record of `sid` in `collection` reaches `status` (statuses advance every 20 ms). */
  async function settle(collection: 'messages' | 'calls', sid: string, status: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 200; i++) {
      const record = simulator.collection(collection).get(sid)!;
      if (record.status === status) return record;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`${sid} never reached ${status}: ${String(simulator.collection(collection).get(sid)?.status)}`);
  }

  it("plays the people at the other end: texts delivered, read, undelivered or failed with Twilio's codes", async () => {
    const cases: Array<[string, string, number | null]> = [
      ['+15555550100', 'delivered', null],
      ['+15555550104', 'read', null],
      ['+15555550101', 'undelivered', 30003],
      ['+15555550102', 'failed', 30006],
    ];
    for (const [to, status, code] of cases) {
      const created = await client.client.messages.create({ to, from: FROM, body: 'are you there?' });
      const record = await settle('messages', created.sid, status);
      assert.equal(record.error_code, code, to);
      const fetched = await client.client.messages(created.sid).fetch();
      assert.equal(fetched.status, status);
    }
  });

  it('plays calls that are answered by a person or a machine, ring out, are busy or fail', async () => {
    const cases: Array<[string, string, string | null]> = [
      ['+15555550100', 'completed', 'human'],
      ['+15555550103', 'completed', 'machine_start'],
      ['+15555550101', 'no-answer', null],
      ['+15555550102', 'busy', null],
      ['+15555550104', 'failed', null],
    ];
    for (const [to, status, answeredBy] of cases) {
      const created = await client.client.calls.create({
        to,
        from: FROM,
        twiml: '<Response><Say>hi</Say></Response>',
        machineDetection: 'Enable',
      });
      const record = await settle('calls', created.sid, status);
      assert.equal(record.answered_by, answeredBy, to);
    }
    // People set by a test or the demo: this one never picks up.
    await fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify({ people: { [TO]: { call: 'no-answer' } } }) });
    const created = await client.client.calls.create({ to: TO, from: FROM, twiml: '<Response/>' });
    await settle('calls', created.sid, 'no-answer');
  });

  it('lets people text in on a schedule; a number without an SmsUrl keeps them for a poll', async () => {
    const response = await fetch(`${simulator.url}/_sim/schedule`, {
      method: 'POST',
      body: JSON.stringify({ texts: [{ from: TO, to: FROM, body: 'ping', afterMs: 10, everyMs: 30, count: 3 }] }),
    });
    assert.equal(response.status, 200);
    for (let i = 0; i < 100 && simulator.find('messages', (m) => m.direction === 'inbound') === undefined; i++)
      await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 150));
    const inbound = await client.client.messages.list({ to: FROM });
    assert.deepEqual(
      inbound.map((m) => [m.direction, m.body, m.from]),
      Array.from({ length: 3 }, () => ['inbound', 'ping', TO]),
    );
    const refused = await fetch(`${simulator.url}/_sim/schedule`, {
      method: 'POST',
      body: JSON.stringify({ texts: [{ from: TO, to: '+15550000000' }] }),
    });
    assert.equal(refused.status, 400);
  });

  it("writes dates by its own clock when told that Twilio's is off, its answers' Date headers too", async () => {
    await fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify({ clockSkewMs: -3_600_000 }) });
    try {
      const created = await client.client.messages.create({ to: TO, from: FROM, body: 'late clock' });
      const skew = created.dateCreated.getTime() - Date.now();
      assert.ok(skew < -3_590_000 && skew > -3_610_000, `${skew} ms`);
      // Every answer, an error's too, says the time as Twilio does (RFC 7231), by the simulated clock.
      for (const answer of [await fetch(`${simulator.url}/2010-04-01/Accounts.json`), await fetch(`${simulator.url}/nowhere`)]) {
        await answer.body?.cancel();
        const header = answer.headers.get('date') ?? '';
        assert.match(header, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
        const off = Date.parse(header) - Date.now();
        assert.ok(off < -3_590_000 && off > -3_610_000, `${header}: ${off} ms`);
      }
    } finally {
      await fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify({ clockSkewMs: 0 }) });
    }
  });
});
