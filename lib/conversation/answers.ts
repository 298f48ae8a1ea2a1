/**
 * What an answer says: a reply matched against the answers a question expects. Words are compared
 * without regard to case, spaces, punctuation or emoji ("Yes!", "yes 👍" and " YES" are all `yes`);
 * a regular expression (the node's own, never a stranger's) is tried on the reply as written, on its
 * first 1,600 characters (one Twilio message). A pattern that can take exponential time is refused,
 * by the editor and the runtime alike (`regexHazard`): a stranger's reply must not stall Node-RED.
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
 * plain text). Deliberately cautious: a pattern it refuses can be written without the nesting.
 *
 * Self-contained (no names from outside it): the build sends its source to the editor
 * (resources/twilio-editor.js, TwilioRules.regexHazard), so both check with the same rule.
 */
export function regexHazard(pattern: string): string | undefined {
  interface Group {
    /** A quantifier somewhere inside (directly, or in a group inside). */
    quantified: boolean;
    /** The text of each alternative so far, and where the current one began. */
    branches: string[];
    branchStart: number;
  }
  const groups: Group[] = [];
  /** Length of the quantifier at `at` (0: none), and whether it repeats (may match more than once). */
  const quantifierAt = (at: number): { length: number; repeats: boolean } => {
    const c = pattern[at];
    let length = 0;
    let repeats = false;
    if (c === '*' || c === '+') [length, repeats] = [1, true];
    else if (c === '?') length = 1;
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at));
      if (m) [length, repeats] = [m[0].length, m[2] !== undefined ? m[3] === '' || Number(m[3]) > 1 : Number(m[1]) > 1];
    }
    if (length > 0 && pattern[at + length] === '?') length++; // lazy: the same search
    return { length, repeats };
  };
  const plainText = (branch: string) => !/[\\.[\](){}*+?^$|]/.test(branch);
  const overlapping = (branches: string[]) =>
    branches.length > 1 &&
    (branches.some((b) => !plainText(b) || b === '') ||
      branches.some((a, i) => branches.some((b, j) => i !== j && b.toLowerCase().startsWith(a.toLowerCase()))));
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    let atomEnd = i;
    if (c === '\\') atomEnd = i + 1;
    else if (c === '[') {
      // A character class: its contents are characters, not groups or quantifiers.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      atomEnd = j;
    } else if (c === '(') {
      let start = i + 1;
      if (pattern[start] === '?') {
        // (?: (?= (?! (?<= (?<! (?<name>: what follows is the group's pattern.
        const m = /^\?(<[=!]|<[^>]*>|[:=!])/.exec(pattern.slice(start));
        start += m ? m[0].length : 1;
      }
      groups.push({ quantified: false, branches: [], branchStart: start });
      i = start - 1;
      continue;
    } else if (c === '|') {
      const group = groups[groups.length - 1];
      if (group) {
        group.branches.push(pattern.slice(group.branchStart, i));
        group.branchStart = i + 1;
      }
      continue;
    } else if (c === ')') {
      const group = groups.pop();
      if (!group) continue;
      group.branches.push(pattern.slice(group.branchStart, i));
      const { length, repeats } = quantifierAt(i + 1);
      if (repeats && group.quantified) return 'can take exponential time: a quantifier inside a repeated group';
      if (repeats && overlapping(group.branches)) return 'can take exponential time: repeated alternatives that can match the same text';
      const outer = groups[groups.length - 1];
      if (outer && (group.quantified || length > 0)) outer.quantified = true;
      i += length;
      continue;
    }
    const { length } = quantifierAt(atomEnd + 1);
    const group = groups[groups.length - 1];
    if (group && length > 0) group.quantified = true;
    i = atomEnd + length;
  }
  return undefined;
}
