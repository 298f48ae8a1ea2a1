/**
 * twilio-send: the Create action for messages (SMS, MMS, WhatsApp) and calls. One Twilio request
 * per recipient; the msg passes through with the result in msg.payload.
 */
import { upgradeConfig } from '../../lib/node-red/config-version';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { AcceptedMessage, MessageIntake } from '../../lib/outbound/intake';
import { deliverToRecipients } from '../../lib/outbound/delivery';
import { findObject, notSupportedText } from '../../lib/catalogue/catalogue';
import { ErrorCode, TwilioNodeError, toTwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { runAction } from '../../lib/catalogue/actions';
import { TwilioAccount, findAccount, getAccount } from '../../lib/account/account';
import { ResourceNodeDef, getObject, readFieldValues, readTarget, warnIfDeprecated } from '../../lib/catalogue/resource-inputs';
import { isOwnText, typedFieldsReader } from '../../lib/node-red/typed-fields';
import { CallAction, SendPlan, planCall, planMessage } from '../../lib/twilio/send-plans';
import { nodeStatus, showQueue } from '../../lib/node-red/status';
import { requestOwner } from '../../lib/transport/request-queue';
import { Outcome, OutcomeTracker, TrackedKind } from '../../lib/inbound/outcomes';
import { inboundHubFor } from '../../lib/inbound/hub';
import { HeldMessages, MAX_HELD_BYTES, storableCopy } from '../../lib/node-red/held-messages';
import { forgetNodeState, nodeStateStore } from '../../lib/node-red/context';
import { LIMITS, seconds } from '../../lib/twilio/values';
import type { Delivery } from '../../lib/outbound/delivery';

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
  [field: string]: unknown;
}

/** A held msg's wait, as the context store keeps it: enough to resume after a restart. */
interface OutcomeWait {
  kind: TrackedKind;
  deadline: number;
  /** Whether a status callback comes to a twilio-in of this Node-RED (looks are then only a safety net). */
  callbacks: boolean;
  /** The msg (without req and res), for a wait restored after a restart. */
  msg: Record<string, unknown>;
  /** Several recipients: msg.payload holds every one's outcome; one: the outcome is msg.payload. */
  several: boolean;
  sids: Record<string, string>;
  errors: Record<string, unknown>;
  outcomes: Record<string, Outcome>;
  /** The failure to report to Catch once every outcome is in (recipients that were never sent). */
  failure?: { code: string; message: string };
}

const isOutcomeWait = (value: unknown): value is OutcomeWait =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as OutcomeWait).deadline === 'number' &&
  typeof (value as OutcomeWait).sids === 'object' &&
  ((value as OutcomeWait).kind === 'message' || (value as OutcomeWait).kind === 'call');

/** Waits one twilio-send holds at most: each is a msg in memory and a key in the store. */
const MAX_WAITS = 50_000;

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

