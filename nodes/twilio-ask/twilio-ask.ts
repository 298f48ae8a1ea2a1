/**
 * twilio-ask: sends a question (SMS or WhatsApp) and routes the answer. One output per expected
 * answer, then "anything else", "no reply" (after the timeout) and "not delivered". The msg that
 * leaves is the one that came in, with msg.reply. Waits live in the node's context, so a redeploy
 * or a restart keeps them; the answers come in through the account's twilio-in (webhook or poll).
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { TwilioNodeError, toTwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { TwilioAccount, findAccount } from '../../lib/account/account';
import { AcceptedMessage, MessageIntake } from '../../lib/outbound/intake';
import { deliverToRecipients } from '../../lib/outbound/delivery';
import { inboundHubFor } from '../../lib/inbound/hub';
import { OutcomeTracker } from '../../lib/inbound/outcomes';
import { AnswerMatcher, ExpectedAnswer, answerProblem } from '../../lib/conversation/answers';
import { OpenQuestion, Reply, clarifyingMessage, peopleTexts, questionBoardFor } from '../../lib/conversation/questions';
import { HeldMessages, MAX_HELD_BYTES, storableCopy } from '../../lib/node-red/held-messages';
import { forgetNodeState, nodeStateStore } from '../../lib/node-red/context';
import { nodeStatus } from '../../lib/node-red/status';
import { isOwnText, typedFieldsReader } from '../../lib/node-red/typed-fields';
import { requestOwner } from '../../lib/transport/request-queue';
import { planMessage } from '../../lib/twilio/send-plans';
import { parseRecipients } from '../../lib/twilio/addresses';
import { renderTemplate } from '../../lib/twilio/templates';
import { LIMITS, seconds } from '../../lib/twilio/values';

export interface TwilioAskDef extends NodeDef {
  account: string;
  answers?: Array<ExpectedAnswer & { label?: string }>;
  /** Seconds to wait for a reply. */
  timeout?: number | string;
  /** Several recipients: the first valid answer wins (`first`), or every answer goes out (`each`). */
  mode?: 'first' | 'each';
  /** `first`: what the others are told once someone answered (the node's own text, a template). */
  tellOthers?: string;
  /** A msg with this topic (or msg.cancel) ends the waits for its recipients. */
  cancelTopic?: string;
  contextStore?: string;
  [field: string]: unknown;
}

/** One recipient's part of a wait. */
interface Asked {
  sid: string;
  code: string;
  /** The address as Twilio wrote it (whatsapp:+1… for WhatsApp): a reply comes from it. */
  person?: string;
  /** The number the question went from (undefined: a Messaging Service picked it). */
  from?: string;
  /** When Twilio took the question (its clock). */
  askedAt?: number;
  open: boolean;
}

/** A question opened on the board as soon as it was sent: replies wait here until its wait is held. */
interface Early {
  question: OpenQuestion;
  close: () => void;
  replies: Reply[];
}

/** A held msg's wait, as the context store keeps it. */
interface AskWait {
  deadline: number;
  askedAt: string;
  msg: Record<string, unknown>;
  question: string;
  recipients: Record<string, Asked>;
}

const isAskWait = (value: unknown): value is AskWait =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AskWait).deadline === 'number' &&
  typeof (value as AskWait).recipients === 'object' &&
  typeof (value as AskWait).msg === 'object';

const MAX_WAITS = 10_000;
const SUMMARY_LENGTH = 40;

