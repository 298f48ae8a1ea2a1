/**
 * ATTACK 4: QuestionBoard code quoting (lib/conversation/questions.ts quotedCode; `isDigit` at ~line
 * 196 is ASCII only). A person on a Japanese (or Arabic) keyboard who quotes the code the clarifying
 * message gave them types full-width ("９３") or Arabic-Indic ("٩٣") digits: the reply answers no
 * question, is passed on as news and draws another clarifying message, though the answers side
 * (answers.ts normaliseAnswer) already reads NFKC and the package ships a ja locale.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quotedCode } from '../../lib/conversation/questions';

const codes = new Set(['93', '42']);

describe('attack23: quotedCode and digits people type', () => {
  it('full-width digits at the end: "はい ９３" quotes 93', () => {
    assert.deepEqual(quotedCode('はい ９３', codes), { code: '93', rest: 'はい' });
  });
  it('full-width digits at the start: "＃４２ いいえ" quotes 42', () => {
    assert.deepEqual(quotedCode('＃４２ いいえ', codes), { code: '42', rest: 'いいえ' });
  });
  it('Arabic-Indic digits at the end: "نعم ٩٣" quotes 93', () => {
    assert.deepEqual(quotedCode('نعم ٩٣', codes), { code: '93', rest: 'نعم' });
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
