/**
 * Runs a node's pages: the escalation machine (./escalation) decides, the pager does what it says
 * (texts and calls through the account's queue, timers on the clock, a call's keys and end, the
 * replies to the page's texts) and feeds back what happened. The pages themselves wait in the node's
 * waiting room (lib/waits/waiting-room), which stores them, holds their msgs and sends them on.
 */
import type { NodeMessageInFlow } from 'node-red';
import type { TwilioAccount } from '../account/account';
import { Clock, Timer, systemClock } from '../core/clock';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { render, text } from '../core/texts';
import type { InboundHub } from '../inbound/hub';
import { OutcomeTracker, fetchOutcome } from '../inbound/outcomes';
import type { NodeStatus } from '../node-red/status';
import { hangUp, placeCall, sendText } from '../outbound/messages';
import { ReconcileNotYet, reconcileIntent, rememberSid, twilioOffsetForIntent, twilioOffsetOf } from '../outbound/reconcile';
import type { AcceptedMessage } from '../outbound/intake';
import { renderTemplate } from '../twilio/templates';
import { pageCallTwiml } from '../twilio/twiml';
import {
  EscalationAction,
  EscalationEvent,
  EscalationPolicy,
  PORT,
  PageRecord,
  PageSummary,
  Port,
  StepIntent,
  type AllClearText,
  escalate,
  newPage,
  parseContacts,
} from './escalation';
import { Clarify, QuestionBoard, questionBoardFor } from './questions';
import { Say, clarifyingMessage, peopleTexts } from './clarifying';

type Msg = NodeMessageInFlow;

/** What a pager uses of the node's waiting room (a WaitingRoom<PageRecord>). */
export interface PageWaits {
  readonly closing: boolean;
  /** When the close began (the WaitingRoom's). */
  readonly whenClosing?: Promise<void>;
  readonly size: number;
  values(): IterableIterator<{ id: string; record: PageRecord }>;
  get(id: string): { record: PageRecord } | undefined;
  admit(msg: object): { copy: Record<string, unknown>; bytes: number };
  hold(
    admission: { copy: Record<string, unknown>; bytes: number },
    record: PageRecord,
    accepted?: AcceptedMessage<Msg>,
    msg?: Msg,
  ): Promise<string | undefined>;
  save(id: string): Promise<void>;
  message(id: string): Msg | undefined;
  /** Resolves once the page's record is gone from the store; rejects when the store refused that. */
  emit(id: string, port: number, msg: Msg): Promise<void>;
  track<T>(work: Promise<T>): Promise<T>;
}

export interface PagerOptions {
  /** The node: its requests' owner, its warnings. */
  node: { id: string; warn(message: string): void };
  account: TwilioAccount;
  hub: InboundHub;
  waits: PageWaits;
  policy: EscalationPolicy;
  /** The alert (a template of the msg), texted and said. */
  alert: string;
  /** Texted to those alerted when a page is cancelled (a template of its msg); empty: nothing. */
  allClear?: string;
  /** Calls: where the keys go (undefined: calls ask for a text instead), the voice, machine detection. */
  keysUrl(): string | undefined;
  voice?: string;
  language?: string;
  machineDetection: boolean;
  /** The node's status: each step, a merge, how the last page ended; its language for texts and errors. */
  status: Pick<NodeStatus, 'working' | 'success' | 'warning' | 'translate'>;
  clock?: Clock;
  /** How long a reconciliation that could not ask Twilio waits before it asks again: doubled each time up to the last. */
  reconcileBackoffMs?: { first: number; last: number };
}

/** What a msg that starts a page says, read from the node's typed fields. */
export interface PageFields {
  contacts?: unknown;
  from?: unknown;
  alarmId?: unknown;
}

