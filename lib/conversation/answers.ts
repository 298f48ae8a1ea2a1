/**
 * What an answer says: a reply matched against the answers a question expects. Words are compared
 * without regard to case, spaces, punctuation or emoji ("Yes!", "yes 👍" and " YES" are all `yes`);
 * a regular expression (the node's own, never a stranger's) is tried on the reply as written, on its
 * first 1,600 characters (one Twilio message). A pattern that can take exponential time, or
 * polynomial time that stalls (`.*.*=`), is refused, by the editor and the runtime alike (`regexHazard`): a stranger's reply must not stall Node-RED.
 */

export interface ExpectedAnswer {
  /** `words`: a comma-separated list (`yes, y, yeah`); `regex`: a regular expression. */
  type: 'words' | 'regex';
  value: string;
}

/** How much of a reply a regular expression is tried on: one Twilio message (a longer text is several). */
export const REGEX_REPLY_LIMIT = 1600;

/** Letters and digits only, lower case, accents kept apart: the form replies are compared in. */
export function normaliseAnswer(text: string): string {
  return text
    .normalize('NFKC')
    .toLocaleLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '');
}

/** The compiled form of a question's answers: which one a reply matches, if any. */
export class AnswerMatcher {
  private readonly tests: Array<(raw: string, normalised: string) => boolean>;

  /** A rule with a problem (`answerProblem`) keeps its place, so the outputs after it stay as wired, and matches nothing. */
  constructor(answers: readonly ExpectedAnswer[]) {
    this.tests = answers.map((answer) => {
      if (answerProblem(answer) !== undefined) return () => false;
      if (answer.type === 'regex') {
        const pattern = new RegExp(answer.value, 'iu');
        return (raw) => pattern.test(raw.slice(0, REGEX_REPLY_LIMIT));
      }
      const words = new Set(answer.value.split(',').map(normaliseAnswer).filter(Boolean));
      return (_raw, normalised) => words.has(normalised);
    });
  }

  /** The index of the first answer the reply matches, or -1 for "anything else". */
  match(reply: string): number {
    const raw = reply.trim();
    const normalised = normaliseAnswer(raw);
    return this.tests.findIndex((test) => test(raw, normalised));
  }
}

/** Whether a node's answer rule is usable (a regex that compiles and runs in reasonable time, a word list with a word). */
export function answerProblem(answer: ExpectedAnswer): string | undefined {
  if (answer.type === 'regex') {
    try {
      new RegExp(answer.value, 'iu');
    } catch (err) {
      return (err as Error).message;
    }
    return regexHazard(answer.value);
  }
  return answer.value.split(',').some((w) => normaliseAnswer(w) !== '') ? undefined : 'no word to match';
}

/**
 * Why a regular expression can take exponential time on a short reply, or undefined when it cannot
 * by this rule: a group repeated without bound (`*`, `+`, `{n,}`, `{n,m}` with m > 1) that holds a
 * quantifier itself (star height above one: `(a+)+`, `(a*)*`, `(\w+\s?)+`, `([a-z]+)*`), or
 * alternatives that can match the same text (`(a|a)*`, `(a|aa)+`: one a prefix of another, or not
 * plain text). Or polynomial time that still stalls on one 1,600-character reply: unbounded
 * quantifiers in a row (nothing between them but optional or quantified atoms) whose characters can
 * overlap (`.*.*=`, `a*a*a*b`, `\s*x?\s*`): three of them, or two when the pattern is not anchored at
 * its start (it is then tried from every position: `.*.*=` is cubic). Characters are compared
 * coarsely (ASCII one by one, in both cases; the rest as spaces or not): `.`, a negated class, `\D`
 * `\W` `\S` and `\p{…}` other than letters and numbers overlap almost anything, a group overlaps what
 * it holds. Deliberately cautious: a pattern it refuses can be written without the nesting or the
 * repetition. One pass over the pattern (linear in its length).
 *
 * Self-contained (no names from outside it): the build sends its source to the editor
 * (resources/twilio-editor.js, TwilioRules.regexHazard), so both check with the same rule.
 */
