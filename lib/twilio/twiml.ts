/**
 * The TwiML a twilio-reply answers with, built with the SDK's MessagingResponse and VoiceResponse so
 * every text and attribute is XML-escaped. The node's own texts are Mustache templates, as in twilio-send.
 */
import twilio from 'twilio';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { textField } from './templates';
import { PATTERNS, isE164, isHttpUrl, wholeNumber } from './values';

const TWIML_DOCUMENT = new RegExp(PATTERNS.twimlDocument);

export const REPLY_ACTIONS = ['message', 'say', 'play', 'gather', 'dial', 'redirect', 'hangup', 'reject', 'raw', 'empty'] as const;
export type ReplyAction = (typeof REPLY_ACTIONS)[number];

export interface ReplyFields {
  text?: unknown;
  mediaUrl?: unknown;
  voice?: unknown;
  language?: unknown;
  url?: unknown;
  loop?: unknown;
  input?: unknown;
  numDigits?: unknown;
  timeout?: unknown;
  number?: unknown;
  callerId?: unknown;
  reason?: unknown;
  metadata?: unknown;
}

const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v));
const int = (name: string, v: unknown): number | undefined => (v === undefined || v === '' ? undefined : wholeNumber(name, v, { min: 0 }));
const url = (name: string, v: unknown, required = false): string | undefined => {
  const s = str(v);
  if (s === undefined) {
    if (required) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: name }));
    return undefined;
  }
  if (!(isHttpUrl(s) && !/\s/.test(s)) && !/^\/\S*$/.test(s))
    throw new TwilioNodeError('INVALID_INPUT', text('urlOrPath', { field: name }));
  return s;
};

function spoken(fields: ReplyFields, msg: object, textIsTemplate: boolean): string {
  if (fields.text === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Text' }));
  return textField('Text', fields.text, textIsTemplate, msg, fields.metadata);
}

function sayAttributes(fields: ReplyFields): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (str(fields.voice)) attributes.voice = String(fields.voice);
  if (str(fields.language)) attributes.language = String(fields.language);
  return attributes;
}

/** Raw TwiML given by the flow: it must be a <Response> document (it is sent as it is). */
function rawTwiml(value: unknown): string {
  if (typeof value !== 'string' || !TWIML_DOCUMENT.test(value)) {
    throw new TwilioNodeError('INVALID_INPUT', text('rawTwiml'));
  }
  return value.trim();
}

/** `textIsTemplate`: the Text is the node's own (a template), not one read from msg or context (literal). */
export function buildTwiml(action: ReplyAction, fields: ReplyFields, msg: object, raw?: unknown, textIsTemplate = true): string {
  if (action === 'raw') return rawTwiml(raw);
  if (action === 'message') {
    const response = new twilio.twiml.MessagingResponse();
    const body = fields.text !== undefined ? spoken(fields, msg, textIsTemplate) : '';
    const media = Array.isArray(fields.mediaUrl)
      ? fields.mediaUrl.map(String)
      : (str(fields.mediaUrl)
          ?.split(/[\s,]+/)
          .filter(Boolean) ?? []);
    if (!body && media.length === 0) throw new TwilioNodeError('MISSING_INPUT', text('replyNeedsContent'));
    const message = response.message({}, body);
    for (const m of media) message.media({}, url('Media URL', m, true)!);
    return response.toString();
  }
  const response = new twilio.twiml.VoiceResponse();
  switch (action) {
    case 'say':
      response.say(
        { ...sayAttributes(fields), ...(int('Loop', fields.loop) !== undefined ? { loop: int('Loop', fields.loop) } : {}) },
        spoken(fields, msg, textIsTemplate),
      );
      break;
    case 'play':
      response.play(
        { ...(int('Loop', fields.loop) !== undefined ? { loop: int('Loop', fields.loop) } : {}) },
        url('Audio URL', fields.url, true)!,
      );
      break;
    case 'gather': {
      const input = str(fields.input) ?? 'dtmf';
      if (!['dtmf', 'speech', 'dtmf speech'].includes(input)) throw new TwilioNodeError('INVALID_INPUT', text('gatherInput'));
      const gather = response.gather({
        input: input.split(' ') as Array<'dtmf' | 'speech'>,
        ...(url('Action URL', fields.url) ? { action: url('Action URL', fields.url) } : {}),
        ...(int('Digits', fields.numDigits) !== undefined ? { numDigits: int('Digits', fields.numDigits) } : {}),
        ...(int('Timeout', fields.timeout) !== undefined ? { timeout: int('Timeout', fields.timeout) } : {}),
      });
      if (fields.text !== undefined) gather.say(sayAttributes(fields), spoken(fields, msg, textIsTemplate));
      break;
    }
    case 'dial': {
      const number = str(fields.number);
      if (!number) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Number' }));
      const dial = response.dial({
        ...(str(fields.callerId) ? { callerId: String(fields.callerId) } : {}),
        ...(int('Timeout', fields.timeout) !== undefined ? { timeout: int('Timeout', fields.timeout) } : {}),
      });
      if (number.startsWith('client:')) dial.client({}, number.slice(7));
      else if (number.startsWith('sip:')) dial.sip({}, number);
      else if (isE164(number)) dial.number({}, number);
      else throw new TwilioNodeError('INVALID_TO_PHONE_NUMBER_ERROR', text('dialTarget', { number }));
      break;
    }
    case 'redirect':
      response.redirect({}, url('Redirect URL', fields.url, true)!);
      break;
    case 'hangup':
      response.hangup();
      break;
    case 'reject': {
      const reason = str(fields.reason) ?? 'rejected';
      if (!['rejected', 'busy'].includes(reason)) throw new TwilioNodeError('INVALID_INPUT', text('rejectReason'));
      response.reject({ reason: reason as 'rejected' });
      break;
    }
    case 'empty':
      break;
    default:
      throw new TwilioNodeError('INVALID_INPUT', text('unknownReply', { action: String(action) }));
  }
  return response.toString();
}

/** What twilio-in answers when no reply is wanted, or none came in time: Twilio's "do nothing". */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

/** How long a page's call waits for the key after saying the alert (then says it once more and ends). */
export const PAGE_GATHER_TIMEOUT_SECONDS = 8;

/**
 * A page's call: the alert said, then how to acknowledge. With a URL Twilio can reach, a <Gather>
 * takes the key (its Digits go to that URL); without one, the call asks for a text instead.
 */
export function pageCallTwiml(
  spoken: string,
  how: { key: string; gatherUrl: string; press: string } | { replyByText: string },
  voice?: string,
  language?: string,
): string {
  const response = new twilio.twiml.VoiceResponse();
  const attributes: Record<string, string> = {};
  if (voice) attributes.voice = voice;
  if (language) attributes.language = language;
  if ('gatherUrl' in how) {
    const gather = response.gather({
      numDigits: how.key.length,
      action: how.gatherUrl,
      method: 'POST',
      timeout: PAGE_GATHER_TIMEOUT_SECONDS,
    });
    gather.say(attributes as never, `${spoken} ${how.press}`);
    response.say(attributes as never, spoken);
  } else {
    response.say(attributes as never, `${spoken} ${how.replyByText}`);
  }
  return response.toString();
}
