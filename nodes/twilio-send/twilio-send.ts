/**
 * twilio-send: the Create action for messages (SMS, MMS, WhatsApp) and calls, and for any other
 * creatable catalogue object. One Twilio request per recipient; the msg passes through with the
 * result in msg.payload, at once or, with "wait for the outcome", once each message or call has one.
 * This file wires: the behaviour is lib/outbound/send-controller.ts and lib/waits/outcome-waits.ts.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { AccountNode, findAccount } from '../../lib/account/account';
import { ObjectSpec, findObject } from '../../lib/catalogue/catalogue';
import { warnIfDeprecated } from '../../lib/catalogue/resource-inputs';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { NodeStateSettings, nodeState } from '../../lib/account/node-state';
import { watchStateHealth } from '../../lib/account/state-health';
import { NodeStatus, nodeStatus, showQueue } from '../../lib/node-red/status';
import { serveMedia } from '../../lib/outbound/media';
import { OutcomeHolder, SendController, SendKind, receiptsUrl, sendInputs, sendKind } from '../../lib/outbound/send-controller';
import { sendMedia } from '../../lib/waits/media-receipts';
import type { CallAction } from '../../lib/twilio/send-plans';
import { OUTCOME_ROOM, OutcomeWait, outcomeDeadlineMs, outcomeWaitsFor } from '../../lib/waits/outcome-waits';
import { WaitingRoom } from '../../lib/waits/waiting-room';

export interface TwilioSendDef extends NodeDef, NodeStateSettings {
  account: string;
  /** 'message', 'call', or the name of any other creatable catalogue object. */
  resource: string;
  callAction: CallAction;
  /** Send the msg on when Twilio has queued it (as before), or hold it until its outcome is known. */
  waitFor?: 'queued' | 'outcome';
  /** Seconds to wait for an outcome before it is `unknown`. */
  outcomeTimeout?: number | string;
  /** Outcomes that did not reach the person leave by a second output. */
  failureOutput?: boolean;
  /** Where waits are kept (a persistent store keeps them across restarts). */
  /** A twilio-in of this Node-RED that receives the delivery receipts. */
  statusCallbackNode?: string;
  [field: string]: unknown;
}

/** What the node's parts are made of: the runtime, the node, its config and what it read of it. */
interface Wiring {
  RED: NodeAPI;
  node: Node;
  def: TwilioSendDef;
  status: NodeStatus;
  account: AccountNode | undefined;
  kind: SendKind;
  /** What it creates: the catalogue's Message or Call, or the object the node names. */
  object: ObjectSpec | undefined;
}

module.exports = function registerTwilioSend(RED: NodeAPI): void {
  function TwilioSend(this: Node, config: TwilioSendDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const def = upgradeConfig('twilio-send', config);
    const kind = sendKind(def.resource);
    const wiring: Wiring = {
      RED,
      node,
      def,
      kind,
      status: nodeStatus(RED, node),
      account: findAccount(RED, def.account),
      object: findObject(kind === 'object' ? def.resource : kind === 'call' ? 'Call' : 'Message'),
    };
    const { status, account, object } = wiring;
    if (!object?.actions.create) status.failed('twilio.status.unknownObject', { object: def.resource });
    else if (object.actions.create.notSupported) status.warning('twilio.status.notSupported');

    // One lifecycle for every msg: the intake (a burst waits as msgs until the account's queue has
    // room), the waits when the node waits for outcomes, and the close.
    const waiting = kind !== 'object' && def.waitFor === 'outcome' && account !== undefined;
    const state = nodeState(RED, node, account, def);
    const outputs = waiting && def.failureOutput ? 2 : 1;
    const ready = (): boolean => sender.canTakeMore();
    const room = new WaitingRoom<OutcomeWait>({ ...OUTCOME_ROOM, node, store: state.store, outputs, ready, translate: status.translate });
    // Only its waits need the state store: a send that does not wait goes on while Redis is down.
    const health = watchStateHealth(waiting ? account : undefined, state, status);
    // Each recipient's outcome heard of by callback, or looked at (the node's requests).
    const outcomes = waiting
      ? outcomeWaitsFor(account!, node, {
          room,
          kind: kind === 'call' ? 'call' : 'message',
          deadlineMs: outcomeDeadlineMs(def.outcomeTimeout),
          callbacks: Boolean(def.statusCallbackNode),
          status,
          log: (message) => node.warn(message),
        })
      : undefined;
    const sender = sendController(wiring, room, outcomes);
    const stopWaking = account ? account.queue.onChange(() => room.wake()) : () => undefined;
    const stopShowingQueue = account ? showQueue(status, account.queue, () => sender.busy) : () => undefined;
    if (outcomes) void health.retryWhenBack(() => outcomes.resume()).catch((err: Error) => node.warn(err.message));

    node.on(
      'input',
      room.input(
        health.guard((msg, accepted) => sender.handle(msg, accepted)),
        sender.failed,
      ),
    );

    // On a redeploy or shutdown every msg this node took ends once: what has not reached Twilio fails
    // as NOT_SENT at once; what is in flight gets its answer within the room's budget. A removed node
    // ends its waits (Catch hears OUTCOME_UNKNOWN); otherwise they stay stored, to resume.
    node.on('close', (removed: boolean, done: () => void) => {
      outcomes?.stop();
      health.stop();
      const closed = room.close(removed, outcomes?.endRemoved);
      account?.queue.withdraw(node);
      void closed
        .then(() => (removed ? state.forget() : undefined))
        .catch((err: Error) => node.warn(err.message))
        .finally(() => {
          stopWaking();
          stopShowingQueue();
          status.clear();
          done();
        });
    });
  }

  RED.nodes.registerType('twilio-send', TwilioSend);
  // MMS media sent from bytes, at GET/HEAD <httpNodeRoot>/twilio/media/<token> (lib/outbound/media.ts).
  serveMedia(RED);
};

function sendController<T>(wiring: Wiring, room: WaitingRoom<OutcomeWait>, outcomes: OutcomeHolder<T> | undefined): SendController<T> {
  const { RED, node, def, status, account, object } = wiring;
  const deprecated = def.resource === 'SMSMessage' ? findObject('SMSMessage') : object;
  const receivers = def.statusCallbackNode;
  return new SendController<T>({
    ...sendInputs(RED, node, def),
    account,
    owner: node,
    object,
    receiptsUrl: receivers ? () => receiptsUrl(RED, receivers) : undefined,
    warnDeprecated: deprecated ? () => warnIfDeprecated(RED, node, deprecated) : undefined,
    status,
    intake: room,
    outcomes,
    // Media from a Buffer or a file: served under the account's public URL or the receipts twilio-in's.
    media: sendMedia(RED, account, receivers),
  });
}
