/**
 * What twilio-send does with a msg, without Node-RED: a message or a call (its plan, one request per
 * recipient, and the result onto msg, status and done, for one recipient or several), or a catalogue
 * create of any other object. The node reads its config and wires this to its intake; a node that
 * waits for outcomes hands each delivery to an OutcomeHolder instead of sending the msg on at once.
 */
import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import type { TwilioAccount } from '../account/account';
import { Target, runAction } from '../catalogue/actions';
import { ObjectSpec, notSupportedText } from '../catalogue/catalogue';
import { ResourceNodeDef, getObject, readFieldValues, readTarget, warnIfDeprecated } from '../catalogue/resource-inputs';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { Translate, text } from '../core/texts';
import type { NodeStatus } from '../node-red/status';
import { isOwnText, typedFieldsReader } from '../node-red/typed-fields';
import { CallAction, SendPlan, TemplateFields, planCall, planMessage } from '../twilio/send-plans';
import { Delivery, deliverToRecipients } from './delivery';
import { HeldMedia, MediaSending, afterCreates, prepareMedia } from './media';
import type { AcceptedMessage } from './intake';

type Msg = NodeMessageInFlow;
type Accepted = AcceptedMessage<Msg>;
export type CreatedRecord = Record<string, unknown>;

/** Messages and calls have their own form; every other creatable object is a catalogue create. */
export type SendKind = 'message' | 'call' | 'object';

