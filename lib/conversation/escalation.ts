/**
 * A page's escalation ladder as a state machine: contacts in order, for a number of rounds, each
 * through a ladder of steps (a text or a call, then a wait for an acknowledgement), until someone
 * acknowledges (a key pressed in the call, a reply to a text), the ladder runs out, or the page is
 * cancelled. `escalate(policy, page, event, now)` is pure: it answers with the page's next record
 * and the actions that carry it out (texts, calls, timers, an output); whoever runs a page performs
 * them and feeds back what happened as events. The record is what the node stores: JSON-safe, so a
 * page goes on after a redeploy or a restart.
 */
import { isPlainObject } from '../core/shapes';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { normaliseRecipient } from '../twilio/addresses';
import { PAGE_GATHER_TIMEOUT_SECONDS } from '../twilio/twiml';
import { seconds } from '../twilio/values';
import { AnswerMatcher } from './answers';

export type StepAction = 'text' | 'call';

/** One rung of a contact's ladder: what to do, and how long to wait for an acknowledgement after it. */
export interface Rung {
  action: StepAction;
  waitMs: number;
}

export interface Contact {
  name: string;
  number: string;
}

export interface StepOutcome {
  name: string;
  number: string;
  action: StepAction;
  round: number;
  sid?: string;
  /** sent, busy, no-answer, voicemail, failed (with error), no-ack… */
  outcome: string;
  error?: string;
  at: string;
}

/** The outputs a page ends on. */
export const PORT = { acknowledged: 0, exhausted: 1, cancelled: 2 } as const;
export type Port = (typeof PORT)[keyof typeof PORT];

/** A call the page placed, until it ends: a key pressed in it acknowledges, whichever step the page is on by then. */
export interface PageCall {
  sid: string;
  /** The contact it went to: the one who acknowledges by pressing the key in it. */
  name: string;
  number: string;
  /** When its end is no longer awaited (its outcome is then unknown). */
  until: number;
}

/**
 * The current step's request, committed in the page's record before it goes to Twilio and given its
 * Sid once Twilio took it. After a crash, an intent without a Sid is the one request whose fate is
 * unknown: Twilio is asked whether it exists (reconciled) before the page does anything else with it.
 */
export interface StepIntent {
  action: StepAction;
  to: string;
  from?: string;
  /** When the request was about to go (ms): the step's wait counts from it once it is found. */
  at: number;
  /** A text's body as sent (the pager's: the alert and its hint) and the code it quoted. */
  body?: string;
  code?: string;
  /** Twilio's Sid of it, once known. */
  sid?: string;
  /** Twilio's clock minus the node's when it was made, if known (reconcile compares with Twilio's dates). */
  twilioOffsetMs?: number;
}

/**
 * A text telling someone alerted that a cancelled page is over. Those of the cancel are intents, as
 * a step is: committed with the page's end (`at`, and the body the pager writes in before that save)
 * before they go, and the page's msg leaves only once Twilio took each; a restart that finds one
 * without its Sid asks Twilio first (found: not sent again; not found: sent now). One sent for a
 * step that landed after the end has no `at`: it goes once, as it is.
 */
export interface AllClearText {
  number: string;
  from?: string;
  /** When it was committed (ms, the node's clock): an intent. */
  at?: number;
  /** The text as it goes (the node's template rendered once, before the page's end is saved). */
  body?: string;
  /** Twilio's clock minus the node's when committed, if known. */
  twilioOffsetMs?: number;
  /** Twilio's Sid, once it took it (in memory: the record goes once every one has one). */
  sid?: string;
}

