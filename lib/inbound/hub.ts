/**
 * One inbound path per account: everything Twilio tells us about an account (incoming messages and
 * calls, message and call statuses, gather results) is published here, whatever brought it (a
 * twilio-in webhook after its signature and duplicate checks, webhook-receiver.ts; a twilio-in poll,
 * poll-receiver.ts). Nodes subscribe by what they wait for: a Sid (a message's or call's outcome), a
 * pair of numbers (a reply from the person we wrote to), or a number (everything to it). Each event
 * reaches each subscriber once, even when it arrives twice (by webhook and by poll).
 */
import { isPlainObject } from '../core/shapes';
import crypto from 'node:crypto';
import type { StateEngine } from '../state/engine';
import { presenceOn } from '../state/instance';
import { digest, heardPrefix, inboundChannel } from './heard';
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
  /** The path (and query) a webhook was posted to, as signed: tells two <Gather>s of one call apart. */
  route?: string;
}

/**
 * What a subscriber waits for: one record, a conversation (from → to), everything to a number, or
 * everything from a person (a reply to a question sent through a Messaging Service, whose sender
 * Twilio picks).
 */
export type InboundMatch = { sid: string } | { from: string; to: string } | { to: string } | { from: string };

/**
 * A subscriber gets each matching event; it returns `'claimed'` when the event was meant for it alone
 * (an answer to its question), so the source (twilio-in) does not also pass it on as news, or a
 * Promise of that when it must look first (a question another instance may hold: the engine says).
 */
export type InboundHandler = (event: InboundEvent) => unknown;

/** Looks at an event no subscriber claimed or is deciding about: a Promise of `'claimed'`, or undefined when it has nothing to look at. */
export type UnclaimedHook = (event: InboundEvent) => Promise<unknown> | undefined;

export interface Published {
  /** How many subscribers got it (0 for a repeat of an event already published). */
  delivered: number;
  /** Whether one of them took it as its own. */
  claimed: boolean;
  /** Only while a claim is pending: whether it was claimed in the end (never rejects). */
  settled?: Promise<boolean>;
}

/** Events remembered to keep a second arrival of the same one from anyone: bounded, oldest out first. */
const REMEMBERED_EVENTS = 10_000;

/**
 * The same event however it came, by what Twilio signs: a message's arrival by its Sid (by webhook or
 * by poll), a call's arrival by its Sid (its first request, ringing, or a polled call), a status by its
 * Sid and status (Twilio sends each status once per callback; a retry repeats it), a call step with
 * its SequenceNumber, a key press (Digits) or spoken answer (SpeechResult) with the route it was posted
 * to (a <Gather>'s action URL, query included: a menu that takes the same key twice in one call tells
 * its presses apart by their action URLs). Undefined without a Sid, and for a request within a call
 * (a <Redirect>, CallStatus in-progress: Twilio signs nothing that tells two of them apart): such an
 * event is told apart by its delivery token only.
 */
export function eventIdentity(event: InboundEvent): string | undefined {
  // An empty Sid (a re-split of a signed request can make one) is still an identity: never none.
  if (event.sid === undefined) return undefined;
  const p = event.params;
  const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));
  if (event.kind === 'message') return `message|${event.sid}`;
  if (event.kind === 'call') return event.source === 'poll' || p.CallStatus === 'ringing' ? `call|${event.sid}` : undefined;
  const status = text(p.MessageStatus ?? p.CallStatus ?? p.SmsStatus);
  const step = text(p.SequenceNumber ?? p.Digits ?? p.SpeechResult);
  const route = p.SequenceNumber === undefined && (p.Digits !== undefined || p.SpeechResult !== undefined) ? (event.route ?? '') : '';
  return `${event.kind}|${event.sid}|${status}|${step}|${route}`;
}

/** An event as it travels between instances: from which hub, and what it was. */
interface FarEvent {
  origin: string;
  event: InboundEvent;
}

const KINDS = new Set<string>(['message', 'message-status', 'call', 'gather', 'call-status', 'other']);
/** A Sid as another instance may send it: Twilio's are 34 characters. */
const FAR_SID = /^[A-Za-z0-9]{2,64}$/;

