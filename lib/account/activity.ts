/**
 * What the Twilio sidebar shows of each account (plugins/twilio-sidebar): its request queue minute by
 * minute over the last 15 minutes, the last 50 messages and calls in and out with their statuses, its
 * webhook refusals by reason and its pollers' last looks; and, for every node, its open waits with
 * their deadlines. The other layers feed it through one-line hooks (`account.activity?.sent(…)`).
 *
 * Bounded and O(1) per event, with no timer of its own: an event updates a few numbers and calls the
 * listeners, when there are any (the sidebar's publisher listens only while an editor is connected).
 * Nothing secret or personal is kept: Sids, numbers with all but their last four digits hidden,
 * statuses, times and codes. Never a body, a URL, a credential or an error's text.
 */
import { Clock, systemClock } from '../core/clock';
import type { QueueState, RequestQueue } from '../transport/request-queue';

/** Messages and calls kept per account. */
export const TRAFFIC_KEPT = 50;
/** Minutes the queue chart covers. */
export const CHART_MINUTES = 15;
/** Pollers kept per account (one per twilio-in that polls). */
const POLLERS_KEPT = 50;
/** Open waits a snapshot lists at most (the nearest deadlines first). */
export const WAITS_LISTED = 200;

/** A webhook refused: by its HTTP status. */
export type Refusal = 'signature' | 'size' | 'type' | 'slow' | 'other';
const REFUSAL_BY_STATUS: Record<number, Refusal> = { 403: 'signature', 413: 'size', 415: 'type', 408: 'slow' };

export interface TrafficEntry {
  sid: string;
  kind: 'message' | 'call';
  direction: 'in' | 'out';
  /** Masked: all but the last four digits hidden. */
  from: string;
  to: string;
  status: string;
  /** When it was first seen, and when its status last changed (ms since the epoch). */
  at: number;
  updatedAt: number;
}

/** A TrafficEntry as kept: its numbers not yet masked. */
type Traffic = Omit<TrafficEntry, 'from' | 'to'> & { from: unknown; to: unknown };

export interface QueueMinute {
  /** The minute's start (ms since the epoch). */
  at: number;
  /** The most requests queued, and in flight, at once in it. */
  queued: number;
  inFlight: number;
  /** Requests started, 429s answered, retries made in it. */
  started: number;
  rateLimited: number;
  retried: number;
}

export interface PollerInfo {
  /** The number it looks for (masked), or '*' for every number. */
  number: string;
  lastLookAt?: number;
  /** Its last failure's code (and Twilio's), and when; `failing` while the looks still fail. */
  lastError?: { code: string; twilioCode?: number; at: number };
  failing: boolean;
}

export interface AccountSnapshot {
  id: string;
  name: string;
  /** The Account SID's last four characters. */
  accountSid: string;
  queue: QueueState;
  minutes: QueueMinute[];
  /** Newest first. */
  traffic: TrafficEntry[];
  refusals: Record<Refusal, number>;
  lastRefusalAt?: number;
  pollers: PollerInfo[];
}

export interface OpenWait {
  /** The node that holds it (the sidebar reveals it), and the wait's id in that node. */
  nodeId: string;
  id: string;
  /** When it gives up, or its current step ends (a page); undefined when it has none. */
  deadline?: number;
}

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
const STATUS = /^[a-z][a-z-]{0,29}$/;

/**
 * A number with all but its last four digits hidden (`+1•••••••2661`, `whatsapp:+44••••••0123`); an
 * address without digits enough (a client name, an email) keeps only its last four characters.
 */
export function maskNumber(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '';
  const text = value.slice(0, 64);
  let digits = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) digits++;
  if (digits > 4) {
    let out = '';
    let shown = 0;
    for (let i = text.length - 1; i >= 0; i--) {
      const c = text.charCodeAt(i);
      out = (c >= 48 && c <= 57 && shown++ >= 4 ? '•' : text[i]) + out;
    }
    return out;
  }
  return text.length <= 4 ? '•'.repeat(text.length) : '•'.repeat(Math.min(text.length - 4, 12)) + text.slice(-4);
}

