/**
 * Sends every request of the package with node:http(s): the SDK's and twilio-request's, with the
 * agents the account's RequestClient owns, so its proxy (HTTP_PROXY), CA bundle (TWILIO_CA_BUNDLE) and
 * keep-alive apply to all of them. For the SDK this replaces only the axios instance inside its
 * RequestClient (whose per-request config merging was about a quarter of a message's CPU in the
 * flow-overhead benchmark): the SDK still builds every request and reads every answer, and the wire
 * format is its own (qs, repeated keys for lists).
 */
import http from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import zlib from 'node:zlib';
import qs from 'qs';

export interface SdkResponse {
  statusCode: number;
  /** The body as text: the SDK parses JSON itself. */
  body: string;
  /** The body's bytes (decompressed), for an answer that is not text. */
  bytes: Buffer;
  headers: http.IncomingHttpHeaders;
}

/** Where a request goes, as node:http takes it: a URL's parts, for a caller that parses each origin once. */
export interface WireTarget {
  protocol: string;
  hostname: string;
  port?: number;
  /** The path and query. */
  path: string;
}

export interface WireRequest {
  method: string;
  url: URL | WireTarget;
  headers: Record<string, string>;
  /** Form fields or a JSON value, encoded as the Content-Type header says. */
  data?: unknown;
  /** A body already encoded (a multipart form, a raw request's), sent as it is. */
  body?: Buffer | string;
  /** Added to the URL's query. */
  params?: object;
  timeoutMs: number;
  agent: http.Agent;
}

const FORM = 'application/x-www-form-urlencoded';
/**
 * The most an answer may hold, and how long it may take from the first byte to the last: Twilio's
 * largest (a page of 1,000 records, a recording) is far below; a server that streams without end, or
 * one byte at a time, is cut off instead of filling memory or holding its caller for ever.
 */
export const MAX_ANSWER_BYTES = 64 * 2 ** 20;
const ANSWER_TIME_FACTOR = 2;
/** The SDK's encoding: a list is its key repeated (MediaUrl=a&MediaUrl=b). */
const QS_OPTIONS = { arrayFormat: 'repeat' } as const;

