/**
 * twilio-in's webhook route, behind the HTTP plumbing of route.ts: Twilio's signature checked before
 * any work is spent on a body, the body within what Twilio sends, a repeated delivery dropped (but
 * answered), what Twilio said published on the account's inbound path, and Twilio answered with
 * TwiML: at once, or by the flow (a twilio-reply or http response node) with a fallback when it is late.
 */
import { isPlainObject } from '../core/shapes';
import type { Request, Response } from 'express';
import { Clock, Timer, systemClock } from '../core/clock';
import { maskTexts } from '../core/errors';
import { EMPTY_TWIML, buildTwiml } from '../twilio/twiml';
import type { Body } from '../twilio/signature';
import type { TwilioAccount } from '../account/account';
import type { DuplicateWindow } from './dedupe';
import { CallLiveness } from './call-liveness';
import { handedOn, heardFirst } from './heard';
import { InboundHub, eventIdentity, inboundHubFor } from './hub';
import { InboundMsg, ReceiverCallbacks, inboundEvent, receiveInbound } from './inbound-message';
import { BodyReadError, closeAfterAnswer, onRefusedConnection, readWebhookBody, refuseBody } from './route';
import {
  WEBHOOK_LIMITS,
  acceptedHost,
  jsonValue,
  nestsDeeperThan,
  parseForm,
  requestHost,
  requestProto,
  signedUrl,
  tooManyParameters,
  webhookBodyKind,
} from './webhook';

/** An attacker must not be able to flood the log: one warning per interval, with a count. */
export const WARNING_INTERVAL_MS = 10_000;

export interface WebhookSettings {
  /** The route's path, for the status line. */
  path: string;
  /** Check X-Twilio-Signature. Off: anyone may post, so nothing reaches the inbound path (the flow still gets it). */
  validate: boolean;
  /** The public URL that reaches Node-RED's root, when set (read at each request: it may name an env variable). */
  publicBaseUrl: () => string | undefined;
  /** Believe X-Forwarded-Proto and X-Forwarded-Host. */
  trustProxy: boolean;
  /**
   * Without a public URL, the hosts a request may name besides this machine's own (see acceptedHost);
   * read at each request (the setting may name an env variable).
   */
  hosts?: () => readonly string[];
  /**
   * The ports this Node-RED listens on (settings.js uiPort), at which a request may name this
   * machine's own names; the port a request arrived on is one too. Other ports: only in `hosts`.
   */
  ports?: () => readonly number[];
  /**
   * Where delivery tokens of an unchecked webhook are remembered; undefined: every delivery is taken.
   * A checked one's duplicates are the account's (see heard.ts): by identity, and by token for `tokenWindowMs`.
   */
  duplicates?: DuplicateWindow;
  /** How long a checked webhook's delivery token is remembered; 0: tokens are not (identities still are). */
  tokenWindowMs?: number;
  /** Answer at once ('auto'), or let the flow answer ('flow') within `replyTimeoutMs`. */
  reply: 'auto' | 'flow';
  replyTimeoutMs: number;
  /** The TwiML answered when the flow's reply is late (see fallbackTwiml). */
  fallback: string;
  /** How long a body may take to arrive. */
  bodyTimeoutMs: number;
}

/**
 * The answer given when the flow's reply is late: the user's message, spoken text or TwiML (the
 * node's own text, sent as written), else Twilio's "do nothing". Built once, when the node starts:
 * at the deadline there is no time to find out that it is malformed.
 */
export function fallbackTwiml(fallback: 'empty' | 'message' | 'say' | 'twiml' | undefined, text = ''): string {
  if (!fallback || fallback === 'empty' || text.trim() === '') return EMPTY_TWIML;
  try {
    return fallback === 'twiml' ? buildTwiml('raw', {}, {}, text) : buildTwiml(fallback, { text }, {}, undefined, false);
  } catch {
    return EMPTY_TWIML; // the editor refuses such a fallback; one deployed by hand answers empty
  }
}

