/**
 * What twilio-verify does with a msg: Twilio Verify v2 one-time codes. *start* sends a code to a phone
 * number (sms, whatsapp, call) or an email address through a Verify Service; *check* asks whether a
 * code the person typed is the one sent (a VerificationCheck). Each is one POST to verify.twilio.com
 * (or the account's base URL), through the account's request queue, never repeated by the node: a
 * check that reached Twilio counts one of its 5 attempts, a start one of its 5 sends.
 *
 * The code is a secret: it is read from the msg once and taken off it before anything is sent (so no
 * output, error or Catch node sees it), never logged, never in a status, never stored. Only the form
 * Twilio is sent carries it.
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import type { TwilioAccount } from '../account/account';
import { ErrorCode, TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { NodeStatus } from '../node-red/status';
import { readTypedProperty } from '../node-red/typed-fields';
import type { RawRequest } from '../transport/raw-request';
import { isE164, isSid } from '../twilio/values';

export type VerifyAction = 'start' | 'check';
export const VERIFY_CHANNELS = ['sms', 'whatsapp', 'call', 'email'] as const;
export type VerifyChannel = (typeof VERIFY_CHANNELS)[number];

/** The typed fields read from each msg (the code is read apart: see takeCode). */
export const VERIFY_FIELDS = ['serviceSid', 'to', 'channel', 'verificationSid'] as const;
type VerifyFields = Partial<Record<(typeof VERIFY_FIELDS)[number] | 'code', unknown>>;

/** Each action's outputs, in order: what the node's ports are (the editor labels them from the same names). */
export const VERIFY_OUTPUTS = {
  start: ['sent', 'notDelivered'],
  check: ['approved', 'wrongCode', 'expired'],
} as const;
export type VerifyOutcome = (typeof VERIFY_OUTPUTS)[VerifyAction][number];

export const actionOf = (value: unknown): VerifyAction => (value === 'check' ? 'check' : 'start');

export interface VerifyRequest {
  action: VerifyAction;
  serviceSid: string;
  to?: string;
  channel?: VerifyChannel;
  code?: string;
  verificationSid?: string;
}

/** An email address as Verify takes it: one line, no spaces, quotes or braces, at most 254 characters. */
const EMAIL = /^[^\s@<>"'{}()\\,;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,24}$/;
/** Verify's codes: 4 to 10 digits (Twilio refuses others with 60200). */
const CODE = /^\d{4,10}$/;

function textOf(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new TwilioNodeError('INVALID_INPUT', text('notText', { field, type: typeof value }));
  return value.trim();
}

/**
 * The request a msg's fields describe, checked before anything is sent: a Service SID (VA…), an
 * address the channel can reach (E.164 or an email address: nothing else, so no line break or template
 * gets into Twilio's form), and for a check a code of 4 to 10 digits.
 */
export function verifyRequest(action: VerifyAction, fields: VerifyFields): VerifyRequest {
  if (fields.serviceSid === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Service SID' }));
  const serviceSid = textOf('Service SID', fields.serviceSid);
  if (!isSid(serviceSid, 'VA')) throw new TwilioNodeError('INVALID_INPUT', text('sidFormat', { field: 'Service SID', prefix: 'VA' }));
  const request: VerifyRequest = { action, serviceSid };
  // A check has no channel: its address is a phone number, or an email address when it has an @.
  const checked = action === 'check' && typeof fields.to === 'string' ? (fields.to.includes('@') ? 'email' : 'sms') : undefined;
  const channel = checked ?? (fields.channel === undefined ? 'sms' : textOf('Channel', fields.channel).toLowerCase());
  if (!(VERIFY_CHANNELS as readonly string[]).includes(channel))
    throw new TwilioNodeError('INVALID_INPUT', text('verifyChannel', { channels: VERIFY_CHANNELS.join(', ') }));
  if (fields.verificationSid !== undefined) {
    const sid = textOf('Verification SID', fields.verificationSid);
    if (!isSid(sid, 'VE')) throw new TwilioNodeError('INVALID_INPUT', text('sidFormat', { field: 'Verification SID', prefix: 'VE' }));
    if (action === 'check') request.verificationSid = sid;
  }
  if (fields.to !== undefined) request.to = address(textOf('To', fields.to), channel as VerifyChannel);
  else if (action === 'start' || !request.verificationSid) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'To' }));
  if (action === 'start') request.channel = channel as VerifyChannel;
  if (action === 'check') request.code = codeOf(fields.code);
  return request;
}

