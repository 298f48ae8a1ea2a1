/**
 * Reading a reply for the code it quotes ("YES 42" when several questions are open): where a person
 * quoting a code puts it, and nowhere else. Pure text work: the board (questions.ts) asks it.
 */
/**
 * The open code a reply quotes, and the reply without it: only where a person quoting a code puts it,
 * as a word of its own at the end ("YES 42", "yes #42.") or at the start ("42 yes", "#42: yes"); the
 * end wins ("17 guests 42" quotes 42). A number inside the text is never a code, nor one that is part
 * of a time, a date, a price, a percentage or a phone number ("Home at 7:93", "93%", "$93", "12/93",
 * "555-93", "2,93", "room 93 is open"). The reply is read as answers are, in NFKC form (full-width
 * "９３", "＃", "！"), and any decimal digit counts as its value ("٩٣" is 93); the rest is returned as
 * the person wrote it. Read in one pass from each end (linear on any reply).
 */
export function quotedCode(text: string, codes: ReadonlySet<string>): { code: string; rest: string } | undefined {
  const reply = new ReadReply(text);
  return codeAtEnd(reply, codes) ?? codeAtStart(reply, codes);
}

/** A reply's characters (code points) as written, each read on demand in its NFKC form, a decimal digit as 0–9. */
class ReadReply {
  readonly chars: string[];
  private readonly read: Array<string | undefined>;
  constructor(text: string) {
    this.chars = Array.from(text);
    this.read = new Array<string | undefined>(this.chars.length);
  }
  get length(): number {
    return this.chars.length;
  }
  /** The character at `i` as read (undefined outside the reply). */
  at(i: number): string | undefined {
    if (i < 0 || i >= this.chars.length) return undefined;
    return (this.read[i] ??= readCharacter(this.chars[i]));
  }
  /** The reply as written from `start` to `end`, without spaces and punctuation at either end. */
  rest(start: number, end: number): string {
    const strip = (i: number) => /[\s:,.!?;()-]/.test(this.at(i) ?? '');
    while (start < end && strip(start)) start++;
    while (end > start && strip(end - 1)) end--;
    return this.chars.slice(start, end).join('');
  }
}

function readCharacter(c: string): string {
  if (c.charCodeAt(0) < 0x80) return c;
  const folded = c.normalize('NFKC');
  if (!/^\p{Nd}$/u.test(folded)) return folded;
  if (folded >= '0' && folded <= '9') return folded;
  // Decimal digits come in runs of ten from 0 to 9 (Unicode's promise): the value is the place in the run.
  const code = folded.codePointAt(0) ?? 0;
  let zero = code;
  while (/\p{Nd}/u.test(String.fromCodePoint(zero - 1))) zero--;
  return String((code - zero) % 10);
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);
/** What may follow a code at the end of a reply: "yes 42!", "yes (42)." */
const CLOSING = new Set([...'.!?,;:)']);
/** What may stand before a code at the start of a reply: "...42 yes", "(42) yes". */
const OPENING = new Set([...':,.-(']);
/** What may follow a code at the start, before a space or the end: "42: yes", "42. yes", "(42) yes". */
const AFTER_LEADING = new Set([...':,.;!?)-']);

function codeAtEnd(text: ReadReply, codes: ReadonlySet<string>): { code: string; rest: string } | undefined {
  let end = text.length;
  while (end > 0 && (isSpace(text.at(end - 1)) || CLOSING.has(text.at(end - 1) ?? ''))) end--;
  let start = end;
  let code = '';
  while (start > 0 && isDigit(text.at(start - 1)) && code.length <= 12) code = text.at(--start) + code;
  if (!codes.has(code)) return undefined;
  const before = text.at(start - 1) === '#' ? start - 1 : start;
  // A word of its own: after a space, the start, or a "(" or "," that ends no number ("2,93" is a price).
  const lead = text.at(before - 1);
  if (before > 0 && !isSpace(lead) && !((lead === ',' || lead === '(') && !isDigit(text.at(before - 2)))) return undefined;
  return { code, rest: text.rest(0, before) };
}

function codeAtStart(text: ReadReply, codes: ReadonlySet<string>): { code: string; rest: string } | undefined {
  let start = 0;
  while (start < text.length && (isSpace(text.at(start)) || OPENING.has(text.at(start) ?? ''))) start++;
  const hash = text.at(start) === '#';
  if (hash) start++;
  let end = start;
  let code = '';
  while (end < text.length && isDigit(text.at(end)) && code.length <= 12) code += text.at(end++);
  if (!codes.has(code)) return undefined;
  // A word of its own: then a space or the end, or punctuation and then a space or the end ("93.5",
  // "7:93", "93%" are no code); after a "#" anything but a letter or digit ("#42:yes").
  const next = text.at(end);
  const ends = (i: number) => i >= text.length || isSpace(text.at(i));
  const alone = ends(end) || (AFTER_LEADING.has(next ?? '') && ends(end + 1)) || (hash && !/[\p{L}\p{N}]/u.test(next ?? ''));
  return alone ? { code, rest: text.rest(end, text.length) } : undefined;
}
