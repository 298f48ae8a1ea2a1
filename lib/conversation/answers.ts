/**
 * What an answer says: a reply matched against the answers a question expects. Words are compared
 * without regard to case, spaces, punctuation or emoji ("Yes!", "yes 👍" and " YES" are all `yes`);
 * a regular expression (the node's own, never a stranger's) is tried on the reply as written.
 */

export interface ExpectedAnswer {
  /** `words`: a comma-separated list (`yes, y, yeah`); `regex`: a regular expression. */
  type: 'words' | 'regex';
  value: string;
}

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

  constructor(answers: readonly ExpectedAnswer[]) {
    this.tests = answers.map((answer) => {
      if (answer.type === 'regex') {
        const pattern = new RegExp(answer.value, 'iu');
        return (raw) => pattern.test(raw);
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

/** Whether a node's answer rule is usable (a regex that compiles, a word list with a word). */
export function answerProblem(answer: ExpectedAnswer): string | undefined {
  if (answer.type === 'regex') {
    try {
      new RegExp(answer.value, 'iu');
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }
  return answer.value.split(',').some((w) => normaliseAnswer(w) !== '') ? undefined : 'no word to match';
}
