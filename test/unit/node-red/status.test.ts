/** Node statuses: keys go to the editor untranslated (it translates them), values are filled into a once-translated template. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Node, NodeStatus as NodeRedStatus } from 'node-red';
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
  for (const file of fs.readdirSync(path.join(locales, lang)).filter((f) => f.endsWith('.json')))
    walk(JSON.parse(fs.readFileSync(path.join(locales, lang, file), 'utf8')), '');
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
      for (const key of withValues) {
        for (const value of [0, 7, 'CONNECTION_ERROR', '$1 & __x__', 'ünï 😀']) {
          const subs = Object.fromEntries([...strings[key].matchAll(/__(\w+)__/g)].map((m) => [m[1], value]));
          status.working(key, subs);
          assert.equal(shown.at(-1)!.text, t(key, subs), `${key} with ${value}`);
        }
      }
      // One translation per key for the templates, plus the direct ones this test made to compare.
      assert.equal(t.calls, withValues.length + withValues.length * 5);
    });
  }
});
