/**
 * Every string the editor and runtime show is in a catalogue, in every language, with its
 * placeholders: each node's own (nodes/<type>/locales/<lang>/) and the shared one (locales/<lang>/).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CATALOGUE } from '../../lib/catalogue/catalogue';
import { root } from '../support/paths';

const locales = path.join(root, 'locales');
const LANGUAGES = ['en-US', 'de', 'ja'];
/** The node folders: nodes/<type>/ with <type>.html. */
const NODES = fs.readdirSync(path.join(root, 'nodes')).filter((f) => fs.existsSync(path.join(root, 'nodes', f, `${f}.html`)));
/** A node's file in a language: its catalogue (.json) or its help (.html). */
const nodeLocale = (node: string, lang: string, ext: 'json' | 'html') => path.join(root, 'nodes', node, 'locales', lang, `${node}.${ext}`);

function flatten(value: unknown, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (typeof inner === 'object' && inner !== null) Object.assign(out, flatten(inner, `${prefix}${key}.`));
    else out[`${prefix}${key}`] = String(inner);
  }
  return out;
}

function catalogue(lang: string): Record<string, Record<string, string>> {
  const files: Array<[string, string]> = [
    ['_shared.json', path.join(locales, lang, '_shared.json')],
    ...NODES.map((node): [string, string] => [`${node}.json`, nodeLocale(node, lang, 'json')]).filter(([, file]) => fs.existsSync(file)),
  ];
  return Object.fromEntries(files.map(([name, file]) => [name, flatten(JSON.parse(fs.readFileSync(file, 'utf8')))]));
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
      // The nodes as built: their .html with the dialog templates and the editor scripts compiled in.
      ...NODES.map((node) => path.join(root, 'dist', 'nodes', node, `${node}.html`)),
      ...NODES.flatMap((node) =>
        fs
          .readdirSync(path.join(root, 'nodes', node))
          .filter((f) => f.endsWith('.ts') && !f.endsWith('.editor.ts'))
          .map((f) => path.join(root, 'nodes', node, f)),
      ),
      ...(fs.readdirSync(path.join(root, 'lib'), { recursive: true }) as string[])
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.join(root, 'lib', f)),
      path.join(root, 'resources', 'twilio-editor.js'),
    ];
    const used = new Set<string>();
    for (const file of sources) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/data-i18n="(?:\[\w+\])?([\w.-]+)"/g)) used.add(m[1]);
      for (const m of text.matchAll(/(?:RED\._|this\._|node\._|\bt)\(\s*'((?:twilio[\w-]*)\.[\w.]+)'/g)) used.add(m[1]);
      for (const m of text.matchAll(/status\.(?:working|success|warning|failed)\('((?:twilio[\w-]*)\.[\w.]+)'/g)) used.add(m[1]);
      // Error texts: text('key') and text(cond ? 'a' : 'b'), and the expected values field checks name.
      for (const m of text.matchAll(/\btext\((?:[^?'(),]*\?\s*)?'(\w+)'(?:\s*:\s*'(\w+)')?/g))
        for (const k of [m[1], m[2]].filter(Boolean)) used.add(`twilio.errors.${k}`);
      for (const m of text.matchAll(/\binvalid\(name, '(\w+)'/g)) used.add(`twilio.errors.expected.${m[1]}`);
    }
    assert.ok(used.size > 80, `${used.size} keys found in the sources`);
    // A key built at run time ("twilio.editor.op." + op) is checked by its known endings.
    const missing = [...used].filter((key) => !key.endsWith('.') && !allEnglishKeys.has(key));
    for (const op of ['on', 'before', 'after']) assert.ok(allEnglishKeys.has(`twilio.editor.op.${op}`));
    assert.deepEqual(missing, []);
  });

  it("says in every language why an action is not supported, the English being the catalogue's own text", () => {
    const refusals = CATALOGUE.flatMap((o) =>
      Object.entries(o.actions)
        .filter(([, spec]) => spec?.notSupported)
        .map(([action, spec]) => ({ key: `twilio.notSupported.${o.name}.${action}`, text: spec!.notSupported! })),
    );
    assert.equal(refusals.length, 4);
    for (const lang of LANGUAGES) {
      const shared = catalogue(lang)['_shared.json'];
      for (const { key, text } of refusals) {
        assert.ok(shared[key], `${lang}: ${key}`);
        if (lang === 'en-US') assert.equal(shared[key], text, key);
      }
    }
  });

  it('has a help page for every node in every language, each with the sections and codes of the English one', () => {
    const nodes = NODES;
    assert.equal(nodes.length, 12);
    const shape = (html: string) => ({
      sections: (html.match(/<h3>/g) ?? []).length,
      properties: [...html.matchAll(/<dt[^>]*>([^<]*)/g)]
        .map((m) => m[1].trim().split(' ')[0])
        .filter((name) => /^[A-Z_…/,. ]+$|^[a-z]+$/.test(name)),
      catalogue: [...html.matchAll(/<!-- catalogue:(\w+) -->/g)].map((m) => m[1]),
      codes: [...html.matchAll(/\b[A-Z]{3,}(?:_[A-Z]+)+\b/g)].map((m) => m[0]).sort(),
    });
    for (const node of nodes) {
      const english = fs.readFileSync(nodeLocale(node, 'en-US', 'html'), 'utf8');
      assert.match(english, new RegExp(`data-help-name="${node}"`));
      for (const lang of LANGUAGES.filter((l) => l !== 'en-US')) {
        const file = nodeLocale(node, lang, 'html');
        assert.ok(fs.existsSync(file), `${lang}/${node}.html`);
        const translated = fs.readFileSync(file, 'utf8');
        assert.match(translated, new RegExp(`data-help-name="${node}"`));
        assert.notEqual(translated, english);
        const [a, b] = [shape(english), shape(translated)];
        assert.equal(b.sections, a.sections, `${lang}/${node}: sections`);
        assert.deepEqual(b.catalogue, a.catalogue, `${lang}/${node}: catalogue lists`);
        assert.deepEqual(b.codes, a.codes, `${lang}/${node}: error codes`);
        assert.deepEqual(
          b.properties.filter((p) => /^[a-z]+$/.test(p)),
          a.properties.filter((p) => /^[a-z]+$/.test(p)),
          `${lang}/${node}: msg properties`,
        );
      }
    }
  });
});
