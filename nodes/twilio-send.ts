/**
 * twilio-send: the Create action for messages (SMS, MMS, WhatsApp) and calls. One Twilio request
 * per recipient; the msg passes through with the result in msg.payload.
 */
import { upgradeConfig } from '../lib/node-red/config-version';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { AcceptedMessage, MessageIntake } from '../lib/outbound/intake';
import { deliverToRecipients } from '../lib/outbound/delivery';
import { findObject, notSupportedText } from '../lib/catalogue/catalogue';
import { TwilioNodeError, toTwilioNodeError } from '../lib/core/errors';
import { text } from '../lib/core/texts';
import { runAction } from '../lib/catalogue/actions';
import { findAccount, getAccount } from '../lib/account/account';
import { ResourceNodeDef, getObject, readFieldValues, readTarget, warnIfDeprecated } from '../lib/resources/resource-node';
import { isOwnText, typedFieldsReader } from '../lib/node-red/typed-fields';
import { CallAction, SendPlan, planCall, planMessage } from '../lib/twilio/send-plans';
import { nodeStatus, showQueue } from '../lib/node-red/status';
import { requestOwner } from '../lib/transport/request-queue';

export interface TwilioSendDef extends NodeDef {
  account: string;
  /** 'message', 'call', or the name of any other creatable catalogue object. */
  resource: string;
  callAction: CallAction;
  [field: string]: unknown;
}

const MESSAGE_FIELDS = [
  'to',
  'from',
  'body',
  'mediaUrl',
  'messagingServiceSid',
  'contentSid',
  'contentVariables',
  'sendAt',
  'statusCallback',
  'validityPeriod',
  'metadata',
] as const;
const CALL_FIELDS = ['to', 'from', 'statusCallback', 'record', 'timeout', 'machineDetection', 'metadata'] as const;
/** A call reads only the fields of its chosen action. */
const CALL_ACTION_FIELDS: Record<CallAction, readonly string[]> = {
  say: ['say', 'sayVoice', 'sayLanguage'],
  twiml: ['twiml'],
  url: ['url'],
  application: ['applicationSid'],
};

/** A message or call is created in the client's own account. */
const OWN_ACCOUNT = { parts: {} };

const notSent = () => new TwilioNodeError('NOT_SENT', text('nodeStopped'));
const abandoned = () => new TwilioNodeError('REQUEST_TIMEOUT', text('stoppedWaiting'));

/** Messages and calls have their own form; every other creatable object is a catalogue create. */
function resourceKind(resource: string | undefined): 'message' | 'call' | 'object' {
  if (!resource || resource === 'message' || resource === 'Message' || resource === 'SMSMessage') return 'message';
  if (resource === 'call' || resource === 'Call') return 'call';
  return 'object';
}

