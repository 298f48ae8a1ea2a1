/** Error texts: composed in English from the catalogue, said in the runtime's language where they are reported. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { findObject, notSupportedText } from '../../../lib/catalogue/catalogue';
import { TwilioNodeError } from '../../../lib/core/errors';
import { text } from '../../../lib/core/texts';
import { parseRecipients } from '../../../lib/twilio/addresses';
import { root } from '../../support/paths';

const locales = path.join(root, 'locales');

/** RED._ over one language's catalogue: `__name__` interpolation, the key itself when it has none. */
function redTranslate(lang: string) {
  const shared = JSON.parse(fs.readFileSync(path.join(locales, lang, '_shared.json'), 'utf8')) as Record<string, unknown>;
  return (key: string, subs: Record<string, string | number> = {}) => {
    const template = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], shared);
    return typeof template === 'string'
      ? template.replace(/__(\w+)__/g, (whole, name: string) => (name in subs ? String(subs[name]) : whole))
      : key;
  };
}

describe('error texts', () => {
  it('are English where they are made, and in the runtime language once localised', () => {
    const error = new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'To' }));
    assert.equal(error.message, 'To is not set');
    assert.equal(error.localise(redTranslate('de')).message, 'To ist nicht gesetzt');
    assert.equal(error.localise(redTranslate('ja')).message, 'To が設定されていません');
    assert.equal(error.localise(redTranslate('en-US')).message, 'To is not set');
  });

  it('translate the texts inside a text: a reason, a first failure', () => {
    const refusal = new TwilioNodeError('NOT_SUPPORTED', notSupportedText(findObject('ShortCode')!, 'delete'));
    assert.match(refusal.message, /^ShortCode delete: Short codes are leased through Twilio's support/);
    assert.match(refusal.localise(redTranslate('de')).message, /^ShortCode delete: Short Codes werden über Twilios Support gemietet/);

    let first: TwilioNodeError | undefined;
    try {
      parseRecipients('not-a-number', 'message');
    } catch (err) {
      first = err as TwilioNodeError;
    }
    assert.ok(first?.text, 'a lib error carries its text');
    const summary = new TwilioNodeError(first!.code, text('recipientsFailed', { failed: 1, total: 3, first: first!.text! }));
    assert.equal(
      summary.localise(redTranslate('de')).message,
      '1 von 3 Empfängern fehlgeschlagen; erster Fehler: „not-a-number“ ist kein gültiger Empfänger: E.164 wie +14155550100 oder whatsapp:+14155550100 verwenden',
    );
  });

  it('fall back to English for a key the runtime does not know, and keep plain messages as they are', () => {
    const error = new TwilioNodeError('INVALID_INPUT', text('future', { field: 'Send at' }));
    assert.equal(error.localise(() => 'twilio.errors.future').message, 'Send at must be in the future');
    const plain = new TwilioNodeError('UNKNOWN_ERROR', 'socket hang up');
    assert.equal(plain.localise(redTranslate('de')).message, 'socket hang up');
  });

  it('leave the text out of what Catch nodes and flows see', () => {
    const error = new TwilioNodeError('INVALID_INPUT', text('httpUrl', { field: 'Status callback' }), { status: 400 });
    assert.ok(!Object.keys(error).includes('text'), 'not enumerable');
    assert.ok(!JSON.stringify({ ...error }).includes('twilio.errors'));
    assert.deepEqual(error.toJSON(), { code: 'INVALID_INPUT', message: 'Status callback must be an http:// or https:// URL', status: 400 });
  });
});