export function regexHazard(pattern: string): string | undefined {
  /** Characters an atom can match, coarsely: ASCII by bit (words 0–3), word 4: 1 non-ASCII space, 2 other non-ASCII. */
  type Chars = number[];
  interface Run {
    /** What the unbounded atoms of the current run can match, and how many of them overlap (0, or 2 and more). */
    chars: Chars;
    overlapping: number;
  }
  interface Group {
    /** A quantifier somewhere inside (directly, or in a group inside). */
    quantified: boolean;
    /** The text of each alternative so far, and where the current one began. */
    branches: string[];
    branchStart: number;
    /** The run of the level around the group, taken up again after it. */
    outerRun: Run;
    /** What the group can match; whether it holds an unbounded quantifier; whether each alternative so far must match something. */
    chars: Chars;
    unbounded: boolean;
    mandatory: boolean;
    branchMandatory: boolean;
  }
  const none = (): Chars => [0, 0, 0, 0, 0];
  const all = (): Chars => [-1, -1, -1, -1, 3];
  const addCode = (set: Chars, code: number) => {
    if (code < 128) set[code >> 5] |= 1 << (code & 31);
    else set[4] |= /\s/u.test(String.fromCodePoint(code)) ? 1 : 2;
  };
  /** A character, in both cases (patterns run with the `i` flag). */
  const addChar = (set: Chars, code: number) => {
    addCode(set, code);
    if (code >= 65 && code <= 90) addCode(set, code + 32);
    else if (code >= 97 && code <= 122) addCode(set, code - 32);
  };
  const addRange = (set: Chars, from: number, to: number) => {
    for (let code = from; code <= Math.min(to, 127); code++) addChar(set, code);
    if (to > 127) set[4] |= 3;
  };
  const invert = (set: Chars): Chars => [~set[0], ~set[1], ~set[2], ~set[3], 3 & ~set[4]];
  const overlap = (a: Chars, b: Chars) => a.some((word, k) => (word & b[k]) !== 0);
  /** \d \w \s and their negations; undefined for any other escape. */
  const classEscape = (c: string): Chars | undefined => {
    const set = none();
    const lower = c.toLowerCase();
    if (lower === 'd') addRange(set, 48, 57);
    else if (lower === 'w')
      [
        [48, 57],
        [65, 90],
        [97, 122],
        [95, 95],
      ].forEach(([a, b]) => addRange(set, a, b));
    else if (lower === 's')
      [
        [9, 13],
        [32, 32],
        [0xa0, 0xa0],
      ].forEach(([a, b]) => addRange(set, a, b));
    else return undefined;
    if (lower === 's') set[4] = 1;
    return c === lower ? set : invert(set);
  };
  /** What an escape (its letter at `at`) matches, and where it ends. */
  const escapeAt = (at: number): { end: number; chars: Chars } => {
    const c = pattern[at];
    const set = classEscape(c ?? '');
    if (set) return { end: at, chars: set };
    if ((c === 'p' || c === 'P' || c === 'u' || c === 'k') && pattern[at + 1] === (c === 'k' ? '<' : '{')) {
      const name = pattern.slice(at + 2, at + 64);
      const close = name.indexOf(c === 'k' ? '>' : '}');
      // \p{L} (letters) and \p{N} (numbers): their ASCII part, and other non-ASCII; any other property: anything.
      const chars = all();
      const property = close < 0 ? '' : name.slice(0, close);
      if (c === 'p' && /^(L|Letter|N|Nd|Number|Decimal_Number)$/.test(property)) {
        chars.fill(0);
        if (property.startsWith('L')) addRange(chars, 65, 90);
        else addRange(chars, 48, 57);
        chars[4] = 2;
      }
      return { end: close < 0 ? at : at + 2 + close, chars };
    }
    if (c === 'u') return { end: at + 4, chars: all() };
    if (c === 'x') return { end: at + 2, chars: all() };
    if (c === 'c') return { end: at + 1, chars: all() };
    if (c !== undefined && /[1-9]/.test(c)) return { end: at, chars: all() };
    const known: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13, '0': 0 };
    const chars = none();
    if (c !== undefined) addChar(chars, known[c] ?? c.codePointAt(0) ?? 0);
    return { end: at, chars };
  };
  const groups: Group[] = [];
  let run: Run = { chars: none(), overlapping: 0 };
  let mostOverlapping = 0;
  /** Anchored at its start: `^` first and no alternative at the top level. */
  let anchored = pattern[0] === '^';
  /** The quantifier at `at` (length 0: none): whether it repeats (may match more than once), its least count, and whether it has no bound. */
  const quantifierAt = (at: number): { length: number; repeats: boolean; least: number; unbounded: boolean } => {
    const c = pattern[at];
    let length = 0;
    let repeats = false;
    let least = 1;
    let unbounded = false;
    if (c === '*' || c === '+') [length, repeats, least, unbounded] = [1, true, c === '*' ? 0 : 1, true];
    else if (c === '?') [length, least] = [1, 0];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at, at + 24));
      if (m) {
        length = m[0].length;
        unbounded = m[2] !== undefined && m[3] === '';
        repeats = m[2] !== undefined ? unbounded || Number(m[3]) > 1 : Number(m[1]) > 1;
        least = Number(m[1]);
      }
    }
    if (length > 0 && pattern[at + length] === '?') length++; // lazy: the same search
    return { length, repeats, least, unbounded };
  };
  /** An atom that consumes characters, in the run of its level: a mandatory one that cannot share characters with the run ends it. */
  const step = (chars: Chars, quantifier: { length: number; least: number; unbounded: boolean }) => {
    const group = groups[groups.length - 1];
    if (group) {
      group.chars = group.chars.map((word, k) => word | chars[k]);
      group.unbounded ||= quantifier.unbounded;
      group.branchMandatory ||= quantifier.length === 0 || quantifier.least > 0;
    }
    const overlaps = overlap(chars, run.chars);
    if (quantifier.length === 0 || (quantifier.least > 0 && !overlaps)) {
      run = { chars: quantifier.unbounded ? chars : none(), overlapping: 0 };
      return;
    }
    if (!quantifier.unbounded) return;
    if (overlaps) run.overlapping = run.overlapping === 0 ? 2 : run.overlapping + 1;
    run.chars = run.chars.map((word, k) => word | chars[k]);
    mostOverlapping = Math.max(mostOverlapping, run.overlapping);
  };
  const plainText = (branch: string) => !/[\\.[\](){}*+?^$|]/.test(branch);
  const overlapping = (branches: string[]) =>
    branches.length > 1 &&
    (branches.some((b) => !plainText(b) || b === '') ||
      branches.some((a, i) => branches.some((b, j) => i !== j && b.toLowerCase().startsWith(a.toLowerCase()))));
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    let atomEnd = i;
    let chars: Chars;
    if (c === '^' || c === '$') continue;
    if (c === '\\') {
      if (pattern[i + 1] === 'b' || pattern[i + 1] === 'B') {
        i++;
        continue;
      }
      ({ end: atomEnd, chars } = escapeAt(i + 1));
    } else if (c === '[') {
      // A character class: its contents are characters, not groups or quantifiers.
      let j = i + 1;
      const negated = pattern[j] === '^';
      if (negated) j++;
      chars = none();
      let previous = -1;
      for (let first = true; j < pattern.length && (pattern[j] !== ']' || first); first = false) {
        let code = pattern.codePointAt(j) ?? 0;
        let width = code > 0xffff ? 2 : 1;
        if (pattern[j] === '\\') {
          const escape = escapeAt(j + 1);
          const set = classEscape(pattern[j + 1] ?? '');
          width = escape.end + 1 - j;
          if (set || escape.end > j + 1) {
            chars = chars.map((word, k) => word | escape.chars[k]);
            previous = -1;
            j += width;
            continue;
          }
          const known: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13, '0': 0, b: 8 };
          code = known[pattern[j + 1]] ?? pattern.codePointAt(j + 1) ?? 0;
        }
        if (pattern[j] === '-' && previous >= 0 && pattern[j + 1] !== ']' && pattern[j + 1] !== undefined) {
          const to = pattern.codePointAt(j + 1) ?? 0;
          addRange(chars, previous, pattern[j + 1] === '\\' ? 0x10ffff : to);
          previous = -1;
          j += 1 + (to > 0xffff ? 2 : 1);
          continue;
        }
        addChar(chars, code);
        previous = code;
        j += width;
      }
      if (negated) chars = invert(chars);
      atomEnd = j;
    } else if (c === '(') {
      let start = i + 1;
      if (pattern[start] === '?') {
        // (?: (?= (?! (?<= (?<! (?<name>: what follows is the group's pattern.
        const m = /^\?(<[=!]|<[^>]*>|[:=!])/.exec(pattern.slice(start, start + 64));
        start += m ? m[0].length : 1;
      }
      groups.push({
        quantified: false,
        branches: [],
        branchStart: start,
        outerRun: run,
        chars: none(),
        unbounded: false,
        mandatory: true,
        branchMandatory: false,
      });
      run = { chars: none(), overlapping: 0 };
      i = start - 1;
      continue;
    } else if (c === '|') {
      const group = groups[groups.length - 1];
      if (group) {
        group.branches.push(pattern.slice(group.branchStart, i));
        group.branchStart = i + 1;
        group.mandatory &&= group.branchMandatory;
        group.branchMandatory = false;
      } else anchored = false;
      run = { chars: none(), overlapping: 0 };
      continue;
    } else if (c === ')') {
      const group = groups.pop();
      if (!group) continue;
      group.branches.push(pattern.slice(group.branchStart, i));
      const quantifier = quantifierAt(i + 1);
      const { length, repeats } = quantifier;
      if (repeats && group.quantified) return 'can take exponential time: a quantifier inside a repeated group';
      if (repeats && overlapping(group.branches)) return 'can take exponential time: repeated alternatives that can match the same text';
      const outer = groups[groups.length - 1];
      if (outer && (group.quantified || length > 0)) outer.quantified = true;
      run = group.outerRun;
      // The group as one atom of the level around it: what it can match, unbounded when anything in it is.
      const mandatory = group.mandatory && group.branchMandatory;
      const unbounded = quantifier.unbounded || group.unbounded;
      step(group.chars, {
        length: quantifier.length > 0 || unbounded ? Math.max(quantifier.length, 1) : 0,
        least: mandatory ? (quantifier.length > 0 ? quantifier.least : 1) : 0,
        unbounded,
      });
      i += length;
      continue;
    } else {
      chars = none();
      addChar(chars, pattern.codePointAt(i) ?? 0);
      if ((pattern.codePointAt(i) ?? 0) > 0xffff) atomEnd++;
      if (c === '.') chars = all();
    }
    const quantifier = quantifierAt(atomEnd + 1);
    const group = groups[groups.length - 1];
    if (group && quantifier.length > 0) group.quantified = true;
    step(chars, quantifier);
    i = atomEnd + quantifier.length;
  }
  if (mostOverlapping >= 3 || (mostOverlapping >= 2 && !anchored))
    return 'can take polynomial time that stalls: unbounded quantifiers in a row that can match the same characters';
  return undefined;
}
