/**
 * Receiving without a public URL: every interval, one look at the account's incoming messages (and
 * calls) through the account's queue, each new one handed on exactly once.
 *
 * Exactly once, across restarts and redeploys: a cursor (when the last look began, by this machine's
 * clock) and a bounded memory of the Sids handed on (a DuplicateWindow) live in the node's context.
 * Each look lists what arrived since the cursor less a lookback, so a Twilio clock a few minutes off
 * ours, or two messages in one second, lose nothing; the Sid memory drops what was seen before. The
 * first look of a node that has no cursor yet hands on nothing: history is not replayed.
 */
import type twilio from 'twilio';
import { Clock, Timer, systemClock } from '../core/clock';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import type { KeyValueStore } from '../node-red/context';
import type { DuplicateWindow } from './dedupe';

/** How far before the cursor each look reaches: covers a Twilio clock this far off ours. */
export const POLL_LOOKBACK_MS = 5 * 60_000;
/** After a long stop, texts older than this are history, not instructions: they are not handed on. */
export const POLL_CATCH_UP_MS = 24 * 60 * 60_000;
/** The longest wait between looks while they fail. */
export const POLL_MAX_BACKOFF_MS = 5 * 60_000;
/** Records per page: one page (one request) holds every quiet interval's lookback. */
const PAGE_SIZE = 200;
/** Pages one look reads at most (10,000 records): a server that always says "next page" cannot hold a look forever. */
const MAX_PAGES = 50;
/** Media of one message at most, as Twilio allows. */
const MAX_MEDIA = 10;

export interface PolledEvent {
  kind: 'message' | 'call';
  sid: string;
  /** What Twilio's webhook for it would have carried. */
  params: Record<string, string>;
  /** When Twilio got it (its clock). */
  at: number;
}

export interface PollOutcome {
  /** When the look began (this machine's clock). */
  at: number;
  /** How many new ones it handed on. */
  received: number;
  error?: TwilioNodeError;
  /** Failed looks in a row, and when the next one is. */
  failures: number;
  nextInMs: number;
  /** More arrived since the last look than one look reads (MAX_PAGES pages): the oldest of them were not handed on. */
  truncated?: boolean;
}

export interface PollerOptions {
  client: () => twilio.Twilio;
  /** The node's state: the cursor. */
  store: KeyValueStore;
  /** Sids handed on. */
  seen: DuplicateWindow;
  /** One of the account's numbers, or every number. */
  to?: string;
  messages: boolean;
  calls: boolean;
  intervalMs: number;
  /** Handed each new event, oldest first; not called once the poller stops. */
  onEvent: (event: PolledEvent) => void;
  onPoll: (outcome: PollOutcome) => void;
  redact?: (text: string) => string;
  /** Intervals, backoffs, the stop wait and when a look began. */
  clock?: Clock;
}

const CURSOR_KEY = 'twilio-in-poll-cursor';
/** How long stop() waits for a look under way (a server that never answers must not hold a redeploy). */
const STOP_WAIT_MS = 5_000;

type Kind = 'messages' | 'calls';
/** Where each listing stands: the newest date seen, by Twilio's clock (ms). 0: nothing seen, all that comes is new. */
type Cursor = Partial<Record<Kind, number>>;
type Listed = { sid: string; at: number; event: () => Promise<PolledEvent> };

/** A Sid Twilio would give a message or a call; anything else in a listing is not handed on. */
const LISTED_SID = /^(SM|MM|CA)[0-9a-f]{32}$/;

function readCursor(stored: unknown): Cursor | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const cursor: Cursor = {};
  for (const kind of ['messages', 'calls'] as const) {
    const at = (stored as Record<string, unknown>)[kind];
    if (typeof at === 'number' && Number.isFinite(at)) cursor[kind] = at;
  }
  return cursor;
}

export class InboundPoller {
  private timer?: Timer;
  private running?: Promise<void>;
  private stopped = false;
  private failures = 0;
  private readonly clock: Clock;

