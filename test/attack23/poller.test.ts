import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { DuplicateWindow } from '../../lib/inbound/dedupe';
import { InboundPoller, PollOutcome, PolledEvent } from '../../lib/inbound/poller';
import type { KeyValueStore } from '../../lib/node-red/context';

const HOUSE = '+15017122661';
const PERSON = '+15558675310';
const ACCOUNT = 'AC' + '0'.repeat(32);
const INTERVAL = 10_000;

function memoryStore(): KeyValueStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    get: async (key) => data.get(key),
    set: async (key, value) => void (value === undefined ? data.delete(key) : data.set(key, value)),
    keys: async () => [...data.keys()],
  };
}

interface Record_ {
  sid: string;
  direction: string;
  to: string;
  from: string;
  body: string;
  at: number;
}

/** What the SDK's serializer sends for a date filter: whole seconds. */
const toSecond = (date: Date) => Math.floor(date.getTime() / 1000) * 1000;

/**
 * Twilio's lists as the SDK sees them. Dates are Twilio's clock (this test's clock plus `skewMs`), to
 * the second. `hostile` pages: 'endless' answers every page with a next page of the same records;
 * 'unfiltered' ignores the date filters.
 */
class StandInTwilio {
  readonly records: { messages: Record_[]; calls: Record_[] } = { messages: [], calls: [] };
  requests = 0;
  skewMs = 0;
  hostile?: 'endless' | 'unfiltered';
  /** attack23: one second's records listed oldest-added first (Twilio does not promise an order within a second). */
  tiesOldestFirst = false;
  private counter = 0;

  constructor(private readonly clock: ManualClock) {}

  /** Now by Twilio's clock, to the second. */
  twilioNow(): number {
    return Math.floor((this.clock.now() + this.skewMs) / 1000) * 1000;
  }

  /** Someone texts `to` (or the account texts out); returns the Sid. */
  text(options: { to?: string; from?: string; direction?: string; at?: number; body?: string } = {}): string {
    return this.add('messages', 'SM', options);
  }

  call(options: { to?: string; at?: number } = {}): string {
    return this.add('calls', 'CA', options);
  }

  /** `count` texts to `to`, spread evenly over the `spanMs` before Twilio's now, oldest first. */
  texts(count: number, spanMs: number, options: { to?: string; direction?: string; from?: string } = {}): string[] {
    const now = this.twilioNow();
    return Array.from({ length: count }, (_, i) =>
      this.text({ ...options, at: now - spanMs + Math.floor(((i + 1) * spanMs) / count / 1000) * 1000 }),
    );
  }

  private add(
    kind: 'messages' | 'calls',
    prefix: string,
    o: { to?: string; from?: string; direction?: string; at?: number; body?: string },
  ) {
    const n = ++this.counter;
    const sid = prefix + n.toString(16).padStart(32, '0');
    this.records[kind].push({
      sid,
      direction: o.direction ?? 'inbound',
      to: o.to ?? HOUSE,
      from: o.from ?? PERSON,
      body: o.body ?? `text ${n}`,
      at: o.at ?? this.twilioNow(),
    });
    return sid;
  }

  readonly client = {
    messages: { page: (params: Record<string, unknown>) => this.page('messages', params, 0) },
    calls: { page: (params: Record<string, unknown>) => this.page('calls', params, 0) },
  };

