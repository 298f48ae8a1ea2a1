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

export interface PolledEvent {
  kind: 'message' | 'call';
  sid: string;
  /** What Twilio's webhook for it would have carried. */
  params: Record<string, string>;
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
  now?: () => number;
}

const CURSOR_KEY = 'twilio-in-poll-cursor';

type Listed = { sid: string; at: number; event: () => Promise<PolledEvent> };

export class InboundPoller {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private failures = 0;
  private readonly now: () => number;

  constructor(private readonly options: PollerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Looks at once, then every interval (longer while looks fail). */
  start(): void {
    this.schedule(0);
  }

  /** Stops looking; resolves when a look under way has finished handing on what it found. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.look().finally(() => (this.running = undefined));
    }, ms);
  }

  /** One look: list, hand on what is new, move the cursor. Never rejects. */
  async look(): Promise<void> {
    const at = this.now();
    let received = 0;
    try {
      const stored = await this.options.store.get(CURSOR_KEY);
      const cursor = typeof stored === 'number' && Number.isFinite(stored) ? stored : undefined;
      const since = Math.max(cursor ?? at, at - POLL_CATCH_UP_MS) - POLL_LOOKBACK_MS;
      // Oldest first: Twilio lists newest first, and the (stable) sort keeps one second's arrivals in their order.
      const listed = (await this.list(new Date(since))).sort((a, b) => a.at - b.at);
      for (const item of listed) {
        if (this.stopped) return; // what is left is handed on after the next start
        if (await this.options.seen.has(item.sid)) continue;
        // First start: what is already there is history. Remembered, not handed on.
        if (cursor !== undefined) {
          const event = await item.event();
          if (this.stopped) return;
          this.options.onEvent(event);
          received++;
        }
        await this.options.seen.remember(item.sid);
      }
      await this.options.store.set(CURSOR_KEY, at);
      this.failures = 0;
      this.options.onPoll({ at, received, failures: 0, nextInMs: this.options.intervalMs });
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

  /** Everything to the number (or numbers) since `since`, every page, in the order it arrived. */
  private async list(since: Date): Promise<Listed[]> {
    const client = this.options.client();
    const to = this.options.to || undefined;
    const out: Listed[] = [];
    if (this.options.messages) {
      let page = await client.messages.page({ to, dateSentAfter: since, pageSize: PAGE_SIZE });
      for (let pages = 1; ; pages++) {
        for (const m of page.instances) {
          if (m.direction !== 'inbound') continue;
          out.push({ sid: m.sid, at: timeOf(m.dateSent ?? m.dateCreated), event: () => messageEvent(client, m) });
        }
        const next = page.nextPageUrl && page.instances.length > 0 && pages < MAX_PAGES ? await page.nextPage() : undefined;
        if (!next) break;
        page = next as typeof page;
      }
    }
    out.reverse();
    const messages = out.length;
    if (this.options.calls) {
      let page = await client.calls.page({ to, startTimeAfter: since, pageSize: PAGE_SIZE });
      for (let pages = 1; ; pages++) {
        for (const c of page.instances) {
          if (c.direction !== 'inbound') continue;
          out.push({ sid: c.sid, at: timeOf(c.startTime ?? c.dateCreated), event: () => Promise.resolve(callEvent(c)) });
        }
        const next = page.nextPageUrl && page.instances.length > 0 && pages < MAX_PAGES ? await page.nextPage() : undefined;
        if (!next) break;
        page = next as typeof page;
      }
    }
    return [...out.slice(0, messages), ...out.slice(messages).reverse()];
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
    From: m.from,
    To: m.to,
    Body: m.body ?? '',
    NumMedia: String(m.numMedia ?? '0'),
    NumSegments: String(m.numSegments ?? '1'),
    SmsStatus: 'received',
    ApiVersion: m.apiVersion ?? '2010-04-01',
  };
  if (Number(m.numMedia) > 0) {
    // A second request, only for MMS: the listing says how many media there are, not where.
    const media = await client.messages(m.sid).media.list();
    media.forEach((item, i) => {
      params[`MediaUrl${i}`] = `https://api.twilio.com${item.uri.replace(/\.json$/, '')}`;
      params[`MediaContentType${i}`] = item.contentType;
    });
  }
  return { kind: 'message', sid: m.sid, params };
}

function callEvent(c: CallRecord): PolledEvent {
  return {
    kind: 'call',
    sid: c.sid,
    params: {
      CallSid: c.sid,
      AccountSid: c.accountSid,
      From: c.from,
      To: c.to,
      Caller: c.from,
      Called: c.to,
      CallStatus: c.status,
      Direction: 'inbound',
      ApiVersion: c.apiVersion ?? '2010-04-01',
    },
  };
}