export function sendKind(resource: string | undefined): SendKind {
  if (!resource || resource === 'message' || resource === 'Message' || resource === 'SMSMessage') return 'message';
  if (resource === 'call' || resource === 'Call') return 'call';
  return 'object';
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

/** The node's typed fields a message or a call reads from each msg. */
export function sendFieldNames(kind: SendKind, callAction: CallAction): readonly string[] {
  return kind === 'call' ? [...CALL_FIELDS, ...CALL_ACTION_FIELDS[callAction]] : MESSAGE_FIELDS;
}

/** A msg that ends because the node stopped before it was sent. */
export const notSent = (): TwilioNodeError => new TwilioNodeError('NOT_SENT', text('nodeStopped'));
/** A msg that ends because the close could not wait for Twilio's answer. */
export const abandoned = (): TwilioNodeError => new TwilioNodeError('REQUEST_TIMEOUT', text('stoppedWaiting'));

/** What share of the queue's window a send keeps prepared ahead (see canTakeMore). */
const AHEAD_SHARE = 0.25;

/** A message or call is created in the client's own account. */
const OWN_ACCOUNT = { parts: {} };

/** Each failed recipient's error, as msg.payload.errors carries it. */
export function recipientErrors(delivery: Delivery<unknown>, translate: Translate): Record<string, unknown> {
  return Object.fromEntries([...delivery.failures].map(([recipient, err]) => [recipient, err.localise(translate).toJSON()]));
}

/** What Catch hears when some recipients failed: how many, and the first one's reason (with its code). */
export function recipientsFailed(delivery: Delivery<unknown>): TwilioNodeError | undefined {
  const first = delivery.firstFailure;
  if (!first) return undefined;
  return new TwilioNodeError(
    first.code,
    text('recipientsFailed', { failed: delivery.failures.size, total: delivery.recipients.length, first: first.text ?? first.message }),
    first.cause,
  );
}

/** What a catalogue create reads of a msg: the object, its parent Sids, and the fields to write. */
export interface CatalogueCreate {
  object: ObjectSpec;
  target: Target;
  params: Record<string, unknown>;
}

/** A catalogue create as a resource node reads it (lib/catalogue/resource-inputs.ts): Sid, msg.payload, rows. */
export function catalogueCreateReader(RED: NodeAPI, node: Node, def: ResourceNodeDef, resource: string) {
  return async (msg: Msg): Promise<CatalogueCreate> => {
    const object = getObject(resource, 'create');
    if (object.actions.create!.notSupported) throw new TwilioNodeError('NOT_SUPPORTED', notSupportedText(object, 'create'));
    warnIfDeprecated(RED, node, object);
    const { target } = await readTarget(RED, node, msg, def, object, 'create');
    const params = await readFieldValues(RED, node, msg, def, object, 'create');
    return { object, target, params };
  };
}

/** What a twilio-send node's config says of what it reads (its typed fields, as stored by the editor). */
export interface SendInputsConfig {
  resource: string;
  callAction?: CallAction;
  [field: string]: unknown;
}

/**
 * What a node reads of each msg, from its config: a message's or call's typed fields (only its own
 * Body and Say are templates: a text from msg, context or env is sent as it is), or a catalogue
 * create's Sid and fields.
 */
export function sendInputs(
  RED: NodeAPI,
  node: Node,
  config: SendInputsConfig,
): Pick<SendControllerOptions<unknown>, 'kind' | 'callAction' | 'readFields' | 'templates' | 'readCreate'> {
  const kind = sendKind(config.resource);
  const callAction = config.callAction ?? 'say';
  if (kind === 'object')
    return { kind, readCreate: catalogueCreateReader(RED, node, config as unknown as ResourceNodeDef, config.resource) };
  return {
    kind,
    callAction,
    readFields: typedFieldsReader(RED, node, config, sendFieldNames(kind, callAction)),
    templates: { body: isOwnText(config, 'body'), say: isOwnText(config, 'say') },
  };
}

/**
 * Holds a msg until the outcome of what it sent is known (lib/waits/outcome-waits.ts). `admit`
 * comes before anything is sent (it may refuse the msg); then `intend` commits one intent per
 * recipient (what is about to be sent) before any request goes, so that a crash leaves nothing
 * ambiguous: each recipient's Sid is reported once Twilio answered (`sent`), and the whole delivery
 * once every request did (`hold`, or `release` when nothing was sent).
 */
export interface OutcomeHolder<T> {
  admit(msg: Msg): T;
  withdraw(admission: T): void;
  /** Resolves when new msgs may send (after a restart: once the intents a crash left were looked up). */
  ready?(): Promise<void>;
  /**
   * Commits the intents (recipient, create parameters) before anything is sent; rejects with the
   * store's coded error when it cannot (nothing is sent). Undefined: the msg ended meanwhile, send nothing.
   */
  intend(
    admission: T,
    msg: Msg,
    accepted: Accepted,
    params: ReadonlyArray<[string, Record<string, unknown>]>,
  ): Promise<IntendedSend | undefined>;
}

/** What a msg's sends report to once its intents are committed. */
export interface IntendedSend {
  /** Twilio created this recipient's message or call. */
  sent(recipient: string, created: CreatedRecord): void;
  /** Nothing was sent after all: the wait goes; the msg ends as a send that does not wait. */
  release(): void;
  /** Every request was answered and something was sent: the msg waits for its outcomes. */
  hold(delivery: Delivery<CreatedRecord>): Promise<void>;
}

/** What the controller needs of the node's intake. */
export interface SendIntake {
  readonly closing: boolean;
  /** Starts waiting msgs if the account has room again. */
  wake(): void;
}

export interface SendControllerOptions<T> {
  account: TwilioAccount | undefined;
  /** Whose requests these are (the node): a close withdraws those still queued. */
  owner: object;
  kind: SendKind;
  callAction?: CallAction;
  /** The catalogue's Message or Call (what a message or call creates). */
  object?: ObjectSpec;
  /** A message's or call's fields, read from a msg (the node's typed inputs). */
  readFields?: (msg: Msg) => Promise<Record<string, unknown>>;
  /** Which texts are the node's own, and so templates. */
  templates?: TemplateFields;
  /** The status callback URL when the node sends receipts to a twilio-in (throws when there is none). */
  receiptsUrl?: () => string;
  /** Says once that the object sent is deprecated. */
  warnDeprecated?: () => void;
  /** What a create of any other object reads of a msg. */
  readCreate?: (msg: Msg) => Promise<CatalogueCreate>;
  status: NodeStatus;
  intake: SendIntake;
  /** When the node waits for outcomes. */
  outcomes?: OutcomeHolder<T>;
  /** MMS media from bytes (a Buffer, a file under settings.js `twilio.mediaDir`): see media.ts. */
  media?: MediaSending;
}

/**
 * The last string value of each field of the records a node's sends answered: a burst's records
 * repeat most of theirs (account, sender, body, status, direction, API version, price unit). A
 * record's equal strings are replaced by the ones kept (equal values: msg.payload reads the same),
 * so that each msg.payload holds only its own few new strings: a payload outlives its msg's trip
 * through a young-generation collection (the msg is old), and every string it holds is copied into
 * the old generation, to stay there as garbage until the next full collection.
 */
export class RepeatedValues {
  private readonly last = new Map<string, string>();

  /** Shares `record`'s string fields with the previous record's equal ones, in place; returns it. */
  share<R>(record: R): R {
    if (typeof record !== 'object' || record === null) return record;
    const fields = record as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (typeof value !== 'string') continue;
      const kept = this.last.get(key);
      if (kept === value) fields[key] = kept;
      else if (kept !== undefined || this.last.size < MAX_SHARED_FIELDS) this.last.set(key, value);
    }
    return record;
  }
}

