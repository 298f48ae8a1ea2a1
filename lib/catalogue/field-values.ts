/**
 * Checks and converts the values of catalogue fields and filters (catalogue.ts) before they go to
 * the SDK, so a wrong type is a coded INVALID_INPUT naming the field, not a Twilio round trip.
 */
import type { FieldSpec } from './catalogue';
import { asWholeNumber, isE164, isHttpUrl, isSid } from '../twilio/values';
import { TwilioNodeError } from '../core/errors';
import { TextValue, text } from '../core/texts';

/** "2026-11-24 18:30:00" (read as UTC, as the editor shows dates) or any ISO 8601 date and time. */
const SPACED_DATE_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d(:\d\d)?)$/;
const DATE_ONLY = /^\d{4}-\d\d-\d\d$/;

function invalid(name: string, expected: string, subs: Record<string, TextValue> = {}): TwilioNodeError {
  return new TwilioNodeError('INVALID_INPUT', text('mustBe', { field: name, expected: text(`expected.${expected}`, subs) }));
}

export function parseDate(name: string, value: unknown): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
  if (typeof value === 'number') return new Date(value);
  if (typeof value === 'string') {
    const trimmed = value.trim();
    const spaced = SPACED_DATE_TIME.exec(trimmed);
    const date = new Date(spaced ? `${spaced[1]}T${spaced[2]}Z` : DATE_ONLY.test(trimmed) ? `${trimmed}T00:00:00Z` : trimmed);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw invalid(name, 'date');
}

export function coerceFieldValue(spec: FieldSpec, value: unknown): unknown {
  const { name } = spec;
  const text = (): string => {
    if (typeof value === 'string') return value.trim();
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw invalid(name, 'text');
  };
  switch (spec.type) {
    case 'string':
      return typeof value === 'string' ? value : text();
    case 'url': {
      const url = text();
      if (!isHttpUrl(url) || /\s/.test(url)) throw invalid(name, 'httpUrl');
      return url;
    }
    case 'method': {
      const method = text().toUpperCase();
      if (method !== 'GET' && method !== 'POST') throw invalid(name, 'getOrPost');
      return method;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw invalid(name, 'trueOrFalse');
    case 'integer': {
      const n = asWholeNumber(value);
      if (n === undefined) throw invalid(name, 'wholeNumber');
      return n;
    }
    case 'enum': {
      const choice = text();
      if (!spec.options!.includes(choice)) throw invalid(name, 'oneOf', { options: spec.options!.join(', ') });
      return choice;
    }
    case 'sid': {
      const sid = text();
      if (!isSid(sid, spec.prefix!)) throw invalid(name, 'sid', { prefix: spec.prefix! });
      return sid;
    }
    case 'phone': {
      const phone = text().replace(/[\s().-]/g, '');
      if (!isE164(phone)) throw invalid(name, 'phone');
      return phone;
    }
    case 'list': {
      const items = Array.isArray(value)
        ? value
        : text()
            .split(/\s*,\s*/)
            .filter(Boolean);
      if (!items.every((i) => typeof i === 'string')) throw invalid(name, 'texts');
      if (spec.options) {
        const bad = items.find((i) => !spec.options!.includes(i as string));
        if (bad !== undefined) throw invalid(name, 'listOf', { options: spec.options.join(', ') });
      }
      return items;
    }
    case 'date':
      return parseDate(name, value);
    default:
      throw invalid(name, 'knownType');
  }
}