export class Pager {
  private readonly timers = new Map<string, Timer>();
  /** How to stop hearing each page's calls (every one until it ends, not only its current step's), by sid. */
  private readonly calls = new Map<string, Map<string, () => void>>();
  /** The replies each page's texts may get, by number. */
  private readonly replies = new Map<string, Map<string, () => void>>();
  /**
   * Steps on their way, by page (a failed step's next one can start before the first is done with);
   * and of those pages, the ones that ended meanwhile (what lands is undone).
   */
  private readonly sending = new Map<string, number>();
  private readonly ended = new Map<string, PageRecord>();
  /** Each page's last save: its next text or call goes only once that is committed. */
  private readonly saved = new Map<string, Promise<void>>();
  /** Reconciliations waiting to ask Twilio again (it could not be asked), by page. */
  private readonly retries = new Map<string, Timer>();
  /** The hang-ups an ending page made: its msg ends (and its record goes) once Twilio took them. */
  private readonly hangingUp = new Map<string, Array<Promise<void>>>();
  /** Pages leaving now with no call to hang up: resolved once the msg left and the record is gone. */
  private readonly leaving = new Map<string, Promise<void | undefined>>();
  private stopped = false;
  /** All clear reconciliations waiting to ask Twilio again: a stop ends their waits. */
  private readonly pauses = new Map<() => void, Timer>();
  /**
   * Reconciliations ask Twilio one at a time, and each Sid found is given to one intent only: two
   * pages that called one person in the same minutes, both cut in flight, are not both given one call.
   */
  private reconciling: Promise<unknown> = Promise.resolve();
  private readonly reconciled = new Set<string>();
  private readonly tracker: OutcomeTracker;
  private readonly board: QuestionBoard;
  private readonly clock: Clock;
  private readonly say: Say;

  constructor(private readonly options: PagerOptions) {
    const { account, hub, node } = options;
    this.clock = options.clock ?? systemClock;
    this.say = peopleTexts(options.status.translate);
    this.board = questionBoardFor(account, hub);
    this.tracker = new OutcomeTracker({
      hub,
      fetchStatus: (kind, sid) => fetchOutcome(account, node, kind, sid),
      firstLookMs: { message: 2_000, call: 3_000 },
      maxLookMs: 10_000,
      clock: this.clock,
    });
  }

  /** A msg that starts a page, or joins the one of its alarm. */
  async start(msg: Msg, accepted: AcceptedMessage<Msg>, fields: PageFields): Promise<void> {
    const { waits } = this.options;
    const alarmId = alarmText(fields.alarmId ?? (msg as { topic?: unknown }).topic ?? '') || 'alarm';
    // One page per alarm: the same alarm again while it runs is merged into it, not paged twice.
    for (const wait of waits.values())
      if (wait.record.alarmId === alarmId && wait.record.ended === undefined) {
        this.apply(wait.id, { type: 'merged' });
        this.options.status.working('twilio-page.status.merged', { id: alarmId });
        return accepted.done();
      }
    const contacts = parseContacts(fields.contacts);
    const spoken = renderTemplate(this.options.alert, msg); // the node's own text: the only template
    if (!spoken.trim()) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Alert' }));
    const from = typeof fields.from === 'string' && fields.from.trim() ? fields.from.trim() : this.options.account.defaultFrom;
    const admission = waits.admit(msg);
    const page = newPage({ alarmId, msg: admission.copy, spoken, contacts, from: from || undefined }, this.clock.now());
    // Stored as not started: held while the node closes, the page is the next start's to begin.
    const id = await waits.hold(admission, page, accepted, msg);
    if (!id) return;
    // Begun: its first step's intent is stored before the step goes (a later start reconciles it, never begins it again).
    this.apply(id, { type: 'start' });
  }

