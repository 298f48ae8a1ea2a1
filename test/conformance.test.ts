/**
 * Every kind of request twilio-send makes, sent through Stoplight Prism serving Twilio's own OpenAPI
 * description of the 2010-04-01 API: a request that breaks the spec gets 422 and fails the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTwilioClient } from '../lib/client';
import { ACCOUNT, API_KEY, helper, runSend } from './support/harness';
import { PrismServer, startConformanceProxy, startPrism } from './support/prism';

const TO = '+15558675310';
const future = () => new Date(Date.now() + 86_400_000).toISOString();

const MESSAGE_REQUESTS: Array<[string, Record<string, unknown>, Record<string, unknown>?]> = [
  ['SMS from a number', { body: 'Hello {{payload}}' }],
  ['SMS from an alphanumeric sender ID', { from: 'MyBrand', fromType: 'str', body: 'hi' }],
  ['MMS with one media URL', { body: '', mediaUrl: 'https://demo.twilio.com/owl.png', mediaUrlType: 'str' }],
  ['MMS with ten media URLs and a body', { body: 'pics', mediaUrl: Array.from({ length: 10 }, (_, i) => `https://example.com/${i}.png`).join(','), mediaUrlType: 'str' }],
  ['WhatsApp free text', { from: 'whatsapp:+14155238886', fromType: 'str', body: 'Your order shipped' }],
  ['WhatsApp Content template', { from: 'whatsapp:+14155238886', fromType: 'str', body: '', contentSid: 'HXb5b62575e6e4ff6129ad7c8efe1f983e', contentSidType: 'str', contentVariables: '{"1":"Alice","2":"3pm"}', contentVariablesType: 'json' }],
  ['scheduled from a Messaging Service', { from: 'MG9752274e9e519418a7406176694466fa', fromType: 'str', body: 'later', sendAt: 'at', sendAtType: 'msg' }, { at: future() }],
  ['number plus Messaging Service, status callback, validity', { messagingServiceSid: 'MG9752274e9e519418a7406176694466fa', messagingServiceSidType: 'str', body: 'x', statusCallback: 'https://example.com/status', statusCallbackType: 'str', validityPeriod: '600', validityPeriodType: 'num' }],
  ['several recipients', { to: '+15558675310, +447700900123, whatsapp:+33612345678', body: 'all' }],
];

const CALL_REQUESTS: Array<[string, Record<string, unknown>]> = [
  ['a call that says a text', { callAction: 'say', say: 'Alarm in the <hall> & "attic"', sayType: 'str', sayVoice: 'Polly.Joanna', sayVoiceType: 'str', sayLanguage: 'en-US', sayLanguageType: 'str' }],
  ['a call that runs TwiML', { callAction: 'twiml', twiml: '<Response><Play>https://example.com/a.mp3</Play></Response>', twimlType: 'str' }],
  ['a call that fetches TwiML', { callAction: 'url', url: 'https://example.com/voice.xml', urlType: 'str' }],
  ['a call through a TwiML App', { callAction: 'application', applicationSid: 'AP0123456789abcdef0123456789abcdef', applicationSidType: 'str' }],
  ['a call with every option', { callAction: 'say', say: 'hi', sayType: 'str', statusCallback: 'https://example.com/cs', statusCallbackType: 'str', record: 'true', recordType: 'bool', timeout: '30', timeoutType: 'num', machineDetection: 'Enable', machineDetectionType: 'str' }],
  ['calls to Client and SIP endpoints', { callAction: 'say', say: 'hi', sayType: 'str', to: 'client:alice, sip:bob@example.com' }],
];

describe('conformance with Twilio\'s OpenAPI spec (Prism)', () => {
  let prism: PrismServer;
  let proxy: Awaited<ReturnType<typeof startConformanceProxy>>;
  before(async () => {
    prism = await startPrism('twilio_api_v2010.json');
    proxy = await startConformanceProxy(prism.url, 'twilio_api_v2010.json');
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
    await proxy?.stop();
    await prism?.stop();
  });

  for (const [name, node, msg] of MESSAGE_REQUESTS) {
    it(`message: ${name}`, async () => {
      const { output, error } = await runSend(proxy.url, { resource: 'message', to: TO, toType: 'str', bodyType: 'str', ...node }, { payload: 'x', ...msg });
      await helper.unload();
      assert.equal(error, undefined, `Prism refused the request: ${error?.message} ${JSON.stringify(error?.cause)}`);
      assert.ok(output.payload.sid || output.payload.results, 'Prism answered with a message');
      if (output.payload.results) assert.deepEqual(output.payload.errors, {});
    });
  }

  for (const [name, node] of CALL_REQUESTS) {
    it(`call: ${name}`, async () => {
      const { output, error } = await runSend(proxy.url, { resource: 'call', to: TO, toType: 'str', ...node }, {});
      await helper.unload();
      assert.equal(error, undefined, `Prism refused the request: ${error?.message} ${JSON.stringify(error?.cause)}`);
      assert.ok(output.payload.sid || output.payload.results);
      if (output.payload.results) assert.deepEqual(output.payload.errors, {});
    });
  }

  it('refuses a request that breaks the spec (the checks above can fail)', async () => {
    const { client, requestClient } = createTwilioClient({ accountSid: ACCOUNT.sid, authMode: 'apiKey', apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret }, { baseUrl: proxy.url });
    try {
      // Prism's own checks: patterns and types.
      await assert.rejects(client.calls.create({ to: TO, from: '+15017122661', applicationSid: 'AP-not-a-sid' }), { status: 422 });
      await assert.rejects(client.messages.create({ to: TO, from: '+15017122661', body: 'x', messagingServiceSid: 'MG123' }), { status: 422 });
      // The proxy's: an undeclared parameter, a repeated scalar.
      const raw = (body: string) => fetch(`${proxy.url}/2010-04-01/Accounts/${ACCOUNT.sid}/Messages.json`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Basic eDp5' }, body });
      assert.equal((await raw('To=%2B15558675310&From=%2B15017122661&Body=x&Bodyy=typo')).status, 422);
      assert.equal((await raw('To=%2B15558675310&From=%2B15017122661&Body=x&Body=twice')).status, 422);
      assert.equal((await raw('To=%2B15558675310&From=%2B15017122661&Body=x&MediaUrl=https%3A%2F%2Fa.test%2F1&MediaUrl=https%3A%2F%2Fa.test%2F2')).status, 201);
    } finally {
      requestClient.destroy();
    }
    assert.equal(proxy.violations.length, 2);
  });
});