/** Fields whose last value RepeatedValues keeps at most (a record of any other object has its own). */
const MAX_SHARED_FIELDS = 64;

/** A plan, with the media it holds (committed before the first request). */
type PlannedSend = SendPlan<object> & { media?: HeldMedia };

export class SendController<T = unknown> {
  /** Msgs being prepared (read and planned): they count against the queue before reaching it. */
  private preparing = 0;
  /** Msgs whose requests are in the account's queue or in flight. */
  private delivering = 0;
  private readonly isCall: boolean;
  /** One create for every msg: each recipient's request, a message or a call. */
  private readonly create: (params: object) => Promise<CreatedRecord>;
  /** A burst's payloads share their repeated strings (see RepeatedValues). */
  private readonly repeated = new RepeatedValues();

  constructor(private readonly options: SendControllerOptions<T>) {
    this.isCall = options.kind === 'call';
    // Only called once a plan was made, and a plan needs the account.
    this.create = (params) =>
      runAction(
        options.account!.clientFor(options.owner),
        options.object!,
        'create',
        OWN_ACCOUNT,
        params as Record<string, unknown>,
      ) as Promise<CreatedRecord>;
  }

  /**
   * Whether the account's queue wants another msg (a burst waits as msgs, not as requests). A msg is
   * planned in a moment and the intake starts more at each turn of the event loop, so a quarter of
   * the queue's window waiting ahead (sixteen at least) keeps its slots busy; a burst's requests then
   * wait less, and less of each is still alive at a young-generation collection, to be copied into
   * the old generation as garbage (bench d: peak RSS of 50,000 msgs at once).
   */
  canTakeMore(): boolean {
    return !this.options.account || this.options.account.queue.wantsMore(this.preparing, AHEAD_SHARE);
  }

  /** Whether this node has requests in the account's queue (its status then follows the queue). */
  get busy(): boolean {
    return this.delivering > 0;
  }

  /**
   * Starts one msg; every request it makes carries the owner (the node's own view of the client), so
   * a close withdraws what still waits. Passed explicitly rather than by requestOwner.run: an
   * AsyncLocalStorage in use costs every promise of the process.
   */
  handle(msg: Msg, accepted: Accepted): Promise<void> {
    this.preparing++;
    return this.route(msg, accepted);
  }

  /** A failure of a msg, for its done: coded, without secrets, and on the status. */
  readonly failed = (err: unknown): TwilioNodeError => {
    const error = toTwilioNodeError(err, this.options.account?.redact);
    this.options.status.failedWith(error);
    return error;
  };

  private readonly route = (msg: Msg, accepted: Accepted): Promise<void> =>
    this.options.kind === 'object' ? this.createObject(msg, accepted) : this.sendMessageOrCall(msg, accepted);

  private requireAccount(): TwilioAccount {
    if (!this.options.account) throw new TwilioNodeError('MISSING_INPUT', text('noAccount'));
    return this.options.account;
  }

  private prepared(): void {
    this.preparing--;
    this.options.intake.wake();
  }

