/**
 * Receiving Twilio's webhooks: which URL Twilio signed (behind proxies and tunnels too), what bodies
 * Twilio sends and their limits, and what a webhook is about (its event, Sid, numbers, media).
 * The signature check itself is a Twilio rule: lib/twilio/signature.ts.
 */
import os from 'node:os';
import type { Body } from '../twilio/signature';

export interface SignedUrlOptions {
  /** The public URL that reaches Node-RED's root, e.g. https://home.example.com/nodered. */
  publicBaseUrl?: string;
  /** Believe X-Forwarded-Proto and X-Forwarded-Host (set only behind a proxy you run). */
  trustProxy?: boolean;
}

export interface IncomingRequest {
  /** The path and query exactly as received, e.g. /twilio/sms?site=north (Express: originalUrl). */
  originalUrl: string;
  headers: Record<string, string | string[] | undefined>;
  /** The connection's protocol: http or https. */
  protocol: string;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  const one = Array.isArray(value) ? value[0] : value;
  // A proxy chain lists the client's value first: "https, http".
  return one?.split(',')[0].trim() || undefined;
}

/** The host a request says it was sent to: X-Forwarded-Host when the proxy is trusted, else Host. */
export function requestHost(req: IncomingRequest, options: SignedUrlOptions = {}): string {
  return (options.trustProxy && firstHeader(req.headers['x-forwarded-host'])) || firstHeader(req.headers.host) || 'localhost';
}

/**
 * The URL Twilio requested, which is the one it signed: the public URL when one is set, else scheme,
 * host (and port) as the request names them (see acceptedHost: only hosts that are ours).
 */
export function signedUrl(req: IncomingRequest, options: SignedUrlOptions = {}): string {
  if (options.publicBaseUrl) return `${options.publicBaseUrl.replace(/\/+$/, '')}${req.originalUrl}`;
  const proto = requestProto(req, options);
  // Never a URL from another text: it would move the boundary between URL and parameters that
  // Twilio's signature runs over (receivers refuse such a request first: see requestProto).
  if (proto === undefined) throw new Error('X-Forwarded-Proto is neither http nor https');
  return `${proto}://${requestHost(req, options)}${req.originalUrl}`;
}

/**
 * The scheme a request was sent with: X-Forwarded-Proto (its first value, trimmed, in lower case)
 * when the proxy is trusted, else the connection's. Only http and https: anything else (a proto that
 * carries another URL and the first parameters, say) is undefined, and the request is refused.
 */
export function requestProto(req: IncomingRequest, options: SignedUrlOptions = {}): 'http' | 'https' | undefined {
  const header = options.trustProxy ? firstHeader(req.headers['x-forwarded-proto']) : undefined;
  const proto = (header ?? req.protocol ?? '').trim().toLowerCase();
  return proto === 'http' || proto === 'https' ? proto : undefined;
}

/** A host without its port, in lower case: "[::1]:1880" is "::1", "Home.Example.com:443" is "home.example.com". */
export function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith('[')) return lower.slice(1, lower.indexOf(']') === -1 ? undefined : lower.indexOf(']'));
  const colon = lower.indexOf(':');
  // One colon separates a port; more are a bare IPv6 address.
  return colon !== -1 && colon === lower.lastIndexOf(':') ? lower.slice(0, colon) : lower;
}

/** The port a host names, if any: "[::1]:1880" is 1880, "::1" and "localhost" none. */
export function hostPort(host: string): number | undefined {
  const lower = host.trim().toLowerCase();
  let port: string | undefined;
  if (lower.startsWith('[')) {
    const close = lower.indexOf(']');
    if (close !== -1 && lower[close + 1] === ':') port = lower.slice(close + 2);
  } else {
    const colon = lower.indexOf(':');
    if (colon !== -1 && colon === lower.lastIndexOf(':')) port = lower.slice(colon + 1);
  }
  return port !== undefined && /^\d{1,5}$/.test(port) ? Number(port) : undefined;
}

/** Node-RED's port when settings.js names none (uiPort). */
export const DEFAULT_UI_PORT = 1880;

/** How long the machine's names are kept: a stranger's request must not cost a read of every interface. */
const OWN_NAMES_MS = 60_000;
let ownNames: { names: Set<string>; at: number } | undefined;

/**
 * This machine's own names and addresses: loopback, its host name, its interfaces' addresses. Read at
 * most once a minute (a webhook reaches this before its signature is checked; an address that comes
 * and goes, a DHCP lease, is seen within the minute).
 */
export function ownHostNames(): Set<string> {
  const now = Date.now();
  if (ownNames && now - ownNames.at < OWN_NAMES_MS) return ownNames.names;
  const names = new Set(['localhost', '127.0.0.1', '::1', os.hostname().toLowerCase()]);
  for (const addresses of Object.values(os.networkInterfaces()))
    for (const { address } of addresses ?? []) names.add(address.toLowerCase());
  ownNames = { names, at: now };
  return names;
}

/**
 * The hosts a user names (a setting: "home.example.com, tunnel.example.net:8443"), each in lower
 * case: a name alone stands for any port, "name:port" for that port only. A URL's scheme and path,
 * typed by habit, are left out.
 */
export function parseHostList(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[\s,]+/)
    .map((entry) =>
      entry
        .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
        .replace(/\/.*$/, '')
        .toLowerCase(),
    )
    .filter((entry) => entry !== '');
}

