import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_TWIML, buildTwiml } from '../../../lib/twilio/twiml';
import { acceptedHost, classifyEvent, hostName, parseHostList, signedUrl } from '../../../lib/inbound/webhook';
import { codeOf } from '../../support/assertions';

const XML = '<?xml version="1.0" encoding="UTF-8"?>';
const nasty = `Tom & Jerry's <"show">`;

describe('reply TwiML', () => {
  it('escapes & < > " \' in every text and attribute', () => {
    assert.equal(
      buildTwiml('message', { text: '{{payload}}' }, { payload: nasty }),
      `${XML}<Response><Message>Tom &amp; Jerry's &lt;"show"&gt;</Message></Response>`,
    );
    assert.equal(
      buildTwiml('say', { text: nasty, voice: 'Polly."Joanna"', loop: '2' }, {}),
      `${XML}<Response><Say voice="Polly.&quot;Joanna&quot;" loop="2">Tom &amp; Jerry's &lt;"show"&gt;</Say></Response>`,
    );
    assert.equal(
      buildTwiml('redirect', { url: 'https://x.test/a?b=1&c=2' }, {}),
      `${XML}<Response><Redirect>https://x.test/a?b=1&amp;c=2</Redirect></Response>`,
    );
  });

  it('builds every reply', () => {
    assert.equal(
      buildTwiml('play', { url: 'https://x.test/a.mp3', loop: 3 }, {}),
      `${XML}<Response><Play loop="3">https://x.test/a.mp3</Play></Response>`,
    );
    assert.equal(
      buildTwiml('gather', { input: 'dtmf speech', url: '/menu', numDigits: '1', timeout: '5', text: 'Press 1' }, {}),
      `${XML}<Response><Gather input="dtmf speech" action="/menu" numDigits="1" timeout="5"><Say>Press 1</Say></Gather></Response>`,
    );
    assert.equal(
      buildTwiml('dial', { number: '+14155550100', callerId: '+15017122661', timeout: '20' }, {}),
      `${XML}<Response><Dial callerId="+15017122661" timeout="20"><Number>+14155550100</Number></Dial></Response>`,
    );
    assert.equal(buildTwiml('dial', { number: 'client:alice' }, {}), `${XML}<Response><Dial><Client>alice</Client></Dial></Response>`);
    assert.equal(buildTwiml('hangup', {}, {}), `${XML}<Response><Hangup/></Response>`);
    assert.equal(buildTwiml('reject', { reason: 'busy' }, {}), `${XML}<Response><Reject reason="busy"/></Response>`);
    assert.equal(buildTwiml('empty', {}, {}), EMPTY_TWIML);
    assert.equal(buildTwiml('raw', {}, {}, ' <Response><Say>hi</Say></Response> '), '<Response><Say>hi</Say></Response>');
    assert.equal(
      buildTwiml('message', { mediaUrl: ['https://x.test/1.png', 'https://x.test/2.png'] }, {}),
      `${XML}<Response><Message><Media>https://x.test/1.png</Media><Media>https://x.test/2.png</Media></Message></Response>`,
    );
  });

  it('refuses what cannot be sent, with coded errors', () => {
    assert.equal(
      codeOf(() => buildTwiml('raw', {}, {}, 'Hello')),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => buildTwiml('raw', {}, {}, { not: 'text' })),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => buildTwiml('message', {}, {})),
      'MISSING_INPUT',
    );
    assert.equal(
      codeOf(() => buildTwiml('say', { text: 'Hi {{who}}' }, {})),
      'TEMPLATE_METADATA_ERROR',
    );
    assert.equal(
      codeOf(() => buildTwiml('dial', { number: 'Bob' }, {})),
      'INVALID_TO_PHONE_NUMBER_ERROR',
    );
    assert.equal(
      codeOf(() => buildTwiml('reject', { reason: 'rude' }, {})),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => buildTwiml('play', { url: 'ftp://x' }, {})),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => buildTwiml('gather', { input: 'telepathy' }, {})),
      'INVALID_INPUT',
    );
  });
});

describe('webhook helpers', () => {
  it('tells the kinds of webhook apart', () => {
    assert.equal(classifyEvent({ MessageSid: 'SM1', SmsStatus: 'received', Body: 'hi' }), 'message');
    assert.equal(classifyEvent({ MessageSid: 'SM1', MessageStatus: 'delivered' }), 'message-status');
    assert.equal(classifyEvent({ CallSid: 'CA1', CallStatus: 'ringing', Direction: 'inbound' }), 'call');
    assert.equal(classifyEvent({ CallSid: 'CA1', CallStatus: 'completed' }), 'call-status');
    assert.equal(classifyEvent({ CallSid: 'CA1', CallStatus: 'ringing', CallbackSource: 'call-progress-events' }), 'call-status');
    assert.equal(classifyEvent({ Foo: 'bar' }), 'other');
    assert.equal(classifyEvent({ CallSid: 'CA1', CallStatus: 'in-progress', Digits: '1' }), 'gather');
    assert.equal(classifyEvent({ CallSid: 'CA1', CallStatus: 'in-progress', SpeechResult: 'yes', Confidence: '0.9' }), 'gather');
  });

  it('accepts a host the request names only when it is ours or named: its port, IPv6, a malformed one', () => {
    const own = () => new Set(['localhost', '127.0.0.1', '::1', 'box']);
    const named = parseHostList(' https://Home.example.com/red, tunnel.example.net:8443 [fe80::2]');
    assert.deepEqual(named, ['home.example.com', 'tunnel.example.net:8443', '[fe80::2]']);
    assert.deepEqual(['[::1]:1880', '::1', 'Home.example.com:443', 'box:80'].map(hostName), ['::1', '::1', 'home.example.com', 'box']);
    for (const host of [
      'localhost:1880',
      '[::1]:1880',
      'BOX',
      'home.example.com',
      'home.example.com:8080',
      'tunnel.example.net:8443',
      '[fe80::2]:80',
    ])
      assert.equal(acceptedHost(host, named, own), true, host);
    for (const host of [
      'other.example.com',
      'tunnel.example.net',
      '127.0.0.1:1@other.example.com',
      'box/x',
      '',
      'localhost.other.example.com',
    ])
      assert.equal(acceptedHost(host, named, own), false, host);
  });

  it('reconstructs the signed URL: local, public base, trusted proxy headers (first of a chain)', () => {
    const req = {
      originalUrl: '/twilio/sms?a=1',
      protocol: 'http',
      headers: { host: '127.0.0.1:1880', 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'home.example.com, proxy.local' },
    };
    assert.equal(signedUrl(req), 'http://127.0.0.1:1880/twilio/sms?a=1');
    assert.equal(signedUrl(req, { trustProxy: true }), 'https://home.example.com/twilio/sms?a=1');
    assert.equal(signedUrl(req, { publicBaseUrl: 'https://home.example.com/red/' }), 'https://home.example.com/red/twilio/sms?a=1');
  });
});