/** A msg as a context store can keep it: a copy without req and res (an http in node's, which cannot be stored). */
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
    const outcomes = kind !== 'object' && def.waitFor === 'outcome' && account ? outcomeWaits(account) : undefined;

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
      // The copy of the msg its wait keeps, with room set aside for it, before anything is sent.
      const kept = outcomes?.admit(msg);
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
      if (outcomes && kept && delivery.results.size > 0) return outcomes.hold(msg, accepted, delivery, kept);
      if (outcomes && kept) outcomes.unreserve(kept);
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

    /**
     * Sends that wait for their outcome: each msg is held (its done too) until every recipient's
     * message or call has a final status, or the deadline says `unknown`; the wait is kept in the
     * node's context, so a redeploy or a restart resumes it (as a fresh msg: the old done has ended).
     */
    function outcomeWaits(account: TwilioAccount) {
      const deadlineMs = Math.min(seconds(def.outcomeTimeout, 900), LIMITS.outcomeWaitSeconds.max) * 1000;
      const expectCallbacks = typeof def.statusCallbackNode === 'string' && def.statusCallbackNode !== '';
      const waits = new HeldMessages<OutcomeWait, NodeMessageInFlow>(
        nodeStateStore(RED, node, def.contextStore || undefined),
        'twilio-send-wait-',
        MAX_WAITS,
      );
      const tracker = new OutcomeTracker({
        hub: inboundHubFor(account),
        // Looks are this node's requests: a close withdraws those still queued.
        fetchStatus: (kind, sid) =>
          requestOwner.run(node, async () => {
            const client = account.getClient();
            if (kind === 'message') {
              const m = await client.messages(sid).fetch();
              return { status: m.status, errorCode: m.errorCode, errorMessage: m.errorMessage };
            }
            const c = await client.calls(sid).fetch();
            return { status: c.status, answeredBy: c.answeredBy, duration: c.duration };
          }),
      });
      let lastStatus = 0;
      const showWaiting = (force = false) => {
        const now = Date.now();
        if (!force && now - lastStatus < 250) return; // a burst of thousands: the count, not every change
        lastStatus = now;
        if (waits.size > 0) status.working('twilio-send.status.waiting', { count: waits.size });
      };

      function track(id: string, wait: OutcomeWait): void {
        for (const [recipient, sid] of Object.entries(wait.sids)) {
          if (wait.outcomes[recipient]) continue;
          tracker.track(
            wait.kind,
            sid,
            wait.deadline,
            (outcome) => {
              wait.outcomes[recipient] = outcome;
              if (Object.keys(wait.outcomes).length === Object.keys(wait.sids).length) finish(id);
              else void waits.update(id).catch(() => undefined);
            },
            wait.callbacks,
          );
        }
      }

      function finish(id: string): void {
        const held = waits.release(id);
        if (!held) return;
        const wait = held.record;
        const msg = (held.msg ?? wait.msg) as NodeMessageInFlow;
        const all = Object.values(wait.outcomes);
        const reached = all.every((o) => o.reached) && Object.keys(wait.errors).length === 0;
        if (wait.several) msg.payload = { results: wait.sids, errors: wait.errors, outcomes: wait.outcomes };
        else msg.payload = { ...all[0], to: Object.keys(wait.sids)[0] };
        const out = (def.failureOutput ? (reached ? [msg, null] : [null, msg]) : msg) as NodeMessageInFlow;
        if (waits.size === 0) {
          if (reached)
            status.success(wait.several ? 'twilio-send.status.reachedCount' : 'twilio-send.status.reached', {
              count: all.length,
              status: all[0].status,
            });
          else
            status.warning('twilio-send.status.outcome', {
              status: wait.several ? `${all.filter((o) => !o.reached).length}/${all.length}` : all[0].status,
            });
        } else showWaiting();
        const failure = wait.failure ? new TwilioNodeError(wait.failure.code as ErrorCode, wait.failure.message) : undefined;
        if (held.handle) {
          held.handle.send(out);
          held.handle.done(failure);
        } else node.send(out); // restored after a restart: its done ended with the run that took it
      }

      /**
       * Before anything is sent: the copy of the msg its wait will keep. A msg that cannot be kept (a
       * circular one), or one more than the node holds (in number or in bytes), is refused while it is
       * still safe to send again.
       */
      function admit(msg: NodeMessageInFlow): { copy: Record<string, unknown>; bytes: number } {
        const kept = storableCopy(msg);
        if (!waits.reserve(kept.bytes))
          throw new TwilioNodeError('NOT_SENT', text('waitsFull', { count: waits.size, megabytes: MAX_HELD_BYTES / 2 ** 20 }));
        return kept;
      }

      async function hold(
        msg: NodeMessageInFlow,
        accepted: AcceptedMessage<NodeMessageInFlow>,
        delivery: Delivery<Record<string, unknown>>,
        kept: { copy: Record<string, unknown>; bytes: number },
      ) {
        // Ended already (a close that could not wait for the answer said "may have been sent"): never resumed.
        if (accepted.ended) return waits.unreserve(kept.bytes);
        const sids = Object.fromEntries([...delivery.results].map(([recipient, created]) => [recipient, String(created.sid)]));
        const first = delivery.firstFailure;
        const wait: OutcomeWait = {
          kind: isCall ? 'call' : 'message',
          deadline: Date.now() + deadlineMs,
          callbacks: expectCallbacks,
          msg: kept.copy,
          several: delivery.recipients.length > 1,
          sids,
          errors: Object.fromEntries(
            [...delivery.failures].map(([recipient, err]) => [recipient, err.localise(status.translate).toJSON()]),
          ),
          outcomes: {},
          // Recipients that were never sent: Catch hears of them once every outcome is in, as without waiting.
          failure: first && {
            code: first.code,
            message: new TwilioNodeError(
              first.code,
              text('recipientsFailed', {
                failed: delivery.failures.size,
                total: delivery.recipients.length,
                first: first.text ?? first.message,
              }),
            ).localise(status.translate).message,
          },
        };
        const id = RED.util.generateId();
        await waits.hold(
          id,
          wait,
          kept.bytes,
          { send: accepted.send, done: (err) => accepted.done(err as TwilioNodeError | undefined) },
          msg,
        );
        showWaiting(waits.size === 1);
        // Sent while the node was closing: the store keeps the wait; the next start resumes it.
        if (intake.closing) return accepted.done();
        track(id, wait);
      }

      /** Waits a previous run left: resumed with the time they had left; their msgs leave as fresh ones. */
      void waits.restore(isOutcomeWait).then(
        (restored) => {
          for (const held of restored) track(held.id, held.record);
          if (restored.length > 0) showWaiting(true);
        },
        (err: Error) => node.warn(err.message),
      );

      return {
        admit,
        hold,
        /** Room admitted for a msg that will not wait after all (nothing of it was sent). */
        unreserve: (kept: { bytes: number }) => waits.unreserve(kept.bytes),
        /** On close: a removed node ends every wait (Catch hears of it); otherwise they stay stored, to resume. */
        close(removed: boolean): void {
          tracker.stop();
          if (removed) {
            for (const held of [...waits.values()]) {
              waits.release(held.id);
              held.handle?.done(
                new TwilioNodeError(
                  'OUTCOME_UNKNOWN',
                  text('outcomeNodeRemoved', { sid: Object.values(held.record.sids).join(', ') }),
                ).localise(status.translate),
              );
            }
            forgetNodeState(node);
            return;
          }
          const left = waits.letGo();
          for (const held of left) held.handle?.done();
          if (left.length > 0) node.log(RED._('twilio-send.warnings.waitsKept', { count: left.length }));
        },
      };
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
    node.on('close', (removed: boolean, done: () => void) => {
      outcomes?.close(removed);
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