  /**
   * Cancels the pages of an alarm; the cancel topic itself, or no alarm id, cancels every page.
   * Resolves once each cancelled page's end is stored: the cancel msg ends then, so a flow that
   * hears it end (a complete node) knows a power cut after it still cancels. A page with no call to
   * hang up leaves at once, and the cancel ends once it has left and its record is gone: a power
   * cut the complete node heard of then cannot find the page to end again (and send it twice). A
   * store that refused that delete ends the cancel with its error: a restart would send the page again.
   */
  async cancel(alarmId: unknown, cancelTopic: string | undefined): Promise<void> {
    const every = alarmId === undefined || alarmId === '' || (!!cancelTopic && alarmId === cancelTopic);
    const wanted = every ? '' : alarmText(alarmId);
    const stored: Array<Promise<unknown>> = [];
    for (const wait of [...this.options.waits.values()])
      if (every || wait.record.alarmId === wanted) {
        this.apply(wait.id, { type: 'cancel' });
        // A save that fails ends the page as broken, on the page's own msg; the cancel itself was heard.
        stored.push((this.saved.get(wait.id) ?? Promise.resolve()).catch(() => undefined));
        const leaving = this.leaving.get(wait.id);
        if (leaving) stored.push(leaving);
      }
    const refused = (await Promise.allSettled(stored)).find((result) => result.status === 'rejected');
    if (refused) throw refused.reason;
  }

  /** Pages a previous run left: each resumes its step with the time it had left. */
  resume(pages: Iterable<{ id: string }>): void {
    for (const { id } of pages) this.apply(id, { type: 'resumed' });
  }

  /** Hears nothing more (the node closes): the pages stay stored as they are. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.retries.values()) this.clock.clearTimeout(timer);
    this.retries.clear();
    for (const [resume, timer] of this.pauses) {
      this.clock.clearTimeout(timer);
      resume();
    }
    this.pauses.clear();
    this.tracker.stop();
    for (const id of new Set([...this.timers.keys(), ...this.calls.keys(), ...this.replies.keys()])) this.silence(id);
  }

  /**
   * Hangs up a page's calls (its node was removed). Never rejects: a call that could not be hung up
   * is logged with its Sid (it may still ring).
   */
  hangUp(page: PageRecord): Promise<void> {
    const sids = new Set([...(page.calls ?? []).map((c) => c.sid), ...(page.callSid ? [page.callSid] : [])]);
    // Not the node's own request: its close withdraws those still queued.
    return Promise.all([...sids].map((sid) => this.hangUpCall({}, sid))).then(() => undefined);
  }

  private hangUpCall(owner: object, sid: string): Promise<void> {
    return hangUp(this.options.account, owner, sid).catch((err: unknown) => {
      const reason = toTwilioNodeError(err, this.options.account.redact).localise(this.options.status.translate).message;
      this.options.node.warn(render(text('callLeftRinging', { sid, reason }), this.options.status.translate));
    });
  }

  /** Feeds an event to a page and does what the machine says; whatever goes wrong ends the page, never the runtime. */
  apply(id: string, event: EscalationEvent): void {
    const wait = this.options.waits.get(id);
    const state = wait?.record ?? this.ended.get(id);
    if (!state) return;
    try {
      const { page, actions } = escalate(this.options.policy, state, event, this.clock.now());
      // A closing node sends nothing: its intent is stored without a body, and the next start finds it never left.
      if (!this.options.waits.closing)
        for (const action of actions) {
          if (action.type === 'text' && page.intent) this.prepareText(page, action);
          // The offset to Twilio's clock goes with the intent: a reconcile compares its time with Twilio's dates.
          const offset = twilioOffsetOf(this.options.account);
          if ((action.type === 'text' || action.type === 'call') && page.intent && !page.intent.sid && offset !== undefined)
            page.intent.twilioOffsetMs ??= offset;
        }
      // An all clear's text is written into its intent before the page's end is saved (a closing node's too: it goes).
      for (const action of actions) if (action.type === 'all-clear') this.prepareAllClear(page, action.to);
      if (wait) wait.record = page;
      for (const action of actions) this.perform(id, page, action);
    } catch (err) {
      if (event.type !== 'broken') this.broken(id, err);
      else this.warn(err);
    }
  }

  /**
   * Something outside the ladder broke (the context store refusing a write): the page ends as
   * nobody acknowledged, with the reason, and the log says why.
   */
  private broken(id: string, err: unknown): void {
    const error = toTwilioNodeError(err, this.options.account.redact).localise(this.options.status.translate);
    this.options.node.warn(error.message);
    if (!this.options.waits.closing) this.apply(id, { type: 'broken', error: `${error.code}: ${error.message}` });
  }

