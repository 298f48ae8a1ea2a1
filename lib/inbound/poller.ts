/**
 * Receiving without a public URL: every interval, one look at the account's incoming messages (and
 * calls) through the account's queue, each new one handed on exactly once, oldest first.
 *
 * Where each list stands is a mark: Twilio's own date of the newest record read (any direction, so a
 * wrong clock here hides nothing). A look lists from a margin (POLL_MARGIN_MS) under the mark up
 * (`DateSent>`, newest first): Twilio may list a record after records dated later. It stops at the
 * first page that reaches under the margin's floor, or that reaches under the mark holding only
 * records already handed on: a quiet look is one request whatever the history (unless the margin holds
 * over 1,000 records), and a busy one costs a request per 1,000 new records. A bounded memory of the Sids handed on (a DuplicateWindow) drops what
 * is read again. Mark and Sids live in the node's context: exactly once across restarts and redeploys.
 * A stored mark past now (+ POLL_AHEAD_MS) or older than POLL_MARK_OLDEST_MS is damaged: logged
 * once, that list starts afresh as a first look. After a stop of over a day the look reads the last
 * POLL_CATCH_UP_MS only: what came meanwhile arrives, history older than that is not instructions.
 *
 * - A first look (no mark yet) takes the newest record listed as its mark: nothing before it is handed on.
 * - More than one look reads (POLL_MAX_RECORDS) since the mark: nothing is skipped. The look remembers
 *   the oldest second it reached as a ceiling (`DateSent<`) and the next look reads the window between
 *   the mark and that ceiling, and so on down until a window reaches the mark; then the windows are
 *   handed on from the oldest up, the mark moving with each. A burst is caught up over the next looks.
 * - A record dated more than POLL_AHEAD_MS after this machine's now (a clock fault at the far end) is
 *   handed on, but does not move the mark: it would hide every text dated before it. One dated ahead
 *   by less moves the mark no further than POLL_MARK_AHEAD_MS past now.
 * - Only when one second alone holds more than a look reads, or a server ignores the date filters, is
 *   something left behind: the look says so (`truncated`).
 *
 * Several instances on one engine (Redis): one poller per account and number looks, the one holding
 * lease `poll/<AccountSid>/<number>` (renewed every third of its time on the Clock); every cursor
 * write is fenced with that lease, so an instance paused past its lease, whose lease another took,
 * cannot move the cursor back. The others stand by (`standingBy`) and look for the lease as often:
 * one takes over within a lease time of the holder's death.
 */
import type twilio from 'twilio';
import { Clock, Timer, systemClock } from '../core/clock';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import type { KeyValueStore } from '../node-red/context';
import type { Lease } from '../state/engine';
import { instanceLeaseMs, presenceOn } from '../state/instance';
import { isVersioned } from '../account/node-state';
import type { DuplicateWindow } from './dedupe';

/** How far ahead of this machine's clock Twilio's may run: a record dated later does not move the mark. */
export const POLL_AHEAD_MS = 2 * 60_000;
/**
 * How far under the mark each look reads again. Twilio's list may show a record some seconds after
 * records dated later (its date is when Twilio took it, its place in the list when it was stored):
 * a minute covers that with room to spare, and costs nothing on a quiet number (a minute of texts fits
 * one 1,000-record page unless the number gets more than ~16 a second) nor in a burst (the reading
 * stops at the first page that reaches under the mark holding only records already handed on). The
 * Sid memory (DuplicateWindow) drops what is read again.
 */
export const POLL_MARGIN_MS = 60_000;
/**
 * How far past this machine's now the mark may stand. A record dated ahead (a fast clock at Twilio's,
 * or one record dated in the future) moves the mark at most this far: the next look still reads from
 * now + POLL_MARK_AHEAD_MS − POLL_MARGIN_MS, under any text dated from now on, so a Twilio clock up to
 * POLL_AHEAD_MS ahead, or a record dated ahead, hides nothing (what is above the mark is read again
 * until our clock passes it, and dropped by the Sid memory).
 */
