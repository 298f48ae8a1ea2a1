/**
 * A local, stateful stand-in for Twilio's 2010-04-01 REST API. It checks basic auth like Twilio
 * (Account SID + Auth Token, or API Key SID + secret), answers in Twilio's shapes, and can add latency,
 * cap concurrent requests (429 / 20429 above the cap, as Twilio does per account) and inject faults.
 * Tests, the demo and the benchmarks all run against it; it listens on 127.0.0.1 only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  API_VERSION,
  Params,
  SimulatedError,
  TwilioRecord,
  accountRecord,
  createCall,
  createMessage,
} from './resources';

export interface SimulatedAccount {
  sid: string;
  authToken: string;
  friendlyName?: string;
  status?: 'active' | 'suspended' | 'closed';
  apiKeys?: Array<{ sid: string; secret: string }>;
}

/** One injected fault: an HTTP error, a dropped connection, or no answer at all. */
export type Fault =
  | { type: 'http'; status: number; code?: number; message?: string; retryAfter?: number }
  | { type: 'reset' }
  | { type: 'timeout' };

/** Probabilities (0..1) of a fault on each request, drawn from a seeded generator. */
export interface FaultRates {
  tooManyRequests?: number;
  serverError?: number;
  unavailable?: number;
  reset?: number;
  timeout?: number;
}

export interface SimulatorOptions {
  accounts?: SimulatedAccount[];
  latencyMs?: number;
  /** Concurrent requests allowed per account before 429 (Twilio's concurrency limit); 0 = none. */
  maxConcurrent?: number;
  faultRates?: FaultRates;
  seed?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Params;
  params: Params;
  username?: string;
  at: number;
}

export const DEMO_ACCOUNT: SimulatedAccount = {
  sid: 'AC0123456789abcdef0123456789abcdef',
  authToken: 'demo-auth-token-0123456789abcdef',
  friendlyName: 'Simulated demo account',
  apiKeys: [{ sid: 'SK0123456789abcdef0123456789abcdef', secret: 'demo-api-key-secret-0123456789ab' }],
};

type Handler = (ctx: RequestContext) => { status: number; body: TwilioRecord } | Promise<{ status: number; body: TwilioRecord }>;

interface RequestContext {
  account: SimulatedAccount;
  params: Params;
  query: Params;
  match: RegExpMatchArray;
}

