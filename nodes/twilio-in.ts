/**
 * twilio-in: owns a POST route on Node-RED's HTTP server for Twilio's webhooks (incoming messages
 * and calls, status callbacks), checks Twilio's signature, drops duplicate deliveries, and answers
 * Twilio with TwiML: at once, or from a twilio-reply (or http response) node in the flow.
 */
import type { Request, Response, NextFunction } from 'express';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { TwilioNodeError, toTwilioNodeError } from '../lib/errors';
import { text } from '../lib/messages';
import { resolveEnvReferences } from '../lib/properties';
import { EMPTY_TWIML } from '../lib/twiml';
import { Body, mediaOf, parseBody, signedUrl, summarise } from '../lib/webhook';
import { NodeStatus } from '../lib/status';
import type { TwilioAccount } from './twilio-config';

export interface TwilioInDef extends NodeDef {
  account: string;
  path: string;
  publicBaseUrl: string;
  trustProxy: boolean;
  validate: boolean;
  reply: 'auto' | 'flow';
  replyTimeout: number | string;
  dedupe: boolean;
  dedupeWindow: number | string;
  contextStore?: string;
}

export interface TwilioInNode extends Node {
  /** The URL Twilio should call, when a public base URL is set: for status callbacks and numbers. */
  publicUrl(): string | undefined;
}

const MAX_BODY = 1024 * 1024;
/** An attacker must not be able to flood the log: one warning per interval, with a count. */
const WARNING_INTERVAL_MS = 10_000;
const IDEMPOTENCY_KEY = 'twilio-in-idempotency';

function readStream(req: Request): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

type RawRequest = Request & { twilioRawBody?: string; _body?: boolean };

/**
 * When Node-RED's editor and nodes share a root, the editor's body parsers read every request first
 * and the exact bytes a JSON signature covers are gone. Like the core http-in node, capture the raw
 * body of our routes at the top of the root app, before any parser (which then skips: req._body).
 */
const rawRoutes = new Set<string>();
const capturingApps = new WeakSet<object>();
const routeKey = (path: string) => path.replace(/\/{2,}/g, '/').replace(/\/$/, '');