  private perform(id: string, page: PageRecord, action: EscalationAction): void {
    const closing = this.options.waits.closing;
    // A closing node only keeps what it learns (a page's call, to watch or hang up after), and undoes.
    if (closing && action.type !== 'save' && action.type !== 'hang-up' && action.type !== 'all-clear') return;
    switch (action.type) {
      case 'show':
        return this.options.status.working(`twilio-page.status.${action.action === 'call' ? 'calling' : 'texting'}`, {
          name: action.name,
          step: action.step,
          of: action.of,
        });
      case 'text':
      case 'call':
        return this.sendStep(id, action, page.intent);
      case 'reconcile':
        return this.reconcile(id, action.intent);
      case 'hang-up': {
        // After the save that says the page ended with it: a restart hangs it up again rather than forget it.
        const committed = this.saved.get(id) ?? Promise.resolve();
        const done = committed.then(
          () => this.hangUpCall(this.options.node, action.sid),
          () => this.hangUpCall(this.options.node, action.sid),
        );
        this.hangingUp.set(id, [...(this.hangingUp.get(id) ?? []), done]);
        return void this.options.waits.track(done);
      }
      case 'set-timer':
        this.clock.clearTimeout(this.timers.get(id));
        this.timers.set(
          id,
          this.clock.setTimeout(() => this.apply(id, { type: 'step-timer-due' }), action.at - this.clock.now()),
        );
        return;
      case 'watch-call':
        return this.watchCall(id, action.sid, action.until);
      case 'unwatch-call':
        return this.unwatchCall(id, action.sid);
      case 'listen-replies':
        return this.listenForReplies(id, page, action.texted);
      case 'quiet':
        return this.quiet(id);
      case 'all-clear':
        return this.sendAllClear(id, page, action.to, action.reconcile === true);
      case 'emit':
        return this.end(id, page, action.port, action.page);
      case 'save': {
        // Tracked: a close waits for it, so what a step learnt is stored before the node lets go.
        const saving = this.options.waits.track(this.offsetIntoIntent(id).then(() => this.options.waits.save(id)));
        this.saved.set(id, saving);
        const forget = () => void (this.saved.get(id) === saving && this.saved.delete(id));
        return void saving.then(forget, (err: unknown) => {
          forget();
          this.broken(id, err);
        });
      }
    }
  }

  /**
   * Before a step's intent is saved with no offset to Twilio's clock (the first page after a start:
   * no answer told it yet), one look learns it (twilioOffsetForIntent), so a reconcile after a power
   * cut and a clock set since still finds the step. The page is held meanwhile (a cancel finds it).
   */
  private offsetIntoIntent(id: string): Promise<void> {
    const intent = this.options.waits.get(id)?.record.intent;
    if (!intent || intent.sid || intent.twilioOffsetMs !== undefined) return Promise.resolve();
    return twilioOffsetForIntent(this.options.account, this.options.waits.whenClosing).then((offset) => {
      const now = this.options.waits.get(id)?.record.intent;
      if (now && !now.sid && offset !== undefined) now.twilioOffsetMs ??= offset;
    });
  }

  /**
   * A text's body as it goes (the alert and its hint) and the code it quotes, written into the step's
   * intent before the intent is saved: what a reconciliation after a crash looks for at Twilio.
   */
  private prepareText(page: PageRecord, action: Extract<EscalationAction, { type: 'text' }>): void {
    const { policy } = this.options;
    // A text's code is this page's for the contact, reserved while it is sent (its open question then holds it).
    const code = action.code ?? this.board.codeFor(action.to);
    // The text shows the code when another question is open for the contact.
    const hint =
      this.board.openFor(action.to) > 1
        ? this.say('codeHint', { code, answer: policy.ackWord })
        : this.say('pageTextHint', { word: policy.ackWord });
    page.intent = { ...page.intent!, body: `${action.body} ${hint}`, code };
  }

