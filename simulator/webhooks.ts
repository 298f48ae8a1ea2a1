/**
 * The simulator's outgoing side: webhooks signed exactly as Twilio signs them (X-Twilio-Signature
 * over the URL and the sorted parameters, or over the URL with bodySHA256 for JSON bodies), with an
 * I-Twilio-Idempotency-Token. It only ever calls this machine (loopback addresses); any other URL is
 * recorded as skipped, never requested.
 */
import crypto from 'node:crypto';
import twilio from 'twilio';
import { httpRequest } from './http-client';

export interface DeliveryOptions {
  authToken: string;
  /** Send a JSON body, signed through the bodySHA256 query parameter. */
  json?: boolean;
  /** Reuse a token to simulate Twilio retrying the same delivery. */
  idempotencyToken?: string;
  method?: 'POST' | 'GET';
}

export interface Delivery {
  url: string;
  params: Record<string, string>;
  idempotencyToken: string;
  status?: number;
  contentType?: string;
  body?: string;
  /** Texts of the <Message> elements of a TwiML answer. */
  replies: string[];
  skipped?: string;
  error?: string;
  at: number;
}

const LOOPBACK = /^(127(?:\.\d{1,3}){3}|localhost|\[::1\])$/i;

export function isLoopback(url: string): boolean {
  try {
    return LOOPBACK.test(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** The <Message> texts of a MessagingResponse (entities decoded), for the simulator's records. */
export function messageReplies(twiml: string): string[] {
  const decode = (s: string) =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
  return [...twiml.matchAll(/<Message\b[^>]*>([\s\S]*?)<\/Message>/g)].map((m) =>
    decode(m[1].replace(/<Media\b[^>]*>[\s\S]*?<\/Media>/g, '').replace(/<Body>([\s\S]*?)<\/Body>/, '$1')),
  );
}

/** Twilio gives up on a webhook after 15 s. */
const DELIVERY_TIMEOUT_MS = 15_000;

export async function deliverWebhook(url: string, params: Record<string, string>, options: DeliveryOptions): Promise<Delivery> {
  const idempotencyToken = options.idempotencyToken ?? crypto.randomUUID();
  const delivery: Delivery = { url, params, idempotencyToken, replies: [], at: Date.now() };
  if (!isLoopback(url)) {
    delivery.skipped = 'not a loopback address: the simulator only calls this machine';
    return delivery;
  }
  const method = options.method ?? 'POST';
  let target = url;
  let body = '';
  let signature: string;
  let contentType: string | undefined;
  if (method === 'GET') {
    // Twilio sends a GET webhook's parameters in its query, and signs the whole URL.
    target = `${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(params)}`;
    signature = twilio.getExpectedTwilioSignature(options.authToken, target, {});
  } else if (options.json) {
    body = JSON.stringify(params);
    const hash = crypto.createHash('sha256').update(body).digest('hex');
    target = `${url}${url.includes('?') ? '&' : '?'}bodySHA256=${hash}`;
    signature = twilio.getExpectedTwilioSignature(options.authToken, target, {});
    contentType = 'application/json';
  } else {
    body = new URLSearchParams(params).toString();
    signature = twilio.getExpectedTwilioSignature(options.authToken, url, params);
    contentType = 'application/x-www-form-urlencoded';
  }
  const headers: Record<string, string> = {
    'X-Twilio-Signature': signature,
    'I-Twilio-Idempotency-Token': idempotencyToken,
    'User-Agent': 'TwilioProxy/1.1',
    ...(contentType ? { 'Content-Type': contentType } : {}),
  };
  try {
    const answer = await httpRequest(target, { method, headers, body, timeoutMs: DELIVERY_TIMEOUT_MS });
    delivery.status = answer.status;
    delivery.contentType = answer.contentType;
    delivery.body = answer.body;
    delivery.replies = messageReplies(answer.body);
  } catch (err) {
    delivery.error = (err as Error).message;
  }
  return delivery;
}