function installRawCapture(httpNode: unknown): void {
  let root = httpNode as unknown as { parent?: unknown; use(fn: unknown): void; _router?: { stack: Array<{ handle: unknown }> } };
  while (typeof root.parent === 'function') root = root.parent as unknown as typeof root;
  if (capturingApps.has(root) || typeof root.use !== 'function') return;
  capturingApps.add(root);
  const capture = (req: RawRequest, res: Response, next: NextFunction) => {
    let path: string;
    try {
      path = routeKey(new URL(req.originalUrl ?? req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return next(); // never stand in the way of a request that is not ours
    }
    if (req.method !== 'POST' || req._body || !rawRoutes.has(path)) return next();
    readStream(req).then((raw) => {
      req.twilioRawBody = raw;
      req._body = true; // body-parser's mark: "already read"
      next();
    }, (err: Error & { status?: number }) => res.status(err.status ?? 400).end());
  };
  root.use(capture);
  const stack = root._router?.stack;
  const index = stack?.findIndex((layer) => layer.handle === capture) ?? -1;
  if (stack && index > 0) stack.unshift(stack.splice(index, 1)[0]);
}

/** The body as Twilio sent it: captured raw, still unread, or (last resort) rebuilt from a parsed form. */
async function rawBodyOf(req: RawRequest): Promise<string> {
  if (typeof req.twilioRawBody === 'string') return req.twilioRawBody;
  if (!req.readableEnded && !req._body) return readStream(req);
  const parsed = (req as { body?: unknown }).body;
  if (Buffer.isBuffer(parsed)) return parsed.toString('utf8');
  if (typeof parsed === 'string') return parsed;
  if (typeof parsed === 'object' && parsed !== null) {
    if (/json/i.test(req.headers['content-type'] ?? '')) return JSON.stringify(parsed);
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(parsed)) for (const one of [value].flat()) form.append(key, String(one));
    return form.toString();
  }
  return '';
}

/** The public URL of a route: the base that reaches Node-RED, its httpNodeRoot, the node's path. */
export function publicWebhookUrl(RED: NodeAPI, base: string, path: string): string {
  const mount = (RED.httpNode as unknown as { path?: () => string }).path?.() ?? '';
  const route = path.startsWith('/') ? path : `/${path}`;
  return `${base.replace(/\/+$/, '')}${mount === '/' ? '' : mount.replace(/\/+$/, '')}${route}`;
}

function seconds(value: number | string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

module.exports = function registerTwilioIn(RED: NodeAPI): void {
  function TwilioIn(this: TwilioInNode, def: TwilioInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new NodeStatus(node, (key, subs) => RED._(key, subs));
    const account = RED.nodes.getNode(def.account) as (Node & TwilioAccount) | null;
    const path = def.path?.startsWith('/') ? def.path : `/${def.path ?? ''}`;
    const validate = def.validate !== false;
    const replyTimeoutMs = seconds(def.replyTimeout, 10) * 1000;
    const dedupeWindowMs = seconds(def.dedupeWindow, 600) * 1000;
    const context = node.context();
    const store = def.contextStore || undefined;
    const inFlightTokens = new Set<string>();
    let received = 0;
    let lastWarning = 0;
    let suppressedWarnings = 0;

    const publicBaseUrl = (): string | undefined => resolveEnvReferences(RED, node, def.publicBaseUrl) || undefined;
    node.publicUrl = () => {
      const base = publicBaseUrl();
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

    if (!account) status.failed('twilio-in.status.noAccount');
    else if (!validate) status.warning('twilio-in.status.unchecked');
    else if (!account.canValidateWebhooks()) status.failed('twilio-in.status.noToken');
    else status.success('twilio-in.status.listening', { path });

    /** Context calls with a callback work with every store, in memory or shared between instances. */
    const contextGet = (key: string) =>
      new Promise<unknown>((resolve, reject) => {
        const callback = (err: Error | undefined, value: unknown) => (err ? reject(err) : resolve(value));
        if (store) context.get(key, store, callback);
        else context.get(key, callback);
      });
    const contextSet = (key: string, value: unknown) =>
      new Promise<void>((resolve, reject) => {
        const callback = (err: Error | undefined) => (err ? reject(err) : resolve());
        if (store) context.set(key, value, store, callback);
        else context.set(key, value, callback);
      });

    /** True when this delivery was seen within the window (Twilio retried, or a proxy repeated it). */
    async function isDuplicate(token: string): Promise<boolean> {
      if (inFlightTokens.has(token)) return true;
      inFlightTokens.add(token);
      try {
        const now = Date.now();
        const seen = ((await contextGet(IDEMPOTENCY_KEY)) ?? {}) as Record<string, number>;
        const fresh: Record<string, number> = {};
        for (const [t, expiry] of Object.entries(seen)) if (expiry > now) fresh[t] = expiry;
        if (fresh[token]) return true;
        fresh[token] = now + dedupeWindowMs;
        await contextSet(IDEMPOTENCY_KEY, fresh);
        return false;
      } finally {
        inFlightTokens.delete(token);
      }
    }

    function answer(res: Response, status: number, body: string, type = 'text/xml'): void {
      if (!res.headersSent) res.status(status).type(type).send(body);
    }

    async function handle(req: Request, res: Response): Promise<void> {
      if (!account) return answer(res, 500, 'Twilio account not configured', 'text/plain');
      const raw = await rawBodyOf(req as RawRequest);
      const body: Body = parseBody(raw, req.headers['content-type']);
      if (validate) {
        const url = signedUrl({ originalUrl: req.originalUrl, headers: req.headers, protocol: req.protocol }, { publicBaseUrl: publicBaseUrl(), trustProxy: def.trustProxy === true });
        const signature = req.headers['x-twilio-signature'];
        const verdict = account.validateWebhook(typeof signature === 'string' ? signature : undefined, url, body);
        if (verdict !== true) {
          warnThrottled(verdict === undefined ? 'twilio-in.warnings.noToken' : signature ? 'twilio-in.warnings.invalidSignature' : 'twilio-in.warnings.missingSignature', { url });
          status.failed('twilio-in.status.rejected');
          return answer(res, 403, 'Forbidden: invalid Twilio signature', 'text/plain');
        }
      }
      const token = req.headers['i-twilio-idempotency-token'];
      if (def.dedupe !== false && typeof token === 'string' && token && (await isDuplicate(token))) {
        status.warning('twilio-in.status.duplicate');
        return answer(res, 200, EMPTY_TWIML);
      }

      const params = body.kind === 'form' ? body.params : typeof body.value === 'object' && body.value !== null ? (body.value as Record<string, unknown>) : {};
      const payload: Record<string, unknown> = body.kind === 'form' ? { ...body.params } : { ...(params as object) };
      const media = mediaOf(params);
      if (media.length > 0) payload.media = media;
      const msg = {
        _msgid: RED.util.generateId(),
        payload: body.kind === 'json' && (typeof body.value !== 'object' || body.value === null) ? body.value : payload,
        twilio: summarise(params),
        req,
        res: { _res: res },
      } as unknown as NodeMessageInFlow;

      if (def.reply === 'flow') {
        // A twilio-reply (or http response) node answers; Twilio gives up after 15 s, so do not wait longer.
        const timer = setTimeout(() => {
          if (res.headersSent) return;
          answer(res, 200, EMPTY_TWIML);
          status.warning('twilio-in.status.replyTimeout');
          node.warn(RED._('twilio-in.warnings.replyTimeout', { seconds: replyTimeoutMs / 1000 }));
        }, replyTimeoutMs);
        res.once('close', () => clearTimeout(timer));
        res.once('finish', () => clearTimeout(timer));
      } else {
        answer(res, 200, EMPTY_TWIML);
      }
      received++;
      status.success('twilio-in.status.received', { count: received, event: (msg as unknown as { twilio: { event: string } }).twilio.event });
      node.send(msg);
    }

    const middleware = (RED.settings as unknown as { httpNodeMiddleware?: unknown }).httpNodeMiddleware;
    const before = (typeof middleware === 'function' ? [middleware] : Array.isArray(middleware) ? middleware : []) as Array<(req: Request, res: Response, next: NextFunction) => void>;
    const route = (req: Request, res: Response) => {
      handle(req, res).catch((err: Error & { status?: number }) => {
        node.error(RED._('twilio-in.errors.failed', { message: err.message }));
        answer(res, err.status ?? 500, 'Error', 'text/plain');
      });
    };
    const mount = (RED.httpNode as unknown as { path?: () => string }).path?.() ?? '';
    const fullPath = routeKey(`${mount === '/' ? '' : mount}${path}`);
    rawRoutes.add(fullPath);
    installRawCapture(RED.httpNode);
    RED.httpNode.post(path, ...before, route);

    node.on('close', (done: () => void) => {
      // Like the core http-in node: take this node's route out of Node-RED's router.
      const router = (RED.httpNode as unknown as { _router?: { stack: Array<{ route?: { path: string; methods: Record<string, boolean>; stack: Array<{ handle: unknown }> } }> } })._router;
      if (router) {
        router.stack = router.stack.filter((layer) => !(layer.route && layer.route.path === path && layer.route.methods.post && layer.route.stack.some((s) => s.handle === route)));
      }
      rawRoutes.delete(fullPath);
      status.clear();
      done();
    });
  }

  RED.nodes.registerType('twilio-in', TwilioIn);

  // The editor's "connect a number" button: lists the account's numbers, and points one's SmsUrl or
  // VoiceUrl at a twilio-in route. It uses the deployed account node: secrets never reach the editor.
  const accountFor = (id: unknown) => {
    const account = typeof id === 'string' ? (RED.nodes.getNode(id) as (Node & TwilioAccount) | null) : null;
    if (!account || typeof account.getClient !== 'function') throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-in.connect.deployFirst'));
    return account;
  };
  const fail = (res: Response, err: unknown) => {
    const error = toTwilioNodeError(err).localise(RED._);
    res.status(400).json({ code: error.code, error: error.message });
  };
  RED.httpAdmin.get('/twilio-in/numbers', RED.auth.needsPermission('twilio-in.read'), (req, res) => {
    (async () => {
      const numbers = await accountFor(req.query.account).getClient().incomingPhoneNumbers.list({ limit: 200 });
      res.json(numbers.map((n) => ({ sid: n.sid, phoneNumber: n.phoneNumber, friendlyName: n.friendlyName, smsUrl: n.smsUrl, voiceUrl: n.voiceUrl })));
    })().catch((err: unknown) => fail(res, err));
  });
  RED.httpAdmin.post('/twilio-in/connect', RED.auth.needsPermission('twilio-in.write'), (req, res) => {
    (async () => {
      const { account, publicBaseUrl, path, which, number } = (req.body ?? {}) as Record<string, unknown>;
      const base = resolveEnvReferences(RED, undefined, typeof publicBaseUrl === 'string' ? publicBaseUrl : '');
      if (!/^https?:\/\/\S+$/.test(base)) throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-in.connect.needsPublicUrl'));
      if (typeof path !== 'string' || !path) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'path' }));
      if (typeof number !== 'string' || !/^PN[0-9a-fA-F]{32}$/.test(number)) throw new TwilioNodeError('INVALID_INPUT', text('choosePhoneNumber'));
      const url = publicWebhookUrl(RED, base, path);
      const update = which === 'voice' ? { voiceUrl: url, voiceMethod: 'POST' } : { smsUrl: url, smsMethod: 'POST' };
      const updated = await accountFor(account).getClient().incomingPhoneNumbers(number).update(update);
      res.json({ sid: updated.sid, phoneNumber: updated.phoneNumber, url });
    })().catch((err: unknown) => fail(res, err));
  });
};