const WELL_FORMED_HOST = /^(?:[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?|\[[0-9a-f:.]+\]|[0-9a-f:]+)(?::\d{1,5})?$/;

/**
 * Whether a request that names `host` may have its signature checked against a URL built from it:
 * only when the host is this Node-RED's own (one of `own`, with no port or one of `ports`, the ports
 * this Node-RED listens on) or one the user named. Any other would let a signature Twilio made for
 * another host (another service of the same account), or another port of this machine (another local
 * service), be replayed here, with that Host (or X-Forwarded-Host) forged. An own name at another
 * port must be named in the list ("localhost:8080").
 */
export function acceptedHost(
  host: string,
  named: readonly string[],
  own: () => Set<string> = ownHostNames,
  ports: readonly number[] = [DEFAULT_UI_PORT],
): boolean {
  const exact = host.trim().toLowerCase();
  // A host and a port, nothing else: "127.0.0.1:1@other.example.com" must not pass as 127.0.0.1.
  if (!WELL_FORMED_HOST.test(exact)) return false;
  const name = hostName(exact);
  if (named.some((entry) => entry === exact || entry === name || (entry.startsWith('[') && entry.slice(1, -1) === name))) return true;
  if (!own().has(name)) return false;
  // WELL_FORMED_HOST let only a port of digits through: none named is the scheme's own port.
  const port = hostPort(exact);
  return port === undefined || ports.includes(port);
}

/** Twilio posts forms (its usual) or JSON (signed with bodySHA256); anything else is not Twilio. */
export function webhookBodyKind(contentType: string | undefined): 'form' | 'json' | undefined {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (type === 'application/json') return 'json';
  return undefined;
}

/**
 * Limits a body must keep before any work is spent on it (a stranger's unsigned request costs its
 * signature check): Twilio's forms carry a few dozen parameters in a few KiB (a WhatsApp text of
 * 4,096 characters is under 40 KiB encoded); its JSON events are shallow.
 */
export const WEBHOOK_LIMITS = { formBytes: 128 * 1024, formParameters: 256, jsonBytes: 1024 * 1024, jsonDepth: 32 } as const;

/** Whether a form body has more parameters than Twilio ever sends, counted before it is parsed. */
export function tooManyParameters(raw: string, max: number = WEBHOOK_LIMITS.formParameters): boolean {
  let count = 1;
  for (let at = raw.indexOf('&'); at !== -1; at = raw.indexOf('&', at + 1)) if (++count > max) return true;
  return false;
}

/** Whether JSON text nests deeper than `max` (a deep document would cost the flow's clones their stack). */
export function nestsDeeperThan(raw: string, max: number = WEBHOOK_LIMITS.jsonDepth): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Reads a form body into its parameters (own keys only: `__proto__` is a parameter like any other). */
export function parseForm(raw: string): Body {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(raw)) params[key] = value;
  return { kind: 'form', raw, params };
}

/** A JSON body's value, read once its signature is checked (text that is not JSON stays text). */
export function jsonValue(raw: string): unknown {
  try {
    return JSON.parse(raw || 'null');
  } catch {
    return raw;
  }
}

/**
 * What a webhook is about. `gather` is what a caller entered at a <Gather> (its keys, Digits, or its
 * words, SpeechResult), posted to the Gather's action URL: news of a call in progress, not a new call.
 */
export type WebhookEvent = 'message' | 'message-status' | 'call' | 'gather' | 'call-status' | 'other';

const CALL_STATUS_EVENTS = new Set(['initiated', 'answered', 'completed', 'busy', 'no-answer', 'failed', 'canceled']);

/** What a webhook is about, from the parameters Twilio sends with each kind. */
export function classifyEvent(params: Record<string, unknown>): WebhookEvent {
  if (typeof params.MessageStatus === 'string' && params.MessageStatus !== 'received') return 'message-status';
  if (typeof params.MessageSid === 'string' || typeof params.SmsMessageSid === 'string') return 'message';
  if (typeof params.CallSid === 'string') {
    if (typeof params.Digits === 'string' || typeof params.SpeechResult === 'string') return 'gather';
    const status = String(params.CallStatus ?? '');
    return params.CallbackSource !== undefined || CALL_STATUS_EVENTS.has(status) ? 'call-status' : 'call';
  }
  return 'other';
}

export interface Media {
  url: string;
  contentType: string;
}

/** MMS and WhatsApp media arrive as NumMedia with MediaUrl0.. and MediaContentType0.. */
export function mediaOf(params: Record<string, unknown>): Media[] {
  const count = Math.min(Number(params.NumMedia ?? 0) || 0, 10);
  const media: Media[] = [];
  for (let i = 0; i < count; i++) {
    if (typeof params[`MediaUrl${i}`] === 'string')
      media.push({ url: String(params[`MediaUrl${i}`]), contentType: String(params[`MediaContentType${i}`] ?? '') });
  }
  return media;
}

export interface WebhookSummary {
  event: WebhookEvent;
  sid?: string;
  from?: string;
  to?: string;
  accountSid?: string;
}

export function summarise(params: Record<string, unknown>): WebhookSummary {
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    event: classifyEvent(params),
    sid: text(params.MessageSid) ?? text(params.SmsMessageSid) ?? text(params.CallSid),
    from: text(params.From),
    to: text(params.To),
    accountSid: text(params.AccountSid),
  };
}