export const POLL_MARK_AHEAD_MS = 30_000;
/** After a long stop, texts older than this are history, not instructions: they are not handed on. */
export const POLL_CATCH_UP_MS = 24 * 60 * 60_000;
/** A stored mark older than this is damaged, not a stop: as long as the Sids handed on are remembered (30 days). */
export const POLL_MARK_OLDEST_MS = 30 * 24 * 60 * 60_000;
/** The longest wait between looks while they fail. */
export const POLL_MAX_BACKOFF_MS = 5 * 60_000;
/** Records per page: Twilio's largest, so a quiet look (the margin under the mark and what is new) is one request. */
const PAGE_SIZE = 1_000;
/** Pages one look reads at most: a server that always says "next page" cannot hold a look forever. */
const MAX_PAGES = 10;
/** Records one look reads at most. */
export const POLL_MAX_RECORDS = PAGE_SIZE * MAX_PAGES;
/** Windows a catch-up keeps to read; past this, two are read as one (read again, never skipped). */
const MAX_CEILINGS = 32;
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
  /** Something was left behind for good: more in one second than one look reads, or a list that ignores its date filters. */
  truncated?: boolean;
  /** More came than one look reads: the next looks go on catching up, oldest first. */
  behind?: boolean;
  /** The stored mark was past now or more than a day old (a damaged store, or a stop of over a day): that list started afresh. */
  restarted?: boolean;
  /** Several instances: another holds the poll lease; this one looks only once it is free. */
  standingBy?: boolean;
}

/** What an event's hand-on still writes once the event is out (the account's memory of it). */
export interface HandedOn {
  recorded: Promise<unknown>;
}

export interface PollerOptions {
  client: () => twilio.Twilio;
  /** The node's state: the marks. */
  store: KeyValueStore;
  /** Sids handed on. */
  seen: DuplicateWindow;
  /** One of the account's numbers, or every number. */
  to?: string;
  messages: boolean;
  calls: boolean;
  intervalMs: number;
  /**
   * Handed each new event, oldest first; not called once the poller stops. A promise is awaited before
   * the next; a rejection fails the look (the event is not remembered: the next look hands it on again).
   * It may resolve to the writes that record the hand-on (`recorded`): they go on with the next event,
   * and the look waits for them before it moves its mark.
   */
  onEvent: (event: PolledEvent) => void | Promise<void | HandedOn>;
  onPoll: (outcome: PollOutcome) => void;
  redact?: (text: string) => string;
  /** Intervals, backoffs, the stop wait and when a look began. */
  clock?: Clock;
  /**
   * Several instances on one engine: the poll lease's name (`poll/<AccountSid>/<number>`). Used
   * only when `store` is an engine's that instances share.
   */
  leaseName?: string;
  /** The lease's time (by default the instance lease's, lib/state/instance.ts). */
  leaseMs?: number;
  /** Who holds it (by default this process's instance id). */
  holder?: string;
}

const CURSOR_KEY = 'twilio-in-poll-cursor';
/** How long stop() waits for a look under way (a server that never answers must not hold a redeploy). */
const STOP_WAIT_MS = 5_000;

/** A fenced cursor write was refused: another instance took the poll lease. */
class LeaseLost extends Error {}

type Kind = 'messages' | 'calls';
/**
 * Where one list stands: the mark (Twilio's date of the newest record read, ms; 0: nothing listed yet,
 * all that comes is new) and, while catching up, the ceilings of the windows still to read, lowest last.
 */
interface Position {
  mark: number;
  /** Where the list was first read from: the margin reads no lower (what is under it is history, not remembered). */
  floor: number;
  ceilings: number[];
}
/** As stored: `{ messages: mark, calls: mark, ceilings: { messages: [...] } }` (a cursor of older versions is the marks alone, or has `tops` too). */
type Cursor = Partial<Record<Kind, number>> & {
  floors?: Partial<Record<Kind, number>>;
  ceilings?: Partial<Record<Kind, number[]>>;
};
type Listed = { sid: string; at: number; event: () => Promise<PolledEvent> };