  private async page(kind: 'messages' | 'calls', params: Record<string, unknown>, index: number): Promise<unknown> {
    this.requests++;
    const after = (kind === 'messages' ? params.dateSentAfter : params.startTimeAfter) as Date | undefined;
    const before = (kind === 'messages' ? params.dateSentBefore : params.startTimeBefore) as Date | undefined;
    const size = Number(params.pageSize ?? 50);
    const filtered = this.hostile !== 'unfiltered';
    const listed = this.records[kind]
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => params.to === undefined || r.to === params.to)
      .filter(({ r }) => !filtered || !after || r.at >= toSecond(after))
      .filter(({ r }) => !filtered || !before || r.at <= toSecond(before) + 999)
      .sort((a, b) => b.r.at - a.r.at || (this.tiesOldestFirst ? a.i - b.i : b.i - a.i)) // newest first
      .map(({ r }) => r);
    const slice = this.hostile === 'endless' ? listed.slice(0, size) : listed.slice(index * size, (index + 1) * size);
    const more = this.hostile === 'endless' || (index + 1) * size < listed.length;
    return {
      instances: slice.map((r) =>
        kind === 'messages'
          ? { ...this.common(r), body: r.body, numMedia: '0', numSegments: '1', dateSent: new Date(r.at), dateCreated: new Date(r.at) }
          : { ...this.common(r), status: 'no-answer', startTime: new Date(r.at), dateCreated: new Date(r.at) },
      ),
      nextPageUrl: more ? `https://api.twilio.com/next?Page=${index + 1}` : undefined,
      nextPage: async () => (more ? this.page(kind, params, index + 1) : undefined),
    };
  }

  private common(r: Record_) {
    return { sid: r.sid, direction: r.direction, accountSid: ACCOUNT, from: r.from, to: r.to, apiVersion: '2010-04-01' };
  }
}

/** A poller over the stand-in, with what it hands on and how each look went. */
function pollerOver(
  twilio: StandInTwilio,
  clock: ManualClock,
  options: { to?: string | null; calls?: boolean; store?: KeyValueStore } = {},
) {
  const store = options.store ?? memoryStore();
  const got: PolledEvent[] = [];
  const outcomes: PollOutcome[] = [];
  const poller = new InboundPoller({
    client: () => twilio.client as never,
    store,
    seen: new DuplicateWindow(store, { windowMs: 30 * 24 * 3600_000, capacity: 20_000, prefix: 'polled', clock }),
    to: options.to === null ? undefined : (options.to ?? HOUSE),
    messages: true,
    calls: options.calls ?? false,
    intervalMs: INTERVAL,
    onEvent: (event) => void got.push(event),
    onPoll: (outcome) => void outcomes.push(outcome),
    clock,
  });
  /** One look, run to its end, `ms` after the last; returns the requests it made. */
  const look = async (ms = INTERVAL) => {
    clock.set(clock.now() + ms);
    const from = twilio.requests;
    await poller.look();
    const outcome = outcomes.at(-1)!;
    assert.equal(outcome.error, undefined, outcome.error?.message);
    return twilio.requests - from;
  };
  return { poller, store, got, outcomes, look, sids: () => got.map((e) => e.sid) };
}

const start = () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 12, 0, 0));
  return { clock, twilio: new StandInTwilio(clock) };
};

/**
 * ATTACK 1: InboundPoller (lib/inbound/poller.ts) against skewed clocks, records that appear late and
 * a damaged stored cursor. The stand-in above is test/unit/inbound/poller.test.ts's, copied as is.
 */
