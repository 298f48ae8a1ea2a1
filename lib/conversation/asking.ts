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
import { toTwilioNodeError } from '../core/errors';
import type { Translate } from '../core/texts';
import type { InboundHub } from '../inbound/hub';
import { OutcomeTracker, fetchOutcome } from '../inbound/outcomes';
import { Delivery, deliverToRecipients } from '../outbound/delivery';
import type { AcceptedMessage } from '../outbound/intake';
import { TextParams, TwilioRecord, sendText } from '../outbound/messages';
import { parseRecipients } from '../twilio/addresses';
import { MessageFields, SendPlan, TemplateFields, planMessage } from '../twilio/send-plans';
import { renderTemplate } from '../twilio/templates';
import { AnswerMatcher, ExpectedAnswer } from './answers';
import { AskWait, Asked, RecentCancels, cancels, openSummary, stillOpen } from './ask-waits';
import { OpenQuestion, QuestionBoard, Reply, Say, clarifyingMessage, peopleTexts } from './questions';

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
  get(id: string): { id: string; record: AskWait } | undefined;
  values(): Iterable<{ id: string; record: AskWait }>;
  message(id: string): Msg | undefined;
  emit(id: string, port: number, msg: Msg, last?: boolean): void;
  save(id: string): Promise<void>;
}

/** An answer the node expects: a rule, and the label msg.reply.answer carries (the rule's value without one). */
export type LabelledAnswer = ExpectedAnswer & { label?: string };

export interface AskingOptions {
  /** The node: its id names its questions on the board, its requests are its own (a close withdraws them). */
  node: { id: string; warn(message: string): void };
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

  /** Asks a msg's question and holds its wait (or sends it on "not delivered" when no question went out). */
  async ask(msg: Msg, accepted: AcceptedMessage<Msg>): Promise<void> {
    const cancelMark = this.cancelled.mark();
    // The copy its wait keeps, made before the question goes out: a msg that cannot wait is not sent.
    const admission = this.waits.admit(msg);
    let sent: Awaited<ReturnType<Asking['send']>>;
    try {
      sent = await this.send(msg);
    } catch (err) {
      this.waits.withdraw(admission);
      throw err;
    }
    const { delivery, sending } = sent;
    if (delivery.results.size === 0) {
      this.waits.withdraw(admission);
      this.letGo(sending);
      return this.notSentAtAll(msg, accepted, delivery);
    }
    const record = this.recordOf(delivery, sending, admission.copy);
    // Stored before it is armed (the room has the admitted room from here). Undefined: the msg ended
    // meanwhile (never resumed), or the node is closing (the store keeps it for the next start).
    let id: string | undefined;
    try {
      id = await this.waits.hold(admission, record, accepted, msg);
    } catch (err) {
      // Not stored, so not held: its questions close again (none stays open, keeping its code), and the msg ends with the store's error.
      this.letGo(sending);
      throw err;
    }
    // Ended while it was being stored (a cancel of all): nothing to arm.
    if (id === undefined || !this.waits.get(id)) return this.letGo(sending);
    this.arm(id, sending.early);
    if (!this.waits.get(id)) return; // an answer that came while the others were sent ended it
    // A cancel that came while the question was being sent applies now.
    if (this.cancelled.since(cancelMark, Object.keys(record.recipients))) return this.noReply(id, 'cancelled');
    // Several recipients, some refused: each is "not delivered" as the outputs say (`first`: only if no one else can answer).
    for (const [recipient, err] of delivery.failures) {
      record.recipients[recipient] = { sid: '', code: sending.codes.get(recipient)?.code ?? '', open: true };
      this.notDelivered(id, recipient, err.localise(this.options.translate).toJSON());
    }
    this.options.changed?.(false);
  }