/** `warn`, at most once per `intervalMs`; the next warning says how many were left out (`suppressed`). */
export function throttledWarnings(
  warn: ReceiverCallbacks['warn'],
  clock: Clock,
  intervalMs = WARNING_INTERVAL_MS,
): (key: string, subs: Record<string, string | number>) => void {
  let last: number | undefined;
  let suppressed = 0;
  return (key, subs) => {
    const now = clock.now();
    if (last !== undefined && now - last < intervalMs) {
      suppressed++;
      return;
    }
    warn(key, { ...subs, suppressed });
    last = now;
    suppressed = 0;
  };
}

function answer(res: Response, code: number, body: string, type = 'text/xml'): void {
  if (!res.headersSent) res.status(code).type(type).send(body);
}

/**
 * A request within a call as Twilio sends it: a well-formed CallSid and CallStatus (a Twilio status is
 * lower case; a re-split one carries the next key's capitals, or is gone).
 */
const withinCall = (p: Record<string, unknown>): boolean =>
  typeof p.CallSid === 'string' &&
  /^CA[0-9a-f]{32}$/.test(p.CallSid) &&
  typeof p.CallStatus === 'string' &&
  /^[a-z][a-z-]*$/.test(p.CallStatus);

export class WebhookReceiver {
  private readonly clock: Clock;
  private readonly warnThrottled: ReturnType<typeof throttledWarnings>;
  /** Only what Twilio provably sent reaches the account's other nodes. */
  private readonly hub?: InboundHub;
  private readonly liveness?: CallLiveness;
  private readonly stopFeeding: () => void;
  private received = 0;

  constructor(
    private readonly account: TwilioAccount | undefined,
    private readonly settings: WebhookSettings,
    private readonly callbacks: ReceiverCallbacks,
  ) {
    this.clock = callbacks.clock ?? systemClock;
    this.warnThrottled = throttledWarnings(callbacks.warn, this.clock);
    this.hub = account && settings.validate ? inboundHubFor(account) : undefined;
    this.liveness = account && this.hub ? new CallLiveness(account, this, this.clock) : undefined;
    this.stopFeeding = this.hub ? this.hub.addSource() : () => undefined;
    const { status } = callbacks;
    if (!account) status.failed('twilio-in.status.noAccount');
    else if (!settings.validate) status.warning('twilio-in.status.unchecked');
    else if (!account.canValidateWebhooks()) status.failed('twilio-in.status.noToken');
    // What it heard is the account's state's: without it every webhook is answered 503 (Twilio tries again).
    else if (!account.state) status.failed('twilio-in.status.stateUnavailable');
    else status.success('twilio-in.status.listening', { path: settings.path });
  }

  /** Answers one request posted to the route. Never rejects: a failure is a 500 and a (throttled) warning. */
  handle(req: Request, res: Response): Promise<void> {
    return this.receive(req, res).catch((err: Error) => {
      this.warnThrottled('twilio-in.errors.failed', { message: err.message });
      answer(res, 500, 'Error', 'text/plain');
    });
  }

  /** The route's node is going: it no longer feeds the inbound path. */
  close(): void {
    this.stopFeeding();
  }

