/**
 * twilio-page: alerts people in turn until someone acknowledges ("Smoke detected. Press 1 to
 * acknowledge."). Contacts in order, for a number of rounds, each through a ladder of steps (text,
 * then call, with a wait after each); a key pressed in the call or a reply to the text acknowledges.
 * Outputs: acknowledged, exhausted (every step's outcome), cancelled. A running page lives in the
 * node's context, so a redeploy or a restart keeps it.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { TwilioNodeError, toTwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { findAccount } from '../../lib/account/account';
import { inboundHubFor } from '../../lib/inbound/hub';
import { Outcome, OutcomeTracker } from '../../lib/inbound/outcomes';
import { AnswerMatcher } from '../../lib/conversation/answers';
import { clarifyingMessage, peopleTexts, questionBoardFor } from '../../lib/conversation/questions';
import { HeldMessages, MAX_HELD_BYTES, storableCopy } from '../../lib/node-red/held-messages';
import { forgetNodeState, nodeStateStore } from '../../lib/node-red/context';
import { nodeStatus } from '../../lib/node-red/status';
import { typedFieldsReader } from '../../lib/node-red/typed-fields';
import { requestOwner } from '../../lib/transport/request-queue';
import { normaliseRecipient } from '../../lib/twilio/addresses';
import { renderTemplate } from '../../lib/twilio/templates';
import { pageCallTwiml } from '../../lib/twilio/twiml';
import { seconds } from '../../lib/twilio/values';

type StepAction = 'text' | 'call';

export interface TwilioPageDef extends NodeDef {
  account: string;
  /** Each contact's ladder: what to do, and how long to wait for an acknowledgement after it. */
  steps?: Array<{ action: StepAction; wait: number | string }>;
  rounds?: number | string;
  /** The alert, texted and said: the node's own text, a template. */
  alert?: string;
  voice?: string;
  language?: string;
  ackKey?: string;
  ackWords?: string;
  /** Machine detection: voicemail answers go on to the next step. */
  skipVoicemail?: boolean;
  /** A twilio-in with a public URL that receives the key presses (without one, calls ask for a text). */
  keysNode?: string;
  /** Texted, when a page is cancelled, to those already alerted (empty: nothing). */
  allClear?: string;
  cancelTopic?: string;
  contextStore?: string;
  [field: string]: unknown;
}

interface Contact {
  name: string;
  number: string;
}

interface StepOutcome {
  name: string;
  number: string;
  action: StepAction;
  round: number;
  sid?: string;
  /** delivered, completed, busy, no-answer, voicemail, failed (with error), no-ack… */
  outcome: string;
  error?: string;
  at: string;
}

/** A running page, as the context store keeps it. */
interface PageRecord {
  alarmId: string;
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
  /** The number the page texts and calls from. */
  from: string;
  /** Numbers texted, and from which number: their replies can acknowledge until the page ends. */
  texted: Array<{ number: string; from?: string; name: string; code: string }>;
  alerted: string[];
  history: StepOutcome[];
  merged: number;
  startedAt: string;
}

const isPageRecord = (value: unknown): value is PageRecord =>
  typeof value === 'object' &&
  value !== null &&
  Array.isArray((value as PageRecord).contacts) &&
  Array.isArray((value as PageRecord).history) &&
  typeof (value as PageRecord).stepEnds === 'number';

const MAX_PAGES = 1_000;
const OUT = { acknowledged: 0, exhausted: 1, cancelled: 2 };
const DEFAULT_STEPS: Array<{ action: StepAction; wait: number }> = [
  { action: 'text', wait: 60 },
  { action: 'call', wait: 90 },
];

/** "Alice +15555550100, Bob +1555…", a list of numbers, or an array of numbers or {name, number}. */
export function parseContacts(value: unknown): Contact[] {
  const items: unknown[] = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,;\n]/) : [value];
  const contacts: Contact[] = [];
  for (const item of items) {
    if (typeof item === 'string') {
      const found = /^(.*?)(\+[\d\s().-]+)\s*$/.exec(item.trim());
      if (!item.trim()) continue;
      if (!found) throw new TwilioNodeError('INVALID_INPUT', text('badRecipientCall', { address: item.trim() }));
      const number = normaliseRecipient(found[2], 'call');
      contacts.push({
        name:
          found[1]
            .trim()
            .replace(/[:=-]\s*$/, '')
            .trim() || number,
        number,
      });
    } else if (typeof item === 'object' && item !== null && typeof (item as Contact).number === 'string') {
      const number = normaliseRecipient((item as Contact).number, 'call');
      contacts.push({ name: String((item as Contact).name ?? number), number });
    } else throw new TwilioNodeError('INVALID_INPUT', text('recipientType', { type: typeof item }));
  }
  if (contacts.length === 0) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Contacts' }));
  return contacts;
}