  /**
   * Sends a step once its intent is committed; what became of it comes back as the page's next event.
   * A step whose intent could not be stored is not sent (the page ends, broken); one whose node began
   * closing meanwhile is left to the next start, which finds its intent and asks Twilio first.
   */
  private sendStep(id: string, action: Extract<EscalationAction, { type: 'text' | 'call' }>, intent: StepIntent | undefined): void {
    this.sending.set(id, (this.sending.get(id) ?? 0) + 1);
    const code = action.type === 'text' ? (intent?.code ?? action.code ?? this.board.codeFor(action.to)) : '';
    const body = action.type === 'text' ? (intent?.body ?? action.body) : '';
    const committed = this.saved.get(id) ?? Promise.resolve();
    const sent = committed.then(() => {
      // A page cancelled (or ended) while this step's intent was being stored sends no more alerts.
      const wait = this.options.waits.get(id);
      if (this.options.waits.closing || !wait || wait.record.ended !== undefined) return undefined;
      return action.type === 'text' ? this.sendAlertText(action, code, body) : this.placeAlertCall(action);
    });
    const ref = intent && stepRef(id, intent);
    void this.options.waits.track(
      sent
        .then(
          (event) => {
            if (!event) return;
            // The Sid is this step's: no reconcile of another intent takes it, after the page too.
            if (ref && event.type === 'step-sent') void rememberSid(this.options.account, event.sid, ref);
            this.apply(id, event);
          },
          // Its intent was not stored: the page already ended (broken), and the step never went.
          (err: unknown) =>
            committed.then(
              () => this.apply(id, { type: 'step-failed', error: this.describe(err) }),
              () => undefined,
            ),
        )
        .finally(() => {
          if (action.type === 'text' && action.code === undefined) this.board.releaseCode(action.to, code);
          this.doneSending(id);
        }),
    );
  }

  private doneSending(id: string): void {
    const left = (this.sending.get(id) ?? 1) - 1;
    if (left > 0) return void this.sending.set(id, left);
    this.sending.delete(id);
    this.ended.delete(id);
  }

  /**
   * Asks Twilio whether a step a previous run sent (its intent stored, no Sid) exists; the answer is
   * the page's next event. When Twilio cannot be asked, it asks again later (backoff on the clock),
   * never guessing: the step neither goes again nor goes on as sent until Twilio has said which.
   */
  private reconcile(id: string, intent: StepIntent, attempt = 0): void {
    this.sending.set(id, (this.sending.get(id) ?? 0) + 1);
    const { account, node } = this.options;
    const asked = this.reconciling.then(async () => {
      const taken = this.knownSids(id);
      const sid = await reconcileIntent(
        account,
        node,
        {
          kind: intent.action === 'text' ? 'message' : 'call',
          to: intent.to,
          from: intent.from,
          body: intent.body,
          at: intent.at,
          twilioOffsetMs: intent.twilioOffsetMs,
        },
        taken,
        stepRef(id, intent),
      );
      if (sid) this.reconciled.add(sid);
      return sid;
    });
    this.reconciling = asked.catch(() => undefined);
    void this.options.waits.track(
      asked
        .then(
          (sid) => this.apply(id, { type: 'reconciled', ...(sid ? { sid } : {}) }),
          (err: unknown) => {
            if (this.stopped || this.options.waits.closing || !this.options.waits.get(id)) return;
            // Nothing found yet, too soon after the restart to say "not sent": asked again then, no warning.
            const notYet = err instanceof ReconcileNotYet;
            if (attempt === 0 && !notYet) this.warn(err);
            const { first, last } = this.options.reconcileBackoffMs ?? { first: 1_000, last: 60_000 };
            const delay = notYet ? err.waitMs : Math.min(first * 2 ** attempt, last);
            this.retries.set(
              id,
              this.clock.setTimeout(() => {
                this.retries.delete(id);
                if (!this.stopped && this.options.waits.get(id)) this.reconcile(id, intent, notYet ? attempt : attempt + 1);
              }, delay),
            );
          },
        )
        .finally(() => this.doneSending(id)),
    );
  }

