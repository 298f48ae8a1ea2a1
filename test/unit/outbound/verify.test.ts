/**
 * lib/outbound/verify.ts without a runtime: what a msg's fields make of a request (refused before any
 * request when they cannot), where it goes (verify.twilio.com, its region and edge, or the account's
 * base URL), and which output each of Twilio's answers takes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TwilioNodeError } from '../../../lib/core/errors';
import { VERIFY_OUTPUTS, verifyHttpRequest, verifyOutput, verifyRequest } from '../../../lib/outbound/verify';
import { RawTransport, buildUrl } from '../../../lib/transport/raw-request';

const SERVICE = 'VA' + 'a'.repeat(32);
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TwilioNodeError);
    return err.code;
  }
  return 'none';
};
const transport = (extra: Partial<RawTransport> = {}) =>
  ({ accountSid: 'AC' + 'b'.repeat(32), authorization: '', agentFor: () => undefined, schedule: () => undefined, ...extra }) as never;

describe('verify requests', () => {
  it('starts and checks with only the form Twilio takes', () => {
    assert.deepEqual(
      verifyHttpRequest(verifyRequest('start', { serviceSid: SERVICE, to: '+1 (415) 555-0100', channel: 'WhatsApp' })).form,
      {
        To: '+14155550100',
        Channel: 'whatsapp',
      },
    );
    const check = verifyHttpRequest(verifyRequest('check', { serviceSid: SERVICE, to: '+14155550100', code: ' 012345 ' }));
    assert.equal(check.path, `/v2/Services/${SERVICE}/VerificationCheck`);
    assert.deepEqual(check.form, { Code: '012345', To: '+14155550100' });
    assert.equal(check.method, 'POST');
    assert.equal(check.retry.count, 0, 'never repeated');
    const bySid = verifyRequest('check', { serviceSid: SERVICE, verificationSid: 'VE' + 'c'.repeat(32), code: 1234 });
    assert.deepEqual(verifyHttpRequest(bySid).form, { Code: '1234', VerificationSid: 'VE' + 'c'.repeat(32) });
  });

  it('goes to verify.twilio.com, its region and edge, or the base URL', () => {
    const request = verifyHttpRequest(verifyRequest('start', { serviceSid: SERVICE, to: 'a@example.com', channel: 'email' }));
    assert.equal(buildUrl(request, transport()).href, `https://verify.twilio.com/v2/Services/${SERVICE}/Verifications`);
    assert.equal(
      buildUrl(request, transport({ region: 'ie1', edge: 'dublin' })).href,
      `https://verify.dublin.ie1.twilio.com/v2/Services/${SERVICE}/Verifications`,
    );
    assert.equal(
      buildUrl(request, transport({ baseUrl: 'http://127.0.0.1:3010/' })).href,
      `http://127.0.0.1:3010/v2/Services/${SERVICE}/Verifications`,
    );
  });

  it('refuses what it cannot send, before any request', () => {
    assert.equal(
      codeOf(() => verifyRequest('start', { to: '+14155550100' })),
      'MISSING_INPUT',
    );
    assert.equal(
      codeOf(() => verifyRequest('start', { serviceSid: 'MG' + 'a'.repeat(32), to: '+14155550100' })),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => verifyRequest('start', { serviceSid: SERVICE })),
      'MISSING_INPUT',
    );
    assert.equal(
      codeOf(() => verifyRequest('start', { serviceSid: SERVICE, to: '+14155550100', channel: 'sna' })),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => verifyRequest('start', { serviceSid: SERVICE, to: 'a@example.com', channel: 'sms' })),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => verifyRequest('check', { serviceSid: SERVICE, to: '+14155550100' })),
      'MISSING_INPUT',
    );
    assert.equal(
      codeOf(() => verifyRequest('check', { serviceSid: SERVICE, code: '1234' })),
      'MISSING_INPUT',
    );
    assert.equal(
      codeOf(() => verifyRequest('check', { serviceSid: SERVICE, to: '+14155550100', code: 12.5 })),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => verifyRequest('check', { serviceSid: SERVICE, verificationSid: 'VE123', code: '1234' })),
      'INVALID_INPUT',
    );
  });

  it('sends a code only when it is 4 to 10 digits, and an address only when it is one (any input)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\d{0,12}$/), fc.anything()), (code) => {
        let request;
        try {
          request = verifyRequest('check', { serviceSid: SERVICE, to: '+14155550100', code });
        } catch (err) {
          assert.ok(err instanceof TwilioNodeError && ['INVALID_INPUT', 'MISSING_INPUT'].includes(err.code));
          return;
        }
        assert.match(request.code!, /^\d{4,10}$/);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.constantFrom('sms', 'whatsapp', 'call', 'email'), (to, channel) => {
        let request;
        try {
          request = verifyRequest('start', { serviceSid: SERVICE, to, channel });
        } catch (err) {
          assert.ok(err instanceof TwilioNodeError && err.code === 'INVALID_INPUT');
          return;
        }
        assert.match(request.to!, channel === 'email' ? /^[^\s{}<>]+@[^\s{}<>]+$/ : /^\+[1-9]\d{1,14}$/);
      }),
    );
  });

  it("puts each answer on its action's output, with the refusal on msg.error", () => {
    const start = verifyRequest('start', { serviceSid: SERVICE, to: '+14155550100' });
    const check = verifyRequest('check', { serviceSid: SERVICE, to: '+14155550100', code: '1234' });
    assert.equal(VERIFY_OUTPUTS.start.length, 2);
    assert.equal(VERIFY_OUTPUTS.check.length, 3);
    const sent = verifyOutput({ _msgid: 'a' }, start, { output: 0, outcome: 'sent', resource: { sid: 'VE1', status: 'pending' } });
    assert.equal(sent.length, 2);
    assert.deepEqual((sent[0] as any).verify, {
      action: 'start',
      outcome: 'sent',
      status: 'pending',
      sid: 'VE1',
      serviceSid: SERVICE,
      to: '+14155550100',
      channel: 'sms',
    });
    const error = new TwilioNodeError('VERIFY_MAX_CHECK_ATTEMPTS', 'Max check attempts reached', { twilioCode: 60202, status: 429 });
    const late = verifyOutput({ _msgid: 'b' }, check, { output: 2, outcome: 'expired', error });
    assert.equal(late.length, 3);
    assert.deepEqual([late[0], late[1]], [null, null]);
    const msg = late[2] as any;
    assert.equal(msg.verify.status, 'max_attempts_reached');
    assert.deepEqual(msg.error, {
      code: 'VERIFY_MAX_CHECK_ATTEMPTS',
      message: 'Max check attempts reached',
      cause: { twilioCode: 60202, status: 429 },
    });
    assert.equal(msg.payload, msg.verify);
  });
});
