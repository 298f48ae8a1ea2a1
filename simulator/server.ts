/**
 * A local, stateful stand-in for Twilio's 2010-04-01 REST API. It checks basic auth like Twilio
 * (Account SID + Auth Token, or API Key SID + secret), answers in Twilio's shapes, and can add latency,
 * cap concurrent requests (429 / 20429 above the cap, as Twilio does per account) and inject faults.
 * Tests, the demo and the benchmarks all run against it; it listens on 127.0.0.1 only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { COLLECTIONS, CollectionDef, availableNumbers, base, paramsToFields, seedRecords, subaccountRecord } from './collections';
import { lookupRecord, usageRecords } from './extras';
import {
  API_VERSION,
  Params,
  SimulatedError,
  TwilioRecord,
  accountRecord,
  first,
  list,
  newSid,
  setClockSkew,
  twilioDate,
  twilioNow,
} from './resources';
import { Delivery, DeliveryOptions, deliverWebhook } from './webhooks';
import { Person, SIMULATED_PEOPLE, callSteps, messageSteps } from './people';
import { SimulatedVerify } from './verify';
import { MediaFetcher, mediaFailedSteps } from './media';

export interface SimulatedAccount {
  sid: string;
  authToken: string;
  friendlyName?: string;
  status?: 'active' | 'suspended' | 'closed';
  apiKeys?: Array<{ sid: string; secret: string }>;
}

/** One injected fault: an HTTP error, a dropped connection, or no answer at all. */
export type Fault =
  { type: 'http'; status: number; code?: number; message?: string; retryAfter?: number } | { type: 'reset' } | { type: 'timeout' };

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
  /** Creates a few records (a conference with participants, a recorded call, …) at start; default true. */
  seedData?: boolean;
  /** Delay before each status callback after a send (Twilio's sent, delivered, …); default 20 ms. */
  statusCallbackDelayMs?: number;
  /** What becomes of messages and calls to some numbers (beside SIMULATED_PEOPLE): undelivered, busy, voicemail, … */
  people?: Record<string, Person>;
  /** How far Twilio's clock is ahead of this machine's (ms; negative: behind), for the dates it writes. */
  clockSkewMs?: number;
}

/** A person who texts one of the account's numbers, once after `afterMs`, or every `everyMs` (`count` times). */
export interface ScheduledText extends InboundMessage {
  afterMs?: number;
  everyMs?: number;
  count?: number;
}

export interface InboundMessage {
  from: string;
  to: string;
  body?: string;
  mediaUrls?: string[];
}

/** What came of an inbound message or call: the webhook Twilio sent, or none (the number has no URL). */
export interface Arrival {
  sid: string;
  delivery?: Delivery;
}

export interface InboundOptions {
  /** Call this URL instead of the number's SmsUrl / VoiceUrl. */
  url?: string;
  json?: boolean;
  idempotencyToken?: string;
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

type Reply = { status: number; body: TwilioRecord | null };
type Handler = (ctx: RequestContext) => Reply;

interface RequestContext {
  /** The account the path names (or, for paths without one, the one the credentials belong to). */
  accountSid: string;
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

const SID = (prefix: string) => `${prefix}[0-9a-fA-F]{32}`;

/** A record's Twilio date as a time, or NaN. */
const timeOf = (value: unknown) => (typeof value === 'string' ? Date.parse(value) : NaN);

export class TwilioSimulator {
  readonly accounts = new Map<string, SimulatedAccount>();
  /** Subaccounts created through the API: sid → its record (owner_account_sid says whose). */
  readonly subaccounts = new Map<string, TwilioRecord>();
  /** Every stored object, by collection name (see COLLECTIONS) and sid. */
  readonly store = new Map<string, Map<string, TwilioRecord>>();
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
  private readonly sockets = new Set<import('node:net').Socket>();
  private readonly routes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [];
  private readonly seedData: boolean;
  /** Delay before each status step after a send. */
  statusCallbackDelayMs: number;
  private readonly pending = new Set<Promise<unknown>>();
  /** Every webhook the simulator sent (status callbacks, inbound messages and calls), with the answer. */
  readonly deliveries: Delivery[] = [];
  /** Numbers whose messages and calls do not simply succeed (see people.ts). */
  people: Record<string, Person>;
  /** The MMS media fetched before a message goes (see media.ts). */
  readonly media = new MediaFetcher();
  private readonly schedules = new Set<NodeJS.Timeout>();
  /** Twilio Verify v2 (simulator/verify.ts): services, verifications, checks, and the codes it sent. */
  readonly verify = new SimulatedVerify(() => this.people);

