/**
 * Mustache templates for message bodies and spoken text. Two things differ from plain Mustache:
 * a variable the data lacks is an error (a text that silently says "Temperature:  C" is worse than
 * no text), and nothing is HTML-escaped (an SMS is not HTML; TwiML escaping is done by the SDK).
 */
import Mustache from 'mustache';
import { TwilioNodeError } from './errors';
import { text } from './messages';

type Token = string[];

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
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
export function parseTemplate(template: string): void {
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
  let context = new Mustache.Context(msg);
  if (metadata) context = context.push(metadata);
  return writer.render(template, context);
}
