/**
 * One inbound path per account: everything Twilio tells us about an account (incoming messages and
 * calls, message and call statuses, gather results) is published here, whatever brought it (a
 * twilio-in webhook after its signature and duplicate checks, webhook-receiver.ts; a twilio-in poll,
 * poll-receiver.ts). Nodes subscribe by what they wait for: a Sid (a message's or call's outcome), a
 * pair of numbers (a reply from the person we wrote to), or a number (everything to it). Each event
 * reaches each subscriber once, even when it arrives twice (by webhook and by poll).
 */
import type { WebhookEvent } from './webhook';

export interface InboundEvent {
  kind: WebhookEvent;
  /** The message's or call's Sid. */
  sid?: string;
  from?: string;
  to?: string;
  accountSid?: string;
  /** What Twilio sent, as it sent it. */
  params: Readonly<Record<string, unknown>>;
  source: 'webhook' | 'poll';
  /** When Twilio got it, by Twilio's clock, for a polled event (a webhook's is now). */
  at?: number;
}

/**
 * What a subscriber waits for: one record, a conversation (from → to), everything to a number, or
 * everything from a person (a reply to a question sent through a Messaging Service, whose sender
 * Twilio picks).
 */
export type InboundMatch = { sid: string } | { from: string; to: string } | { to: string } | { from: string };

/**
 * A subscriber gets each matching event; it returns `'claimed'` when the event was meant for it alone
 * (an answer to its question), so the source (twilio-in) does not also pass it on as news.
 */
export type InboundHandler = (event: InboundEvent) => unknown;

export interface Published {
  /** How many subscribers got it (0 for a repeat of an event already published). */
  delivered: number;
  /** Whether one of them took it as its own. */
  claimed: boolean;
}

/** Events remembered to keep a second arrival of the same one from anyone: bounded, oldest out first. */
const REMEMBERED_EVENTS = 10_000;

/**
 * The same event however it came: a message's arrival by its Sid, a status by its Sid and status
 * (Twilio sends each status once per callback; a retry repeats it), a call event with its sequence.
 */
export function eventIdentity(event: InboundEvent): string | undefined {
  if (!event.sid) return undefined;
  const p = event.params;
  const status = String(p.MessageStatus ?? p.CallStatus ?? p.SmsStatus ?? '');
  const step = String(p.SequenceNumber ?? p.Digits ?? p.SpeechResult ?? '');
  return `${event.kind}|${event.sid}|${status}|${step}`;
}

export class InboundHub {
  private readonly bySid = new Map<string, Set<InboundHandler>>();
  private readonly byPair = new Map<string, Set<InboundHandler>>();
  private readonly byNumber = new Map<string, Set<InboundHandler>>();
  private readonly bySender = new Map<string, Set<InboundHandler>>();
  /** Sources that feed this hub (twilio-in nodes, by webhook or by poll): a node that waits can say when there is none. */
  private sourceCount = 0;
  /**
   * Handlers that threw are reported to `onHandlerError`, not to whoever published. `seen` holds the
   * identities of recent events in arrival order (a Map keeps insertion order) and whether one was
   * claimed: given by the caller, it can outlive the hub (a redeploy makes a new account node).
   */
  constructor(
    private readonly onHandlerError: (err: unknown) => void = () => undefined,
    private readonly seen = new Map<string, 'claimed' | 'heard'>(),
  ) {}

  /** Starts delivering matching events to `handler`; returns how to stop. */
  subscribe(match: InboundMatch, handler: InboundHandler): () => void {
    const [index, key] =
      'sid' in match
        ? [this.bySid, match.sid]
        : 'from' in match && 'to' in match
          ? [this.byPair, pairKey(match.from, match.to)]
          : 'to' in match
            ? [this.byNumber, match.to]
            : [this.bySender, match.from];
    let handlers = index.get(key);
    if (!handlers) index.set(key, (handlers = new Set()));
    handlers.add(handler);
    return () => {
      handlers!.delete(handler);
      if (handlers!.size === 0 && index.get(key) === handlers) index.delete(key);
    };
  }

  /**
   * Delivers an event to every subscriber it matches, once each; a repeat of an event already
   * published (the same status by webhook and by poll) reaches no one, and counts as claimed when
   * the first one was (so neither arrival is passed on as news).
   */
  publish(event: InboundEvent): Published {
    const identity = eventIdentity(event);
    if (identity !== undefined) {
      const before = this.seen.get(identity);
      if (before !== undefined) return { delivered: 0, claimed: before === 'claimed' };
      this.seen.set(identity, 'heard');
      if (this.seen.size > REMEMBERED_EVENTS) this.seen.delete(this.seen.keys().next().value as string);
    }
    const handlers = new Set<InboundHandler>();
    const add = (set: Set<InboundHandler> | undefined) => set?.forEach((h) => handlers.add(h));
    if (event.sid) add(this.bySid.get(event.sid));
    if (event.from && event.to) add(this.byPair.get(pairKey(event.from, event.to)));
    if (event.to) add(this.byNumber.get(event.to));
    if (event.from) add(this.bySender.get(event.from));
    let claimed = false;
    for (const handler of handlers) {
      try {
        if (handler(event) === 'claimed') claimed = true;
      } catch (err) {
        this.onHandlerError(err);
      }
    }
    if (claimed && identity !== undefined) this.seen.set(identity, 'claimed');
    return { delivered: handlers.size, claimed };
  }

  /** A source (a twilio-in) starts feeding this hub; returns how to stop. */
  addSource(): () => void {
    this.sourceCount++;
    let removed = false;
    return () => {
      if (!removed) this.sourceCount--;
      removed = true;
    };
  }

  /** How many sources feed it now. */
  get sources(): number {
    return this.sourceCount;
  }

  /** How many subscriptions are open (for status lines and tests). */
  get subscriptions(): number {
    let n = 0;
    for (const index of [this.bySid, this.byPair, this.byNumber, this.bySender]) for (const set of index.values()) n += set.size;
    return n;
  }
}

const pairKey = (from: string, to: string) => `${from}\u0000${to}`;

const hubs = new WeakMap<object, InboundHub>();
/**
 * What each account's hub has heard, by the config node's id: a redeploy makes a new config node (and
 * hub), and a text heard by webhook before it must not come back as new by the next poll after it.
 */
const heardByAccount = new Map<string, Map<string, 'claimed' | 'heard'>>();

/** The hub of an account (its config node): made when first asked for, gone with the node. */
export function inboundHubFor(account: object): InboundHub {
  let hub = hubs.get(account);
  if (!hub) {
    const id = (account as { id?: unknown }).id;
    let heard = typeof id === 'string' ? heardByAccount.get(id) : undefined;
    if (!heard) {
      heard = new Map();
      if (typeof id === 'string') heardByAccount.set(id, heard);
    }
    hubs.set(account, (hub = new InboundHub(undefined, heard)));
  }
  return hub;
}