  constructor(options: SimulatorOptions = {}) {
    for (const account of options.accounts ?? [DEMO_ACCOUNT]) this.accounts.set(account.sid, account);
    this.latencyMs = options.latencyMs ?? 0;
    this.maxConcurrent = options.maxConcurrent ?? 0;
    this.faultRates = options.faultRates ?? {};
    this.random = seededRandom(options.seed ?? 1);
    this.seedData = options.seedData ?? true;
    this.statusCallbackDelayMs = options.statusCallbackDelayMs ?? 20;
    this.people = { ...SIMULATED_PEOPLE, ...options.people };
    setClockSkew(options.clockSkewMs ?? 0);
    for (const def of COLLECTIONS) this.store.set(def.name, new Map());
    this.defineRoutes();
    this.seed();
    this.verify.reset(this.accounts.keys());
  }

  get messages(): Map<string, TwilioRecord> {
    return this.collection('messages');
  }

  get calls(): Map<string, TwilioRecord> {
    return this.collection('calls');
  }

  collection(name: string): Map<string, TwilioRecord> {
    const found = this.store.get(name);
    if (!found) throw new Error(`no collection ${name}`);
    return found;
  }

  /** The first stored record of a collection that matches, for tests that need a seeded Sid. */
  find(name: string, match: (record: TwilioRecord) => boolean = () => true): TwilioRecord | undefined {
    return [...this.collection(name).values()].find(match);
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
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    return this.url;
  }

  /** Resolves when every status callback and webhook under way has been delivered. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async stop(): Promise<void> {
    this.cancelSchedules();
    this.media.reset();
    await this.settled();
    if (!this.server) return;
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Queues faults for the next requests, in order (after auth, before the request is handled). */
  failNext(...faults: Fault[]): void {
    this.pendingFaults.push(...faults);
  }

  /** Forgets every object and recorded request, then seeds again (accounts and settings stay). */
  reset(): void {
    for (const records of this.store.values()) records.clear();
    this.subaccounts.clear();
    this.requests.length = 0;
    this.deliveries.length = 0;
    this.media.reset();
    this.pendingFaults.length = 0;
    this.cancelSchedules();
    Object.assign(this.stats, { requests: 0, tooManyRequests: 0, faults: 0, created: 0 });
    this.seed();
    this.verify.reset(this.accounts.keys());
  }

  private seed(): void {
    if (!this.seedData) return;
    for (const account of this.accounts.keys()) seedRecords(account, (name, record) => this.insert(name, record));
  }

  private insert(name: string, record: TwilioRecord): void {
    const def = COLLECTIONS.find((c) => c.name === name)!;
    this.collection(name).set(this.keyOf(def, record), record);
  }

  private keyOf(def: CollectionDef, record: TwilioRecord): string {
    return String(def.idFields ? record[def.idFields[0]] : record.sid);
  }

