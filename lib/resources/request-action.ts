/**
 * What twilio-request does with a msg: any Twilio REST call with the account's auth (a "raw
 * request"), for the APIs the catalogue does not describe (Verify, Conversations, Studio, …). Builds
 * the request from the node's settings and typed fields, runs it through the account's queue, and
 * passes the msg on with the answer: msg.payload, msg.statusCode, msg.headers, msg.twilio.
 */
import type { NodeMessageInFlow } from 'node-red';
import type { TwilioAccount } from '../account/account';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { NodeStatus } from '../node-red/status';
import type { FilePart, RawRequest, ResponseType } from '../transport/raw-request';
import { numberInRange } from '../twilio/values';

/** The node's settings (its typed fields are read per msg, see REQUEST_FIELDS). */
export interface RequestSettings {
  domain: string;
  method: string;
  responseType: ResponseType;
  timeout: number | string;
  retries: number | string;
  retryDelay: number | string;
  backoff: number | string;
  retryOn: 'server' | 'all';
}

/** The typed fields a request reads from each msg. */
export const REQUEST_FIELDS = ['path', 'query', 'form', 'json', 'files', 'headers'] as const;
type RequestFields = Partial<Record<(typeof REQUEST_FIELDS)[number], unknown>>;

/** The request the settings and a msg's fields describe; a coded INVALID_INPUT or MISSING_INPUT when they cannot. */
export function buildRequest(settings: RequestSettings, fields: RequestFields): RawRequest {
  if (typeof fields.path !== 'string') throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Path' }));
  return {
    domain: settings.domain || 'api',
    method: settings.method || 'GET',
    path: fields.path,
    query: object('Query', fields.query),
    form: object('Form data', fields.form),
    json: fields.json,
    files: files(fields.files),
    headers: object('Headers', fields.headers),
    responseType: settings.responseType ?? 'json',
    timeoutMs: numberInRange('Timeout', settings.timeout, { min: 0.1, max: 600 }, 30) * 1000,
    retry: {
      count: numberInRange('Retries', settings.retries, { min: 0, max: 10 }, 0),
      delayMs: numberInRange('Retry delay', settings.retryDelay, { min: 0, max: 60_000 }, 1000),
      backoff: numberInRange('Backoff', settings.backoff, { min: 1, max: 10 }, 2),
      on: settings.retryOn === 'all' ? 'all' : 'server',
    },
  };
}

/**
 * Runs `request` and puts the answer on `msg`; a failure still says its status and attempts on `msg`
 * (for a Catch node) and throws as a coded error with the account's secrets masked.
 */
export async function runRequest(
  account: TwilioAccount,
  request: RawRequest,
  msg: NodeMessageInFlow,
  status: NodeStatus,
  owner?: object,
): Promise<void> {
  status.working('twilio.status.requesting');
  try {
    const response = await account.rawRequest(request, owner);
    Object.assign(msg, {
      payload: response.body,
      statusCode: response.statusCode,
      headers: response.headers,
      twilio: { url: response.url, attempts: response.attempts },
    });
    if (response.attempts === 1) status.success('twilio-request.status.doneFirstTry', { status: response.statusCode });
    else status.success('twilio-request.status.done', { status: response.statusCode, attempts: response.attempts });
  } catch (err) {
    const error = toTwilioNodeError(err, account.redact);
    Object.assign(msg, { statusCode: error.status, twilio: { attempts: (err as { attempts?: number }).attempts } });
    throw error;
  }
}

function object(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TwilioNodeError('INVALID_INPUT', text('objectOfNames', { field: name }));
  return value as Record<string, unknown>;
}

/** Files as [{ field, filename, contentType, data }]; data a Buffer or text. */
function files(value: unknown): FilePart[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, i) => {
    const f = item as Partial<FilePart>;
    if (typeof f !== 'object' || f === null || (!Buffer.isBuffer(f.data) && typeof f.data !== 'string') || typeof f.filename !== 'string') {
      throw new TwilioNodeError('INVALID_INPUT', text('fileShape', { index: i + 1 }));
    }
    return { field: f.field || 'file', filename: f.filename, contentType: f.contentType, data: f.data };
  });
}
