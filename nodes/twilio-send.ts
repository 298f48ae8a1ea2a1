/**
 * twilio-send: the Create action for messages (SMS, MMS, WhatsApp) and calls. One Twilio request
 * per recipient; the msg passes through with the result in msg.payload.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { SlicedIntake } from '../lib/outbound/intake';
import { mapWithConcurrency } from '../lib/core/concurrency';
import { findObject, notSupportedText } from '../lib/catalogue/catalogue';
import { TwilioNodeError, toTwilioNodeError } from '../lib/core/errors';
import { text } from '../lib/core/texts';
import { runAction } from '../lib/catalogue/actions';
import { getAccount } from '../lib/account/account';
import { ResourceNodeDef, getObject, readFieldValues, readTarget, warnIfDeprecated } from '../lib/resources/resource-node';
import { isOwnText, typedFieldsReader } from '../lib/node-red/typed-fields';
import { CallAction, SendPlan, planCall, planMessage } from '../lib/twilio/send-plans';
import { nodeStatus, showQueue } from '../lib/node-red/status';
import { requestOwner } from '../lib/transport/request-queue';
import type { TwilioAccount } from '../lib/account/account';

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

/** A message or call is created in the client's own account. */
const OWN_ACCOUNT = { parts: {} };

/** How long a close waits for answers to requests in flight (Node-RED gives a close 15 s). */
const CLOSE_WAIT_MS = 12_000;