  private defineRoutes(): void {
    const account = `/${API_VERSION}/Accounts/(AC[0-9a-fA-F]{32})`;
    const route = (method: string, path: string, handler: Handler) =>
      this.routes.push({ method, pattern: new RegExp(`^${path}$`), handler });

    route('GET', `/${API_VERSION}/Accounts\\.json`, (ctx) =>
      this.page(
        ctx,
        'accounts',
        this.visibleAccounts(ctx.accountSid).filter(
          (a) =>
            (!ctx.query.FriendlyName || a.friendly_name === first(ctx.query.FriendlyName)) &&
            (!ctx.query.Status || a.status === first(ctx.query.Status)),
        ),
      ),
    );
    route('POST', `/${API_VERSION}/Accounts\\.json`, ({ accountSid, params }) => {
      const record = subaccountRecord(accountSid, params);
      this.subaccounts.set(record.sid as string, record);
      this.stats.created++;
      return { status: 201, body: record };
    });
    route('GET', `${account}\\.json`, ({ accountSid }) => ({ status: 200, body: this.accountBody(accountSid) }));
    route('POST', `${account}\\.json`, ({ accountSid, params }) => {
      const status = first(params.Status);
      if (status !== undefined && !['active', 'suspended', 'closed'].includes(status))
        throw new SimulatedError(400, 20009, 'Status must be active, suspended or closed');
      const record = this.subaccounts.get(accountSid);
      if (!record) {
        if (status) throw new SimulatedError(403, 20006, 'The main account cannot change its own status');
        const own = this.accounts.get(accountSid)!;
        if (first(params.FriendlyName)) own.friendlyName = first(params.FriendlyName);
        return { status: 200, body: this.accountBody(accountSid) };
      }
      if (record.status === 'closed') throw new SimulatedError(400, 20009, 'A closed account cannot be changed');
      if (first(params.FriendlyName)) record.friendly_name = first(params.FriendlyName);
      if (status) record.status = status;
      record.date_updated = twilioDate();
      return { status: 200, body: record };
    });
    route('GET', `${account}/Balance\\.json`, ({ accountSid }) => ({
      status: 200,
      body: { account_sid: accountSid, balance: '42.50', currency: 'USD' },
    }));
    route('GET', `${account}/Usage/Records\\.json`, (ctx) => this.page(ctx, 'usage_records', usageRecords(ctx.accountSid, ctx.query)));
    for (const [path, type] of [
      ['Local', 'local'],
      ['TollFree', 'toll-free'],
    ] as const) {
      route('GET', `${account}/AvailablePhoneNumbers/([A-Z]{2})/${path}\\.json`, (ctx) =>
        this.page(ctx, 'available_phone_numbers', this.filterAvailable(availableNumbers(ctx.match[2], type), ctx.query)),
      );
      route('GET', `${account}/IncomingPhoneNumbers/${path}\\.json`, (ctx) =>
        this.page(
          ctx,
          'incoming_phone_numbers',
          this.listOf(
            COLLECTIONS.find((c) => c.name === 'incomingPhoneNumbers')!,
            ctx,
          ).filter((r) => r.type === type),
        ),
      );
      route('POST', `${account}/IncomingPhoneNumbers/${path}\\.json`, (ctx) => {
        const def = COLLECTIONS.find((c) => c.name === 'incomingPhoneNumbers')!;
        const record = def.create!(this.createContext(ctx));
        record.type = type;
        return this.created(def, record);
      });
    }
    route('POST', `${account}/OutgoingCallerIds\\.json`, ({ accountSid, params }) => {
      const phoneNumber = first(params.PhoneNumber);
      if (!phoneNumber) throw new SimulatedError(400, 21201, 'Missing required parameter PhoneNumber in the post body');
      if (!/^\+[1-9]\d{1,14}$/.test(phoneNumber)) throw new SimulatedError(400, 21421, `PhoneNumber ${phoneNumber} is invalid`);
      if (this.find('outgoingCallerIds', (r) => r.account_sid === accountSid && r.phone_number === phoneNumber)) {
        throw new SimulatedError(400, 21450, 'Phone number already verified for your account');
      }
      // Twilio calls the number and the person types the code; here the validation succeeds at once.
      this.insert(
        'outgoingCallerIds',
        base(accountSid, newSid('PN'), 'OutgoingCallerIds', {
          friendly_name: first(params.FriendlyName) ?? phoneNumber,
          phone_number: phoneNumber,
        }),
      );
      const call = newSid('CA');
      return {
        status: 201,
        body: {
          account_sid: accountSid,
          call_sid: call,
          friendly_name: first(params.FriendlyName) ?? phoneNumber,
          phone_number: phoneNumber,
          validation_code: String(100000 + Math.floor(this.random() * 900000)),
        },
      };
    });
    route('GET', '/v2/PhoneNumbers/([^/]+)', ({ query, match }) => ({
      status: 200,
      body: lookupRecord(decodeURIComponent(match[1]), query),
    }));

    for (const def of COLLECTIONS) this.defineCollectionRoutes(def, account, route);
    this.verify.defineRoutes(route);
  }

  private defineCollectionRoutes(
    def: CollectionDef,
    account: string,
    route: (method: string, path: string, handler: Handler) => void,
  ): void {
    const parent = def.parent ? COLLECTIONS.find((c) => c.name === def.parent)! : undefined;
    const parentPath = parent ? `/${parent.path}/(${SID(parent.prefix)})` : '';
    const id = def.idFields ? `(${SID(def.prefix)}|[^/.]+)` : `(${SID(def.prefix)})`;
    const listPath = `${account}${parentPath}/${def.path}\\.json`;
    const itemPath = `${account}${parentPath}/${def.path}/${id}\\.json`;
    const ops = new Set(def.operations);
    if (ops.has('list')) route('GET', listPath, (ctx) => this.page(ctx, def.listKey, this.listOf(def, ctx)));
    if (ops.has('create')) {
      route('POST', listPath, (ctx) => {
        const reply = this.created(def, def.create!(this.createContext(ctx, parent)));
        this.scheduleStatusCallbacks(def.name, reply.body!, ctx.params);
        return reply;
      });
    }
    if (ops.has('get')) route('GET', itemPath, (ctx) => ({ status: 200, body: this.item(def, ctx) }));
    if (ops.has('update')) {
      route('POST', itemPath, (ctx) => {
        const record = this.item(def, ctx);
        if (def.update) def.update(record, ctx.params);
        else this.applyUpdate(def, record, ctx.params);
        record.date_updated = twilioDate();
        return { status: 200, body: record };
      });
    }
    if (ops.has('delete')) {
      route('DELETE', itemPath, (ctx) => {
        const record = this.item(def, ctx);
        this.collection(def.name).delete(this.keyOf(def, record));
        return { status: 204, body: null };
      });
    }
  }

