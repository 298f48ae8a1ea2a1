/**
 * twilio-send: the Create action for messages (SMS, MMS, WhatsApp) and calls. One Twilio request
 * per recipient; the msg passes through with the result in msg.payload.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { SlicedIntake, mapWithConcurrency } from '../lib/concurrency';
import { findObject, notSupportedText } from '../lib/catalogue';
import { TwilioNodeError, toTwilioNodeError } from '../lib/errors';
import { text } from '../lib/messages';
import { runAction } from '../lib/resource-actions';
import { ResourceNodeDef, getAccount, getObject, readFieldValues, readTarget, warnIfDeprecated } from '../lib/resource-node';
import { readTypedFields } from '../lib/properties';
import { CallAction, SendPlan, planCall, planMessage } from '../lib/send-params';
import { NodeStatus, showQueue } from '../lib/status';
import type { TwilioAccount } from './twilio-config';

export interface TwilioSendDef extends NodeDef {
  account: string;
  /** 'message', 'call', or the name of any other creatable catalogue object. */
  resource: string;
  callAction: CallAction;
  [field: string]: unknown;
}

const MESSAGE_FIELDS = [
  'to', 'from', 'body', 'mediaUrl', 'messagingServiceSid', 'contentSid', 'contentVariables', 'sendAt',
  'statusCallback', 'validityPeriod', 'metadata',
] as const;
const CALL_FIELDS = ['to', 'from', 'statusCallback', 'record', 'timeout', 'machineDetection', 'metadata'] as const;
/** A call reads only the fields of its chosen action. */
const CALL_ACTION_FIELDS: Record<CallAction, readonly string[]> = {
  say: ['say', 'sayVoice', 'sayLanguage'],
  twiml: ['twiml'],
  url: ['url'],
  application: ['applicationSid'],
};

/** Requests prepared ahead of the account's queue: enough to keep it busy, few enough to keep memory flat. */
const INTAKE_AHEAD = 200;

/** Recipients of one msg handed to the account's queue at once (the queue decides what runs). */
const RECIPIENT_CONCURRENCY = 20;

/** Messages and calls have their own form; every other creatable object is a catalogue create. */
function resourceKind(resource: string | undefined): 'message' | 'call' | 'object' {
  if (!resource || resource === 'message' || resource === 'Message' || resource === 'SMSMessage') return 'message';
  if (resource === 'call' || resource === 'Call') return 'call';
  return 'object';
}

