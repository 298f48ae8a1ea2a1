/**
 * Builds the twilio SDK client for a config node. Twilio's hosts are fixed in the SDK; an API base
 * URL override (a local simulator, a proxy) is applied by a RequestClient that rewrites each
 * request's origin, since the SDK's edge/region settings only insert labels into Twilio's hostnames.
 */
import http from 'node:http';
import https from 'node:https';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import type SdkHttpResponse from 'twilio/lib/http/response';
import { TwilioNodeError } from '../core/errors';
import { checkHostLabel, isSid } from '../twilio/values';
import { text } from '../core/texts';
import { sendOverWire } from './http';
import { RequestQueue, Verdict } from './request-queue';

export type AuthMode = 'apiKey' | 'authToken';

export interface TwilioCredentials {
  accountSid: string;
  authMode: AuthMode;
  apiKeySid?: string;
  apiKeySecret?: string;
  authToken?: string;
}

export interface ClientSettings {
  region?: string;
  edge?: string;
  /** e.g. http://127.0.0.1:3010: every Twilio domain is sent there, paths kept. */
  baseUrl?: string;
  timeoutMs?: number;
  /** The account's request queue; every request of the client waits its turn there. */
  queue?: RequestQueue;
}

/** Parses the base URL override; only an origin with an optional path prefix is meaningful. */
export function parseBaseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TwilioNodeError('INVALID_INPUT', text('baseUrlInvalid'));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TwilioNodeError('INVALID_INPUT', text('baseUrlScheme'));
  }
  if (url.username || url.password) {
    // Credentials belong in the credential store, not in a URL that shows in the flow.
    throw new TwilioNodeError('INVALID_INPUT', text('baseUrlCredentials'));
  }
  return url;
}

/** A Twilio URL moved onto the base URL override: its origin, and its path prefix before the URL's path. */
export function onBaseUrl(url: URL, base: URL): URL {
  return new URL(`${base.origin}${base.pathname.replace(/\/$/, '')}${url.pathname}${url.search}`);
}

/** Errors that mean the request never left this machine: repeating it cannot act twice. */
export const NOT_SENT_ERRNOS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** How the queue reads an SDK request's outcome (the SDK turns the response into an error later). */
export function judgeSdkOutcome(outcome: { value?: unknown; error?: unknown }): Verdict {
  if (outcome.error !== undefined) {
    const code = (outcome.error as { code?: unknown }).code;
    return typeof code === 'string' && NOT_SENT_ERRNOS.has(code) ? { kind: 'retry', reason: 'not-connected' } : { kind: 'fail' };
  }
  const response = outcome.value as { statusCode?: number; headers?: Record<string, unknown> } | undefined;
  if (response?.statusCode === 429) {
    const seconds = Number(response.headers?.['retry-after']);
    return { kind: 'retry', reason: 'rate-limited', retryAfterMs: Number.isFinite(seconds) ? seconds * 1000 : undefined };
  }
  if (response?.statusCode === 503) return { kind: 'retry', reason: 'unavailable' };
  return { kind: 'done' };
}

/**
 * The SDK's RequestClient, sending with node:http(s) (lib/http-transport.ts) instead of its axios
 * instance, every request to the base URL override when there is one, through the account's queue;
 * it owns its sockets. What that transport does not do (redirects, the SDK's debug log) goes through
 * the SDK's own; `lastRequest`/`lastResponse` are not kept (nothing of ours reads them).
 */