module.exports = function registerTwilioAsk(RED: NodeAPI): void {
  function TwilioAsk(this: Node, def: TwilioAskDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-ask', def);
    const node = this;
    const status = nodeStatus(RED, node);
    /** What the node texts to people, in Node-RED's language (English where it has no translation). */
    const say = peopleTexts(status.translate);
    const account = findAccount(RED, def.account);
    const answers = (def.answers ?? []).filter((a) => answerProblem(a) === undefined);
    const matcher = new AnswerMatcher(answers);
    const OUT = { else: answers.length, noReply: answers.length + 1, notDelivered: answers.length + 2 };
    const timeoutMs = Math.min(seconds(def.timeout, 3600), LIMITS.askWaitSeconds.max) * 1000;
    const mode = def.mode === 'first' ? 'first' : 'each';
    const readFields = typedFieldsReader(RED, node, def, ['to', 'from', 'body']);
    const templates = { body: isOwnText(def, 'body') };
    if (!account) status.failed('twilio.status.failed', { code: 'MISSING_INPUT' });
    if ((def.answers ?? []).length !== answers.length) status.warning('twilio-ask.status.badAnswer');

    const intake = new MessageIntake<NodeMessageInFlow>({
      ready: () => !account || account.queue.wantsMore(0),
      notSent: () => new TwilioNodeError('NOT_SENT', text('nodeStopped')),
      abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', text('stoppedWaiting')),
    });
    // A burst waits as msgs until the account's queue has room; the queue says when it has.
    const stopWaking = account ? account.queue.onChange(() => intake.wake()) : () => undefined;
    const waits = new HeldMessages<AskWait, NodeMessageInFlow>(
      nodeStateStore(RED, node, def.contextStore || undefined),
      'twilio-ask-',
      MAX_WAITS,
    );
    const timers = new Map<string, NodeJS.Timeout>();
    const closers = new Map<string, () => void>();
    const hub = account ? inboundHubFor(account) : undefined;
    const board = account && hub ? questionBoardFor(account, hub) : undefined;
    const clarifyHere = (person: string, from: string, open: ReadonlyArray<{ code: string; summary: string }>) =>
      account && clarify(account, person, from, open);
    const tracker = hub && account ? new OutcomeTracker({ hub, fetchStatus: (_kind, sid) => fetchMessage(account, sid) }) : undefined;

    /** The message status, by asking Twilio: a question that could not be delivered goes to "not delivered". */
    function fetchMessage(account: TwilioAccount, sid: string) {
      return requestOwner.run(node, async () => {
        const m = await account.getClient().messages(sid).fetch();
        return { status: m.status, errorCode: m.errorCode, errorMessage: m.errorMessage };
      });
    }

    /** A message this node sends besides its questions: the clarifying one, and "someone answered". */
    function sendText(account: TwilioAccount, to: string, from: string | undefined, body: string): void {
      void requestOwner
        .run(node, () => account.getClient().messages.create({ to, ...(from ? { from } : { from: account.defaultFrom }), body }))
        .catch((err: unknown) => node.warn(toTwilioNodeError(err, account.redact).localise(status.translate).message));
    }

    function clarify(account: TwilioAccount, person: string, from: string, open: ReadonlyArray<{ code: string; summary: string }>): void {
      sendText(account, person, from, clarifyingMessage(say, open));
    }

    let lastShown = 0;
    function showOpen(force = false): void {
      const now = Date.now();
      if (!force && now - lastShown < 250) return;
      lastShown = now;
      let open = 0;
      let nearest = Infinity;
      for (const wait of waits.values())
        for (const asked of Object.values(wait.record.recipients))
          if (asked.open) {
            open++;
            nearest = Math.min(nearest, wait.record.deadline);
          }
      if (open === 0) return status.success('twilio-ask.status.idle');
      status.working('twilio-ask.status.open', { count: open, time: new Date(nearest).toLocaleTimeString() });
    }

    /** Sends one msg on one output (the others null), as the core switch node does. */
    function emit(id: string, output: number, msg: NodeMessageInFlow, last: boolean): void {
      const ports: Array<NodeMessageInFlow | null> = Array.from({ length: OUT.notDelivered + 1 }, () => null);
      ports[output] = msg;
      const held = waits.get(id);
      if (held?.handle) held.handle.send(ports as unknown as NodeMessageInFlow);
      else node.send(ports as unknown as NodeMessageInFlow);
      if (last) end(id);
    }

    /** The msg for an outcome: the one that came in (a copy when more may follow), with msg.reply and msg.ask. */
    function outgoing(
      id: string,
      person: string,
      outcome: string,
      reply?: Reply & { answer: string | null; matched: number | null },
      copy = false,
    ) {
      const held = waits.get(id)!;
      const base = (held.msg ?? held.record.msg) as NodeMessageInFlow;
      const msg = (copy ? RED.util.cloneMessage(base) : base) as NodeMessageInFlow & Record<string, unknown>;
      const asked = held.record.recipients[person];
      msg.reply = reply ?? null;
      msg.ask = { to: person, from: asked.from, sid: asked.sid, code: asked.code, askedAt: held.record.askedAt, outcome };
      return msg;
    }

    function closeQuestion(id: string, person: string): void {
      const wait = waits.get(id)?.record;
      if (!wait?.recipients[person]) return;
      wait.recipients[person].open = false;
      closers.get(`${id} ${person}`)?.();
      closers.delete(`${id} ${person}`);
      if (stillOpen(id)) void waits.update(id).catch(() => undefined); // a restart must not reopen it
    }

    const stillOpen = (id: string) => Object.values(waits.get(id)?.record.recipients ?? {}).some((a) => a.open);

    function end(id: string): void {
      for (const person of Object.keys(waits.get(id)?.record.recipients ?? {})) closeQuestion(id, person);
      clearTimeout(timers.get(id));
      timers.delete(id);
      const held = waits.release(id);
      held?.handle?.done();
      showOpen(true);
    }

    function answered(id: string, person: string, reply: Reply): void {
      const held = waits.get(id);
      if (!held) return;
      const matched = matcher.match(reply.text);
      const label = matched >= 0 ? (answers[matched].label ?? answers[matched].value) : null;
      const full = { ...reply, answer: label, matched: matched >= 0 ? matched : null };
      const recipients = Object.keys(held.record.recipients);
      if (mode === 'first' && recipients.length > 1) {
        // The first valid answer wins: others may be told; a reply that matches nothing goes out alone.
        if (matched < 0) return emit(id, OUT.else, outgoing(id, person, 'answered', full, true), false);
        const others = recipients.filter((r) => r !== person && held.record.recipients[r].open);
        for (const other of others) closeQuestion(id, other);
        closeQuestion(id, person);
        if (def.tellOthers && account)
          for (const other of others) {
            let body: string;
            try {
              body = renderTemplate(def.tellOthers, { ...held.record.msg, reply: full });
            } catch (err) {
              // The answer still wins; only the others' text is lost, and the log says why.
              node.warn(toTwilioNodeError(err).localise(status.translate).message);
              break;
            }
            sendText(account, held.record.recipients[other].person ?? other, held.record.recipients[other].from, body);
          }
        return emit(id, matched, outgoing(id, person, 'answered', full), true);
      }
      closeQuestion(id, person);
      const last = !stillOpen(id);
      emit(id, matched >= 0 ? matched : OUT.else, outgoing(id, person, 'answered', full, !last || recipients.length > 1), last);
    }

    function notDelivered(id: string, person: string, error: Record<string, unknown>): void {
      const held = waits.get(id);
      if (!held?.record.recipients[person]?.open) return;
      closeQuestion(id, person);
      const last = !stillOpen(id);
      const several = Object.keys(held.record.recipients).length > 1;
      // `first`: the msg leaves "not delivered" only when no one can answer any more.
      if (mode === 'first' && several && !last) return;
      const msg = outgoing(id, person, 'not-delivered', undefined, several && !last);
      (msg.ask as Record<string, unknown>).error = error;
      emit(id, OUT.notDelivered, msg, last);
    }

    function timedOut(id: string, outcome: 'no-reply' | 'cancelled'): void {
      const held = waits.get(id);
      if (!held) return;
      const open = Object.keys(held.record.recipients).filter((r) => held.record.recipients[r].open);
      if (mode === 'first' || open.length <= 1) {
        for (const person of open) closeQuestion(id, person);
        return emit(id, OUT.noReply, outgoing(id, open[0] ?? Object.keys(held.record.recipients)[0], outcome), true);
      }
      open.forEach((person, i) => {
        closeQuestion(id, person);
        emit(id, OUT.noReply, outgoing(id, person, outcome, undefined, i < open.length - 1), i === open.length - 1);
      });
    }

    /** Opens the wait's questions on the account's board, with its deadline (the time it has left). */
    function arm(id: string, early = new Map<string, Early>()): void {
      const wait = waits.get(id)!.record;
      for (const [person, asked] of Object.entries(wait.recipients)) {
        if (!asked.open) continue;
        const opened = early.get(person);
        if (opened) {
          // Opened when it was sent: from now on its replies are answers; those that came already, first.
          opened.question.onReply = (reply) => answered(id, person, reply);
          closers.set(`${id} ${person}`, opened.close);
          for (const reply of opened.replies) answered(id, person, reply);
        } else
          closers.set(
            `${id} ${person}`,
            board!.open({
              id: `${node.id} ${id} ${person}`,
              person: asked.person ?? person,
              ourNumber: asked.from,
              code: asked.code,
              summary: wait.question,
              askedAt: asked.askedAt,
              onReply: (reply) => answered(id, person, reply),
              clarify: clarifyHere,
            }),
          );
        if (!waits.get(id)) return; // an early answer ended it
        tracker!.track('message', asked.sid, wait.deadline, (outcome) => {
          if (!outcome.reached && outcome.status !== 'unknown')
            notDelivered(id, person, { status: outcome.status, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
        });
      }
      timers.set(
        id,
        setTimeout(() => timedOut(id, 'no-reply'), Math.max(wait.deadline - Date.now(), 0)),
      );
    }

    async function ask(msg: NodeMessageInFlow, accepted: AcceptedMessage<NodeMessageInFlow>): Promise<void> {
      if (!account || !board) throw new TwilioNodeError('MISSING_INPUT', text('noAccount'));
      // The copy its wait keeps, made before the question goes out: a msg that cannot wait is not sent.
      const kept = storableCopy(msg);
      if (!waits.reserve(kept.bytes))
        throw new TwilioNodeError('NOT_SENT', text('waitsFull', { count: waits.size, megabytes: MAX_HELD_BYTES / 2 ** 20 }));
      let held = false;
      try {
        held = await askAndHold(msg, accepted, kept);
      } finally {
        if (!held) waits.unreserve(kept.bytes);
      }
    }

    /** Sends the question; true when its wait is held (the reserved room is then the wait's). */
    async function askAndHold(
      msg: NodeMessageInFlow,
      accepted: AcceptedMessage<NodeMessageInFlow>,
      kept: { copy: Record<string, unknown>; bytes: number },
    ): Promise<boolean> {
      if (!account || !board) throw new TwilioNodeError('MISSING_INPUT', text('noAccount'));
      const acceptedAt = Date.now();
      const fields = await readFields(msg);
      const plan = planMessage(fields, msg, account.defaultFrom, templates);
      const question = String((plan.paramsFor(plan.recipients[0]) as { body?: string }).body ?? '');
      const summary = question.length > SUMMARY_LENGTH ? `${question.slice(0, SUMMARY_LENGTH - 1)}…` : question;
      const codes = new Map<string, { person: string; code: string }>();
      const early = new Map<string, Early>();
      const sendPlan = {
        recipients: plan.recipients,
        paramsFor: (recipient: string) => {
          const params = plan.paramsFor(recipient) as { body?: string; to: string };
          // Replies come from the address as sent (whatsapp:+1… when the sender is WhatsApp). Its code
          // is reserved at once: two questions sent at the same moment never share one.
          const person = params.to;
          const code = board.codeFor(person);
          codes.set(recipient, { person, code });
          // Another question is open (or being sent) for this person: this one carries its code, which the reply quotes.
          if (board.openFor(person) > 1) params.body = `${params.body ?? ''} ${say('codeHint', { code, answer: firstWord() })}`.trim();
          return params;
        },
      };
      /** Sends one question, and opens it on the board at once: an answer may come before the others are sent. */
      const create = async (params: { to: string }) => {
        const created = (await account.getClient().messages.create(params as never)).toJSON() as unknown as Record<string, unknown>;
        const recipient = [...codes].find(([, c]) => c.person === params.to)?.[0] ?? params.to;
        const { person, code } = codes.get(recipient)!;
        const entry: Early = { replies: [], close: () => undefined, question: undefined as unknown as OpenQuestion };
        entry.question = {
          id: `${node.id} ${created.sid as string}`,
          person,
          ourNumber: (created.from as string) || undefined,
          code,
          summary,
          askedAt: Date.parse(String(created.dateCreated)) || undefined,
          onReply: (reply) => entry.replies.push(reply),
          clarify: clarifyHere,
        };
        entry.close = board.open(entry.question);
        early.set(recipient, entry);
        return created;
      };
      let delivery;
      try {
        delivery = await deliverToRecipients(sendPlan, create, account.redact);
      } finally {
        for (const [recipient, { person, code }] of codes) if (!early.has(recipient)) board.releaseCode(person, code);
      }
      // Not held after all (nothing went out, or the msg ended): what opened closes again.
      const letGoEarly = () => {
        for (const entry of early.values()) entry.close();
      };
      if (delivery.results.size === 0) {
        // Not one question went out: the msg leaves "not delivered" at once, with why.
        const msgOut = msg as NodeMessageInFlow & Record<string, unknown>;
        msgOut.reply = null;
        msgOut.ask = {
          to: plan.recipients.length === 1 ? plan.recipients[0] : plan.recipients,
          outcome: 'not-delivered',
          error: delivery.firstFailure!.localise(status.translate).toJSON(),
        };
        const ports: Array<NodeMessageInFlow | null> = Array.from({ length: OUT.notDelivered + 1 }, () => null);
        ports[OUT.notDelivered] = msgOut;
        accepted.send(ports as unknown as NodeMessageInFlow);
        accepted.done();
        letGoEarly();
        return false;
      }
      const id = RED.util.generateId();
      const recipients: Record<string, Asked> = {};
      for (const [recipient, created] of delivery.results)
        recipients[recipient] = {
          sid: String(created.sid),
          code: codes.get(recipient)!.code,
          person: codes.get(recipient)!.person,
          from: (created.from as string) || undefined,
          askedAt: early.get(recipient)?.question.askedAt,
          open: true,
        };
      const wait: AskWait = {
        deadline: Date.now() + timeoutMs,
        askedAt: new Date().toISOString(),
        msg: kept.copy,
        question: summary,
        recipients,
      };
      if (accepted.ended) {
        letGoEarly(); // a close that could not wait ended it: never resumed
        return false;
      }
      await waits.hold(
        id,
        wait,
        kept.bytes,
        { send: accepted.send, done: (err) => accepted.done(err as TwilioNodeError | undefined) },
        msg,
      );
      if (intake.closing) {
        letGoEarly();
        accepted.done(); // the store keeps it: the next start resumes it
        return true;
      }
      arm(id, early);
      if (!waits.get(id)) return true; // an answer that came while the others were sent ended it
      // A cancel that came while the question was being sent applies now.
      if (cancelledSince(acceptedAt, Object.keys(recipients))) return (timedOut(id, 'cancelled'), true);
      // Several recipients, some refused: each is "not delivered" as the outputs say (`first`: only if no one else can answer).
      for (const [recipient, err] of delivery.failures) {
        recipients[recipient] = { sid: '', code: codes.get(recipient)?.code ?? '', open: true };
        notDelivered(id, recipient, err.localise(status.translate).toJSON());
      }
      showOpen();
      return true;
    }

    const firstWord = () => (answers[0]?.type === 'words' ? answers[0].value.split(',')[0].trim().toUpperCase() : '');

    /** msg.cancel, or the cancel topic: ends this node's waits for the msg's recipients (all, if it names none). */
    /** Cancels of the last minute, for questions still being sent when they came. */
    const recentCancels: Array<{ at: number; only?: Set<string> }> = [];
    const cancelledSince = (since: number, recipients: string[]) =>
      recentCancels.some((c) => c.at >= since && (!c.only || recipients.some((r) => c.only!.has(r))));

    async function cancel(msg: NodeMessageInFlow): Promise<void> {
      let only: Set<string> | undefined;
      const fields = await readFields(msg);
      // A To that is no recipient cancels nothing (it is an error), never everything.
      if (fields.to !== undefined && fields.to !== '') only = new Set(parseRecipients(fields.to, 'message'));
      const now = Date.now();
      recentCancels.push({ at: now, only });
      while (recentCancels.length > 0 && (recentCancels[0].at < now - 60_000 || recentCancels.length > 1000)) recentCancels.shift();
      for (const held of [...waits.values()]) {
        const recipients = Object.keys(held.record.recipients);
        if (!only || recipients.some((r) => only!.has(r))) timedOut(held.id, 'cancelled');
      }
    }

    node.on('input', (msg, send, done) => {
      const m = msg as NodeMessageInFlow & { cancel?: unknown; topic?: unknown };
      if (m.cancel === true || (def.cancelTopic && m.topic === def.cancelTopic)) {
        cancel(msg).then(
          () => done(),
          (err: unknown) => done(toTwilioNodeError(err, account?.redact).localise(status.translate)),
        );
        return;
      }
      intake.accept(
        send,
        (error) => done(error?.localise(status.translate)),
        (accepted) => {
          requestOwner
            .run(node, () => ask(msg, accepted))
            .catch((err: unknown) => {
              const error = toTwilioNodeError(err, account?.redact).localise(status.translate);
              status.failedWith(error);
              accepted.done(error);
            });
        },
      );
    });

    // Waits a previous run left: re-armed with the time they have left; their msgs leave as fresh ones.
    if (board)
      void waits.restore(isAskWait).then(
        (restored) => {
          for (const held of restored) arm(held.id);
          showOpen(true);
        },
        (err: Error) => node.warn(err.message),
      );
    if (hub && hub.sources === 0) setTimeout(() => hub.sources === 0 && status.warning('twilio-ask.status.noInbound'), 1000).unref();

    node.on('close', (removed: boolean, done: () => void) => {
      tracker?.stop();
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      for (const close of closers.values()) close();
      closers.clear();
      if (removed) {
        // Removing the node ends every wait it holds.
        for (const held of [...waits.values()]) waits.release(held.id)?.handle?.done();
        forgetNodeState(node);
      } else for (const held of waits.letGo()) held.handle?.done();
      account?.queue.withdraw(node);
      void intake.close().then(() => {
        stopWaking();
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType('twilio-ask', TwilioAsk);
};
