import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import {
  HTTP_STATUS_CODES,
  TWILIO_ERROR_TABLE,
  TwilioNodeError,
  maskTexts,
  secretRedactor,
  toTwilioNodeError,
} from '../../../lib/core/errors';

function restException(status: number, body: object | string) {
  return new twilio.RestException({ statusCode: status, body: typeof body === 'string' ? body : JSON.stringify(body), headers: {} });
}

describe('error mapping', () => {
  it("maps Twilio's codes through the one table, keeping twilioCode, status and moreInfo", () => {
    const err = toTwilioNodeError(
      restException(400, {
        code: 21211,
        message: "The 'To' number 123 is not a valid phone number.",
        more_info: 'https://www.twilio.com/docs/errors/21211',
        status: 400,
      }),
    );
    assert.equal(err.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(err.twilioCode, 21211);
    assert.equal(err.status, 400);
    assert.equal(err.moreInfo, 'https://www.twilio.com/docs/errors/21211');
    assert.deepEqual(err.cause, { twilioCode: 21211, status: 400, moreInfo: 'https://www.twilio.com/docs/errors/21211' });
    assert.match(err.message, /not a valid phone number/);
    for (const [code, expected] of Object.entries(TWILIO_ERROR_TABLE)) {
      assert.equal(
        toTwilioNodeError(restException(400, { code: Number(code), message: 'm', status: 400 })).code,
        expected,
        `Twilio ${code}`,
      );
    }
  });

  it('names other HTTP failures after their status, and a coded 400 INVALID_REQUEST_ERROR', () => {
    for (const [status, name] of Object.entries(HTTP_STATUS_CODES)) {
      assert.equal(toTwilioNodeError(restException(Number(status), { message: 'x', status: Number(status) })).code, name);
    }
    assert.equal(
      toTwilioNodeError(restException(400, { code: 21620, message: 'Invalid media URL(s)', status: 400 })).code,
      'INVALID_REQUEST_ERROR',
    );
    assert.equal(toTwilioNodeError(restException(418, 'not json')).code, 'INVALID_REQUEST_ERROR');
    assert.equal(toTwilioNodeError(restException(302, '')).code, 'UNKNOWN_ERROR');
  });

  it("maps network failures, timeouts and the SDK's own parameter checks", () => {
    const errno = (code: string, message = code) => Object.assign(new Error(message), { code });
    assert.equal(toTwilioNodeError(errno('ECONNREFUSED')).code, 'TWILIO_CONNECTION_ERROR');
    assert.equal(toTwilioNodeError(errno('ECONNRESET')).code, 'TWILIO_CONNECTION_ERROR');
    assert.equal(toTwilioNodeError(errno('ENOTFOUND')).code, 'TWILIO_CONNECTION_ERROR');
    assert.equal(toTwilioNodeError(new Error('socket hang up')).code, 'TWILIO_CONNECTION_ERROR');
    assert.equal(toTwilioNodeError(errno('ECONNABORTED', 'timeout of 30000ms exceeded')).code, 'REQUEST_TIMEOUT');
    assert.equal(toTwilioNodeError(new Error('Required parameter "params[\'to\']" missing.')).code, 'MISSING_INPUT');
    assert.equal(toTwilioNodeError(new TypeError('boom')).code, 'UNKNOWN_ERROR');
    assert.equal(toTwilioNodeError('a string').code, 'UNKNOWN_ERROR');
    const own = new TwilioNodeError('INVALID_INPUT', 'x');
    assert.equal(toTwilioNodeError(own), own);
  });

  it('masks secrets in every message it builds', () => {
    const redact = secretRedactor(['s3cr3t-token', undefined, '']);
    const err = toTwilioNodeError(new Error('auth s3cr3t-token failed, again s3cr3t-token'), redact);
    assert.equal(err.message, 'auth ******** failed, again ********');
    assert.equal(secretRedactor([])('unchanged'), 'unchanged');
  });

  it('masks every text of a value (keys too), also as JSON text writes it, and keeps what is not text', () => {
    const header = 'QUMxOnRva2Vu/x+y=';
    const redact = secretRedactor([header, 'tok-12345']);
    assert.equal(redact(JSON.stringify({ h: header }).replace(/\//g, '\\/')), '{"h":"********"}', 'a "/" escaped by the server');
    const bytes = Buffer.from('tok-12345');
    const when = new Date(0);
    const masked = maskTexts(
      { error_message: `Basic ${header}`, nested: [{ note: 'tok-12345!' }, 3, null], 'tok-12345': true, bytes, when },
      redact,
    );
    assert.deepEqual(masked, { error_message: 'Basic ********', nested: [{ note: '********!' }, 3, null], '********': true, bytes, when });
    assert.equal(masked.bytes, bytes, 'a Buffer is kept as it is');
    const hostile = JSON.parse('{"__proto__": {"polluted": "tok-12345"}}') as Record<string, unknown>;
    const copy = maskTexts(hostile, redact);
    assert.deepEqual(Object.keys(copy), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(maskTexts('tok-12345', redact), '********');
  });
});