  constructor(private readonly options: PollerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Looks at once, then every interval (longer while looks fail). */
  start(): void {
    this.schedule(0);
  }

  /**
   * Stops looking; resolves when a look under way has finished handing on what it found, or after a
   * few seconds (what it had not handed on yet, it has not remembered: the next start hands it on).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    if (!this.running) return;
    let waited: Timer | undefined;
    await Promise.race([this.running, new Promise((resolve) => (waited = this.clock.setTimeout(() => resolve(undefined), STOP_WAIT_MS)))]);
    this.clock.clearTimeout(waited);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.running = this.look().finally(() => (this.running = undefined));
    }, ms);
  }

  /**
   * One look: list what came since each cursor (less the lookback), hand on what is new, oldest
   * first, and move the cursors to the newest date seen. The cursors are Twilio's own dates, so
   * this machine's clock, however wrong, never hides a text. Never rejects.
   */
  async look(): Promise<void> {
    const at = this.clock.now();
    let received = 0;
    let truncated = false;
    try {
      const cursor = readCursor(await this.options.store.get(CURSOR_KEY)) ?? {};
      const kinds = (['messages', 'calls'] as const).filter((k) => this.options[k]);
      const listed: Listed[] = [];
      const history = new Set<string>();
      const next: Cursor = { ...cursor };
      for (const kind of kinds) {
        const from = cursor[kind];
        // A kind without a cursor starts now: what is there already is history, remembered and not handed on.
        const since = from === undefined ? undefined : new Date(Math.max(from - POLL_LOOKBACK_MS, at - POLL_CATCH_UP_MS));
        const found = await this.list(kind, since);
        truncated ||= found.truncated;
        for (const item of found.items) {
          if (from === undefined) history.add(item.sid);
          listed.push(item);
        }
        next[kind] = Math.max(from ?? 0, ...found.items.map((item) => item.at));
      }
      // Oldest first: Twilio lists newest first, and the (stable) sort keeps one second's arrivals in their order.
      listed.sort((a, b) => a.at - b.at);
      for (const item of listed) {
        if (this.stopped) return; // what is left is handed on after the next start
        if (await this.options.seen.has(item.sid)) continue;
        if (!history.has(item.sid)) {
          const event = await item.event();
          if (this.stopped) return;
          this.options.onEvent(event);
          received++;
        }
        await this.options.seen.remember(item.sid);
      }
      await this.options.store.set(CURSOR_KEY, next);
      this.failures = 0;
      this.options.onPoll({ at, received, failures: 0, nextInMs: this.options.intervalMs, truncated });
      this.schedule(this.options.intervalMs);
    } catch (err) {
      this.failures++;
      const nextInMs = Math.min(this.options.intervalMs * 2 ** this.failures, POLL_MAX_BACKOFF_MS);
      this.options.onPoll({
        at,
        received,
        error: toTwilioNodeError(err, this.options.redact),
        failures: this.failures,
        nextInMs,
      });
      this.schedule(nextInMs);
    }
  }

  /**
   * Everything to the number (or numbers) since `since`, every page up to MAX_PAGES, in the order it
   * arrived; with no `since`, the newest page only (a first start's history).
   */
  private async list(kind: Kind, since: Date | undefined): Promise<{ items: Listed[]; truncated: boolean }> {
    const client = this.options.client();
    const to = this.options.to || undefined;
    const items: Listed[] = [];
    let page =
      kind === 'messages'
        ? await client.messages.page({ to, ...(since ? { dateSentAfter: since } : {}), pageSize: PAGE_SIZE })
        : await client.calls.page({ to, ...(since ? { startTimeAfter: since } : {}), pageSize: PAGE_SIZE });
    for (let pages = 1; ; pages++) {
      for (const record of page.instances as Array<MessageRecord | CallRecord>) {
        if (record.direction !== 'inbound' || typeof record.sid !== 'string' || !LISTED_SID.test(record.sid)) continue;
        if (kind === 'messages') {
          const m = record as MessageRecord;
          items.push({ sid: m.sid, at: timeOf(m.dateSent ?? m.dateCreated), event: () => messageEvent(client, m) });
        } else {
          const c = record as CallRecord;
          items.push({ sid: c.sid, at: timeOf(c.startTime ?? c.dateCreated), event: () => Promise.resolve(callEvent(c)) });
        }
      }
      const more = Boolean(since && page.nextPageUrl && page.instances.length > 0);
      if (more && pages >= MAX_PAGES) return { items: items.reverse(), truncated: true };
      const following = more ? await page.nextPage() : undefined;
      if (!following) break;
      page = following as typeof page;
    }
    return { items: items.reverse(), truncated: false };
  }
}

const timeOf = (date: Date | null | undefined) => (date instanceof Date ? date.getTime() : 0);

type MessageRecord = Awaited<ReturnType<twilio.Twilio['messages']['page']>>['instances'][number];
type CallRecord = Awaited<ReturnType<twilio.Twilio['calls']['page']>>['instances'][number];

/** A listed message as Twilio's incoming-message webhook would carry it, with its media's URLs. */
async function messageEvent(client: twilio.Twilio, m: MessageRecord): Promise<PolledEvent> {
  const params: Record<string, string> = {
    MessageSid: m.sid,
    SmsMessageSid: m.sid,
    SmsSid: m.sid,
    AccountSid: m.accountSid,
    From: String(m.from ?? ''),
    To: String(m.to ?? ''),
    Body: String(m.body ?? ''),
    NumMedia: String(m.numMedia ?? '0'),
    NumSegments: String(m.numSegments ?? '1'),
    SmsStatus: 'received',
    ApiVersion: m.apiVersion ?? '2010-04-01',
  };
  if (Number(m.numMedia) > 0) {
    // A second request, only for MMS: the listing says how many media there are, not where. One page
    // (a message has at most 10); when it fails, the text goes on without its media's URLs rather than
    // holding back every text after it.
    try {
      const media = await client.messages(m.sid).media.page({ pageSize: MAX_MEDIA });
      media.instances.slice(0, MAX_MEDIA).forEach((item, i) => {
        if (typeof item.uri !== 'string') return;
        params[`MediaUrl${i}`] = `https://api.twilio.com${item.uri.replace(/\.json$/, '')}`;
        params[`MediaContentType${i}`] = String(item.contentType ?? '');
      });
    } catch {
      params.MediaUnavailable = 'true';
    }
  }
  return { kind: 'message', sid: m.sid, params, at: timeOf(m.dateSent ?? m.dateCreated) };
}

function callEvent(c: CallRecord): PolledEvent {
  return {
    kind: 'call',
    sid: c.sid,
    at: timeOf(c.startTime ?? c.dateCreated),
    params: {
      CallSid: c.sid,
      AccountSid: c.accountSid,
      From: String(c.from ?? ''),
      To: String(c.to ?? ''),
      Caller: String(c.from ?? ''),
      Called: String(c.to ?? ''),
      CallStatus: String(c.status ?? ''),
      Direction: 'inbound',
      ApiVersion: c.apiVersion ?? '2010-04-01',
    },
  };
}
