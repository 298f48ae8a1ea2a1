/**
 * Attack (#24 part 2): a stranger's text reaching twilio-verify's fields from the msg (a flow that
 * takes the Service SID, the channel or the address from an SMS): a path into another Twilio resource
 * ('../../Accounts/…'), a line break into the form, a template, a look-alike letter. Each is refused
 * before any request, and what is sent is only ever /v2/Services/VA…/Verifications|VerificationCheck.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyHttpRequest, verifyRequest } from '../../lib/outbound/verify';

const VA = 'VA' + 'a'.repeat(32);
const codeOf = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (err) {
    return String((err as { code?: string }).code);
  }
};

describe('attack: stranger text in twilio-verify fields', () => {
  it('refuses a Service SID that is a path, carries a line break, a template or a look-alike', () => {
    for (const serviceSid of [
      '../../2010-04-01/Accounts/AC' + '0'.repeat(32) + '/Messages',
      `${VA}/../../Accounts`,
      `${VA}%2F..%2F..`,
      `${VA}\r\nX-Injected: 1`,
      `${VA}?To=+15555550199`,
      '{{payload}}',
      'VА' + 'a'.repeat(32), // a Cyrillic A
      VA.toUpperCase() + 'A',
      ` ${VA}/`,
    ])
      assert.equal(
        codeOf(() => verifyRequest('start', { serviceSid, to: '+15555550100' })),
        'INVALID_INPUT',
        JSON.stringify(serviceSid),
      );
  });

  it('refuses a channel or a Verification SID that is anything but one of its values', () => {
    for (const channel of ['sms\r\nTo=+15555550199', 'sms&To=+1', 'voice', '{{channel}}'])
      assert.equal(
        codeOf(() => verifyRequest('start', { serviceSid: VA, to: '+15555550100', channel })),
        'INVALID_INPUT',
        channel,
      );
    for (const verificationSid of ['VE' + 'a'.repeat(32) + '/..', '../VE', 'VE' + 'g'.repeat(32)])
      assert.equal(
        codeOf(() => verifyRequest('check', { serviceSid: VA, verificationSid, code: '123456' })),
        'INVALID_INPUT',
        verificationSid,
      );
  });

  it('sends only to the Service it was given, with the form it was given', () => {
    const start = verifyHttpRequest(verifyRequest('start', { serviceSid: ` ${VA} `, to: '+1 (555) 555-0100', channel: 'SMS' }));
    assert.equal(start.path, `/v2/Services/${VA}/Verifications`);
    assert.deepEqual(start.form, { To: '+15555550100', Channel: 'sms' });
    const check = verifyHttpRequest(verifyRequest('check', { serviceSid: VA, to: '+15555550100', code: ' 012345 ' }));
    assert.equal(check.path, `/v2/Services/${VA}/VerificationCheck`);
    assert.deepEqual(check.form, { Code: '012345', To: '+15555550100' });
  });
});
