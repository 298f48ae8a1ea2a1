/**
 * What became of a message or a call: its final status, from a status callback on the account's one
 * inbound path when one comes, else by asking Twilio now and then (sooner at first, then less often),
 * until a deadline ends the wait as `unknown`. One tracker per node; its looks go through the
 * account's queue like every other request.
 */
import type { TwilioAccount } from '../account/account';
import { Clock, Timer, systemClock } from '../core/clock';
import type { InboundEvent, InboundHub } from './hub';

export type TrackedKind = 'message' | 'call';

export interface Outcome {
  sid: string;
  kind: TrackedKind;
  /**
   * Twilio's final status: delivered, read, undelivered, failed or canceled for a message; completed,
   * busy, no-answer, failed or canceled for a call. `unknown` when the deadline came first.
   */
  status: string;
  /** Whether it reached the person: a message delivered or read, a call answered (completed). */
  reached: boolean;
  /** The status Twilio last reported, when the outcome is unknown (e.g. `sent`: the carrier never said). */
  lastStatus?: string;
  /** Twilio's error code for an undelivered or failed message (30003: unreachable handset, …). */
  errorCode?: number;
  errorMessage?: string;
  /** Who answered a call placed with machine detection: human, machine_start, fax, … */
  answeredBy?: string;
  /** A call's length in seconds. */
  duration?: number;
  /** How we learnt it. */
  via: 'callback' | 'poll' | 'deadline';
}

/** What Twilio says about a message or call now, from a callback or a fetch. */
export interface StatusReport {
  status: string;
  errorCode?: number | string | null;
  errorMessage?: string | null;
  answeredBy?: string | null;
  duration?: number | string | null;
}

/** The final statuses, and whether each reached the person. */
export const FINAL_STATUSES: Record<TrackedKind, Readonly<Record<string, boolean>>> = {
  message: { delivered: true, read: true, undelivered: false, failed: false, canceled: false },
  call: { completed: true, busy: false, 'no-answer': false, failed: false, canceled: false },
};

export interface OutcomeTrackerOptions {
  hub: InboundHub;
  /** Asks Twilio for the message or call now (through the account's queue). */
  fetchStatus: (kind: TrackedKind, sid: string) => Promise<StatusReport>;
  /** The first look after a send: a message is usually delivered within seconds, a call rings first. */
  firstLookMs?: Record<TrackedKind, number>;
  /** The longest wait between two looks. */
  maxLookMs?: number;
  clock?: Clock;
}

/** When callbacks are expected, looks only catch a lost one: the first comes this much later. */
const LOOK_DELAY_WITH_CALLBACKS = 15;
/** With N waits the longest gap between one wait's looks is at least N × this (N / 10 looks a second in all). */
const LOOK_GAP_PER_WAIT_MS = 100;

/** How an outcome is waited for: see OutcomeTracker.track. */
export interface TrackOptions {
  callbacks?: boolean;
  restored?: boolean;
}

interface Tracked {
  kind: TrackedKind;
  sid: string;
  onOutcome: (outcome: Outcome) => void;
  lastStatus?: string;
  nextLookMs: number;
  lookTimer?: Timer;
  deadlineTimer?: Timer;
  unsubscribe: () => void;
}

