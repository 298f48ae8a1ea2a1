/**
 * Sends that wait for their outcome (twilio-send's "send on when its outcome is known"): each msg is
 * held, its done too, until every recipient's message or call has a final status, or the deadline
 * says `unknown`. Its WaitingRoom keeps the wait in the node's store, so a redeploy or a restart
 * resumes it (as a fresh msg: the old done has ended with the run that took it).
 */
import type { NodeMessageInFlow } from 'node-red';
import type { TwilioAccount } from '../account/account';
import { Clock, systemClock } from '../core/clock';
import { ErrorCode, TwilioNodeError } from '../core/errors';
import { Translate, text } from '../core/texts';
import { inboundHubFor } from '../inbound/hub';
import { Outcome, OutcomeTracker, TrackedKind, fetchOutcome } from '../inbound/outcomes';
import type { NodeStatus } from '../node-red/status';
import { LIMITS, seconds } from '../twilio/values';
import type { Delivery } from '../outbound/delivery';
import type { AcceptedMessage } from '../outbound/intake';
import { CreatedRecord, OutcomeHolder, abandoned, notSent, recipientErrors, recipientsFailed } from '../outbound/send-controller';
import { Admission, Wait, WaitingRoom, throttled } from './waiting-room';

/** Waits one node holds at most: each is a msg in memory and a key in the store. */
export const MAX_OUTCOME_WAITS = 50_000;
/** Each wait's key in the node's store: this, then its id. */
export const OUTCOME_WAIT_PREFIX = 'twilio-send-wait-';

/** How long a wait lasts before its outcome is `unknown`: the node's seconds (15 minutes unless set), at most a week. */
export function outcomeDeadlineMs(timeout: unknown): number {
  return Math.min(seconds(timeout, 900), LIMITS.outcomeWaitSeconds.max) * 1000;
}