/** A running page, as the node stores it. */
export interface PageRecord {
  alarmId: string;
  /** The msg that started it (a JSON copy): a restored page leaves with it. */
  msg: Record<string, unknown>;
  spoken: string;
  contacts: Contact[];
  round: number;
  contact: number;
  step: number;
  /** When the current step's wait ends. */
  stepEnds: number;
  /** The current step's call, while it rings. */
  callSid?: string;
  /** The current step's request: committed before it goes, its Sid written after (see StepIntent). */
  intent?: StepIntent;
  /** Every call of the page that has not ended yet, the current step's and earlier ones (absent: none, or stored before calls were kept). */
  calls?: PageCall[];
  /** The number the page texts and calls from (the account's default when absent). */
  from?: string;
  /** Numbers texted, and from which number: their replies can acknowledge until the page ends. */
  texted: Array<{ number: string; from?: string; name: string; code: string; askedAt?: number }>;
  alerted: string[];
  history: StepOutcome[];
  merged: number;
  startedAt: string;
  /** The output it ended on: a step that went out after that is undone, not recorded. */
  ended?: Port;
  /** How it ended (msg.page's acknowledged, cancelledAt or error), stored with `ended`: a restart ends it so. */
  endedWith?: Pick<PageSummary, 'acknowledged' | 'cancelledAt' | 'error'>;
  /** The all clear of a cancel, committed with the end before it goes (see AllClearText). */
  allClear?: AllClearText[];
  /**
   * Stored, and its first step not begun yet (the `start` event clears it): a page held while its
   * node closed is begun by the next start, not resumed as if its step had gone out.
   */
  notStarted?: true;
}

/** What a node's settings make of every page. */
export interface EscalationPolicy {
  ladder: readonly Rung[];
  rounds: number;
  /** The key that acknowledges in a call. */
  ackKey: string;
  /** The word a text asks for (the first acknowledgement word, in capitals). */
  ackWord: string;
  /** Whether a text reply acknowledges. */
  acknowledges(reply: string): boolean;
  /** Whether those alerted hear when a page is cancelled. */
  allClear: boolean;
}

export type EscalationEvent =
  /** A new page: its first step. */
  | { type: 'start' }
  /** A page a previous run left: its step goes on for the time it had left. */
  | { type: 'resumed' }
  /**
   * What Twilio said of the current step's intent, a request a previous run made without learning its
   * Sid: `sid` found (it went: the step goes on as sent, its wait counted from the intent), or
   * undefined (it never left: the step is sent now).
   */
  | { type: 'reconciled'; sid?: string }
  /**
   * The current step's text or call went out (`code`: the one a text quoted; `from`: the number it
   * went from; `askedAt`: when Twilio took the text, its clock: a reply dated before it is no answer).
   */
  | { type: 'step-sent'; action: StepAction; to: string; sid: string; from?: string; code?: string; askedAt?: number }
  /** The current step could not go out (an invalid number): that is its outcome, not the page's end. */
  | { type: 'step-failed'; error: string }
  /** The current step's wait is over. */
  | { type: 'step-timer-due' }
  /** A call ended (`status`: Twilio's final status, or unknown). */
  | { type: 'call-ended'; sid: string; status: string; answeredBy?: string }
  | { type: 'key-pressed'; sid: string; digits: string }
  | { type: 'reply'; number: string; text: string }
  /** The same alarm came in again. */
  | { type: 'merged' }
  | { type: 'cancel' }
  /** Something outside the ladder broke (the store refused a write): the page ends, with the reason. */
  | { type: 'broken'; error: string };

/** How a page ends: msg.page. */
export interface PageSummary {
  alarmId: string;
  startedAt: string;
  steps: number;
  merged: number;
  history: StepOutcome[];
  acknowledged?: { name: string; number: string; how: 'key' | 'reply'; at: string; afterSteps: number };
  cancelledAt?: string;
  error?: string;
}

