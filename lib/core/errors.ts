/**
 * One error type for every node, and one table that turns whatever failed (our own checks, the
 * SDK, the network, Twilio's error body) into a stable code that flows can branch on.
 */
import { LocalText, Translate, render, text } from './texts';

/**
 * Twilio Verify's refusals that a flow branches on (twilio-verify puts them on its outputs with
 * msg.error): a code checked too often (60202), sent too often (60203), or an address Verify will not
 * deliver to (60205 a landline for SMS, 60223 the channel disabled on the service, 60410 Fraud Guard,
 * 60605 Geo Permissions).
 */
const VERIFY_ERROR_CODES_LIST = ['VERIFY_MAX_CHECK_ATTEMPTS', 'VERIFY_MAX_SEND_ATTEMPTS', 'VERIFY_NOT_DELIVERABLE'] as const;
export const VERIFY_ERROR_CODES: readonly string[] = VERIFY_ERROR_CODES_LIST;

/** Codes the nodes raise themselves, before or around a request. */
const LOCAL_ERROR_CODES = [
  'MISSING_INPUT',
  'INVALID_INPUT',
  'TWILIO_CONNECTION_ERROR',
  'AUTHENTICATION_CONNECTION_ERROR',
  'INVALID_REQUEST_ERROR',
  'INVALID_TO_PHONE_NUMBER_ERROR',
  'INVALID_FROM_PHONE_NUMBER_ERROR',
  'PERMISSION_DENIED_ERROR',
  'INVALID_REGION_TO_PHONE_NUMBER_ERROR',
  'TEMPLATE_READ_ERROR',
  'TEMPLATE_METADATA_ERROR',
  'TEMPLATE_SYNTAX_ERROR',
  'NOT_SUPPORTED',
  /** Withdrawn before it left (the node or its account stopped): safe to send again. */
  'NOT_SENT',
  /** Sent, but its outcome will not be known: the node that waited for it was removed, or holds too many waits. */
  'OUTCOME_UNKNOWN',
  /** The state store a wait, page or question must be kept in is not open (or Redis is unreachable): not sent. */
  'STATE_UNAVAILABLE',
  /** MMS media from bytes needs a public URL Twilio can fetch it from (the account's, or a twilio-in's): not sent. */
  'MEDIA_NEEDS_PUBLIC_URL',
  /** The message's media together is above Twilio's MMS limit (5 MB): not sent. */
  'MEDIA_TOO_LARGE',
  /** The bytes are not a type Twilio takes for MMS (JPEG, PNG, GIF, PDF): not sent. */
  'MEDIA_TYPE_UNSUPPORTED',
  /** A media path outside the folder settings.js allows (twilio.mediaDir), or none is allowed: not sent. */
  'MEDIA_PATH_REFUSED',
  /** The account holds as much media waiting to be fetched as it may (64 MiB): not sent. */
  'MEDIA_STORE_FULL',
  'UNKNOWN_ERROR',
  ...VERIFY_ERROR_CODES_LIST,
] as const;

/** HTTP failures that no Twilio code explains are named after their status. */
export const HTTP_STATUS_CODES = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  410: 'GONE',
  422: 'UNPROCESSABLE_ENTITY',
  423: 'LOCKED',
  424: 'FAILED_DEPENDENCY',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  501: 'NOT_IMPLEMENTED',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
} as const;

type HttpStatusCode = (typeof HTTP_STATUS_CODES)[keyof typeof HTTP_STATUS_CODES];
export type ErrorCode = (typeof LOCAL_ERROR_CODES)[number] | HttpStatusCode;

export const ALL_ERROR_CODES: readonly ErrorCode[] = [...LOCAL_ERROR_CODES, ...Object.values(HTTP_STATUS_CODES)];

/**
 * Twilio's numeric error codes (https://www.twilio.com/docs/api/errors) mapped to ours. A code not
 * listed falls back to INVALID_REQUEST_ERROR for a 400 and to the HTTP status's name otherwise.
 */