/** A held msg's wait, as the store keeps it: enough to resume after a restart. */
export interface OutcomeWait {
  kind: TrackedKind;
  /** When the outcome is `unknown` (a time). */
  deadline: number;
  /** Whether a status callback comes to a twilio-in of this Node-RED (looks are then only a safety net). */
  callbacks: boolean;
  /** The msg (without req and res), for a wait restored after a restart. */
  msg: Record<string, unknown>;
  /** Several recipients: msg.payload holds every one's outcome; one: the outcome is msg.payload. */
  several: boolean;
  /** The Sid of what was sent, by recipient. */
  sids: Record<string, string>;
  /** Why a recipient got nothing, by recipient. */
  errors: Record<string, unknown>;
  /** The outcomes in so far, by recipient. */
  outcomes: Record<string, Outcome>;
  /** The failure to report to Catch once every outcome is in (recipients that were never sent). */
  failure?: { code: string; message: string } | null;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const isOutcome = (value: unknown): value is Outcome =>
  isObject(value) && typeof value.status === 'string' && typeof value.reached === 'boolean';

/**
 * Whether a stored value is a wait this module can resume without failing later: a record damaged
 * or edited by hand (a Sid or an outcome that is not one, no msg) is set aside by the room instead.
 */
export function isOutcomeWait(value: unknown): value is OutcomeWait {
  if (!isObject(value)) return false;
  const { kind, deadline, callbacks, msg, several, sids, errors, outcomes, failure } = value;
  if (kind !== 'message' && kind !== 'call') return false;
  if (typeof deadline !== 'number' || !Number.isFinite(deadline)) return false;
  if (typeof callbacks !== 'boolean' || typeof several !== 'boolean') return false;
  if (!isObject(msg) || !isObject(errors) || !isObject(sids) || !isObject(outcomes)) return false;
  const recipients = Object.entries(sids);
  if (recipients.length === 0 || !recipients.every(([, sid]) => typeof sid === 'string' && sid !== '')) return false;
  if (!Object.entries(outcomes).every(([recipient, outcome]) => Object.hasOwn(sids, recipient) && isOutcome(outcome))) return false;
  return (
    failure === undefined ||
    failure === null ||
    (isObject(failure) && typeof failure.code === 'string' && typeof failure.message === 'string')
  );
}

/** What every sending node's room is: its waits' keys and number, their check, and how msgs end on a close. */
export const OUTCOME_ROOM = { prefix: OUTCOME_WAIT_PREFIX, capacity: MAX_OUTCOME_WAITS, isRecord: isOutcomeWait, notSent, abandoned };

/** What a new wait needs besides its delivery. */
export interface NewOutcomeWait {
  kind: TrackedKind;
  deadline: number;
  callbacks: boolean;
  /** The msg's stored copy (its admission's). */
  msg: Record<string, unknown>;
  /** The runtime's language, for the errors the record keeps as text. */
  translate: Translate;
}

/** The wait of a msg sent to at least one of its recipients. */
export function outcomeWaitOf(delivery: Delivery<CreatedRecord>, wait: NewOutcomeWait): OutcomeWait {
  const failure = recipientsFailed(delivery)?.localise(wait.translate);
  return {
    kind: wait.kind,
    deadline: wait.deadline,
    callbacks: wait.callbacks,
    msg: wait.msg,
    several: delivery.recipients.length > 1,
    sids: Object.fromEntries([...delivery.results].map(([recipient, created]) => [recipient, String(created.sid)])),
    errors: recipientErrors(delivery, wait.translate),
    outcomes: {},
    // Recipients that were never sent: Catch hears of them once every outcome is in, as without waiting.
    failure: failure && { code: failure.code, message: failure.message },
  };
}

/** Whether every recipient that was sent has its outcome. */
export function isSettled(wait: OutcomeWait): boolean {
  return Object.keys(wait.sids).every((recipient) => Object.hasOwn(wait.outcomes, recipient));
}

/**
 * What the msg carries once every outcome is in: one recipient's outcome (with its number), or
 * several's; and whether it reached everyone (the first output), or not (the second, when asked for).
 */
export function outcomeReport(wait: OutcomeWait): { payload: unknown; reached: boolean } {
  const all = Object.values(wait.outcomes);
  const reached = all.every((o) => o.reached) && Object.keys(wait.errors).length === 0;
  const payload = wait.several
    ? { results: wait.sids, errors: wait.errors, outcomes: wait.outcomes }
    : { ...all[0], to: Object.keys(wait.sids)[0] };
  return { payload, reached };
}

/** What Catch hears of once every outcome is in: the recipients that were never sent. */
export function failureOf(wait: OutcomeWait): TwilioNodeError | undefined {
  return wait.failure ? new TwilioNodeError(wait.failure.code as ErrorCode, wait.failure.message) : undefined;
}

export interface OutcomeWaitsOptions {
  room: WaitingRoom<OutcomeWait>;
  /** Hears callbacks and looks at Twilio now and then (its looks are the node's requests). */
  tracker: OutcomeTracker;
  kind: TrackedKind;
  /** How long a wait lasts before its outcome is `unknown`. */
  deadlineMs: number;
  /** Whether status callbacks come to a twilio-in of this Node-RED. */
  callbacks: boolean;
  status: Pick<NodeStatus, 'working' | 'success' | 'warning' | 'translate'>;
  clock?: Clock;
}

/** A node's outcome waits: held in its room, each recipient tracked, the msg sent on when all are in. */
export class OutcomeWaits implements OutcomeHolder<Admission> {
  private readonly room: WaitingRoom<OutcomeWait>;
  private readonly clock: Clock;
  /** The count of waits, following a burst rather than each change. */
  private readonly showWaiting: (force?: boolean) => void;

  constructor(private readonly options: OutcomeWaitsOptions) {
    this.room = options.room;
    this.clock = options.clock ?? systemClock;
    this.showWaiting = throttled(() => {
      if (this.room.size > 0) options.status.working('twilio-send.status.waiting', { count: this.room.size });
    }, this.clock);
  }

  /** Room for a msg's wait, before anything of it is sent (refused as NOT_SENT when full, INVALID_INPUT when it cannot be stored). */
  admit(msg: NodeMessageInFlow): Admission {
    return this.room.admit(msg);
  }

