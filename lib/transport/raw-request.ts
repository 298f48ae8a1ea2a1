/**
 * Any Twilio REST call, for what the catalogue does not cover: a path on a Twilio domain, with the
 * account's auth, query/form/JSON/multipart bodies, a response as JSON, text or bytes, a timeout and
 * retries. Requests only ever go to Twilio's hosts (or the account's base URL override): a path, never
 * a full URL, so the account's credentials cannot be sent anywhere else.
 */
import { onBaseUrl } from './sdk-client';
import { TwilioNodeError, codeForHttpFailure, toTwilioNodeError } from '../core/errors';
import { text } from '../core/texts';

/** Twilio's API domains (https://<domain>.twilio.com). */
export const TWILIO_DOMAINS = [
  'api',
  'accounts',
  'assistants',
  'bulkexports',
  'chat',
  'content',
  'conversations',
  'events',
  'flex-api',
  'frontline-api',
  'iam',
  'insights',
  'intelligence',
  'ip-messaging',
  'knowledge',
  'lookups',
  'marketplace',
  'messaging',
  'monitor',
  'notify',
  'numbers',
  'oauth',
  'preview',
  'pricing',
  'proxy',
  'routes',
  'serverless',
  'studio',
  'supersim',
  'sync',
  'taskrouter',
  'trunking',
  'trusthub',
  'verify',
  'video',
  'voice',
  'wireless',
] as const;

export type ResponseType = 'json' | 'text' | 'binary';

export interface FilePart {
  /** The form field. */
  field: string;
  filename: string;
  contentType?: string;
  data: Buffer | string;
}

export interface RetryPolicy {
  /** Retries after the first attempt (0: none). */
  count: number;
  delayMs: number;
  /** Each retry waits `backoff` times longer than the one before. */
  backoff: number;
  /** `server`: 5xx, 429 and network failures; `all`: any failure. */
  on: 'server' | 'all';
}

export interface RawRequest {
  domain: string;
  method: string;
  /** Relative to the domain, e.g. /2010-04-01/Accounts/{AccountSid}/Messages.json */
  path: string;
  query?: Record<string, unknown>;
  form?: Record<string, unknown>;
  json?: unknown;
  files?: FilePart[];
  headers?: Record<string, unknown>;
  responseType: ResponseType;
  timeoutMs: number;
  retry: RetryPolicy;
}

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
  url: string;
  attempts: number;
}

/** What the account node gives a raw request: where to send it and how to sign in. Never logged. */
export interface RawTransport {
  accountSid: string;
  authorization: string;
  baseUrl?: string;
  region?: string;
  edge?: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];
/** A request that may have reached Twilio is retried after a timeout only if repeating it is harmless. */
const IDEMPOTENT = ['GET', 'HEAD', 'DELETE', 'PUT'];

/** Twilio's hostname rules, as the SDK applies them: domain[.edge].region.twilio.com. */
export function twilioHost(domain: string, region?: string, edge?: string): string {
  const r = region || (edge ? 'us1' : '');
  return [domain, edge, r, 'twilio.com'].filter(Boolean).join('.');
}

export function buildUrl(request: RawRequest, transport: RawTransport): URL {
  if (!(TWILIO_DOMAINS as readonly string[]).includes(request.domain)) {
    throw new TwilioNodeError('INVALID_INPUT', text('unknownDomain', { domain: String(request.domain) }));
  }
  if (typeof request.path !== 'string' || !request.path.startsWith('/') || request.path.startsWith('//')) {
    throw new TwilioNodeError('INVALID_INPUT', text('relativePath'));
  }
  const path = request.path.replace(/\{AccountSid\}/g, transport.accountSid);
  let url = new URL(`https://${twilioHost(request.domain, transport.region, transport.edge)}${path}`);
  if (transport.baseUrl) url = onBaseUrl(url, new URL(transport.baseUrl));
  for (const [key, value] of Object.entries(request.query ?? {})) {
    for (const one of [value].flat()) if (one !== undefined && one !== null) url.searchParams.append(key, String(one));
  }
  return url;
}

