/**
 * Runs a catalogue action (catalogue.ts) with the twilio SDK: parses the compound Sid, checks the
 * filters and fields against the catalogue, walks the SDK call path and returns plain JSON.
 */
import type twilio from 'twilio';
import { Action, ActionSpec, FieldSpec, ObjectSpec, SidPart, fieldsFor, notSupportedText, partsFor } from './catalogue';
import { isSid } from '../twilio/values';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { coerceFieldValue, parseDate } from './field-values';

export interface Target {
  /** A subaccount named by an `AC…:` prefix; otherwise the config node's account. */
  accountSid?: string;
  parts: Record<string, string>;
}

function describeParts(parts: readonly SidPart[]): string {
  return parts.map((p) => p.example).join(':');
}

function checkPart(part: SidPart, value: string): void {
  const ok = part.pattern
    ? new RegExp(part.pattern).test(value)
    : part.prefixes!.some((prefix) => isSid(value, prefix)) ||
      (part.orLabel === true && /^[^:/\s]+$/.test(value) && !/^[A-Z]{2}[0-9a-f]{32}$/i.test(value));
  if (!ok) {
    const expected = part.pattern
      ? `like ${part.example}`
      : `${part.prefixes!.join(' or ')} followed by 32 hex digits${part.orLabel ? ', or a label' : ''}`;
    throw new TwilioNodeError('INVALID_INPUT', text('sidPart', { part: part.label, expected, value }));
  }
}

/**
 * Parses `Sid`, `ParentSid:Sid`, with an optional `AccountSid:` prefix for a subaccount's record
 * (e.g. `AC…:CF…:CA…`), checking each part's prefix before any request.
 */
export function parseCompoundSid(input: unknown, object: ObjectSpec, action: Action): Target {
  const parts = partsFor(object, action);
  const accountScoped = object.actions[action]!.call.startsWith('account.');
  // A record from an earlier node (e.g. twilio-send's output) stands for its own Sid.
  const raw =
    typeof input === 'object' && input !== null && typeof (input as { sid?: unknown }).sid === 'string'
      ? (input as { sid: string }).sid
      : input;
  if (raw === undefined || raw === null || raw === '') {
    if (parts.length === 0) return { parts: {} };
    throw new TwilioNodeError(
      'MISSING_INPUT',
      text('needsParts', { object: object.name, action, parts: parts.map((p) => p.label).join(' + '), shape: describeParts(parts) }),
    );
  }
  if (typeof raw !== 'string')
    throw new TwilioNodeError('INVALID_INPUT', text('sidNotText', { shape: describeParts(parts) || 'AC…', type: typeof raw }));
  const pieces = raw.split(':').map((p) => p.trim());
  let accountSid: string | undefined;
  if (accountScoped && pieces.length === parts.length + 1) {
    accountSid = pieces.shift();
    if (!isSid(accountSid, 'AC')) throw new TwilioNodeError('INVALID_INPUT', text('accountSidValue', { value: String(accountSid) }));
  }
  if (pieces.length !== parts.length) {
    const shape = [describeParts(parts), accountScoped ? `AC…:${describeParts(parts)}` : ''].filter(Boolean).join(' or ');
    throw new TwilioNodeError(
      'INVALID_INPUT',
      shape
        ? text('sidShape', { object: object.name, action, shape, value: raw })
        : text('sidNone', { object: object.name, action, value: raw }),
    );
  }
  const named: Record<string, string> = {};
  parts.forEach((part, i) => {
    checkPart(part, pieces[i]);
    named[part.name] = pieces[i];
  });
  return { accountSid, parts: named };
}

export interface FilterRow {
  name: string;
  /** For dates: on, before or after. */
  op?: 'on' | 'before' | 'after';
  value: unknown;
}

