/**
 * The board of open questions (lib/conversation/questions.ts): nothing a person texts vanishes (an
 * answer to exactly one question, or news for twilio-in), a code is read only where a person quoting
 * it puts it, and the clarifying message fits in one Twilio message in every language.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { QuestionBoard } from '../../../lib/conversation/questions';
import { clarifyingMessage, peopleTexts } from '../../../lib/conversation/clarifying';
import { quotedCode } from '../../../lib/conversation/quoted-code';
import { InboundHub } from '../../../lib/inbound/hub';
import { HOUSE, message } from '../../support/boards';
import { root } from '../../support/paths';

const ANN = '+15555550130';

/** RED._ over one language's shared catalogue. */
function translateIn(lang: string) {
  const shared = JSON.parse(fs.readFileSync(path.join(root, 'locales', lang, '_shared.json'), 'utf8')) as Record<string, unknown>;
  return (key: string, subs: Record<string, string | number> = {}) => {
    const template = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], shared);
    return typeof template === 'string'
      ? template.replace(/__(\w+)__/g, (whole, name: string) => (name in subs ? String(subs[name]) : whole))
      : key;
  };
}

describe('QuestionBoard: nothing a person texts vanishes', () => {
  it('passes a reply without a code on as news while several questions are open: one clarifying message, and each text reaches twilio-in', () => {
    const hub = new InboundHub();
    const clarified: string[][] = [];
    const board = new QuestionBoard(hub, (_person, _from, open) => clarified.push(open.map((q) => q.code)));
    const answers: string[] = [];
    for (const [id, code] of [
      ['oven', '42'],
      ['door', '93'],
    ])
      board.open({ id, person: ANN, ourNumber: HOUSE, code, summary: `${id}?`, onReply: (r) => answers.push(`${id}:${r.text}`) });
    let news = 0;
    for (let i = 0; i < 2_000; i++) {
      const published = hub.publish(message(ANN, `note ${i} of the day`));
      assert.equal(published.delivered, 1);
      if (!published.claimed) news++;
    }
    assert.equal(news, 2_000, 'every text without a code is news');
    assert.deepEqual(hub.publish(message(ANN, 'FIRE in the kitchen, call 911')), { delivered: 1, claimed: false }, 'the fire is news');
    assert.deepEqual(clarified, [['42', '93']], 'one clarifying message for the set');
    assert.deepEqual(answers, [], 'none of them an answer');
    assert.equal(hub.publish(message(ANN, 'yes 42')).claimed, true, 'a reply quoting a code is its answer');
    assert.deepEqual(answers, ['oven:yes']);
  });

  it('asks again after the open questions changed, and still passes the reply on', () => {
    const hub = new InboundHub();
    let clarified = 0;
    const board = new QuestionBoard(hub, () => clarified++);
    board.open({ id: 'a', person: ANN, code: '11', summary: 'A?', onReply: () => undefined });
    const closeB = board.open({ id: 'b', person: ANN, code: '22', summary: 'B?', onReply: () => undefined });
    board.open({ id: 'c', person: ANN, code: '33', summary: 'C?', onReply: () => undefined });
    assert.equal(hub.publish(message(ANN, 'yes')).claimed, false);
    closeB();
    assert.equal(hub.publish(message(ANN, 'yes')).claimed, false);
    assert.equal(hub.publish(message(ANN, 'yes')).claimed, false);
    assert.equal(clarified, 2, 'once per set of open questions');
  });
});

describe('quotedCode: a code only where a person quoting one puts it', () => {
  const codes = new Set(['42', '93', '17']);
  it('takes a code at the start or the end of the reply, alone or with #', () => {
    const cases: Array<[string, string, string]> = [
      ['YES 42', '42', 'YES'],
      ['42 yes', '42', 'yes'],
      ['#42: yes', '42', 'yes'],
      ['yes #42', '42', 'yes'],
      ['42', '42', ''],
      ['#42', '42', ''],
      ['yes, 42.', '42', 'yes'],
      ['42, no', '42', 'no'],
      ['no 42!', '42', 'no'],
      ['42. no', '42', 'no'],
      ['#42:no', '42', 'no'],
      ['yes 142 42', '42', 'yes 142'],
      ['17 guests 42', '42', '17 guests'],
      ['17 guests', '17', 'guests'],
    ];
    for (const [reply, code, rest] of cases) assert.deepEqual(quotedCode(reply, codes), { code, rest }, reply);
  });

  it('never takes a number inside the text: times, prices, percentages, dates, phone numbers, a number mid-sentence', () => {
    const replies = [
      'yes, the oven is off. Home at 7:93',
      'Home at 7:93',
      '7:93 home',
      'the room 93 is open',
      'battery at 93%',
      '93% charged',
      'it cost $93',
      '93€ paid',
      'it is 93.5 degrees',
      'since 12/93',
      'on 17.12.93',
      'call me on 555-0193',
      'call 555-93',
      '1993',
      'the 93rd time',
      '93-year-old',
      'at 2,93',
      'set it to 21',
    ];
    for (const reply of replies) assert.equal(quotedCode(reply, codes), undefined, reply);
  });

  it('reads a reply with a long run of punctuation in linear time', () => {
    assert.deepEqual(quotedCode('.'.repeat(20_000) + ' 42 yes', codes)?.code, '42');
    const started = performance.now();
    // 300,000 characters: a quadratic scan would take minutes; a linear one milliseconds (a busy machine's second is slack).
    assert.equal(quotedCode('1'.repeat(100_000) + ' :'.repeat(100_000), codes), undefined);
    assert.ok(performance.now() - started < 1_000, 'no quadratic scan');
  });
});

