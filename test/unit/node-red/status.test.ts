/** Node statuses: keys go to the editor untranslated (it translates them), values are filled into a once-translated template. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Node, NodeStatus as NodeRedStatus } from 'node-red';
import { ALL_ERROR_CODES, TwilioNodeError } from '../../../lib/core/errors';
import { text } from '../../../lib/core/texts';
import { NodeStatus } from '../../../lib/node-red/status';
import { root } from '../../support/paths';

const locales = path.join(root, 'locales');

/** Interpolates `__name__` as Node-RED's i18next does (escapeValue off); counts how often it ran. */
function translator(lang: string) {
  const strings: Record<string, string> = {};
  const walk = (value: unknown, prefix: string) => {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v === 'object' && v !== null) walk(v, `${prefix}${k}.`);
      else strings[`${prefix}${k}`] = String(v);
    }
  };
  // The shared catalogue and every node's own.
  const folders = [
    path.join(locales, lang),
    ...fs.readdirSync(path.join(root, 'nodes')).map((n) => path.join(root, 'nodes', n, 'locales', lang)),
  ];
  for (const folder of folders.filter((f) => fs.existsSync(f)))
    for (const file of fs.readdirSync(folder).filter((f) => f.endsWith('.json')))
      walk(JSON.parse(fs.readFileSync(path.join(folder, file), 'utf8')), '');
  const t = (key: string, subs?: Record<string, string | number>) => {
    t.calls++;
    return (strings[key] ?? key).replace(/__(\w+)__/g, (m, name: string) => (subs && name in subs ? String(subs[name]) : m));
  };
  t.calls = 0;
  return { t, strings };
}

function fakeNode() {
  const shown: NodeRedStatus[] = [];
  return { node: { status: (s: NodeRedStatus) => shown.push(s) } as unknown as Node, shown };
}

