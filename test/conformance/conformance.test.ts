/**
 * Every kind of request twilio-send makes, sent through Stoplight Prism serving Twilio's own OpenAPI
 * description of the 2010-04-01 API: a request that breaks the spec gets 422 and fails the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACTIONS, CATALOGUE, FieldSpec, SidPart, fieldsFor, partsFor } from '../../lib/catalogue/catalogue';
import { createTwilioClient } from '../../lib/transport/sdk-client';
import { ACCOUNT, API_KEY, accountNode, allNodes, helper, runNode, runSend } from '../support/harness';
import { PrismServer, startConformanceProxy, startPrism } from '../support/prism';

const TO = '+15558675310';
const future = () => new Date(Date.now() + 86_400_000).toISOString();

const MESSAGE_REQUESTS: Array<[string, Record<string, unknown>, Record<string, unknown>?]> = [
  ['SMS from a number', { body: 'Hello {{payload}}' }],
  ['SMS from an alphanumeric sender ID', { from: 'MyBrand', fromType: 'str', body: 'hi' }],
  ['MMS with one media URL', { body: '', mediaUrl: 'https://demo.twilio.com/owl.png', mediaUrlType: 'str' }],
  [
    'MMS with ten media URLs and a body',
    { body: 'pics', mediaUrl: Array.from({ length: 10 }, (_, i) => `https://example.com/${i}.png`).join(','), mediaUrlType: 'str' },
  ],
  ['WhatsApp free text', { from: 'whatsapp:+14155238886', fromType: 'str', body: 'Your order shipped' }],
  [
    'WhatsApp Content template',
    {
      from: 'whatsapp:+14155238886',
      fromType: 'str',
      body: '',
      contentSid: 'HXb5b62575e6e4ff6129ad7c8efe1f983e',
      contentSidType: 'str',
      contentVariables: '{"1":"Alice","2":"3pm"}',
      contentVariablesType: 'json',
    },
  ],
  [
    'scheduled from a Messaging Service',
    { from: 'MG9752274e9e519418a7406176694466fa', fromType: 'str', body: 'later', sendAt: 'at', sendAtType: 'msg' },
    { at: future() },
  ],
  [
    'number plus Messaging Service, status callback, validity',
    {
      messagingServiceSid: 'MG9752274e9e519418a7406176694466fa',
      messagingServiceSidType: 'str',
      body: 'x',
      statusCallback: 'https://example.com/status',
      statusCallbackType: 'str',
      validityPeriod: '600',
      validityPeriodType: 'num',
    },
  ],
  ['several recipients', { to: '+15558675310, +447700900123, whatsapp:+33612345678', body: 'all' }],
];

const CALL_REQUESTS: Array<[string, Record<string, unknown>]> = [
  [
    'a call that says a text',
    {
      callAction: 'say',
      say: 'Alarm in the <hall> & "attic"',
      sayType: 'str',
      sayVoice: 'Polly.Joanna',
      sayVoiceType: 'str',
      sayLanguage: 'en-US',
      sayLanguageType: 'str',
    },
  ],
  [
    'a call that runs TwiML',
    { callAction: 'twiml', twiml: '<Response><Play>https://example.com/a.mp3</Play></Response>', twimlType: 'str' },
  ],
  ['a call that fetches TwiML', { callAction: 'url', url: 'https://example.com/voice.xml', urlType: 'str' }],
  [
    'a call through a TwiML App',
    { callAction: 'application', applicationSid: 'AP0123456789abcdef0123456789abcdef', applicationSidType: 'str' },
  ],
  [
    'a call with every option',
    {
      callAction: 'say',
      say: 'hi',
      sayType: 'str',
      statusCallback: 'https://example.com/cs',
      statusCallbackType: 'str',
      record: 'true',
      recordType: 'bool',
      timeout: '30',
      timeoutType: 'num',
      machineDetection: 'Enable',
      machineDetectionType: 'str',
    },
  ],
  ['calls to Client and SIP endpoints', { callAction: 'say', say: 'hi', sayType: 'str', to: 'client:alice, sip:bob@example.com' }],
];

const HEX = '0123456789abcdef0123456789abcdef';

/** A value of the right type for a field or filter, as a typed-input row. */
function sampleRow(spec: FieldSpec): { name: string; value: string; valueType: string; op?: string } {
  const byType: Record<string, [string, string]> = {
    string: [
      /Date$/.test(spec.name) ? '2026-11-01' : spec.name === 'areaCode' ? '415' : spec.name === 'category' ? 'sms' : 'sample',
      'str',
    ],
    url: ['https://example.com/hook', 'str'],
    method: ['POST', 'str'],
    boolean: ['true', 'bool'],
    integer: [spec.name === 'areaCode' ? '415' : '5', 'num'],
    enum: [spec.options?.[0] ?? '', 'str'],
    sid: [`${spec.prefix}${HEX}`, 'str'],
    phone: ['+14155550100', 'str'],
    list: [JSON.stringify(spec.options ? [spec.options[0]] : ['sample']), 'json'],
    date: ['2026-11-01 00:00:00', 'str'],
  };
  const [value, valueType] = byType[spec.type];
  // "on" a day sends both the After and the Before form of a date filter.
  return { name: spec.name, value, valueType, op: spec.type === 'date' ? 'on' : undefined };
}

