/** Answers and the board of open questions: matching without regard to form, codes, routing. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import { AnswerMatcher, REGEX_REPLY_LIMIT, answerProblem, normaliseAnswer, regexHazard } from '../../../lib/conversation/answers';
import { QuestionBoard } from '../../../lib/conversation/questions';
import { quotedCode } from '../../../lib/conversation/quoted-code';
import { InboundEvent, InboundHub } from '../../../lib/inbound/hub';
import { ORDINARY_PATTERNS, WORST_REPLIES } from '../../support/answer-patterns';
import { root } from '../../support/paths';

describe('answers', () => {
  it('matches words without regard to case, spaces, punctuation or emoji', () => {
    const matcher = new AnswerMatcher([
      { type: 'words', value: 'yes, y, oui' },
      { type: 'words', value: 'lights on' },
    ]);
    for (const reply of ['yes', 'YES', ' Yes! ', 'y.', '👍 yes 👍', 'Oui', 'y e s']) assert.equal(matcher.match(reply), 0, reply);
    for (const reply of ['Lights ON', 'lights-on', 'LIGHTSON']) assert.equal(matcher.match(reply), 1, reply);
    for (const reply of ['yes please', 'no', '', '👍', 'yess']) assert.equal(matcher.match(reply), -1, reply);
    assert.equal(normaliseAnswer('Ｙｅｓ！'), 'yes', 'full-width forms too');
  });

  it('tries a regular expression on the reply as written, case-insensitively; the first rule that matches wins', () => {
    const matcher = new AnswerMatcher([
      { type: 'regex', value: '^\\s*(\\d{1,2})\\s*°?c?\\s*$' },
      { type: 'words', value: '21' },
    ]);
    assert.equal(matcher.match('21 °C'), 0);
    assert.equal(matcher.match('21'), 0, 'the first rule that matches');
    assert.equal(matcher.match('warm'), -1);
  });

  it('says what is wrong with a rule: a regex that does not compile, a list with no word', () => {
    assert.match(answerProblem({ type: 'regex', value: '(' }) ?? '', /./);
    assert.equal(answerProblem({ type: 'words', value: ' , !' }), 'no word to match');
    assert.equal(answerProblem({ type: 'words', value: 'ok' }), undefined);
  });

  it('refuses a pattern that can take exponential time: a quantifier inside a repeated group, overlapping alternatives repeated', () => {
    const hazards = [
      '(a+)+',
      '(a*)*',
      '(a|a)*',
      '(a|aa)+',
      '(\\w+\\s?)+',
      '([a-z]+)*$',
      '^(?:a+)+$',
      '(a+){2,}',
      '(x+x+){1,10}y',
      '((ab)+c)*',
      '(\\d|\\w)+',
      '(yes|y)+$',
    ];
    for (const value of hazards) assert.match(answerProblem({ type: 'regex', value }) ?? '', /exponential/, value);
    const ordinary = [
      'yes|no',
      '^\\d{4}$',
      '\\b(ok|ack)\\b',
      '^(no|nope)\\b',
      '^\\s*(\\d{1,2})\\s*°?c?\\s*$',
      '(yes|no)+',
      '[(a+)+]',
      '\\(a+\\)+',
      '(ab)?c+',
      '^(\\d+)(\\.\\d+)?$',
      '^\\s*yes\\s*$',
      '^(y|yes|ok)!*$',
      '\\s*\\d+\\s*$',
      '\\s*(yes|no)\\s*',
      '^\\S+\\s+\\S+$',
      '\\w+@\\w+\\.com',
      '[^,]*,[^,]*',
      '\\p{L}+\\s+\\d+',
      '^.*=',
      '^a*a*b',
    ];
    for (const value of ordinary) assert.equal(answerProblem({ type: 'regex', value }), undefined, value);
  });

  it('refuses unbounded quantifiers in a row that can match the same characters (polynomial, yet seconds on one reply)', () => {
    const hazards = [
      '.*.*=',
      '.*.*.*=',
      'a*a*a*b',
      '^a*a*a*b',
      '(.*)(.*)=',
      '(.*).*=',
      '\\s*x?\\s*',
      '[a-z]*\\w+=',
      '\\d+\\w*x',
      'a{2,}A+b',
      '[^=]*.*=',
    ];
    for (const value of hazards) assert.match(answerProblem({ type: 'regex', value }) ?? '', /polynomial/, value);
  });

  it('lets the ordinary patterns through, and they answer the worst one-message replies as a person would expect (bench k times them)', () => {
    // Each worst reply ends in a character no pattern takes: only the unanchored words find themselves in it.
    const answered = (value: string) => WORST_REPLIES.filter((reply) => new AnswerMatcher([{ type: 'regex', value }]).match(reply) === 0);
    for (const value of ORDINARY_PATTERNS) assert.equal(regexHazard(value), undefined, value);
    assert.deepEqual(
      ORDINARY_PATTERNS.map((value) => [value, answered(value).map((reply) => reply.slice(0, 4))]),
      ORDINARY_PATTERNS.map((value) => [value, value === 'yes|no' ? ['yes '] : value === '\\b(ok|ack)\\b' ? ['ok!o'] : []]),
    );
  });

  // attack23 (ATTACK 5): no nesting, no alternation, yet adjacent unbounded quantifiers that can match the
  // same characters stalled Node-RED on one 1,600-character reply (`.*.*=` ~0.9 s, `.*.*.*=` 5.5 s on 400).
  describe('attack23: regexHazard and polynomial patterns', () => {
    const timeMatch = (pattern: string, reply: string): number => {
      const matcher = new AnswerMatcher([{ type: 'regex', value: pattern }]);
      const started = Date.now();
      matcher.match(reply);
      return Date.now() - started;
    };
    it('`.*.*=` (two adjacent stars) is accepted yet takes > 200 ms on one 1,600-char reply', () => {
      const pattern = '.*.*=';
      const reply = 'a'.repeat(REGEX_REPLY_LIMIT);
      const hazard = regexHazard(pattern);
      const ms = hazard === undefined ? timeMatch(pattern, reply) : 0;
      assert.ok(hazard !== undefined || ms <= 200, `regexHazard let ${pattern} through and one reply took ${ms} ms (should be refused)`);
    });
    it('`.*.*.*=` is accepted yet a 150-char reply already takes > 100 ms (seconds at 400, minutes at 1,600)', () => {
      const pattern = '.*.*.*=';
      const hazard = regexHazard(pattern);
      const ms = hazard === undefined ? timeMatch(pattern, 'a'.repeat(150)) : 0;
      assert.ok(
        hazard !== undefined,
        `regexHazard let ${pattern} through (150 chars: ${ms} ms; 400 chars measured ~5.5 s; 1,600 did not end in 60 s)`,
      );
    });
    it('`a*a*a*b` (no `.` at all) is accepted: O(n^3) on a reply of a’s', () => {
      const pattern = 'a*a*a*b';
      const hazard = regexHazard(pattern);
      const ms = hazard === undefined ? timeMatch(pattern, 'a'.repeat(150)) : 0;
      assert.ok(hazard !== undefined, `regexHazard let ${pattern} through (150 chars: ${ms} ms; 400 chars measured ~8 s)`);
    });
  });

  it('checks a pattern in one pass: a 100,000-character pattern in well under a second', () => {
    for (const value of ['a*'.repeat(50_000), '(a|b)x'.repeat(17_000), '[a-z]*='.repeat(15_000), '\\s*(\\d+)x'.repeat(10_000)]) {
      const started = performance.now();
      regexHazard(value);
      assert.ok(performance.now() - started < 1_000, `${value.length} characters`);
    }
  });

  it('is the same rule in the editor: the build ships the runtime’s regexHazard in resources/twilio-editor.js', () => {
    const script = fs.readFileSync(path.join(root, 'resources', 'twilio-editor.js'), 'utf8');
    const window: { TwilioRules?: { regexHazard?: (p: string) => string | undefined } } = {};
    // The rules are set before the editor's own code, which needs a browser: run only the rules.
    const shipped = script.indexOf('window.TwilioRules.regexHazard = ');
    vm.runInNewContext(script.slice(0, script.indexOf('\n};', shipped) + 3), { window });
    const inEditor = window.TwilioRules?.regexHazard;
    assert.ok(inEditor, 'shipped');
    for (const value of [
      '(a+)+',
      '(a*)*',
      '(a|a)*',
      '(a|aa)+',
      '(\\w+\\s?)+',
      '([a-z]+)*$',
      'yes|no',
      '^\\d{4}$',
      '\\b(ok|ack)\\b',
      '.*.*=',
      'a*a*a*b',
      '\\s*\\d+\\s*$',
      '\\p{L}+\\s+\\d+',
      '[^,]*,[^,]*',
      '(.*)(.*)=',
      '^(y|yes|ok)!*$',
    ])
      assert.equal(inEditor(value), regexHazard(value), value);
  });

  it('never runs a refused pattern, keeps its place (the outputs stay wired), and tries a pattern on the first 1,600 characters only', () => {
    const matcher = new AnswerMatcher([
      { type: 'regex', value: '^(a+)+$' },
      { type: 'regex', value: '\\s*\\d+\\s*$' },
      { type: 'words', value: 'yes' },
    ]);
    let started = performance.now();
    assert.equal(matcher.match('a'.repeat(25) + '!'), -1);
    const exponential = performance.now() - started;
    started = performance.now();
    assert.equal(matcher.match(' '.repeat(30_000) + 'x'), -1);
    const quadratic = performance.now() - started;
    assert.ok(exponential < 250 && quadratic < 250, `${exponential.toFixed(0)} ms, ${quadratic.toFixed(0)} ms`);
    assert.equal(matcher.match('aaaa'), -1, 'the refused rule matches nothing');
    assert.equal(matcher.match('yes'), 2, 'the others keep their index');
    assert.equal(matcher.match('42'), 1);
  });
});

describe('QuestionBoard', () => {
  const message = (from: string, body: string, to = '+15017122661'): InboundEvent => ({
    kind: 'message',
    sid: 'SM' + Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32),
    from,
    to,
    params: { Body: body },
    source: 'webhook',
  });

  it('finds the code a reply quotes at its start or end, and leaves the answer', () => {
    const codes = new Set(['42', '17']);
    assert.deepEqual(quotedCode('YES 42', codes), { code: '42', rest: 'YES' });
    assert.deepEqual(quotedCode('42 yes', codes), { code: '42', rest: 'yes' });
    assert.deepEqual(quotedCode('#17: no', codes), { code: '17', rest: 'no' });
    assert.equal(quotedCode('set it to 21', codes), undefined, 'a number that is no open code is part of the answer');
  });

  it('gives each of a person’s open questions its own code', () => {
    const board = new QuestionBoard(new InboundHub(), () => undefined);
    const codes = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const code = board.codeFor('+15555550100');
      assert.ok(!codes.has(code), code);
      codes.add(code);
      board.open({ id: String(i), person: '+15555550100', code, summary: 'q', onReply: () => undefined });
    }
    assert.equal(board.openFor('+15555550100'), 40);
  });

  it('routes a reply to exactly one question, asks which when it cannot tell, and claims it from twilio-in', () => {
    const hub = new InboundHub();
    const clarified: string[][] = [];
    const board = new QuestionBoard(hub, (_person, _from, open) => clarified.push(open.map((q) => q.code)));
    const got: string[] = [];
    const closeA = board.open({
      id: 'a',
      person: '+1555',
      ourNumber: '+15017122661',
      code: '11',
      summary: 'A?',
      onReply: (r) => got.push(`a:${r.text}`),
    });
    assert.deepEqual(hub.publish(message('+1555', 'yes')), { delivered: 1, claimed: true });
    board.open({ id: 'b', person: '+1555', ourNumber: '+15017122661', code: '22', summary: 'B?', onReply: (r) => got.push(`b:${r.text}`) });
    hub.publish(message('+1555', 'yes'));
    assert.deepEqual(clarified, [['11', '22']]);
    hub.publish(message('+1555', 'no 22'));
    closeA();
    hub.publish(message('+1555', 'maybe'));
    assert.deepEqual(got, ['a:yes', 'b:no', 'b:maybe']);
    assert.deepEqual(hub.publish(message('+1666', 'hello')), { delivered: 0, claimed: false }, 'a stranger is no one’s answer');
    assert.deepEqual(hub.publish(message('+1555', 'to another number', '+15017122662')).claimed, false, 'only the number that asked');
  });

  it('lets no reply older than a question answer it (a poll listing an old text again), and quotes codes only as whole numbers', () => {
    const hub = new InboundHub();
    const got: string[] = [];
    const board = new QuestionBoard(hub);
    board.open({ id: 'b', person: '+1555', code: '52', summary: 'B?', askedAt: 2_000_000, onReply: (r) => got.push(r.text) });
    assert.equal(hub.publish({ ...message('+1555', 'yes'), source: 'poll', at: 1_000_000 }).claimed, false, 'older than the question');
    hub.publish({ ...message('+1555', 'no'), source: 'poll', at: 2_000_000 });
    assert.deepEqual(got, ['no']);
    assert.equal(quotedCode('yes 142 42', new Set(['42']))?.rest, 'yes 142');
    assert.equal(quotedCode('17 guests 42', new Set(['17', '42']))?.code, '42', 'a code at the end first');
    // A long run of punctuation (once quadratic to trim; its speed is the benchmark's business) still reads right.
    assert.deepEqual(quotedCode('.'.repeat(20_000) + ' 42 yes', new Set(['42']))?.code, '42');
  });
});
