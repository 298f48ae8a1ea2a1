/**
 * twilio-in: owns a POST route on Node-RED's HTTP server for Twilio's webhooks (incoming messages
 * and calls, status callbacks), checks Twilio's signature, drops duplicate deliveries, and answers
 * Twilio with TwiML: at once, or from a twilio-reply (or http response) node in the flow.
 */
import { upgradeConfig } from '../../lib/node-red/config-version';
import type { Request, Response } from 'express';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { registerConnectEndpoints } from './admin';
import { LIMITS, seconds } from '../../lib/twilio/values';
import { resolveEnvReferences } from '../../lib/node-red/typed-fields';
import { EMPTY_TWIML, buildTwiml } from '../../lib/twilio/twiml';
import {
  WEBHOOK_LIMITS,
  jsonValue,
  mediaOf,
  nestsDeeperThan,
  parseForm,
  signedUrl,
  summarise,
  tooManyParameters,
  webhookBodyKind,
} from '../../lib/inbound/webhook';
import { Body } from '../../lib/twilio/signature';
import { BODY_TIMEOUT_MS, BodyReadError, mountWebhookRoute, publicWebhookUrl, readWebhookBody, refuseBody } from '../../lib/inbound/route';
import { DuplicateWindow } from '../../lib/inbound/dedupe';
import { InboundPoller } from '../../lib/inbound/poller';
import { inboundHubFor } from '../../lib/inbound/hub';
import { forgetNodeState, nodeStateStore } from '../../lib/node-red/context';
import { nodeStatus } from '../../lib/node-red/status';
import type { TwilioAccount } from '../../lib/account/account';

export interface TwilioInDef extends NodeDef {
  account: string;
  path: string;
  publicBaseUrl: string;
  trustProxy: boolean;
  validate: boolean;
  reply: 'auto' | 'flow';
  replyTimeout: number | string;
  /** What to answer when no reply comes in time: nothing (empty TwiML), a message, a spoken text, or TwiML. */
  fallback?: 'empty' | 'message' | 'say' | 'twiml';
  fallbackText?: string;
  dedupe: boolean;
  dedupeWindow: number | string;
  contextStore?: string;
  /** How Twilio's news arrives: Twilio calls our route (webhook), or we look every few seconds (poll). */
  receive?: 'webhook' | 'poll';
  /** Polling: one of the account's numbers, or empty for all of them. */
  pollNumber?: string;
  pollCalls?: boolean;
  pollInterval?: number | string;
}

export interface TwilioInNode extends Node {
  /** The URL Twilio should call, when a public base URL is set: for status callbacks and numbers. */
  publicUrl(): string | undefined;
  /** Whether what it receives reaches the account's other nodes (a webhook with the signature check on). */
  feedsInboundPath: boolean;
}

/** An attacker must not be able to flood the log: one warning per interval, with a count. */
const WARNING_INTERVAL_MS = 10_000;
/** Tokens remembered at most: a broadcast's receipts, or a stranger's fresh tokens, cannot grow it further. */
const DEDUPE_CAPACITY = 100_000;
/** Sids a poller remembers: far more than one lookback holds; each is remembered long after it can be listed again. */
const POLLED_CAPACITY = 20_000;
const POLLED_MEMORY_MS = 30 * 24 * 3600_000;

/**
 * The answer twilio-in gives when the flow's reply is late: the user's message, spoken text or TwiML
 * (the node's own text, sent as written), else Twilio's "do nothing". Built once, when the node starts:
 * at the deadline there is no time to find out that it is malformed.
 */
function fallbackTwiml(def: TwilioInDef): string {
  const text = def.fallbackText ?? '';
  if (!def.fallback || def.fallback === 'empty' || text.trim() === '') return EMPTY_TWIML;
  try {
    return def.fallback === 'twiml' ? buildTwiml('raw', {}, {}, text) : buildTwiml(def.fallback, { text }, {}, undefined, false);
  } catch {
    return EMPTY_TWIML; // the editor refuses such a fallback; one deployed by hand answers empty
  }
}

