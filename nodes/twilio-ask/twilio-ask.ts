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
import { TwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { TwilioAccount, findAccount } from '../../lib/account/account';
import { inboundHubFor } from '../../lib/inbound/hub';
import { Asking, askOutputs } from '../../lib/conversation/asking';
import { AskDefinition, AskSettings, askSettings, showOpen, warnWithoutInbound } from '../../lib/conversation/ask-settings';
import { AskWait, isAskWait } from '../../lib/conversation/ask-waits';
import { questionBoardFor } from '../../lib/conversation/questions';
import { WaitingRoom, isCancel, throttled } from '../../lib/waits/waiting-room';
import { nodeErrors } from '../../lib/account/node-errors';
import { NodeStateSettings, nodeState } from '../../lib/account/node-state';
import { StateHealthWatch, watchStateHealth } from '../../lib/account/state-health';
import type { KeyValueStore } from '../../lib/node-red/context';
import { NodeStatus, nodeStatus } from '../../lib/node-red/status';
import { isOwnText, typedFieldsReader } from '../../lib/node-red/typed-fields';

/** The node's settings: its account, its answers and how it waits (AskDefinition), where its state lives. */
export interface TwilioAskDef extends NodeDef, NodeStateSettings, AskDefinition {
  account: string;
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
    // A rule with a problem keeps its place and matches nothing: the status and the log say why.
    const settings = askSettings(def);
    if (!account) status.failed('twilio.status.failed', { code: 'MISSING_INPUT' });
    if (settings.problems.length > 0) status.warning('twilio-ask.status.badAnswer');
    settings.problems.forEach((problem) => node.warn(problem));
    const state = nodeState(RED, node, account, def);
    const room = openRoom(node, account, state.store, settings.asking.answers.length, status);
    const health = watchStateHealth(account, state, status);
    const stopWaking = account ? account.queue.onChange(() => room.wake()) : () => undefined;
    const show = throttled(() => asking && showOpen(status, asking.summary()), systemClock);
    const asking = account && createAsking(node, def, settings, account, room, status, show);
    const stopInboundCheck = warnWithoutInbound(account && inboundHubFor(account), () => status.warning('twilio-ask.status.noInbound'));
    // Waits a previous run left: re-armed with the time they have left; their msgs leave as fresh ones
    // (questions that come meanwhile wait for them, and a cancel that comes meanwhile applies to them).
    if (asking)
      health.retryWhenBack(() => room.restore((restored) => asking.resume(restored))).catch((err: Error) => node.warn(err.message));
    node.on('input', inputHandler(def, account, room, health, asking, status));

    node.on('close', (removed: boolean, done: () => void) => {
      asking?.stop();
      health.stop();
      stopInboundCheck();
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

  /** A question goes through the room's intake; a cancel ends at once, with its own outcome. */
  function inputHandler(
    def: TwilioAskDef,
    account: TwilioAccount | undefined,
    room: WaitingRoom<AskWait>,
    health: StateHealthWatch,
    asking: Asking | undefined,
    status: NodeStatus,
  ): ReturnType<WaitingRoom<AskWait>['input']> {
    const { coded, failed } = nodeErrors(account, status);
    const noAccount = () => Promise.reject(new TwilioNodeError('MISSING_INPUT', text('noAccount')));
    const ask = room.input(
      health.guard((msg, accepted) => asking?.ask(msg, accepted) ?? noAccount()),
      failed,
    );
    return (msg, send, done) => {
      if (!isCancel(msg, def.cancelTopic)) return ask(msg, send, done);
      void (asking?.cancel(msg) ?? Promise.resolve()).then(
        () => done(),
        (err: unknown) => done(coded(err)),
      );
    };
  }

  /** The node's waits: in the state store it chose, one key each. */
  function openRoom(node: Node, account: TwilioAccount | undefined, store: KeyValueStore, answers: number, status: NodeStatus) {
    return new WaitingRoom<AskWait>({
      node,
      store,
      prefix: 'twilio-ask-',
      capacity: MAX_WAITS,
      outputs: askOutputs(answers).count,
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
    settings: AskSettings,
    account: TwilioAccount,
    room: WaitingRoom<AskWait>,
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
      ...settings.asking,
      readFields: typedFieldsReader(RED, node, def, ['to', 'from', 'body']),
      templates: { body: isOwnText(def, 'body') },
      translate: status.translate,
      clone: (msg) => RED.util.cloneMessage(msg),
      changed,
    });
  }

  RED.nodes.registerType('twilio-ask', TwilioAsk);
};