/** What one window's reading found. */
interface Reading {
  /** Messages or calls to hand on (inbound, a Sid Twilio would give), in the window or undated, newest first. */
  items: Listed[];
  /** The newest date in the window no later than POLL_AHEAD_MS from now, and the oldest date in it. */
  newest?: number;
  oldest?: number;
  /** It read down past the window's floor, to the list's end, or under the mark with nothing new there. */
  complete: boolean;
  /** A record above the window's ceiling: the server ignores the date filters. */
  unfiltered: boolean;
  pages: number;
  /** The floor: on a first look, the newest record's second. */
  from?: number;
}

/**
 * The ceiling of a narrower window than the one read (it held more than a look reads): under the
 * second the reading reached; when it reached its floor, that second alone. Undefined when even that
 * is the window read: one second holds more than a look reads.
 */
function narrower(reading: Reading, from: number, until: number | undefined): number | undefined {
  if (reading.oldest === undefined) return undefined;
  const reached = second(reading.oldest);
  const ceiling = reached > from ? reached - 1 : from + 999;
  return until === undefined || ceiling < until ? ceiling : undefined;
}

/** A Sid Twilio would give a message or a call; anything else in a listing is not handed on. */
const LISTED_SID = /^(SM|MM|CA)[0-9a-f]{32}$/;

const second = (ms: number) => Math.floor(ms / 1000) * 1000;
const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
/** A mark for the newest date read: never more than POLL_MARK_AHEAD_MS past now (0: nothing read). */
const capped = (newest: number, now: number) => (newest === 0 ? 0 : second(Math.min(newest, now + POLL_MARK_AHEAD_MS)));

/**
 * The stored positions. A mark past now + POLL_AHEAD_MS (it would make the node deaf) or older than
 * POLL_MARK_OLDEST_MS (no stop is that long: a damaged store, which would hand history on as new) is
 * damaged: `damaged` is told, and that list starts afresh, as a first look. A mark from a long stop
 * within it is kept: the look reads back POLL_CATCH_UP_MS at most.
 */
function readCursor(stored: unknown, now: number, damaged: (kind: Kind, mark: number) => void): Partial<Record<Kind, Position>> {
  if (typeof stored !== 'object' || stored === null) return {};
  const cursor = stored as Cursor;
  const positions: Partial<Record<Kind, Position>> = {};
  for (const kind of ['messages', 'calls'] as const) {
    const mark = cursor[kind];
    // A cursor of older versions stored 0 when its first page held no inbound text: that list starts afresh.
    if (!finite(mark) || (mark === 0 && !cursor.ceilings)) continue;
    // 0: nothing was listed yet, all that comes is new (read back POLL_CATCH_UP_MS at most).
    if (mark > now + POLL_AHEAD_MS || (mark !== 0 && mark < now - POLL_MARK_OLDEST_MS)) {
      damaged(kind, mark);
      continue;
    }
    const ceilings = cursor.ceilings?.[kind];
    const floor = cursor.floors?.[kind];
    positions[kind] = {
      mark,
      // A cursor of older versions has none: its mark (what is under it was handed on without a margin).
      floor: finite(floor) && floor <= mark ? floor : mark,
      ceilings: Array.isArray(ceilings) ? ceilings.filter(finite).filter((c) => c > mark) : [],
    };
  }
  return positions;
}

function writeCursor(positions: Partial<Record<Kind, Position>>): Cursor {
  const cursor: Cursor = { floors: {}, ceilings: {} };
  for (const kind of ['messages', 'calls'] as const) {
    const position = positions[kind];
    if (!position) continue;
    cursor[kind] = position.mark;
    cursor.floors![kind] = position.floor;
    if (position.ceilings.length) cursor.ceilings![kind] = position.ceilings;
  }
  return cursor;
}

export class InboundPoller {
  private timer?: Timer;
  private running?: Promise<void>;
  private stopped = false;
  private failures = 0;
  private readonly clock: Clock;
  /** Several instances: the poll lease while held, and the timer that renews it. */
  private lease?: Lease;
  private keeper?: Timer;

