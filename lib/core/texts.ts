/**
 * Runtime texts (error messages) as keys into the message catalogue, `twilio.errors.*` in
 * locales/<lang>/_shared.json. The lib composes them in English, from the en-US catalogue the build
 * copies beside this file, so an error reads well wherever it is made (tests, benchmarks, logs); a
 * node translates it into Node-RED's runtime language as it reports it.
 */
import fs from 'node:fs';
import path from 'node:path';

export type TextValue = string | number | LocalText;

export interface LocalText {
  readonly key: string;
  readonly subs: Readonly<Record<string, TextValue>>;
}

/** Looks a full key up (e.g. RED._); gives the key itself back when it has no translation, as RED._ does. */
export type Translate = (key: string, subs?: Record<string, string | number>) => string;

const CATALOGUE_FILE = path.join(__dirname, 'texts.en-US.json');
const english: Record<string, unknown> = fs.existsSync(CATALOGUE_FILE)
  ? (JSON.parse(fs.readFileSync(CATALOGUE_FILE, 'utf8')) as Record<string, unknown>)
  : {};

function lookUpEnglish(key: string, subs: Record<string, string | number> = {}): string {
  const template = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], english);
  if (typeof template !== 'string') return key;
  return template.replace(/__(\w+)__/g, (whole, name: string) => (name in subs ? String(subs[name]) : whole));
}

/** A text to show: `key` under twilio.errors, with values (which may be texts themselves). */
export function text(key: string, subs: Record<string, TextValue> = {}): LocalText {
  return { key: `twilio.errors.${key}`, subs };
}

function isLocalText(value: unknown): value is LocalText {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as LocalText).key === 'string' &&
    typeof (value as LocalText).subs === 'object'
  );
}

/** Renders a text with `translate`, falling back to English for any key it does not know. */
export function render(value: LocalText, translate?: Translate): string {
  const subs = Object.fromEntries(Object.entries(value.subs).map(([name, v]) => [name, isLocalText(v) ? render(v, translate) : v]));
  const translated = translate?.(value.key, subs);
  return translated && translated !== value.key ? translated : lookUpEnglish(value.key, subs);
}
