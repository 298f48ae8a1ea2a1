/**
 * Answer patterns a person would write, which regexHazard lets through, and the worst one-message
 * replies for them (each `unit` repeated up to the length a pattern ever sees, then a character that
 * matches nothing). The unit test holds that they are let through and answer alike every time; bench
 * k times them (a speed target lives in the bench, not in a test).
 */
import { REGEX_REPLY_LIMIT } from '../../lib/conversation/answers';

export const ORDINARY_PATTERNS = [
  '^\\s*yes\\s*$',
  'yes|no',
  '^\\d{4}$',
  '\\b(ok|ack)\\b',
  '^(y|yes|ok)!*$',
  '^\\s*(\\d{1,2})\\s*°?c?\\s*$',
  '\\s*\\d+\\s*$',
  '^a*a*b',
];

export const WORST_REPLIES = ['a', ' ', '1', '=a', 'yes ', 'ok!'].map(
  (unit) => unit.repeat(REGEX_REPLY_LIMIT).slice(0, REGEX_REPLY_LIMIT - 1) + '\u0000',
);