  private async receive(req: Request, res: Response): Promise<void> {
    if (onRefusedConnection(req)) return void req.resume(); // see onRefusedConnection
    const { account, settings } = this;
    if (!account) return answer(res, 500, 'Twilio account not configured', 'text/plain');
    const header = req.headers['x-twilio-signature'];
    const signature = typeof header === 'string' && header ? header : undefined;
    const request = { originalUrl: req.originalUrl, headers: req.headers, protocol: req.protocol };
    const options = { publicBaseUrl: settings.publicBaseUrl(), trustProxy: settings.trustProxy };
    const url = () => signedUrl(request, options);
    // A proto that is not http or https would be part of the URL the signature is checked against:
    // refused before anything is built from it (see requestProto).
    if (settings.validate && !options.publicBaseUrl && !requestProto(request, options))
      return this.reject(
        req,
        res,
        'twilio-in.warnings.unknownProto',
        { proto: String(req.headers['x-forwarded-proto']).slice(0, 100) },
        false,
      );
    // What can be refused without the body is refused before a byte of it is read.
    if (settings.validate && !account.canValidateWebhooks())
      return this.reject(req, res, 'twilio-in.warnings.noToken', { url: url() }, false);
    if (settings.validate && !signature) return this.reject(req, res, 'twilio-in.warnings.missingSignature', { url: url() }, false);
    // Without a public URL the signed URL is built from the host the request names: only ours may be.
    const host = requestHost(request, options);
    if (settings.validate && !options.publicBaseUrl && !acceptedHost(host, settings.hosts?.() ?? [], undefined, this.ports(req)))
      return this.reject(req, res, 'twilio-in.warnings.unknownHost', { host }, false);
    let body: Body;
    try {
      body = await this.readBody(req);
    } catch (err) {
      if (!(err instanceof BodyReadError)) throw err;
      if (err.status !== 0) this.warnThrottled('twilio-in.warnings.badBody', { reason: err.reason, status: err.status });
      if (err.status !== 0) account.activity?.refused(err.status);
      return refuseBody(req, res, err, this.clock);
    }
    // Pipelined behind a request this connection had refused (in the same packet, it came before the refusal).
    if (onRefusedConnection(req)) return;
    if (settings.validate && account.validateWebhook(signature, url(), body) !== true)
      return this.reject(req, res, 'twilio-in.warnings.invalidSignature', { url: url() }, true);
    // Read only once Twilio's signature holds; every text passes the account's masking before anyone
    // reads it (a polled one did as the account's answer).
    const value = maskTexts(body.kind === 'json' ? jsonValue(body.raw) : body.params, account.redact);
    const delivery = req.headers['i-twilio-idempotency-token'];
    const token = typeof delivery === 'string' && delivery ? delivery : undefined;
    const params = isPlainObject(value) ? value : {};
    const origin = { source: 'webhook' as const, route: req.originalUrl };
    const event = inboundEvent(params, origin);
    let signedAlike: string | undefined;
    if (this.hub) {
      // What Twilio signed, heard before by any node of this account (here or on another instance), is
      // a duplicate, as is a delivery token heard before: answered, so Twilio stops, and taken by no one.
      // When the account's state cannot say, Twilio is asked to try again later (503): an event not
      // known to be new is never handed to a question.
      const windowMs = token ? (settings.tokenWindowMs ?? 0) : 0;
      const identity = eventIdentity(event);
      // The signature too (heard.ts), except for the one request Twilio signs alike twice: a request
      // within a call (a <Redirect> loop), well formed. A re-split of another request into something
      // without an identity (its Sids or its CallStatus swallowed by a key) is not one.
      const signedAlikeEachTime = identity === undefined && withinCall(params) && body.kind === 'form';
      signedAlike = signedAlikeEachTime ? undefined : signature;
      // What Twilio signs alike can still be told a replay when its call is over (call-liveness.ts).
      if (signedAlikeEachTime && this.liveness && (await this.liveness.isOver(params.CallSid as string))) {
        this.callbacks.status.warning('twilio-in.status.duplicate');
        return answer(res, 200, EMPTY_TWIML);
      }
      let first: boolean;
      try {
        first = await heardFirst(
          account.state,
          account.accountSid,
          identity,
          token ? { value: token, windowMs } : undefined,
          undefined,
          signedAlike,
        );
      } catch {
        this.warnThrottled('twilio-in.warnings.stateUnavailable', {});
        this.callbacks.status.failed('twilio-in.status.stateUnavailable');
        return answer(res, 503, 'Service Unavailable', 'text/plain');
      }
      if (!first) {
        this.callbacks.status.warning('twilio-in.status.duplicate');
        return answer(res, 200, EMPTY_TWIML);
      }
    } else if (settings.duplicates && token && (await settings.duplicates.seen(token))) {
      this.callbacks.status.warning('twilio-in.status.duplicate');
      return answer(res, 200, EMPTY_TWIML);
    }
    if (this.hub) account.activity?.heard(event); // checked: the sidebar shows what Twilio provably sent
    const msg = await receiveInbound(this.hub, params, origin, event);
    if (msg) {
      if (!isPlainObject(value)) msg.payload = value; // a JSON array or scalar as it came
      this.pass(msg, req, res);
    }
    // Handed on (to the question that claimed it, or to the flow): heard for good, before Twilio hears
    // its 200 (a retry after a 200 is then a duplicate, never asked to come back).
    if (this.hub) await handedOn(account.state, account.accountSid, eventIdentity(event), signedAlike);
    // An answer to a question a twilio-ask asked is that node's, not news for this flow.
    if (!msg) {
      this.callbacks.status.success('twilio-in.status.answer');
      answer(res, 200, EMPTY_TWIML);
    } else if (this.settings.reply !== 'flow') answer(res, 200, EMPTY_TWIML);
  }