module.exports = function registerTwilioIn(RED: NodeAPI): void {
  function TwilioIn(this: TwilioInNode, def: TwilioInDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-in', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const account = RED.nodes.getNode(def.account) as (Node & TwilioAccount) | null;
    const path = def.path?.startsWith('/') ? def.path : `/${def.path ?? ''}`;
    const validate = def.validate !== false;
    const replyTimeoutMs = Math.min(seconds(def.replyTimeout, 10), LIMITS.replyWaitSeconds.max) * 1000;
    const fallback = fallbackTwiml(def);
    const dedupeWindowMs = seconds(def.dedupeWindow, 600) * 1000;
    // settings.js may shorten (or lengthen) how long a body may take: `twilioInBodyTimeout` in ms.
    const bodyTimeoutMs = Number((RED.settings as unknown as { twilioInBodyTimeout?: unknown }).twilioInBodyTimeout) || BODY_TIMEOUT_MS;
    const duplicates = new DuplicateWindow(nodeStateStore(RED, node, def.contextStore || undefined), {
      windowMs: dedupeWindowMs,
      capacity: DEDUPE_CAPACITY,
      prefix: 'twilio-in-dedupe',
    });
    let received = 0;
    let lastWarning = 0;
    let suppressedWarnings = 0;

    const publicBaseUrl = (): string | undefined => resolveEnvReferences(RED, node, def.publicBaseUrl) || undefined;
    node.feedsInboundPath = def.receive !== 'poll' && validate;
    node.publicUrl = () => {
      const base = def.receive === 'poll' ? undefined : publicBaseUrl(); // a polling node has no route
      return base ? publicWebhookUrl(RED, base, path) : undefined;
    };

    function warnThrottled(key: string, subs: Record<string, string | number>): void {
      const now = Date.now();
      if (now - lastWarning < WARNING_INTERVAL_MS) {
        suppressedWarnings++;
        return;
      }
      node.warn(RED._(key, { ...subs, suppressed: suppressedWarnings }));
      lastWarning = now;
      suppressedWarnings = 0;
    }

    if (def.receive === 'poll') return startPolling();

    if (!account) status.failed('twilio-in.status.noAccount');
    else if (!validate) status.warning('twilio-in.status.unchecked');
    else if (!account.canValidateWebhooks()) status.failed('twilio-in.status.noToken');
    else status.success('twilio-in.status.listening', { path });

    function answer(res: Response, status: number, body: string, type = 'text/xml'): void {
      if (!res.headersSent) res.status(status).type(type).send(body);
    }

    /**
     * The body, within the limits of what Twilio sends (lib/webhook.ts WEBHOOK_LIMITS), before any
     * work is spent on it: a form's parameters are counted before they are parsed, JSON's nesting
     * before it is read (after the signature check).
     */
    async function readBody(req: Request): Promise<Body> {
      const kind = webhookBodyKind(req.headers['content-type']);
      if (!kind) throw new BodyReadError(415, 'not-a-webhook-type');
      const raw = await readWebhookBody(req, kind === 'form' ? WEBHOOK_LIMITS.formBytes : WEBHOOK_LIMITS.jsonBytes, bodyTimeoutMs);
      if (kind === 'json') {
        if (nestsDeeperThan(raw)) throw new BodyReadError(413, 'too-deep');
        return { kind: 'json', raw };
      }
      if (tooManyParameters(raw)) throw new BodyReadError(413, 'too-many-parameters');
      return parseForm(raw);
    }

    async function handle(req: Request, res: Response): Promise<void> {
      if (!account) return answer(res, 500, 'Twilio account not configured', 'text/plain');
      const header = req.headers['x-twilio-signature'];
      const signature = typeof header === 'string' && header ? header : undefined;
      const url = () =>
        signedUrl(
          { originalUrl: req.originalUrl, headers: req.headers, protocol: req.protocol },
          { publicBaseUrl: publicBaseUrl(), trustProxy: def.trustProxy === true },
        );
      const reject = (warning: string, bodyRead: boolean) => {
        warnThrottled(warning, { url: url() });
        status.failed('twilio-in.status.rejected');
        if (!bodyRead) res.set('Connection', 'close'); // the unread body is not worth reading for another request
        answer(res, 403, 'Forbidden: invalid Twilio signature', 'text/plain');
      };
      // What can be refused without the body is refused before a byte of it is read.
      if (validate && !account.canValidateWebhooks()) return reject('twilio-in.warnings.noToken', false);
      if (validate && !signature) return reject('twilio-in.warnings.missingSignature', false);
      let body: Body;
      try {
        body = await readBody(req);
      } catch (err) {
        if (!(err instanceof BodyReadError)) throw err;
        if (err.status !== 0) warnThrottled('twilio-in.warnings.badBody', { reason: err.reason, status: err.status });
        return refuseBody(req, res, err);
      }
      if (validate && account.validateWebhook(signature, url(), body) !== true) return reject('twilio-in.warnings.invalidSignature', true);
      if (body.kind === 'json') body.value = jsonValue(body.raw); // read only once Twilio's signature holds
      const token = req.headers['i-twilio-idempotency-token'];
      if (def.dedupe !== false && typeof token === 'string' && token && (await duplicates.seen(token))) {
        status.warning('twilio-in.status.duplicate');
        return answer(res, 200, EMPTY_TWIML);
      }

      const params = body.kind === 'form' ? body.params : isRecord(body.value) ? body.value : {};
      const msg = inboundMessage(account, params, 'webhook');
      // An answer to a question a twilio-ask asked is that node's, not news for this flow.
      if (!msg) {
        status.success('twilio-in.status.answer');
        return answer(res, 200, EMPTY_TWIML);
      }
      if (body.kind === 'json' && !isRecord(body.value)) msg.payload = body.value; // a JSON array or scalar as it came
      Object.assign(msg, { req, res: { _res: res } });

      if (def.reply === 'flow') {
        // A twilio-reply (or http response) node answers; Twilio gives up after 15 s, so do not wait longer.
        const timer = setTimeout(() => {
          if (res.headersSent) return;
          answer(res, 200, fallback);
          status.warning('twilio-in.status.replyTimeout');
          node.warn(RED._('twilio-in.warnings.replyTimeout', { seconds: replyTimeoutMs / 1000 }));
        }, replyTimeoutMs);
        res.once('close', () => clearTimeout(timer));
        res.once('finish', () => clearTimeout(timer));
      } else {
        answer(res, 200, EMPTY_TWIML);
      }
      received++;
      status.success('twilio-in.status.received', {
        count: received,
        event: (msg as unknown as { twilio: { event: string } }).twilio.event,
      });
      node.send(msg);
    }

    /**
     * What Twilio told us, from a webhook or a poll: published on the account's one inbound path (to
     * nodes waiting for this Sid or these numbers), and the msg this node sends.
     */
    function inboundMessage(
      account: TwilioAccount,
      params: Record<string, unknown>,
      source: 'webhook' | 'poll',
      event?: 'message' | 'call',
      at?: number,
    ): NodeMessageInFlow | undefined {
      const payload: Record<string, unknown> = { ...params };
      const media = mediaOf(params);
      if (media.length > 0) payload.media = media;
      // A polled call is an incoming call whatever its status by now (a missed one has ended: no-answer).
      const summary = { ...summarise(params), ...(event ? { event } : {}) };
      // Only what Twilio provably sent reaches the account's other nodes: with the signature check off,
      // anyone could mark a message delivered or answer a question. This node still emits it.
      const unchecked = !validate && source === 'webhook';
      const published = unchecked
        ? { claimed: false }
        : inboundHubFor(account).publish({
            kind: summary.event,
            sid: summary.sid,
            from: summary.from,
            to: summary.to,
            accountSid: summary.accountSid,
            params,
            source,
            at,
          });
      if (published.claimed) return undefined;
      return {
        _msgid: RED.util.generateId(),
        payload,
        twilio: source === 'poll' ? { ...summary, source } : summary,
      } as unknown as NodeMessageInFlow;
    }

    /**
     * Receiving without a public URL: the account is asked every interval for what arrived; each new
     * message (and call) goes out once, as a webhook's would, without req and res (there is no one to
     * answer: a reply is a twilio-send to msg.payload.From).
     */
    function startPolling(): void {
      if (!account) return status.failed('twilio-in.status.noAccount');
      // Out of bounds (a flow written by hand): the nearest allowed, never a flood of requests.
      const intervalMs = Math.min(Math.max(seconds(def.pollInterval, 10), LIMITS.pollSeconds.min), LIMITS.pollSeconds.max) * 1000;
      const store = nodeStateStore(RED, node, def.contextStore || undefined);
      let wasFailing = false;
      const poller = new InboundPoller({
        client: () => account.getClient(),
        store,
        seen: new DuplicateWindow(store, { windowMs: POLLED_MEMORY_MS, capacity: POLLED_CAPACITY, prefix: 'twilio-in-polled' }),
        to: def.pollNumber?.trim() || undefined,
        messages: true,
        calls: def.pollCalls === true,
        intervalMs,
        redact: account.redact,
        onEvent: (event) => {
          const msg = inboundMessage(account, event.params, 'poll', event.kind, event.at);
          if (!msg) return; // an answer a twilio-ask took
          received++;
          node.send(msg);
        },
        onPoll: (outcome) => {
          const time = new Date(outcome.at).toLocaleTimeString();
          if (outcome.error) {
            const subs = { code: outcome.error.twilioCode ?? outcome.error.code, seconds: Math.round(outcome.nextInMs / 1000) };
            status.failed('twilio-in.status.pollFailed', subs);
            // The log hears of the first failure and of the recovery, never of each retry.
            if (!wasFailing) node.warn(RED._('twilio-in.warnings.pollFailed', { ...subs, message: outcome.error.message }));
            wasFailing = true;
            return;
          }
          if (wasFailing) node.log(RED._('twilio-in.warnings.pollRecovered'));
          wasFailing = false;
          if (outcome.truncated) node.warn(RED._('twilio-in.warnings.pollTruncated'));
          status.success('twilio-in.status.polled', { time, count: received });
        },
      });
      status.working('twilio-in.status.polling', { seconds: intervalMs / 1000 });
      const stopFeeding = inboundHubFor(account).addSource();
      poller.start();
      node.on('close', (removed: boolean, done: () => void) => {
        stopFeeding();
        void poller.stop().then(() => {
          if (removed) forgetNodeState(node);
          status.clear();
          done();
        });
      });
    }

    const isRecord = (value: unknown): value is Record<string, unknown> =>
      typeof value === 'object' && value !== null && !Array.isArray(value);

    const stopFeeding = account && validate ? inboundHubFor(account).addSource() : () => undefined;
    const route = mountWebhookRoute(RED, path, (req, res) => {
      handle(req, res).catch((err: Error) => {
        warnThrottled('twilio-in.errors.failed', { message: err.message });
        answer(res, 500, 'Error', 'text/plain');
      });
    });

    node.on('close', (removed: boolean, done: () => void) => {
      if (removed) forgetNodeState(node);
      stopFeeding();
      route.remove();
      status.clear();
      done();
    });
  }

  RED.nodes.registerType('twilio-in', TwilioIn);

  registerConnectEndpoints(RED);
};