export const TWILIO_ERROR_TABLE: Readonly<Record<number, ErrorCode>> = {
  20003: 'AUTHENTICATION_CONNECTION_ERROR', // Authentication failed
  20005: 'PERMISSION_DENIED_ERROR', // Account not active
  20008: 'PERMISSION_DENIED_ERROR', // Test credentials cannot reach this resource
  20404: 'NOT_FOUND',
  20429: 'TOO_MANY_REQUESTS',
  20500: 'INTERNAL_SERVER_ERROR',
  20503: 'SERVICE_UNAVAILABLE',
  21201: 'MISSING_INPUT', // No 'To' number specified
  21210: 'INVALID_FROM_PHONE_NUMBER_ERROR', // 'From' number not verified for this account
  21211: 'INVALID_TO_PHONE_NUMBER_ERROR', // Invalid 'To' phone number
  21212: 'INVALID_FROM_PHONE_NUMBER_ERROR', // Invalid 'From' phone number
  21213: 'MISSING_INPUT', // Caller phone number is required
  21214: 'INVALID_TO_PHONE_NUMBER_ERROR', // 'To' number cannot be reached
  21215: 'INVALID_REGION_TO_PHONE_NUMBER_ERROR', // Geo permissions do not allow this call
  21216: 'PERMISSION_DENIED_ERROR', // Call blocked by Twilio's block list
  21217: 'INVALID_TO_PHONE_NUMBER_ERROR', // Phone number does not appear to be valid
  21219: 'PERMISSION_DENIED_ERROR', // 'To' number not verified (trial account)
  21401: 'INVALID_TO_PHONE_NUMBER_ERROR', // Invalid phone number
  21408: 'INVALID_REGION_TO_PHONE_NUMBER_ERROR', // SMS to this region not enabled
  21601: 'INVALID_TO_PHONE_NUMBER_ERROR', // Not a valid SMS-capable number
  21602: 'MISSING_INPUT', // Message body is required
  21603: 'MISSING_INPUT', // 'From' is required
  21604: 'MISSING_INPUT', // 'To' is required
  21606: 'INVALID_FROM_PHONE_NUMBER_ERROR', // 'From' is not a message-capable Twilio number
  21608: 'PERMISSION_DENIED_ERROR', // Trial accounts may only send to verified numbers
  21610: 'PERMISSION_DENIED_ERROR', // Recipient unsubscribed (replied STOP)
  21612: 'INVALID_TO_PHONE_NUMBER_ERROR', // 'To' number not reachable by SMS
  21614: 'INVALID_TO_PHONE_NUMBER_ERROR', // 'To' number is not a mobile number
  21619: 'MISSING_INPUT', // A body or media URL is required
  21611: 'TOO_MANY_REQUESTS', // 'From' number's outbound queue is full
  60200: 'INVALID_REQUEST_ERROR', // Verify: invalid parameter (the message names it)
  60202: 'VERIFY_MAX_CHECK_ATTEMPTS', // Verify: max (5) check attempts reached (429)
  60203: 'VERIFY_MAX_SEND_ATTEMPTS', // Verify: max (5) send attempts reached (429)
  60205: 'VERIFY_NOT_DELIVERABLE', // Verify: SMS is not supported by a landline number
  60212: 'TOO_MANY_REQUESTS', // Verify: too many concurrent requests for this number (429)
  60223: 'VERIFY_NOT_DELIVERABLE', // Verify: the delivery channel is disabled on the service
  60410: 'VERIFY_NOT_DELIVERABLE', // Verify: Fraud Guard blocked delivery to this prefix
  60605: 'VERIFY_NOT_DELIVERABLE', // Verify: Geo Permissions block this destination
  13223: 'INVALID_TO_PHONE_NUMBER_ERROR', // Dial: invalid phone number format
  13224: 'INVALID_TO_PHONE_NUMBER_ERROR', // Dial: invalid phone number
};

