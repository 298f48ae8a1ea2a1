import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helper, runSend, useRuntime } from '../support/harness';

const TO = '+15558675310';
const SERVICE = 'MG9752274e9e519418a7406176694466fa';
const CONTENT = 'HXb5b62575e6e4ff6129ad7c8efe1f983e';

describe('twilio-send: messages', () => {
  const { simulator } = useRuntime();
  const send = (node: Record<string, unknown>, msg: Record<string, unknown> = {}, opts = {}) =>
    runSend(simulator.url, { toType: 'str', bodyType: 'str', ...node }, msg, opts);
  const lastParams = () => simulator.requests.at(-1)!.params;

  it('sends an SMS, passes the msg through and outputs plain JSON with ISO dates', async () => {
    const { output, error, statuses } = await send(
      { to: TO, body: 'Hello {{payload}}' },
      { payload: 'world', topic: 'keep', _msgid: 'abc' },
    );
    assert.equal(error, undefined);
    assert.match(output.payload.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(output.payload.body, 'Hello world');
    assert.equal(output.payload.status, 'queued');
    assert.equal(output.payload.to, TO);
    assert.match(output.payload.dateCreated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(typeof output.payload.toJSON, 'undefined');
    assert.equal(output.topic, 'keep');
    assert.deepEqual(lastParams(), { To: TO, From: '+15017122661', Body: 'Hello world' });
    assert.deepEqual(
      statuses.map((s) => [s.fill, s.text]),
      [
        ['blue', 'twilio.status.sending'],
        ['green', 'twilio.status.sent'],
      ],
    );
    assert.equal(simulator.messages.get(output.payload.sid)!.body, 'Hello world');
  });

  it('sends an MMS with 1 to 10 media URLs, read as a list or an array', async () => {
    const one = await send({ to: TO, body: '', mediaUrl: 'https://demo.twilio.com/owl.png', mediaUrlType: 'str' });
    assert.equal(one.error, undefined);
    assert.match(one.output.payload.sid, /^MM/);
    assert.equal(one.output.payload.numMedia, '1');
    assert.deepEqual(lastParams().MediaUrl, 'https://demo.twilio.com/owl.png');
    const urls = Array.from({ length: 10 }, (_, i) => `https://example.com/${i}.jpg`);
    await helper.unload();
    const ten = await send({ to: TO, body: 'pics', mediaUrl: 'media', mediaUrlType: 'msg' }, { media: urls });
    assert.equal(ten.error, undefined);
    assert.deepEqual(lastParams().MediaUrl, urls);
    await helper.unload();
    const eleven = await send(
      { to: TO, body: 'pics', mediaUrl: 'media', mediaUrlType: 'msg' },
      { media: [...urls, 'https://example.com/10.jpg'] },
    );
    assert.equal(eleven.error?.code, 'INVALID_INPUT');
    await helper.unload();
    const notUrl = await send({ to: TO, body: 'x', mediaUrl: 'ftp://example.com/a.png', mediaUrlType: 'str' });
    assert.equal(notUrl.error?.code, 'INVALID_INPUT');
  });

  it('sends WhatsApp free text, adding the channel to bare numbers for a WhatsApp sender', async () => {
    const { output, error } = await send({ to: TO, from: 'whatsapp:+14155238886', fromType: 'str', body: 'Your order shipped' });
    assert.equal(error, undefined);
    assert.equal(output.payload.to, `whatsapp:${TO}`);
    assert.deepEqual(lastParams(), { To: `whatsapp:${TO}`, From: 'whatsapp:+14155238886', Body: 'Your order shipped' });
  });

  it('sends a WhatsApp Content template with its variables (object or JSON text)', async () => {
    const { error } = await send(
      {
        to: `whatsapp:${TO}`,
        from: 'whatsapp:+14155238886',
        fromType: 'str',
        body: '',
        contentSid: CONTENT,
        contentSidType: 'str',
        contentVariables: 'vars',
        contentVariablesType: 'msg',
      },
      { vars: { 1: 'Alice', 2: '12/1' } },
    );
    assert.equal(error, undefined);
    assert.equal(lastParams().ContentSid, CONTENT);
    assert.deepEqual(JSON.parse(lastParams().ContentVariables as string), { 1: 'Alice', 2: '12/1' });
    await helper.unload();
    const text = await send({
      to: TO,
      body: '',
      contentSid: CONTENT,
      contentSidType: 'str',
      contentVariables: '{"1":"Bob"}',
      contentVariablesType: 'json',
    });
    assert.equal(text.error, undefined);
    assert.equal(lastParams().ContentVariables, '{"1":"Bob"}');
    await helper.unload();
    const noSid = await send({ to: TO, body: 'x', contentVariables: '{"1":"Bob"}', contentVariablesType: 'json' });
    assert.equal(noSid.error?.code, 'INVALID_INPUT');
    await helper.unload();
    const badSid = await send({ to: TO, body: '', contentSid: 'HX123', contentSidType: 'str' });
    assert.equal(badSid.error?.code, 'INVALID_INPUT');
  });

  it('sends from a Messaging Service, given in From, in its own field or as the default sender', async () => {
    const inFrom = await send({ to: TO, from: SERVICE, fromType: 'str', body: 'hi' });
    assert.equal(inFrom.error, undefined);
    assert.deepEqual(lastParams(), { To: TO, MessagingServiceSid: SERVICE, Body: 'hi' });
    assert.equal(inFrom.output.payload.status, 'accepted');
    await helper.unload();
    await send({ to: TO, messagingServiceSid: SERVICE, messagingServiceSidType: 'str', body: 'hi' });
    assert.deepEqual(lastParams(), { To: TO, From: '+15017122661', MessagingServiceSid: SERVICE, Body: 'hi' });
    await helper.unload();
    await send({ to: TO, body: 'hi' }, {}, { account: { defaultFrom: SERVICE } });
    assert.deepEqual(lastParams(), { To: TO, MessagingServiceSid: SERVICE, Body: 'hi' });
  });

  it('schedules with SendAt (needs a Messaging Service, a future ISO date)', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const { output, error } = await send({ to: TO, from: SERVICE, fromType: 'str', body: 'later', sendAt: at, sendAtType: 'str' });
    assert.equal(error, undefined);
    assert.equal(output.payload.status, 'scheduled');
    assert.equal(lastParams().ScheduleType, 'fixed');
    assert.equal(new Date(lastParams().SendAt as string).toISOString(), at.replace(/\.\d{3}Z$/, '.000Z'));
    await helper.unload();
    const noService = await send({ to: TO, body: 'later', sendAt: at, sendAtType: 'str' });
    assert.equal(noService.error?.code, 'INVALID_INPUT');
    assert.match(noService.error!.message, /Messaging Service/);
    await helper.unload();
    const past = await send({ to: TO, from: SERVICE, fromType: 'str', body: 'x', sendAt: '2001-01-01T00:00:00Z', sendAtType: 'str' });
    assert.equal(past.error?.code, 'INVALID_INPUT');
    await helper.unload();
    const garbage = await send({ to: TO, from: SERVICE, fromType: 'str', body: 'x', sendAt: 'tomorrow-ish', sendAtType: 'str' });
    assert.equal(garbage.error?.code, 'INVALID_INPUT');
  });

  it('sets StatusCallback and ValidityPeriod, and checks them', async () => {
    const { error } = await send({
      to: TO,
      body: 'x',
      statusCallback: 'https://example.com/status',
      statusCallbackType: 'str',
      validityPeriod: '600',
      validityPeriodType: 'num',
    });
    assert.equal(error, undefined);
    assert.equal(lastParams().StatusCallback, 'https://example.com/status');
    assert.equal(lastParams().ValidityPeriod, '600');
    for (const bad of [
      { validityPeriod: '0', validityPeriodType: 'num' },
      { validityPeriod: '36001', validityPeriodType: 'num' },
      { statusCallback: 'not a url', statusCallbackType: 'str' },
    ]) {
      await helper.unload();
      const result = await send({ to: TO, body: 'x', ...bad });
      assert.equal(result.error?.code, 'INVALID_INPUT', JSON.stringify(bad));
    }
  });

  it('reads every field from msg, flow, global, env and JSONata typed inputs', async () => {
    process.env.TWILIO_TEST_SENDER = '+15017122662';
    const flow = [
      { id: 'tab', type: 'tab', label: 'test' },
      { id: 'account', type: 'twilio-config', authMode: 'apiKey', region: '', edge: '', defaultFrom: '', baseUrl: simulator.url },
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        wires: [['out']],
        to: 'recipient',
        toType: 'msg',
        from: 'TWILIO_TEST_SENDER',
        fromType: 'env',
        body: 'template',
        bodyType: 'flow',
        metadata: '{"site": "north"}',
        metadataType: 'json',
        validityPeriod: '60 * 5',
        validityPeriodType: 'jsonata',
        statusCallback: 'callback',
        statusCallbackType: 'global',
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    const { ACCOUNT, API_KEY, twilioConfig, twilioSend, sendTo } = await import('../support/harness');
    await helper.load([twilioConfig, twilioSend], flow, {
      account: { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret },
    });
    const node = helper.getNode('send');
    (node as any).context().flow.set('template', '{{site}}: {{payload}}');
    (node as any).context().global.set('callback', 'https://example.com/cb');
    const { error } = await sendTo(node, helper.getNode('out'), { recipient: TO, payload: 'door open' });
    assert.equal(error, undefined);
    // Only the node's own text is a template: a body read from context is sent as it is.
    assert.deepEqual(lastParams(), {
      To: TO,
      From: '+15017122662',
      Body: '{{site}}: {{payload}}',
      StatusCallback: 'https://example.com/cb',
      ValidityPeriod: '300',
    });
    delete process.env.TWILIO_TEST_SENDER;
  });

  it('renders the body against msg.metadata by default (Template data, as the dialog calls it)', async () => {
    const { output, error } = await runSend(
      simulator.url,
      { to: TO, toType: 'str', body: 'Hi {{name}}, code {{code}}', bodyType: 'str', metadata: 'metadata', metadataType: 'msg' },
      { metadata: { name: 'Ada', code: 4321 } },
    );
    assert.equal(error, undefined);
    assert.equal(output.payload.body, 'Hi Ada, code 4321');
  });

  it('fails with the template codes: missing variable, broken template, template that is not text', async () => {
    const missing = await send({ to: TO, body: 'Hi {{name}}' }, {});
    assert.equal(missing.error?.code, 'TEMPLATE_METADATA_ERROR');
    assert.equal(simulator.requests.length, 0);
    await helper.unload();
    const broken = await send({ to: TO, body: 'Hi {{name' }, { name: 'x' });
    assert.equal(broken.error?.code, 'TEMPLATE_SYNTAX_ERROR');
    await helper.unload();
    const notText = await send({ to: TO, body: 'payload', bodyType: 'msg' }, { payload: { an: 'object' } });
    assert.equal(notText.error?.code, 'TEMPLATE_READ_ERROR');
    await helper.unload();
    const number = await send({ to: TO, body: 'payload', bodyType: 'msg' }, { payload: 21.5 });
    assert.equal(number.error, undefined);
    assert.equal(lastParams().Body, '21.5');
  });

  it('refuses a body over 1,600 characters and a message with nothing to send, before any request', async () => {
    const long = await send({ to: TO, body: 'payload', bodyType: 'msg' }, { payload: 'x'.repeat(1601) });
    assert.equal(long.error?.code, 'INVALID_INPUT');
    await helper.unload();
    const empty = await send({ to: TO, body: '' });
    assert.equal(empty.error?.code, 'MISSING_INPUT');
    await helper.unload();
    const noTo = await send({ to: '', body: 'x' });
    assert.equal(noTo.error?.code, 'MISSING_INPUT');
    await helper.unload();
    const noSender = await send({ to: TO, body: 'x' }, {}, { account: { defaultFrom: '' } });
    assert.equal(noSender.error?.code, 'MISSING_INPUT');
    assert.equal(simulator.requests.length, 0);
  });

  it('sends to several recipients, one request each, and outputs the map of results', async () => {
    const { output, error, statuses } = await send(
      { to: 'to', toType: 'msg', body: 'all hands' },
      { to: ['+15558675310', '+15558675311', '+15558675312'] },
    );
    assert.equal(error, undefined);
    assert.deepEqual(Object.keys(output.payload.results).sort(), ['+15558675310', '+15558675311', '+15558675312']);
    for (const sid of Object.values(output.payload.results)) assert.match(sid as string, /^SM/);
    assert.deepEqual(output.payload.errors, {});
    assert.equal(simulator.requests.length, 3);
    assert.equal(statuses.at(-1)!.text, 'twilio.status.sentCount');
  });

  it('reports a partial failure to Catch and still outputs what was sent', async () => {
    const { output, error, statuses } = await send({ to: '+15558675310, +15005550001, +15005550004', body: 'hi' });
    assert.deepEqual(Object.keys(output.payload.results), ['+15558675310']);
    assert.equal(output.payload.errors['+15005550001'].code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(output.payload.errors['+15005550001'].twilioCode, 21211);
    assert.equal(output.payload.errors['+15005550004'].code, 'PERMISSION_DENIED_ERROR');
    assert.ok(error, 'done(err) was called');
    assert.match(error!.message, /^2 of 3 recipients failed/);
    assert.equal(statuses.at(-1)!.fill, 'yellow');
  });

  it('does not output when every recipient failed, but reports it', async () => {
    const { output, error, statuses } = await send({ to: '+15005550001, +15005550003', body: 'hi' });
    assert.equal(output, undefined);
    assert.equal(error?.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(statuses.at(-1)!.fill, 'red');
  });
});
