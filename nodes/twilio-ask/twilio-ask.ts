/**
 * twilio-ask: sends a question (SMS or WhatsApp) and routes the answer. One output per expected
 * answer, then "anything else", "no reply" (after the timeout) and "not delivered". The msg that
 * leaves is the one that came in, with msg.reply. Waits live in the account's state engine (each
 * question committed before its text goes, reconciled after a crash: lib/conversation/asking.ts), so
 * a redeploy, a restart or a power cut keeps them; the answers come in through the account's
 * twilio-in (webhook or poll), on whichever instance (lib/conversation/questions.ts routes them).
 *
 * This file wires: the config read, the node's WaitingRoom (the waits and their msgs), Asking (what
 * a question does: lib/conversation/asking.ts), input, close and status.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { systemClock } from '../../lib/core/clock';
import { TwilioNodeError, toTwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { TwilioAccount, findAccount } from '../../lib/account/account';
import { inboundHubFor } from '../../lib/inbound/hub';
import { answerProblem } from '../../lib/conversation/answers';
import { Asking, LabelledAnswer, askOutputs } from '../../lib/conversation/asking';
import { AskWait, isAskWait } from '../../lib/conversation/ask-waits';
import { questionBoardFor } from '../../lib/conversation/questions';
import { WaitingRoom, isCancel, throttled } from '../../lib/waits/waiting-room';
import { NodeStateSettings, nodeState } from '../../lib/account/node-state';
import type { KeyValueStore } from '../../lib/node-red/context';
import { NodeStatus, nodeStatus } from '../../lib/node-red/status';
import { isOwnText, typedFieldsReader } from '../../lib/node-red/typed-fields';
import { LIMITS, seconds } from '../../lib/twilio/values';

export interface TwilioAskDef extends NodeDef, NodeStateSettings {
  account: string;
  answers?: LabelledAnswer[];
  /** Seconds to wait for a reply. */
  timeout?: number | string;
  /** Several recipients: the first valid answer wins (`first`), or every answer goes out (`each`). */
  mode?: 'first' | 'each';
  /** A reply that matches no answer ends that person's question (`end`, the default), or it keeps waiting (`wait`). */
  anythingElse?: 'end' | 'wait';
  /** `first`: what the others are told once someone answered (the node's own text, a template). */
  tellOthers?: string;
  /** A msg with this topic (or msg.cancel) ends the waits for its recipients. */
  cancelTopic?: string;
  [field: string]: unknown;
}

const MAX_WAITS = 10_000;

module.exports = function registerTwilioAsk(RED: NodeAPI): void {
  function TwilioAsk(this: Node, def: TwilioAskDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-ask', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const account = findAccount(RED, def.account);
    // A rule with a problem keeps its place (the outputs after it stay as wired) and matches nothing: the status and the log say why.
    const answers = def.answers ?? [];
    const problems = answers.flatMap((a) => (answerProblem(a) ? [`${a.value}: ${answerProblem(a)}`] : []));
    if (!account) status.failed('twilio.status.failed', { code: 'MISSING_INPUT' });
    if (problems.length > 0) status.warning('twilio-ask.status.badAnswer');
    problems.forEach((problem) => node.warn(problem));
    const state = nodeState(RED, node, account, def);
    const room = openRoom(node, account, state.store, answers, status);
    const stopWaking = account ? account.queue.onChange(() => room.wake()) : () => undefined;
    const show = throttled(() => asking && showOpen(status, asking), systemClock);
    const asking = account && createAsking(node, def, account, room, answers, status, show);
    const hub = account && inboundHubFor(account);
    // A second after the start, the account's twilio-in nodes have started too: none means no answer can come.
    const inboundCheck = systemClock.setTimeout(() => hub?.sources === 0 && status.warning('twilio-ask.status.noInbound'), 1000);
    // Waits a previous run left: re-armed with the time they have left; their msgs leave as fresh ones
    // (questions that come meanwhile wait for them, and a cancel that comes meanwhile applies to them).
    if (asking) room.restore((restored) => asking.resume(restored)).catch((err: Error) => node.warn(err.message));

    const coded = (err: unknown) => toTwilioNodeError(err, account?.redact).localise(status.translate);
    const failed = (err: unknown) => {
      const error = coded(err);
      status.failedWith(error);
      return error;
    };
    const noAccount = () => Promise.reject(new TwilioNodeError('MISSING_INPUT', text('noAccount')));
    const ask = room.input((msg, accepted) => asking?.ask(msg, accepted) ?? noAccount(), failed);
    node.on('input', (msg, send, done) => {
      // A question goes through the room's intake; a cancel ends at once, with its own outcome.
      if (!isCancel(msg, def.cancelTopic)) return ask(msg, send, done);
      void (asking?.cancel(msg) ?? Promise.resolve()).then(
        () => done(),
        (err: unknown) => done(coded(err)),
      );
    });

    node.on('close', (removed: boolean, done: () => void) => {
      asking?.stop();
      systemClock.clearTimeout(inboundCheck);
      account?.queue.withdraw(node);
      // Removing the node ends every wait it holds; a redeploy or shutdown keeps them stored, to resume.
      void room
        .close(removed)
        .then(() => (removed ? state.forget() : undefined))
        .catch((err: Error) => node.warn(err.message))
        .finally(() => {
          stopWaking();
          status.clear();
          done();
        });
    });
  }

  /** The node's waits: in the state store it chose, one key each. */
  function openRoom(node: Node, account: TwilioAccount | undefined, store: KeyValueStore, answers: LabelledAnswer[], status: NodeStatus) {
    return new WaitingRoom<AskWait>({
      node,
      store,
      prefix: 'twilio-ask-',
      capacity: MAX_WAITS,
      outputs: askOutputs(answers.length).count,
      isRecord: isAskWait,
      // A burst waits as msgs until the account's queue has room; the queue says when it has.
      ready: () => !account || account.queue.wantsMore(0),
      notSent: () => new TwilioNodeError('NOT_SENT', text('nodeStopped')),
      abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', text('stoppedWaiting')),
      translate: status.translate,
    });
  }

  /** What the node's questions do, on its account's board and inbound path. */
  function createAsking(
    node: Node,
    def: TwilioAskDef,
    account: TwilioAccount,
    room: WaitingRoom<AskWait>,
    answers: LabelledAnswer[],
    status: NodeStatus,
    changed: (force: boolean) => void,
  ): Asking {
    const hub = inboundHubFor(account);
    return new Asking({
      node,
      account,
      hub,
      board: questionBoardFor(account, hub),
      waits: room,
      answers,
      mode: def.mode === 'first' ? 'first' : 'each',
      anythingElse: def.anythingElse === 'wait' ? 'wait' : 'end',
      timeoutMs: Math.min(seconds(def.timeout, 3600), LIMITS.askWaitSeconds.max) * 1000,
      tellOthers: def.tellOthers,
      readFields: typedFieldsReader(RED, node, def, ['to', 'from', 'body']),
      templates: { body: isOwnText(def, 'body') },
      translate: status.translate,
      clone: (msg) => RED.util.cloneMessage(msg),
      changed,
    });
  }

  RED.nodes.registerType('twilio-ask', TwilioAsk);
};

/** The status: how many questions are open and the nearest deadline, or none open. */
function showOpen(status: NodeStatus, asking: Asking): void {
  const { open, nearest } = asking.summary();
  if (open === 0) status.success('twilio-ask.status.idle');
  else status.working('twilio-ask.status.open', { count: open, time: new Date(nearest).toLocaleTimeString() });
}