/** Details Twilio gave about a failed request; Node-RED copies `cause` into msg.error.cause. */
interface TwilioErrorDetails {
  twilioCode?: number;
  status?: number;
  moreInfo?: string;
}

export class TwilioNodeError extends Error {
  readonly code: ErrorCode;
  readonly twilioCode?: number;
  readonly status?: number;
  readonly moreInfo?: string;
  override readonly cause?: TwilioErrorDetails;

  /** The message as a catalogue key and values, for translating it where it is reported. */
  declare readonly text?: LocalText;

  constructor(code: ErrorCode, message: string | LocalText, details: TwilioErrorDetails = {}) {
    super(typeof message === 'string' ? message : render(message));
    this.name = 'TwilioNodeError';
    this.code = code;
    // Not enumerable: msg.error carries the message, not its ingredients.
    if (typeof message !== 'string') Object.defineProperty(this, 'text', { value: message, enumerable: false });
    const present = Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined && v !== null));
    Object.assign(this, present);
    // Node-RED's Catch gets msg.error.{message, code, cause}: the details ride in `cause`.
    if (Object.keys(present).length > 0) this.cause = present as TwilioErrorDetails;
  }

  /** Says the message in the runtime's language (when the catalogue has it): call where the error is reported. */
  localise(translate: Translate): this {
    if (this.text) this.message = render(this.text, translate);
    return this;
  }

  /**
   * Node-RED's Catch builds msg.error.message from toString(): the message alone, as a user reads it
   * in the debug sidebar ("1 of 3 recipients failed…", not "TwilioNodeError: 1 of 3…"); the code is in msg.error.code.
   */
  override toString(): string {
    return this.message;
  }

  /** The short form used in multi-recipient results: `{ code, message, twilioCode?, ... }`. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.cause ?? {}) };
  }
}

const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_NETWORK',
]);
const TIMEOUT_ERRNOS = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ERR_CANCELED']);

export function codeForHttpFailure(status: number | undefined, twilioCode: number | undefined): ErrorCode {
  if (twilioCode !== undefined && TWILIO_ERROR_TABLE[twilioCode]) return TWILIO_ERROR_TABLE[twilioCode];
  if (status === 400 && twilioCode !== undefined) return 'INVALID_REQUEST_ERROR';
  if (status !== undefined && status in HTTP_STATUS_CODES) {
    return HTTP_STATUS_CODES[status as keyof typeof HTTP_STATUS_CODES];
  }
  if (status !== undefined && status >= 400 && status < 500) return 'INVALID_REQUEST_ERROR';
  return 'UNKNOWN_ERROR';
}

/** The longest error text kept from an answer (a hostile server's 1 MiB message would fill every log line). */
const MAX_MESSAGE_LENGTH = 500;

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  status?: unknown;
  moreInfo?: unknown;
  name?: unknown;
}

/**
 * Turns anything thrown while talking to Twilio into a TwilioNodeError. `redact` removes the
 * account's secrets from the text, in case a lower layer ever echoed one.
 */
