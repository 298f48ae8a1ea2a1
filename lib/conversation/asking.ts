/**
 * twilio-ask's behaviour, without Node-RED: a question sent to each recipient (SMS or WhatsApp, each
 * with a code reserved on the account's QuestionBoard), its answer routed to the output it matches,
 * "anything else", "no reply" (at the deadline, or cancelled) and "not delivered". Several recipients:
 * the first valid answer wins (`first`, the others may be told) or every answer goes out (`each`).
 *
 * The waits themselves live in the node's WaitingRoom (lib/waits/waiting-room.ts). Conversation and
 * waits are one layer, so neither imports the other: this module says what it needs of a room
 * (AskWaits, which WaitingRoom<AskWait> is) and the node entry hands its room in.
 */
import type { NodeMessageInFlow } from 'node-red';
import type { TwilioAccount } from '../account/account';
import { Clock, Timer, systemClock } from '../core/clock';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { Translate, text } from '../core/texts';
import type { InboundHub } from '../inbound/hub';
import { OutcomeTracker, fetchOutcome } from '../inbound/outcomes';
import { Delivery, deliverToRecipients } from '../outbound/delivery';
import type { AcceptedMessage } from '../outbound/intake';
import { TextParams, sendText } from '../outbound/messages';
import { ReconcileNotYet, reconcileIntent, rememberSid, twilioOffsetForIntent, twilioOffsetOf } from '../outbound/reconcile';
import { parseRecipients } from '../twilio/addresses';
import { MessageFields, SendPlan, TemplateFields, planMessage } from '../twilio/send-plans';
import { renderTemplate } from '../twilio/templates';
import { AnswerMatcher, ExpectedAnswer } from './answers';
import { AskWait, Asked, RecentCancels, cancels, openSummary, stillOpen, unreconciled } from './ask-waits';
import { OpenQuestion, QuestionBoard, Reply } from './questions';
import { Say, clarifyingMessage, peopleTexts } from './clarifying';

type Msg = NodeMessageInFlow;

/** Room reserved for a msg's wait (the copy it keeps, and its size). */
export interface Admission {
  copy: Record<string, unknown>;
  bytes: number;
}

/** What asking needs of its node's waiting room: WaitingRoom<AskWait> (see that file for each). */
export interface AskWaits {
  admit(msg: object): Admission;
  withdraw(admission: Admission): void;
  hold(admission: Admission, record: AskWait, accepted?: AcceptedMessage<Msg>, msg?: Msg): Promise<string | undefined>;
  get(id: string): { id: string; record: AskWait; accepted?: unknown } | undefined;
  values(): Iterable<{ id: string; record: AskWait }>;
  message(id: string): Msg | undefined;
  emit(id: string, port: number, msg: Msg, last?: boolean): void;
  save(id: string): Promise<void>;
  /** Ends a wait without an output (its done called with `error`, when it has one). */
  end(id: string, error?: TwilioNodeError): unknown;
  /** Whether the node is closing, and when it began (the WaitingRoom's). */
  readonly closing?: boolean;
  readonly whenClosing?: Promise<void>;
}

/** An answer the node expects: a rule, and the label msg.reply.answer carries (the rule's value without one). */
export type LabelledAnswer = ExpectedAnswer & { label?: string };

export interface AskingOptions {
  /** The node: its id names its questions on the board, its requests are its own (a close withdraws them). */
  node: { id: string; warn(message: string): void; error?(error: unknown, msg?: object): void };
  account: TwilioAccount;
  board: QuestionBoard;
  hub: InboundHub;
  waits: AskWaits;
  /** Valid answers only (answerProblem sorted the others out). */
  answers: readonly LabelledAnswer[];
  mode: 'first' | 'each';
  /**
   * A reply that matches no answer leaves by "anything else" and `end`s that person's question (the
   * default), or leaves as a copy while the question keeps waiting (`wait`) for a valid answer, the
   * deadline or a cancel. With one recipient or several, in either mode.
   */
  anythingElse?: 'end' | 'wait';
  timeoutMs: number;
  /** `first`: what the others are told once someone answered (a template). */
  tellOthers?: string;
  /** Reads To, From and Body of a msg. */
  readFields(msg: Msg): Promise<MessageFields>;
  templates: TemplateFields;
  /** The runtime's language: the texts sent to people, errors carried in msgs and logged. */
  translate: Translate;
  /** A copy of a msg, when more than one leaves for one wait. */
  clone(msg: Msg): Msg;
  /** The open questions changed (`force`: the status should say so now, not throttled). */
  changed?(force: boolean): void;
  clock?: Clock;
}