function address(to: string, channel: VerifyChannel): string {
  if (channel === 'email') {
    if (to.length > 254 || !EMAIL.test(to)) throw new TwilioNodeError('INVALID_INPUT', text('verifyToEmail'));
    return to;
  }
  // A phone number as people type it (spaces, dashes, brackets: never a line break) is one; a WhatsApp address is its number.
  const number = to.replace(/^whatsapp:/, '').replace(/[ ().-]/g, '');
  if (to.length > 40 || !isE164(number)) throw new TwilioNodeError('INVALID_INPUT', text('verifyToPhone', { channel }));
  return number;
}

function codeOf(value: unknown): string {
  if (value === undefined) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Code' }));
  // A number would have lost its leading zeros: a code is text (a whole number is taken as its digits).
  const code = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value;
  if (typeof code !== 'string') throw new TwilioNodeError('INVALID_INPUT', text('verifyCode'));
  // Checked by length before the pattern: an absurdly long "code" is refused at once, and never sent.
  const trimmed = code.length > 64 ? code : code.trim();
  if (trimmed.length > 10 || !CODE.test(trimmed)) throw new TwilioNodeError('INVALID_INPUT', text('verifyCode'));
  return trimmed;
}

/**
 * Reads the code (a typed field, usually msg.code) and takes it away from where it came at once,
 * whatever comes of reading it: off the msg (so no output, error or Catch node carries it on), or out
 * of the flow or global context it was put in.
 */
export async function takeCode(RED: NodeAPI, node: Node, config: Record<string, unknown>, msg: NodeMessage): Promise<unknown> {
  const type = typeof config.codeType === 'string' ? config.codeType : 'msg';
  const value = typeof config.code === 'string' ? config.code : 'code';
  try {
    return await readTypedProperty(RED, node, msg, 'Code', { value, type });
  } finally {
    if (type === 'msg' && value) forgetOnMsg(RED, msg, value);
    if ((type === 'flow' || type === 'global') && value) await forgetInContext(RED, node, type, value);
  }
}

function forgetOnMsg(RED: NodeAPI, msg: NodeMessage, property: string): void {
  try {
    RED.util.setMessageProperty(msg, property, undefined, false);
  } catch {
    // A property that is no path was never read either: reading it failed already, with its own error.
  }
}

function forgetInContext(RED: NodeAPI, node: Node, scope: 'flow' | 'global', property: string): Promise<void> {
  const { key, store } = RED.util.parseContextStore(property);
  // A store that cannot forget it (gone, failing) leaves it there: the check goes on, as the user asked.
  return new Promise<void>((resolve) => {
    try {
      node.context()[scope].set(key, undefined, store, () => resolve());
    } catch {
      resolve();
    }
  });
}

/** What came of a start or a check: which output, Twilio's answer, and the refusal when there was one. */
export interface VerifyResult {
  output: number;
  outcome: VerifyOutcome;
  /** Twilio's Verification or VerificationCheck (never with the code: Twilio does not send it back). */
  resource?: Record<string, unknown>;
  error?: TwilioNodeError;
}

/** Refusals that are an outcome (an output), not a failure: a start Verify will not deliver, a check too late or too often. */
const START_REFUSALS: readonly ErrorCode[] = ['VERIFY_MAX_SEND_ATTEMPTS', 'VERIFY_NOT_DELIVERABLE'];
const CHECK_REFUSALS: readonly ErrorCode[] = ['VERIFY_MAX_CHECK_ATTEMPTS', 'NOT_FOUND'];

/** The POST for a request: its path and form (the code only in a check's form). */
export function verifyHttpRequest(request: VerifyRequest): RawRequest {
  const service = `/v2/Services/${request.serviceSid}`;
  const form: Record<string, string> =
    request.action === 'start'
      ? { To: request.to!, Channel: request.channel! }
      : { Code: request.code!, ...(request.verificationSid ? { VerificationSid: request.verificationSid } : { To: request.to! }) };
  return {
    domain: 'verify',
    method: 'POST',
    path: request.action === 'start' ? `${service}/Verifications` : `${service}/VerificationCheck`,
    form,
    responseType: 'json',
    timeoutMs: 30_000,
    // Never repeated: a check that reached Twilio used one of its 5 attempts, a start one of its 5 sends.
    retry: { count: 0, delayMs: 0, backoff: 1, on: 'server' },
  };
}