  /** The Sids this node's pages already know: a reconciliation never takes one of them for another step. */
  private knownSids(except: string): Set<string> {
    const sids = new Set<string>(this.reconciled);
    for (const { id, record } of this.options.waits.values()) {
      for (const h of record.history) if (h.sid) sids.add(h.sid);
      for (const c of record.calls ?? []) sids.add(c.sid);
      if (id !== except && record.intent?.sid) sids.add(record.intent.sid);
    }
    return sids;
  }

  private async sendAlertText(action: Extract<EscalationAction, { type: 'text' }>, code: string, body: string): Promise<EscalationEvent> {
    const { account, node } = this.options;
    const created = await sendText(account, node, { to: action.to, from: action.from, body });
    const from = typeof created.from === 'string' && created.from ? created.from : undefined;
    // Twilio's date of the text, as twilio-ask takes it: a reply dated before it (a poll) is no acknowledgement.
    const askedAt = Date.parse(String(created.dateCreated)) || undefined;
    return { type: 'step-sent', action: 'text', to: action.to, sid: created.sid, from, code, ...(askedAt ? { askedAt } : {}) };
  }

  private async placeAlertCall(action: Extract<EscalationAction, { type: 'call' }>): Promise<EscalationEvent> {
    const { policy, keysUrl, voice, language, machineDetection } = this.options;
    const url = keysUrl();
    const twiml = pageCallTwiml(
      action.spoken,
      url
        ? { key: policy.ackKey, gatherUrl: url, press: this.say('pagePress', { key: policy.ackKey }) }
        : { replyByText: this.say('pageReplyByText', { word: policy.ackWord }) },
      voice || undefined,
      language || undefined,
    );
    const created = await placeCall(this.options.account, this.options.node, {
      to: action.to,
      from: action.from,
      twiml,
      timeout: action.ringSeconds,
      ...(machineDetection ? { machineDetection: 'Enable' } : {}),
    });
    return { type: 'step-sent', action: 'call', to: action.to, sid: created.sid };
  }

  /** A call's key press (Digits from the <Gather>) and its end, heard until it ends, whichever step the page is on. */
  private watchCall(id: string, sid: string, until: number): void {
    const calls = this.calls.get(id) ?? new Map<string, () => void>();
    this.calls.set(id, calls);
    if (calls.has(sid)) return;
    const unsubscribe = this.options.hub.subscribe({ sid }, (event) => {
      const digits = event.params.Digits;
      if (typeof digits !== 'string') return undefined;
      this.apply(id, { type: 'key-pressed', sid, digits });
      return 'claimed'; // a key pressed on a page's call is the page's (acknowledging or not), not news for twilio-in's flow
    });
    calls.set(sid, unsubscribe);
    this.tracker.track('call', sid, until, (outcome) =>
      this.apply(id, { type: 'call-ended', sid, status: outcome.status, answeredBy: outcome.answeredBy }),
    );
  }

  private unwatchCall(id: string, sid: string): void {
    const calls = this.calls.get(id);
    calls?.get(sid)?.();
    calls?.delete(sid);
    if (calls?.size === 0) this.calls.delete(id);
  }

  /** Every number this page texted: a reply with an acknowledgement word from it ends the page. */
  private listenForReplies(id: string, page: PageRecord, texted: PageRecord['texted']): void {
    const open = this.replies.get(id) ?? new Map<string, () => void>();
    this.replies.set(id, open);
    for (const { number, from, code, askedAt } of texted) {
      if (open.has(number)) continue;
      const close = this.board.open({
        id: `${this.options.node.id} ${id} ${number}`,
        person: number,
        ourNumber: from,
        code,
        askedAt,
        summary: page.spoken.slice(0, 40),
        clarify: this.clarify,
        // Only an acknowledgement is the page's: anything else the contact texts ("who is this?") is news.
        onReply: (reply) => {
          if (!this.options.policy.acknowledges(reply.text)) return false;
          this.apply(id, { type: 'reply', number, text: reply.text });
        },
      });
      open.set(number, close);
    }
  }

