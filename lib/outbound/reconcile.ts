/**
 * After a crash, the one request whose fate is unknown: a wait or a page step was committed as an
 * intent before its text or call went to Twilio, and no Sid was written after. Before anything else
 * happens to it, Twilio is asked whether it exists: a message (or call) to the same recipient, from
 * the same sender (or Messaging Service), created no earlier than a few minutes before the intent
 * (clocks differ; no limit after: a request may wait in the account's queue), with the same body.
 * Found: it was sent (the wait goes on with its Sid); not found: it was not (NOT_SENT, safe to send
 * again). Calls match by recipient, sender and time.
 *
 * Twilio keeps no key of ours on a message, so two intents with the same recipient and body in the
 * same minutes match the same records: each Sid is given to one intent only (`taken`), newest first.
 * What it cannot tell apart: a record of an identical msg (same recipient and body) that ended before
 * the crash, whose Sid no wait holds any more; it is taken as the intent's.
 * Only a look that read every record of the window concludes "not sent": a list that cannot be read
 * to its end (Twilio unreachable, or more records than a look reads) rejects, and the caller tries
 * again later (reconcileRetryMs) rather than guess. A message sent with a Content template has no
 * body of ours to compare: it matches by recipient, sender and time alone.
 */
import type twilio from 'twilio';
import type { TwilioAccount } from '../account/account';

export interface SendIntent {
  kind: 'message' | 'call';
  to: string;
  /** The sender asked for; absent when the account's default or a Messaging Service chose it. */
  from?: string;
  messagingServiceSid?: string;
  /** A message's body as sent (after templates). */
  body?: string;
  /** A Content template's Sid (its text is Twilio's: the body is not compared). */
  contentSid?: string;
  /** When the request was about to go (the node's clock, ms). */
  at: number;
}

/**
 * How long before the intent's time a record may be created and still be it (Twilio's clock and
 * ours differ). No bound after: a request may wait in the account's queue (a 429's Retry-After) for
 * longer than any window, so a record created any time after the intent may be it.
 */
export const RECONCILE_WINDOW_MS = 5 * 60_000;
/** Records read per page (Twilio's largest), and pages at most: 50,000 records to one recipient since the intent. */
const PAGE_SIZE = 1000;
const MAX_PAGES = 50;

/** A reconcile that could not reach Twilio waits as the account's requests do: 250 ms, doubling, at most 20 s. */
export const RECONCILE_RETRY_BASE_MS = 250;
export const RECONCILE_RETRY_MAX_MS = 20_000;

/** How long to wait before trying a reconcile again, after `attempt` failed ones (0: the first failed). */
export function reconcileRetryMs(attempt: number): number {
  return Math.min(RECONCILE_RETRY_MAX_MS, RECONCILE_RETRY_BASE_MS * 2 ** Math.max(0, Math.min(attempt, 20)));
}

interface Candidate {
  sid: string;
  from?: string | null;
  body?: string | null;
  messagingServiceSid?: string | null;
  dateCreated?: Date | string | null;
}

/**
 * The Sid of the record `intent` became, if Twilio has it and no other intent took it (added to
 * `taken`); undefined when it was not sent. Rejects when Twilio cannot be asked (the caller tries
 * again later: the intent stays as it is).
 */
export async function reconcileIntent(
  account: TwilioAccount,
  owner: object,
  intent: SendIntent,
  taken: Set<string> = new Set(),
): Promise<string | undefined> {
  const client = account.clientFor(owner);
  const from = intent.from || (intent.messagingServiceSid ? undefined : account.defaultFrom) || undefined;
  const earliest = intent.at - RECONCILE_WINDOW_MS;
  let page: Page | undefined = await firstPage(client, intent, from);
  for (let read = 0; page; read++) {
    if (read === MAX_PAGES) throw new Error(`more than ${MAX_PAGES * PAGE_SIZE} records to ${intent.to} in the window`);
    let older = false;
    for (const record of page.instances as Candidate[]) {
      const created = timeOf(record.dateCreated);
      if (created < earliest) older = true;
      if (!(created >= earliest) || taken.has(record.sid)) continue;
      if (intent.kind === 'message' && !intent.contentSid && (record.body ?? '') !== (intent.body ?? '')) continue;
      if (intent.messagingServiceSid && !intent.from && record.messagingServiceSid !== intent.messagingServiceSid) continue;
      taken.add(record.sid);
      return record.sid;
    }
    // Newest first: once a page reaches records older than the window, no later page can match.
    if (older) return undefined;
    page = page.instances.length > 0 ? await page.nextPage() : undefined;
  }
  return undefined;
}

type Page = { instances: unknown[]; nextPage(): Promise<Page | undefined> };

function firstPage(client: twilio.Twilio, intent: SendIntent, from: string | undefined): Promise<Page> {
  const filter = { to: intent.to, ...(from ? { from } : {}), pageSize: PAGE_SIZE };
  return (intent.kind === 'message' ? client.messages.page(filter) : client.calls.page(filter)) as unknown as Promise<Page>;
}

const timeOf = (value: Date | string | null | undefined): number => (value ? new Date(value).getTime() : Number.NaN);
