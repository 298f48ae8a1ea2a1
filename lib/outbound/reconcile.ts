/**
 * After a crash, the one request whose fate is unknown: a wait or a page step was committed as an
 * intent before its text or call went to Twilio, and no Sid was written after. Before anything else
 * happens to it, Twilio is asked whether it exists: a message (or call) to the same recipient, from
 * the same sender (or Messaging Service), created no earlier than a few minutes before the intent
 * (no limit after: a request may wait in the account's queue), with the same body. Found: it was
 * sent (the wait goes on with its Sid); not found: it was not (NOT_SENT, safe to send again). Calls
 * match by recipient, sender and time.
 *
 * Times are compared on Twilio's clock: the intent's time is this machine's, moved by the offset to
 * Twilio's clock the account had learnt from the Date headers of Twilio's answers when the intent was
 * made (`twilioOffsetMs`); an intent made before any answer came takes the offset learnt now (the
 * list request of the reconcile itself brings one), so a machine minutes off Twilio finds its texts.
 *
 * Twilio keeps no key of ours on a message, so two intents with the same recipient and body in the
 * same minutes match the same records. Each Sid goes to one intent only: every Sid an intent got
 * (from Twilio's answer, or found here) is claimed in the account's state engine for
 * SID_MEMORY_MS (`rememberSid`, the claim's value says whose), after its wait has ended too; a
 * reconcile claims a record before taking it (engine.claim: atomic, so two intents of one body,
 * on one instance or several, never take one record) and passes over records another intent owns
 * (and the Sids in `taken`). A record created before the intent whose claim may have expired
 * since (the restart came more than SID_MEMORY_MS after it) cannot be told from an older identical
 * text: it is not taken (NOT_SENT, a text sent twice rather than an alarm reported delivered that
 * never went). What it still cannot tell apart: an identical text sent by something that keeps no
 * intent (a send that does not wait, twilio-request, another program) in the same minutes.
 * Only a look that read every record of the window concludes "not sent": a list that cannot be read
 * to its end (Twilio unreachable, or more records than a look reads) rejects, and the caller tries
 * again later (reconcileRetryMs) rather than guess; so does a claim the engine cannot make. A
 * look that read everything and found nothing is believed only RECONCILE_SETTLE_MS after its owner
 * began looking (`reconcilingSince`): a create that reached Twilio just as the process died may be
 * made there a moment after the restarted node looked; before that, it rejects with ReconcileNotYet
 * (the caller looks again after its `waitMs`, with no warning: nothing failed). A
 * message sent with a Content template has no body of ours to compare: it matches by recipient,
 * sender and time alone.
 */
import type twilio from 'twilio';
import type { TwilioAccount } from '../account/account';
import { Timer, systemClock } from '../core/clock';

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
  /**
   * Twilio's clock minus the node's when the intent was made (learnt from Twilio's Date headers);
   * absent when no answer had told it yet (the offset learnt at the reconcile is taken then).
   */
  twilioOffsetMs?: number;
}

/**
 * How long before the intent's time (on Twilio's clock) a record may be created and still be it: the
 * offset is an estimate, and the node's clock may have been set between the intent and the reconcile
 * (an intent made before any answer). No bound after: a request may wait in the account's queue (a
 * 429's Retry-After) for longer than any window, so a record created any time after the intent may be it.
 */
export const RECONCILE_WINDOW_MS = 5 * 60_000;
/** How long the Sid of an intent's text or call is remembered as taken (its wait may end long before). */
export const SID_MEMORY_MS = 24 * 3_600_000;
/**
 * How long after a node began reconciling (its restore: a restart, a redeploy, a takeover) a look that
 * finds nothing is believed: a create request that reached Twilio as the process died may be made
 * there a moment after the restarted node looked (a slow Twilio). A takeover comes after a lease
 * expired, when the dead instance's requests are long made; a restart or redeploy makes new node
 * objects, so each begins its own 10 s. It costs a NOT_SENT after a restart those 10 s.
 */
export const RECONCILE_SETTLE_MS = 10_000;
/** A record created this much before the intent's time is "before it" (the offset's error, Twilio's own clocks). */
const CLOCK_MARGIN_MS = 60_000;
/** Where the account's engine keeps the Sids intents own. */
const sidKey = (accountSid: string, sid: string) => `reconcile/sid/${accountSid}/${sid}`;

