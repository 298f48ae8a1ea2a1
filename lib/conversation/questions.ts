/**
 * The account's open questions, and where a reply goes. Every question waits for one person's reply
 * to the number it was sent from; a reply reaches exactly one question, however many nodes asked:
 * - with one question open for that person (on that number), the reply is its answer;
 * - with several, each carries a short code (sent with the question when another was already open)
 *   and the reply quotes it ("YES 42"); a reply without a known code gets one clarifying message
 *   listing the open questions and their codes, and goes to none of them.
 * A reply taken here is claimed on the inbound path: twilio-in does not also pass it on.
 */
import type { InboundEvent, InboundHub } from '../inbound/hub';
import { mediaOf } from '../inbound/webhook';

export interface Reply {
  text: string;
  from: string;
  to: string;
  sid?: string;
  /** Media of an MMS or WhatsApp reply. */
  media: Array<{ url: string; contentType: string }>;
  /** When it came (ISO). */
  at: string;
  /** The code it quoted, when several questions were open. */
  code?: string;
}

export interface OpenQuestion {
  /** Unique on the account: the node's wait and the recipient. */
  id: string;
  person: string;
  /** The number the question went from; undefined when Twilio picked it (a Messaging Service). */
  ourNumber?: string;
  code: string;
  /** The question's text, for the clarifying message. */
  summary: string;
  onReply(reply: Reply): void;
}

/** Sends the clarifying message: the open questions, each with its code. */
export type Clarify = (person: string, ourNumber: string, questions: ReadonlyArray<{ code: string; summary: string }>) => void;

const CODE_DIGITS = 2;

export class QuestionBoard {
  /** Open questions by person, in the order they were asked. */
  private readonly byPerson = new Map<string, Map<string, OpenQuestion>>();
  private readonly unsubscribe = new Map<string, () => void>();

  constructor(
    private readonly hub: InboundHub,
    private readonly clarify: Clarify,
    private readonly random: () => number = Math.random,
  ) {}

  /** How many questions are open for a person (on any of our numbers). */
  openFor(person: string): number {
    return this.byPerson.get(person)?.size ?? 0;
  }

  /** A code no other open question of this person has (10–99; more digits once those run out). */
  codeFor(person: string): string {
    const taken = new Set([...(this.byPerson.get(person)?.values() ?? [])].map((q) => q.code));
    for (let digits = CODE_DIGITS; ; digits++) {
      const low = 10 ** (digits - 1);
      const span = 9 * low;
      if (taken.size < span / 2)
        for (;;) {
          const code = String(low + Math.floor(this.random() * span));
          if (!taken.has(code)) return code;
        }
    }
  }

  /** Opens a question; returns how to close it. A question reopened after a restart keeps its code. */
  open(question: OpenQuestion): () => void {
    let questions = this.byPerson.get(question.person);
    if (!questions) {
      this.byPerson.set(question.person, (questions = new Map()));
      this.unsubscribe.set(
        question.person,
        this.hub.subscribe({ from: question.person }, (event) => this.route(question.person, event)),
      );
    }
    questions.set(question.id, question);
    return () => this.close(question.person, question.id);
  }

  private close(person: string, id: string): void {
    const questions = this.byPerson.get(person);
    if (!questions?.delete(id) || questions.size > 0) return;
    this.byPerson.delete(person);
    this.unsubscribe.get(person)?.();
    this.unsubscribe.delete(person);
  }

  /** A message from a person with open questions: to one of them, or a clarifying message. */
  private route(person: string, event: InboundEvent): 'claimed' | undefined {
    if (event.kind !== 'message' || !event.to) return undefined;
    const candidates = [...(this.byPerson.get(person)?.values() ?? [])].filter((q) => !q.ourNumber || q.ourNumber === event.to);
    if (candidates.length === 0) return undefined;
    const p = event.params;
    const text = typeof p.Body === 'string' ? p.Body : '';
    const reply: Reply = {
      text,
      from: person,
      to: event.to,
      sid: event.sid,
      media: mediaOf(p),
      at: new Date().toISOString(),
    };
    if (candidates.length === 1) {
      candidates[0].onReply(reply);
      return 'claimed';
    }
    const quoted = quotedCode(text, new Set(candidates.map((q) => q.code)));
    const chosen = quoted && candidates.find((q) => q.code === quoted.code);
    if (chosen) {
      chosen.onReply({ ...reply, text: quoted.rest, code: quoted.code });
      return 'claimed';
    }
    this.clarify(
      person,
      event.to,
      candidates.map((q) => ({ code: q.code, summary: q.summary })),
    );
    return 'claimed';
  }
}

/** The open code a reply quotes ("YES 42", "42 yes", "#42: yes"), and the reply without it. */
export function quotedCode(text: string, codes: ReadonlySet<string>): { code: string; rest: string } | undefined {
  const tokens = text.match(/#?\d+/g) ?? [];
  for (const token of tokens) {
    const code = token.replace('#', '');
    if (!codes.has(code)) continue;
    const rest = text
      .replace(token, ' ')
      .replace(/\s+/g, ' ')
      .replace(/^[\s:,.-]+|[\s:,.-]+$/g, '');
    return { code, rest };
  }
  return undefined;
}

const boards = new WeakMap<object, QuestionBoard>();

/** The board of an account (its config node), made by the first node that asks. */
export function questionBoardFor(account: object, hub: InboundHub, clarify: Clarify): QuestionBoard {
  let board = boards.get(account);
  if (!board) boards.set(account, (board = new QuestionBoard(hub, clarify)));
  return board;
}
