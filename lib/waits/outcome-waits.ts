/**
 * Sends that wait for their outcome (twilio-send's "send on when its outcome is known"): each msg is
 * held, its done too, until every recipient's message or call has a final status, or the deadline
 * says `unknown`. Its WaitingRoom keeps the wait in the node's store, so a redeploy or a restart
 * resumes it (as a fresh msg: the old done has ended with the run that took it).
 *
 * Exactly once across a crash: the wait is committed with one intent per recipient (To, the sender,
 * the body as sent, the time) BEFORE any request goes to Twilio, and each intent becomes a Sid once
 * Twilio answered. A start that finds an intent without a Sid asks Twilio first (reconcile.ts):
 * found, the recipient waits on as sent; not found, it was not sent (NOT_SENT, safe to send again).
 * A reconcile that cannot reach Twilio is tried again later, never guessed.
 */
import { isPlainObject } from '../core/shapes';
import type { NodeMessageInFlow } from 'node-red';
import type { TwilioAccount } from '../account/account';
import { Clock, systemClock } from '../core/clock';
import { ErrorCode, TwilioNodeError } from '../core/errors';
import { Translate, render, text } from '../core/texts';
import { inboundHubFor } from '../inbound/hub';
import { Outcome, OutcomeTracker, TrackedKind, fetchOutcome } from '../inbound/outcomes';
import type { NodeStatus } from '../node-red/status';
import { LIMITS, seconds } from '../twilio/values';
import type { Delivery } from '../outbound/delivery';
import type { AcceptedMessage } from '../outbound/intake';
import {
  ReconcileNotYet,
  SendIntent,
  reconcileIntent,
  reconcileRetryMs,
  rememberSid,
  twilioOffsetForIntent,
  twilioOffsetOf,
} from '../outbound/reconcile';
import {
  CreatedRecord,
  IntendedSend,
  OutcomeHolder,
  abandoned,
  notSent,
  recipientErrors,
  recipientsFailed,
} from '../outbound/send-controller';
import type { Timer } from '../core/clock';
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
  /**
   * What is about to be sent, by recipient, committed before its request goes to Twilio; a recipient
   * leaves it for `sids` once Twilio answered (or `errors`). One left after a crash is reconciled.
   */
  intents?: Record<string, StoredIntent>;
}

/** A recipient's intent as the record keeps it (the wait's `kind` is its kind). */
export type StoredIntent = Omit<SendIntent, 'kind'>;

const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';
const isOptionalText = (value: unknown): boolean => value === undefined || typeof value === 'string';

/** Whether a stored value is an intent reconcile can look up: a recipient, a time, texts where given. */
export function isStoredIntent(value: unknown): value is StoredIntent {
  if (!isPlainObject(value)) return false;
  const { to, from, messagingServiceSid, body, contentSid, at, twilioOffsetMs } = value;
  return (
    isText(to) &&
    typeof at === 'number' &&
    Number.isFinite(at) &&
    (twilioOffsetMs === undefined || (typeof twilioOffsetMs === 'number' && Number.isFinite(twilioOffsetMs))) &&
    isOptionalText(from) &&
    isOptionalText(messagingServiceSid) &&
    isOptionalText(body) &&
    isOptionalText(contentSid)
  );
}

/** The recipients whose requests may have gone to Twilio without their Sid being written. */
export function pendingIntents(wait: OutcomeWait): Array<[string, StoredIntent]> {
  return Object.entries(wait.intents ?? {});
}

const isOutcome = (value: unknown): value is Outcome =>
  isPlainObject(value) && typeof value.status === 'string' && typeof value.reached === 'boolean';

/**
 * Whether a stored value is a wait this module can resume without failing later: a record damaged
 * or edited by hand (a Sid or an outcome that is not one, no msg) is set aside by the room instead.
 */