  /** Gives back the room of a msg that will not wait: nothing of it was sent. */
  withdraw(admission: Admission): void {
    this.room.withdraw(admission);
  }

  /** Holds a sent msg until its outcomes are in (stored first, so a restart resumes it). */
  async hold(
    admission: Admission,
    msg: NodeMessageInFlow,
    accepted: AcceptedMessage<NodeMessageInFlow>,
    delivery: Delivery<CreatedRecord>,
  ): Promise<void> {
    const { kind, deadlineMs, callbacks, status } = this.options;
    const record = outcomeWaitOf(delivery, {
      kind,
      deadline: this.clock.now() + deadlineMs,
      callbacks,
      msg: admission.copy,
      translate: status.translate,
    });
    const id = await this.room.hold(admission, record, accepted, msg);
    if (id === undefined) return; // ended meanwhile, or kept in the store for the next start
    this.showWaiting(this.room.size === 1);
    this.track(id, record);
  }

  /** Waits a previous run left: resumed with the time they had left; their msgs leave as fresh ones. */
  async resume(): Promise<number> {
    // Tracked before any msg that came meanwhile starts; not at all when the node stopped meanwhile (they stay stored).
    const restored = await this.room.restore((waits) => {
      for (const wait of waits) this.track(wait.id, wait.record);
      if (waits.length > 0) this.showWaiting(true);
    });
    return this.room.closing ? 0 : restored.length;
  }

  /** Stops tracking (a close): outcomes not in yet are the next start's to wait for. */
  stop(): void {
    this.options.tracker.stop();
  }

  /** How a wait ends when its node is removed: Catch hears that its outcome is unknown. */
  readonly endRemoved = (wait: Wait<OutcomeWait>): TwilioNodeError =>
    new TwilioNodeError('OUTCOME_UNKNOWN', text('outcomeNodeRemoved', { sid: Object.values(wait.record.sids).join(', ') })).localise(
      this.options.status.translate,
    );

  private track(id: string, wait: OutcomeWait): void {
    for (const [recipient, sid] of Object.entries(wait.sids)) {
      if (Object.hasOwn(wait.outcomes, recipient)) continue;
      this.options.tracker.track(
        wait.kind,
        sid,
        wait.deadline,
        (outcome) => {
          wait.outcomes[recipient] = outcome;
          if (isSettled(wait)) this.finish(id);
          else void this.room.save(id).catch(() => undefined);
        },
        wait.callbacks,
      );
    }
    // A restored wait whose outcomes were all in before the node stopped: nothing left to hear.
    if (isSettled(wait)) this.finish(id);
  }

  private finish(id: string): void {
    const held = this.room.get(id);
    const msg = this.room.message(id);
    if (!held || !msg) return;
    const wait = held.record;
    const { payload, reached } = outcomeReport(wait);
    msg.payload = payload;
    this.room.emit(id, reached ? 0 : 1, msg, true, failureOf(wait));
    if (this.room.size > 0) return this.showWaiting();
    const all = Object.values(wait.outcomes);
    const { status } = this.options;
    if (reached)
      status.success(wait.several ? 'twilio-send.status.reachedCount' : 'twilio-send.status.reached', {
        count: all.length,
        status: all[0].status,
      });
    else
      status.warning('twilio-send.status.outcome', {
        status: wait.several ? `${all.filter((o) => !o.reached).length}/${all.length}` : all[0].status,
      });
  }
}

/**
 * A node's outcome waits on its account: callbacks heard on the account's one inbound path, looks
 * through fetchOutcome as `owner`'s requests (its close withdraws those still queued).
 */
export function outcomeWaitsFor(account: TwilioAccount, owner: object, options: Omit<OutcomeWaitsOptions, 'tracker'>): OutcomeWaits {
  const tracker = new OutcomeTracker({
    hub: inboundHubFor(account),
    fetchStatus: (kind, sid) => fetchOutcome(account, owner, kind, sid),
    clock: options.clock,
  });
  return new OutcomeWaits({ ...options, tracker });
}