// attack23 (ATTACK 4): a person on a Japanese or Arabic keyboard quotes the code in the digits it types;
// the reply was news and drew another clarifying message (`isDigit` knew 0–9 only).
describe('quotedCode and digits people type', () => {
  const codes = new Set(['93', '42']);
  it('full-width digits at the end: "はい ９３" quotes 93', () => {
    assert.deepEqual(quotedCode('はい ９３', codes), { code: '93', rest: 'はい' });
  });
  it('full-width digits at the start: "＃４２ いいえ" quotes 42', () => {
    assert.deepEqual(quotedCode('＃４２ いいえ', codes), { code: '42', rest: 'いいえ' });
  });
  it('Arabic-Indic digits at the end: "نعم ٩٣" quotes 93', () => {
    assert.deepEqual(quotedCode('نعم ٩٣', codes), { code: '93', rest: 'نعم' });
  });
  it('other decimal digits and full-width punctuation too; the rest as the person wrote it', () => {
    assert.deepEqual(quotedCode('۴۲ بله', codes), { code: '42', rest: 'بله' }, 'Extended Arabic-Indic');
    assert.deepEqual(quotedCode('हाँ ९३', codes), { code: '93', rest: 'हाँ' }, 'Devanagari');
    assert.deepEqual(quotedCode('ｙｅｓ！ ＃９３！', codes), { code: '93', rest: 'ｙｅｓ' }, 'full-width kept in the rest');
    assert.deepEqual(quotedCode('𝟗𝟑 ok', codes), { code: '93', rest: 'ok' }, 'outside the BMP');
    assert.equal(quotedCode('はい ９３％', codes), undefined, 'a percentage in any digits');
    assert.equal(quotedCode('はい １９３', codes), undefined, 'a longer number');
  });
  // What held (kept as passing guards of the attack): ASCII spellings.
  it('held: "#93", "93.", "yes 93!", "(93) yes" quote 93; "YES93", "93%", "7:93", "$93" do not', () => {
    assert.equal(quotedCode('#93', codes)?.code, '93');
    assert.equal(quotedCode('93.', codes)?.code, '93');
    assert.equal(quotedCode('yes 93!', codes)?.code, '93');
    assert.equal(quotedCode('(93) yes', codes)?.code, '93');
    for (const text of ['YES93', '93%', 'home at 7:93', '$93', '12/93', '555-93', '2,93'])
      assert.equal(quotedCode(text, codes), undefined, text);
  });
});

describe('the clarifying message', () => {
  const open = Array.from({ length: 100 }, (_, i) => ({
    code: String(10 + i),
    summary: `Question ${i}: ${'is the back door of the garden shed locked for the night '.repeat(3)}`,
  }));

  for (const lang of ['en-US', 'de', 'ja'])
    it(`fits in one Twilio message (1,600 characters) in ${lang}: the most recent questions, and how many more`, () => {
      const body = clarifyingMessage(peopleTexts(translateIn(lang)), open);
      assert.ok(body.length <= 1_600, `${body.length} characters`);
      assert.match(body, /\b109\b/, 'the most recent question’s code');
      assert.match(body, /100/, 'how many are open');
      const listed = open.filter((q) => new RegExp(`(^|\\n)${q.code}: `).test(body)).length;
      assert.ok(listed >= 1 && listed < 100, `${listed} listed`);
      assert.match(body, new RegExp(`\\b${100 - listed}\\b`), 'and how many more');
      assert.ok(!body.includes('__'), 'every placeholder filled');
      const few = clarifyingMessage(peopleTexts(translateIn(lang)), open.slice(0, 2));
      assert.ok(few.includes('10: ') && few.includes('11: '), 'a short list whole');
    });

  it('cuts a single question too long to fit', () => {
    const body = clarifyingMessage(peopleTexts(translateIn('en-US')), [{ code: '42', summary: 'x'.repeat(5_000) }]);
    assert.ok(body.length <= 1_600 && body.includes('42: xxx'), `${body.length}`);
  });
});