export class InboundHub {
  /** Tells this hub's own events apart from another instance's on the account's channel. */
  private readonly id = crypto.randomUUID();
  private remote?: { engine: StateEngine; channel: string; accountSid: string; stop: Promise<() => Promise<void>> };
  private readonly bySid = new Map<string, Set<InboundHandler>>();
  private readonly byPair = new Map<string, Set<InboundHandler>>();
  private readonly byNumber = new Map<string, Set<InboundHandler>>();
  private readonly bySender = new Map<string, Set<InboundHandler>>();
  private readonly unclaimedHooks = new Set<UnclaimedHook>();
  /** Claims still being decided, by identity: a repeat meanwhile waits on the same answer. */
  private readonly settling = new Map<string, Promise<boolean>>();
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
   * the first one was (so neither arrival is passed on as news), or waits for its pending claim.
   * Unclaimed and undecided, it goes to the `onUnclaimed` hooks.
   */
  publish(event: InboundEvent): Published {
    const identity = eventIdentity(event);
    if (identity !== undefined) {
      const before = this.seen.get(identity);
      if (before !== undefined) {
        const settled = before === 'heard' ? this.settling.get(identity) : undefined;
        return settled ? { delivered: 0, claimed: false, settled } : { delivered: 0, claimed: before === 'claimed' };
      }
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
    let pending: Array<Promise<unknown>> | undefined;
    for (const handler of handlers) {
      const result = this.call(handler, event);
      if (result === 'claimed') claimed = true;
      else if (result instanceof Promise) (pending ??= []).push(result);
    }
    if (!claimed && !pending)
      for (const hook of this.unclaimedHooks) {
        const result = this.call(hook, event);
        if (result instanceof Promise) (pending ??= []).push(result);
      }
    if (claimed && identity !== undefined) this.seen.set(identity, 'claimed');
    // Another instance may hold what waits for this Sid (an outcome, a page's call): it hears it there.
    // An incoming text's Sid is new: no one anywhere waits for it.
    if (event.sid && event.kind !== 'message' && !this.bySid.has(event.sid)) this.sendAfar(event);
    // The common case allocates nothing more: nothing pending.
    if (!pending) return { delivered: handlers.size, claimed };
    const settled = this.settle(identity, pending);
    return claimed ? { delivered: handlers.size, claimed } : { delivered: handlers.size, claimed, settled };
  }

  private call(handler: InboundHandler, event: InboundEvent): unknown {
    try {
      return handler(event);
    } catch (err) {
      this.onHandlerError(err);
      return undefined;
    }
  }

  /** Whether one of the pending claims comes true; remembered as claimed when one does. */
  private settle(identity: string | undefined, pending: Array<Promise<unknown>>): Promise<boolean> {
    const settled = Promise.all(
      pending.map((p) =>
        p.then(
          (result) => result === 'claimed',
          (err: unknown) => (this.onHandlerError(err), false),
        ),
      ),
    ).then((results) => {
      const claimed = results.includes(true);
      if (identity !== undefined) {
        this.settling.delete(identity);
        if (claimed && this.seen.has(identity)) this.seen.set(identity, 'claimed');
      }
      return claimed;
    });
    if (identity !== undefined) this.settling.set(identity, settled);
    return settled;
  }

  /** Hands `hook` the events nobody claimed or is deciding about (a text another instance's question may be waiting for); returns how to stop. */
  onUnclaimed(hook: UnclaimedHook): () => void {
    this.unclaimedHooks.add(hook);
    return () => void this.unclaimedHooks.delete(hook);
  }

  /**
   * Hears the account's events on `engine` (every instance on one store): what another instance heard
   * for a Sid this instance waits for reaches its subscribers here. Each event is published by the
   * one instance that claimed it first (heard.ts), so it is delivered once. Called again with another
   * engine (the account's was closed and opened again), it moves there.
   */
  connect(engine: StateEngine, accountSid: string): void {
    if (this.remote?.engine === engine) return;
    const before = this.remote;
    if (before) void before.stop.then((stop) => stop()).catch(() => undefined);
    const channel = inboundChannel(accountSid);
    const stop = engine
      .subscribe(channel, (message) => this.fromAfar(message))
      .catch((err: unknown) => {
        this.onHandlerError(err);
        return async () => undefined;
      });
    this.remote = { engine, channel, accountSid, stop };
  }

  private sendAfar(event: InboundEvent): void {
    const remote = this.remote;
    if (!remote) return;
    const far: FarEvent = { origin: this.id, event: { ...event } };
    // Told once it is sent: an engine that is down loses this one notice, not the event (its wait looks it up).
    void remote.engine.publish(remote.channel, far).catch(() => undefined);
  }

  /** Another instance's event (checked: a shared store is not trusted to hold only our shapes): to the Sid's subscribers here. */
  private fromAfar(message: unknown): void {
    if (!isPlainObject(message) || message.origin === this.id || typeof message.origin !== 'string') return;
    const e = message.event;
    if (!isPlainObject(e) || typeof e.sid !== 'string' || !FAR_SID.test(e.sid) || typeof e.kind !== 'string' || !KINDS.has(e.kind)) return;
    if (!isPlainObject(e.params)) return;
    const handlers = this.bySid.get(e.sid);
    if (!handlers) return;
    const optional = (value: unknown) => (typeof value === 'string' ? value : undefined);
    const event: InboundEvent = {
      kind: e.kind as WebhookEvent,
      sid: e.sid,
      from: optional(e.from),
      to: optional(e.to),
      accountSid: optional(e.accountSid),
      params: e.params,
      source: e.source === 'poll' ? 'poll' : 'webhook',
      at: typeof e.at === 'number' && Number.isFinite(e.at) ? e.at : undefined,
      route: optional(e.route),
    };
    const identity = eventIdentity(event);
    // One without an identity (a request within a call) cannot be checked, and no one waits for it
    // elsewhere (a call's subscribers read its key presses and statuses, which have one): not believed.
    if (identity === undefined || this.seen.has(identity)) return;
    // Believed only when the instance that heard it claimed its identity in the engine (heard.ts), as
    // it does before it publishes: whoever may PUBLISH on a shared Redis cannot write that key.
    const remote = this.remote;
    if (!remote) return;
    void remote.engine
      .get(`${heardPrefix(remote.accountSid)}e/${digest(identity)}`)
      .then((claimed) => {
        if (!claimed || this.seen.has(identity)) return;
        this.seen.set(identity, 'heard');
        if (this.seen.size > REMEMBERED_EVENTS) this.seen.delete(this.seen.keys().next().value as string);
        this.deliverFar(event);
      })
      .catch((err: unknown) => this.onHandlerError(err));
  }

  private deliverFar(event: InboundEvent): void {
    const handlers = this.bySid.get(event.sid!);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      try {
        handler(event);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }

  /** A source (a twilio-in) starts feeding this hub; returns how to stop. */
  addSource(): () => void {
    this.sourceCount++;
    // A source claims what it hears in this instance's name (heard.ts): the instance's lease, kept
    // while a source feeds, tells the other instances that its claims' taker is alive.
    const presence = this.remote ? presenceOn(this.remote.engine) : undefined;
    presence?.join();
    let removed = false;
    return () => {
      if (!removed) {
        this.sourceCount--;
        presence?.leave();
      }
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

/** What the hub needs of an account: its SID (one hub per Twilio account) and its state engine. */
interface HubAccount {
  accountSid?: unknown;
  state?: StateEngine;
}

/** One hub per Account SID in this process: every account node of one Twilio account shares it (and its board). */
const hubsBySid = new Map<string, InboundHub>();
/** An account without a SID (a node not yet configured): its own hub. */
const hubsByNode = new WeakMap<object, InboundHub>();

/**
 * The hub of a Twilio account (by the config node's Account SID): made when first asked for, kept
 * for the process (a redeploy makes new config nodes of the same account: their nodes find it again,
 * with what it heard). Connected to the account's state engine, it hears the account's events from
 * other instances.
 */
export function inboundHubFor(account: object): InboundHub {
  const { accountSid, state } = account as HubAccount;
  const sid = typeof accountSid === 'string' && accountSid ? accountSid : undefined;
  let hub = sid ? hubsBySid.get(sid) : hubsByNode.get(account);
  if (!hub) {
    hub = new InboundHub();
    if (sid) hubsBySid.set(sid, hub);
    else hubsByNode.set(account, hub);
  }
  if (sid && state) hub.connect(state, sid);
  return hub;
}
