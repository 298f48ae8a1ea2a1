/**
 * Recipient and sender addresses: phone numbers in E.164, channel addresses (`whatsapp:+1…`), and for
 * calls Twilio Client and SIP endpoints. Checked before any request, so a typo costs no API call.
 */
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { PATTERNS, isSid } from './values';

const E164 = new RegExp(PATTERNS.e164);
const CHANNEL_PREFIXES = ['whatsapp:', 'messenger:'];
const CALL_ENDPOINT = new RegExp(PATTERNS.callEndpoint);
const ALPHANUMERIC_SENDER = new RegExp(PATTERNS.alphanumericSender);
const SHORT_CODE = new RegExp(PATTERNS.shortCode);

type Channel = 'message' | 'call';

/** Removes the punctuation people type into numbers: "+1 (415) 555-0100" → "+14155550100". */
function compactNumber(value: string): string {
  if (E164.test(value)) return value; // most numbers come compact
  return /^\+?[\d\s().-]+$/.test(value) ? value.replace(/[\s().-]/g, '') : value;
}

/** The channel prefix of an address (`whatsapp:`), or '' for a plain number. */
function channelOf(address: string): string {
  if (!address.includes(':')) return '';
  const lower = address.toLowerCase();
  return CHANNEL_PREFIXES.find((p) => lower.startsWith(p)) ?? '';
}

/** Normalises one recipient, or throws INVALID_TO_PHONE_NUMBER_ERROR naming it. */
export function normaliseRecipient(raw: string, channel: Channel): string {
  const address = raw.trim();
  if (channel === 'call' && CALL_ENDPOINT.test(address)) return address;
  const prefix = channelOf(address);
  const number = compactNumber(address.slice(prefix.length).trim());
  if (E164.test(number) && (channel === 'message' || prefix === '')) return prefix + number;
  throw new TwilioNodeError(
    'INVALID_TO_PHONE_NUMBER_ERROR',
    text(channel === 'message' ? 'badRecipientMessage' : 'badRecipientCall', { address }),
  );
}

/** One item of a To list, normalised; '' for a blank one. */
function recipientItem(this: Channel, item: unknown): string {
  if (typeof item !== 'string') throw new TwilioNodeError('INVALID_INPUT', text('recipientType', { type: typeof item }));
  return item.trim() === '' ? '' : normaliseRecipient(item, this);
}

/** Keeps an address where it first appears, and no blank. */
const firstOfEach = (address: string, index: number, all: string[]): boolean => address !== '' && all.indexOf(address) === index;

/**
 * Reads the To field: one address, a comma/semicolon/newline-separated list, or an array. Duplicates
 * are sent once, since results are keyed by recipient. The list is made by Array methods, not grown
 * from a literal `[]`: a send holds its recipients until Twilio answers, and V8 may decide from a
 * burst's first requests (all waiting at once) that a literal's arrays live long and allocate every
 * later one in the old generation, where it stays as garbage until the next full collection.
 */
export function parseRecipients(value: unknown, channel: Channel): string[] {
  let items: unknown[];
  if (Array.isArray(value)) items = value;
  else if (typeof value === 'string') items = value.split(/[,;\n]/);
  else if (typeof value === 'number') items = [`+${value}`];
  else throw new TwilioNodeError('INVALID_INPUT', text('toType', { type: value === null ? 'null' : typeof value }));
  // Each item in turn (its type, then its address), as one loop would; then the first of each address.
  const addresses = items.map(recipientItem, channel);
  const recipients = addresses.length === 1 && addresses[0] !== '' ? addresses : addresses.filter(firstOfEach);
  if (recipients.length === 0) throw new TwilioNodeError('MISSING_INPUT', text('noRecipient'));
  return recipients;
}

export interface Sender {
  from?: string;
  messagingServiceSid?: string;
}

/** Reads a sender: a number, an alphanumeric sender ID, a short code, a channel address or an MG Sid. */
export function parseSender(value: unknown, channel: Channel): Sender {
  if (typeof value !== 'string') throw new TwilioNodeError('INVALID_INPUT', text('fromType', { type: typeof value }));
  const address = value.trim();
  const prefix = channelOf(address);
  const number = compactNumber(address.slice(prefix.length).trim());
  if (isSid(address, 'MG')) {
    if (channel === 'call') throw new TwilioNodeError('INVALID_FROM_PHONE_NUMBER_ERROR', text('callFromService'));
    return { messagingServiceSid: address };
  }
  if (channel === 'call' && CALL_ENDPOINT.test(address)) return { from: address };
  if (E164.test(number) && (channel === 'message' || prefix === '')) return { from: prefix + number };
  if (channel === 'message' && prefix === '' && (ALPHANUMERIC_SENDER.test(address) || SHORT_CODE.test(address))) {
    return { from: address };
  }
  throw new TwilioNodeError(
    'INVALID_FROM_PHONE_NUMBER_ERROR',
    text(channel === 'message' ? 'badSenderMessage' : 'badSenderCall', { address }),
  );
}

/** The channel prefix (`whatsapp:`) a bare number gets from this sender, or ''. */
export function channelPrefix(sender: Sender): string {
  return sender.from ? channelOf(sender.from) : '';
}

/** WhatsApp senders only reach WhatsApp recipients, so a bare number gets the sender's channel. */
export function matchSenderChannel(recipient: string, sender: Sender): string {
  return withChannel(recipient, channelPrefix(sender));
}

/** `recipient` on the channel `prefix` names (channelPrefix), when it is a bare number. */
export function withChannel(recipient: string, prefix: string): string {
  return prefix && recipient.startsWith('+') ? prefix + recipient : recipient;
}
