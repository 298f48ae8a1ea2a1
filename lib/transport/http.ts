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

export interface WireRequest {
  method: string;
  url: URL;
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

function encodeBody(data: unknown, contentType: string | undefined): string | undefined {
  if (data === undefined || data === null) return undefined;
  if (contentType === FORM) return qs.stringify(data, QS_OPTIONS);
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

export function sendOverWire(request: WireRequest): Promise<SdkResponse> {
  const { url } = request;
  let path = url.pathname + url.search;
  if (request.params) {
    const query = qs.stringify(request.params, QS_OPTIONS);
    if (query) path += (url.search ? '&' : '?') + query;
  }
  const body = request.body ?? encodeBody(request.data, request.headers['Content-Type']);
  const headers = body === undefined ? request.headers : { ...request.headers, 'Content-Length': String(Buffer.byteLength(body)) };
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let timedOut: Error | undefined;
    const timeOut = () => {
      timedOut = failure(`timeout of ${request.timeoutMs}ms exceeded`, 'ECONNABORTED');
      reject(timedOut); // a request without a socket yet emits nothing when destroyed
      req.destroy(timedOut);
    };
    // As axios does it: a clock from the start until the answer begins (a socket that is never made,
    // e.g. a proxy that never answers CONNECT, has no idle time to count), then a socket silent for
    // the timeout, even in the middle of an answer. ECONNABORTED says the request may have reached
    // Twilio, so the queue does not repeat it.
    const untilAnswer = setTimeout(timeOut, request.timeoutMs);
    const req = transport.request(
      { ...urlToHttpOptions(url), path, method: request.method.toUpperCase(), headers, agent: request.agent },
      (res) => {
        clearTimeout(untilAnswer);
        const chunks: Buffer[] = [];
        let received = 0;
        const untilComplete = setTimeout(timeOut, request.timeoutMs * ANSWER_TIME_FACTOR);
        res.once('close', () => clearTimeout(untilComplete));
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_ANSWER_BYTES) {
            const tooLarge = failure(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`, 'ERR_RESPONSE_TOO_LARGE');
            timedOut = tooLarge;
            reject(tooLarge);
            return void req.destroy(tooLarge);
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          try {
            const bytes = decode(Buffer.concat(chunks), res.headers['content-encoding']);
            resolve({ statusCode: res.statusCode ?? 0, body: bytes.toString('utf8'), bytes, headers: res.headers });
          } catch (err) {
            reject(err);
          }
        });
        res.on(
          'close',
          () => res.complete || reject(timedOut ?? failure('the connection closed before the answer was complete', 'ECONNRESET')),
        );
      },
    );
    req.on('error', reject);
    req.once('close', () => clearTimeout(untilAnswer));
    req.setTimeout(request.timeoutMs, timeOut);
    req.end(body);
  });
}