export function isOutcomeWait(value: unknown): value is OutcomeWait {
  if (!isPlainObject(value)) return false;
  const { kind, deadline, callbacks, msg, several, sids, errors, outcomes, failure } = value;
  if (kind !== 'message' && kind !== 'call') return false;
  if (typeof deadline !== 'number' || !Number.isFinite(deadline)) return false;
  if (typeof callbacks !== 'boolean' || typeof several !== 'boolean') return false;
  if (!isPlainObject(msg) || !isPlainObject(errors) || !isPlainObject(sids) || !isPlainObject(outcomes)) return false;
  const { intents } = value;
  if (intents !== undefined && !isPlainObject(intents)) return false;
  const pending = Object.entries(intents ?? {});
  if (!pending.every(([recipient, intent]) => !Object.hasOwn(sids, recipient) && isStoredIntent(intent))) return false;
  const recipients = Object.entries(sids);
  if (recipients.length + pending.length === 0 || !recipients.every(([, sid]) => typeof sid === 'string' && sid !== '')) return false;
  if (!Object.entries(outcomes).every(([recipient, outcome]) => Object.hasOwn(sids, recipient) && isOutcome(outcome))) return false;
  return (
    failure === undefined ||
    failure === null ||
    (isPlainObject(failure) && typeof failure.code === 'string' && typeof failure.message === 'string')
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

/** Whether every recipient that was sent has its outcome (and none is still an intent). */
export function isSettled(wait: OutcomeWait): boolean {
  return pendingIntents(wait).length === 0 && Object.keys(wait.sids).every((recipient) => Object.hasOwn(wait.outcomes, recipient));
}

/** A wait with every recipient an intent, before any request goes (its msg's sends are still to come). */
export function intendedWaitOf(intents: Record<string, StoredIntent>, wait: Omit<NewOutcomeWait, 'translate'>): OutcomeWait {
  return {
    kind: wait.kind,
    deadline: wait.deadline,
    callbacks: wait.callbacks,
    msg: wait.msg,
    several: Object.keys(intents).length > 1,
    sids: {},
    errors: {},
    outcomes: {},
    intents,
  };
}

/**
 * The intent a create's parameters make (what reconcile will look for): To, sender, body as sent, and
 * the time, with the offset to Twilio's clock when the account knows it.
 */
export function intentOf(params: Record<string, unknown>, at: number, twilioOffsetMs?: number): StoredIntent {
  const textOf = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const intent: StoredIntent = { to: String(params.to), at };
  if (twilioOffsetMs !== undefined) intent.twilioOffsetMs = twilioOffsetMs;
  const from = textOf(params.from);
  const service = textOf(params.messagingServiceSid);
  const body = textOf(params.body);
  const content = textOf(params.contentSid);
  if (from) intent.from = from;
  if (service) intent.messagingServiceSid = service;
  if (body) intent.body = body;
  if (content) intent.contentSid = content;
  return intent;
}

/** The failure Catch hears of for recipients found unsent after a restart (kept if one was already due). */
function notSentAfterRestart(wait: OutcomeWait, recipient: string, translate: Translate): void {
  const error = new TwilioNodeError('NOT_SENT', text('notSentAfterRestart', { to: recipient })).localise(translate);
  wait.errors[recipient] = error.toJSON();
  if (!wait.failure) wait.failure = { code: error.code, message: error.message };
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
  /**
   * Looks an intent up at Twilio after a restart (reconcile.ts): its Sid, undefined when it was not
   * sent; rejects when Twilio cannot be asked. `taken`: Sids other waits hold (never given twice);
   * `ref`: who the intent is (a wait's id and recipient: the owner its Sid's claim names).
   */
  reconcile?: (kind: TrackedKind, intent: StoredIntent, taken: Set<string>, ref: string) => Promise<string | undefined>;
  /** Remembers a Sid Twilio gave an intent as that intent's (`ref`), past the end of its wait (reconcile.ts). */
  remember?: (sid: string, ref: string) => void;
  /** Twilio's clock minus this node's, when the account knows it (stored with each intent). */
  twilioOffset?: () => number | undefined;
  /** Looks at Twilio's clock when no offset is known yet (reconcile.ts twilioOffsetForIntent). */
  lookAtTwilioClock?: (until: Promise<void>) => Promise<number | undefined>;
  /** Logs a line (a reconcile that has to wait for Twilio). */
  log?: (message: string) => void;
}

/** Intents reconciled at once after a restart. */
const RECONCILE_CONCURRENCY = 4;

/** A node's outcome waits: held in its room, each recipient tracked, the msg sent on when all are in. */
export class OutcomeWaits implements OutcomeHolder<Admission> {
  private readonly room: WaitingRoom<OutcomeWait>;
  private readonly clock: Clock;
  /** The first look at every restored intent (msgs wait for it before they send). */
  private firstLook: Promise<void> = Promise.resolve();
  /** Reconciles waiting to try Twilio again. */
  private readonly retries = new Set<Timer>();
  private stopped = false;
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

  /**
   * Commits a msg's wait as one intent per recipient, before any of its requests goes to Twilio
   * (rejects with the store's error when it cannot: then nothing is sent). Answers what the sends
   * report to, or undefined when the msg ended meanwhile (nothing may be sent).
   */
  async intend(
    admission: Admission,
    msg: NodeMessageInFlow,
    accepted: AcceptedMessage<NodeMessageInFlow>,
    params: ReadonlyArray<[string, Record<string, unknown>]>,
  ): Promise<IntendedSend | undefined> {
    const { kind, deadlineMs, callbacks, status } = this.options;
    const at = this.clock.now();
    const offset = this.options.twilioOffset?.();
    const intents = Object.fromEntries(params.map(([recipient, p]) => [recipient, intentOf(p, at, offset)]));
    const record = intendedWaitOf(intents, { kind, deadline: at + deadlineMs, callbacks, msg: admission.copy });
    const id = await this.room.hold(admission, record, accepted, msg);
    if (id === undefined) return undefined;
    const held = (): boolean => this.room.get(id)?.record === record;
    // No offset known (the first send after a start): held first (a power cut now loses nothing: nothing
    // went), then one look at Twilio's clock, saved into the intents before their requests go.
    // A close meanwhile ends the look: the wait stays stored as it is, and its close lets it go or ends
    // it (its intents never went: NOT_SENT at the next start).
    const going = (): boolean => held() && !this.room.closing;
    if (offset === undefined && this.options.lookAtTwilioClock) {
      const learnt = await this.options.lookAtTwilioClock(this.room.whenClosing);
      if (!going()) return undefined;
      if (learnt !== undefined) {
        for (const intent of Object.values(intents)) intent.twilioOffsetMs = learnt;
        await this.room.save(id).catch(() => undefined); // best effort: without it, the offset known at a reconcile is taken
        if (!going()) return undefined;
      }
    }
    return {
      sent: (recipient, created) => {
        record.sids[recipient] = String(created.sid);
        this.options.remember?.(String(created.sid), refOf(id, recipient));
        delete record.intents![recipient];
        // Best effort: a record that keeps the intent is reconciled (found) after a crash.
        if (held()) void this.room.save(id).catch(() => undefined);
      },
      release: () => {
        const wait = this.room.get(id);
        if (!wait || wait.record !== record) return;
        // Nothing was sent: the wait goes, and the caller ends the msg as a send that did not wait.
        wait.accepted = undefined;
        this.room.end(id);
      },
      hold: async (delivery) => {
        for (const recipient of delivery.failures.keys()) delete record.intents![recipient];
        Object.assign(record.errors, recipientErrors(delivery, status.translate));
        const failure = recipientsFailed(delivery)?.localise(status.translate);
        record.failure = failure && { code: failure.code, message: failure.message };
        delete record.intents;
        if (!held()) return; // the node closed meanwhile: the stored record is the next start's
        await this.room.save(id).catch(() => undefined);
        if (!held()) return;
        this.showWaiting(this.room.size === 1);
        this.track(id, record);
      },
    };
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

  /**
   * Waits a previous run left: resumed with the time they had left; their msgs leave as fresh ones.
   * A wait with intents (its requests may have gone without their Sids being written) is reconciled
   * first; new msgs wait for the first look at each (ready()), so none can take an intent's record.
   */
  async resume(): Promise<number> {
    // Tracked before any msg that came meanwhile starts; not at all when the node stopped meanwhile (they stay stored).
    const restored = await this.room.restore((waits) => {
      const pending: Array<Wait<OutcomeWait>> = [];
      for (const wait of waits) {
        if (pendingIntents(wait.record).length > 0) pending.push(wait);
        else this.track(wait.id, wait.record, true);
      }
      if (pending.length > 0) {
        this.options.status.working('twilio-send.status.reconciling', { count: pending.length });
        this.firstLook = this.reconcileAll(pending).then(() => {
          if (this.room.size > 0) this.showWaiting(true);
          else if (!this.stopped) this.options.status.success('twilio-send.status.reconciled', { count: pending.length });
        });
      } else if (waits.length > 0) this.showWaiting(true);
    });
    await this.firstLook;
    return this.room.closing ? 0 : restored.length;
  }

  /** Resolves once every restored intent was looked up once (found, not found, or to be tried again). */
  ready(): Promise<void> {
    return this.firstLook;
  }

  /** Stops tracking (a close): outcomes not in yet, and intents not reconciled yet, are the next start's. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.retries) this.clock.clearTimeout(timer);
    this.retries.clear();
    this.options.tracker.stop();
  }

  /** The Sids every wait holds: an intent never takes one of them. */
  private takenSids(): Set<string> {
    const taken = new Set<string>();
    for (const wait of this.room.values()) for (const sid of Object.values(wait.record.sids)) taken.add(sid);
    return taken;
  }

  private async reconcileAll(waits: Array<Wait<OutcomeWait>>): Promise<void> {
    const taken = this.takenSids();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < waits.length && !this.stopped) await this.reconcileWait(waits[next++], taken, 0);
    };
    await Promise.all(Array.from({ length: Math.min(RECONCILE_CONCURRENCY, waits.length) }, worker));
  }

  /**
   * Looks each intent of a restored wait up: found, it is sent (its Sid); not found, that recipient
   * is NOT_SENT. Then the wait goes on (tracked), or ends when nothing of it was sent. When Twilio
   * cannot be asked, the wait is tried again after the account's backoff, on the clock; when nothing
   * was found too soon after the restart to say "not sent" (ReconcileNotYet), again after its wait.
   */
  private async reconcileWait(wait: Wait<OutcomeWait>, taken: Set<string>, attempt: number): Promise<void> {
    const { reconcile, status, kind } = this.options;
    const record = wait.record;
    const current = (): boolean => !this.stopped && this.room.get(wait.id)?.record === record;
    for (const [recipient, intent] of pendingIntents(record)) {
      if (!current()) return;
      let sid: string | undefined;
      try {
        if (!reconcile) throw new Error('no way to ask Twilio');
        sid = await reconcile(record.kind ?? kind, intent, taken, refOf(wait.id, recipient));
      } catch (err) {
        if (!current()) return;
        // Nothing found yet, too soon after the restart to say "not sent": looked at again then, no warning.
        const notYet = err instanceof ReconcileNotYet;
        const delayMs = notYet ? err.waitMs : reconcileRetryMs(attempt);
        if (attempt === 0 && !notYet)
          this.options.log?.(
            render(text('reconcileLater', { reason: errorText(err), seconds: Math.ceil(delayMs / 1000) }), status.translate),
          );
        const timer = this.clock.setTimeout(() => {
          this.retries.delete(timer);
          void this.reconcileWait(wait, this.takenSids(), notYet ? attempt : attempt + 1);
        }, delayMs);
        this.retries.add(timer);
        return;
      }
      if (!current()) return;
      delete record.intents![recipient];
      if (sid !== undefined) {
        record.sids[recipient] = sid;
        taken.add(sid);
      } else notSentAfterRestart(record, recipient, status.translate);
    }
    delete record.intents;
    // Committed before the wait goes on: a crash now does not ask Twilio again.
    await this.room.save(wait.id).catch(() => undefined);
    if (!current()) return;
    if (Object.keys(record.sids).length > 0) return this.track(wait.id, record, true);
    // Nothing of it was sent: the msg ends with NOT_SENT (Catch hears it with the msg).
    this.room.end(wait.id, failureOf(record));
  }

  /** How a wait ends when its node is removed: Catch hears that its outcome is unknown. */
  readonly endRemoved = (wait: Wait<OutcomeWait>): TwilioNodeError =>
    new TwilioNodeError('OUTCOME_UNKNOWN', text('outcomeNodeRemoved', { sid: Object.values(wait.record.sids).join(', ') })).localise(
      this.options.status.translate,
    );

  /** `restored`: resumed from the store (a restart, a takeover), its callbacks perhaps missed meanwhile. */
  private track(id: string, wait: OutcomeWait, restored = false): void {
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
        { callbacks: wait.callbacks, restored },
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
  const reconcile = (kind: TrackedKind, intent: StoredIntent, taken: Set<string>, ref: string) =>
    reconcileIntent(account, owner, { ...intent, kind }, taken, ref);
  const remember = (sid: string, ref: string) => void rememberSid(account, sid, ref);
  return new OutcomeWaits({
    reconcile,
    remember,
    twilioOffset: () => twilioOffsetOf(account),
    lookAtTwilioClock: (until) => twilioOffsetForIntent(account, until),
    ...options,
    tracker,
  });
}

/** An intent's name in the Sid claims: its wait (a random id) and recipient. */
const refOf = (waitId: string, recipient: string): string => `send/${waitId}/${recipient}`;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