/** The outputs: one per answer, then anything else, no reply, not delivered. */
export function askOutputs(answers: number) {
  return { else: answers, noReply: answers + 1, notDelivered: answers + 2, count: answers + 3 };
}

/** A question opened on the board as soon as it was sent: replies wait here until its wait is held. */
interface Early {
  question: OpenQuestion;
  close: () => void;
  replies: Reply[];
}

/** A msg's questions while they are sent: the codes reserved for them, and each opened as it went out. */
interface Sending {
  summary: string;
  codes: Map<string, { person: string; code: string }>;
  early: Map<string, Early>;
}

/** A msg's wait as committed before its texts go: the record, the codes reserved, each recipient's text. */
interface Prepared {
  record: AskWait;
  sending: Sending;
  params: Map<string, TextParams>;
}

/** How long a question's code claim outlives its deadline (a restart, clocks that differ). */
const CODE_CLAIM_MARGIN_MS = 10 * 60_000;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

type FullReply = Reply & { answer: string | null; matched: number | null };
type Outcome = 'answered' | 'not-delivered' | 'no-reply' | 'cancelled';

const SUMMARY_LENGTH = 40;
const summarise = (question: string) => (question.length > SUMMARY_LENGTH ? `${question.slice(0, SUMMARY_LENGTH - 1)}…` : question);

export class Asking {
  readonly outputs: ReturnType<typeof askOutputs>;
  private readonly waits: AskWaits;
  private readonly clock: Clock;
  private readonly say: Say;
  private readonly matcher: AnswerMatcher;
  private readonly tracker: OutcomeTracker;
  private readonly cancelled: RecentCancels;
  /** No-reply timers, by wait. */
  private readonly timers = new Map<string, Timer>();
  /** How to close each open question on the board, by `${wait} ${recipient}`. */
  private readonly closers = new Map<string, () => void>();
  /** Sids already given to an intent by reconcile (one record answers one intent). */
  private readonly taken = new Set<string>();
  private reconciling: Promise<void> = Promise.resolve();
  /** Backoff waits of a reconcile that Twilio did not answer: a stop ends them. */
  private readonly backoffs = new Map<() => void, Timer>();
  private stopped = false;

  constructor(private readonly options: AskingOptions) {
    const { account, node } = options;
    this.waits = options.waits;
    this.clock = options.clock ?? systemClock;
    this.say = peopleTexts(options.translate);
    this.matcher = new AnswerMatcher(options.answers);
    this.outputs = askOutputs(options.answers.length);
    this.cancelled = new RecentCancels(this.clock);
    this.tracker = new OutcomeTracker({
      hub: options.hub,
      fetchStatus: (kind, sid) => fetchOutcome(account, node, kind, sid),
      clock: this.clock,
    });
  }