describe('attack23: InboundPoller', () => {
  it("Twilio's clock 6 min ahead of ours (ours slow): no history replayed, new texts once, in order", async () => {
    const { clock, twilio } = start();
    twilio.skewMs = 360_000;
    twilio.texts(300, 5 * 60_000);
    const { look, sids } = pollerOver(twilio, clock);
    await look(0);
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) {
      sent.push(twilio.text());
      await look();
    }
    assert.deepEqual(sids(), sent, 'history replayed or new texts lost/repeated');
  });

  it("Twilio's clock 6 min ahead and a busy history (12,000 texts): nothing before the first look is handed on", async () => {
    const { clock, twilio } = start();
    twilio.skewMs = 360_000;
    twilio.texts(12_000, 60 * 60_000);
    const { look, sids } = pollerOver(twilio, clock);
    await look(0);
    for (let i = 0; i < 4; i++) await look();
    assert.equal(sids().length, 0, `${sids().length} texts from before the first look handed on as new`);
  });

  it("Twilio's clock 6 min ahead: a quiet look is one request", async () => {
    const { clock, twilio } = start();
    twilio.skewMs = 360_000;
    twilio.texts(50, 60_000);
    const { look } = pollerOver(twilio, clock);
    await look(0);
    twilio.text();
    await look();
    assert.equal(await look(), 1);
  });

  it('a record dated 90 s ahead (inside the 2-min allowance) hides every text dated before it that is listed after it', async () => {
    const { clock, twilio } = start();
    twilio.texts(5, 60_000);
    const { look, sids } = pollerOver(twilio, clock);
    await look(0);
    const ahead = twilio.text({ at: twilio.twilioNow() + 90_000 });
    await look();
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) {
      sent.push(twilio.text());
      await look();
    }
    assert.deepEqual(sids(), [ahead, ...sent], 'texts dated under the mark set by a slightly-future record are lost');
  });

  it('a text listed late with a date 5 s older than the mark is handed on (Sid memory exists for exactly this)', async () => {
    const { clock, twilio } = start();
    const { look, sids } = pollerOver(twilio, clock);
    await look(0);
    const first = twilio.text();
    await look(); // the mark is now `first`'s second; our clock moved on 10 s
    const late = twilio.text({ at: twilio.twilioNow() - 15_000 }); // 5 s before the mark, listed only now
    for (let i = 0; i < 3; i++) await look();
    assert.deepEqual(sids(), [first, late], 'the late text is never handed on');
  });

  it('a damaged cursor whose mark is far in the future: the node never hears a text again', async () => {
    const { clock, twilio } = start();
    const store = memoryStore();
    await store.set('twilio-in-poll-cursor', { messages: 1e15, tops: {}, ceilings: {} });
    const { look, sids } = pollerOver(twilio, clock, { store });
    await look(0);
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) {
      sent.push(twilio.text());
      await look();
    }
    assert.deepEqual(sids(), sent, 'deaf for good: every look lists DateSent>year 33658');
  });

  it('a damaged cursor whose mark is 1 (1970): a whole day of history is handed on as new texts', async () => {
    const { clock, twilio } = start();
    twilio.texts(200, 12 * 3600_000);
    const store = memoryStore();
    await store.set('twilio-in-poll-cursor', { messages: 1, tops: {}, ceilings: {} });
    const { look, sids } = pollerOver(twilio, clock, { store });
    await look(0);
    await look();
    assert.equal(sids().length, 0, `${sids().length} old texts handed on from a damaged cursor`);
  });

  it('a damaged cursor whose ceilings are out of order (highest last): nothing lost, nothing repeated', async () => {
    const { clock, twilio } = start();
    const { look, sids, store } = pollerOver(twilio, clock);
    await look(0);
    const cursor = (await store.get('twilio-in-poll-cursor')) as { messages: number };
    const mark = cursor.messages;
    const sent = [twilio.text({ at: mark + 2_000 }), twilio.text({ at: mark + 4_000 }), twilio.text({ at: mark + 6_000 })];
    await store.set('twilio-in-poll-cursor', { ...cursor, ceilings: { messages: [mark + 5_000, mark + 60_000, mark + 3_000] } });
    clock.set(mark + 10_000);
    for (let i = 0; i < 5; i++) await look(1_000);
    assert.deepEqual(sids(), sent);
  });
  it("1,500 texts in the mark's second, listed oldest-added first: one more in that second is handed on", async () => {
    const { clock, twilio } = start();
    twilio.tiesOldestFirst = true;
    const second = twilio.twilioNow();
    for (let i = 0; i < 1_500; i++) twilio.text({ at: second });
    const { look, sids } = pollerOver(twilio, clock);
    await look(0);
    // Another text in the same second, listed (ties oldest first) on the page after the mark's record.
    const late = twilio.text({ at: second });
    for (let i = 0; i < 3; i++) await look();
    assert.deepEqual(
      sids(),
      [late],
      "the stop at the mark's record (poller.ts read(): `below ||= record.sid === top`) ends the look on page 1",
    );
  });
});
