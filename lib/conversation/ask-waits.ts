/**
 * What twilio-ask keeps of a question it waits on: the wait record as its node's store holds it (so a
 * redeploy or a restart resumes it), the check a stored record passes before it is resumed, the
 * cancels that came while questions were still being sent, and what the node's status says.
 */
import { isPlainObject } from '../core/shapes';
import type { Clock } from '../core/clock';

/** One recipient's part of a wait. */
export interface Asked {
  /** The question's Message SID ('' for a recipient it never reached). */
  sid: string;
  code: string;
  /** The address as Twilio wrote it (whatsapp:+1… for WhatsApp): a reply comes from it. */
  person?: string;
  /** The number the question went from (undefined: a Messaging Service picked it). */
  from?: string;
  /** When Twilio took the question (its clock). */
  askedAt?: number;
  open: boolean;
  /**
   * The question as it was about to go to Twilio, committed BEFORE its request: present while no Sid
   * is known. After a crash it is reconciled (Twilio asked whether that text exists) before anything
   * else happens to the recipient.
   */
  intent?: AskIntent;
}

/** A question's text on its way: enough to find it at Twilio after a crash (To, From, the minute, the body). */
export interface AskIntent {
  to: string;
  from?: string;
  messagingServiceSid?: string;
  body: string;
  /** When its request was about to go (the node's Clock, ms). */
  at: number;
  /** Twilio's clock minus the node's then, if the account knew it (reconcile compares with Twilio's dates). */
  twilioOffsetMs?: number;
}

function isIntent(value: unknown): value is AskIntent {
  return (
    isPlainObject(value) &&
    typeof value.to === 'string' &&
    typeof value.body === 'string' &&
    typeof value.at === 'number' &&
    Number.isFinite(value.at) &&
    optional(value.from, 'string') &&
    optional(value.messagingServiceSid, 'string') &&
    (value.twilioOffsetMs === undefined || Number.isFinite(value.twilioOffsetMs))
  );
}

/** A held msg's wait, as the store keeps it: by recipient, as the msg's To named them. */
export interface AskWait {
  /** When it ends as "no reply" (ms since the epoch). */
  deadline: number;
  /** When it was asked (ISO). */
  askedAt: string;
  /** The msg as it came, a JSON copy: a restored wait sends it. */
  msg: Record<string, unknown>;
  /** The question, short, for a clarifying message. */
  question: string;
  recipients: Record<string, Asked>;
}

const optional = (value: unknown, type: 'string' | 'number') => value === undefined || value === null || typeof value === type;

function isAsked(value: unknown): value is Asked {
  return (
    isPlainObject(value) &&
    typeof value.sid === 'string' &&
    typeof value.code === 'string' &&
    typeof value.open === 'boolean' &&
    optional(value.person, 'string') &&
    optional(value.from, 'string') &&
    optional(value.askedAt, 'number') &&
    (value.intent === undefined || value.intent === null || isIntent(value.intent))
  );
}

/**
 * Whether a stored value is a wait this node can resume, checked to its last field: a damaged one
 * (hand-edited, from a version that stored less, recipients or a recipient null, no msg) is set
 * aside by the waiting room, never resumed, and never crashes the node as it starts.
 */
export function isAskWait(value: unknown): value is AskWait {
  return (
    isPlainObject(value) &&
    typeof value.deadline === 'number' &&
    Number.isFinite(value.deadline) &&
    typeof value.askedAt === 'string' &&
    isPlainObject(value.msg) &&
    typeof value.question === 'string' &&
    isPlainObject(value.recipients) &&
    Object.keys(value.recipients).length > 0 &&
    Object.values(value.recipients).every(isAsked)
  );
}

/** How long a cancel counts for questions still being sent when it came. */
const CANCEL_MEMORY_MS = 60_000;
const CANCELS_KEPT = 1000;

/**
 * The cancels of the last minute: a question still being sent when its cancel came is cancelled as
 * soon as its wait is held. Told apart by their order, not their time (two in one millisecond, or a
 * clock that stands still, still come one after the other). `only`: the recipients a cancel named (none: all).
 */
export class RecentCancels {
  private readonly cancels: Array<{ at: number; order: number; only?: ReadonlySet<string> }> = [];
  private count = 0;

  constructor(private readonly clock: Clock) {}

  /** Where the cancels stand now: pass it to `since` later. */
  mark(): number {
    return this.count;
  }

  add(only?: ReadonlySet<string>): void {
    const now = this.clock.now();
    this.cancels.push({ at: now, order: ++this.count, only });
    while (this.cancels.length > 0 && (this.cancels[0].at < now - CANCEL_MEMORY_MS || this.cancels.length > CANCELS_KEPT))
      this.cancels.shift();
  }

  /** Whether a cancel that came after `mark` names one of these recipients (or all). */
  since(mark: number, recipients: readonly string[]): boolean {
    return this.cancels.some((c) => c.order > mark && (!c.only || recipients.some((r) => c.only!.has(r))));
  }
}

/** Whether a cancel naming `only` (undefined: every recipient) applies to a wait. */
export const cancels = (only: ReadonlySet<string> | undefined, wait: AskWait): boolean =>
  !only || Object.keys(wait.recipients).some((r) => only.has(r));

/** What the status says: how many questions are open, and the nearest deadline among them. */
export function openSummary(waits: Iterable<{ record: AskWait }>): { open: number; nearest: number } {
  let open = 0;
  let nearest = Infinity;
  for (const { record } of waits)
    for (const asked of Object.values(record.recipients))
      if (asked.open) {
        open++;
        nearest = Math.min(nearest, record.deadline);
      }
  return { open, nearest };
}

/** Which recipients of a wait can still answer. */
export const stillOpen = (wait: AskWait): string[] => Object.keys(wait.recipients).filter((r) => wait.recipients[r].open);

/** Which recipients of a wait have a question whose fate is unknown (committed as an intent, no Sid known). */
export const unreconciled = (wait: AskWait): string[] =>
  Object.keys(wait.recipients).filter((r) => wait.recipients[r].open && !!wait.recipients[r].intent && !wait.recipients[r].sid);