  /** The ports this Node-RED listens on: the one the request arrived on (by construction) and uiPort. */
  private ports(req: Request): number[] {
    const ports = [...(this.settings.ports?.() ?? [])];
    const local = req.socket?.localPort;
    if (typeof local === 'number') ports.push(local);
    return ports;
  }

  private reject(req: Request, res: Response, warning: string, subs: Record<string, string>, bodyRead: boolean): void {
    this.warnThrottled(warning, subs);
    this.account?.activity?.refused(403);
    this.callbacks.status.failed('twilio-in.status.rejected');
    if (!bodyRead) closeAfterAnswer(req, res, this.clock); // the unread body is not worth reading for another request
    answer(res, 403, 'Forbidden: invalid Twilio signature', 'text/plain');
  }

  /**
   * The body, within the limits of what Twilio sends (WEBHOOK_LIMITS), before any work is spent on
   * it: a form's parameters are counted before they are parsed, JSON's nesting before it is read
   * (after the signature check).
   */
  private async readBody(req: Request): Promise<Body> {
    const kind = webhookBodyKind(req.headers['content-type']);
    if (!kind) throw new BodyReadError(415, 'not-a-webhook-type');
    const limit = kind === 'form' ? WEBHOOK_LIMITS.formBytes : WEBHOOK_LIMITS.jsonBytes;
    const raw = await readWebhookBody(req, limit, this.settings.bodyTimeoutMs, this.clock);
    if (kind === 'json') {
      if (nestsDeeperThan(raw)) throw new BodyReadError(413, 'too-deep');
      return { kind: 'json', raw };
    }
    if (tooManyParameters(raw)) throw new BodyReadError(413, 'too-many-parameters');
    return parseForm(raw);
  }

  /** Sends the msg on and answers Twilio: at once, or when the flow replies, with the fallback when it is late. */
  private pass(msg: InboundMsg, req: Request, res: Response): void {
    Object.assign(msg, { req, res: { _res: res } });
    if (this.settings.reply === 'flow') {
      // A twilio-reply (or http response) node answers; Twilio gives up after 15 s, so do not wait longer.
      const timer: Timer = this.clock.setTimeout(() => this.lateReply(res), this.settings.replyTimeoutMs);
      res.once('close', () => this.clock.clearTimeout(timer));
      res.once('finish', () => this.clock.clearTimeout(timer));
    }
    this.received++;
    this.callbacks.status.success('twilio-in.status.received', { count: this.received, event: msg.twilio.event });
    this.callbacks.emit(msg);
  }

  private lateReply(res: Response): void {
    if (res.headersSent) return;
    answer(res, 200, this.settings.fallback);
    this.callbacks.status.warning('twilio-in.status.replyTimeout');
    this.callbacks.warn('twilio-in.warnings.replyTimeout', { seconds: this.settings.replyTimeoutMs / 1000 });
  }
}
