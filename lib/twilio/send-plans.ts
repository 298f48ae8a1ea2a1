/**
 * Turns the values read from a twilio-send node and its msg into the SDK's create() parameters,
 * checking everything Twilio would reject before a request is made. Pure functions: no Node-RED here.
 */
import twilio from 'twilio';
import type { MessageListInstanceCreateOptions } from 'twilio/lib/rest/api/v2010/account/message';
import type { CallListInstanceCreateOptions } from 'twilio/lib/rest/api/v2010/account/call';
import { Sender, channelPrefix, parseRecipients, parseSender, withChannel } from './addresses';
import { isHttpUrl, isSid, wholeNumber } from './values';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { textField } from './templates';

export const MAX_BODY_LENGTH = 1600;
export const MAX_MEDIA = 10;

/** Values a message send reads; each may come from the node or the msg (typed inputs). */
export interface MessageFields {
  to?: unknown;
  from?: unknown;
  body?: unknown;
  mediaUrl?: unknown;
  messagingServiceSid?: unknown;
  contentSid?: unknown;
  contentVariables?: unknown;
  sendAt?: unknown;
  statusCallback?: unknown;
  validityPeriod?: unknown;
  metadata?: unknown;
}

export type CallAction = 'say' | 'twiml' | 'url' | 'application';

export interface CallFields {
  to?: unknown;
  from?: unknown;
  say?: unknown;
  sayVoice?: unknown;
  sayLanguage?: unknown;
  twiml?: unknown;
  url?: unknown;
  applicationSid?: unknown;
  statusCallback?: unknown;
  record?: unknown;
  timeout?: unknown;
  machineDetection?: unknown;
  metadata?: unknown;
}

export interface SendPlan<P> {
  recipients: string[];
  /** Parameters for one recipient. */
  paramsFor(recipient: string): P;
}

function asText(field: string, value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TwilioNodeError('INVALID_INPUT', text('notText', { field, type: value === null ? 'null' : typeof value }));
}

function sid(field: string, value: unknown, prefix: string): string {
  const s = asText(field, value);
  if (!isSid(s, prefix)) throw new TwilioNodeError('INVALID_INPUT', text('sidFormat', { field, prefix }));
  return s;
}

function httpUrl(field: string, value: unknown): string {
  const s = asText(field, value);
  if (!isHttpUrl(s)) throw new TwilioNodeError('INVALID_INPUT', text('httpUrl', { field }));
  return s;
}

function bool(field: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new TwilioNodeError('INVALID_INPUT', text('trueOrFalse', { field }));
}

function mediaUrls(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [value];
  const urls = items.filter((u) => !(typeof u === 'string' && u.trim() === '')).map((u) => httpUrl('Media URL', u));
  if (urls.length > MAX_MEDIA) throw new TwilioNodeError('INVALID_INPUT', text('tooManyMedia', { max: MAX_MEDIA, count: urls.length }));
  return urls;
}

function contentVariables(value: unknown): string {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return JSON.stringify(value);
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return value;
    } catch {
      // fall through to the coded error
    }
  }
  throw new TwilioNodeError('INVALID_INPUT', text('contentVariables'));
}

function futureDate(field: string, value: unknown): Date {
  const date = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new TwilioNodeError('INVALID_INPUT', text('isoDate', { field }));
  if (date.getTime() <= Date.now()) throw new TwilioNodeError('INVALID_INPUT', text('future', { field }));
  return date;
}

function resolveSender(from: unknown, defaultFrom: string, channel: 'message' | 'call'): Sender {
  const value = from ?? (defaultFrom || undefined);
  if (value === undefined) return {};
  return parseSender(value, channel);
}

/** Which text fields are the node's own text, and so templates (lib/templates.ts): all, unless said. */
export interface TemplateFields {
  body?: boolean;
  say?: boolean;
}

export function planMessage(
  fields: MessageFields,
  msg: object,
  defaultFrom: string,
  templates: TemplateFields = {},
): SendPlan<MessageListInstanceCreateOptions> {
  if (fields.to === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'To' }));
  const recipients = parseRecipients(fields.to, 'message');
  const sender = resolveSender(fields.from, defaultFrom, 'message');
  const params: Omit<MessageListInstanceCreateOptions, 'to'> = {};
  if (sender.from) params.from = sender.from;
  const serviceSid =
    fields.messagingServiceSid !== undefined ? sid('Messaging Service SID', fields.messagingServiceSid, 'MG') : sender.messagingServiceSid;
  if (serviceSid) params.messagingServiceSid = serviceSid;
  if (!params.from && !params.messagingServiceSid) {
    throw new TwilioNodeError('MISSING_INPUT', text('noSender'));
  }
  if (fields.body !== undefined) {
    const body = textField('Body', fields.body, templates.body !== false, msg, fields.metadata);
    // Twilio counts characters, not UTF-16 units; a text no longer than the limit in units is within it.
    const length = body.length > MAX_BODY_LENGTH ? [...body].length : body.length;
    if (length > MAX_BODY_LENGTH) throw new TwilioNodeError('INVALID_INPUT', text('bodyTooLong', { length, max: MAX_BODY_LENGTH }));
    if (body !== '') params.body = body;
  }
  if (fields.mediaUrl !== undefined) {
    const urls = mediaUrls(fields.mediaUrl);
    if (urls.length > 0) params.mediaUrl = urls;
  }
  if (fields.contentSid !== undefined) params.contentSid = sid('Content SID', fields.contentSid, 'HX');
  if (fields.contentVariables !== undefined) {
    if (!params.contentSid) throw new TwilioNodeError('INVALID_INPUT', text('contentVariablesNeedSid'));
    params.contentVariables = contentVariables(fields.contentVariables);
  }
  if (!params.body && !params.mediaUrl && !params.contentSid) {
    throw new TwilioNodeError('MISSING_INPUT', text('nothingToSend'));
  }
  if (fields.sendAt !== undefined) {
    if (!params.messagingServiceSid) throw new TwilioNodeError('INVALID_INPUT', text('sendAtNeedsService'));
    params.sendAt = futureDate('Send at', fields.sendAt);
    params.scheduleType = 'fixed';
  }
  if (fields.statusCallback !== undefined) params.statusCallback = httpUrl('Status callback', fields.statusCallback);
  if (fields.validityPeriod !== undefined)
    params.validityPeriod = wholeNumber('Validity period', fields.validityPeriod, { min: 1, max: 36000 });
  return new MessagePlan(recipients, channelPrefix(sender), params);
}