export type EscalationAction =
  /** Shows the step under way (step n of `of`). */
  | { type: 'show'; action: StepAction; name: string; step: number; of: number }
  /** Texts the alert; `code` is the one this contact already has on this page, if any. */
  | { type: 'text'; to: string; from?: string; body: string; code?: string }
  /** Calls with the alert, ringing for at most `ringSeconds`. */
  | { type: 'call'; to: string; from?: string; spoken: string; ringSeconds: number }
  | { type: 'hang-up'; sid: string }
  /** The current step's wait ends at `at` (replacing its timer). */
  | { type: 'set-timer'; at: number }
  /** The call's keys and its end are heard until it ends (or `until`, when its end is never heard). */
  | { type: 'watch-call'; sid: string; until: number }
  /** The call ended: its keys are no longer heard. */
  | { type: 'unwatch-call'; sid: string }
  /** The replies of everyone texted can acknowledge (those already heard are not opened again). */
  | { type: 'listen-replies'; texted: PageRecord['texted'] }
  /** Asks Twilio whether the current step's intent went out (its answer is the `reconciled` event). */
  | { type: 'reconcile'; intent: StepIntent }
  /** The step is over: its timer is no longer heard (its call is, until the call ends). */
  | { type: 'quiet' }
  /**
   * Those alerted hear it is over (the texts are the record's own, when intents: the pager writes
   * their Sids in); `reconcile`: a previous run may have sent them, Twilio is asked first.
   */
  | { type: 'all-clear'; to: AllClearText[]; reconcile?: boolean }
  /** The page ends on `port`, with msg.page = `page`; nothing of it is heard any more. */
  | { type: 'emit'; port: Port; page: PageSummary }
  /** The record changed: store it (a text or call after it goes only once it is committed). */
  | { type: 'save' };

export interface Transition {
  page: PageRecord;
  actions: EscalationAction[];
}

const iso = (now: number) => new Date(now).toISOString();

/** A new page's record, not started: its first step is the `start` event's. */
export function newPage(fields: Pick<PageRecord, 'alarmId' | 'msg' | 'spoken' | 'contacts' | 'from'>, now: number): PageRecord {
  const { from, ...rest } = fields;
  const page: PageRecord = {
    ...rest,
    round: 0,
    contact: 0,
    step: 0,
    stepEnds: now,
    texted: [],
    alerted: [],
    history: [],
    merged: 0,
    startedAt: iso(now),
    notStarted: true,
  };
  if (from) page.from = from;
  return page;
}

/** The next record and what to do, after `event`. The record given is not changed. */
export function escalate(policy: EscalationPolicy, state: PageRecord, event: EscalationEvent, now: number): Transition {
  const page: PageRecord = { ...state, texted: [...state.texted], alerted: [...state.alerted], history: [...state.history] };
  if (state.calls) page.calls = [...state.calls];
  if (state.intent) page.intent = { ...state.intent };
  if (state.allClear) page.allClear = state.allClear.map((text) => ({ ...text }));
  if (page.ended !== undefined) return { page, actions: afterTheEnd(policy, page, event) };
  return { page, actions: running(policy, page, event, now) };
}

function running(policy: EscalationPolicy, page: PageRecord, event: EscalationEvent, now: number): EscalationAction[] {
  switch (event.type) {
    case 'start':
      delete page.notStarted;
      return beginStep(policy, page, now);
    case 'resumed':
      return resume(policy, page, now);
    case 'step-sent':
      return stepSent(policy, page, event, now);
    case 'reconciled':
      return reconciled(policy, page, event, now);
    case 'step-failed':
      record(policy, page, now, { outcome: 'failed', error: event.error });
      return advance(policy, page, now);
    case 'step-timer-due':
      // A step whose request has not been answered (or reconciled) yet has no wait running: a stale timer.
      if (page.intent && !page.intent.sid) return [];
      // A text's outcome is its sending; a call still under way when its step ends (it can no longer
      // ask for the key) had no acknowledgement. It is still heard: a key pressed in it acknowledges.
      if (rungOf(policy, page).action === 'call') record(policy, page, now, { sid: page.callSid, outcome: 'no-ack' });
      return advance(policy, page, now);
    case 'call-ended':
      return callEnded(policy, page, event, now);
    case 'key-pressed': {
      // Any call of the page that has not ended: the person who answered it acknowledges, whichever step the page is on.
      const call = page.calls?.find((c) => c.sid === event.sid);
      if (!call || event.digits !== policy.ackKey) return [];
      return acknowledge(page, call, 'key', now);
    }
    case 'reply': {
      const texted = page.texted.find((t) => t.number === event.number);
      if (!texted || !policy.acknowledges(event.text)) return [];
      return acknowledge(page, texted, 'reply', now);
    }
    case 'merged':
      page.merged++;
      return [{ type: 'save' }];
    case 'cancel':
      return cancel(policy, page, now);
    case 'broken':
      return end(page, PORT.exhausted, { error: event.error });
  }
}

