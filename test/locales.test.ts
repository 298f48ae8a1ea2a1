/** Every string the editor and runtime show is in locales/, in every language, with its placeholders. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const locales = path.join(root, 'locales');
const LANGUAGES = ['en-US', 'de', 'ja'];

function flatten(value: unknown, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (typeof inner === 'object' && inner !== null) Object.assign(out, flatten(inner, `${prefix}${key}.`));
    else out[`${prefix}${key}`] = String(inner);
  }
  return out;
}

function catalogue(lang: string): Record<string, Record<string, string>> {
  const files = fs.readdirSync(path.join(locales, lang)).filter((f) => f.endsWith('.json'));
  return Object.fromEntries(files.map((f) => [f, flatten(JSON.parse(fs.readFileSync(path.join(locales, lang, f), 'utf8')))]));
}

const placeholders = (text: string) => [...text.matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();
const tags = (text: string) => [...text.matchAll(/<\/?(\w+)/g)].map((m) => m[1]).sort();

describe('locales', () => {
  const english = catalogue('en-US');
  const allEnglishKeys = new Set(Object.values(english).flatMap((c) => Object.keys(c)));

  for (const lang of LANGUAGES.filter((l) => l !== 'en-US')) {
    it(`${lang} has every en-US string, with the same placeholders and markup`, () => {
      let different = 0;
      const translated = catalogue(lang);
      for (const [file, strings] of Object.entries(english)) {
        assert.ok(translated[file], `${lang}/${file} exists`);
        assert.deepEqual(Object.keys(translated[file]).sort(), Object.keys(strings).sort(), `${lang}/${file}: same keys`);
        for (const [key, text] of Object.entries(strings)) {
          assert.deepEqual(placeholders(translated[file][key]), placeholders(text), `${lang} ${key}: placeholders`);
          assert.deepEqual(tags(translated[file][key]), tags(text), `${lang} ${key}: markup`);
          if (translated[file][key] !== text) different++;
        }
      }
      // Names like "Sid", "TwiML" or "Auth Token" stay; the rest is translated.
      assert.ok(different / Object.values(english).flatMap((c) => Object.keys(c)).length > 0.8, `${lang}: ${different} strings translated`);
    });
  }

  it('defines every key the editor files and the runtime use', () => {
    const sources = [
      ...fs.readdirSync(path.join(root, 'nodes')).map((f) => path.join(root, 'nodes', f)),
      ...fs.readdirSync(path.join(root, 'lib')).map((f) => path.join(root, 'lib', f)),
      path.join(root, 'resources', 'twilio-editor.js'),
    ];
    const used = new Set<string>();
    for (const file of sources) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/data-i18n="(?:\[\w+\])?([\w.-]+)"/g)) used.add(m[1]);
      for (const m of text.matchAll(/(?:RED\._|this\._|node\._|\bt)\(\s*'((?:twilio[\w-]*)\.[\w.]+)'/g)) used.add(m[1]);
      for (const m of text.matchAll(/status\.(?:working|success|warning|failed)\('((?:twilio[\w-]*)\.[\w.]+)'/g)) used.add(m[1]);
    }
    assert.ok(used.size > 80, `${used.size} keys found in the sources`);
    // A key built at run time ("twilio.editor.op." + op) is checked by its known endings.
    const missing = [...used].filter((key) => !key.endsWith('.') && !allEnglishKeys.has(key));
    for (const op of ['on', 'before', 'after']) assert.ok(allEnglishKeys.has(`twilio.editor.op.${op}`));
    assert.deepEqual(missing, []);
  });
});