/** Starts or checks through the account's queue; Twilio's refusals that are outcomes come back as results, the rest throw. */
export async function runVerify(account: TwilioAccount, request: VerifyRequest, status: NodeStatus, owner?: object): Promise<VerifyResult> {
  status.working(`twilio-verify.status.${request.action === 'start' ? 'starting' : 'checking'}`);
  let result: VerifyResult;
  try {
    const response = await account.rawRequest(verifyHttpRequest(request), owner);
    const resource = (typeof response.body === 'object' && response.body !== null ? response.body : {}) as Record<string, unknown>;
    result = { ...outcomeOf(request.action, String(resource.status ?? '')), resource };
  } catch (err) {
    const error = withoutCode(toTwilioNodeError(err, account.redact), request.code);
    const refusals = request.action === 'start' ? START_REFUSALS : CHECK_REFUSALS;
    if (!refusals.includes(error.code)) throw error;
    const outcome = request.action === 'start' ? 'notDelivered' : 'expired';
    result = { output: request.action === 'start' ? 1 : 2, outcome, error };
  }
  const shown = result.error?.code === 'VERIFY_MAX_CHECK_ATTEMPTS' ? 'tooManyAttempts' : result.outcome;
  if (result.output === 0) status.success(`twilio-verify.status.${shown}`);
  else status.warning(`twilio-verify.status.${shown}`);
  return result;
}

/**
 * The error with the code masked wherever Twilio's answer (or a proxy's error page) quoted it: its
 * message, its localised text's values, its more-info link and its stack. Nothing that reaches a msg,
 * the log or a status carries the code.
 */
function withoutCode(error: TwilioNodeError, code: string | undefined): TwilioNodeError {
  if (!code) return error;
  const mask = (value: string) => value.split(code).join('••••');
  const has = (value: unknown) => typeof value === 'string' && value.includes(code);
  const subs = error.text?.subs ?? {};
  if (!has(error.message) && !has(error.moreInfo) && !has(error.stack) && !Object.values(subs).some(has)) return error;
  const masked = Object.fromEntries(Object.entries(subs).map(([k, v]) => [k, typeof v === 'string' ? mask(v) : v]));
  const details = { twilioCode: error.twilioCode, status: error.status, moreInfo: error.moreInfo && mask(error.moreInfo) };
  const safe = new TwilioNodeError(error.code, error.text ? { key: error.text.key, subs: masked } : mask(error.message), details);
  if (error.text) safe.message = mask(error.message);
  return safe;
}

/** What a refusal says of the verification: too many checks, gone (expired, approved or canceled before), or not delivered. */
function refusedStatus(error: TwilioNodeError | undefined): string | undefined {
  if (!error) return undefined;
  if (error.code === 'VERIFY_MAX_CHECK_ATTEMPTS') return 'max_attempts_reached';
  return error.code === 'NOT_FOUND' ? 'expired' : 'failed';
}

function outcomeOf(action: VerifyAction, status: string): { output: number; outcome: VerifyOutcome } {
  if (action === 'start') return { output: 0, outcome: 'sent' };
  if (status === 'approved') return { output: 0, outcome: 'approved' };
  if (status === 'pending') return { output: 1, outcome: 'wrongCode' };
  return { output: 2, outcome: 'expired' }; // canceled, expired, max_attempts_reached, failed, deleted
}

/**
 * The msg as it leaves: msg.payload is Twilio's answer (or, for a refusal, the summary), msg.verify
 * says what came of it, and a refusal's coded error is on msg.error as a Catch node would give it.
 * Returns the array for node.send with the msg at its output.
 */
export function verifyOutput(
  msg: NodeMessage & Record<string, unknown>,
  request: VerifyRequest,
  result: VerifyResult,
): Array<NodeMessage | null> {
  const resource = result.resource ?? {};
  const summary = {
    action: request.action,
    outcome: result.outcome,
    status: typeof resource.status === 'string' ? resource.status : refusedStatus(result.error),
    sid: typeof resource.sid === 'string' ? resource.sid : request.verificationSid,
    serviceSid: request.serviceSid,
    to: typeof resource.to === 'string' ? resource.to : request.to,
    channel: typeof resource.channel === 'string' ? resource.channel : request.channel,
  };
  msg.verify = summary;
  msg.payload = result.resource ?? summary;
  if (result.error) {
    const { code, message, cause } = result.error;
    msg.error = { code, message, ...(cause ? { cause } : {}) };
  }
  const ports: Array<NodeMessage | null> = VERIFY_OUTPUTS[request.action].map(() => null);
  ports[result.output] = msg;
  return ports;
}
