import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helper, runSend, useRuntime } from '../support/harness';

const TO = '+15558675310';
const APP = 'AP0123456789abcdef0123456789abcdef';

describe('twilio-send: calls', () => {
  const { simulator } = useRuntime();
  const call = (node: Record<string, unknown>, msg: Record<string, unknown> = {}, opts = {}) =>
    runSend(simulator.url, { resource: 'call', to: TO, toType: 'str', ...node }, msg, opts);
  const lastParams = () => simulator.requests.at(-1)!.params;

  it('says a templated text, XML-escaped into <Say> by the SDK', async () => {
    const { output, error, statuses } = await call(
      {
        callAction: 'say',
        say: 'Alarm in {{payload.room}}',
        sayType: 'str',
        sayVoice: 'Polly.Joanna',
        sayVoiceType: 'str',
        sayLanguage: 'en-US',
        sayLanguageType: 'str',
      },
      { payload: { room: `Tom & Jerry's <lab> "A"` } },
    );
    assert.equal(error, undefined);
    assert.match(output.payload.sid, /^CA[0-9a-f]{32}$/);
    assert.equal(output.payload.status, 'queued');
    assert.equal(
      lastParams().Twiml,
      '<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Joanna" language="en-US">Alarm in Tom &amp; Jerry\'s &lt;lab&gt; "A"</Say></Response>',
    );
    assert.equal(lastParams().From, '+15017122661');
    assert.equal(statuses.at(-1)!.text, 'twilio.status.called');
  });

  it('runs inline TwiML, and refuses text that is not a <Response>', async () => {
    const twiml = '<Response><Play>https://example.com/alarm.mp3</Play></Response>';
    const { error } = await call({ callAction: 'twiml', twiml, twimlType: 'str' });
    assert.equal(error, undefined);
    assert.equal(lastParams().Twiml, twiml);
    await helper.unload();
    const bad = await call({ callAction: 'twiml', twiml: 'Hello there', twimlType: 'str' });
    assert.equal(bad.error?.code, 'INVALID_INPUT');
  });

  it('fetches TwiML from a URL, or uses a TwiML App', async () => {
    const byUrl = await call({ callAction: 'url', url: 'https://example.com/voice.xml', urlType: 'str' });
    assert.equal(byUrl.error, undefined);
    assert.equal(lastParams().Url, 'https://example.com/voice.xml');
    assert.equal(lastParams().Twiml, undefined);
    await helper.unload();
    const byApp = await call({ callAction: 'application', applicationSid: APP, applicationSidType: 'str' });
    assert.equal(byApp.error, undefined);
    assert.equal(lastParams().ApplicationSid, APP);
    await helper.unload();
    const badApp = await call({ callAction: 'application', applicationSid: 'AP-not-a-sid', applicationSidType: 'str' });
    assert.equal(badApp.error?.code, 'INVALID_INPUT');
    await helper.unload();
    const noUrl = await call({ callAction: 'url', url: '', urlType: 'str' });
    assert.equal(noUrl.error?.code, 'MISSING_INPUT');
  });

  it('sets StatusCallback, Record, Timeout and machine detection', async () => {
    const { error } = await call({
      callAction: 'say',
      say: 'hi',
      sayType: 'str',
      statusCallback: 'https://example.com/call-status',
      statusCallbackType: 'str',
      record: 'true',
      recordType: 'bool',
      timeout: '25',
      timeoutType: 'num',
      machineDetection: 'DetectMessageEnd',
      machineDetectionType: 'str',
    });
    assert.equal(error, undefined);
    const params = lastParams();
    assert.equal(params.StatusCallback, 'https://example.com/call-status');
    assert.equal(params.Record, 'true');
    assert.equal(params.Timeout, '25');
    assert.equal(params.MachineDetection, 'DetectMessageEnd');
    for (const bad of [
      { timeout: '0', timeoutType: 'num' },
      { timeout: '601', timeoutType: 'num' },
      { machineDetection: 'Sometimes', machineDetectionType: 'str' },
      { record: 'maybe', recordType: 'str' },
    ]) {
      await helper.unload();
      const result = await call({ callAction: 'say', say: 'hi', sayType: 'str', ...bad });
      assert.equal(result.error?.code, 'INVALID_INPUT', JSON.stringify(bad));
    }
  });

  it('calls Twilio Client and SIP endpoints and several numbers', async () => {
    const { output, error } = await call({
      callAction: 'say',
      say: 'hi',
      sayType: 'str',
      to: 'client:alice, sip:bob@example.com, +15558675311',
    });
    assert.equal(error, undefined);
    assert.deepEqual(Object.keys(output.payload.results), ['client:alice', 'sip:bob@example.com', '+15558675311']);
    assert.equal(simulator.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Calls.json')).length, 3);
  });

  it('needs a phone number to call from: not a Messaging Service, not WhatsApp', async () => {
    const service = await call(
      { callAction: 'say', say: 'hi', sayType: 'str' },
      {},
      { account: { defaultFrom: 'MG0123456789abcdef0123456789abcdef' } },
    );
    assert.equal(service.error?.code, 'INVALID_FROM_PHONE_NUMBER_ERROR');
    await helper.unload();
    const none = await call({ callAction: 'say', say: 'hi', sayType: 'str' }, {}, { account: { defaultFrom: '' } });
    assert.equal(none.error?.code, 'MISSING_INPUT');
    await helper.unload();
    const whatsapp = await call({ callAction: 'say', say: 'hi', sayType: 'str', to: 'whatsapp:+15558675310' });
    assert.equal(whatsapp.error?.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(simulator.requests.length, 0);
  });

  it("maps Twilio's call errors: invalid number, geo permission, block list", async () => {
    const cases: Array<[string, string, number]> = [
      ['+15005550001', 'INVALID_TO_PHONE_NUMBER_ERROR', 21217],
      ['+15005550003', 'INVALID_REGION_TO_PHONE_NUMBER_ERROR', 21215],
      ['+15005550004', 'PERMISSION_DENIED_ERROR', 21216],
    ];
    for (const [to, code, twilioCode] of cases) {
      await helper.unload();
      const { error } = await call({ callAction: 'say', say: 'hi', sayType: 'str', to });
      assert.equal(error?.code, code, to);
      assert.equal(error?.cause?.twilioCode, twilioCode);
    }
  });
});