module.exports = function registerTwilioPage(RED: NodeAPI): void {
  function TwilioPage(this: Node, def: TwilioPageDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-page', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const say = peopleTexts(status.translate);
    const account = findAccount(RED, def.account);
    const ladder = (Array.isArray(def.steps) && def.steps.length ? def.steps : DEFAULT_STEPS).map((s) => ({
      action: s.action === 'call' ? ('call' as const) : ('text' as const),
      waitMs: Math.min(seconds(s.wait, 60), 3600) * 1000,
    }));
    const rounds = Math.min(Math.max(Math.floor(Number(def.rounds) || 2), 1), 10);
    const ackKey = /^[0-9*#]{1,4}$/.test(String(def.ackKey ?? '')) ? String(def.ackKey) : '1';
    const ackWords = String(def.ackWords || 'ack, ok, yes');
    const ack = new AnswerMatcher([{ type: 'words', value: `${ackWords}, ${ackKey}` }]);
    const firstAckWord = ackWords.split(',')[0].trim().toUpperCase();
    const readFields = typedFieldsReader(RED, node, def, ['contacts', 'from', 'alarmId']);
    if (!account) status.failed('twilio.status.failed', { code: 'MISSING_INPUT' });

    const pages = new HeldMessages<PageRecord, NodeMessageInFlow>(
      nodeStateStore(RED, node, def.contextStore || undefined),
      'twilio-page-',
      MAX_PAGES,
    );
    const timers = new Map<string, NodeJS.Timeout>();
    /** What the current step listens to (its call), and the replies the page's texts may get, by page. */
    const listeners = new Map<string, Array<() => void>>();
    const replies = new Map<string, Map<string, () => void>>();
    const hub = account ? inboundHubFor(account) : undefined;
    const board = account && hub ? questionBoardFor(account, hub) : undefined;
    /** A person paged for two alarms who replies without a code hears which pages are open (once per set). */
    const clarify = (person: string, from: string, open: ReadonlyArray<{ code: string; summary: string }>) => {
      if (!account) return;

      void requestOwner
        .run(node, () => account.getClient().messages.create({ to: person, from, body: clarifyingMessage(say, open) }))
        .catch((err: unknown) => node.warn(toTwilioNodeError(err, account.redact).localise(status.translate).message));
    };
    /** Steps being sent right now: a close waits for them, so a call placed is known (and can be hung up). */
    const sending = new Set<Promise<unknown>>();
    let closing = false;
    const tracker =
      account && hub
        ? new OutcomeTracker({
            hub,
            fetchStatus: (_kind, sid) =>
              requestOwner.run(node, async () => {
                const c = await account.getClient().calls(sid).fetch();
                return { status: c.status, answeredBy: c.answeredBy, duration: c.duration };
              }),
            firstLookMs: { message: 2_000, call: 3_000 },
            maxLookMs: 10_000,
          })
        : undefined;
    const totalSteps = (page: PageRecord) => rounds * page.contacts.length * ladder.length;
    const stepNumber = (page: PageRecord) => (page.round * page.contacts.length + page.contact) * ladder.length + page.step + 1;

    /** The URL key presses go to: the chosen twilio-in's public URL, when it has one. */
    function keysUrl(): string | undefined {
      if (!def.keysNode) return undefined;
      const receiver = RED.nodes.getNode(def.keysNode) as
        (Node & { publicUrl?: () => string | undefined; feedsInboundPath?: boolean }) | null;
      // A twilio-in that does not check signatures passes nothing on: asking to press a key would be a lie.
      if (!receiver?.feedsInboundPath) return undefined;
      return receiver.publicUrl?.();
    }

    function listen(id: string, stop: () => void): void {
      const all = listeners.get(id) ?? [];
      all.push(stop);
      listeners.set(id, all);
    }
    /** Ends what the current step listens to. */
    function quiet(id: string): void {
      for (const stop of listeners.get(id) ?? []) stop();
      listeners.delete(id);
      clearTimeout(timers.get(id));
      timers.delete(id);
    }
    /** Ends everything the page listens to. */
    function silence(id: string): void {
      quiet(id);
      for (const close of replies.get(id)?.values() ?? []) close();
      replies.delete(id);
    }

    function showStep(page: PageRecord): void {
      const contact = page.contacts[page.contact];
      const key = ladder[page.step]?.action === 'call' ? 'twilio-page.status.calling' : 'twilio-page.status.texting';
      status.working(key, { name: contact.name, step: stepNumber(page), of: totalSteps(page) });
    }

    function record(page: PageRecord, outcome: Omit<StepOutcome, 'name' | 'number' | 'action' | 'round' | 'at'>): void {
      const contact = page.contacts[page.contact];
      page.history.push({
        name: contact.name,
        number: contact.number,
        action: ladder[page.step]?.action ?? 'text',
        round: page.round + 1,
        at: new Date().toISOString(),
        ...outcome,
      });
    }

    /** Ends a page on one of the outputs, with msg.page saying how. */
    function end(id: string, output: number, extra: Record<string, unknown>): void {
      const held = pages.release(id);
      if (!held) return;
      silence(id);
      const page = held.record;
      const msg = (held.msg ?? page.msg) as NodeMessageInFlow & Record<string, unknown>;
      msg.page = {
        alarmId: page.alarmId,
        startedAt: page.startedAt,
        steps: page.history.length,
        merged: page.merged,
        history: page.history,
        ...extra,
      };
      const ports: Array<NodeMessageInFlow | null> = [null, null, null];
      ports[output] = msg;
      if (held.handle) {
        held.handle.send(ports as unknown as NodeMessageInFlow);
        held.handle.done();
      } else node.send(ports as unknown as NodeMessageInFlow);
      if (pages.size === 0)
        status[output === OUT.acknowledged ? 'success' : 'warning'](
          ['twilio-page.status.acknowledged', 'twilio-page.status.exhausted', 'twilio-page.status.cancelled'][output],
          {
            name: String((extra.acknowledged as Contact | undefined)?.name ?? ''),
          },
        );
    }

    function acknowledged(id: string, who: Contact, how: 'key' | 'reply'): void {
      const page = pages.get(id)?.record;
      if (!page) return;
      end(id, OUT.acknowledged, {
        acknowledged: { name: who.name, number: who.number, how, at: new Date().toISOString(), afterSteps: page.history.length },
      });
    }

    /** The next step: the next rung, the next contact, the next round, or exhausted. */
    function advance(id: string): void {
      const page = pages.get(id)?.record;
      if (!page) return;
      quiet(id);
      page.callSid = undefined;
      if (++page.step >= ladder.length) {
        page.step = 0;
        if (++page.contact >= page.contacts.length) {
          page.contact = 0;
          if (++page.round >= rounds) return end(id, OUT.exhausted, {});
        }
      }
      runStepSafely(id);
    }

    /** Hangs up a call of a page that is over. */
    function hangUp(sid: string): void {
      if (!account) return;
      void requestOwner.run(node, () => account.getClient().calls(sid).update({ status: 'completed' })).catch(() => undefined);
    }

    /** Every number this page texted: a reply with an acknowledgement word from it ends the page. */
    function listenForReplies(id: string): void {
      const page = pages.get(id)?.record;
      if (!page || !board) return;
      const open = replies.get(id) ?? new Map<string, () => void>();
      replies.set(id, open);
      for (const texted of page.texted) {
        if (open.has(texted.number)) continue;
        open.set(
          texted.number,
          board.open({
            id: `${node.id} ${id} ${texted.number}`,
            person: texted.number,
            ourNumber: texted.from,
            code: texted.code,
            summary: page.spoken.slice(0, 40),
            clarify,
            onReply: (reply) => {
              if (ack.match(reply.text) >= 0) acknowledged(id, { name: texted.name, number: texted.number }, 'reply');
            },
          }),
        );
      }
    }

    /** Runs a step; whatever goes wrong is the step's outcome or a warning, never an exception out of a timer. */
    function runStepSafely(id: string, resumed = false): void {
      // A step that fails outside its own error handling (the context store refusing a write) would leave
      // the page with no timer: it ends as nobody acknowledged, with the reason, and the log says why.
      const running = runStep(id, resumed).catch((err: unknown) => {
        const error = toTwilioNodeError(err, account?.redact).localise(status.translate);
        node.warn(error.message);
        if (!closing) end(id, OUT.exhausted, { error: `${error.code}: ${error.message}` });
      });
      sending.add(running);
      void running.finally(() => sending.delete(running));
    }

    async function runStep(id: string, resumed = false): Promise<void> {
      const held = pages.get(id);
      if (!held || !account || closing) return;
      const page = held.record;
      // A page saved by a node whose ladder or contacts were since changed goes on from the nearest step that still exists.
      if (page.contact >= page.contacts.length) page.contact = page.contacts.length - 1;
      if (page.step >= ladder.length) {
        page.step = ladder.length - 1;
        return advance(id);
      }
      const contact = page.contacts[page.contact];
      const rung = ladder[page.step];
      showStep(page);
      const wait = (ms: number) =>
        timers.set(
          id,
          setTimeout(() => stepDone(id, 'no-ack'), Math.max(ms, 0)),
        );
      if (resumed) {
        // A restart mid-step: the step already went out; its wait goes on for the time it had left.
        listenForReplies(id);
        if (page.callSid) watchCall(id, page.callSid);
        return void wait(page.stepEnds - Date.now());
      }
      page.stepEnds = Date.now() + rung.waitMs;
      try {
        const from = page.from;
        if (rung.action === 'text') {
          // The code is this page's for the contact; the text shows it when another question is open for them.
          const code = page.texted.find((t) => t.number === contact.number)?.code ?? board?.codeFor(contact.number) ?? '';
          const hint =
            board && board.openFor(contact.number) > 1
              ? say('codeHint', { code, answer: firstAckWord })
              : say('pageTextHint', { word: firstAckWord });
          const created = await requestOwner.run(node, () =>
            account.getClient().messages.create({ to: contact.number, from, body: `${page.spoken} ${hint}` }),
          );
          // Even when the page ended meanwhile, what went out is in its record (the all clear reaches this person).
          record(page, { sid: created.sid, outcome: 'sent' });
          if (!page.texted.some((t) => t.number === contact.number))
            page.texted.push({ number: contact.number, from: created.from || undefined, name: contact.name, code });
          if (!page.alerted.includes(contact.number)) page.alerted.push(contact.number);
          if (!pages.get(id) || closing) return void pages.update(id).catch(() => undefined);
        } else {
          const url = keysUrl();
          const twiml = pageCallTwiml(
            page.spoken,
            url
              ? { key: ackKey, gatherUrl: url, press: say('pagePress', { key: ackKey }) }
              : { replyByText: say('pageReplyByText', { word: firstAckWord }) },
            def.voice || undefined,
            def.language || undefined,
          );
          const created = await requestOwner.run(node, () =>
            account.getClient().calls.create({
              to: contact.number,
              from,
              twiml,
              timeout: Math.min(Math.max(Math.round(rung.waitMs / 1000), 5), 60),
              ...(def.skipVoicemail !== false ? { machineDetection: 'Enable' } : {}),
            }),
          );
          if (!pages.get(id)) return hangUp(created.sid); // the page ended while the call was being placed
          page.callSid = created.sid;
          if (!page.alerted.includes(contact.number)) page.alerted.push(contact.number);
          if (closing) return void pages.update(id).catch(() => undefined); // kept: the next start watches it
          watchCall(id, created.sid);
        }
        await pages.update(id);
        listenForReplies(id);
        wait(rung.waitMs);
      } catch (err) {
        // A contact that cannot be reached (an invalid number) is a step's outcome, not the page's end.
        const error = toTwilioNodeError(err, account.redact).localise(status.translate);
        record(page, { outcome: 'failed', error: `${error.code}: ${error.message}` });
        if (!closing) advance(id);
      }
    }

    /** A call's key press (Digits from the <Gather>) acknowledges; its end without one moves on. */
    function watchCall(id: string, sid: string): void {
      if (!hub || !tracker) return;
      listen(
        id,
        hub.subscribe({ sid }, (event) => {
          const page = pages.get(id)?.record;
          if (page && event.params.Digits === ackKey) acknowledged(id, page.contacts[page.contact], 'key');
        }),
      );
      const page = pages.get(id)!.record;
      tracker.track('call', sid, page.stepEnds + 60_000, (outcome: Outcome) => {
        const current = pages.get(id)?.record;
        if (!current || current.callSid !== sid) return;
        // A voicemail, a busy line or no answer: the next step at once, not after the wait.
        const voicemail = outcome.answeredBy?.startsWith('machine') || outcome.answeredBy === 'fax';
        stepDone(id, voicemail ? 'voicemail' : outcome.status === 'completed' ? 'no-ack' : outcome.status, sid);
      });
    }

    function stepDone(id: string, outcome: string, sid?: string): void {
      const page = pages.get(id)?.record;
      if (!page) return;
      if (ladder[page.step]?.action === 'call') record(page, { sid: sid ?? page.callSid, outcome });
      advance(id);
    }

    async function start(
      msg: NodeMessageInFlow,
      send: (m: NodeMessageInFlow | NodeMessageInFlow[]) => void,
      done: (err?: Error) => void,
    ): Promise<void> {
      if (!account) throw new TwilioNodeError('MISSING_INPUT', text('noAccount'));
      const fields = await readFields(msg);
      const alarmId = String(fields.alarmId ?? (msg as { topic?: unknown }).topic ?? '') || 'alarm';
      // One page per alarm: the same alarm again while it runs is merged into it, not paged twice.
      for (const held of pages.values())
        if (held.record.alarmId === alarmId) {
          held.record.merged++;
          void pages.update(held.id);
          status.working('twilio-page.status.merged', { id: alarmId });
          return done();
        }
      const contacts = parseContacts(fields.contacts);
      const spoken = renderTemplate(def.alert ?? '', msg); // the node's own text: the only template
      if (!spoken.trim()) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Alert' }));
      const kept = storableCopy(msg);
      if (!pages.reserve(kept.bytes))
        throw new TwilioNodeError('NOT_SENT', text('waitsFull', { count: pages.size, megabytes: MAX_HELD_BYTES / 2 ** 20 }));
      const id = RED.util.generateId();
      const page: PageRecord = {
        alarmId,
        msg: kept.copy,
        spoken,
        contacts,
        from: typeof fields.from === 'string' && fields.from.trim() ? fields.from.trim() : account.defaultFrom,
        round: 0,
        contact: 0,
        step: 0,
        stepEnds: 0,
        texted: [],
        alerted: [],
        history: [],
        merged: 0,
        startedAt: new Date().toISOString(),
      };
      await pages.hold(id, page, kept.bytes, { send: (m) => send(m), done: (err) => done(err) }, msg);
      runStepSafely(id);
    }

    async function cancel(msg: NodeMessageInFlow): Promise<void> {
      const fields = await readFields(msg).catch(() => ({}) as Record<string, unknown>);
      const only = fields.alarmId ?? (msg as { topic?: unknown }).topic;
      for (const held of [...pages.values()]) {
        const page = held.record;
        if (def.cancelTopic && only === def.cancelTopic) {
          /* the cancel topic itself ends every page */
        } else if (only !== undefined && only !== '' && page.alarmId !== String(only)) continue;
        // A call that rings now is hung up, and the page ends, whatever its all clear makes of its data.
        if (page.callSid) hangUp(page.callSid);
        end(held.id, OUT.cancelled, { cancelledAt: new Date().toISOString() });
        // Those already alerted hear that it is over, if the node says so.
        if (!def.allClear || !account) continue;
        let body: string;
        try {
          body = renderTemplate(def.allClear, { ...page.msg, page: { alarmId: page.alarmId } });
        } catch (err) {
          node.warn(toTwilioNodeError(err).localise(status.translate).message);
          continue;
        }
        for (const number of page.alerted) {
          const from = page.texted.find((t) => t.number === number)?.from ?? page.from;
          void requestOwner
            .run(node, () => account.getClient().messages.create({ to: number, from, body }))
            .catch((err: unknown) => node.warn(toTwilioNodeError(err, account.redact).localise(status.translate).message));
        }
      }
    }

    node.on('input', (msg, send, done) => {
      const m = msg as NodeMessageInFlow & { cancel?: unknown; topic?: unknown };
      const handled =
        m.cancel === true || (def.cancelTopic && m.topic === def.cancelTopic) ? cancel(msg).then(() => done()) : start(msg, send, done);
      handled.catch((err: unknown) => {
        const error = toTwilioNodeError(err, account?.redact).localise(status.translate);
        status.failedWith(error);
        done(error);
      });
    });

    // Pages a previous run left: each resumes its step with the time it had left.
    if (account)
      void pages.restore(isPageRecord).then(
        (restored) => {
          for (const held of restored) runStepSafely(held.id, true);
        },
        (err: Error) => node.warn(err.message),
      );

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true;
      tracker?.stop();
      for (const id of new Set([...listeners.keys(), ...timers.keys(), ...replies.keys()])) silence(id);
      // Steps being sent get their answer first (up to 5 s): a call placed is then known, to watch after a
      // redeploy, or to hang up when the node is removed.
      let waited: NodeJS.Timeout | undefined;
      void Promise.race([Promise.allSettled([...sending]), new Promise((resolve) => (waited = setTimeout(resolve, 5_000)))]).then(() => {
        clearTimeout(waited);
        if (removed) {
          for (const held of [...pages.values()]) {
            if (held.record.callSid) hangUp(held.record.callSid);
            pages.release(held.id)?.handle?.done();
          }
          forgetNodeState(node);
        } else for (const held of pages.letGo()) held.handle?.done();
        account?.queue.withdraw(node);
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType('twilio-page', TwilioPage);
};