  /**
   * Waits a previous run left: re-armed with the time they have left; their msgs leave as fresh ones.
   * A cancel this node took while it was restoring them (before they were here to end) ends them now.
   */
  resume(restored: Iterable<{ id: string }>): void {
    for (const { id } of restored) {
      const wait = this.waits.get(id);
      if (!wait) continue;
      if (this.cancelled.since(0, Object.keys(wait.record.recipients))) this.noReply(id, 'cancelled');
      else this.arm(id);
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
    this.tracker.stop();
    for (const timer of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
    for (const close of this.closers.values()) close();
    this.closers.clear();
  }

  /** The msg's question, planned from its fields and sent to each recipient. */
  private async send(msg: Msg): Promise<{ delivery: Delivery<TwilioRecord>; sending: Sending }> {
    const plan = planMessage(await this.options.readFields(msg), msg, this.options.account.defaultFrom, this.options.templates);
    return this.sendQuestions(plan);
  }

  /** Not held after all (nothing went out, or the msg ended): the questions opened as they were sent close again. */
  private letGo(sending: Sending): void {
    for (const entry of sending.early.values()) entry.close();
  }

  /** Sends the question to each recipient, each with a code reserved on the board (given back if its question was not sent). */
  private async sendQuestions(plan: SendPlan<unknown>): Promise<{ delivery: Delivery<TwilioRecord>; sending: Sending }> {
    const { account, board } = this.options;
    const question = String((plan.paramsFor(plan.recipients[0]) as TextParams).body ?? '');
    const sending: Sending = { summary: summarise(question), codes: new Map(), early: new Map() };
    const withCodes = { recipients: plan.recipients, paramsFor: (recipient: string) => this.withCode(plan, recipient, sending) };
    try {
      const delivery = await deliverToRecipients(withCodes, (params) => this.sendOne(params, sending), account.redact);
      return { delivery, sending };
    } finally {
      for (const [recipient, { person, code }] of sending.codes) if (!sending.early.has(recipient)) board.releaseCode(person, code);
    }
  }

  /** One recipient's question: its code reserved at once (two questions sent at the same moment never share one). */
  private withCode(plan: SendPlan<unknown>, recipient: string, sending: Sending): TextParams {
    const { board } = this.options;
    const params = plan.paramsFor(recipient) as TextParams;
    // Replies come from the address as sent (whatsapp:+1… when the sender is WhatsApp).
    const person = params.to;
    const code = board.codeFor(person);
    sending.codes.set(recipient, { person, code });
    // Another question is open (or being sent) for this person: this one carries its code, which the reply quotes.
    if (board.openFor(person) > 1) params.body = `${params.body ?? ''} ${this.say('codeHint', { code, answer: this.firstWord() })}`.trim();
    return params;
  }

  /** Sends one question, and opens it on the board at once: an answer may come before the others are sent. */
  private async sendOne(params: TextParams, sending: Sending): Promise<TwilioRecord> {
    const { account, board, node } = this.options;
    const created = await sendText(account, node, params);
    const recipient = [...sending.codes].find(([, c]) => c.person === params.to)?.[0] ?? params.to;
    const { person, code } = sending.codes.get(recipient)!;
    const entry: Early = { replies: [], close: () => undefined, question: undefined as unknown as OpenQuestion };
    entry.question = {
      id: `${node.id} ${created.sid}`,
      person,
      ourNumber: (created.from as string) || undefined,
      code,
      summary: sending.summary,
      askedAt: Date.parse(String(created.dateCreated)) || undefined,
      onReply: (reply) => entry.replies.push(reply),
      clarify: this.clarify,
    };
    entry.close = board.open(entry.question);
    sending.early.set(recipient, entry);
    return created;
  }

  /** Not one question went out: the msg leaves "not delivered" at once, with why. */
  private notSentAtAll(msg: Msg, accepted: AcceptedMessage<Msg>, delivery: Delivery<unknown>): void {
    const { recipients } = delivery;
    const out = msg as Msg & Record<string, unknown>;
    out.reply = null;
    out.ask = {
      to: recipients.length === 1 ? recipients[0] : recipients,
      outcome: 'not-delivered',
      error: delivery.firstFailure!.localise(this.options.translate).toJSON(),
    };
    const ports: Array<Msg | null> = Array.from({ length: this.outputs.count }, () => null);
    ports[this.outputs.notDelivered] = out;
    accepted.send(ports as unknown as Msg);
    accepted.done();
  }

  private recordOf(delivery: Delivery<TwilioRecord>, sending: Sending, copy: Record<string, unknown>): AskWait {
    const recipients: Record<string, Asked> = {};
    for (const [recipient, created] of delivery.results)
      recipients[recipient] = {
        sid: String(created.sid),
        code: sending.codes.get(recipient)!.code,
        person: sending.codes.get(recipient)!.person,
        from: (created.from as string) || undefined,
        askedAt: sending.early.get(recipient)?.question.askedAt,
        open: true,
      };
    const now = this.clock.now();
    return {
      deadline: now + this.options.timeoutMs,
      askedAt: new Date(now).toISOString(),
      msg: copy,
      question: sending.summary,
      recipients,
    };
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
        this.closers.set(`${id} ${recipient}`, opened.close);
        for (const reply of opened.replies) this.answered(id, recipient, reply);
      } else this.closers.set(`${id} ${recipient}`, this.openQuestion(id, recipient, asked, wait.question));
      if (!this.waits.get(id)) {
        // An early answer ended it: the questions not yet taken over close too.
        early.forEach((entry) => entry.close());
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
      onReply: (reply) => this.answered(id, recipient, reply),
      clarify: this.clarify,
    });
  }

  /**
   * A reply to one recipient's question: to the output it matches, or anything else. `first`: a valid
   * answer wins (the others may be told). Anything else ends that person's question, or (`wait`)
   * leaves as a copy while the question stays open.
   */
  private answered(id: string, recipient: string, reply: Reply): void {
    const wait = this.waits.get(id)?.record;
    // A question already closed takes no more answers (two replies that came while it was being sent: the first counts).
    if (!wait?.recipients[recipient]?.open) return;
    const { answers } = this.options;
    const matched = this.matcher.match(reply.text);
    const label = matched >= 0 ? (answers[matched].label ?? answers[matched].value) : null;
    const full: FullReply = { ...reply, answer: label, matched: matched >= 0 ? matched : null };
    if (matched < 0 && this.options.anythingElse === 'wait')
      return this.waits.emit(id, this.outputs.else, this.outgoing(id, recipient, 'answered', full, true), false);
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