module.exports = function registerTwilioSend(RED: NodeAPI): void {
  function TwilioSend(this: Node, def: TwilioSendDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-send', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const account = findAccount(RED, def.account);
    const kind = resourceKind(def.resource);
    const isCall = kind === 'call';
    const catalogueObject = findObject(kind === 'object' ? def.resource : isCall ? 'Call' : 'Message');
    if (!catalogueObject?.actions.create) status.failed('twilio.status.unknownObject', { object: def.resource });
    else if (catalogueObject.actions.create.notSupported) status.warning('twilio.status.notSupported');
    const callAction: CallAction = def.callAction ?? 'say';
    const readFields = typedFieldsReader(RED, node, def, isCall ? [...CALL_FIELDS, ...CALL_ACTION_FIELDS[callAction]] : MESSAGE_FIELDS);
    // Only the node's own Body and Say are templates: a text from msg, context or env is sent as it is.
    const templates = { body: isOwnText(def, 'body'), say: isOwnText(def, 'say') };

    // Messages are prepared as the account's queue wants them: a burst waits as messages, not as requests.
    // Those being prepared count too: a slice starts many before any of them reaches the queue.
    let preparing = 0;
    let delivering = 0;
    const intake = new MessageIntake<NodeMessageInFlow>({
      ready: () => !account || account.queue.wantsMore(preparing),
      notSent,
      abandoned,
    });
    const stopWaking = account ? account.queue.onChange(() => intake.wake()) : () => undefined;
    const stopShowingQueue = account ? showQueue(status, account.queue, () => delivering > 0) : () => undefined;

    function plan(msg: NodeMessageInFlow): Promise<SendPlan<object>> {
      if (!account) return Promise.reject(new TwilioNodeError('MISSING_INPUT', text('noAccount')));
      return readFields(msg).then((fields) => {
        if (fields.statusCallback === undefined && typeof def.statusCallbackNode === 'string' && def.statusCallbackNode) {
          fields.statusCallback = statusCallbackFromTwilioIn(def.statusCallbackNode);
        }
        return isCall
          ? planCall(callAction, fields, msg, account.defaultFrom, templates)
          : planMessage(fields, msg, account.defaultFrom, templates);
      });
    }

    /** Delivery receipts go to a twilio-in node of this Node-RED: its public URL is the callback. */
    function statusCallbackFromTwilioIn(id: string): string {
      const receiver = RED.nodes.getNode(id) as (Node & { publicUrl?: () => string | undefined }) | null;
      if (!receiver || typeof receiver.publicUrl !== 'function')
        throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-send.errors.noReceiver'));
      const url = receiver.publicUrl();
      if (!url)
        throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-send.errors.receiverWithoutUrl', { name: receiver.name || receiver.id }));
      return url;
    }

    /** A message or a call: its plan, one request per recipient, and the outcome onto msg, status and done. */
    async function sendMessageOrCall(msg: NodeMessageInFlow, accepted: AcceptedMessage<NodeMessageInFlow>): Promise<void> {
      if (catalogueObject) warnIfDeprecated(RED, node, def.resource === 'SMSMessage' ? findObject('SMSMessage')! : catalogueObject);
      let sendPlan: SendPlan<object>;
      try {
        sendPlan = await plan(msg);
      } finally {
        preparing--;
        intake.wake();
      }
      if (intake.closing) return accepted.done(notSent());
      const { recipients } = sendPlan;
      // In a burst the status follows the burst (its queue while it waits, the last result), not each
      // message: thousands of status events a second would tell the editor nothing.
      if (delivering === 0) status.working('twilio.status.sending', { count: recipients.length });
      delivering++;
      const create = async (params: object) =>
        (await runAction(account!.getClient(), catalogueObject!, 'create', OWN_ACCOUNT, params as Record<string, unknown>)) as Record<
          string,
          unknown
        >;
      const delivery = await deliverToRecipients(sendPlan, create, account!.redact).finally(() => delivering--);
      const last = delivering === 0;
      if (recipients.length === 1) {
        if (delivery.firstFailure) return fail(accepted, delivery.firstFailure);
        msg.payload = delivery.results.get(recipients[0]);
        if (last) status.success(isCall ? 'twilio.status.called' : 'twilio.status.sent');
        accepted.send(msg);
        return accepted.done();
      }
      // Several recipients: msg.payload says which succeeded and which failed.
      const errors = Object.fromEntries(
        [...delivery.failures].map(([recipient, err]) => [recipient, err.localise(status.translate).toJSON()]),
      );
      msg.payload = { results: Object.fromEntries([...delivery.results].map(([recipient, created]) => [recipient, created.sid])), errors };
      const first = delivery.firstFailure;
      if (!first) {
        if (last) status.success('twilio.status.sentCount', { count: recipients.length });
        accepted.send(msg);
        return accepted.done();
      }
      if (delivery.failures.size < recipients.length) {
        status.warning('twilio.status.partial', { sent: recipients.length - delivery.failures.size, failed: delivery.failures.size });
        accepted.send(msg);
      } else {
        status.failedWith(first);
      }
      // Catch nodes learn of every failure; msg.payload.errors says which recipients failed.
      accepted.done(
        new TwilioNodeError(
          first.code,
          text('recipientsFailed', { failed: delivery.failures.size, total: recipients.length, first: first.text ?? first.message }),
          first.cause,
        ),
      );
    }

    /** Any other creatable object: its parent Sid, then fields from msg.payload and the node's rows. */
    async function createObject(msg: NodeMessageInFlow, accepted: AcceptedMessage<NodeMessageInFlow>): Promise<void> {
      preparing--;
      intake.wake();
      const owner = getAccount(RED, def.account);
      const object = getObject(def.resource, 'create');
      if (object.actions.create!.notSupported) throw new TwilioNodeError('NOT_SUPPORTED', notSupportedText(object, 'create'));
      warnIfDeprecated(RED, node, object);
      const { target } = await readTarget(RED, node, msg, def as unknown as ResourceNodeDef, object, 'create');
      const params = await readFieldValues(RED, node, msg, def as unknown as ResourceNodeDef, object, 'create');
      if (intake.closing) return accepted.done(notSent());
      status.working('twilio.status.requesting');
      try {
        msg.payload = await runAction(owner.getClient(), object, 'create', target, params);
      } catch (err) {
        throw toTwilioNodeError(err, owner.redact);
      }
      (msg as Record<string, unknown>).twilio = {
        object: object.name,
        action: 'create',
        sid: (msg.payload as { sid?: string }).sid,
        accountSid: target.accountSid ?? owner.accountSid,
      };
      status.success('twilio.status.create');
      accepted.send(msg);
      accepted.done();
    }

    function fail(accepted: AcceptedMessage<NodeMessageInFlow>, err: unknown): void {
      const error = toTwilioNodeError(err, account?.redact);
      status.failedWith(error);
      accepted.done(error);
    }

    node.on('input', (msg, send, done) =>
      // Every error leaves in the runtime's language.
      intake.accept(
        send,
        (error) => done(error?.localise(status.translate)),
        (accepted) => {
          preparing++;
          // Every request this msg makes carries the node as its owner: the close withdraws what still waits.
          const handled = requestOwner.run(node, () =>
            kind === 'object' ? createObject(msg, accepted) : sendMessageOrCall(msg, accepted),
          );
          handled.catch((err: unknown) => fail(accepted, err));
        },
      ),
    );

    // On a redeploy or shutdown every msg this node took ends once: what has not reached Twilio fails
    // as NOT_SENT at once; what is in flight gets its answer, for as long as Node-RED's 15 s allow.
    node.on('close', (done: () => void) => {
      const closed = intake.close();
      account?.queue.withdraw(node);
      void closed.then(() => {
        stopWaking();
        stopShowingQueue();
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType('twilio-send', TwilioSend);
};
