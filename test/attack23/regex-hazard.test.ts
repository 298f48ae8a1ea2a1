/**
 * ATTACK 5: regexHazard lets through patterns of polynomial (not exponential) time that still stall
 * Node-RED on one 1,600-character reply. No nested quantifier, no alternation: adjacent unbounded
 * quantifiers that can match the same characters (`.*.*=`, `a*a*a*b`). Cause: lib/conversation/answers.ts
 * regexHazard only checks star height inside a repeated group and overlapping alternatives; it never
 * looks at sibling quantifiers (and AnswerMatcher runs the pattern unanchored on the whole 1,600 chars).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnswerMatcher, REGEX_REPLY_LIMIT, regexHazard } from '../../lib/conversation/answers';

function timeMatch(pattern: string, reply: string): number {
  const matcher = new AnswerMatcher([{ type: 'regex', value: pattern }]);
  const started = Date.now();
  matcher.match(reply);
  return Date.now() - started;
}

describe('attack23: regexHazard and polynomial patterns', () => {
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
