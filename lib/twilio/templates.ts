/**
 * Mustache templates for message bodies and spoken text. Only a node's own configured text is a
 * template; a text read from msg, context or env is sent as it is (lib/node-red/typed-fields.ts isOwnText), so
 * what a stranger texted is never run. Three things differ from plain Mustache:
 * - a variable the data lacks is an error (a text that silently says "Temperature:  C" is worse than
 *   no text);
 * - nothing is HTML-escaped (an SMS is not HTML; TwiML escaping is done by the SDK);
 * - the view is data only: the msg without `req` and `res`, own data properties only (no prototype,
 *   no getter), and no function is ever called, as a Mustache lambda or a toJSON.
 */
import Mustache from 'mustache';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';

type Token = string[];

/** What a template may see of a value: data, never a function (a getter counts as one). */
function ownData(holder: unknown, name: string): { found: boolean; value?: unknown } {
  if (typeof holder !== 'object' || holder === null) return { found: false };
  const descriptor = Object.getOwnPropertyDescriptor(holder, name);
  if (!descriptor || !('value' in descriptor) || typeof descriptor.value === 'function') return { found: false };
  return { found: true, value: descriptor.value };
}

/** A copy of a value with only what a template may see: for printing an object as JSON. */
function plainData(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Buffer.isBuffer(value)) return { type: 'Buffer', data: [...value] };
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  for (const key of Object.keys(value)) {
    const { found, value: item } = ownData(value, key);
    if (found) (copy as Record<string, unknown>)[key] = plainData(item, seen);
  }
  seen.delete(value);
  return copy;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) return JSON.stringify(plainData(value, new WeakSet()));
  return String(value);
}

/** Names of a msg a template never sees: a webhook's HTTP request and response (headers, cookies). */
const HIDDEN_FROM_TEMPLATES = new Set(['req', 'res']);

/**
 * Mustache's context, looking up own data only: `{{payload.constructor}}` finds nothing, a getter is
 * not run. At the root (the msg) `req` and `res` are not there.
 */
class DataContext extends Mustache.Context {
  constructor(
    view: unknown,
    parent?: Mustache.Context,
    private readonly isMsg = false,
  ) {
    super(view, parent);
  }

  override push(view: unknown): Mustache.Context {
    return new DataContext(view, this);
  }

  override lookup(name: string): unknown {
    if (name === '.') return this.isMsg ? msgData(this.view) : typeof this.view === 'function' ? undefined : this.view;
    const parts = name.split('.');
    for (let context: Mustache.Context | undefined = this; context; context = context.parent) {
      if (context instanceof DataContext && context.isMsg && HIDDEN_FROM_TEMPLATES.has(parts[0])) continue;
      let holder: unknown = context.view;
      let found = true;
      for (const part of parts) {
        const step = ownData(holder, part);
        if (!step.found) {
          found = false;
          break;
        }
        holder = step.value;
      }
      if (found) return holder;
    }
    return undefined;
  }
}

/** The msg itself as a value (`{{.}}`): its own data, without req and res. */
function msgData(msg: unknown): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const key of Object.keys(msg as object)) {
    const { found, value } = ownData(msg, key);
    if (found && !HIDDEN_FROM_TEMPLATES.has(key)) data[key] = value;
  }
  return data;
}

/** Parsed templates kept for reuse; bounded, since templates read from msg can vary forever. */
function boundedTemplateCache(limit: number): Mustache.TemplateCache {
  const entries = new Map<string, unknown>();
  return {
    set(key: string, value: string) {
      if (entries.size >= limit) entries.delete(entries.keys().next().value as string);
      entries.set(key, value);
    },
    get: (key: string) => entries.get(key) as string,
    clear: () => entries.clear(),
  };
}

/** A Writer that refuses to render a variable the view does not have. */
class StrictWriter extends Mustache.Writer {
  constructor() {
    super();
    (this as unknown as { templateCache: Mustache.TemplateCache }).templateCache = boundedTemplateCache(256);
  }

  override escapedValue(token: Token, context: Mustache.Context): string {
    return this.unescapedValue(token, context);
  }

  override unescapedValue(token: Token, context: Mustache.Context): string {
    const value: unknown = context.lookup(token[1]);
    if (value === undefined) {
      throw new TwilioNodeError('TEMPLATE_METADATA_ERROR', text('templateVariable', { name: token[1] }));
    }
    return value === null ? '' : formatValue(value);
  }
}

const writer = new StrictWriter();

/** Checks a template's syntax without rendering it (the editor and the runtime both use this). */
function parseTemplate(template: string): void {
  try {
    writer.parse(template);
  } catch (err) {
    throw new TwilioNodeError('TEMPLATE_SYNTAX_ERROR', text('templateSyntax', { detail: (err as Error).message }));
  }
}

/**
 * Renders `template` against the message, with `metadata`'s keys taking precedence over the
 * message's own (so `{{name}}` finds metadata.name, and `{{payload.temp}}` still reaches the msg).
 */
export function renderTemplate(template: unknown, msg: object, metadata?: unknown): string {
  if (typeof template !== 'string') {
    throw new TwilioNodeError('TEMPLATE_READ_ERROR', text('templateNotText', { type: template === null ? 'null' : typeof template }));
  }
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new TwilioNodeError('TEMPLATE_METADATA_ERROR', text('metadataNotObject'));
  }
  // Without a tag the text is its own rendering (every Mustache tag, a delimiter change too, opens with "{{").
  if (!template.includes('{{')) return template;
  parseTemplate(template);
  let context: Mustache.Context = new DataContext(msg, undefined, true);
  if (metadata) context = context.push(metadata);
  return writer.render(template, context);
}

/**
 * A text field's value: the node's own text is rendered as a template; a value read from msg,
 * context or env is literal, whatever braces it holds. Numbers and booleans (a sensor reading) are text.
 */
export function textField(field: string, value: unknown, isTemplate: boolean, msg: object, metadata?: unknown): string {
  const source = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
  if (typeof source !== 'string') {
    throw new TwilioNodeError(
      'TEMPLATE_READ_ERROR',
      text('templateFieldNotText', { field, type: source === null ? 'null' : typeof source }),
    );
  }
  return isTemplate ? renderTemplate(source, msg, metadata) : source;
}