/** What a call's end says of its step: voicemail, busy, no-answer, failed; answered without the key, no-ack. */
function callOutcome(event: Extract<EscalationEvent, { type: 'call-ended' }>): string {
  const voicemail = event.answeredBy?.startsWith('machine') || event.answeredBy === 'fax';
  return voicemail ? 'voicemail' : event.status === 'completed' ? 'no-ack' : event.status;
}

function callEnded(
  policy: EscalationPolicy,
  page: PageRecord,
  event: Extract<EscalationEvent, { type: 'call-ended' }>,
  now: number,
): EscalationAction[] {
  const live = page.calls?.some((c) => c.sid === event.sid);
  if (!live && event.sid !== page.callSid) return [];
  if (page.calls) page.calls = page.calls.filter((c) => c.sid !== event.sid);
  const actions: EscalationAction[] = [{ type: 'unwatch-call', sid: event.sid }];
  if (event.sid === page.callSid) {
    // A voicemail, a busy line, no answer, or hung up without the key: the next step at once, not after the wait.
    record(policy, page, now, { sid: event.sid, outcome: callOutcome(event) });
    return [...actions, ...advance(policy, page, now)];
  }
  // A call of an earlier step: its step went on as no-ack before Twilio told its end; what Twilio
  // says is its outcome (no-answer, busy, voicemail…), unless that is only "answered" or unknown.
  const outcome = callOutcome(event);
  const at = page.history.findIndex((h) => h.sid === event.sid && h.outcome === 'no-ack');
  if (at >= 0 && outcome !== 'no-ack' && outcome !== 'unknown') page.history[at] = { ...page.history[at], outcome };
  return [...actions, { type: 'save' }];
}

/**
 * After its end only a step that was already on its way can still land: a call is hung up, and a
 * text that went out after a cancel is followed by the all clear.
 */
function afterTheEnd(policy: EscalationPolicy, page: PageRecord, event: EscalationEvent): EscalationAction[] {
  // Stored as ended, its msg not yet gone when the previous run stopped: its calls hung up, its all
  // clear asked after at Twilio (and sent if it never went), it ends now (it never pages on).
  if (event.type === 'resumed') return hangUpsAndEmit(page, true);
  // An intent found at Twilio after the end went out all the same: undone like a step that lands late.
  if (event.type === 'reconciled' && event.sid && page.intent && !page.intent.sid)
    return afterTheEnd(policy, page, {
      type: 'step-sent',
      action: page.intent.action,
      to: page.intent.to,
      from: page.intent.from,
      sid: event.sid,
    });
  if (event.type !== 'step-sent') return [];
  if (event.action === 'call') return [{ type: 'hang-up', sid: event.sid }];
  return page.ended === PORT.cancelled && policy.allClear ? [{ type: 'all-clear', to: [{ number: event.to, from: event.from }] }] : [];
}

/** The rung the page is on; a page stored by a node whose ladder has since shrunk is on its last. */
const rungOf = (policy: EscalationPolicy, page: PageRecord) => policy.ladder[Math.min(page.step, policy.ladder.length - 1)];

/**
 * The current step begins: its intent is committed (`save`), then its text or call goes. The pager
 * sends only once the save is committed, so a crash leaves either no intent (nothing went) or an
 * intent (it may have gone: reconciled after the restart).
 */
function beginStep(policy: EscalationPolicy, page: PageRecord, now: number): EscalationAction[] {
  const contact = page.contacts[page.contact];
  const rung = rungOf(policy, page);
  page.stepEnds = now + stepMs(rung, page.spoken);
  page.intent = { action: rung.action, to: contact.number, ...(page.from ? { from: page.from } : {}), at: now };
  const show = showStep(policy, page);
  if (rung.action === 'text') {
    const code = page.texted.find((t) => t.number === contact.number)?.code;
    return [show, { type: 'save' }, { type: 'text', to: contact.number, from: page.from, body: page.spoken, ...(code ? { code } : {}) }];
  }
  return [
    show,
    { type: 'save' },
    { type: 'call', to: contact.number, from: page.from, spoken: page.spoken, ringSeconds: ringSeconds(rung) },
  ];
}