  private async plan(msg: Msg): Promise<PlannedSend> {
    const { account, readFields, receiptsUrl, templates } = this.options;
    if (!account) throw new TwilioNodeError('MISSING_INPUT', text('noAccount'));
    const fields = await readFields!(msg);
    if (fields.statusCallback === undefined && receiptsUrl) fields.statusCallback = receiptsUrl();
    if (this.isCall) return planCall(this.options.callAction ?? 'say', fields, msg, account.defaultFrom, templates);
    // Media from bytes is checked and given its URLs first, and kept once the rest of the plan holds.
    const media = await prepareMedia(fields.mediaUrl, this.options.media);
    if (media) fields.mediaUrl = media.urls;
    const plan: PlannedSend = planMessage(fields, msg, account.defaultFrom, templates);
    if (media) await media.commit();
    return Object.assign(plan, { media });
  }

  /** The account's secrets masked in Twilio's texts, and the media tokens a plan's MediaUrls carry. */
  private redactFor(sendPlan: PlannedSend): (text: string) => string {
    const { redact } = this.options.account!;
    const media = sendPlan.media;
    return media ? (text) => media.mask(redact(text)) : redact;
  }

  /** Once every request was answered: the media each created message has to hold on to (or none). */
  private created(sendPlan: PlannedSend, delivery: Delivery<CreatedRecord>): void {
    if (sendPlan.media) afterCreates(sendPlan.media, delivery.results.values(), this.options.media);
  }

  /** A message or a call: its plan, one request per recipient, and the outcome onto msg, status and done. */
  private async sendMessageOrCall(msg: Msg, accepted: Accepted): Promise<void> {
    const { status, outcomes } = this.options;
    this.options.warnDeprecated?.();
    let sendPlan: PlannedSend;
    try {
      // After a restart, the intents a crash left are looked up at Twilio before anything new is sent.
      if (outcomes?.ready) await outcomes.ready();
      sendPlan = await this.plan(msg);
    } catch (err) {
      this.prepared();
      throw err;
    }
    // A msg that waits counts as prepared until its intents are stored: the intents a crash can
    // leave unsent are those of the queue's few requests ahead, not of every msg a burst let in.
    if (!outcomes) this.prepared();
    if (this.options.intake.closing) {
      if (outcomes) this.prepared();
      void sendPlan.media?.drop().catch(() => undefined);
      return accepted.done(notSent());
    }
    if (outcomes) return this.sendAndWait(outcomes, sendPlan, msg, accepted);
    // In a burst the status follows the burst (its queue while it waits, the last result), not each
    // message: thousands of status events a second would tell the editor nothing.
    if (this.delivering === 0) status.working('twilio.status.sending', { count: sendPlan.recipients.length });
    this.delivering++;
    const delivery = await deliverToRecipients(sendPlan, this.create, this.redactFor(sendPlan)).finally(() => this.delivering--);
    this.options.account!.activity?.sentAll(this.isCall ? 'call' : 'message', delivery.results.values()); // the Twilio sidebar
    this.created(sendPlan, delivery);
    this.sendOn(msg, accepted, delivery);
  }

  /**
   * A send that waits for its outcome: its wait is committed as one intent per recipient before any
   * request goes, each Sid written once Twilio answered, then the msg is held until the outcomes are in.
   */
  private async sendAndWait(outcomes: OutcomeHolder<T>, sendPlan: PlannedSend, msg: Msg, accepted: Accepted): Promise<void> {
    const params = sendPlan.recipients.map((recipient): [string, Record<string, unknown>] => [
      recipient,
      sendPlan.paramsFor(recipient) as Record<string, unknown>,
    ]);
    let intended: IntendedSend | undefined;
    try {
      // The copy of the msg its wait keeps, with room set aside for it, before anything is sent.
      const admission = outcomes.admit(msg);
      // Rejects with the store's coded error when the intents cannot be committed: nothing is sent.
      intended = await outcomes.intend(admission, msg, accepted, params);
    } finally {
      this.prepared();
    }
    if (!intended) return void sendPlan.media?.drop().catch(() => undefined); // the msg ended meanwhile: nothing is sent
    const recipientOf = new Map<object, string>(params.map(([recipient, p]) => [p, recipient]));
    const byRecipient = new Map(params);
    const planned: SendPlan<object> = { recipients: sendPlan.recipients, paramsFor: (recipient) => byRecipient.get(recipient)! };
    const create = (p: object): Promise<CreatedRecord> =>
      this.create(p).then((created) => {
        intended.sent(recipientOf.get(p)!, created);
        return created;
      });
    if (this.delivering === 0) this.options.status.working('twilio.status.sending', { count: sendPlan.recipients.length });
    this.delivering++;
    const delivery = await deliverToRecipients(planned, create, this.redactFor(sendPlan)).finally(() => this.delivering--);
    this.options.account!.activity?.sentAll(this.isCall ? 'call' : 'message', delivery.results.values()); // the Twilio sidebar
    this.created(sendPlan, delivery);
    if (delivery.results.size > 0) return intended.hold(delivery);
    intended.release();
    this.sendOn(msg, accepted, delivery);
  }

