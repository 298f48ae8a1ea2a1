/**
 * Any Twilio REST call, for what the catalogue does not cover: a path on a Twilio domain, with the
 * account's auth, query/form/JSON/multipart bodies, a response as JSON, text or bytes, a timeout and
 * retries. Requests only ever go to Twilio's hosts (or the account's base URL override): a path, never
 * a full URL, so the account's credentials cannot be sent anywhere else. They go out as every other
 * request does: over the account's transport (lib/transport/http.ts) and through its queue, whose
 * retry engine repeats them by the node's settings.
 */
import type http from 'node:http';
import { TwilioNodeError, codeForHttpFailure, maskTexts, toTwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { SdkResponse, sendOverWire } from './http';
import { MultipartFile, encodeMultipart } from './multipart';
import { RetryPolicy as QueueRetryPolicy, Verdict } from './request-queue';
import { NOT_SENT_ERRNOS, onBaseUrl } from './sdk-client';

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

export type FilePart = MultipartFile;

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

/** What the account node gives a raw request: where to send it, how to sign in, its agents and queue. Never logged. */
export interface RawTransport {
  accountSid: string;
  authorization: string;
  baseUrl?: string;
  region?: string;
  edge?: string;
  /** The account's agent for a URL (its proxy and CA bundle for https). */
  agentFor(url: URL): http.Agent;
  /** The account's queue: every request waits its turn there, and its retries are the queue's. */
  schedule<T>(
    run: () => Promise<T>,
    judge: (outcome: { value?: unknown; error?: unknown }) => Verdict,
    policy: QueueRetryPolicy,
  ): Promise<T>;
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

/** The request's body and its Content-Type: form fields, JSON, or a multipart form with files. */
function encodeBody(request: RawRequest, headers: Record<string, string>): Buffer | string | undefined {
  if (request.files && request.files.length > 0) {
    const { body, contentType } = encodeMultipart(request.form ?? {}, request.files);
    headers['Content-Type'] = contentType;
    return body;
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

function readBody(response: SdkResponse, type: ResponseType): unknown {
  if (type === 'binary') return response.bytes;
  if (type === 'text') return response.body;
  if (response.body === '') return null;
  try {
    return JSON.parse(response.body);
  } catch {
    return response.body;
  }
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
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

/**
 * What the queue makes of a raw request's outcome, by the node's settings: 429 waits for Retry-After,
 * 5xx and failed connections are repeated (every failure, with `on: all`), and a request that may have
 * reached Twilio (a timeout, a connection lost mid-way) is repeated only when repeating is harmless.
 */
function judgeRawOutcome(method: string, on: RetryPolicy['on']): (outcome: { value?: unknown; error?: unknown }) => Verdict {
  return ({ value, error }) => {
    if (error !== undefined) {
      const code = String((error as { code?: unknown }).code ?? '');
      if (NOT_SENT_ERRNOS.has(code)) return { kind: 'retry', reason: 'not-connected' };
      return IDEMPOTENT.includes(method) ? { kind: 'retry', reason: 'unavailable' } : { kind: 'fail' };
    }
    const response = value as SdkResponse;
    if (response.statusCode >= 200 && response.statusCode < 300) return { kind: 'done' };
    if (response.statusCode === 429)
      return { kind: 'retry', reason: 'rate-limited', retryAfterMs: retryAfterMs(response.headers['retry-after']) };
    if (response.statusCode >= 500 || on === 'all')
      return { kind: 'retry', reason: 'unavailable', retryAfterMs: retryAfterMs(response.headers['retry-after']) };
    return { kind: 'fail' };
  };
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
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers ?? {})) if (value !== undefined && value !== null) headers[key] = String(value);
  const body = method === 'GET' || method === 'HEAD' ? undefined : encodeBody(request, headers);
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  headers.Authorization = transport.authorization;
  headers.Accept ??= request.responseType === 'json' ? 'application/json' : '*/*';
  headers.Connection ??= 'keep-alive';

  let attempts = 0;
  const send = () => {
    attempts++;
    return sendOverWire({ method, url, headers, body, timeoutMs: request.timeoutMs, agent: transport.agentFor(url) });
  };
  const policy = { retries: request.retry.count, delayMs: request.retry.delayMs, backoff: request.retry.backoff };
  let response: SdkResponse;
  try {
    response = await transport.schedule(send, judgeRawOutcome(method, request.retry.on), policy);
  } catch (err) {
    if (err instanceof TwilioNodeError) throw Object.assign(err, { attempts }); // withdrawn or stopped: NOT_SENT
    const timedOut = (err as { code?: unknown }).code === 'ECONNABORTED';
    let failure = timedOut
      ? new TwilioNodeError(
          'REQUEST_TIMEOUT',
          text(IDEMPOTENT.includes(method) ? 'noAnswerWithin' : 'noAnswerMaybeSent', { ms: request.timeoutMs }),
        )
      : toTwilioNodeError(err, redact);
    if (!timedOut && failure.code === 'UNKNOWN_ERROR')
      failure = new TwilioNodeError('TWILIO_CONNECTION_ERROR', redact((err as Error).message));
    throw Object.assign(failure, { attempts });
  }
  const responseBody = readBody(response, request.responseType);
  if (response.statusCode < 200 || response.statusCode >= 300)
    // The error is made of the server's words: masked like the answer itself (at any depth).
    throw Object.assign(httpError(response.statusCode, maskTexts(responseBody, redact)), { attempts });
  const responseHeaders: Record<string, string> = {};
  for (const [key, value] of Object.entries(response.headers))
    if (value !== undefined) responseHeaders[key] = Array.isArray(value) ? value.join(', ') : value;
  return { statusCode: response.statusCode, headers: responseHeaders, body: responseBody, url: url.toString(), attempts };
}