/** A call rings for its step's wait, within what Twilio takes (5–60 s). */
const ringSeconds = (rung: Rung) => Math.min(Math.max(Math.round(rung.waitMs / 1000), 5), 60);

/** Twilio may ring a phone up to 5 s past the timeout it was given. */
export const RING_SLACK_MS = 5_000;
/** After the answer, before the alert is said: machine detection listens to who answered. */
const ANSWER_MS = 5_000;

/**
 * How long a step lasts when nothing ends it sooner. A text: its wait. A call: its wait, but never
 * less than the longest the call can still take the key: it rings (plus Twilio's slack), is
 * answered, says the alert and the prompt (read slowly: ten characters a second, the prompt about
 * forty) and then waits the <Gather>'s timeout. A call that ends sooner ends its step sooner.
 */
export function stepMs(rung: Rung, spoken: string): number {
  if (rung.action === 'text') return rung.waitMs;
  const speechMs = Math.ceil((spoken.length + 40) / 10) * 1000;
  return Math.max(rung.waitMs, ringSeconds(rung) * 1000 + RING_SLACK_MS + ANSWER_MS + speechMs + PAGE_GATHER_TIMEOUT_SECONDS * 1000);
}

/**
 * A page a previous run left: the step already went out, and its wait goes on for the time it had
 * left. A page stored by a node whose ladder, rounds or contacts have since changed goes on from the
 * nearest step that still exists.
 */
function resume(policy: EscalationPolicy, page: PageRecord, now: number): EscalationAction[] {
  // Stored while its node closed, before its first step began: it begins now.
  if (page.notStarted) {
    delete page.notStarted;
    return beginStep(policy, page, now);
  }
  page.contact = Math.min(page.contact, page.contacts.length - 1);
  page.round = Math.min(page.round, policy.rounds - 1);
  const pending = page.intent && !page.intent.sid ? page.intent : undefined;
  if (page.step >= policy.ladder.length && !pending) {
    page.step = policy.ladder.length - 1;
    return advance(policy, page, now);
  }
  // A page stored before its calls were kept: its current call is its one live call.
  if (!page.calls && page.callSid)
    page.calls = [{ ...page.contacts[page.contact], sid: page.callSid, until: page.stepEnds + CALL_GRACE_MS }];
  const actions: EscalationAction[] = [showStep(policy, page), { type: 'listen-replies', texted: page.texted }];
  for (const call of page.calls ?? []) actions.push({ type: 'watch-call', sid: call.sid, until: call.until });
  // Its request went out, or not, when the previous run stopped: Twilio says which before the step goes on (no timer meanwhile).
  if (pending) actions.push({ type: 'reconcile', intent: pending });
  else actions.push({ type: 'set-timer', at: page.stepEnds });
  return actions;
}

/**
 * Twilio's answer on the current step's intent: found, the step goes on as sent when it was (its wait
 * counted from the intent, so a restart does not lengthen it); not found, it never left and goes now.
 */
function reconciled(
  policy: EscalationPolicy,
  page: PageRecord,
  event: Extract<EscalationEvent, { type: 'reconciled' }>,
  now: number,
): EscalationAction[] {
  const intent = page.intent;
  if (!intent || intent.sid) return [];
  if (!event.sid) return beginStep(policy, page, now);
  const sent: EscalationEvent = {
    type: 'step-sent',
    action: intent.action,
    to: intent.to,
    sid: event.sid,
    ...(intent.from ? { from: intent.from } : {}),
    ...(intent.code !== undefined ? { code: intent.code } : {}),
    askedAt: intent.at,
  };
  return stepSent(policy, page, sent, now, Math.min(intent.at, now));
}