/** Characters encodeURIComponent leaves as they are and qs (RFC 3986) encodes. */
const RESERVED_BY_QS = /[!'()*]/g;
const percentEncoded = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;

/**
 * The form qs would make of fields that are all text (a message's To, From, Body: the SDK sends
 * nothing else for most requests), without qs's walk of every value; anything else is qs's.
 */
function encodeForm(data: object): string {
  let form = '';
  try {
    for (const key of Object.keys(data)) {
      const value = (data as Record<string, unknown>)[key];
      if (value === undefined) continue;
      if (typeof value !== 'string') return qs.stringify(data, QS_OPTIONS);
      if (form !== '') form += '&';
      form += `${encodeURIComponent(key).replace(RESERVED_BY_QS, percentEncoded)}=${encodeURIComponent(value).replace(RESERVED_BY_QS, percentEncoded)}`;
    }
  } catch {
    return qs.stringify(data, QS_OPTIONS); // a lone surrogate: qs has its own way with it
  }
  return form;
}

function encodeBody(data: unknown, contentType: string | undefined): string | undefined {
  if (data === undefined || data === null) return undefined;
  if (contentType === FORM) return typeof data === 'object' ? encodeForm(data) : qs.stringify(data, QS_OPTIONS);
  if (contentType === 'application/json') return typeof data === 'string' ? data : JSON.stringify(data);
  return undefined; // the SDK sends data only with one of those two types
}

/** A socket error or a timeout keeps the errno axios would have given (our error mapping reads it). */
function failure(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function decode(raw: Buffer, encoding: string | undefined): Buffer {
  // We ask for no compression; a proxy on the way may compress all the same (within the same limit).
  const limit = { maxOutputLength: MAX_ANSWER_BYTES };
  if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.gunzipSync(raw, limit);
  if (encoding === 'deflate') return zlib.inflateSync(raw, limit);
  if (encoding === 'br') return zlib.brotliDecompressSync(raw, limit);
  return raw;
}

/** A URL's parts as node:http takes them (only those: node:http copies every option it is given). */
function targetOf(url: URL): WireTarget {
  const { protocol, hostname, port } = urlToHttpOptions(url);
  return { protocol: protocol!, hostname: hostname!, port: port === undefined ? undefined : Number(port), path: url.pathname + url.search };
}

export function sendOverWire(request: WireRequest): Promise<SdkResponse> {
  const target = request.url instanceof URL ? targetOf(request.url) : request.url;
  let path = target.path;
  if (request.params) {
    const query = qs.stringify(request.params, QS_OPTIONS);
    if (query) path += (path.includes('?') ? '&' : '?') + query;
  }
  const body = request.body ?? encodeBody(request.data, request.headers['Content-Type']);
  // The caller's headers are its own to keep: the length goes on a copy.
  const headers = body === undefined ? request.headers : { ...request.headers, 'Content-Length': String(Buffer.byteLength(body)) };
  const transport = target.protocol === 'https:' ? https : http;
  const options: http.RequestOptions = {
    protocol: target.protocol,
    hostname: target.hostname,
    port: target.port,
    path,
    method: request.method.toUpperCase(),
    headers,
    agent: request.agent,
    // The socket's idle timeout (WireCall hears it as the request's 'timeout' event).
    timeout: request.timeoutMs,
  };
  return new Promise((resolve, reject) => new WireCall(request.timeoutMs, resolve, reject).send(transport, options, body));
}

const EMPTY = Buffer.alloc(0);

/** An answer as the SDK reads it (a class: see Job in request-queue.ts for why not a literal). */
class WireResponse implements SdkResponse {
  constructor(
    readonly statusCode: number,
    readonly body: string,
    readonly bytes: Buffer,
    readonly headers: http.IncomingHttpHeaders,
  ) {}
}

/**
 * One request on the wire, from its start to its answer. Once it has settled it lets go of its
 * caller's promise (and with it the answer) and of the answer's chunks: node:http keeps a finished
 * request reachable for a while (a pooled HTTP parser holds the last request it read until it reads
 * another, and with keep-alive sockets some sit idle for long), and with it the listeners this call
 * put on it. What those reach then is this small record, not the answer: otherwise a burst's answers
 * live long enough to be copied into the old generation, to stay there as garbage until the next
 * full collection (bench d: peak RSS of 50,000 msgs at once).
 */
class WireCall {
  private req?: http.ClientRequest;
  /** The answer's bytes as they come: the first chunk, and the others when there are others. */
  private first?: Buffer;
  private more?: Buffer[];
  private received = 0;
  private timedOut?: Error;
  private untilAnswer?: NodeJS.Timeout;
  private untilComplete?: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private resolveWith: ((response: SdkResponse) => void) | undefined,
    private rejectWith: ((err: unknown) => void) | undefined,
  ) {}

  send(transport: typeof http | typeof https, options: http.RequestOptions, body: Buffer | string | undefined): void {
    // As axios does it: a clock from the start until the answer begins (a socket that is never made,
    // e.g. a proxy that never answers CONNECT, has no idle time to count), then a socket silent for
    // the timeout, even in the middle of an answer. ECONNABORTED says the request may have reached
    // Twilio, so the queue does not repeat it.
    // Listeners are added with `on`, never `once` (each event comes once anyway): every `once` of the
    // process makes its record at one object literal in node:events, and were V8 to allocate those in
    // the old generation (see Job in request-queue.ts), each would pull its request along.
    this.untilAnswer = setTimeout(this.timeOut, this.timeoutMs);
    const req = transport.request(options, this.answered);
    this.req = req;
    req.on('error', this.reject);
    req.on('close', this.closed);
    req.on('timeout', this.timeOut);
    req.end(body);
  }

  private readonly resolve = (response: SdkResponse): void => {
    const resolve = this.resolveWith;
    this.settled();
    resolve?.(response);
  };

  private readonly reject = (err: unknown): void => {
    const reject = this.rejectWith;
    this.settled();
    reject?.(err);
  };

  /** The promise is settled: what comes later (a close after the end, an error after a timeout) changes nothing. */
  private settled(): void {
    this.resolveWith = undefined;
    this.rejectWith = undefined;
    this.first = this.more = undefined;
  }

  private readonly timeOut = (): void => {
    this.timedOut = failure(`timeout of ${this.timeoutMs}ms exceeded`, 'ECONNABORTED');
    this.reject(this.timedOut); // a request without a socket yet emits nothing when destroyed
    this.req?.destroy(this.timedOut);
  };

  private readonly closed = (): void => clearTimeout(this.untilAnswer);

  private readonly answered = (res: http.IncomingMessage): void => {
    clearTimeout(this.untilAnswer);
    this.untilComplete = setTimeout(this.timeOut, this.timeoutMs * ANSWER_TIME_FACTOR);
    res.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      if (this.received > MAX_ANSWER_BYTES) {
        const tooLarge = failure(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`, 'ERR_RESPONSE_TOO_LARGE');
        this.timedOut = tooLarge;
        this.reject(tooLarge);
        return void this.req?.destroy(tooLarge);
      }
      if (!this.first) this.first = chunk;
      else (this.more ??= [this.first]).push(chunk);
    });
    res.on('error', this.reject);
    res.on('end', () => {
      try {
        // A copy even of one chunk: a chunk is a view of the socket's read buffer, which it would keep.
        const bytes = decode(this.more ? Buffer.concat(this.more) : Buffer.from(this.first ?? EMPTY), res.headers['content-encoding']);
        this.resolve(new WireResponse(res.statusCode ?? 0, bytes.toString('utf8'), bytes, res.headers));
      } catch (err) {
        this.reject(err);
      }
    });
    res.on('close', () => {
      clearTimeout(this.untilComplete);
      if (!res.complete) this.reject(this.timedOut ?? failure('the connection closed before the answer was complete', 'ECONNRESET'));
    });
  };
}
