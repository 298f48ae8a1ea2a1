import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf } from '../../support/assertions';
import { matchSenderChannel, parseRecipients, parseSender } from '../../../lib/twilio/addresses';

describe('addresses', () => {
  it('reads one number, a list or an array, removing typing punctuation and duplicates', () => {
    assert.deepEqual(parseRecipients('+1 (415) 555-0100', 'message'), ['+14155550100']);
    assert.deepEqual(parseRecipients('+14155550100, +447700900123;+14155550100\n', 'message'), ['+14155550100', '+447700900123']);
    assert.deepEqual(parseRecipients(['whatsapp:+14155550100', ' +33612345678 '], 'message'), ['whatsapp:+14155550100', '+33612345678']);
    assert.deepEqual(parseRecipients(['client:alice', 'sip:bob@example.com', '+14155550100'], 'call'), [
      'client:alice',
      'sip:bob@example.com',
      '+14155550100',
    ]);
  });

  it('refuses what Twilio would refuse, with the right code', () => {
    assert.equal(
      codeOf(() => parseRecipients('4155550100', 'message')),
      'INVALID_TO_PHONE_NUMBER_ERROR',
    );
    assert.equal(
      codeOf(() => parseRecipients('+0123', 'message')),
      'INVALID_TO_PHONE_NUMBER_ERROR',
    );
    assert.equal(
      codeOf(() => parseRecipients('whatsapp:+14155550100', 'call')),
      'INVALID_TO_PHONE_NUMBER_ERROR',
    );
    assert.equal(
      codeOf(() => parseRecipients('client:alice', 'message')),
      'INVALID_TO_PHONE_NUMBER_ERROR',
    );
    assert.equal(
      codeOf(() => parseRecipients(' , ', 'message')),
      'MISSING_INPUT',
    );
    assert.equal(
      codeOf(() => parseRecipients({ to: 1 }, 'message')),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => parseRecipients([42], 'message')),
      'INVALID_INPUT',
    );
  });

  it('reads senders: numbers, alphanumeric IDs, short codes, WhatsApp and Messaging Services', () => {
    assert.deepEqual(parseSender('+1 415 555 0100', 'message'), { from: '+14155550100' });
    assert.deepEqual(parseSender('MyBrand', 'message'), { from: 'MyBrand' });
    assert.deepEqual(parseSender('12345', 'message'), { from: '12345' });
    assert.deepEqual(parseSender('whatsapp:+14155238886', 'message'), { from: 'whatsapp:+14155238886' });
    assert.deepEqual(parseSender('MG0123456789abcdef0123456789abcdef', 'message'), {
      messagingServiceSid: 'MG0123456789abcdef0123456789abcdef',
    });
    assert.equal(
      codeOf(() => parseSender('MG0123456789abcdef0123456789abcdef', 'call')),
      'INVALID_FROM_PHONE_NUMBER_ERROR',
    );
    assert.equal(
      codeOf(() => parseSender('MyBrand', 'call')),
      'INVALID_FROM_PHONE_NUMBER_ERROR',
    );
    assert.equal(
      codeOf(() => parseSender('Far too long a sender', 'message')),
      'INVALID_FROM_PHONE_NUMBER_ERROR',
    );
  });

  it('gives bare numbers the WhatsApp channel of a WhatsApp sender', () => {
    assert.equal(matchSenderChannel('+14155550100', { from: 'whatsapp:+14155238886' }), 'whatsapp:+14155550100');
    assert.equal(matchSenderChannel('+14155550100', { from: '+14155238886' }), '+14155550100');
    assert.equal(matchSenderChannel('whatsapp:+14155550100', { from: 'whatsapp:+14155238886' }), 'whatsapp:+14155550100');
  });
});