/** Step n of all the page may take, and who it is for. */
function showStep(policy: EscalationPolicy, page: PageRecord): EscalationAction {
  const perRound = page.contacts.length * policy.ladder.length;
  return {
    type: 'show',
    action: rungOf(policy, page).action,
    name: page.contacts[page.contact].name,
    step: page.round * perRound + page.contact * policy.ladder.length + page.step + 1,
    of: policy.rounds * perRound,
  };
}

/** How long after its step's wait a call's end is still awaited (it may ring, then talk, for a while). */
const CALL_GRACE_MS = 60_000;

function stepSent(
  policy: EscalationPolicy,
  page: PageRecord,
  event: Extract<EscalationEvent, { type: 'step-sent' }>,
  now: number,
  sentAt = now,
): EscalationAction[] {
  const contact = page.contacts[page.contact];
  page.stepEnds = sentAt + stepMs(rungOf(policy, page), page.spoken);
  if (page.intent) page.intent.sid = event.sid;
  if (!page.alerted.includes(contact.number)) page.alerted.push(contact.number);
  const actions: EscalationAction[] = [{ type: 'save' }];
  if (event.action === 'text') {
    record(policy, page, now, { sid: event.sid, outcome: 'sent' });
    if (!page.texted.some((t) => t.number === contact.number))
      page.texted.push({
        number: contact.number,
        ...(event.from ? { from: event.from } : {}),
        name: contact.name,
        code: event.code ?? '',
        ...(event.askedAt !== undefined ? { askedAt: event.askedAt } : {}),
      });
  } else {
    page.callSid = event.sid;
    const call = { name: contact.name, number: contact.number, sid: event.sid, until: page.stepEnds + CALL_GRACE_MS };
    page.calls = [...(page.calls ?? []), call];
    actions.push({ type: 'watch-call', sid: event.sid, until: call.until });
  }
  actions.push({ type: 'listen-replies', texted: page.texted }, { type: 'set-timer', at: page.stepEnds });
  return actions;
}

function record(
  policy: EscalationPolicy,
  page: PageRecord,
  now: number,
  outcome: Omit<StepOutcome, 'name' | 'number' | 'action' | 'round' | 'at'>,
): void {
  const contact = page.contacts[page.contact];
  const entry: StepOutcome = {
    name: contact.name,
    number: contact.number,
    action: rungOf(policy, page).action,
    round: page.round + 1,
    at: iso(now),
    outcome: outcome.outcome,
  };
  // Only what is known: the record stays JSON as stored (no keys holding undefined).
  if (outcome.sid !== undefined) entry.sid = outcome.sid;
  if (outcome.error !== undefined) entry.error = outcome.error;
  page.history.push(entry);
}

/** The next step: the next rung, the next contact, the next round, or exhausted. */
function advance(policy: EscalationPolicy, page: PageRecord, now: number): EscalationAction[] {
  delete page.callSid;
  delete page.intent;
  if (++page.step >= policy.ladder.length) {
    page.step = 0;
    if (++page.contact >= page.contacts.length) {
      page.contact = 0;
      if (++page.round >= policy.rounds) return end(page, PORT.exhausted, {});
    }
  }
  return [{ type: 'quiet' }, ...beginStep(policy, page, now)];
}

function acknowledge(page: PageRecord, who: Contact & { sid?: string }, how: 'key' | 'reply', now: number): EscalationAction[] {
  // The page's other calls still ringing are hung up: nobody else needs to be woken (not the call the key came from).
  const acknowledged = { name: who.name, number: who.number, how, at: iso(now), afterSteps: page.history.length };
  return end(page, PORT.acknowledged, { acknowledged }, liveCalls(page, who.sid));
}

/** The Sids of the page's calls that have not ended (but `except`). */
function liveCalls(page: PageRecord, except?: string): string[] {
  const sids = new Set((page.calls ?? []).map((c) => c.sid));
  if (page.callSid) sids.add(page.callSid);
  if (except) sids.delete(except);
  return [...sids];
}