export class BaseUrlRequestClient extends twilio.RequestClient {
  private readonly base?: URL;
  private readonly queue?: RequestQueue;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 100 });

  constructor(opts: { baseUrl?: string; timeout?: number; queue?: RequestQueue }) {
    super({ timeout: opts.timeout, keepAlive: true, maxSockets: 100 });
    this.base = opts.baseUrl ? parseBaseUrl(opts.baseUrl) : undefined;
    this.queue = opts.queue;
    this.axios.defaults.httpAgent = this.httpAgent;
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<SdkHttpResponse<TData>> {
    const send = () => this.send(opts) as Promise<SdkHttpResponse<TData>>;
    return this.queue ? this.queue.schedule(send, judgeSdkOutcome) : send();
  }

  private async send<TData>(opts: RequestClient.RequestOptions<TData>): Promise<unknown> {
    if (!opts.method || !opts.uri) return super.request(opts); // its own "is required" errors
    const url = this.base ? onBaseUrl(new URL(opts.uri), this.base) : new URL(opts.uri);
    if (opts.allowRedirects || opts.logLevel === 'debug') return super.request({ ...opts, uri: url.href });
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string> | undefined) };
    if (!headers.Connection && !headers.connection) headers.Connection = 'keep-alive';
    if (opts.username && opts.password)
      headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
    else if (opts.authStrategy) headers.Authorization = await opts.authStrategy.getAuthString();
    const agent = this.agentFor(url);
    return sendOverWire({
      method: opts.method,
      url,
      headers,
      data: opts.data,
      params: opts.params,
      timeoutMs: opts.timeout || this.defaultTimeout,
      agent,
    });
  }

  /** The agent for a URL: https through the SDK's own (its proxy and CA bundle), http through ours. */
  agentFor(url: URL): http.Agent {
    return url.protocol === 'https:' ? (this.axios.defaults.httpsAgent as http.Agent) : this.httpAgent;
  }

  /** Closes idle keep-alive sockets so a redeployed or removed config node leaves nothing open. */
  destroy(): void {
    this.httpAgent.destroy();
    const httpsAgent = this.axios.defaults.httpsAgent as https.Agent | undefined;
    if (httpsAgent && typeof httpsAgent.destroy === 'function') httpsAgent.destroy();
  }
}

export interface TwilioClientHandle {
  client: twilio.Twilio;
  requestClient: BaseUrlRequestClient;
}

/** Checks the credentials' formats; throws a coded error that names the field, never its value. */
export function checkCredentials(creds: TwilioCredentials): void {
  if (!creds.accountSid) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Account SID' }));
  if (!isSid(creds.accountSid, 'AC')) throw new TwilioNodeError('INVALID_INPUT', text('sidFormat', { field: 'Account SID', prefix: 'AC' }));
  if (creds.authMode === 'apiKey') {
    if (!creds.apiKeySid) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'API Key SID' }));
    if (!isSid(creds.apiKeySid, 'SK'))
      throw new TwilioNodeError('INVALID_INPUT', text('sidFormat', { field: 'API Key SID', prefix: 'SK' }));
    if (!creds.apiKeySecret) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'API Key secret' }));
  } else if (!creds.authToken) {
    throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Auth Token' }));
  }
}

/** Who signs in: an API Key (SK… and its secret) or the account itself (AC… and its Auth Token). */
export function signInPair(creds: TwilioCredentials): [string | undefined, string | undefined] {
  return creds.authMode === 'apiKey' ? [creds.apiKeySid, creds.apiKeySecret] : [creds.accountSid, creds.authToken];
}

/** The Authorization header Twilio's REST API takes for these credentials. */
export function basicAuthorization(creds: TwilioCredentials): string {
  const [username, password] = signInPair(creds);
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export function createTwilioClient(creds: TwilioCredentials, settings: ClientSettings = {}): TwilioClientHandle {
  checkCredentials(creds);
  checkHostLabel('Region', settings.region);
  checkHostLabel('Edge', settings.edge);
  const requestClient = new BaseUrlRequestClient({ baseUrl: settings.baseUrl, timeout: settings.timeoutMs, queue: settings.queue });
  const [username, password] = signInPair(creds);
  const client = twilio(username, password, {
    accountSid: creds.accountSid,
    httpClient: requestClient,
    region: settings.region || undefined,
    edge: settings.edge || undefined,
    // The SDK would otherwise read TWILIO_* variables of the Node-RED process behind the user's back.
    env: {},
  });
  return { client, requestClient };
}