describe('NodeStatus', () => {
  it('sends a status without values as its key, for the editor to translate', () => {
    const { t } = translator('de');
    const { node, shown } = fakeNode();
    new NodeStatus(node, t).success('twilio.status.sent');
    assert.deepEqual(shown, [{ fill: 'green', shape: 'dot', text: 'twilio.status.sent' }]);
    assert.equal(t.calls, 0);
  });

  for (const lang of ['en-US', 'de', 'ja']) {
    it(`fills values into the translated template exactly as a direct translation would (${lang})`, () => {
      const { t, strings } = translator(lang);
      const withValues = Object.keys(strings).filter((k) => k.includes('.status.') && /__\w+__/.test(strings[k]));
      assert.ok(withValues.length >= 5, `${withValues.length} status texts with values`);
      const { node, shown } = fakeNode();
      const status = new NodeStatus(node, t);
      const templates = new Set<string>();
      for (const key of withValues) {
        const names = [...strings[key].matchAll(/__(\w+)__/g)].map((m) => m[1]);
        // A count asks for the plural form first (found or not), then the key itself: two templates.
        templates.add(key);
        if (names.includes('count')) templates.add(`${key}_plural`);
        for (const value of [0, 7, 'CONNECTION_ERROR', '$1 & __x__', 'ünï 😀']) {
          const subs = Object.fromEntries(names.map((name) => [name, value]));
          status.working(key, subs);
          // A count other than 1 reads the plural form where the catalogue has one.
          const chosen = typeof value === 'number' && names.includes('count') && `${key}_plural` in strings ? `${key}_plural` : key;
          assert.equal(shown.at(-1)!.text, t(chosen, subs), `${key} with ${value}`);
        }
      }
      // One translation per template, plus the direct ones this test made to compare.
      assert.equal(t.calls, templates.size + withValues.length * 5);
    });
  }

  describe('counts: one form for 1, the plural form for any other count', () => {
    it("says 'waiting for 1 outcome' and 'waiting for 2 outcomes' (en-US, de; ja has one form)", () => {
      const shownIn = (lang: string, count: number) => {
        const { node, shown } = fakeNode();
        new NodeStatus(node, translator(lang).t).working('twilio-send.status.waiting', { count });
        return shown[0].text;
      };
      assert.equal(shownIn('en-US', 1), 'waiting for 1 outcome');
      assert.equal(shownIn('en-US', 2), 'waiting for 2 outcomes');
      assert.equal(shownIn('en-US', 0), 'waiting for 0 outcomes');
      assert.equal(shownIn('de', 1), 'wartet auf 1 Ergebnis');
      assert.equal(shownIn('de', 3), 'wartet auf 3 Ergebnisse');
      assert.equal(shownIn('ja', 1), '1 件の結果を待機中');
    });

    it('keeps the key itself where the catalogue has no plural form', () => {
      const { t } = translator('en-US');
      const { node, shown } = fakeNode();
      new NodeStatus(node, t).working('twilio.status.sentCount', { count: 3 });
      assert.equal(shown[0].text, '3 sent');
    });

    for (const lang of ['en-US', 'de', 'ja']) {
      it(`has both forms wherever one has a plural, in every language (${lang})`, () => {
        const english = translator('en-US').strings;
        const { strings } = translator(lang);
        for (const key of Object.keys(english).filter((k) => k.endsWith('_plural'))) {
          assert.ok(key in strings, `${lang} has ${key}`);
          assert.ok(key.replace(/_plural$/, '') in strings, `${lang} has the singular of ${key}`);
        }
      });
    }

    it('reads right for a count of 1 in English: no status says "1 things"', () => {
      const { t, strings } = translator('en-US');
      const withCount = Object.keys(strings).filter(
        (k) => k.includes('.status.') && !k.endsWith('_plural') && strings[k].includes('__count__'),
      );
      assert.ok(withCount.length >= 5);
      for (const key of withCount) {
        const { node, shown } = fakeNode();
        const subs = Object.fromEntries([...strings[key].matchAll(/__(\w+)__/g)].map((m) => [m[1], m[1] === 'count' ? 1 : 'x']));
        new NodeStatus(node, t).working(key, subs);
        assert.doesNotMatch(String(shown[0].text), /\b1 \w+s\b/, key);
        const many = { ...subs, count: 2 };
        new NodeStatus(node, t).working(key, many);
        assert.doesNotMatch(String(shown[1].text), /\b2 (outcome|record)\b/, key);
      }
    });
  });

  describe('failures: a few words of why beside the code', () => {
    it("says 'no recipient (MISSING_INPUT)', with Twilio's number where it gave one", () => {
      const { node, shown } = fakeNode();
      const status = new NodeStatus(node, translator('en-US').t);
      status.failedWith(new TwilioNodeError('MISSING_INPUT', text('noRecipient')));
      status.failedWith(new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'To' })));
      status.failedWith(
        new TwilioNodeError('INVALID_TO_PHONE_NUMBER_ERROR', 'The number is not valid', { twilioCode: 21211, status: 400 }),
      );
      status.failedWith(new TwilioNodeError('MISSING_INPUT', text('an error with no short reason of its own')));
      status.failedWith(new TwilioNodeError('NOT_FOUND', 'plain text'));
      assert.deepEqual(
        shown.map((s) => s.text),
        [
          'no recipient (MISSING_INPUT)',
          'To not set (MISSING_INPUT)',
          'bad To number (21211)',
          'input missing (MISSING_INPUT)',
          'not found (NOT_FOUND)',
        ],
      );
      assert.ok(shown.every((s) => s.fill === 'red' && s.shape === 'ring'));
    });

    it('translates once per reason, however often it fails', () => {
      const { t } = translator('de');
      const { node, shown } = fakeNode();
      const status = new NodeStatus(node, t);
      for (let i = 0; i < 50; i++) status.failedWith(new TwilioNodeError('MISSING_INPUT', text('noRecipient')));
      assert.equal(shown.at(-1)!.text, 'kein Empfänger (MISSING_INPUT)');
      assert.ok(t.calls <= 2, `${t.calls} translations`);
    });

    for (const lang of ['en-US', 'de', 'ja']) {
      it(`has a short reason for every code (${lang}): with Twilio's number the status stays under 30 characters`, () => {
        const { t, strings } = translator(lang);
        for (const code of ALL_ERROR_CODES) {
          assert.ok(`twilio.status.reasons.${code}` in strings, `${lang}: a reason for ${code}`);
          const { node, shown } = fakeNode();
          new NodeStatus(node, t).failedWith(new TwilioNodeError(code, 'x', { twilioCode: 21999 }));
          assert.ok(String(shown[0].text).length <= 30, `${lang} ${code}: "${shown[0].text}"`);
        }
      });
    }
  });
});