function sampleSid(parts: SidPart[]): string {
  return parts.map((p) => (p.pattern ? p.example : `${p.prefixes![0]}${HEX}`)).join(':');
}

describe("conformance with Twilio's OpenAPI spec (Prism)", () => {
  let prism: PrismServer;
  let lookups: PrismServer;
  let proxy: Awaited<ReturnType<typeof startConformanceProxy>>;
  before(async () => {
    [prism, lookups] = await Promise.all([startPrism('twilio_api_v2010.json'), startPrism('twilio_lookups_v2.json')]);
    proxy = await startConformanceProxy(prism.url, 'twilio_api_v2010.json');
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
    await proxy?.stop();
    await Promise.all([prism?.stop(), lookups?.stop()]);
  });

  // Every catalogue action, with every one of its fields or filters set, must pass the spec.
  for (const object of CATALOGUE) {
    for (const action of ACTIONS) {
      const spec = object.actions[action];
      if (!spec || spec.notSupported || (action === 'create' && ['Message', 'Call', 'SMSMessage'].includes(object.name))) continue;
      const rows = (action === 'query' ? (object.filters ?? []) : fieldsFor(object, action)).map(sampleRow);
      it(`${action} ${object.name} with ${rows.length} ${action === 'query' ? 'filters' : 'fields'}`, async () => {
        const type = action === 'create' ? 'twilio-send' : `twilio-${action}`;
        const sid = sampleSid(partsFor(object, action));
        const config =
          action === 'create'
            ? { resource: object.name, sid, sidType: 'str', fields: rows }
            : // One record, one page: Prism's example next pages carry example queries that break its own spec.
              { object: object.name, sid, sidType: 'str', [action === 'query' ? 'filters' : 'fields']: rows, limit: 1, pageSize: 1 };
        const url = spec.call.startsWith('lookups.') ? lookups.url : proxy.url;
        const { output, error } = await runNode(url, type, config, {});
        await helper.unload();
        // Prism serves fixed examples: a Get that looks for one value in a list may find none.
        if (spec.find && error?.code === 'NOT_FOUND') return;
        assert.equal(error, undefined, `refused: ${error?.code} ${error?.message} ${JSON.stringify(error?.cause)}`);
        assert.ok(output.payload !== undefined);
      });
    }
  }

  for (const [name, node, msg] of MESSAGE_REQUESTS) {
    it(`message: ${name}`, async () => {
      const { output, error } = await runSend(
        proxy.url,
        { resource: 'message', to: TO, toType: 'str', bodyType: 'str', ...node },
        { payload: 'x', ...msg },
      );
      await helper.unload();
      assert.equal(error, undefined, `Prism refused the request: ${error?.message} ${JSON.stringify(error?.cause)}`);
      assert.ok(output.payload.sid || output.payload.results, 'Prism answered with a message');
      if (output.payload.results) assert.deepEqual(output.payload.errors, {});
    });
  }

  it('message: MMS from a Buffer and a URL (the Buffer served under the account Public URL)', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const { output, error } = await runSend(
      proxy.url,
      { resource: 'message', to: TO, toType: 'str', body: 'door', bodyType: 'str', mediaUrl: 'payload', mediaUrlType: 'msg' },
      { payload: [png, 'https://demo.twilio.com/owl.png'] },
      { account: { publicBaseUrl: 'https://node-red.example.com' } },
    );
    await helper.unload();
    assert.equal(error, undefined, `Prism refused the request: ${error?.message} ${JSON.stringify(error?.cause)}`);
    assert.ok(output.payload.sid, 'Prism answered with a message');
  });

  for (const [name, node] of CALL_REQUESTS) {
    it(`call: ${name}`, async () => {
      const { output, error } = await runSend(proxy.url, { resource: 'call', to: TO, toType: 'str', ...node }, {});
      await helper.unload();
      assert.equal(error, undefined, `Prism refused the request: ${error?.message} ${JSON.stringify(error?.cause)}`);
      assert.ok(output.payload.sid || output.payload.results);
      if (output.payload.results) assert.deepEqual(output.payload.errors, {});
    });
  }

  it("two-way: the listings a poll makes, the looks for an outcome, an MMS reply's media, a page's calls", async () => {
    const { client, requestClient } = createTwilioClient(
      { accountSid: ACCOUNT.sid, authMode: 'apiKey', apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret },
      { baseUrl: proxy.url },
    );
    const before = proxy.violations.length;
    try {
      // As lib/inbound/poller.ts and lib/inbound/outcomes.ts call them (first pages: Prism's example next pages are its own).
      const since = new Date(Date.now() - 300_000);
      await client.messages.page({ to: '+15017122661', dateSentAfter: since, pageSize: 200 });
      await client.messages.page({ dateSentAfter: since, pageSize: 200 });
      await client.calls.page({ to: '+15017122661', startTimeAfter: since, pageSize: 200 });
      await client.messages('SM' + 'a'.repeat(32)).fetch();
      await client.calls('CA' + 'a'.repeat(32)).fetch();
      await client.messages('MM' + 'a'.repeat(32)).media.list();
      // As twilio-page places and ends its calls.
      await client.calls.create({
        to: TO,
        from: '+15017122661',
        twiml:
          '<Response><Gather numDigits="1" action="https://example.com/keys" method="POST" timeout="8"><Say>Smoke. Press 1.</Say></Gather></Response>',
        timeout: 30,
        machineDetection: 'Enable',
      });
      await client.calls('CA' + 'a'.repeat(32)).update({ status: 'completed' });
    } finally {
      requestClient.destroy();
    }
    assert.deepEqual(proxy.violations.slice(before), []);
  });

  it('twilio-ask: its question, and the look for its outcome (its other texts are the same create)', async () => {
    const before = proxy.violations.length;
    const from = proxy.requests.length;
    const made = () => proxy.requests.slice(from).map((r) => r.replace(/AC\w{32}/, 'AC…').replace(/SM\w{32}/, 'SM…'));
    const account = accountNode(proxy.url);
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'ask',
          type: 'twilio-ask',
          z: 'tab',
          account: 'account',
          to: TO,
          toType: 'str',
          body: 'The garage is open. Reply CLOSE to close it.',
          bodyType: 'str',
          answers: [{ type: 'words', value: 'close' }],
          wires: [[], [], [], [], []],
        },
      ],
      { account: account.credentials },
    );
    helper.getNode('ask').receive({ payload: 'x' });
    // A look at Twilio's clock (the account's first intent), the question, then (2 s on) the look for
    // its outcome: not delivered goes to its own output.
    for (let i = 0; i < 200 && made().length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    await helper.unload();
    assert.deepEqual(made().slice(0, 3), [
      'GET /2010-04-01/Accounts/AC….json',
      'POST /2010-04-01/Accounts/AC…/Messages.json',
      'GET /2010-04-01/Accounts/AC…/Messages/SM….json',
    ]);
    assert.deepEqual(proxy.violations.slice(before), []);
  });

  it('refuses a request that breaks the spec (the checks above can fail)', async () => {
    const { client, requestClient } = createTwilioClient(
      { accountSid: ACCOUNT.sid, authMode: 'apiKey', apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret },
      { baseUrl: proxy.url },
    );
    try {
      // Prism's own checks: patterns and types.
      await assert.rejects(client.calls.create({ to: TO, from: '+15017122661', applicationSid: 'AP-not-a-sid' }), { status: 422 });
      await assert.rejects(client.messages.create({ to: TO, from: '+15017122661', body: 'x', messagingServiceSid: 'MG123' }), {
        status: 422,
      });
      // The proxy's: an undeclared parameter, a repeated scalar.
      const raw = (body: string) =>
        fetch(`${proxy.url}/2010-04-01/Accounts/${ACCOUNT.sid}/Messages.json`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Basic eDp5' },
          body,
        });
      assert.equal((await raw('To=%2B15558675310&From=%2B15017122661&Body=x&Bodyy=typo')).status, 422);
      assert.equal((await raw('To=%2B15558675310&From=%2B15017122661&Body=x&Body=twice')).status, 422);
      assert.equal(
        (await raw('To=%2B15558675310&From=%2B15017122661&Body=x&MediaUrl=https%3A%2F%2Fa.test%2F1&MediaUrl=https%3A%2F%2Fa.test%2F2'))
          .status,
        201,
      );
    } finally {
      requestClient.destroy();
    }
    assert.equal(proxy.violations.length, 4, proxy.violations.join('\n'));
  });
});