  private createContext(ctx: RequestContext, parent?: CollectionDef) {
    return {
      accountSid: ctx.accountSid,
      params: ctx.params,
      parent: parent ? this.lookup(parent, ctx.accountSid, ctx.match[2]) : undefined,
      insert: (name: string, record: TwilioRecord) => this.insert(name, record),
      find: (name: string, sid: string) => this.collection(name).get(sid),
    };
  }

  private created(def: CollectionDef, record: TwilioRecord): Reply {
    this.insert(def.name, record);
    this.stats.created++;
    return { status: 201, body: record };
  }

  private lookup(def: CollectionDef, accountSid: string, key: string, parentSid?: string): TwilioRecord {
    const records = this.collection(def.name);
    const record =
      records.get(key) ??
      (def.idFields
        ? [...records.values()].find((r) => def.idFields!.some((f) => r[f] === key) && (!parentSid || r[def.parentField!] === parentSid))
        : undefined);
    if (!record || record.account_sid !== accountSid || (parentSid && def.parentField && record[def.parentField] !== parentSid)) {
      throw new SimulatedError(
        404,
        20404,
        `The requested resource /${API_VERSION}/Accounts/${accountSid}/${def.path}/${key}.json was not found`,
      );
    }
    return record;
  }

  private item(def: CollectionDef, ctx: RequestContext): TwilioRecord {
    const parentSid = def.parent ? ctx.match[2] : undefined;
    if (def.parent)
      this.lookup(
        COLLECTIONS.find((c) => c.name === def.parent)!,
        ctx.accountSid,
        parentSid!,
      );
    return this.lookup(def, ctx.accountSid, ctx.match[def.parent ? 3 : 2], parentSid);
  }

  private applyUpdate(def: CollectionDef, record: TwilioRecord, params: Params): void {
    for (const key of Object.keys(params)) {
      if (!(def.updatable ?? []).includes(key)) throw new SimulatedError(400, 20001, `Unknown parameter ${key} for ${def.path}`);
    }
    Object.assign(record, paramsToFields(params));
  }

  private listOf(def: CollectionDef, ctx: RequestContext): TwilioRecord[] {
    const parentSid = def.parent ? ctx.match[2] : undefined;
    if (def.parent)
      this.lookup(
        COLLECTIONS.find((c) => c.name === def.parent)!,
        ctx.accountSid,
        parentSid!,
      );
    return [...this.collection(def.name).values()]
      .filter((r) => r.account_sid === ctx.accountSid && (!parentSid || r[def.parentField!] === parentSid))
      .filter((r) =>
        Object.entries(def.filters ?? {}).every(
          ([param, field]) => ctx.query[param] === undefined || String(r[field]) === first(ctx.query[param]),
        ),
      )
      .filter((r) => Object.entries(def.dateFilters ?? {}).every(([param, field]) => this.dateMatches(r[field], ctx.query, param)))
      .reverse(); // newest first, as Twilio lists
  }

  /** `DateSent=2026-11-24` (that day), `DateSent<=…` (the SDK's "before"), `DateSent>=…` ("after"). */
  private dateMatches(value: unknown, query: Params, param: string): boolean {
    const time = timeOf(value);
    const on = first(query[param]);
    const before = first(query[`${param}<`]);
    const after = first(query[`${param}>`]);
    if (on !== undefined && new Date(time).toISOString().slice(0, 10) !== new Date(on).toISOString().slice(0, 10)) return false;
    // A bare date "before" includes that whole day, as Twilio reads `<=YYYY-MM-DD`.
    const beforeTime = /^\d{4}-\d\d-\d\d$/.test(before ?? '') ? Date.parse(before!) + 86_399_999 : Date.parse(before ?? '');
    if (before !== undefined && !(time <= beforeTime)) return false;
    if (after !== undefined && !(time >= Date.parse(after))) return false;
    return true;
  }

  private filterAvailable(numbers: TwilioRecord[], query: Params): TwilioRecord[] {
    const flag = (name: string, capability: string) => (r: TwilioRecord) =>
      query[name] === undefined || String((r.capabilities as Record<string, boolean>)[capability]) === first(query[name]);
    const contains = first(query.Contains)?.replace(/[*\s]/g, '');
    const areaCode = first(query.AreaCode);
    return numbers
      .filter((r) => !contains || String(r.phone_number).includes(contains))
      .filter((r) => !areaCode || String(r.phone_number).slice(2, 5) === areaCode)
      .filter((r) => !query.InRegion || r.region === first(query.InRegion))
      .filter((r) => !query.InPostalCode || r.postal_code === first(query.InPostalCode))
      .filter(flag('SmsEnabled', 'SMS'))
      .filter(flag('MmsEnabled', 'MMS'))
      .filter(flag('VoiceEnabled', 'voice'));
  }