/**
 * Remembers that `sid` is the intent `ref`'s (its text or call went): no reconcile of another intent
 * takes it for SID_MEMORY_MS. Best effort (never rejects): a wait that keeps its Sid is never reconciled.
 * Resolves once stored (or refused).
 */
export function rememberSid(account: TwilioAccount, sid: string, ref: string): Promise<void> {
  const engine = account.state;
  if (!engine || !sid) return Promise.resolve();
  return engine.claim(sidKey(account.accountSid, sid), SID_MEMORY_MS, ref).then(
    () => undefined,
    () => undefined,
  );
}

/** The offset to Twilio's clock the account knows now (undefined before any answer told Twilio's time). */
export function twilioOffsetOf(account: TwilioAccount): number | undefined {
  return account.queue?.twilioClock?.offsetMs();
}

/** How long an intent waits for a look at Twilio's clock before it is stored without an offset. */
export const CLOCK_LOOK_WAIT_MS = 3_000;
/** Looks at Twilio's clock at most this often per account (an answer with no Date header teaches nothing). */
const CLOCK_LOOK_EVERY_MS = 60_000;
const clockLooks = new WeakMap<TwilioAccount, { at: number; done: Promise<unknown> }>();

/**
 * The offset to Twilio's clock for an intent about to be stored. Known: at once. Not yet (no answer
 * since the start: the first alarm after a boot, when an RTC may be an hour off and NTP about to
 * set it), one look first: the account's own record, whose answer's Date header tells Twilio's time,
 * awaited at most CLOCK_LOOK_WAIT_MS (concurrent intents share it). Without it, a power cut during
 * that first text and a clock set before the restart would make the reconcile look an hour away
 * from the text and call it not sent (sent twice). Undefined when the look told nothing in time:
 * the intent goes without (its reconcile takes the offset known then). `until` (a node's close)
 * ends the wait at once.
 */
export async function twilioOffsetForIntent(account: TwilioAccount, until?: Promise<void>): Promise<number | undefined> {
  const known = twilioOffsetOf(account);
  if (known !== undefined || !account.queue) return known;
  const now = systemClock.monotonic();
  let look = clockLooks.get(account);
  if (!look || now - look.at >= CLOCK_LOOK_EVERY_MS) {
    look = { at: now, done: lookAtTwilioClock(account) };
    clockLooks.set(account, look);
  }
  let timer: Timer | undefined;
  const waited = new Promise<void>((resolve) => (timer = systemClock.setTimeout(resolve, CLOCK_LOOK_WAIT_MS)));
  await Promise.race([look.done, waited, ...(until ? [until] : [])]);
  systemClock.clearTimeout(timer);
  return twilioOffsetOf(account);
}

/**
 * One request whose answer tells Twilio's time (the queue learns it from every answer); never rejects.
 * It gives up with the intent's wait (CLOCK_LOOK_WAIT_MS), never retried: a deploy's close, which lets
 * the account's requests in flight finish, is not held by a look that hangs.
 */
function lookAtTwilioClock(account: TwilioAccount): Promise<unknown> {
  try {
    return account
      .rawRequest(
        {
          domain: 'api',
          method: 'GET',
          path: `/2010-04-01/Accounts/${encodeURIComponent(account.accountSid)}.json`,
          responseType: 'json',
          timeoutMs: CLOCK_LOOK_WAIT_MS,
          retry: { count: 0, delayMs: 0, backoff: 1, on: 'server' },
        },
        account,
      )
      .catch(() => undefined);
  } catch {
    return Promise.resolve(); // the account cannot be used: the intent's own request will say why
  }
}
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

/** When each owner (a node object) began reconciling, on the clock lib reads. */
const lookingSince = new WeakMap<object, number>();

/**
 * Says that `owner` began looking at `at` (ms, lib's clock) and returns it; without `at`, returns when
 * it began, its first reconcile being the start (now, if none yet). A look by `owner` that finds
 * nothing before RECONCILE_SETTLE_MS after that rejects with ReconcileNotYet. Tests mark an owner as
 * looking since long ago; a caller may mark the moment its restore began.
 */
export function reconcilingSince(owner: object, at?: number): number {
  const since = at ?? lookingSince.get(owner) ?? systemClock.now();
  lookingSince.set(owner, since);
  return since;
}

