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
import { urlToHttpOptions } from 'node:url';
import { WireRequest, WireTarget, sendOverWire } from './http';
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

const DONE: Verdict = Object.freeze({ kind: 'done' });
const FAIL: Verdict = Object.freeze({ kind: 'fail' });

/** How the queue reads an SDK request's outcome (the SDK turns the response into an error later). */
export function judgeSdkOutcome(outcome: { value?: unknown; error?: unknown }): Verdict {
  if (outcome.error !== undefined) {
    const code = (outcome.error as { code?: unknown }).code;
    return typeof code === 'string' && NOT_SENT_ERRNOS.has(code) ? { kind: 'retry', reason: 'not-connected' } : FAIL;
  }
  const response = outcome.value as { statusCode?: number; headers?: Record<string, unknown> } | undefined;
  if (response?.statusCode === 429) {
    const seconds = Number(response.headers?.['retry-after']);
    return { kind: 'retry', reason: 'rate-limited', retryAfterMs: Number.isFinite(seconds) ? seconds * 1000 : undefined };
  }
  if (response?.statusCode === 503) return { kind: 'retry', reason: 'unavailable' };
  return DONE;
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
  /** Whose requests these are (a node): set on a view made by `forOwner`, unset on the account's own. */
  private readonly owner?: object;

  constructor(opts: { baseUrl?: string; timeout?: number; queue?: RequestQueue }) {
    super({ timeout: opts.timeout, keepAlive: true, maxSockets: 100 });
    this.base = opts.baseUrl ? parseBaseUrl(opts.baseUrl) : undefined;
    this.queue = opts.queue;
    this.axios.defaults.httpAgent = this.httpAgent;
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<SdkHttpResponse<TData>> {
    if (!this.queue) return this.send(opts) as Promise<SdkHttpResponse<TData>>;
    // What waits in the queue is the request as it goes on the wire (class instances), made now, not
    // the SDK's options: an object literal of the SDK's holding its parameters and headers, which V8
    // may decide to allocate in the old generation once a burst's first requests all wait at once
    // (each then pulls what it holds along, to stay as garbage until the next full collection). The
    // sending function is made apart: a closure made here would keep this call's scope, and with it
    // the SDK's options, for as long as the request waits and flies.
    const wire = this.wireRequest(opts);
    const send = wire ? wireSender(wire) : this.sdkSender(opts);
    return this.queue.schedule(send, judgeSdkOutcome, undefined, this.owner) as Promise<SdkHttpResponse<TData>>;
  }

  /** The request as sendOverWire takes it, when it can be made at once (Basic auth, no redirects or debug log). */
  private wireRequest(opts: RequestClient.RequestOptions<unknown>): SdkWireRequest | undefined {
    if (!opts.method || !opts.uri || opts.allowRedirects || opts.logLevel === 'debug' || !opts.username || !opts.password) return undefined;
    try {
      const { target, agent } = this.destination(opts.uri);
      return new SdkWireRequest(
        opts.method,
        target,
        this.headers(opts, this.basicAuthorization(opts.username, opts.password)),
        opts.data,
        opts.params,
        opts.timeout || this.defaultTimeout,
        agent,
      );
    } catch {
      return undefined; // sent as before: its error then comes through the queue
    }
  }

  /** The SDK's headers, kept alive, and signed when signed (a copy: the SDK's object is its own). */
  private headers(opts: RequestClient.RequestOptions<unknown>, authorization: string | undefined): Record<string, string> {
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string> | undefined) };
    if (!headers.Connection && !headers.connection) headers.Connection = 'keep-alive';
    if (authorization !== undefined) headers.Authorization = authorization;
    return headers;
  }

  /** A request sent the SDK's way when its turn comes (redirects, a debug log, another sign-in). */
  private sdkSender(opts: RequestClient.RequestOptions<unknown>): () => Promise<unknown> {
    return () => this.send(opts);
  }

  /**
   * This client, its requests belonging to `owner` (a node): the same sockets, queue and settings,
   * the owner passed to the queue with each request instead of carried by `requestOwner.run`.
   */
  forOwner(owner: object): BaseUrlRequestClient {
    return Object.create(this, { owner: { value: owner } }) as BaseUrlRequestClient;
  }

  private async send<TData>(opts: RequestClient.RequestOptions<TData>): Promise<unknown> {
    if (!opts.method || !opts.uri) return super.request(opts); // its own "is required" errors
    if (opts.allowRedirects || opts.logLevel === 'debug') {
      const url = this.base ? onBaseUrl(new URL(opts.uri), this.base) : new URL(opts.uri);
      return super.request({ ...opts, uri: url.href });
    }
    const authorization =
      opts.username && opts.password
        ? this.basicAuthorization(opts.username, opts.password)
        : opts.authStrategy
          ? await opts.authStrategy.getAuthString()
          : undefined;
    const headers = this.headers(opts, authorization);
    const { target, agent } = this.destination(opts.uri);
    return sendOverWire({
      method: opts.method,
      url: target,
      headers,
      data: opts.data,
      params: opts.params,
      timeoutMs: opts.timeout || this.defaultTimeout,
      agent,
    });
  }

  /** The last sign-in and its header: one account signs every request the same way. */
  private lastAuthorization?: { username: string; password: string; header: string };

  private basicAuthorization(username: string, password: string): string {
    const last = this.lastAuthorization;
    if (last && last.username === username && last.password === password) return last.header;
    const header = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    this.lastAuthorization = { username, password, header };
    return header;
  }

  /** Twilio origins (a handful: api, messaging, …) as node:http takes them, on the base URL override when there is one. */
  private readonly origins = new Map<string, { protocol: string; hostname: string; port?: number; prefix: string; agent: http.Agent }>();

  /**
   * Where an SDK URI goes. The SDK hands over a URL it has just parsed and written out again, so its
   * origin ends at the first slash after `//`: each origin is parsed once (onBaseUrl, as before), not
   * each request; anything unusual is parsed whole.
   */
  private destination(uri: string): { target: URL | WireTarget; agent: http.Agent } {
    const start = uri.indexOf('//');
    const end = start < 0 ? -1 : uri.indexOf('/', start + 2);
    if (end < 0 || uri.includes('#')) {
      const url = this.base ? onBaseUrl(new URL(uri), this.base) : new URL(uri);
      return { target: url, agent: this.agentFor(url) };
    }
    const key = uri.slice(0, end);
    let origin = this.origins.get(key);
    if (!origin) {
      const url = this.base ? onBaseUrl(new URL(`${key}/`), this.base) : new URL(`${key}/`);
      const { protocol, hostname, port } = urlToHttpOptions(url);
      origin = {
        protocol: protocol!,
        hostname: hostname!,
        port: port === undefined ? undefined : Number(port),
        prefix: url.pathname.replace(/\/$/, ''),
        agent: this.agentFor(url),
      };
      this.origins.set(key, origin);
    }
    const { protocol, hostname, port, prefix, agent } = origin;
    return { target: new SdkWireTarget(protocol, hostname, port, prefix + uri.slice(end)), agent };
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

/** Sends a prepared request; what fails before it is on the wire (its encoding) rejects, as from `send`. */
function wireSender(wire: SdkWireRequest): () => Promise<unknown> {
  return () => {
    try {
      return sendOverWire(wire);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

/** Where an SDK request goes (a class, for the reason SdkWireRequest is one). */
class SdkWireTarget implements WireTarget {
  constructor(
    readonly protocol: string,
    readonly hostname: string,
    readonly port: number | undefined,
    readonly path: string,
  ) {}
}

/** An SDK request as it waits in the queue: what sendOverWire takes (see BaseUrlRequestClient.request). */
class SdkWireRequest implements WireRequest {
  constructor(
    readonly method: string,
    readonly url: URL | WireTarget,
    readonly headers: Record<string, string>,
    readonly data: unknown,
    readonly params: object | undefined,
    readonly timeoutMs: number,
    readonly agent: http.Agent,
  ) {}
}

export interface TwilioClientHandle {
  client: twilio.Twilio;
  requestClient: BaseUrlRequestClient;
  /** The client whose requests belong to `owner` (a node): one per owner, made on first use. */
  clientFor(owner: object): twilio.Twilio;
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
  const sdkClient = (httpClient: BaseUrlRequestClient) =>
    twilio(username, password, {
      accountSid: creds.accountSid,
      httpClient,
      region: settings.region || undefined,
      edge: settings.edge || undefined,
      // The SDK would otherwise read TWILIO_* variables of the Node-RED process behind the user's back.
      env: {},
    });
  const owned = new WeakMap<object, twilio.Twilio>();
  const clientFor = (owner: object) => {
    let client = owned.get(owner);
    if (!client) owned.set(owner, (client = sdkClient(requestClient.forOwner(owner))));
    return client;
  };
  return { client: sdkClient(requestClient), requestClient, clientFor };
}