  /** A person paged for two alarms who replies without a code hears which pages are open (once per set). */
  private readonly clarify: Clarify = (person, from, open) => {
    void sendText(this.options.account, this.options.node, { to: person, from, body: clarifyingMessage(this.say, open) }).catch(
      (err: unknown) => this.warn(err),
    );
  };

  /** The all clear's text (the node's template and the page's msg), or undefined (said in the log) when it cannot render. */
  private allClearBody(page: PageRecord): string | undefined {
    if (!this.options.allClear) return undefined;
    try {
      return renderTemplate(this.options.allClear, { ...page.msg, page: { alarmId: page.alarmId } });
    } catch (err) {
      this.warn(err);
      return undefined;
    }
  }

  /** Writes the text and the offset to Twilio's clock into a cancel's all clear intents, before their save. */
  private prepareAllClear(page: PageRecord, texts: AllClearText[]): void {
    const intents = texts.filter((t) => t.at !== undefined && t.body === undefined && !t.sid);
    if (intents.length === 0) return;
    const body = this.allClearBody(page);
    const offset = twilioOffsetOf(this.options.account);
    for (const text of intents) {
      if (body !== undefined) text.body = body;
      if (offset !== undefined) text.twilioOffsetMs ??= offset;
    }
  }

  /**
   * Tells those alerted that the page is over. An all clear that is an intent goes once the page's
   * end (which holds it) is committed, and the page's msg leaves once Twilio took it (its record then
   * goes); after a restart (`reconcile`) Twilio is asked first, and only one it does not have goes.
   * One that Twilio refuses is logged; one whose node stops while Twilio cannot be asked stays stored.
   */
  private sendAllClear(id: string, page: PageRecord, texts: AllClearText[], reconcile: boolean): void {
    const committed = (this.saved.get(id) ?? Promise.resolve()).catch(() => undefined);
    const work = texts
      .filter((text) => !text.sid)
      .map((text) =>
        committed
          .then(() => this.allClearOne(id, page, text, reconcile))
          .catch((err: unknown) => {
            if (this.stopped) throw err; // left stored: the next start asks Twilio again
            this.warn(err);
          }),
      );
    // The page's msg leaves once they were taken (one for a step that landed after the end: the msg has left).
    if (texts.some((text) => text.at !== undefined)) this.hangingUp.set(id, [...(this.hangingUp.get(id) ?? []), ...work]);
    void this.options.waits.track(Promise.allSettled(work));
  }

  private async allClearOne(id: string, page: PageRecord, text: AllClearText, reconcile: boolean): Promise<void> {
    const { account, node } = this.options;
    const intent = text.at !== undefined;
    // An intent's text is its own (rendered before it was saved); one that could not render is not sent.
    const body = intent ? text.body : this.allClearBody(page);
    if (body === undefined) return;
    const ref = intent ? `all-clear/${id}/${text.at}/${text.number}` : undefined;
    if (reconcile && intent) {
      const found = await this.untilReconciled(() =>
        reconcileIntent(
          account,
          node,
          { kind: 'message', to: text.number, from: text.from, body, at: text.at!, twilioOffsetMs: text.twilioOffsetMs },
          this.knownSids(''),
          ref,
        ),
      );
      if (found) return void (text.sid = found);
    }
    const created = await sendText(account, node, { to: text.number, from: text.from, body });
    text.sid = created.sid;
    if (ref) void rememberSid(account, created.sid, ref);
  }

  /**
   * Asks until Twilio answers (backoff on the clock, as a step's reconciliation); rejects once the node
   * stops. Nothing found too soon after the restart to say "not sent" (ReconcileNotYet): asked again
   * after its wait, no warning.
   */
  private async untilReconciled(ask: () => Promise<string | undefined>): Promise<string | undefined> {
    const { first, last } = this.options.reconcileBackoffMs ?? { first: 1_000, last: 60_000 };
    for (let attempt = 0; ;) {
      try {
        return await ask();
      } catch (err) {
        if (this.stopped) throw err;
        const notYet = err instanceof ReconcileNotYet;
        if (attempt === 0 && !notYet) this.warn(err);
        const delay = notYet ? err.waitMs : Math.min(first * 2 ** attempt++, last);
        await new Promise<void>((resolve) => {
          const timer = this.clock.setTimeout(() => {
            this.pauses.delete(resolve);
            resolve();
          }, delay);
          this.pauses.set(resolve, timer);
        });
        if (this.stopped) throw err;
      }
    }
  }