export class OutcomeTracker {
  private readonly tracked = new Map<string, Tracked>();
  private readonly firstLookMs: Record<TrackedKind, number>;
  private readonly maxLookMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: OutcomeTrackerOptions) {
    this.firstLookMs = options.firstLookMs ?? { message: 2_000, call: 5_000 };
    this.maxLookMs = options.maxLookMs ?? 60_000;
    this.clock = options.clock ?? systemClock;
  }

  /** How many outcomes are awaited. */
  get size(): number {
    return this.tracked.size;
  }

  /**
   * Waits for the outcome of `sid`: `onOutcome` is called once, with the final status, or with
   * `unknown` at `deadline` (a time). `callbacks`: a status callback is on its way to this Node-RED.
   * `restored`: the wait was held by no one for a while (a restart, or an instance taken over), so a
   * callback may have come and gone meanwhile: its first look comes as soon as without callbacks.
   */
  track(kind: TrackedKind, sid: string, deadline: number, onOutcome: (outcome: Outcome) => void, how: TrackOptions = {}): void {
    if (this.tracked.has(sid)) return;
    const gap = this.firstLookMs[kind] * (how.callbacks ? LOOK_DELAY_WITH_CALLBACKS : 1);
    const first = how.restored ? this.firstLookMs[kind] : gap;
    const entry: Tracked = {
      kind,
      sid,
      onOutcome,
      nextLookMs: gap,
      unsubscribe: this.options.hub.subscribe({ sid }, (event) => this.heard(entry, event)),
    };
    this.tracked.set(sid, entry);
    const left = deadline - this.clock.now();
    if (left <= 0) {
      // A wait restored after its deadline (Node-RED was off) looks once, and only then is unknown.
      this.options
        .fetchStatus(kind, sid)
        .then(
          (report) => this.report(entry, report, 'poll'),
          () => undefined,
        )
        .finally(() => this.finish(entry, { status: 'unknown', via: 'deadline' }));
      return;
    }
    entry.deadlineTimer = this.clock.setTimeout(() => this.finish(entry, { status: 'unknown', via: 'deadline' }), left);
    this.scheduleLook(entry, Math.min(first, left));
  }

  /** Stops waiting for `sid` (what waited for it has ended): no more looks, no report. */
  untrack(sid: string): void {
    const entry = this.tracked.get(sid);
    if (!entry) return;
    this.tracked.delete(sid);
    this.release(entry);
  }

  /** Stops every wait; outcomes not reached are not reported (the node keeps them to resume). */
  stop(): void {
    for (const entry of this.tracked.values()) this.release(entry);
    this.tracked.clear();
  }

  private heard(entry: Tracked, event: InboundEvent): void {
    const p = event.params;
    const status = String((entry.kind === 'message' ? (p.MessageStatus ?? p.SmsStatus) : p.CallStatus) ?? '');
    this.report(
      entry,
      { status, errorCode: p.ErrorCode as string, answeredBy: p.AnsweredBy as string, duration: p.CallDuration as string },
      'callback',
    );
  }

  private report(entry: Tracked, report: StatusReport, via: Outcome['via']): void {
    if (this.tracked.get(entry.sid) !== entry) return;
    if (report.status) entry.lastStatus = report.status;
    const reached = FINAL_STATUSES[entry.kind][report.status];
    if (reached === undefined) return;
    this.finish(entry, { ...report, via });
  }

  private scheduleLook(entry: Tracked, ms: number): void {
    entry.lookTimer = this.clock.setTimeout(() => {
      // Many waits at once stretch the longest gap, so a node's steady looks stay near ten a second.
      entry.nextLookMs = Math.min(entry.nextLookMs * 2, Math.max(this.maxLookMs, this.tracked.size * LOOK_GAP_PER_WAIT_MS));
      this.options
        .fetchStatus(entry.kind, entry.sid)
        .then(
          (report) => this.report(entry, report, 'poll'),
          () => undefined, // a failed look is a look that learnt nothing: the next one tries again
        )
        .finally(() => {
          if (this.tracked.get(entry.sid) === entry) this.scheduleLook(entry, entry.nextLookMs);
        });
    }, ms);
  }

  private finish(entry: Tracked, report: StatusReport & { via: Outcome['via'] }): void {
    if (this.tracked.get(entry.sid) !== entry) return;
    this.tracked.delete(entry.sid);
    this.release(entry);
    const number = (v: unknown) => (v === null || v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v));
    const outcome: Outcome = {
      sid: entry.sid,
      kind: entry.kind,
      status: report.status,
      reached: FINAL_STATUSES[entry.kind][report.status] === true,
      via: report.via,
    };
    if (report.status === 'unknown' && entry.lastStatus) outcome.lastStatus = entry.lastStatus;
    if (number(report.errorCode) !== undefined) outcome.errorCode = number(report.errorCode);
    if (report.errorMessage) outcome.errorMessage = report.errorMessage;
    if (report.answeredBy) outcome.answeredBy = report.answeredBy;
    if (number(report.duration) !== undefined) outcome.duration = number(report.duration);
    entry.onOutcome(outcome);
  }

  private release(entry: Tracked): void {
    this.clock.clearTimeout(entry.lookTimer);
    this.clock.clearTimeout(entry.deadlineTimer);
    entry.unsubscribe();
  }
}

/**
 * What Twilio says of a message or a call now (a look, when no callback came), as `owner`'s request
 * through the account's queue. One way for every node that waits for an outcome.
 */
export async function fetchOutcome(account: TwilioAccount, owner: object, kind: TrackedKind, sid: string): Promise<StatusReport> {
  // The owner's own view of the client: its looks are the node's to withdraw on close.
  const client = account.clientFor(owner);
  if (kind === 'message') {
    const m = await client.messages(sid).fetch();
    account.activity?.sent('message', m); // the Twilio sidebar: its status as Twilio has it now
    return { status: m.status, errorCode: m.errorCode, errorMessage: m.errorMessage };
  }
  const c = await client.calls(sid).fetch();
  account.activity?.sent('call', c); // the Twilio sidebar
  return { status: c.status, answeredBy: c.answeredBy, duration: c.duration };
}