function parseForm(text: string): Params {
  const out: Params = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else out[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

/** A small seeded generator (mulberry32) so fault runs can be repeated exactly. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class TwilioSimulator {
  readonly accounts = new Map<string, SimulatedAccount>();
  readonly messages = new Map<string, TwilioRecord>();
  readonly calls = new Map<string, TwilioRecord>();
  readonly requests: RecordedRequest[] = [];
  latencyMs: number;
  maxConcurrent: number;
  faultRates: FaultRates;
  /** Counters a benchmark or a test reads: how many requests were refused for each reason. */
  readonly stats = { requests: 0, tooManyRequests: 0, faults: 0, created: 0 };

  private server?: http.Server;
  private readonly pendingFaults: Fault[] = [];
  private readonly inFlight = new Map<string, number>();
  private readonly random: () => number;
  private readonly heldSockets = new Set<import('node:net').Socket>();
  private readonly routes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [];

  constructor(options: SimulatorOptions = {}) {
    for (const account of options.accounts ?? [DEMO_ACCOUNT]) this.accounts.set(account.sid, account);
    this.latencyMs = options.latencyMs ?? 0;
    this.maxConcurrent = options.maxConcurrent ?? 0;
    this.faultRates = options.faultRates ?? {};
    this.random = seededRandom(options.seed ?? 1);
    this.defineRoutes();
  }

  get url(): string {
    if (!this.server) throw new Error('simulator is not started');
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (socket) => {
      this.heldSockets.add(socket);
      socket.on('close', () => this.heldSockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    this.server = undefined;
    for (const socket of this.heldSockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Queues faults for the next requests, in order (after auth, before the request is handled). */
  failNext(...faults: Fault[]): void {
    this.pendingFaults.push(...faults);
  }

  /** Forgets every object and recorded request (accounts and settings stay). */
  reset(): void {
    this.messages.clear();
    this.calls.clear();
    this.requests.length = 0;
    this.pendingFaults.length = 0;
    Object.assign(this.stats, { requests: 0, tooManyRequests: 0, faults: 0, created: 0 });
  }

  private defineRoutes(): void {
    const account = `/${API_VERSION}/Accounts/(AC[0-9a-fA-F]{32})`;
    const route = (method: string, path: string, handler: Handler) =>
      this.routes.push({ method, pattern: new RegExp(`^${path}$`), handler });

    route('GET', `${account}\\.json`, ({ account: a }) => ({
      status: 200,
      body: accountRecord(a.sid, a.friendlyName ?? a.sid, a.status ?? 'active'),
    }));
    route('POST', `${account}/Messages\\.json`, ({ account: a, params }) => this.created(this.messages, createMessage(a.sid, params)));
    route('GET', `${account}/Messages\\.json`, (ctx) => this.page(ctx, 'messages', this.messages));
    route('GET', `${account}/Messages/((?:SM|MM)[0-9a-fA-F]{32})\\.json`, ({ match }) => this.fetch(this.messages, match[2]));
    route('POST', `${account}/Calls\\.json`, ({ account: a, params }) => this.created(this.calls, createCall(a.sid, params)));
    route('GET', `${account}/Calls\\.json`, (ctx) => this.page(ctx, 'calls', this.calls));
    route('GET', `${account}/Calls/(CA[0-9a-fA-F]{32})\\.json`, ({ match }) => this.fetch(this.calls, match[2]));
  }

  private created(store: Map<string, TwilioRecord>, record: TwilioRecord) {
    store.set(record.sid as string, record);
    this.stats.created++;
    return { status: 201, body: record };
  }

  private fetch(store: Map<string, TwilioRecord>, sid: string) {
    const record = store.get(sid);
    if (!record) throw new SimulatedError(404, 20404, `The requested resource ${sid} was not found`);
    return { status: 200, body: record };
  }

  /** Twilio's page shape: the list under its own key plus paging URIs. */
  private page({ account, query, match }: RequestContext, key: string, store: Map<string, TwilioRecord>) {
    const pageSize = Math.min(Math.max(Number(query.PageSize ?? 50) || 50, 1), 1000);
    const page = Math.max(Number(query.Page ?? 0) || 0, 0);
    const filters = Object.entries(query).filter(([k]) => ['To', 'From', 'Status'].includes(k));
    const items = [...store.values()]
      .filter((r) => r.account_sid === account.sid)
      .filter((r) => filters.every(([k, v]) => r[k.toLowerCase()] === v))
      .reverse(); // newest first, as Twilio lists
    const slice = items.slice(page * pageSize, (page + 1) * pageSize);
    const path = match[0];
    const uriFor = (p: number) => `${path}?PageSize=${pageSize}&Page=${p}`;
    return {
      status: 200,
      body: {
        [key]: slice,
        end: page * pageSize + slice.length - 1,
        first_page_uri: uriFor(0),
        next_page_uri: (page + 1) * pageSize < items.length ? uriFor(page + 1) : null,
        page,
        page_size: pageSize,
        previous_page_uri: page > 0 ? uriFor(page - 1) : null,
        start: page * pageSize,
        uri: uriFor(page),
      },
    };
  }

  private authenticate(req: http.IncomingMessage, accountSid: string | undefined): { account: SimulatedAccount; username: string } {
    const header = req.headers.authorization ?? '';
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    const separator = decoded.indexOf(':');
    const username = separator > 0 ? decoded.slice(0, separator) : '';
    const password = separator > 0 ? decoded.slice(separator + 1) : '';
    const account = accountSid ? this.accounts.get(accountSid) : undefined;
    const valid =
      account &&
      ((username === account.sid && password === account.authToken) ||
        (account.apiKeys ?? []).some((key) => key.sid === username && key.secret === password));
    if (!account || !valid) {
      throw new SimulatedError(401, 20003, 'Authenticate', { 'WWW-Authenticate': 'Basic realm="Twilio API"' });
    }
    return { account, username };
  }

  private drawFault(): Fault | undefined {
    const queued = this.pendingFaults.shift();
    if (queued) return queued;
    const r = this.faultRates;
    const draws: Array<[number | undefined, Fault]> = [
      [r.tooManyRequests, { type: 'http', status: 429, code: 20429, message: 'Too Many Requests', retryAfter: 1 }],
      [r.serverError, { type: 'http', status: 500, code: 20500, message: 'Internal Server Error' }],
      [r.unavailable, { type: 'http', status: 503, code: 20503, message: 'Service Unavailable' }],
      [r.reset, { type: 'reset' }],
      [r.timeout, { type: 'timeout' }],
    ];
    for (const [rate, fault] of draws) if (rate && this.random() < rate) return fault;
    return undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/_sim/')) return this.control(req, res, url, Buffer.concat(chunks).toString('utf8'));

    this.stats.requests++;
    const accountSid = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})/.exec(url.pathname)?.[1];
    const concurrencyKey = accountSid ?? '-';
    const inFlight = (this.inFlight.get(concurrencyKey) ?? 0) + 1;
    this.inFlight.set(concurrencyKey, inFlight);
    try {
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      if (this.maxConcurrent > 0 && inFlight > this.maxConcurrent) {
        this.stats.tooManyRequests++;
        throw new SimulatedError(429, 20429, 'Too Many Requests');
      }
      const { account, username } = this.authenticate(req, accountSid);
      const query = parseForm(url.search.slice(1));
      const params = parseForm(Buffer.concat(chunks).toString('utf8'));
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, params, username, at: Date.now() });

      const fault = this.drawFault();
      if (fault) {
        this.stats.faults++;
        if (fault.type === 'reset') return void req.socket.destroy();
        if (fault.type === 'timeout') return; // never answered: the client gives up, the socket dies on stop()
        throw new SimulatedError(fault.status, fault.code, fault.message ?? http.STATUS_CODES[fault.status] ?? 'Error',
          fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {});
      }
      const candidates = this.routes.filter((r) => r.pattern.test(url.pathname));
      const routeFound = candidates.find((r) => r.method === req.method);
      if (!routeFound) {
        if (candidates.length > 0) throw new SimulatedError(405, 20004, 'Method not allowed');
        throw new SimulatedError(404, 20404, `The requested resource ${url.pathname} was not found`);
      }
      const match = url.pathname.match(routeFound.pattern)!;
      const { status, body } = await routeFound.handler({ account, params, query, match });
      this.send(res, status, body);
    } catch (err) {
      if (err instanceof SimulatedError) this.send(res, err.status, err.body(), err.headers);
      else this.send(res, 500, { code: 20500, message: String(err), more_info: '', status: 500 });
    } finally {
      this.inFlight.set(concurrencyKey, (this.inFlight.get(concurrencyKey) ?? 1) - 1);
    }
  }

  private send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** Unauthenticated control endpoints for the demo and benchmarks in other processes. */
  private control(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string): void {
    const action = `${req.method} ${url.pathname}`;
    if (action === 'GET /_sim/messages') return this.send(res, 200, [...this.messages.values()]);
    if (action === 'GET /_sim/calls') return this.send(res, 200, [...this.calls.values()]);
    if (action === 'GET /_sim/stats') return this.send(res, 200, this.stats);
    if (action === 'POST /_sim/reset') {
      this.reset();
      return this.send(res, 200, { ok: true });
    }
    if (action === 'POST /_sim/settings') {
      try {
        const settings = JSON.parse(body || '{}') as { latencyMs?: number; maxConcurrent?: number; faultRates?: FaultRates; failNext?: Fault[] };
        if (settings.latencyMs !== undefined) this.latencyMs = settings.latencyMs;
        if (settings.maxConcurrent !== undefined) this.maxConcurrent = settings.maxConcurrent;
        if (settings.faultRates !== undefined) this.faultRates = settings.faultRates;
        if (settings.failNext) this.failNext(...settings.failNext);
        return this.send(res, 200, { ok: true });
      } catch (err) {
        return this.send(res, 400, { error: String(err) });
      }
    }
    this.send(res, 404, { error: 'unknown control endpoint' });
  }
}
