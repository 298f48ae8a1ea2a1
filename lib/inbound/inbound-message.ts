/**
 * What Twilio told us, however it came (a webhook or a poll), on its way in: published on the
 * account's inbound path, where a node waiting for this Sid or these numbers may take it as its own
 * (an answer to a question), and otherwise the msg twilio-in sends its flow. One builder for both
 * ways in, so a polled text reads like a webhook's.
 */
import type { Clock } from '../core/clock';
import type { NodeStatus } from '../node-red/status';
import type { InboundEvent, InboundHub } from './hub';
import { Media, WebhookSummary, mediaOf, summarise } from './webhook';

export interface InboundMsg {
  /** What Twilio sent, with its media gathered in `media`; a JSON array or scalar as it came. */
  payload: unknown;
  twilio: WebhookSummary & { source?: 'poll' };
  /** A webhook's request and response (for a twilio-reply or an http response node). */
  req?: unknown;
  res?: { _res: unknown };
}

/** The status line a receiver shows (a node's NodeStatus). */
export type StatusLine = Pick<NodeStatus, 'working' | 'success' | 'warning' | 'failed'>;

/** What a receiver is handed by its node: where msgs go, warnings (message keys), the status line, the time. */
export interface ReceiverCallbacks {
  /** A msg for the flow: news no node on the inbound path took. */
  emit(msg: InboundMsg): void;
  warn(key: string, subs?: Record<string, string | number>): void;
  status: StatusLine;
  clock?: Clock;
}

export interface InboundOrigin {
  source: 'webhook' | 'poll';
  /** A polled event's kind: a polled call is an incoming call whatever its status by now (a missed one has ended: no-answer). */
  event?: 'message' | 'call';
  /** When Twilio got it (its clock), for a polled event. */
  at?: number;
  /** The path (and query) a webhook was posted to. */
  route?: string;
}

/** The event on the inbound path for what Twilio sent. */
export function inboundEvent(params: Record<string, unknown>, origin: InboundOrigin): InboundEvent {
  const summary = { ...summarise(params), ...(origin.event ? { event: origin.event } : {}) };
  return {
    kind: summary.event,
    sid: summary.sid,
    from: summary.from,
    to: summary.to,
    accountSid: summary.accountSid,
    params,
    source: origin.source,
    at: origin.at,
    ...(origin.route !== undefined ? { route: origin.route } : {}),
  };
}

/**
 * Publishes what Twilio sent on `hub` and returns the msg to send on, or undefined when a subscriber
 * claimed it (at once, or once it looked: a question another instance may hold). Without a hub (a
 * webhook whose signature is not checked: anyone could mark a message delivered or answer a
 * question) nothing is published and the msg always goes on. `event`: the receiver's own, when it
 * built one already (its identity, the sidebar).
 */
export async function receiveInbound(
  hub: InboundHub | undefined,
  params: Record<string, unknown>,
  origin: InboundOrigin,
  event: InboundEvent = inboundEvent(params, origin),
): Promise<InboundMsg | undefined> {
  const published = hub?.publish(event);
  if (published?.claimed || (published?.settled && (await published.settled))) return undefined;
  const summary = { ...summarise(params), ...(origin.event ? { event: origin.event } : {}) };
  const payload: Record<string, unknown> & { media?: Media[] } = { ...params };
  const media = mediaOf(params);
  if (media.length > 0) payload.media = media;
  return { payload, twilio: origin.source === 'poll' ? { ...summary, source: 'poll' } : summary };
}