  private visibleAccounts(accountSid: string): TwilioRecord[] {
    return [this.accountBody(accountSid), ...[...this.subaccounts.values()].filter((a) => a.owner_account_sid === accountSid)];
  }

  private accountBody(accountSid: string): TwilioRecord {
    const sub = this.subaccounts.get(accountSid);
    if (sub) return sub;
    const a = this.accounts.get(accountSid)!;
    return accountRecord(a.sid, a.friendlyName ?? a.sid, a.status ?? 'active');
  }

  /** Twilio's page shape: the list under its own key plus paging URIs. */
  private page({ query, match }: RequestContext, key: string, items: TwilioRecord[]): Reply {
    const pageSize = Math.min(Math.max(Number(first(query.PageSize) ?? 50) || 50, 1), 1000);
    const page = Math.max(Number(first(query.Page) ?? 0) || 0, 0);
    const slice = items.slice(page * pageSize, (page + 1) * pageSize);
    const kept = new URLSearchParams();
    for (const [k, v] of Object.entries(query))
      if (!['Page', 'PageSize', 'PageToken'].includes(k)) for (const one of [v].flat()) kept.append(k, one);
    const uriFor = (p: number) => `${match[0]}?${kept.toString() ? `${kept.toString()}&` : ''}PageSize=${pageSize}&Page=${p}`;
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

  // --- webhooks -------------------------------------------------------------------------------

  /** The Auth Token Twilio signs an account's webhooks with (a subaccount's owner's, here). */
  private signingToken(accountSid: string): string {
    const owner = this.subaccounts.get(accountSid)?.owner_account_sid as string | undefined;
    return this.accounts.get(owner ?? accountSid)?.authToken ?? '';
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
    return promise;
  }

  /** Sends one signed webhook and keeps the delivery (and Twilio's view of the answer). */
  deliver(url: string, params: Record<string, string>, options: DeliveryOptions): Promise<Delivery> {
    return this.track(
      deliverWebhook(url, params, options).then((delivery) => {
        this.deliveries.push(delivery);
        return delivery;
      }),
    );
  }

  /**
   * After a send, a message lives on as Twilio's do (sent, then delivered, or what the person at that
   * number makes of it: see people.ts) and a call rings, is answered (by a person or a machine) or
   * not, and ends, whether or not anyone asked to hear of it: a later Get sees where it got to. With
   * a StatusCallback each step (a call's: those in StatusCallbackEvent, or completed) is also
   * delivered there, signed.
   */
  private scheduleStatusCallbacks(collection: string, record: TwilioRecord, params: Params): void {
    if (collection !== 'messages' && collection !== 'calls') return;
    if (collection === 'messages' && record.status === 'scheduled') return;
    const url = first(params.StatusCallback);
    const accountSid = String(record.account_sid);
    const common = { AccountSid: accountSid, ApiVersion: API_VERSION, From: String(record.from ?? ''), To: String(record.to ?? '') };
    const wanted = list(params.StatusCallbackEvent).length ? list(params.StatusCallbackEvent) : ['completed'];
    const steps =
      collection === 'messages'
        ? messageSteps(record, this.people)
        : callSteps(record, this.people, Boolean(first(params.MachineDetection)));
    const run = async () => {
      // An MMS: Twilio fetches its media first; a fetch that fails fails the message.
      const failed =
        collection === 'messages' ? await this.media.fetchFor(record, list(params.MediaUrl), this.collection('media').values()) : undefined;
      if (failed) steps.splice(0, steps.length, ...mediaFailedSteps(record, failed, twilioDate()));
      for (const step of steps) {
        await new Promise((r) => setTimeout(r, this.statusCallbackDelayMs));
        Object.assign(record, step.fields, { date_updated: twilioDate() });
        if (collection === 'messages' && step.fields.status === 'delivered') this.replyFromPerson(record);
        if (collection === 'calls' && step.fields.status === 'in-progress' && !String(step.fields.answered_by ?? '').startsWith('machine'))
          await this.pressKeys(record, params);
        const callback = { ...common, ...step.callback };
        if (collection === 'calls') Object.assign(callback, { Called: common.To, Caller: common.From });
        if (url && (collection === 'messages' || wanted.includes(step.event!)))
          await this.deliver(url, callback, {
            authToken: this.signingToken(accountSid),
            method: first(params.StatusCallbackMethod) === 'GET' ? 'GET' : 'POST',
          });
      }
    };
    void this.track(run());
  }

  /** Gives an account another number (no SmsUrl or VoiceUrl: what comes to it waits for a poll). */
  addNumber(accountSid: string, phoneNumber: string, friendlyName = phoneNumber): TwilioRecord {
    const def = COLLECTIONS.find((c) => c.name === 'incomingPhoneNumbers')!;
    const record = def.create!(
      this.createContext({
        accountSid,
        params: { PhoneNumber: phoneNumber, FriendlyName: friendlyName },
        query: {},
        match: [] as unknown as RegExpMatchArray,
      }),
    );
    this.insert(def.name, record);
    return record;
  }

  /**
   * A person who answers a call that asks for keys (a <Gather> with an action URL) presses theirs
   * (people.ts `press`): Twilio posts the Digits to the action URL, signed, as it does.
   */
  private async pressKeys(record: TwilioRecord, params: Params): Promise<void> {
    const keys = this.people[String(record.to ?? '')]?.press;
    const twiml = first(params.Twiml) ?? '';
    const action = /<Gather\b[^>]*\baction="([^"]+)"/.exec(twiml)?.[1]?.replace(/&amp;/g, '&');
    if (!keys || !action) return;
    const accountSid = String(record.account_sid);
    await this.deliver(
      action,
      {
        AccountSid: accountSid,
        ApiVersion: API_VERSION,
        CallSid: String(record.sid),
        CallStatus: 'in-progress',
        Digits: keys,
        Direction: 'outbound-api',
        From: String(record.from ?? ''),
        To: String(record.to ?? ''),
        FinishedOnKey: '',
      },
      { authToken: this.signingToken(accountSid) },
    );
  }