export function toTwilioNodeError(err: unknown, redact: (text: string) => string = (t) => t): TwilioNodeError {
  if (err instanceof TwilioNodeError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  // A server's text can be anything, of any length: the first part is kept (redacted first, so a cut never halves a secret).
  const whole = redact(typeof e.message === 'string' && e.message ? e.message : String(err));
  const message = whole.length > MAX_MESSAGE_LENGTH ? `${whole.slice(0, MAX_MESSAGE_LENGTH)}… (${whole.length} characters)` : whole;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const twilioCode = typeof e.code === 'number' ? e.code : undefined;
  const moreInfo = typeof e.moreInfo === 'string' ? e.moreInfo : undefined;

  if (status !== undefined) {
    const text = message || `HTTP ${status}`;
    return new TwilioNodeError(codeForHttpFailure(status, twilioCode), text, { twilioCode, status, moreInfo });
  }
  const errno = typeof e.code === 'string' ? e.code : undefined;
  if (errno && TIMEOUT_ERRNOS.has(errno)) {
    // The request left: Twilio may have acted on it. Repeating it could send a message twice.
    return new TwilioNodeError('REQUEST_TIMEOUT', text('maybeSent', { detail: message }));
  }
  if ((errno && CONNECTION_ERRNOS.has(errno)) || /socket hang up/i.test(message)) {
    return new TwilioNodeError('TWILIO_CONNECTION_ERROR', message);
  }
  // The SDK checks required parameters itself before any request.
  if (/^Required parameter .* missing/.test(message)) return new TwilioNodeError('MISSING_INPUT', message);
  return new TwilioNodeError('UNKNOWN_ERROR', message);
}

/**
 * A function that replaces every occurrence of the given secrets with a mask, also as JSON text may
 * write them (a base64 Authorization header's "/" escaped as "\/"), since a server's body is masked
 * before it is parsed.
 */
export function secretRedactor(secrets: Array<string | undefined>): (text: string) => string {
  const present = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4);
  const forms = [...new Set(present.flatMap((secret) => [secret, secret.replace(/\//g, '\\/')]))];
  if (forms.length === 0) return (text) => text;
  return (text) => forms.reduce((out, secret) => out.split(secret).join('********'), text);
}

/** A plain object or an array: what maskTexts copies (anything else, a Buffer or a Date, is kept as it is). */
function copiable(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with every text in it (keys too) passed through `redact`, at any depth: plain objects and
 * arrays are copied, other things (a Buffer, a Date) kept as they are. What Twilio (or a server at the
 * account's base URL) says goes through this before it reaches a msg. The walk keeps its own list of
 * work, not the stack: a server's deep document cannot overflow it, nor keep a secret past some depth;
 * a value met twice (a cycle) is copied once.
 */
export function maskTexts<T>(value: T, redact: (text: string) => string): T {
  if (typeof value === 'string') return redact(value) as T;
  if (!copiable(value)) return value;
  const copies = new Map<object, object>();
  const work: Array<[object, object]> = [];
  const copyOf = (item: unknown): unknown => {
    if (typeof item === 'string') return redact(item);
    if (!copiable(item)) return item;
    const known = copies.get(item);
    if (known) return known;
    const copy: object = Array.isArray(item) ? [] : Object.getPrototypeOf(item) === null ? Object.create(null) : {};
    copies.set(item, copy);
    work.push([item, copy]);
    return copy;
  };
  const root = copyOf(value);
  for (let next = work.pop(); next; next = work.pop()) {
    const [source, copy] = next;
    if (Array.isArray(source)) {
      const items = copy as unknown[];
      for (let i = 0; i < source.length; i++) items[i] = copyOf(source[i]);
      continue;
    }
    // Defined, not assigned: a key "__proto__" stays a key.
    for (const [key, item] of Object.entries(source))
      Object.defineProperty(copy, redact(key), { value: copyOf(item), enumerable: true, writable: true, configurable: true });
  }
  return root as T;
}

/**
 * A server's answer as the SDK will read it, masked: JSON is parsed, its texts masked (any depth, any
 * spelling JSON allows: a `\u0061` escape is the letter it stands for once parsed) and written again
 * in canonical form, whose text is masked once more; anything else is masked as text.
 */
export function maskAnswerText(body: string, redact: (text: string) => string): string {
  // Without a \u escape a secret can only be spelled as written (the redactor knows `\/` too): masking
  // the text is enough, and every send's answer is spared a second parse and a serialisation.
  if (!body.includes('\\u')) return redact(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return redact(body);
  }
  // Written again, JSON escapes only quotes, backslashes and control characters: a secret spelled with
  // escapes is spelled out, and masking the text finds it at any depth. A document too deep to be
  // written again cannot be handed on unmasked: the request fails.
  return redact(JSON.stringify(parsed));
}
