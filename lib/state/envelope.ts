/**
 * How a record is stored, the same text in every backend: `<version> <expiresAt>\n<JSON value>`.
 * Reading never throws: a header that does not parse gives version 0 (a damaged record, which a
 * compare-and-set on version 0 may replace), a value that does not parse comes back as its raw text.
 */
import type { StoredRecord } from './engine';

/** `json`: the value as JSON.stringify wrote it (before any transaction, so a value that cannot be stored fails first). */
export function encodeRecord(version: number, json: string, expiresAt: number | undefined): string {
  return `${version} ${expiresAt ?? ''}\n${json}`;
}

/** A value as JSON; `undefined` is stored as null. */
export const toJson = (value: unknown): string => JSON.stringify(value ?? null);

export function decodeRecord(key: string, stored: unknown): StoredRecord {
  const text = typeof stored === 'string' ? stored : Buffer.isBuffer(stored) ? stored.toString('utf8') : undefined;
  if (text === undefined) return { key, value: stored, version: 0 };
  const header = /^(\d+) (\d*)\n/.exec(text);
  if (!header) return { key, value: text, version: 0 };
  const body = text.slice(header[0].length);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    value = body;
  }
  return { key, value, version: Number(header[1]), ...(header[2] ? { expiresAt: Number(header[2]) } : {}) };
}

/** Live at `now`: present, and not past its expiry. */
export const isLive = (record: StoredRecord | undefined, now: number): record is StoredRecord =>
  record !== undefined && (record.expiresAt === undefined || record.expiresAt > now);

/** The version a compare-and-set compares with: 0 for absent, expired or damaged. */
export const currentVersion = (record: StoredRecord | undefined, now: number): number => (isLive(record, now) ? record.version : 0);

/** A lease as stored: `<token> <expiresAt> <holder>`. */
export const encodeLease = (token: number, expiresAt: number, holder: string): string => `${token} ${expiresAt} ${holder}`;

export function decodeLease(name: string, stored: unknown): { name: string; token: number; expiresAt: number; holder: string } | undefined {
  const text = typeof stored === 'string' ? stored : Buffer.isBuffer(stored) ? stored.toString('utf8') : undefined;
  const parts = text === undefined ? null : /^(\d+) (\d+) ([\s\S]*)$/.exec(text);
  return parts ? { name, token: Number(parts[1]), expiresAt: Number(parts[2]), holder: parts[3] } : undefined;
}

/** Checks what every backend refuses alike: a ttl that is not a positive number of milliseconds. */
export function expiryOf(now: number, ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number of milliseconds, not ${ttlMs}`);
  return Math.ceil(now + ttlMs);
}
