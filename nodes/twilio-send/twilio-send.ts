/**
 * twilio-send: the Create action for messages (SMS, MMS, WhatsApp) and calls, and for any other
 * creatable catalogue object. One Twilio request per recipient; the msg passes through with the
 * result in msg.payload, at once or, with "wait for the outcome", once each message or call has one.
 * This file wires: the behaviour is lib/outbound/send-controller.ts and lib/waits/outcome-waits.ts.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { TwilioAccount, findAccount } from '../../lib/account/account';
import { ResourceNodeDef, warnIfDeprecated } from '../../lib/catalogue/resource-inputs';
import { findObject } from '../../lib/catalogue/catalogue';
import { TwilioNodeError } from '../../lib/core/errors';
import { OutcomeTracker, fetchOutcome } from '../../lib/inbound/outcomes';
import { inboundHubFor } from '../../lib/inbound/hub';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { forgetNodeState, nodeStateStore } from '../../lib/node-red/context';
import { nodeStatus, showQueue } from '../../lib/node-red/status';
import { isOwnText, typedFieldsReader } from '../../lib/node-red/typed-fields';
import { SendController, abandoned, catalogueCreateReader, notSent, sendFieldNames, sendKind } from '../../lib/outbound/send-controller';
import type { CallAction } from '../../lib/twilio/send-plans';
import { LIMITS, seconds } from '../../lib/twilio/values';
import { MAX_OUTCOME_WAITS, OUTCOME_WAIT_PREFIX, OutcomeWait, OutcomeWaits, isOutcomeWait } from '../../lib/waits/outcome-waits';
import { WaitingRoom } from '../../lib/waits/waiting-room';

export interface TwilioSendDef extends NodeDef {
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
  contextStore?: string;
  /** A twilio-in of this Node-RED that receives the delivery receipts. */
  statusCallbackNode?: string;
  [field: string]: unknown;
}

module.exports = function registerTwilioSend(RED: NodeAPI): void {
  function TwilioSend(this: Node, def: TwilioSendDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-send', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const account = findAccount(RED, def.account);
    const kind = sendKind(def.resource);
    const object = findObject(kind === 'object' ? def.resource : kind === 'call' ? 'Call' : 'Message');
    if (!object?.actions.create) status.failed('twilio.status.unknownObject', { object: def.resource });
    else if (object.actions.create.notSupported) status.warning('twilio.status.notSupported');
    const waiting = kind !== 'object' && def.waitFor === 'outcome';

    // One lifecycle for every msg: the intake (a burst waits as msgs until the account's queue has
    // room), the waits when the node waits for outcomes, and the close.
    const room = new WaitingRoom<OutcomeWait>({
      node,
      store: nodeStateStore(RED, node, def.contextStore || undefined),
      prefix: OUTCOME_WAIT_PREFIX,
      capacity: MAX_OUTCOME_WAITS,
      outputs: waiting && account && def.failureOutput ? 2 : 1,
      isRecord: isOutcomeWait,
      ready: (): boolean => sender.canTakeMore(),
      notSent,
      abandoned,
      translate: status.translate,
    });
    const outcomes = waiting && account ? outcomeWaits(account) : undefined;
    const deprecated = def.resource === 'SMSMessage' ? findObject('SMSMessage') : object;
    const callAction: CallAction = def.callAction ?? 'say';
    const sender = new SendController({
      account,
      owner: node,
      kind,
      callAction,
      object,
      readFields: typedFieldsReader(RED, node, def, sendFieldNames(kind, callAction)),
      // Only the node's own Body and Say are templates: a text from msg, context or env is sent as it is.
      templates: { body: isOwnText(def, 'body'), say: isOwnText(def, 'say') },
      receiptsUrl: def.statusCallbackNode ? () => receiptsUrl(def.statusCallbackNode!) : undefined,
      warnDeprecated: deprecated ? () => warnIfDeprecated(RED, node, deprecated) : undefined,
      readCreate: kind === 'object' ? catalogueCreateReader(RED, node, def as unknown as ResourceNodeDef, def.resource) : undefined,
      status,
      intake: room,
      outcomes,
    });
    const stopWaking = account ? account.queue.onChange(() => room.wake()) : () => undefined;
    const stopShowingQueue = account ? showQueue(status, account.queue, () => sender.busy) : () => undefined;
    if (outcomes) void outcomes.resume().catch((err: Error) => node.warn(err.message));

    /** Sends that wait for their outcome: each recipient tracked by callbacks or looks (the node's requests). */
    function outcomeWaits(account: TwilioAccount): OutcomeWaits {
      const tracker = new OutcomeTracker({
        hub: inboundHubFor(account),
        fetchStatus: (tracked, sid) => fetchOutcome(account, node, tracked, sid),
      });
      return new OutcomeWaits({
        room,
        tracker,
        kind: kind === 'call' ? 'call' : 'message',
        deadlineMs: Math.min(seconds(def.outcomeTimeout, 900), LIMITS.outcomeWaitSeconds.max) * 1000,
        callbacks: Boolean(def.statusCallbackNode),
        status,
      });
    }

    /** Delivery receipts go to a twilio-in node of this Node-RED: its public URL is the callback. */
    function receiptsUrl(id: string): string {
      const receiver = RED.nodes.getNode(id) as (Node & { publicUrl?: () => string | undefined }) | null;
      if (!receiver || typeof receiver.publicUrl !== 'function')
        throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-send.errors.noReceiver'));
      const url = receiver.publicUrl();
      if (!url)
        throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-send.errors.receiverWithoutUrl', { name: receiver.name || receiver.id }));
      return url;
    }

    node.on('input', (msg: NodeMessageInFlow, send, done) =>
      room.accept(send, done, (accepted) => sender.handle(msg, accepted), sender.failed),
    );

    // On a redeploy or shutdown every msg this node took ends once: what has not reached Twilio fails
    // as NOT_SENT at once; what is in flight gets its answer within the room's budget. A removed node
    // ends its waits (Catch hears OUTCOME_UNKNOWN); otherwise they stay stored, to resume.
    node.on('close', (removed: boolean, done: () => void) => {
      outcomes?.stop();
      const closed = room.close(removed, outcomes?.endRemoved);
      account?.queue.withdraw(node);
      void closed.then(() => {
        if (removed) forgetNodeState(node);
        stopWaking();
        stopShowingQueue();
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType('twilio-send', TwilioSend);
};