/**
 * A message's plan: a class, not an object literal with a closure. A send holds its plan until
 * Twilio answers; V8 may decide from a burst's first sends (all waiting at once) that a literal's
 * objects live long, and from then on allocate each in the old generation, pulling what it holds
 * (its parameters, its closure's scope) along, to stay as garbage until the next full collection.
 * V8 makes that decision per literal; instances of a class are not allocated old that way.
 */
class MessagePlan implements SendPlan<MessageListInstanceCreateOptions> {
  constructor(
    readonly recipients: string[],
    /** The sender's channel (`whatsapp:`), given to a bare number (withChannel). */
    private readonly prefix: string,
    private readonly params: Omit<MessageListInstanceCreateOptions, 'to'>,
  ) {}

  paramsFor(recipient: string): MessageListInstanceCreateOptions {
    // To first, as in the SDK's own examples ({ to, from, body }): its create() reads some thirty
    // optional keys and stays fast only while every caller in the process passes objects of one shape.
    return { to: withChannel(recipient, this.prefix), ...this.params };
  }
}

const MACHINE_DETECTION = ['Enable', 'DetectMessageEnd'];

/** The TwiML for a call that speaks a text: built by the SDK, so the text is XML-escaped. */
export function sayTwiml(spoken: string, voice?: string, language?: string): string {
  const response = new twilio.twiml.VoiceResponse();
  const attributes: Record<string, string> = {};
  if (voice) attributes.voice = voice;
  if (language) attributes.language = language;
  response.say(attributes, spoken);
  return response.toString();
}

export function planCall(
  action: CallAction,
  fields: CallFields,
  msg: object,
  defaultFrom: string,
  templates: TemplateFields = {},
): SendPlan<CallListInstanceCreateOptions> {
  if (fields.to === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'To' }));
  const recipients = parseRecipients(fields.to, 'call');
  const sender = resolveSender(fields.from, defaultFrom, 'call');
  if (!sender.from) throw new TwilioNodeError('MISSING_INPUT', text('noCaller'));
  const params: Omit<CallListInstanceCreateOptions, 'to'> = { from: sender.from };
  switch (action) {
    case 'say': {
      if (fields.say === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Say' }));
      const spoken = textField('Text to say', fields.say, templates.say !== false, msg, fields.metadata);
      const voice = fields.sayVoice !== undefined ? asText('Voice', fields.sayVoice) : undefined;
      const language = fields.sayLanguage !== undefined ? asText('Language', fields.sayLanguage) : undefined;
      params.twiml = sayTwiml(spoken, voice, language);
      break;
    }
    case 'twiml': {
      if (fields.twiml === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'TwiML' }));
      const twiml = asText('TwiML', fields.twiml);
      if (!/<Response[\s>/]/.test(twiml)) throw new TwilioNodeError('INVALID_INPUT', text('twimlResponse'));
      params.twiml = twiml;
      break;
    }
    case 'url':
      if (fields.url === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'TwiML URL' }));
      params.url = httpUrl('TwiML URL', fields.url);
      break;
    case 'application':
      if (fields.applicationSid === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Application SID' }));
      params.applicationSid = sid('Application SID', fields.applicationSid, 'AP');
      break;
    default:
      throw new TwilioNodeError('INVALID_INPUT', text('unknownCallAction', { action: String(action) }));
  }
  if (fields.statusCallback !== undefined) params.statusCallback = httpUrl('Status callback', fields.statusCallback);
  if (fields.record !== undefined) params.record = bool('Record', fields.record);
  if (fields.timeout !== undefined) params.timeout = wholeNumber('Timeout', fields.timeout, { min: 1, max: 600 });
  if (fields.machineDetection !== undefined) {
    const mode = asText('Machine detection', fields.machineDetection);
    if (!MACHINE_DETECTION.includes(mode)) throw new TwilioNodeError('INVALID_INPUT', text('machineDetection'));
    params.machineDetection = mode;
  }
  return { recipients, paramsFor: (recipient) => ({ to: recipient, ...params }) };
}
