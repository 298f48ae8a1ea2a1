/**
 * The HTTP side of a twilio-in route, in one typed place over Express's internals: mounting a POST
 * route on RED.httpNode (behind httpNodeMiddleware), taking it out again, and reading the body a
 * signature covers, with a size cap and a deadline. Nothing here throws into Express or Node-RED:
 * whatever a client sends or fails to send ends as an HTTP status or as silence on a dead socket.
 */
import type { IncomingMessage } from 'node:http';
import type { NodeAPI } from 'node-red';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Clock, systemClock } from '../core/clock';

/** Twilio sends a webhook's body at once and gives up after 15 s: a body slower than this is not Twilio. */
export const BODY_TIMEOUT_MS = 10_000;

/** Why a body could not be read: `status` is what the client is told (0: the client is gone). */
export class BodyReadError extends Error {
  constructor(
    readonly status: 0 | 400 | 408 | 413 | 415,
    readonly reason: 'aborted' | 'malformed' | 'timeout' | 'too-large' | 'too-many-parameters' | 'too-deep' | 'not-a-webhook-type',
  ) {
    super(reason);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
};

/** What Express gives us of an app: enough to find the root, add a middleware and remove a route. */
interface ExpressApp {
  parent?: ExpressApp;
  use(handler: RequestHandler): void;
  post(path: string, ...handlers: RequestHandler[]): void;
  path?: () => string;
  _router?: { stack: Layer[] };
}

interface Layer {
  handle: unknown;
  route?: { path: string; methods: Record<string, boolean>; stack: Array<{ handle: unknown }> };
}

/** A request we told the editor's body parsers to leave alone; its body waits for our route. */
type DeferredRequest = IncomingMessage & { _body?: boolean; twilioBodyDeferred?: boolean; body?: unknown; originalUrl?: string };

/** A path as Express routes it: case-insensitive, a trailing slash and doubled slashes ignored. */
const routeKey = (path: string) =>
  path
    .replace(/\/{2,}/g, '/')
    .replace(/\/$/, '')
    .toLowerCase();
/**
 * The path of a request target as Express routes it (parseurl's pathname): an absolute-form target
 * loses its scheme and host, and the path ends at `?` or `#`. Not decoded: Express matches it raw.
 */
function pathnameOf(target: string): string {
  let path = target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    const slash = path.indexOf('/', path.indexOf('//') + 2);
    path = slash === -1 ? '/' : path.slice(slash);
  }
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

/** Paths (with httpNodeRoot) of every twilio-in route, counted: two nodes may briefly share one across a redeploy. */
const deferredRoutes = new Map<string, number>();
const markedApps = new WeakSet<object>();

/**
 * When Node-RED's editor and nodes share a root, the editor's body parsers (5 MB, before httpNodeAuth)
 * would read every POST first and the exact bytes a JSON signature covers would be gone. A hook at the
 * top of the root app marks our routes' requests as read for body-parser (`_body`) without reading a
 * byte: the body waits, and our route reads it after httpNodeAuth and httpNodeMiddleware have had
 * their say. The hook only sets two flags, so nothing a client sends can make it throw.
 */
function deferBodiesAtRoot(httpNode: ExpressApp): void {
  let root = httpNode;
  while (root.parent && typeof root.parent.use === 'function') root = root.parent;
  if (markedApps.has(root) || typeof root.use !== 'function') return;
  markedApps.add(root);
  const defer = (req: Request, _res: Response, next: NextFunction) => {
    if (onRefusedConnection(req)) return void req.resume(); // no route takes it; the connection goes (closeAfterAnswer)
    const raw = req as unknown as DeferredRequest;
    if (raw.method === 'POST' && !raw._body && deferredRoutes.size > 0) {
      const path = pathnameOf(raw.originalUrl ?? raw.url ?? '/');
      if (deferredRoutes.has(routeKey(path))) {
        raw._body = true;
        raw.twilioBodyDeferred = true;
      }
    }
    next();
  };
  root.use(defer as RequestHandler);
  const stack = root._router?.stack;
  const index = stack?.findIndex((layer) => layer.handle === defer) ?? -1;
  if (stack && index > 0) stack.unshift(stack.splice(index, 1)[0]);
}

/** httpNodeMiddleware from settings.js, as the core http-in node applies it: before the route. */
function nodeMiddleware(RED: NodeAPI): RequestHandler[] {
  const middleware = (RED.settings as unknown as { httpNodeMiddleware?: unknown }).httpNodeMiddleware;
  return (typeof middleware === 'function' ? [middleware] : Array.isArray(middleware) ? middleware : []) as RequestHandler[];
}

/** The public URL of a route: the base that reaches Node-RED, its httpNodeRoot, the route's path. */
export function publicWebhookUrl(RED: NodeAPI, base: string, path: string): string {
  const mount = (RED.httpNode as unknown as ExpressApp).path?.() ?? '';
  const route = path.startsWith('/') ? path : `/${path}`;
  return `${base.replace(/\/+$/, '')}${mount === '/' ? '' : mount.replace(/\/+$/, '')}${route}`;
}

export interface MountedRoute {
  /** The route's path with httpNodeRoot in front, as requests arrive at the root. */
  readonly fullPath: string;
  remove(): void;
}

/** Mounts `handler` as POST `path` on RED.httpNode, behind httpNodeMiddleware, with its body deferred. */
export function mountWebhookRoute(RED: NodeAPI, path: string, handler: (req: Request, res: Response) => void): MountedRoute {
  const app = RED.httpNode as unknown as ExpressApp;
  const mount = app.path?.() ?? '';
  const fullPath = routeKey(`${mount === '/' ? '' : mount}${path}`);
  deferredRoutes.set(fullPath, (deferredRoutes.get(fullPath) ?? 0) + 1);
  deferBodiesAtRoot(app);
  const route: RequestHandler = (req, res) => handler(req, res);
  app.post(path, ...nodeMiddleware(RED), route);
  return {
    fullPath,
    remove() {
      // Like the core http-in node: take this route (and only this one) out of Node-RED's router.
      const router = app._router;
      if (router)
        router.stack = router.stack.filter((layer) => !(layer.route?.methods.post && layer.route.stack.some((s) => s.handle === route)));
      const count = (deferredRoutes.get(fullPath) ?? 1) - 1;
      if (count > 0) deferredRoutes.set(fullPath, count);
      else deferredRoutes.delete(fullPath);
    },
  };
}

/**
 * The body exactly as sent, at most `maxBytes`, within `timeoutMs`. Refuses a declared length over
 * the cap before reading anything. A request whose body someone else already parsed (a body parser in
 * httpNodeMiddleware) is rebuilt from what they parsed, a last resort that JSON signatures may fail.
 */
export function readWebhookBody(req: Request, maxBytes: number, timeoutMs = BODY_TIMEOUT_MS, clock: Clock = systemClock): Promise<string> {
  const raw = req as unknown as DeferredRequest;
  if (!raw.twilioBodyDeferred && (raw._body || raw.readableEnded)) {
    const rebuilt = rebuildParsedBody(raw);
    return Buffer.byteLength(rebuilt) > maxBytes ? Promise.reject(new BodyReadError(413, 'too-large')) : Promise.resolve(rebuilt);
  }
  const declared = Number(raw.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(new BodyReadError(413, 'too-large'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error?: BodyReadError) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('aborted', onAborted);
      raw.off('close', onClose);
      raw.off('error', onError);
      if (error) {
        raw.on('error', () => undefined); // late socket errors of a refused body are expected
        raw.resume(); // what is still coming is discarded, not buffered
        reject(error);
      } else {
        resolve(Buffer.concat(chunks, size).toString('utf8'));
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish(new BodyReadError(413, 'too-large'));
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onAborted = () => finish(new BodyReadError(0, 'aborted'));
    const onClose = () => finish(new BodyReadError(0, 'aborted'));
    const onError = () => finish(new BodyReadError(raw.destroyed ? 0 : 400, raw.destroyed ? 'aborted' : 'malformed'));
    const timer = clock.setTimeout(() => finish(new BodyReadError(408, 'timeout')), timeoutMs);
    raw.on('data', onData);
    raw.once('end', onEnd);
    raw.once('aborted', onAborted);
    raw.once('close', onClose);
    raw.on('error', onError);
  });
}

function rebuildParsedBody(req: DeferredRequest): string {
  const parsed = req.body;
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

/**
 * Tells a client its body was refused (or, for a 415, never read) and closes the connection: the rest of an oversized or slow
 * body is not read, and the socket is not kept for another request.
 */
export function refuseBody(req: Request, res: Response, error: BodyReadError, clock: Clock = systemClock): void {
  if (error.status === 0 || res.headersSent || res.writableEnded) {
    if (!req.socket.destroyed && error.status === 0) req.socket.destroy();
    return;
  }
  closeAfterAnswer(req, res, clock);
  res.status(error.status).type('text/plain').send(STATUS_TEXT[error.status]);
}

const refusedSockets = new WeakSet<object>();

/**
 * Whether `req` came on a connection an earlier request of which was refused (closeAfterAnswer). Node
 * hands on a request pipelined behind the refused one as soon as it has parsed it, even before the
 * refusal is written, but its answer could never be sent: the connection goes. No route takes it
 * (the hook at the root, and twilio-in's receiver where there is no hook).
 */
export const onRefusedConnection = (req: Request): boolean => refusedSockets.has(req.socket);

/** How long a refused client may go on sending after its answer, read and dropped, before its connection goes. */
export const REFUSED_LINGER_MS = 1_000;

/**
 * Marks an answer to a request whose body was not read (or not all of it) as the connection's last,
 * and lets the connection close the way that answer still reaches the client: Node ends a
 * `Connection: close` answer with `socket.destroySoon()`, which destroys the socket the moment the
 * answer is written. A client still sending then meets a closed socket, the kernel resets the
 * connection, and a reset can take the answer with it before the client reads it. So this socket's
 * destroySoon half-closes instead: our side ends after the answer, what the client still sends is
 * read and dropped, and the socket goes when the client ends its side or after REFUSED_LINGER_MS,
 * whatever it sends meanwhile.
 */
export function closeAfterAnswer(req: Request, res: Response, clock: Clock = systemClock): void {
  res.set('Connection', 'close');
  refusedSockets.add(req.socket);
  req.resume(); // the body's bytes are pulled off the wire and dropped, never buffered
  const socket = req.socket;
  if (socket.destroyed) return;
  socket.destroySoon = () => {
    const timer = clock.setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    socket.once('close', () => clock.clearTimeout(timer));
    socket.once('end', () => socket.destroy());
    socket.on('error', () => undefined); // a client that resets a refused connection is no news
    socket.end();
  };
}