function cancel(policy: EscalationPolicy, page: PageRecord, now: number): EscalationAction[] {
  // Calls under way are hung up; those already alerted hear that it is over, if the node says so:
  // committed with the end, before they go.
  if (policy.allClear && page.alerted.length > 0)
    page.allClear = page.alerted.map((number) => {
      const from = page.texted.find((t) => t.number === number)?.from ?? page.from;
      return { number, ...(from ? { from } : {}), at: now };
    });
  return end(page, PORT.cancelled, { cancelledAt: iso(now) }, liveCalls(page));
}

/**
 * The page ends on `port`: its end is saved first (with the calls it hangs up, and how it ended),
 * then the calls are hung up and its msg leaves. A restart that finds an ended page (the power cut
 * came between the save and the msg's end) does not page on: it hangs those calls up and ends it.
 */
function end(page: PageRecord, port: Port, extra: NonNullable<PageRecord['endedWith']>, hangUp: string[] = []): EscalationAction[] {
  page.ended = port;
  page.endedWith = extra;
  delete page.callSid;
  const contacts = new Map((page.calls ?? []).map((c) => [c.sid, c]));
  // What is left of the page's calls is those it hangs up (a current call not kept in calls: under its contact).
  page.calls = hangUp.map((sid) => contacts.get(sid) ?? { ...page.contacts[page.contact], sid, until: page.stepEnds + CALL_GRACE_MS });
  return [{ type: 'save' }, ...hangUpsAndEmit(page)];
}

/** An ended page's hang-ups, its all clear still to go, and its msg's end (msg.page: how it ended). */
function hangUpsAndEmit(page: PageRecord, resumed = false): EscalationAction[] {
  const summary: PageSummary = {
    alarmId: page.alarmId,
    startedAt: page.startedAt,
    steps: page.history.length,
    merged: page.merged,
    history: page.history,
    ...page.endedWith,
  };
  const hangUps = (page.calls ?? []).map((c): EscalationAction => ({ type: 'hang-up', sid: c.sid }));
  const allClear = (page.allClear ?? []).filter((text) => !text.sid);
  if (allClear.length > 0) hangUps.push({ type: 'all-clear', to: allClear, ...(resumed ? { reconcile: true } : {}) });
  return [...hangUps, { type: 'emit', port: page.ended ?? PORT.exhausted, page: summary }];
}

/** A node's settings as a policy: at most 10 rounds, waits of at most an hour, a key of 1–4 of 0-9 * #. */
export function escalationPolicy(settings: {
  steps?: unknown;
  rounds?: unknown;
  ackKey?: unknown;
  ackWords?: unknown;
  allClear?: unknown;
}): EscalationPolicy {
  const steps = Array.isArray(settings.steps) && settings.steps.length > 0 ? (settings.steps as unknown[]) : DEFAULT_STEPS;
  const ladder = steps.map((s) => {
    const step = (typeof s === 'object' && s !== null ? s : {}) as { action?: unknown; wait?: unknown };
    return { action: step.action === 'call' ? 'call' : 'text', waitMs: Math.min(seconds(step.wait as never, 60), 3600) * 1000 } as Rung;
  });
  const ackKey = /^[0-9*#]{1,4}$/.test(String(settings.ackKey ?? '')) ? String(settings.ackKey) : '1';
  const ackWords = String(settings.ackWords || 'ack, ok, yes');
  const matcher = new AnswerMatcher([{ type: 'words', value: `${ackWords}, ${ackKey}` }]);
  return {
    ladder,
    rounds: Math.min(Math.max(Math.floor(Number(settings.rounds) || 2), 1), 10),
    ackKey,
    ackWord: ackWords.split(',')[0].trim().toUpperCase(),
    acknowledges: (reply) => matcher.match(reply) >= 0,
    allClear: typeof settings.allClear === 'string' && settings.allClear !== '',
  };
}

const DEFAULT_STEPS = [
  { action: 'text', wait: 60 },
  { action: 'call', wait: 90 },
];

/** "Alice +15555550100, Bob +1555…", a list of numbers, or an array of numbers or {name, number}. */
export function parseContacts(value: unknown): Contact[] {
  const items: unknown[] = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,;\n]/) : [value];
  const contacts: Contact[] = [];
  for (const item of items) {
    if (typeof item === 'string') {
      if (!item.trim()) continue;
      const found = /^(.*?)(\+[\d\s().-]+)\s*$/.exec(item.trim());
      if (!found) throw new TwilioNodeError('INVALID_INPUT', text('badRecipientCall', { address: item.trim() }));
      const number = normaliseRecipient(found[2], 'call');
      const name = found[1]
        .trim()
        .replace(/[:=-]\s*$/, '')
        .trim();
      contacts.push({ name: name || number, number });
    } else if (typeof item === 'object' && item !== null && typeof (item as Contact).number === 'string') {
      const number = normaliseRecipient((item as Contact).number, 'call');
      contacts.push({ name: String((item as Contact).name ?? number), number });
    } else throw new TwilioNodeError('INVALID_INPUT', text('recipientType', { type: typeof item }));
  }
  if (contacts.length === 0) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Contacts' }));
  return contacts;
}