function body(request: RawRequest, headers: Record<string, string>): BodyInit | undefined {
  if (request.files && request.files.length > 0) {
    const data = new FormData();
    for (const [key, value] of Object.entries(request.form ?? {})) for (const one of [value].flat()) data.append(key, String(one));
    for (const file of request.files) {
      const bytes = typeof file.data === 'string' ? Buffer.from(file.data) : file.data;
      data.append(file.field, new Blob([new Uint8Array(bytes)], { type: file.contentType ?? 'application/octet-stream' }), file.filename);
    }
    return data; // fetch sets the multipart boundary
  }
  if (request.json !== undefined) {
    headers['Content-Type'] ??= 'application/json';
    return JSON.stringify(request.json);
  }
  if (request.form) {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(request.form))
      for (const one of [value].flat())
        if (one !== undefined && one !== null) form.append(key, typeof one === 'object' ? JSON.stringify(one) : String(one));
    headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
    return form.toString();
  }
  return undefined;
}

async function readBody(response: Response, type: ResponseType): Promise<unknown> {
  if (type === 'binary') return Buffer.from(await response.arrayBuffer());
  const text = await response.text();
  if (type === 'text') return text;
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The coded error for a failed answer, with Twilio's code when its body has one. */
function httpError(status: number, body: unknown): TwilioNodeError {
  const twilio = typeof body === 'object' && body !== null ? (body as { code?: unknown; message?: unknown; more_info?: unknown }) : {};
  const twilioCode = typeof twilio.code === 'number' ? twilio.code : undefined;
  const message = typeof twilio.message === 'string' ? twilio.message : `HTTP ${status}`;
  return new TwilioNodeError(codeForHttpFailure(status, twilioCode), message, {
    twilioCode,
    status,
    moreInfo: typeof twilio.more_info === 'string' ? twilio.more_info : undefined,
  });
}

export async function performRawRequest(
  request: RawRequest,
  transport: RawTransport,
  redact: (t: string) => string = (t) => t,
): Promise<RawResponse> {
  const method = String(request.method ?? '').toUpperCase();
  if (!METHODS.includes(method)) throw new TwilioNodeError('INVALID_INPUT', text('methodOneOf', { methods: METHODS.join(', ') }));
  const url = buildUrl(request, transport);
  if (Object.keys(request.headers ?? {}).some((h) => h.toLowerCase() === 'authorization')) {
    throw new TwilioNodeError('INVALID_INPUT', text('authorizationHeader'));
  }
  let attempts = 0;
  for (;;) {
    attempts++;
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.headers ?? {}))
      if (value !== undefined && value !== null) headers[key] = String(value);
    const payload = method === 'GET' || method === 'HEAD' ? undefined : body(request, headers);
    headers.Authorization = transport.authorization;
    headers.Accept ??= request.responseType === 'json' ? 'application/json' : '*/*';
    let response: Response | undefined;
    let failure: TwilioNodeError;
    let retryable: boolean;
    let delay = request.retry.delayMs * request.retry.backoff ** (attempts - 1);
    try {
      response = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(request.timeoutMs), redirect: 'manual' });
      const responseBody = await readBody(response, request.responseType);
      if (response.status >= 200 && response.status < 300) {
        const responseHeaders: Record<string, string> = {};
        response.headers.forEach((value, key) => (responseHeaders[key] = value));
        return { statusCode: response.status, headers: responseHeaders, body: responseBody, url: url.toString(), attempts };
      }
      failure = httpError(response.status, responseBody);
      retryable = request.retry.on === 'all' || response.status >= 500 || response.status === 429;
      delay = Math.max(delay, retryAfterMs(response.headers.get('retry-after')) ?? 0);
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
      failure = timedOut
        ? new TwilioNodeError(
            'REQUEST_TIMEOUT',
            text(IDEMPOTENT.includes(method) ? 'noAnswerWithin' : 'noAnswerMaybeSent', { ms: request.timeoutMs }),
          )
        : toTwilioNodeError((err as { cause?: unknown }).cause ?? err, redact);
      if (!timedOut && failure.code === 'UNKNOWN_ERROR')
        failure = new TwilioNodeError('TWILIO_CONNECTION_ERROR', redact((err as Error).message));
      retryable = !timedOut || IDEMPOTENT.includes(method);
    }
    if (!retryable || attempts > request.retry.count) {
      throw Object.assign(failure, { attempts });
    }
    await wait(delay);
  }
}