/** How far along a status is: a later one never gives way to an earlier one. */
const STAGES: Record<string, number> = {
  accepted: 0,
  scheduled: 0,
  queued: 0,
  initiated: 0,
  sending: 1,
  ringing: 1,
  sent: 2,
  'in-progress': 2,
  answered: 2,
};
const rank = (status: string): number => STAGES[status] ?? (status === 'unknown' ? -1 : 3);

const sidOf = (value: unknown): string | undefined => (typeof value === 'string' && SID.test(value) ? value : undefined);
const statusOf = (value: unknown): string => (typeof value === 'string' && STATUS.test(value) ? value : 'unknown');

/** What a created message or call answered (Twilio's record, or the SDK's). */
interface CreatedLike {
  sid?: unknown;
  to?: unknown;
  from?: unknown;
  status?: unknown;
}

/** What Twilio told us (an inbound event: lib/inbound/hub.ts InboundEvent). */
interface HeardLike {
  kind: string;
  sid?: string;
  from?: string;
  to?: string;
  params: Readonly<Record<string, unknown>>;
}

/** What a poller's look came to (lib/inbound/poller.ts PollOutcome). */
interface LookLike {
  at: number;
  error?: { code: string; twilioCode?: number };
  standingBy?: boolean;
}

type Listener = (activity: AccountActivity) => void;
/** Who hears any account's change (the sidebar's publisher, while an editor is connected). */
const listeners = new Set<Listener>();

export class AccountActivity {
  /**
   * The last TRAFFIC_KEPT messages and calls, their numbers as they came (masked when a snapshot is
   * made: a burst of sends would otherwise make two masked strings per send that only the last few
   * keep, copied into the old generation with the entry).
   */
  private readonly traffic = new Map<string, Traffic>();
  private readonly minutes: QueueMinute[] = [];
  private readonly refusals: Record<Refusal, number> = { signature: 0, size: 0, type: 0, slow: 0, other: 0 };
  private lastRefusalAt?: number;
  private readonly pollers = new Map<string, PollerInfo>();
  private queue: QueueState = { queued: 0, inFlight: 0, window: 0, retrying: 0 };
  private counted = { started: 0, rateLimited: 0, retried: 0 };
  /** Whether an account node runs it now (a redeploy detaches and attaches it again, with what it showed). */
  attached = false;