const isText = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);

/**
 * Whether a stored value is a page this code can resume, checked to the last field it reads: a
 * damaged record (hand-edited, or from a version that stored less) is set aside, never resumed.
 */
export function isPageRecord(value: unknown): value is PageRecord {
  if (!isPlainObject(value)) return false;
  const p = value;
  return (
    isText(p.alarmId) &&
    isPlainObject(p.msg) &&
    isText(p.spoken) &&
    Array.isArray(p.contacts) &&
    p.contacts.length > 0 &&
    p.contacts.every((c) => isPlainObject(c) && isText(c.name) && isText(c.number)) &&
    isCount(p.round) &&
    isCount(p.contact) &&
    isCount(p.step) &&
    Number.isFinite(p.stepEnds) &&
    optional(p.callSid, isText) &&
    optional(
      p.calls,
      (v) =>
        Array.isArray(v) &&
        v.every((c) => isPlainObject(c) && isText(c.sid) && isText(c.name) && isText(c.number) && Number.isFinite(c.until)),
    ) &&
    optional(p.from, isText) &&
    optional(
      p.intent,
      (v) =>
        isPlainObject(v) &&
        (v.action === 'text' || v.action === 'call') &&
        isText(v.to) &&
        Number.isFinite(v.at) &&
        optional(v.from, isText) &&
        optional(v.body, isText) &&
        optional(v.code, isText) &&
        optional(v.sid, isText) &&
        optional(v.twilioOffsetMs, Number.isFinite),
    ) &&
    Array.isArray(p.texted) &&
    p.texted.every(
      (t) =>
        isPlainObject(t) &&
        isText(t.number) &&
        isText(t.name) &&
        isText(t.code) &&
        optional(t.from, isText) &&
        optional(t.askedAt, Number.isFinite),
    ) &&
    Array.isArray(p.alerted) &&
    p.alerted.every(isText) &&
    Array.isArray(p.history) &&
    p.history.every((h) => isPlainObject(h) && isText(h.name) && isText(h.outcome)) &&
    isCount(p.merged) &&
    isText(p.startedAt) &&
    optional(p.ended, (v) => v === 0 || v === 1 || v === 2) &&
    optional(
      p.endedWith,
      (v) =>
        isPlainObject(v) &&
        optional(v.cancelledAt, isText) &&
        optional(v.error, isText) &&
        optional(
          v.acknowledged,
          (a) =>
            isPlainObject(a) &&
            isText(a.name) &&
            isText(a.number) &&
            (a.how === 'key' || a.how === 'reply') &&
            isText(a.at) &&
            isCount(a.afterSteps),
        ),
    ) &&
    optional(p.notStarted, (v) => v === true) &&
    optional(
      p.allClear,
      (v) =>
        Array.isArray(v) &&
        v.every(
          (t) =>
            isPlainObject(t) &&
            isText(t.number) &&
            optional(t.from, isText) &&
            optional(t.at, Number.isFinite) &&
            optional(t.body, isText) &&
            optional(t.twilioOffsetMs, Number.isFinite) &&
            optional(t.sid, isText),
        ),
    )
  );
}