/** Turns filter rows into SDK list options: `dateSent` + before → `dateSentBefore`, and so on. */
export function buildFilters(object: ObjectSpec, rows: readonly FilterRow[]): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const row of rows) {
    const spec = object.filters?.find((f) => f.name === row.name);
    if (!spec)
      throw new TwilioNodeError(
        'INVALID_INPUT',
        text('noFilter', { object: object.name, name: row.name, names: (object.filters ?? []).map((f) => f.name).join(', ') || '—' }),
      );
    if (spec.type === 'date') {
      const op = row.op ?? 'on';
      const date = parseDate(row.name, row.value);
      if (op === 'on') {
        // "On" a day is from its first to its last second (UTC): Twilio's spec wants date-times here,
        // and the SDK writes a plain date where a parameter is a date.
        const day = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
        options[`${row.name}After`] = new Date(day);
        options[`${row.name}Before`] = new Date(day + 86_400_000 - 1000);
      } else {
        options[`${row.name}${op === 'before' ? 'Before' : 'After'}`] = date;
      }
    } else {
      options[row.name] = coerceFieldValue(spec, row.value);
    }
  }
  return options;
}

/** Checks the values to write against the action's fields: unknown names and bad types are refused. */
export function buildFields(object: ObjectSpec, action: Action, values: Record<string, unknown>): Record<string, unknown> {
  const allowed = fieldsFor(object, action);
  const params: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const spec: FieldSpec | undefined = allowed.find((f) => f.name === name);
    if (!spec) {
      throw new TwilioNodeError(
        'INVALID_INPUT',
        text('noField', { object: object.name, action, name, names: allowed.map((f) => f.name).join(', ') || '—' }),
      );
    }
    params[name] = coerceFieldValue(spec, value);
  }
  if (action === 'create') {
    const missing = allowed.filter((f) => f.required && params[f.name] === undefined).map((f) => f.name);
    if (missing.length > 0)
      throw new TwilioNodeError('MISSING_INPUT', text('createNeeds', { object: object.name, names: missing.join(', ') }));
  }
  for (const [name, value] of Object.entries(object.actions[action]?.fixed ?? {})) params[name] = value;
  return params;
}

type SdkNode = Record<string, unknown> & ((id: string) => SdkNode);

/** Walks `account.calls(callSid).recordings.list` on the client and returns the method's holder and name. */
function resolveCall(client: twilio.Twilio, object: ObjectSpec, action: Action, target: Target): { holder: SdkNode; method: string } {
  const spec = object.actions[action];
  if (!spec) throw new TwilioNodeError('NOT_SUPPORTED', text('noAction', { object: object.name, action }));
  if (spec.notSupported) throw new TwilioNodeError('NOT_SUPPORTED', notSupportedText(object, action));
  const { root, steps, method } = parseCall(spec.call);
  let current: SdkNode;
  if (root === 'account') {
    // The client's own account is the SDK's cached context (and its cached lists): a send per message stays cheap.
    const own = !target.accountSid || target.accountSid === client.accountSid;
    current = (own
      ? client.api.v2010.account
      : (client.api.v2010.accounts as unknown as SdkNode)(target.accountSid!)) as unknown as SdkNode;
  } else if (root === 'api') current = client.api.v2010 as unknown as SdkNode;
  else current = client.lookups.v2 as unknown as SdkNode;
  for (const { name, part } of steps) {
    current = current[name] as SdkNode;
    if (part) current = current(target.parts[part]);
  }
  return { holder: current, method };
}

interface ParsedCall {
  root: string;
  steps: Array<{ name: string; part?: string }>;
  method: string;
}
const parsedCalls = new Map<string, ParsedCall>();

/** `account.calls(callSid).recordings.list` → root, steps and method; parsed once per call path. */
function parseCall(call: string): ParsedCall {
  let parsed = parsedCalls.get(call);
  if (!parsed) {
    const segments = call.split('.');
    const [root, method] = [segments.shift()!, segments.pop()!];
    const steps = segments.map((segment) => {
      const [, name, part] = /^(\w+)(?:\((\w+)\))?$/.exec(segment)!;
      return { name, part };
    });
    parsed = { root, steps, method };
    parsedCalls.set(call, parsed);
  }
  return parsed;
}