  /** A person who answers texts (people.ts `reply`) does, to the number that wrote, a little later. */
  private replyFromPerson(record: TwilioRecord): void {
    const to = String(record.to ?? '');
    const person = this.people[to.replace(/^whatsapp:/, '')];
    if (!person?.reply || !record.from) return;
    const { text, afterMs = 1_500 } = person.reply;
    const timer = setTimeout(() => {
      this.schedules.delete(timer);
      void this.track(this.receiveMessage({ from: to, to: String(record.from), body: text }).catch(() => undefined));
    }, afterMs);
    this.schedules.add(timer);
  }

  private numberFor(phoneNumber: string): TwilioRecord {
    const bare = phoneNumber.replace(/^whatsapp:/, ''); // WhatsApp comes to the number behind its sender
    const number = this.find('incomingPhoneNumbers', (r) => r.phone_number === bare);
    if (!number) throw new Error(`${phoneNumber} is not one of the simulated account's numbers`);
    return number;
  }

  /**
   * Someone texts one of the account's numbers. Twilio keeps the message (a poll lists it) and, when
   * the number has an SmsUrl, calls it; a <Message> answer is sent back from the number texted.
   */
  async receiveMessage(input: InboundMessage, options: InboundOptions = {}): Promise<Arrival> {
    const number = this.numberFor(input.to);
    const url = options.url ?? String(number.sms_url ?? '');
    const accountSid = String(number.account_sid);
    const sid = newSid(input.mediaUrls?.length ? 'MM' : 'SM');
    const params: Record<string, string> = {
      ToCountry: 'US',
      ToState: 'CA',
      SmsMessageSid: sid,
      NumMedia: String(input.mediaUrls?.length ?? 0),
      ToCity: 'SAN FRANCISCO',
      FromZip: '94105',
      SmsSid: sid,
      FromState: 'CA',
      SmsStatus: 'received',
      FromCity: 'SAN FRANCISCO',
      Body: input.body ?? '',
      FromCountry: 'US',
      To: input.to,
      ToZip: '94105',
      NumSegments: '1',
      MessageSid: sid,
      AccountSid: accountSid,
      From: input.from,
      ApiVersion: API_VERSION,
    };
    (input.mediaUrls ?? []).forEach((media, i) => {
      params[`MediaUrl${i}`] = media;
      params[`MediaContentType${i}`] = /\.png$/i.test(media) ? 'image/png' : 'image/jpeg';
    });
    const now = twilioDate();
    this.insert('messages', {
      ...base(accountSid, sid, 'Messages', {
        to: input.to,
        from: input.from,
        body: params.Body,
        direction: 'inbound',
        status: 'received',
        date_sent: now,
        num_media: params.NumMedia,
        num_segments: '1',
        error_code: null,
        error_message: null,
        subresource_uris: { media: `/${API_VERSION}/Accounts/${accountSid}/Messages/${sid}/Media.json` },
      }),
    });
    (input.mediaUrls ?? []).forEach((media) =>
      this.insert('media', {
        ...base(accountSid, newSid('ME'), `Messages/${sid}/Media`, {
          parent_sid: sid,
          content_type: /\.png$/i.test(media) ? 'image/png' : 'image/jpeg',
        }),
        media_url: media,
      }),
    );
    if (!url) return { sid };
    const delivery = await this.deliver(url, params, {
      authToken: this.signingToken(accountSid),
      json: options.json,
      idempotencyToken: options.idempotencyToken,
    });
    // Twilio sends what the TwiML answer says, from the number that was texted.
    for (const text of delivery.replies) {
      this.insert(
        'messages',
        base(accountSid, newSid('SM'), 'Messages', {
          to: input.from,
          from: input.to,
          body: text,
          direction: 'outbound-reply',
          status: 'sent',
          num_media: '0',
          num_segments: '1',
        }),
      );
    }
    return { sid, delivery };
  }