  /** The result of a send that does not wait: msg.payload, the status, and done (with Catch told of failures). */
  private sendOn(msg: Msg, accepted: Accepted, delivery: Delivery<CreatedRecord>): void {
    const { status } = this.options;
    const { recipients } = delivery;
    const last = this.delivering === 0;
    if (recipients.length === 1) {
      if (delivery.firstFailure) return accepted.done(this.failed(delivery.firstFailure));
      msg.payload = this.repeated.share(delivery.results.get(recipients[0]));
      if (last) status.success(this.isCall ? 'twilio.status.called' : 'twilio.status.sent');
      accepted.send(msg);
      return accepted.done();
    }
    // Several recipients: msg.payload says which succeeded and which failed.
    const sids = Object.fromEntries([...delivery.results].map(([recipient, created]) => [recipient, created.sid]));
    msg.payload = { results: sids, errors: recipientErrors(delivery, status.translate) };
    const failure = recipientsFailed(delivery);
    if (!failure) {
      if (last) status.success('twilio.status.sentCount', { count: recipients.length });
      accepted.send(msg);
      return accepted.done();
    }
    if (delivery.failures.size < recipients.length) {
      status.warning('twilio.status.partial', { sent: recipients.length - delivery.failures.size, failed: delivery.failures.size });
      accepted.send(msg);
    } else {
      status.failedWith(delivery.firstFailure!);
    }
    // Catch nodes learn of every failure; msg.payload.errors says which recipients failed.
    accepted.done(failure);
  }

  /** Any other creatable object: its parent Sid, then fields from msg.payload and the node's rows. */
  private async createObject(msg: Msg, accepted: Accepted): Promise<void> {
    const { status } = this.options;
    this.prepared();
    const account = this.requireAccount();
    const { object, target, params } = await this.options.readCreate!(msg);
    if (this.options.intake.closing) return accepted.done(notSent());
    status.working('twilio.status.requesting');
    try {
      msg.payload = await runAction(account.clientFor(this.options.owner), object, 'create', target, params);
    } catch (err) {
      throw toTwilioNodeError(err, account.redact);
    }
    (msg as Record<string, unknown>).twilio = {
      object: object.name,
      action: 'create',
      sid: (msg.payload as { sid?: string }).sid,
      accountSid: target.accountSid ?? account.accountSid,
    };
    status.success('twilio.status.create');
    accepted.send(msg);
    accepted.done();
  }
}

/** A twilio-in of this Node-RED, as a twilio-send sees it: its public URL (for receipts) and base (for media). */
interface Receiver {
  id: string;
  name?: string;
  publicUrl?: () => string | undefined;
  publicBase?: () => string | undefined;
}

/** Delivery receipts go to a twilio-in node of this Node-RED: its public URL is the callback. */
export function receiptsUrl(RED: NodeAPI, id: string): string {
  const receiver = RED.nodes.getNode(id) as unknown as Receiver | null;
  if (!receiver || typeof receiver.publicUrl !== 'function')
    throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-send.errors.noReceiver'));
  const url = receiver.publicUrl();
  if (!url)
    throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-send.errors.receiverWithoutUrl', { name: receiver.name || receiver.id }));
  return url;
}

/** The public base URL of the twilio-in a twilio-send names for its receipts (its media is served there too). */
export function receiverBase(RED: NodeAPI, id: string | undefined): (() => string | undefined) | undefined {
  if (!id) return undefined;
  return () => (RED.nodes.getNode(id) as unknown as Receiver | null)?.publicBase?.();
}