const notSent = () => new TwilioNodeError('NOT_SENT', text('nodeStopped'));

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
    const status = nodeStatus(RED, node);
    const account = RED.nodes.getNode(def.account) as (Node & TwilioAccount) | null;
    const kind = resourceKind(def.resource);
    const isCall = kind === 'call';
    const catalogueObject = findObject(kind === 'object' ? def.resource : isCall ? 'Call' : 'Message');
    if (!catalogueObject?.actions.create) status.failed('twilio.status.unknownObject', { object: def.resource });
    else if (catalogueObject.actions.create.notSupported) status.warning('twilio.status.notSupported');
    const callAction: CallAction = def.callAction ?? 'say';
    const readFields = typedFieldsReader(RED, node, def, isCall ? [...CALL_FIELDS, ...CALL_ACTION_FIELDS[callAction]] : MESSAGE_FIELDS);
    // Only the node's own Body and Say are templates: a text from msg, context or env is sent as it is.
    const templates = { body: isOwnText(def, 'body'), say: isOwnText(def, 'say') };
    let delivering = 0;
    const stopShowingQueue = account ? showQueue(status, account.queue, () => delivering > 0) : () => undefined;

    function plan(msg: NodeMessageInFlow): Promise<SendPlan<object>> {
      if (!account) return Promise.reject(new TwilioNodeError('MISSING_INPUT', text('noAccount')));
      return readFields(msg).then((fields) => {
        if (fields.statusCallback === undefined && typeof def.statusCallbackNode === 'string' && def.statusCallbackNode) {
          fields.statusCallback = statusCallbackFromTwilioIn(def.statusCallbackNode);
        }
        return isCall ? planCall(callAction, fields, msg, account.defaultFrom, templates) : planMessage(fields, msg, account.defaultFrom, templates);
      });
    }

    /** Creates the message or call for one recipient; a failure (an unusable account too) is a coded error with no secret in it. */
    function create(sendPlan: SendPlan<object>, recipient: string): Promise<Record<string, unknown>> {
      const coded = (err: unknown) => Promise.reject(toTwilioNodeError(err, account!.redact));
      try {
        const params = sendPlan.paramsFor(recipient) as Record<string, unknown>;
        return (runAction(account!.getClient(), catalogueObject!, 'create', OWN_ACCOUNT, params) as Promise<Record<string, unknown>>).then(undefined, coded);
      } catch (err) {
        return coded(err);
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

    // Messages are prepared as the account's queue wants them: a burst waits as messages, not as requests.
    // Those being prepared count too: a slice starts many before any of them reaches the queue.
    let preparing = 0;
    const intake = new SlicedIntake(() => !account || account.queue.wantsMore(preparing));
    const stopWaking = account ? account.queue.onChange(() => intake.wake()) : () => undefined;
    const prepared = () => {
      preparing--;
      intake.wake();
    };
    /** Messages past the intake and not yet ended, each with how to end it if the close cannot wait. */
    const active = new Set<(error: TwilioNodeError) => void>();
    let closing: (() => void) | undefined;

    // The path of each message is small steps, not one large async function: in a burst of thousands,
    // what each message holds while it waits is what the garbage collector copies.
    node.on('input', (msg, nodeSend, reportDone) => intake.run((cancelled) => {
      // Each msg ends once, in the runtime's language: a late answer after the close gave up is dropped.
      let ended = false;
      const done = (error?: TwilioNodeError) => {
        if (ended) return;
        ended = true;
        active.delete(abandon);
        reportDone(error?.localise(status.translate));
        if (closing && active.size === 0) closing();
      };
      const send = (out: NodeMessageInFlow) => {
        if (!ended) nodeSend(out);
      };
      const fail = (err: unknown) => {
        const error = toTwilioNodeError(err, account?.redact);
        status.failedWith(error);
        done(error);
      };
      const abandon = (error: TwilioNodeError) => done(error);
      if (cancelled) return done(notSent());
      active.add(abandon);
      preparing++;
      if (kind !== 'object' && catalogueObject) warnIfDeprecated(RED, node, def.resource === 'SMSMessage' ? findObject('SMSMessage')! : catalogueObject);
      // Every request this msg makes carries the node as its owner: the close withdraws what still waits.
      const preparation = requestOwner.run(node, () => (kind === 'object' ? createObject(msg) : plan(msg)));
      preparation.then((sendPlan) => {
        prepared();
        if (closing) return done(notSent());
        // A step that throws is reported for its message, never left as an unhandled rejection.
        try {
          if (sendPlan) return requestOwner.run(node, () => deliver(msg, send, done, sendPlan));
          status.success('twilio.status.create'); // any other object is created while it is prepared
          send(msg);
          done();
        } catch (err) {
          fail(err);
        }
      }, (err: unknown) => {
        prepared();
        fail(err);
      });
    }));

    function deliver(msg: NodeMessageInFlow, send: (msg: NodeMessageInFlow) => void, done: (err?: TwilioNodeError) => void, sendPlan: SendPlan<object>): void {
      const { recipients } = sendPlan;
      // In a burst the status follows the burst (its queue while it waits, the last result), not each
      // message: thousands of status events a second would tell the editor nothing.
      if (delivering === 0) status.working('twilio.status.sending', { count: recipients.length });
      delivering++;
      const delivered = recipients.length > 1 ? deliverToEach(msg, send, done, sendPlan) : deliverOne(msg, send, done, sendPlan);
      delivered.then(() => delivering--, (err: unknown) => {
        delivering--;
        done(toTwilioNodeError(err, account?.redact));
      });
    }

    function deliverOne(msg: NodeMessageInFlow, send: (msg: NodeMessageInFlow) => void, done: (err?: TwilioNodeError) => void, sendPlan: SendPlan<object>): Promise<void> {
      return create(sendPlan, sendPlan.recipients[0]).then((payload) => {
        msg.payload = payload;
        if (delivering === 1) status.success(isCall ? 'twilio.status.called' : 'twilio.status.sent');
        send(msg);
        done();
      }, (error: TwilioNodeError) => {
        status.failedWith(error);
        done(error);
      });
    }

    /** One request per recipient; msg.payload says which succeeded and which failed. */
    async function deliverToEach(msg: NodeMessageInFlow, send: (msg: NodeMessageInFlow) => void, done: (err?: TwilioNodeError) => void, sendPlan: SendPlan<object>): Promise<void> {
      const { recipients } = sendPlan;
      const results: Record<string, string> = {};
      const failures = new Map<string, TwilioNodeError>();
      await mapWithConcurrency(recipients, RECIPIENT_CONCURRENCY, async (recipient) => {
        try {
          results[recipient] = (await create(sendPlan, recipient)).sid as string;
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
        status.failedWith(first);
      }
      // Catch nodes learn of every failure; msg.payload.errors says which recipients failed.
      done(new TwilioNodeError(first.code, text('recipientsFailed', { failed: failures.size, total: recipients.length, first: first.text ?? first.message }), first.cause));
    }

    // On a redeploy or shutdown every msg this node took ends once: what has not reached Twilio fails
    // as NOT_SENT at once; what is in flight gets its answer, for as long as Node-RED's 15 s allow.
    node.on('close', (done: () => void) => {
      let closed = false;
      const finished = () => {
        if (closed) return;
        closed = true;
        clearTimeout(deadline);
        stopWaking();
        stopShowingQueue();
        status.clear();
        done();
      };
      const deadline = setTimeout(() => {
        for (const abandon of [...active]) abandon(new TwilioNodeError('REQUEST_TIMEOUT', text('stoppedWaiting')));
      }, CLOSE_WAIT_MS);
      closing = finished;
      intake.close();
      account?.queue.withdraw(node);
      if (active.size === 0) finished();
    });
  }

  RED.nodes.registerType('twilio-send', TwilioSend);
};