  constructor(
    readonly id: string,
    public name: string,
    public accountSid: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Follows an account's queue; returns how to stop. */
  follow(queue: RequestQueue): () => void {
    this.counted = { started: queue.stats.started, rateLimited: queue.stats.rateLimited, retried: queue.stats.retried };
    return queue.onChange((state) => this.queueChanged(state, queue.stats));
  }

  private queueChanged(state: QueueState, stats: RequestQueue['stats']): void {
    const minute = this.minute();
    const counted = this.counted;
    minute.started += stats.started - counted.started;
    minute.rateLimited += stats.rateLimited - counted.rateLimited;
    minute.retried += stats.retried - counted.retried;
    counted.started = stats.started;
    counted.rateLimited = stats.rateLimited;
    counted.retried = stats.retried;
    if (state.queued > minute.queued) minute.queued = state.queued;
    if (state.inFlight > minute.inFlight) minute.inFlight = state.inFlight;
    this.queue = state;
    this.changed();
  }

  /** This minute's bucket of the ring (a bucket of an older minute is reused, emptied). */
  private minute(): QueueMinute {
    const at = Math.floor(this.clock.now() / 60_000) * 60_000;
    const slot = Math.floor(at / 60_000) % CHART_MINUTES;
    let minute = this.minutes[slot];
    if (!minute || minute.at !== at) {
      minute = { at, queued: 0, inFlight: 0, started: 0, rateLimited: 0, retried: 0 };
      this.minutes[slot] = minute;
    }
    return minute;
  }

  /** A message or call this account created (twilio-send, or lib/outbound/messages.ts). */
  sent(kind: 'message' | 'call', record: CreatedLike | undefined): void {
    const sid = sidOf(record?.sid);
    if (!sid) return;
    this.note(sid, kind, 'out', record!.from, record!.to, statusOf(record!.status));
  }

  /** The messages or calls of one send (twilio-send: one per recipient Twilio took). */
  sentAll(kind: 'message' | 'call', records: Iterable<CreatedLike>): void {
    for (const record of records) this.sent(kind, record);
  }

  /**
   * What Twilio told us (a webhook whose duplicates were dropped, or a poll): an incoming text or call,
   * or a status of one we know (or not yet: another instance sent it).
   */
  heard(event: HeardLike): void {
    const sid = sidOf(event.sid);
    if (!sid) return;
    const p = event.params;
    const status = statusOf(p.MessageStatus ?? p.SmsStatus ?? p.CallStatus ?? (event.kind === 'message' ? 'received' : undefined));
    const kind = event.kind === 'call' || event.kind === 'call-status' || event.kind === 'gather' ? 'call' : 'message';
    const direction = event.kind === 'message' || event.kind === 'call' || /^inbound/.test(String(p.Direction ?? '')) ? 'in' : 'out';
    this.note(sid, kind, direction, event.from, event.to, status);
  }

  private note(sid: string, kind: 'message' | 'call', direction: 'in' | 'out', from: unknown, to: unknown, status: string): void {
    const now = this.clock.now();
    const known = this.traffic.get(sid);
    if (known) {
      // Statuses arrive out of order (a callback before the create's answer, `sent` after `delivered`): never back.
      if (known.status === status || rank(status) < rank(known.status)) return;
      known.status = status;
      known.updatedAt = now;
    } else {
      this.traffic.set(sid, { sid, kind, direction, from, to, status, at: now, updatedAt: now });
      if (this.traffic.size > TRAFFIC_KEPT) this.traffic.delete(this.traffic.keys().next().value as string);
    }
    this.changed();
  }

  /** A webhook refused, by the status it was answered with (403 signature, 413 size, 415 type, 408 slow). */
  refused(status: number): void {
    this.refusals[REFUSAL_BY_STATUS[status] ?? 'other']++;
    this.lastRefusalAt = this.clock.now();
    this.changed();
  }

  /** A poller's look (for `number`: one of the account's numbers, or every one). */
  polled(number: string | undefined, look: LookLike): void {
    if (look.standingBy) return;
    const key = number || '*';
    let poller = this.pollers.get(key);
    if (!poller) {
      poller = { number: number ? maskNumber(number) : '*', failing: false };
      this.pollers.set(key, poller);
      if (this.pollers.size > POLLERS_KEPT) this.pollers.delete(this.pollers.keys().next().value as string);
    }
    poller.lastLookAt = look.at;
    poller.failing = Boolean(look.error);
    if (look.error) {
      const twilioCode = typeof look.error.twilioCode === 'number' ? look.error.twilioCode : undefined;
      poller.lastError = { code: String(look.error.code).slice(0, 40), ...(twilioCode ? { twilioCode } : {}), at: look.at };
    }
    this.changed();
  }

  snapshot(): AccountSnapshot {
    const now = Math.floor(this.clock.now() / 60_000) * 60_000;
    const minutes: QueueMinute[] = [];
    for (let i = CHART_MINUTES - 1; i >= 0; i--) {
      const at = now - i * 60_000;
      const kept = this.minutes[Math.floor(at / 60_000) % CHART_MINUTES];
      minutes.push(kept && kept.at === at ? { ...kept } : { at, queued: 0, inFlight: 0, started: 0, rateLimited: 0, retried: 0 });
    }
    return {
      id: this.id,
      name: this.name,
      accountSid: this.accountSid ? `…${this.accountSid.slice(-4)}` : '',
      queue: { ...this.queue },
      minutes,
      traffic: [...this.traffic.values()].reverse().map((entry) => ({ ...entry, from: maskNumber(entry.from), to: maskNumber(entry.to) })),
      refusals: { ...this.refusals },
      ...(this.lastRefusalAt !== undefined ? { lastRefusalAt: this.lastRefusalAt } : {}),
      pollers: [...this.pollers.values()].map((poller) => ({
        ...poller,
        ...(poller.lastError ? { lastError: { ...poller.lastError } } : {}),
      })),
    };
  }

  private changed(): void {
    if (listeners.size > 0) for (const listener of listeners) listener(this);
  }
}

/** Every account's activity in this process, by config node id: a redeploy finds its own again. */
const activities = new Map<string, AccountActivity>();

/** The activity of account node `id` (made when first asked for), attached until `detach` is called. */
export function attachActivity(
  id: string,
  name: string,
  accountSid: string,
  queue: RequestQueue,
): { activity: AccountActivity; detach: () => void } {
  let activity = activities.get(id);
  if (!activity) activities.set(id, (activity = new AccountActivity(id, name, accountSid)));
  activity.name = name;
  activity.accountSid = accountSid;
  activity.attached = true;
  const stop = activity.follow(queue);
  const attachedTo = activity;
  return {
    activity,
    detach: () => {
      stop();
      attachedTo.attached = false;
    },
  };
}

/** The activities of the accounts running now. */
export function runningActivities(): AccountActivity[] {
  return [...activities.values()].filter((activity) => activity.attached);
}

/** Forgets an account that is gone (its config node removed). */
export function forgetActivity(id: string): void {
  if (!activities.get(id)?.attached) activities.delete(id);
}

/** Hears every account's changes (and, with `waits`, every node's waits); returns how to stop. */
export function onActivity(listener: Listener, waits?: () => void): () => void {
  listeners.add(listener);
  if (waits) waitListeners.add(waits);
  return () => {
    listeners.delete(listener);
    if (waits) waitListeners.delete(waits);
  };
}

// ---- Open waits: what each node's waiting room holds (lib/waits/waiting-room.ts shows them here). ----

const rooms = new Set<ShownWaits<{ id: string; record: unknown }>>();
const waitListeners = new Set<() => void>();

/** Some node's waits changed (one held, one ended). */
function waitsChanged(): void {
  if (waitListeners.size > 0) for (const listener of waitListeners) listener();
}

/**
 * A waiting room's waits by id (lib/waits/waiting-room.ts): a Map that says when it changes, listed
 * in the sidebar between `show(nodeId)` (the room's start) and `hide()` (its close).
 */
export class ShownWaits<V extends { id: string; record: unknown }> extends Map<string, V> {
  private nodeId = '';

