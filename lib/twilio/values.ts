/**
 * Each rule for a value, once: phone numbers, Sids, URLs, Twilio's host names, whole numbers with
 * bounds. The runtime checks with these functions, and the editor validates with the same patterns
 * (`PATTERNS`, written into resources/twilio-editor.js by the build), so the two cannot drift apart.
 */
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';

/** Regular expressions as source text: the editor gets them as they are. */
export const PATTERNS = {
  /** A phone number in E.164: + and up to 15 digits, no leading zero. */
  e164: '^\\+[1-9]\\d{1,14}$',
  /** What follows a Sid's two-letter prefix. */
  sidHex: '[0-9a-fA-F]{32}',
  /** Twilio's region and edge names (us1, ie1, dublin): labels of a host name. */
  hostLabel: '^[a-z0-9]+(-[a-z0-9]+)*$',
  /** An http(s) URL, as the editor can tell one from its text. */
  httpUrl: '^https?:\\/\\/\\S+$',
  /** An alphanumeric sender ID: 1 to 11 letters, digits and spaces, one letter at least. */
  alphanumericSender: '^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$',
  /** A short code: 3 to 8 digits. */
  shortCode: '^\\d{3,8}$',
  /** A call's other endpoints: a Twilio Client identity or a SIP address. */
  callEndpoint: '^(client:[\\w.@-]+|sip:\\S+@\\S+)$',
  /** A `${NAME}` reference to an environment variable. */
  envReference: '\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}',
  /** An API base URL or a public URL of Node-RED: http(s), a host, no user or password. */
  baseUrl: '^https?:\\/\\/[^\\s@\\/]+(\\/\\S*)?$',
  /** A TwiML document as twilio-reply and twilio-in send it: a <Response>, after an optional XML declaration. */
  twimlDocument: '^\\s*(<\\?xml[^>]*>\\s*)?<Response[\\s>/]',
  /** A phone number as people type it: E.164 with spaces, dots, dashes and brackets (removed before the check). */
  phoneAsTyped: '\\+[1-9][\\d\\s().-]{1,20}',
} as const;

/** Numeric limits the editor checks too. */
export const LIMITS = {
  /** How long twilio-in waits for a twilio-reply: Twilio gives up on a webhook after 15 s. */
  replyWaitSeconds: { min: 0.1, max: 14 },
  /** How often twilio-in looks for new messages when it polls: often enough for a chat, not a flood. */
  pollSeconds: { min: 1, max: 3600 },
  /** How long twilio-send waits for a message's or call's outcome: Twilio keeps trying a text up to 10 h, WhatsApp longer. */
  outcomeWaitSeconds: { min: 5, max: 7 * 24 * 3600 },
  /** How long twilio-ask waits for a reply: Studio's default is an hour; up to two weeks. */
  askWaitSeconds: { min: 10, max: 14 * 24 * 3600 },
} as const;

const E164 = new RegExp(PATTERNS.e164);
const HOST_LABEL = new RegExp(PATTERNS.hostLabel);
const SID_PATTERNS = new Map<string, RegExp>();

export function isE164(value: unknown): value is string {
  return typeof value === 'string' && E164.test(value);
}

/** `AC` + 32 hex digits, and so on; a pattern made once per prefix (a send checks its sender on every message). */
export function isSid(value: unknown, prefix: string): value is string {
  let pattern = SID_PATTERNS.get(prefix);
  if (!pattern) SID_PATTERNS.set(prefix, (pattern = new RegExp(`^${prefix}${PATTERNS.sidHex}$`)));
  return typeof value === 'string' && pattern.test(value);
}

/** Whether a text is an http(s) URL that parses. */
export function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string' || !/^https?:\/\//i.test(value)) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** A region or edge: empty, or one of Twilio's names. */
export function checkHostLabel(field: string, value: string | undefined): void {
  if (value && !HOST_LABEL.test(value)) throw new TwilioNodeError('INVALID_INPUT', text('hostLabel', { field }));
}

interface Bounds {
  min?: number;
  max?: number;
}

/** A number, or a text that is one ("30"), as a whole number within bounds; undefined when it is none. */
export function asWholeNumber(value: unknown, bounds: Bounds = {}): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) return undefined;
  if ((bounds.min !== undefined && n < bounds.min) || (bounds.max !== undefined && n > bounds.max)) return undefined;
  return n;
}

/** A whole number within bounds, or a coded INVALID_INPUT naming the field and the bounds. */
export function wholeNumber(field: string, value: unknown, bounds: Bounds = {}): number {
  const n = asWholeNumber(value, bounds);
  if (n !== undefined) return n;
  if (bounds.max !== undefined)
    throw new TwilioNodeError('INVALID_INPUT', text('wholeNumberRange', { field, min: bounds.min ?? 0, max: bounds.max }));
  if (bounds.min === 1) throw new TwilioNodeError('INVALID_INPUT', text('wholeNumberFromOne', { field }));
  throw new TwilioNodeError('INVALID_INPUT', text('wholeNumber', { field }));
}

/** A number (decimals too) within bounds from a node's settings, the fallback when empty, else a coded INVALID_INPUT. */
export function numberInRange(field: string, value: unknown, bounds: Required<Bounds>, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < bounds.min || n > bounds.max)
    throw new TwilioNodeError('INVALID_INPUT', text('numberRange', { field, ...bounds }));
  return n;
}

/** A positive number of seconds from a node's settings, or the fallback when it is empty or not one. */
export function seconds(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