  /**
   * Asks a msg's question and holds its wait. The wait is committed first, each recipient's question
   * as an intent (To, From, the text, the time): only then does a text go to Twilio, and its Sid is
   * written after. A store that refuses the write sends nothing (the msg ends with its error).
   */
  async ask(msg: Msg, accepted: AcceptedMessage<Msg>): Promise<void> {
    const cancelMark = this.cancelled.mark();
    // The copy its wait keeps, made before the question goes out: a msg that cannot wait is not sent.
    const admission = this.waits.admit(msg);
    let prepared: Prepared;
    try {
      prepared = await this.prepare(msg, admission.copy);
    } catch (err) {
      this.waits.withdraw(admission);
      throw err;
    }
    const { record, sending, params } = prepared;
    // Stored before anything is sent. Undefined: the msg ended meanwhile, or the node is closing (the
    // store keeps the intent: the next start finds it never went, and the msg ends NOT_SENT then).
    let id: string | undefined;
    try {
      id = await this.waits.hold(admission, record, accepted, msg);
    } catch (err) {
      this.releaseCodes(sending);
      throw err;
    }
    if (id === undefined || !this.waits.get(id)) return this.releaseCodes(sending);
    if (!(await this.withTwilioOffset(id, record))) return this.releaseCodes(sending);
    // Open on the board (and in the account's shared index) before the text goes: a reply finds it wherever it lands.
    this.openEarly(id, Object.keys(record.recipients), sending);
    await this.options.board.written([...sending.early.values()].map((e) => e.question.id));
    const recipients = Object.keys(record.recipients);
    const delivery = await deliverToRecipients(
      { recipients, paramsFor: (r: string) => params.get(r)! },
      (p) => sendText(this.options.account, this.options.node, p),
      this.options.account.redact,
    );
    for (const [recipient, created] of delivery.results) {
      const asked = record.recipients[recipient];
      asked.sid = String(created.sid);
      // The Sid is this question's: no reconcile of another intent takes it, after the wait too.
      void rememberSid(this.options.account, asked.sid, askRef(id, recipient));
      asked.from = (created.from as string) || asked.from;
      asked.askedAt = Date.parse(String(created.dateCreated)) || undefined;
      delete asked.intent;
      const early = sending.early.get(recipient);
      if (early) {
        early.question.askedAt = asked.askedAt;
        early.question.ourNumber ??= asked.from;
      }
    }
    // A refused recipient keeps its intent: it closes just below; should the process die first, the
    // next start finds no such text at Twilio (NOT_SENT), or finds one a timeout hid (it waits on).
    // Ended while its questions were sent (a cancel of all, a close): nothing to arm.
    if (!this.waits.get(id)) return this.letGo(sending);
    await this.waits.save(id).catch((err: unknown) => this.options.node.warn(errorText(err)));
    if (!this.waits.get(id)) return this.letGo(sending);
    if (delivery.results.size === 0) return this.notSentAtAll(id, recipients[0], delivery);
    // Several recipients, some refused: each is "not delivered" as the outputs say (`first`: only if no one else can answer).
    for (const [recipient, err] of delivery.failures) this.notDelivered(id, recipient, err.localise(this.options.translate).toJSON());
    // Ended meanwhile, or the node stopped (its Sids are stored: the next start resumes it).
    if (!this.waits.get(id) || this.stopped) return this.letGo(sending);
    this.arm(id, sending.early);
    if (!this.waits.get(id)) return; // an answer that came while the others were sent ended it
    // A cancel that came while the question was being sent applies now.
    if (this.cancelled.since(cancelMark, Object.keys(record.recipients))) return this.noReply(id, 'cancelled');
    this.options.changed?.(false);
  }

  /**
   * Waits a previous run left: re-armed with the time they have left; their msgs leave as fresh ones.
   * A question whose Sid was never written (a crash while it was sent) is reconciled first: Twilio has
   * it → it waits on as asked; Twilio has no record of it → the msg ends NOT_SENT and its question
   * is not opened. A cancel this node took while it was restoring them ends them now.
   */
  resume(restored: Iterable<{ id: string }>): void {
    const unsure: string[] = [];
    for (const { id } of restored) {
      const wait = this.waits.get(id);
      if (!wait) continue;
      if (this.cancelled.since(0, Object.keys(wait.record.recipients))) this.noReply(id, 'cancelled');
      else if (unreconciled(wait.record).length > 0) unsure.push(id);
      else this.arm(id);
    }
    if (unsure.length > 0) this.reconciling = this.reconcileAll(unsure).catch((err: unknown) => this.options.node.warn(errorText(err)));
    this.options.changed?.(true);
  }