  /**
   * Someone calls one of the account's numbers: Twilio asks its VoiceUrl what to do. A number without
   * one rings out: the call is kept as a missed call (no-answer), which a poll lists.
   */
  async receiveCall(input: { from: string; to: string }, options: InboundOptions = {}): Promise<Arrival> {
    const number = this.numberFor(input.to);
    const url = options.url ?? String(number.voice_url ?? '');
    const accountSid = String(number.account_sid);
    const sid = newSid('CA');
    const params: Record<string, string> = {
      AccountSid: accountSid,
      ApiVersion: API_VERSION,
      CallSid: sid,
      CallStatus: 'ringing',
      Called: input.to,
      Caller: input.from,
      Direction: 'inbound',
      From: input.from,
      To: input.to,
      CallerCountry: 'US',
      CalledCountry: 'US',
    };
    const now = twilioDate();
    const status = url ? 'ringing' : 'no-answer';
    this.insert('calls', base(accountSid, sid, 'Calls', { to: input.to, from: input.from, status, direction: 'inbound', start_time: now }));
    if (!url) return { sid };
    const delivery = await this.deliver(url, params, {
      authToken: this.signingToken(accountSid),
      json: options.json,
      idempotencyToken: options.idempotencyToken,
    });
    return { sid, delivery };
  }

  /**
   * People text in on a schedule (the demo's "someone texts the house", a test's arrivals): each
   * text once after `afterMs`, or every `everyMs` up to `count` times. stop() and reset() end them.
   */
  scheduleTexts(texts: ScheduledText[]): void {
    for (const text of texts) {
      this.numberFor(text.to); // refused now, not when the timer fires
      let left = text.count ?? (text.everyMs ? Infinity : 1);
      const fire = () => {
        this.schedules.delete(timer);
        if (left-- <= 0) return;
        void this.track(this.receiveMessage(text).catch(() => undefined));
        if (left > 0 && text.everyMs) {
          timer = setTimeout(fire, text.everyMs);
          this.schedules.add(timer);
        }
      };
      let timer = setTimeout(fire, text.afterMs ?? 0);
      this.schedules.add(timer);
    }
  }

  private cancelSchedules(): void {
    for (const timer of this.schedules) clearTimeout(timer);
    this.schedules.clear();
  }

  /** The account the credentials belong to: an Account SID with its Auth Token, or an API Key. */
  private authenticate(req: http.IncomingMessage): { account: SimulatedAccount; username: string } {
    const header = req.headers.authorization ?? '';
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    const separator = decoded.indexOf(':');
    const username = separator > 0 ? decoded.slice(0, separator) : '';
    const password = separator > 0 ? decoded.slice(separator + 1) : '';
    for (const account of this.accounts.values()) {
      if (
        (username === account.sid && password === account.authToken) ||
        (account.apiKeys ?? []).some((key) => key.sid === username && key.secret === password)
      ) {
        return { account, username };
      }
    }
    throw new SimulatedError(401, 20003, 'Authenticate', { 'WWW-Authenticate': 'Basic realm="Twilio API"' });
  }