  /**
   * Ends a page on one of the outputs, with msg.page saying how. It hears nothing more at once; its
   * end is saved first (with the calls it hangs up), the hang-ups go after that save, and its msg
   * leaves (its record then gone) once they were taken: a power cut before that finds the page ended
   * at the restart, which hangs those calls up and ends the msg then, never paging on.
   */
  private end(id: string, page: PageRecord, port: Port, summary: PageSummary): void {
    this.silence(id);
    if (this.sending.has(id)) this.ended.set(id, page);
    const hangUps = this.hangingUp.get(id) ?? [];
    this.hangingUp.delete(id);
    const leave = (): Promise<void> | undefined => {
      this.hangingUp.delete(id); // a call that landed after the end was hung up on its own
      // A closing node's sends go nowhere (Node-RED has taken its flow apart): the page stays stored
      // as ended, its msg let go by the close, and the next start sends it on its output.
      if (this.options.waits.closing) return;
      const msg = this.options.waits.message(id) ?? ({ ...page.msg } as Msg);
      (msg as Msg & { page?: PageSummary }).page = summary;
      const gone = this.options.waits.emit(id, port, msg);
      this.showEnd(port, summary);
      return gone;
    };
    // A save that failed ends the page all the same (broken): its msg must not stay behind.
    const committed = (this.saved.get(id) ?? Promise.resolve()).catch(() => undefined);
    const left = this.options.waits.track(committed.then(() => Promise.all(hangUps)).then(leave));
    // With no call to hang up it leaves at once: a cancel waits for that (see cancel).
    if (hangUps.length > 0) return;
    this.leaving.set(id, left);
    const forget = () => void (this.leaving.get(id) === left && this.leaving.delete(id));
    left.then(forget, forget);
  }

  private showEnd(port: Port, summary: PageSummary): void {
    if ([...this.options.waits.values()].some((w) => w.record.ended === undefined)) return;
    const shown = { name: summary.acknowledged?.name ?? '' };
    if (port === PORT.acknowledged) this.options.status.success('twilio-page.status.acknowledged', shown);
    else this.options.status.warning(`twilio-page.status.${port === PORT.exhausted ? 'exhausted' : 'cancelled'}`, shown);
  }

  /** Ends what the current step listens to: its timer (its call is heard until it ends). */
  private quiet(id: string): void {
    this.clock.clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  /** Ends everything the page listens to. */
  private silence(id: string): void {
    this.quiet(id);
    for (const unsubscribe of this.calls.get(id)?.values() ?? []) unsubscribe();
    this.calls.delete(id);
    for (const close of this.replies.get(id)?.values() ?? []) close();
    this.replies.delete(id);
  }

  private describe(err: unknown): string {
    const error = toTwilioNodeError(err, this.options.account.redact).localise(this.options.status.translate);
    return `${error.code}: ${error.message}`;
  }

  private warn(err: unknown): void {
    this.options.node.warn(toTwilioNodeError(err, this.options.account.redact).localise(this.options.status.translate).message);
  }
}

/** An alarm id as text; one that cannot be (an object whose toString throws, a symbol) is refused. */
function alarmText(value: unknown): string {
  try {
    if (typeof value !== 'symbol') return String(value);
  } catch {
    // refused below
  }
  throw new TwilioNodeError('INVALID_INPUT', text('alarmId'));
}

/** A step's intent's name in the Sid claims (reconcile.ts): its page (a random id), its time, action and number. */
const stepRef = (pageId: string, intent: StepIntent): string => `page/${pageId}/${intent.at}/${intent.action}/${intent.to}`;