/**
 * A look that found nothing too soon after its owner began reconciling to say "not sent": a request
 * may still be on its way to being made at Twilio. Not a failure: the caller looks again after `waitMs`.
 */
export class ReconcileNotYet extends Error {
  constructor(readonly waitMs: number) {
    super(`nothing found yet: a request may still be made at Twilio; looking again in ${Math.ceil(waitMs / 1000)} s`);
    this.name = 'ReconcileNotYet';
  }
}

/** Nothing found: undefined (not sent) once `owner` has looked for RECONCILE_SETTLE_MS, else ReconcileNotYet. */
function notFound(owner: object): undefined {
  const waitMs = reconcilingSince(owner) + RECONCILE_SETTLE_MS - systemClock.now();
  if (waitMs > 0) throw new ReconcileNotYet(waitMs);
  return undefined;
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
 * `taken`, and claimed for `ref` in the account's engine); undefined when it was not sent. Rejects
 * when Twilio (or the engine) cannot be asked (the caller tries again later: the intent stays as it is),
 * and with ReconcileNotYet when nothing was found within RECONCILE_SETTLE_MS of `owner`'s first look.
 */
export async function reconcileIntent(
  account: TwilioAccount,
  owner: object,
  intent: SendIntent,
  taken: Set<string> = new Set(),
  ref?: string,
): Promise<string | undefined> {
  reconcilingSince(owner); // its first look starts the settle time
  const client = account.clientFor(owner);
  const from = intent.from || (intent.messagingServiceSid ? undefined : account.defaultFrom) || undefined;
  let page: Page | undefined = await firstPage(client, intent, from);
  // The list's own answer told the offset if nothing had before (its Date header): learnt first.
  const offsetNow = twilioOffsetOf(account) ?? 0;
  const at = intent.at + (intent.twilioOffsetMs ?? offsetNow);
  const earliest = at - RECONCILE_WINDOW_MS;
  // Records created before this may have outlived the memory of whose they were.
  const remembered = systemClock.now() + offsetNow - SID_MEMORY_MS + CLOCK_MARGIN_MS;
  const engine = account.state;
  for (let read = 0; page; read++) {
    if (read === MAX_PAGES) throw new Error(`more than ${MAX_PAGES * PAGE_SIZE} records to ${intent.to} in the window`);
    let older = false;
    for (const record of page.instances as Candidate[]) {
      const created = timeOf(record.dateCreated);
      if (created < earliest) older = true;
      if (!(created >= earliest) || taken.has(record.sid)) continue;
      if (intent.kind === 'message' && !intent.contentSid && (record.body ?? '') !== (intent.body ?? '')) continue;
      if (intent.messagingServiceSid && !intent.from && record.messagingServiceSid !== intent.messagingServiceSid) continue;
      if (created < at - CLOCK_MARGIN_MS && created < remembered) continue; // before the intent, and whose it was is forgotten
      if (engine && !(await claimFor(engine, sidKey(account.accountSid, record.sid), ref))) continue;
      taken.add(record.sid);
      return record.sid;
    }
    // Newest first: once a page reaches records older than the window, no later page can match.
    if (older) return notFound(owner);
    page = page.instances.length > 0 ? await page.nextPage() : undefined;
  }
  return notFound(owner);
}

/** Claims a record's Sid for the intent `ref`: true when it is now (or already was) that intent's. */
async function claimFor(engine: NonNullable<TwilioAccount['state']>, key: string, ref: string | undefined): Promise<boolean> {
  if (await engine.claim(key, SID_MEMORY_MS, ref ?? true)) return true;
  // Already claimed: by this intent itself (its Sid came back, then the crash came before the wait kept it), or another's.
  return ref !== undefined && (await engine.get(key))?.value === ref;
}

type Page = { instances: unknown[]; nextPage(): Promise<Page | undefined> };

function firstPage(client: twilio.Twilio, intent: SendIntent, from: string | undefined): Promise<Page> {
  const filter = { to: intent.to, ...(from ? { from } : {}), pageSize: PAGE_SIZE };
  return (intent.kind === 'message' ? client.messages.page(filter) : client.calls.page(filter)) as unknown as Promise<Page>;
}

const timeOf = (value: Date | string | null | undefined): number => (value ? new Date(value).getTime() : Number.NaN);