  /** An account's credentials reach the account itself and the subaccounts it owns. */
  private authorise(account: SimulatedAccount, pathAccountSid: string | undefined): string {
    if (!pathAccountSid || pathAccountSid === account.sid) return account.sid;
    const sub = this.subaccounts.get(pathAccountSid);
    if (sub && sub.owner_account_sid === account.sid) return pathAccountSid;
    throw new SimulatedError(401, 20003, 'Authenticate', { 'WWW-Authenticate': 'Basic realm="Twilio API"' });
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
    const pathAccountSid = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})/.exec(url.pathname)?.[1];
    const concurrencyKey = pathAccountSid ?? '-';
    const inFlight = (this.inFlight.get(concurrencyKey) ?? 0) + 1;
    this.inFlight.set(concurrencyKey, inFlight);
    try {
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      if (this.maxConcurrent > 0 && inFlight > this.maxConcurrent) {
        this.stats.tooManyRequests++;
        throw new SimulatedError(429, 20429, 'Too Many Requests');
      }
      const { account, username } = this.authenticate(req);
      const accountSid = this.authorise(account, pathAccountSid);
      const query = parseForm(url.search.slice(1));
      const params = parseForm(Buffer.concat(chunks).toString('utf8'));
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, params, username, at: Date.now() });

      const fault = this.drawFault();
      if (fault) {
        this.stats.faults++;
        if (fault.type === 'reset') return void req.socket.destroy();
        if (fault.type === 'timeout') return; // never answered: the client gives up, the socket dies on stop()
        throw new SimulatedError(
          fault.status,
          fault.code,
          fault.message ?? http.STATUS_CODES[fault.status] ?? 'Error',
          fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {},
        );
      }
      const candidates = this.routes.filter((r) => r.pattern.test(url.pathname));
      const found = candidates.find((r) => r.method === req.method);
      if (!found) {
        if (candidates.length > 0) throw new SimulatedError(405, 20004, 'Method not allowed');
        throw new SimulatedError(404, 20404, `The requested resource ${url.pathname} was not found`);
      }
      const { status, body } = found.handler({ accountSid, params, query, match: url.pathname.match(found.pattern)! });
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
    // As Twilio's: every answer says the time, by the simulated Twilio's clock (its skew included).
    headers = { Date: twilioNow().toUTCString(), ...headers };
    if (body === null) {
      res.writeHead(status, headers);
      return void res.end();
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** Unauthenticated control endpoints for the demo and benchmarks in other processes. */
  private control(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string): void {
    const action = `${req.method} ${url.pathname}`;
    const collection = /^GET \/_sim\/(\w+)$/.exec(action)?.[1];
    if (collection && this.store.has(collection)) return this.send(res, 200, [...this.collection(collection).values()]);
    if (action === 'GET /_sim/stats') return this.send(res, 200, this.stats);
    if (action === 'GET /_sim/requests') return this.send(res, 200, this.requests);
    if (action === 'GET /_sim/deliveries') return this.send(res, 200, this.deliveries);
    const verify = url.pathname.startsWith('/_sim/verify/') ? this.verify.control(action, body) : undefined;
    if (verify) return this.send(res, verify.status, verify.body);
    if (action === 'GET /_sim/fetched-media') return this.send(res, 200, this.media);
    if (action === 'POST /_sim/inbound/message' || action === 'POST /_sim/inbound/call') {
      let input: InboundMessage;
      try {
        input = JSON.parse(body || '{}') as InboundMessage;
      } catch {
        return this.send(res, 400, { error: 'body must be JSON: {"from": "+1…", "to": "+1…", "body": "…"}' });
      }
      const run = action.endsWith('message') ? this.receiveMessage(input) : this.receiveCall(input);
      return void run.then(
        // The webhook and its answer; or, for a number without a URL, the stored message a poll will find.
        (arrival) => this.send(res, 200, arrival.delivery ?? { sid: arrival.sid, stored: true }),
        (err: Error) => this.send(res, 400, { error: err.message }),
      );
    }
    if (action === 'POST /_sim/schedule') {
      try {
        const texts = JSON.parse(body || '{}') as { texts?: ScheduledText[] };
        this.scheduleTexts(texts.texts ?? []);
        return this.send(res, 200, { ok: true });
      } catch (err) {
        return this.send(res, 400, { error: (err as Error).message });
      }
    }
    if (action === 'POST /_sim/reset') {
      this.reset();
      // Run with --expose-gc (the benchmarks do), the forgotten records are collected now, not during the next run.
      (globalThis as { gc?: () => void }).gc?.();
      return this.send(res, 200, { ok: true });
    }
    if (action === 'POST /_sim/settings') {
      try {
        const settings = JSON.parse(body || '{}') as {
          latencyMs?: number;
          maxConcurrent?: number;
          faultRates?: FaultRates;
          failNext?: Fault[];
          people?: Record<string, Person>;
          clockSkewMs?: number;
          statusCallbackDelayMs?: number;
        };
        if (settings.people !== undefined) this.people = { ...SIMULATED_PEOPLE, ...settings.people };
        if (settings.clockSkewMs !== undefined) setClockSkew(settings.clockSkewMs);
        if (settings.statusCallbackDelayMs !== undefined) this.statusCallbackDelayMs = settings.statusCallbackDelayMs;
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