/** The last date written: a burst's records share their dates to the second, and toISOString costs ~1 µs. */
let lastTime = NaN;
let lastIso = '';

function isoString(date: Date): string | null {
  const time = date.getTime();
  if (Number.isNaN(time)) return null;
  if (time !== lastTime) {
    lastIso = date.toISOString();
    lastTime = time;
  }
  return lastIso;
}

/**
 * An SDK instance as the JSON Twilio sent, with ISO dates: what JSON.stringify then parse would give.
 * The SDK's toJSON() builds a fresh object whose only non-JSON values are its top-level Dates (nested
 * values come from the parsed answer), so converting those in place is enough, and cheap per message.
 */
function plain(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || typeof (value as { toJSON?: unknown }).toJSON !== 'function') return value;
  const record = (value as { toJSON(): unknown }).toJSON();
  if (typeof record !== 'object' || record === null) return record;
  const out = record as Record<string, unknown>;
  for (const key of Object.keys(out)) {
    const item = out[key];
    if (item instanceof Date) out[key] = isoString(item);
    else if (item === undefined || typeof item === 'function') delete out[key];
  }
  return out;
}

/** Runs get, create, update or delete; returns the record as plain JSON (delete: true). */
export function runAction(
  client: twilio.Twilio,
  object: ObjectSpec,
  action: Exclude<Action, 'query'>,
  target: Target,
  params: Record<string, unknown> = {},
): Promise<unknown> {
  // Not an async function: a send per message goes through here, and each layer of awaiting costs.
  try {
    const { holder, method } = resolveCall(client, object, action, target);
    const spec = object.actions[action]!;
    const call = holder[method] as (...args: unknown[]) => Promise<unknown>;
    if (spec.find)
      return findByListing(object, spec.find, target, (filters) => call.call(holder, filters) as Promise<Array<Record<string, unknown>>>);
    if (method === 'fetch') return call.call(holder, spec.fetchOptions ?? undefined).then(plain);
    if (method === 'remove') return call.call(holder);
    return call.call(holder, params).then(plain);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Get by listing: ask for the one value, then insist on an exact match. */
async function findByListing(
  object: ObjectSpec,
  find: NonNullable<ActionSpec['find']>,
  target: Target,
  list: (filters: object) => Promise<Array<Record<string, unknown>>>,
): Promise<unknown> {
  const wanted = target.parts[find.part];
  const found = (await list({ [find.filter]: wanted, limit: 20 })).find((r) => r[find.field] === wanted);
  if (!found)
    throw new TwilioNodeError('NOT_FOUND', text('notAvailable', { value: String(wanted), object: object.label }), { status: 404 });
  return plain(found);
}

interface QueryOptions {
  filters: Record<string, unknown>;
  /** Records to return at most; 0 means all. */
  limit: number;
  pageSize: number;
  /** Told after each page, so a status can show progress. */
  onPage?: (recordsSoFar: number) => void;
}

/** Runs a query page by page up to the limit (Twilio pages at most 1,000 records). */
export async function runQuery(client: twilio.Twilio, object: ObjectSpec, target: Target, options: QueryOptions): Promise<unknown[]> {
  const { holder } = resolveCall(client, object, 'query', target);
  const records: unknown[] = [];
  const pageSize = options.limit > 0 ? Math.min(options.pageSize, options.limit) : options.pageSize;
  type Page = { instances: unknown[]; nextPage(): Promise<Page> | undefined };
  let page: Page | undefined = await (holder.page as (o: object) => Promise<Page>).call(holder, { ...options.filters, pageSize });
  while (page) {
    for (const instance of page.instances) {
      if (options.limit > 0 && records.length >= options.limit) break;
      records.push(plain(instance));
    }
    options.onPage?.(records.length);
    if (options.limit > 0 && records.length >= options.limit) break;
    page = await page.nextPage();
  }
  return records;
}