  /** Resolves once the waits a restart left with questions of unknown fate are reconciled (for tests). */
  reconciled(): Promise<void> {
    return this.reconciling;
  }

  /** Reconciles the restored waits one after the other (one request each, usually), each then armed or ended. */
  private async reconcileAll(ids: string[]): Promise<void> {
    for (const id of ids) {
      if (this.stopped) return;
      const wait = this.waits.get(id);
      if (!wait) continue;
      const pending = unreconciled(wait.record);
      // Opened at once (replies wait for the answer from Twilio): a reply to a question that went is not news.
      const sending: Sending = { summary: wait.record.question, codes: new Map(), early: new Map() };
      this.openEarly(id, pending, sending);
      const notSent: string[] = [];
      for (const recipient of pending) {
        const asked = wait.record.recipients[recipient];
        const intent = asked.intent!;
        const sid = await this.untilAnswered(() =>
          reconcileIntent(
            this.options.account,
            this.options.node,
            {
              kind: 'message',
              to: intent.to,
              from: intent.from,
              messagingServiceSid: intent.messagingServiceSid,
              body: intent.body,
              at: intent.at,
              twilioOffsetMs: intent.twilioOffsetMs,
            },
            this.taken,
            askRef(id, recipient),
          ),
        );
        if (this.stopped) return this.letGo(sending);
        if (sid) asked.sid = sid;
        else notSent.push(recipient);
        delete asked.intent;
      }
      if (!this.waits.get(id)) {
        this.letGo(sending);
        continue;
      }
      await this.waits.save(id).catch((err: unknown) => this.options.node.warn(errorText(err)));
      if (!this.waits.get(id)) {
        this.letGo(sending);
        continue;
      }
      const error = new TwilioNodeError('NOT_SENT', text('questionNotSent')).localise(this.options.translate);
      if (notSent.length === Object.keys(wait.record.recipients).length) {
        this.letGo(sending);
        this.fail(id, error);
        continue;
      }
      for (const recipient of notSent) {
        sending.early.get(recipient)?.close();
        sending.early.delete(recipient);
        this.notDelivered(id, recipient, error.toJSON());
      }
      if (this.waits.get(id)) this.arm(id, sending.early);
      else this.letGo(sending);
    }
    this.options.changed?.(true);
  }