  constructor(private readonly options: PollerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Several instances: the engine and lease to hold (undefined: one instance, no lease). */
  private get leasing() {
    const { store, leaseName } = this.options;
    if (!leaseName || !isVersioned(store) || store.engine.guarantees.instances !== 'many') return undefined;
    const ttlMs = this.options.leaseMs ?? instanceLeaseMs();
    return { store, engine: store.engine, name: leaseName, ttlMs, everyMs: Math.max(50, Math.floor(ttlMs / 3)) };
  }

  /** Takes (or keeps) the poll lease; false while another instance holds it. */
  private async holdLease(): Promise<boolean> {
    const leasing = this.leasing;
    if (!leasing) return true;
    if (this.lease && this.lease.expiresAt > this.clock.now()) return true;
    this.lease = await leasing.engine.lease(leasing.name, this.options.holder ?? presenceOn(leasing.engine).id, leasing.ttlMs);
    if (this.lease) this.keepLease();
    return this.lease !== undefined;
  }

  /** Renews the held lease every third of its time; lost (taken over), this instance stands by. */
  private keepLease(): void {
    const leasing = this.leasing!;
    this.clock.clearTimeout(this.keeper);
    this.keeper = this.clock.setTimeout(() => {
      const held = this.lease;
      if (!held || this.stopped) return;
      leasing.engine.renew(held, leasing.ttlMs).then(
        (renewed) => {
          if (this.lease !== held) return;
          this.lease = renewed;
          if (renewed && !this.stopped) this.keepLease();
        },
        // Unreachable now: tried again at the same pace while the lease may still be ours.
        () => {
          if (this.lease === held && held.expiresAt > this.clock.now() && !this.stopped) this.keepLease();
        },
      );
    }, leasing.everyMs);
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
    this.clock.clearTimeout(this.keeper);
    const lease = this.lease;
    this.lease = undefined;
    // Given up at once: another instance takes over without waiting for it to expire.
    if (lease) void this.leasing?.engine.release(lease).catch(() => undefined);
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

  /** One look at each list (see the header), then the next in an interval. Never rejects. */
  async look(): Promise<void> {
    const at = this.clock.now();
    const outcome = { received: 0, truncated: false, behind: false, restarted: false };
    try {
      if (!(await this.holdLease())) {
        const everyMs = Math.min(this.options.intervalMs, this.leasing!.everyMs);
        this.options.onPoll({ at, received: 0, failures: 0, nextInMs: everyMs, standingBy: true });
        this.schedule(everyMs);
        return;
      }
      const positions = readCursor(await this.options.store.get(CURSOR_KEY), at, () => (outcome.restarted = true));
      const save = () => this.saveCursor(writeCursor(positions));
      for (const kind of (['messages', 'calls'] as const).filter((k) => this.options[k])) {
        const position = positions[kind];
        if (position) {
          if (!(await this.follow(kind, position, at, save, outcome))) return; // stopped: the next start goes on from the mark
        } else {
          positions[kind] = await this.begin(kind, at);
          await save();
        }
      }
      this.failures = 0;
      this.options.onPoll({ at, failures: 0, nextInMs: this.options.intervalMs, ...outcome });
      this.schedule(this.options.intervalMs);
    } catch (err) {
      // Stopped meanwhile (the node closed): what was not handed on is the next start's; nothing to report.
      if (this.stopped) return;
      if (err instanceof LeaseLost) {
        // Another instance holds the lease now: this one stands by (what it read, the holder reads again).
        this.lease = undefined;
        this.clock.clearTimeout(this.keeper);
        this.schedule(0);
        return;
      }
      this.failures++;
      const nextInMs = Math.min(this.options.intervalMs * 2 ** this.failures, POLL_MAX_BACKOFF_MS);
      this.options.onPoll({
        at,
        received: outcome.received,
        error: toTwilioNodeError(err, this.options.redact),
        failures: this.failures,
        nextInMs,
      });
      this.schedule(nextInMs);
    }
  }

  /** Writes the cursor; several instances: fenced with the poll lease (refused: LeaseLost). */
  private async saveCursor(cursor: Cursor): Promise<void> {
    const leasing = this.leasing;
    if (!leasing) return this.options.store.set(CURSOR_KEY, cursor);
    const fence = this.lease;
    if (!fence || (await leasing.store.write(CURSOR_KEY, cursor, { fence })) === undefined) throw new LeaseLost('poll lease lost');
  }

  /** A list's first look: the newest record listed is the mark, and what shares its second is remembered, not handed on. */
  private async begin(kind: Kind, now: number): Promise<Position> {
    const reading = await this.read(kind, {}, MAX_PAGES, now);
    await this.options.seen.rememberAll(reading.items.map((item) => item.sid));
    const mark = capped(reading.newest ?? 0, now);
    return { mark, floor: mark, ceilings: [] };
  }

  /**
   * Reads the window from the mark up to the lowest ceiling (or to the newest), window after window
   * while the look's pages last; hands on each complete window, oldest first. False when stopped.
   */
  private async follow(
    kind: Kind,
    position: Position,
    now: number,
    save: () => Promise<void>,
    outcome: { received: number; truncated: boolean; behind: boolean },
  ): Promise<boolean> {
    for (let pages = MAX_PAGES; pages > 0;) {
      // The margin under the mark is read again (what Twilio listed late); the Sid memory drops what was handed on.
      const from = second(Math.max(position.mark - POLL_MARGIN_MS, position.floor, now - POLL_CATCH_UP_MS));
      const mark = second(Math.max(position.mark, from));
      position.ceilings = position.ceilings.filter((c) => c >= mark); // a day behind: what is under it is history
      const until = position.ceilings.at(-1);
      const reading = await this.read(kind, { from, until, mark }, pages, now);
      pages -= reading.pages;
      const ceiling = reading.complete || reading.unfiltered ? undefined : narrower(reading, mark, until);
      if (ceiling !== undefined) {
        // More than the look reads: read under what it reached first, and hand on from the oldest up.
        position.ceilings.push(ceiling);
        if (position.ceilings.length > MAX_CEILINGS) position.ceilings.splice(-2, 1);
        outcome.behind = true;
        await save();
        continue;
      }
      if (!(await this.handOn(reading.items, outcome))) return false;
      if (reading.complete && !reading.unfiltered && until !== undefined) {
        // All up to the ceiling is handed on: the next window starts above it.
        position.mark = until + 1;
        position.ceilings.pop();
        outcome.behind = position.ceilings.length > 0;
        await save();
        continue;
      }
      // The newest window read to its floor, or (truncated) one that cannot be read whole: more in one
      // second than a look reads, or a list that ignores its date filters. What was read is handed on.
      position.mark = Math.max(position.mark, capped(reading.newest ?? 0, now), reading.complete ? 0 : mark + 1000);
      if (reading.unfiltered) position.ceilings = [];
      outcome.truncated ||= !reading.complete;
      await save();
      return true;
    }
    return true;
  }

  /** Hands on what was not handed on before, oldest first (the stable sort keeps one second's arrivals in their order). */
  private async handOn(items: Listed[], outcome: { received: number }): Promise<boolean> {
    const oldestFirst = items.reverse().sort((a, b) => a.at - b.at);
    // What records an event as handed on (its Sid remembered, the account's memory) is written while
    // the next event is claimed: one commit of the embedded store per event, not three in a row.
    const recording: Promise<unknown>[] = [];
    let handing = true;
    try {
      for (const item of oldestFirst) {
        if (this.stopped) {
          handing = false;
          break;
        }
        // Several instances: past the lease (a pause), what is left is the new holder's to hand on.
        if (this.leasing && !(this.lease && this.lease.expiresAt > this.clock.now())) throw new LeaseLost('poll lease expired');
        if (await this.options.seen.has(item.sid)) continue;
        const event = await item.event();
        if (this.stopped) {
          handing = false;
          break;
        }
        const handed = await this.options.onEvent(event);
        outcome.received++;
        const recorded = Promise.all([handed?.recorded, this.options.seen.remember(item.sid)]);
        recorded.catch(() => undefined); // heard below (a failure fails the look), never unhandled meanwhile
        recording.push(recorded);
      }
    } catch (err) {
      // The loop's own reason (a lost lease, a refused claim) is the look's, not a record failing meanwhile.
      await Promise.allSettled(recording);
      throw err;
    }
    await Promise.all(recording);
    return handing;
  }

  /**
   * The list from `from` (inclusive, to the second) up to `until`, newest first, page after page
   * until a page reaches below `from`, or reaches below `mark` holding there only records the Sid
   * memory holds (the rest of the margin was read before), the list ends, or `pages` are read. With
   * no `from` (a first look), the newest record's second is the floor.
   */
  private async read(
    kind: Kind,
    { from, until, mark }: { from?: number; until?: number; mark?: number },
    pages: number,
    now: number,
  ): Promise<Reading> {
    const client = this.options.client();
    const to = this.options.to || undefined;
    const after = from === undefined ? undefined : new Date(from);
    const before = until === undefined ? undefined : new Date(until);
    let page =
      kind === 'messages'
        ? await client.messages.page({ to, dateSentAfter: after, dateSentBefore: before, pageSize: PAGE_SIZE })
        : await client.calls.page({ to, startTimeAfter: after, startTimeBefore: before, pageSize: PAGE_SIZE });
    const reading: Reading = { items: [], complete: false, unfiltered: false, pages: 1, from };
    const listed = new Set<unknown>();
    for (;;) {
      let below = false;
      let underMark = false; // the page reached under the mark…
      let newUnderMark = false; // …and holds there a record not handed on before (listed late)
      let fresh = false; // a page that lists only what this reading has read is a list going round: its end
      for (const record of page.instances as Array<MessageRecord | CallRecord>) {
        if (listed.has(record.sid)) continue;
        listed.add(record.sid);
        fresh = true;
        const at =
          kind === 'messages'
            ? timeOf((record as MessageRecord).dateSent ?? record.dateCreated)
            : timeOf((record as CallRecord).startTime ?? record.dateCreated);
        const handed = record.direction === 'inbound' && typeof record.sid === 'string' && LISTED_SID.test(record.sid);
        if (at !== 0) {
          // A first look's floor is the newest record's second (the record dated in the future is not it),
          // no later than the mark may stand: what is over it is remembered, not handed on.
          if (reading.from === undefined && at <= now + POLL_AHEAD_MS) reading.from = capped(at, now);
          if (reading.from !== undefined && at < reading.from) {
            below = true;
            continue;
          }
          if (mark !== undefined && at < mark) {
            underMark = true;
            newUnderMark ||= handed && !(await this.options.seen.has(record.sid));
          }
          if (until !== undefined && at > until) reading.unfiltered = true;
          if (at <= now + POLL_AHEAD_MS && !(at <= (reading.newest ?? -Infinity))) reading.newest = at;
          reading.oldest = Math.min(reading.oldest ?? at, at);
        }
        if (handed) reading.items.push({ sid: record.sid, at, event: () => eventOf(client, kind, record) });
      }
      if (below || !fresh || !page.nextPageUrl || (underMark && !newUnderMark)) return { ...reading, complete: true };
      // Out of pages under the mark: all that is new above it was read; the rest of the margin is let go.
      if (reading.pages >= pages) return { ...reading, complete: underMark };
      const following = await page.nextPage();
      if (!following) return { ...reading, complete: true };
      page = following as typeof page;
      reading.pages++;
    }
  }
}

const timeOf = (date: Date | null | undefined) => (date instanceof Date && Number.isFinite(date.getTime()) ? date.getTime() : 0);

type MessageRecord = Awaited<ReturnType<twilio.Twilio['messages']['page']>>['instances'][number];
type CallRecord = Awaited<ReturnType<twilio.Twilio['calls']['page']>>['instances'][number];

function eventOf(client: twilio.Twilio, kind: Kind, record: MessageRecord | CallRecord): Promise<PolledEvent> {
  return kind === 'messages' ? messageEvent(client, record as MessageRecord) : Promise.resolve(callEvent(record as CallRecord));
}

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