  show(nodeId: string): void {
    this.nodeId = nodeId;
    rooms.add(this);
    waitsChanged();
  }

  hide(): void {
    rooms.delete(this);
    waitsChanged();
  }

  get node(): string {
    return this.nodeId;
  }

  override set(key: string, value: V): this {
    super.set(key, value);
    waitsChanged();
    return this;
  }

  override delete(key: string): boolean {
    const deleted = super.delete(key);
    if (deleted) waitsChanged();
    return deleted;
  }

  override clear(): void {
    super.clear();
    waitsChanged();
  }
}

/** The deadline a wait's record carries: a wait's or a question's `deadline`, a page's `stepEnds`. */
function deadlineOf(record: unknown): number | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const { deadline, stepEnds } = record as { deadline?: unknown; stepEnds?: unknown };
  const at = typeof deadline === 'number' ? deadline : typeof stepEnds === 'number' ? stepEnds : undefined;
  return at !== undefined && Number.isFinite(at) ? at : undefined;
}

/** Every open wait of every node, the nearest deadlines first, at most WAITS_LISTED. */
export function openWaits(): OpenWait[] {
  const all: OpenWait[] = [];
  for (const room of rooms)
    for (const wait of room.values()) {
      const deadline = deadlineOf(wait.record);
      all.push({ nodeId: room.node, id: String(wait.id).slice(0, 64), ...(deadline !== undefined ? { deadline } : {}) });
    }
  all.sort((a, b) => (a.deadline ?? Infinity) - (b.deadline ?? Infinity));
  return all.slice(0, WAITS_LISTED);
}