module.exports = function registerTwilioSend(RED: NodeAPI): void {
  function TwilioSend(this: Node, def: TwilioSendDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new NodeStatus(node, (key, subs) => RED._(key, subs));
    const account = RED.nodes.getNode(def.account) as (Node & TwilioAccount) | null;
    const kind = resourceKind(def.resource);
    const isCall = kind === 'call';
    const catalogueObject = findObject(kind === 'object' ? def.resource : isCall ? 'Call' : 'Message');
    if (!catalogueObject?.actions.create) status.failed('twilio.status.unknownObject', { object: def.resource });
    else if (catalogueObject.actions.create.notSupported) status.warning('twilio.status.notSupported');
    const callAction: CallAction = def.callAction ?? 'say';
    const fieldNames = isCall ? [...CALL_FIELDS, ...CALL_ACTION_FIELDS[callAction]] : MESSAGE_FIELDS;
    let delivering = 0;
    const stopShowingQueue = account ? showQueue(status, account.queue, () => delivering > 0) : () => undefined;

    async function plan(msg: NodeMessageInFlow): Promise<SendPlan<object>> {
      if (!account) throw new TwilioNodeError('MISSING_INPUT', text('noAccount'));
      const fields = await readTypedFields(RED, node, msg, def, fieldNames);
      if (fields.statusCallback === undefined && typeof def.statusCallbackNode === 'string' && def.statusCallbackNode) {
        fields.statusCallback = statusCallbackFromTwilioIn(def.statusCallbackNode);
      }
      const defaultFrom = account.defaultFrom;
      return isCall ? planCall(callAction, fields, msg, defaultFrom) : planMessage(fields, msg, defaultFrom);
    }

    async function create(params: object): Promise<Record<string, unknown>> {
      try {
        return (await runAction(account!.getClient(), catalogueObject!, 'create', { parts: {} }, params as Record<string, unknown>)) as Record<string, unknown>;
      } catch (err) {
        throw toTwilioNodeError(err, account!.redact);
      }
    }

    /** Any other creatable object: its parent Sid, then fields from msg.payload and the node's rows. */
    async function createObject(msg: NodeMessageInFlow): Promise<void> {
      const owner = getAccount(RED, def.account);
      const object = getObject(def.resource, 'create');
      if (object.actions.create!.notSupported) throw new TwilioNodeError('NOT_SUPPORTED', notSupportedText(object, 'create'));
      warnIfDeprecated(RED, node, object);
      const { target } = await readTarget(RED, node, msg, def as unknown as ResourceNodeDef, object, 'create');
      const params = await readFieldValues(RED, node, msg, def as unknown as ResourceNodeDef, object, 'create');
      status.working('twilio.status.requesting');
      try {
        msg.payload = await runAction(owner.getClient(), object, 'create', target, params);
      } catch (err) {
        throw toTwilioNodeError(err, owner.redact);
      }
      (msg as Record<string, unknown>).twilio = { object: object.name, action: 'create', sid: (msg.payload as { sid?: string }).sid, accountSid: target.accountSid ?? owner.accountSid };
    }

    /** Delivery receipts go to a twilio-in node of this Node-RED: its public URL is the callback. */
    function statusCallbackFromTwilioIn(id: string): string {
      const receiver = RED.nodes.getNode(id) as (Node & { publicUrl?: () => string | undefined }) | null;
      if (!receiver || typeof receiver.publicUrl !== 'function') throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-send.errors.noReceiver'));
      const url = receiver.publicUrl();
      if (!url) throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-send.errors.receiverWithoutUrl', { name: receiver.name || receiver.id }));
      return url;
    }

    /** Short enough for a status line: Twilio's number when it gave one, else our code. */
    const failedStatus = (error: TwilioNodeError) => status.failed('twilio.status.failed', { code: error.twilioCode ?? error.code });

    // Messages are prepared as the account's queue has room for them: a burst waits as messages, not as requests.
    const intake = new SlicedIntake(() => !account || account.queue.state.queued < INTAKE_AHEAD);
    const stopWaking = account ? account.queue.onChange(() => intake.wake()) : () => undefined;

    node.on('input', (msg, send, reportDone) => intake.run(() => {
      // Every error leaves in the runtime's language.
      const done = (error?: TwilioNodeError) => reportDone(error?.localise(status.translate));
      (async () => {
        if (kind === 'object') {
          try {
            await createObject(msg);
          } catch (err) {
            const error = toTwilioNodeError(err, account?.redact);
            failedStatus(error);
            return done(error);
          }
          status.success('twilio.status.create');
          send(msg);
          return done();
        }
        if (catalogueObject) warnIfDeprecated(RED, node, def.resource === 'SMSMessage' ? findObject('SMSMessage')! : catalogueObject);
        let sendPlan: SendPlan<object>;
        try {
          sendPlan = await plan(msg);
        } catch (err) {
          const error = toTwilioNodeError(err, account?.redact);
          failedStatus(error);
          return done(error);
        }
        const { recipients } = sendPlan;
        // In a burst the status follows the burst (its queue while it waits, the last result), not each
        // message: thousands of status events a second would tell the editor nothing.
        if (delivering === 0) status.working('twilio.status.sending', { count: recipients.length });
        delivering++;
        try {
          await deliver(msg, send, done, sendPlan);
        } finally {
          delivering--;
        }
      })().catch((err: unknown) => done(toTwilioNodeError(err, account?.redact)));
    }));

    async function deliver(msg: NodeMessageInFlow, send: (msg: NodeMessageInFlow) => void, done: (err?: TwilioNodeError) => void, sendPlan: SendPlan<object>): Promise<void> {
      const { recipients } = sendPlan;

      if (recipients.length === 1) {
        try {
          msg.payload = await create(sendPlan.paramsFor(recipients[0]));
        } catch (err) {
          failedStatus(err as TwilioNodeError);
          return done(err as TwilioNodeError);
        }
        if (delivering === 1) status.success(isCall ? 'twilio.status.called' : 'twilio.status.sent');
        send(msg);
        return done();
      }

      const results: Record<string, string> = {};
      const failures = new Map<string, TwilioNodeError>();
      await mapWithConcurrency(recipients, RECIPIENT_CONCURRENCY, async (recipient) => {
        try {
          results[recipient] = (await create(sendPlan.paramsFor(recipient))).sid as string;
        } catch (err) {
          failures.set(recipient, err as TwilioNodeError);
        }
      });
      const errors = Object.fromEntries([...failures].map(([recipient, err]) => [recipient, err.localise(status.translate).toJSON()]));
      msg.payload = { results, errors };
      if (failures.size === 0) {
        if (delivering === 1) status.success('twilio.status.sentCount', { count: recipients.length });
        send(msg);
        return done();
      }
      // The first failure in the recipients' order names the error, whatever finished first.
      const first = failures.get(recipients.find((r) => failures.has(r))!)!;
      if (failures.size < recipients.length) {
        status.warning('twilio.status.partial', { sent: recipients.length - failures.size, failed: failures.size });
        send(msg);
      } else {
        failedStatus(first);
      }
      // Catch nodes learn of every failure; msg.payload.errors says which recipients failed.
      done(new TwilioNodeError(first.code, text('recipientsFailed', { failed: failures.size, total: recipients.length, first: first.text ?? first.message }), first.cause));
    }

    node.on('close', () => {
      stopWaking();
      stopShowingQueue();
      status.clear();
    });
  }

  RED.nodes.registerType('twilio-send', TwilioSend);
};