  /**
   * Asks Twilio until it answers: a failure is retried with backoff on the Clock (1 s, doubling to 1 min),
   * never guessed; nothing found too soon after the restart to say "not sent" (ReconcileNotYet) is
   * asked again after its wait, with no warning (nothing failed).
   */
  private async untilAnswered<T>(ask: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; !this.stopped;) {
      let delayMs: number;
      try {
        return await ask();
      } catch (err) {
        if (err instanceof ReconcileNotYet) delayMs = err.waitMs;
        else {
          if (attempt === 0)
            this.options.node.warn(toTwilioNodeError(err, this.options.account.redact).localise(this.options.translate).message);
          delayMs = Math.min(1000 * 2 ** attempt, 60_000);
          attempt++;
        }
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(() => {
          this.backoffs.delete(resolve);
          resolve();
        }, delayMs);
        this.backoffs.set(resolve, timer);
      });
    }
    return undefined;
  }

  /** A wait ends with a coded error: its done(err), or (a restored wait has no done) the node's error with its msg, which Catch nodes see. */
  private fail(id: string, error: TwilioNodeError): void {
    const wait = this.waits.get(id);
    if (!wait) return;
    for (const recipient of Object.keys(wait.record.recipients)) this.close(id, recipient, wait.record);
    this.clock.clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const msg = this.waits.message(id);
    if (wait.accepted) this.waits.end(id, error);
    else {
      this.waits.end(id);
      this.options.node.error?.(error, msg);
    }
    this.options.changed?.(true);
  }

  /** msg.cancel, or the cancel topic: ends the waits for the msg's recipients (all, if it names none). */
  async cancel(msg: Msg): Promise<void> {
    const fields = await this.options.readFields(msg);
    // A To that is no recipient cancels nothing (it is an error), never everything.
    const only = fields.to !== undefined && fields.to !== '' ? new Set(parseRecipients(fields.to, 'message')) : undefined;
    this.cancelled.add(only);
    for (const wait of [...this.waits.values()]) if (cancels(only, wait.record)) this.noReply(wait.id, 'cancelled');
  }

  /** How many questions are open, and the nearest deadline among them. */
  summary(): { open: number; nearest: number } {
    return openSummary(this.waits.values());
  }

  /** The node stops: no timer, look or open question is left (the waits themselves are the room's). */
  stop(): void {
    this.stopped = true;
    for (const [resolve, timer] of this.backoffs) {
      this.clock.clearTimeout(timer);
      resolve();
    }
    this.backoffs.clear();
    this.tracker.stop();
    for (const timer of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
    for (const close of this.closers.values()) close();
    this.closers.clear();
  }

  /**
   * The msg's question, planned from its fields, with each recipient's code reserved at once (two
   * questions asked at the same moment never share one) and its text as it will go: the wait's record,
   * each recipient an intent.
   */
  private async prepare(msg: Msg, copy: Record<string, unknown>): Promise<Prepared> {
    const plan = planMessage(await this.options.readFields(msg), msg, this.options.account.defaultFrom, this.options.templates);
    const question = String((plan.paramsFor(plan.recipients[0]) as TextParams).body ?? '');
    const sending: Sending = { summary: summarise(question), codes: new Map(), early: new Map() };
    const params = new Map<string, TextParams>();
    const recipients: Record<string, Asked> = {};
    const now = this.clock.now();
    const offset = twilioOffsetOf(this.options.account);
    try {
      for (const recipient of plan.recipients) {
        const p = await this.withCode(plan, recipient, sending);
        params.set(recipient, p);
        const { person, code } = sending.codes.get(recipient)!;
        const service = typeof p.messagingServiceSid === 'string' ? p.messagingServiceSid : undefined;
        recipients[recipient] = {
          sid: '',
          code,
          person,
          from: p.from || undefined,
          open: true,
          intent: {
            to: p.to,
            from: p.from || undefined,
            messagingServiceSid: service,
            body: String(p.body ?? ''),
            at: now,
            ...(offset === undefined ? {} : { twilioOffsetMs: offset }),
          },
        };
      }
    } catch (err) {
      this.releaseCodes(sending);
      throw err;
    }
    const record: AskWait = {
      deadline: now + this.options.timeoutMs,
      askedAt: new Date(now).toISOString(),
      msg: copy,
      question: sending.summary,
      recipients,
    };
    return { record, sending, params };
  }

  /**
   * Intents stored with no offset to Twilio's clock (the first question after a start): held first (a
   * power cut now loses nothing: nothing went), then one look at Twilio's clock, saved into them before
   * their texts go (a reconcile after a power cut and a clock set since then still finds them).
   * False when the wait is no longer held (the node let it go meanwhile: nothing is sent).
   */
  private async withTwilioOffset(id: string, record: AskWait): Promise<boolean> {
    const intents = Object.values(record.recipients).flatMap((asked) => (asked.intent ? [asked.intent] : []));
    if (intents.every((intent) => intent.twilioOffsetMs !== undefined)) return true;
    // A close meanwhile ends the look: the wait stays stored, and its close lets it go or ends it.
    const going = (): boolean => !!this.waits.get(id) && !this.waits.closing;
    const offset = await twilioOffsetForIntent(this.options.account, this.waits.whenClosing);
    if (!going()) return false;
    if (offset === undefined) return true;
    for (const intent of intents) intent.twilioOffsetMs ??= offset;
    await this.waits.save(id).catch(() => undefined); // best effort: without it, the offset known at a reconcile is taken
    return going();
  }

  /** Not held after all (nothing went out, or the msg ended): the questions opened as they were sent close again. */
  private letGo(sending: Sending): void {
    for (const entry of sending.early.values()) entry.close();
    sending.early.clear();
  }

  /** Gives back the codes reserved for questions that were not opened. */
  private releaseCodes(sending: Sending): void {
    for (const [recipient, { person, code }] of sending.codes)
      if (!sending.early.has(recipient)) this.options.board.releaseCode(person, code);
  }

  /**
   * One recipient's question: its code reserved at once (two questions sent at the same moment never
   * share one), on every instance of the account (a claim in the shared engine).
   */
  private async withCode(plan: SendPlan<unknown>, recipient: string, sending: Sending): Promise<TextParams> {
    const { board } = this.options;
    const params = { ...(plan.paramsFor(recipient) as TextParams) };
    // Replies come from the address as sent (whatsapp:+1… when the sender is WhatsApp).
    const person = params.to;
    const reserved = board.codeFor(person);
    sending.codes.set(recipient, { person, code: reserved });
    const code = await board.claimCode(person, reserved, this.options.timeoutMs + CODE_CLAIM_MARGIN_MS);
    if (code !== reserved) {
      board.releaseCode(person, reserved);
      sending.codes.set(recipient, { person, code });
    }
    // Another question is open (or being sent) for this person: this one carries its code, which the reply quotes.
    if ((await board.openForNow(person)) > 1)
      params.body = `${params.body ?? ''} ${this.say('codeHint', { code, answer: this.firstWord() })}`.trim();
    return params;
  }

  /** Opens a held wait's questions on the board before their texts go (or while their fate is found out): replies wait until it is armed. */
  private openEarly(id: string, recipients: readonly string[], sending: Sending): void {
    const wait = this.waits.get(id)!.record;
    for (const recipient of recipients) {
      const asked = wait.recipients[recipient];
      const entry: Early = { replies: [], close: () => undefined, question: undefined as unknown as OpenQuestion };
      entry.question = {
        id: `${this.options.node.id} ${id} ${recipient}`,
        person: asked.person ?? recipient,
        ourNumber: asked.from,
        code: asked.code,
        summary: wait.question,
        askedAt: asked.askedAt,
        deadline: wait.deadline,
        onReply: (reply) => entry.replies.push(reply),
        clarify: this.clarify,
      };
      const close = this.options.board.open(entry.question);
      entry.close = () => {
        close();
        this.closers.delete(`${id} ${recipient}`);
      };
      this.closers.set(`${id} ${recipient}`, close);
      sending.early.set(recipient, entry);
    }
  }

  /** Not one question went out: the msg leaves "not delivered" at once, with why. */
  private notSentAtAll(id: string, recipient: string, delivery: Delivery<unknown>): void {
    const { recipients } = delivery;
    const msg = this.outgoing(id, recipient, 'not-delivered');
    const ask = msg.ask as Record<string, unknown>;
    ask.to = recipients.length === 1 ? recipients[0] : recipients;
    ask.error = delivery.firstFailure!.localise(this.options.translate).toJSON();
    msg.ask = { to: ask.to, outcome: 'not-delivered', error: ask.error };
    this.finish(id, this.outputs.notDelivered, msg);
  }

  /** Opens a wait's questions on the board (or takes over those opened as they were sent), its looks and its deadline. */
  private arm(id: string, early = new Map<string, Early>()): void {
    const wait = this.waits.get(id)!.record;
    for (const [recipient, asked] of Object.entries(wait.recipients)) {
      if (!asked.open) continue;
      const opened = early.get(recipient);
      if (opened) {
        // Opened when it was sent: from now on its replies are answers; those that came already, first.
        opened.question.onReply = (reply) => this.answered(id, recipient, reply);
        early.delete(recipient);
        for (const reply of opened.replies) this.answered(id, recipient, reply);
      } else this.closers.set(`${id} ${recipient}`, this.openQuestion(id, recipient, asked, wait.question));
      if (!this.waits.get(id)) {
        // An early answer ended it: the questions not yet taken over close too.
        early.forEach((entry) => entry.close());
        early.clear();
        return;
      }
      this.tracker.track('message', asked.sid, wait.deadline, (outcome) => {
        if (!outcome.reached && outcome.status !== 'unknown')
          this.notDelivered(id, recipient, { status: outcome.status, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
      });
    }
    const timer = this.clock.setTimeout(() => this.noReply(id, 'no-reply'), Math.max(wait.deadline - this.clock.now(), 0));
    this.timers.set(id, timer);
  }

  private openQuestion(id: string, recipient: string, asked: Asked, summary: string): () => void {
    return this.options.board.open({
      id: `${this.options.node.id} ${id} ${recipient}`,
      person: asked.person ?? recipient,
      ourNumber: asked.from,
      code: asked.code,
      summary,
      askedAt: asked.askedAt,
      deadline: this.waits.get(id)?.record.deadline,
      onReply: (reply) => this.answered(id, recipient, reply),
      clarify: this.clarify,
    });
  }

  /**
   * A reply to one recipient's question: to the output it matches, or anything else. `first`: a valid
   * answer wins (the others may be told). Anything else ends that person's question, or (`wait`)
   * leaves as a copy while the question stays open. False: the question had closed (not an answer:
   * the board passes the text on as news, never drops it).
   */
  private answered(id: string, recipient: string, reply: Reply): false | void {
    const wait = this.waits.get(id)?.record;
    // A question already closed takes no more answers (two replies that came while it was being sent: the first counts).
    if (!wait?.recipients[recipient]?.open) return false;
    const { answers } = this.options;
    const matched = this.matcher.match(reply.text);
    const label = matched >= 0 ? (answers[matched].label ?? answers[matched].value) : null;
    const full: FullReply = { ...reply, answer: label, matched: matched >= 0 ? matched : null };
    if (matched < 0 && this.options.anythingElse === 'wait') {
      this.waits.emit(id, this.outputs.else, this.outgoing(id, recipient, 'answered', full, true), false);
      return;
    }
    if (matched >= 0 && this.options.mode === 'first') {
      this.tellOthers(
        wait,
        stillOpen(wait).filter((r) => r !== recipient),
        full,
      );
      return this.finish(id, matched, this.outgoing(id, recipient, 'answered', full));
    }
    this.closeQuestion(id, recipient);
    const last = stillOpen(wait).length === 0;
    const port = matched >= 0 ? matched : this.outputs.else;
    const msg = this.outgoing(id, recipient, 'answered', full, !last || Object.keys(wait.recipients).length > 1);
    if (last) this.finish(id, port, msg);
    else this.waits.emit(id, port, msg, false);
  }

  /** `first`: the others are told someone answered (when the node says what to tell them). */
  private tellOthers(wait: AskWait, others: string[], reply: FullReply): void {
    const { tellOthers } = this.options;
    if (!tellOthers || others.length === 0) return;
    let body: string;
    try {
      body = renderTemplate(tellOthers, { ...wait.msg, reply });
    } catch (err) {
      // The answer still wins; only the others' text is lost, and the log says why.
      this.options.node.warn(toTwilioNodeError(err).localise(this.options.translate).message);
      return;
    }
    for (const other of others) this.sendAside(wait.recipients[other].person ?? other, wait.recipients[other].from, body);
  }

  /** A recipient's question could not be delivered. */
  private notDelivered(id: string, recipient: string, error: Record<string, unknown>): void {
    const wait = this.waits.get(id)?.record;
    if (!wait?.recipients[recipient]?.open) return;
    this.closeQuestion(id, recipient);
    const last = stillOpen(wait).length === 0;
    const several = Object.keys(wait.recipients).length > 1;
    // `first`: the msg leaves "not delivered" only when no one can answer any more.
    if (this.options.mode === 'first' && several && !last) return;
    const msg = this.outgoing(id, recipient, 'not-delivered', undefined, several && !last);
    (msg.ask as Record<string, unknown>).error = error;
    if (last) this.finish(id, this.outputs.notDelivered, msg);
    else this.waits.emit(id, this.outputs.notDelivered, msg, false);
  }

  /** The deadline, or a cancel: "no reply" once (`first`) or for each recipient still open (`each`). */
  private noReply(id: string, outcome: 'no-reply' | 'cancelled'): void {
    const wait = this.waits.get(id)?.record;
    if (!wait) return;
    const open = stillOpen(wait);
    if (this.options.mode === 'first' || open.length <= 1)
      return this.finish(id, this.outputs.noReply, this.outgoing(id, open[0] ?? Object.keys(wait.recipients)[0], outcome));
    open.forEach((recipient, i) => {
      const last = i === open.length - 1;
      const msg = this.outgoing(id, recipient, outcome, undefined, !last);
      if (last) this.finish(id, this.outputs.noReply, msg);
      else {
        this.closeQuestion(id, recipient);
        this.waits.emit(id, this.outputs.noReply, msg, false);
      }
    });
  }

  /** The msg for an outcome: the one that came in (a copy when more may follow), with msg.reply and msg.ask. */
  private outgoing(id: string, recipient: string, outcome: Outcome, reply?: FullReply, copy = false): Msg & Record<string, unknown> {
    const wait = this.waits.get(id)!.record;
    const base = this.waits.message(id)!;
    const msg = (copy ? this.options.clone(base) : base) as Msg & Record<string, unknown>;
    const asked = wait.recipients[recipient];
    msg.reply = reply ?? null;
    msg.ask = { to: recipient, from: asked.from, sid: asked.sid, code: asked.code, askedAt: wait.askedAt, outcome };
    return msg;
  }

  /** One recipient's question closes; the store learns it while others stay open (a restart must not reopen it). */
  private closeQuestion(id: string, recipient: string): void {
    const wait = this.waits.get(id)?.record;
    if (!wait?.recipients[recipient]) return;
    this.close(id, recipient, wait);
    if (stillOpen(wait).length > 0) void this.waits.save(id).catch(() => undefined);
  }

  private close(id: string, recipient: string, wait: AskWait): void {
    wait.recipients[recipient].open = false;
    // Its delivery no longer matters: a text stuck at "sent" would otherwise be looked at until the deadline.
    if (wait.recipients[recipient].sid) this.tracker.untrack(wait.recipients[recipient].sid);
    this.closers.get(`${id} ${recipient}`)?.();
    this.closers.delete(`${id} ${recipient}`);
  }

  /** The wait's last msg: every question closes, its timer stops, and the room ends it. */
  private finish(id: string, port: number, msg: Msg): void {
    const wait = this.waits.get(id)?.record;
    if (!wait) return;
    for (const recipient of Object.keys(wait.recipients)) this.close(id, recipient, wait);
    this.clock.clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.waits.emit(id, port, msg, true);
    this.options.changed?.(true);
  }

  /** Sends the clarifying message when a person's reply quotes none of their open questions' codes. */
  private readonly clarify = (person: string, from: string, open: ReadonlyArray<{ code: string; summary: string }>): void =>
    this.sendAside(person, from, clarifyingMessage(this.say, open));

  /** A text besides the questions (clarifying, "someone answered"): a failure is a warning, not the msg's. */
  private sendAside(to: string, from: string | undefined, body: string): void {
    const { account, node } = this.options;
    sendText(account, node, { to, from, body }).catch((err: unknown) =>
      node.warn(toTwilioNodeError(err, account.redact).localise(this.options.translate).message),
    );
  }

  /** The code hint's example answer: the first word of the first answer, when it is words. */
  private firstWord(): string {
    const first = this.options.answers[0];
    return first?.type === 'words' ? first.value.split(',')[0].trim().toUpperCase() : '';
  }
}

/** A question's intent's name in the Sid claims (reconcile.ts): its wait (a random id) and recipient. */
const askRef = (waitId: string, recipient: string): string => `ask/${waitId}/${recipient}`;
