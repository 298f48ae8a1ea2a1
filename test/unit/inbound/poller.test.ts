/**
 * The InboundPoller's reading of Twilio's lists, without Node-RED: a stand-in account whose Messages
 * (and Calls) list behaves as Twilio's does (newest first, `DateSent>`/`DateSent<` to the second and
 * inclusive, `To`, `PageSize`, page after page), counting every request. Each look is run to its end
 * by the test (`look()`), and time moves on a ManualClock between looks.
 *
 * The classes held: no history replayed however busy the number; one request per quiet look whatever
 * the history, and requests per look that grow with what is new; a burst larger than one look reads
 * caught up over the next looks, oldest first, with a warning only when something was left behind;
 * a record dated in the future never stops polling; skew, restarts and hostile lists lose nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../lib/core/clock';
import { DuplicateWindow } from '../../../lib/inbound/dedupe';
import { HandedOn, InboundPoller, PollOutcome, PolledEvent } from '../../../lib/inbound/poller';
import type { KeyValueStore } from '../../../lib/node-red/context';
import { memoryStore } from '../../support/memory-store';

const HOUSE = '+15017122661';
const OTHER = '+15017122662';
const PERSON = '+15558675310';
const ACCOUNT = 'AC' + '0'.repeat(32);
const INTERVAL = 10_000;
/** Records one look reads at most. */
const MAX_RECORDS = 10_000;

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
  /** One second's records listed oldest-added first (Twilio does not promise an order within a second). */
  tiesOldestFirst = false;
  hostile?: 'endless' | 'unfiltered';
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

/**
 * A store that commits as the embedded one does: the writes made in one turn of the event loop share
 * a commit (on disk: two fsyncs), which is what a poller's time on a slow disk is made of.
 */
function committingStore(): { store: KeyValueStore & { data: Map<string, unknown> }; commits: () => number } {
  const memory = memoryStore();
  let batch: Array<() => void> | undefined;
  let commits = 0;
  const set: KeyValueStore['set'] = (key, value) =>
    new Promise<void>((resolve) => {
      if (!batch) {
        const writes: Array<() => void> = (batch = []);
        setImmediate(() => {
          batch = undefined;
          commits++;
          for (const write of writes) write();
        });
      }
      batch.push(() => void memory.set(key, value).then(resolve));
    });
  return { store: { ...memory, set }, commits: () => commits };
}

/** A poller over the stand-in, with what it hands on and how each look went. */
function pollerOver(
  twilio: StandInTwilio,
  clock: ManualClock,
  options: {
    to?: string | null;
    calls?: boolean;
    store?: KeyValueStore;
    /** In place of taking each event as it comes (what twilio-in's receiver does: claim, emit, record). */
    onEvent?: (event: PolledEvent, got: PolledEvent[]) => Promise<void | HandedOn>;
  } = {},
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
    onEvent: (event) => (options.onEvent ? options.onEvent(event, got) : void got.push(event)),
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

describe('InboundPoller', () => {
  describe('a new node hands on nothing that arrived before its first look, however many', () => {
    const histories: Array<[string, (twilio: StandInTwilio) => void, string | null]> = [
      ['1,130 recent texts to its number', (t) => void t.texts(1_130, 5 * 60_000), HOUSE],
      [
        'every number, texts from 10 minutes before it and a sending account',
        (t) => {
          t.texts(1_130, 10 * 60_000);
          t.texts(400, 10 * 60_000, { to: OTHER });
          t.texts(2_000, 10 * 60_000, { to: PERSON, from: HOUSE, direction: 'outbound-api' });
        },
        null,
      ],
      [
        'a first page of outbound texts only, inbound ones under it',
        (t) => {
          t.texts(1_130, 60 * 60_000);
          t.texts(1_200, 60_000, { to: HOUSE, from: OTHER, direction: 'outbound-api' });
        },
        HOUSE,
      ],
    ];
    it("remembers what shares its first look's second (1,100 texts) in one commit, not a durable commit each", async () => {
      const { clock, twilio } = start();
      twilio.texts(1_100, 0);
      const { store, commits } = committingStore();
      const { look, sids } = pollerOver(twilio, clock, { store });
      await look(0);
      assert.ok(commits() <= 3, `${commits()} commits`); // the Sids (a batch of a page at most), the cursor
      const fresh = twilio.text();
      await look();
      await look();
      assert.deepEqual(sids(), [fresh], 'none of the 1,100 handed on');
    });

    it("hands on 300 new texts with one commit each: what records a text is written with the next text's claim", async () => {
      const { clock, twilio } = start();
      const { store, commits } = committingStore();
      const taken: string[] = [];
      const { look, sids } = pollerOver(twilio, clock, {
        store,
        // As twilio-in's receiver: the account's claim before the msg goes, its record after.
        onEvent: async (event, got) => {
          await store.set(`heard-${event.sid}`, 'taking');
          got.push(event);
          taken.push(event.sid);
          return { recorded: store.set(`heard-${event.sid}`, 'heard') };
        },
      });
      await look(0);
      const fresh = Array.from({ length: 300 }, () => twilio.text());
      const before = commits();
      await look();
      assert.deepEqual(sids(), fresh, 'each once, oldest first');
      assert.ok(commits() - before <= 300 + 3, `${commits() - before} commits for 300 texts`); // three a text before
      for (const sid of fresh) assert.equal(store.data.get(`heard-${sid}`), 'heard', 'each recorded before the look ended');
      await look();
      assert.equal(sids().length, 300, 'none again');
    });

    for (const [name, history, to] of histories) {
      it(name, async () => {
        const { clock, twilio } = start();
        history(twilio);
        const { got, look, sids } = pollerOver(twilio, clock, { to });
        await look(0);
        for (let i = 0; i < 3; i++) await look();
        assert.deepEqual(sids(), [], 'no history handed on');
        const fresh = [twilio.text(), twilio.text()];
        await look();
        await look();
        assert.deepEqual(sids(), fresh);
        assert.equal(got.length, 2);
      });
    }
  });

  it('a cursor an older version stored as 0 (a first page of outbound texts) starts afresh, not a day back', async () => {
    const { clock, twilio } = start();
    twilio.texts(500, 60 * 60_000);
    const store = memoryStore();
    await store.set('twilio-in-poll-cursor', { messages: 0 });
    const { look, sids } = pollerOver(twilio, clock, { store });
    await look(0);
    await look();
    const sid = twilio.text();
    await look();
    assert.deepEqual(sids(), [sid]);
  });

  describe('one request per quiet look whatever the history; requests per look grow with what is new', () => {
    const histories: Array<[string, (twilio: StandInTwilio) => void, string | null]> = [
      ['1,121 texts in the last 5 minutes', (t) => void t.texts(1_121, 5 * 60_000), HOUSE],
      [
        'every number of a sending account',
        (t) => {
          t.texts(1_121, 5 * 60_000);
          t.texts(3_000, 5 * 60_000, { to: PERSON, from: HOUSE, direction: 'outbound-api' });
        },
        null,
      ],
    ];
    for (const [name, history, to] of histories) {
      it(name, async (t) => {
        const { clock, twilio } = start();
        history(twilio);
        const { look, sids } = pollerOver(twilio, clock, { to });
        await look(0);
        const quiet: number[] = [];
        for (let i = 0; i < 5; i++) quiet.push(await look());
        t.diagnostic(`requests per quiet look: ${quiet.join(', ')}`);
        assert.deepEqual(quiet, [1, 1, 1, 1, 1]);
        const sid = twilio.text();
        assert.equal(await look(), 1, 'one new text: one request');
        assert.deepEqual(sids(), [sid]);
      });
    }

    it('20,000 texts over a minute, a look every 2 s: every one once, in order, in few requests', async (t) => {
      const { clock, twilio } = start();
      twilio.texts(1_121, 5 * 60_000);
      const { look, sids, outcomes } = pollerOver(twilio, clock);
      await look(0);
      const sent: string[] = [];
      let requests = 0;
      for (let second = 0; second < 60; second += 2) {
        // 333 or 334 texts a second, in the two seconds before this look.
        for (let i = 0; i < 667; i++) sent.push(twilio.text({ at: twilio.twilioNow() + (i < 333 ? 0 : 1000) }));
        requests += await look(2_000);
      }
      for (let i = 0; i < 5; i++) requests += await look(2_000);
      t.diagnostic(`20,000 texts over 60 s, looks every 2 s: ${requests} requests in 35 looks`);
      assert.equal(sent.length, 20_010);
      assert.deepEqual(sids(), sent);
      assert.ok(requests <= 100, `${requests} requests`);
      assert.ok(outcomes.every((o) => !o.truncated));
    });
  });

  describe('a burst larger than one look reads is caught up over the next looks, oldest first', () => {
    it('25,000 texts between two looks: every one once, in order; no warning, none after', async (t) => {
      const { clock, twilio } = start();
      const { look, sids, outcomes } = pollerOver(twilio, clock);
      await look(0);
      const sent: string[] = [];
      // 25,000 over the last 100 s: 250 a second.
      const now = twilio.twilioNow() + 100_000;
      for (let i = 0; i < 25_000; i++) sent.push(twilio.text({ at: now - 100_000 + Math.floor(i / 250) * 1000 }));
      clock.set(clock.now() + 100_000);
      let looks = 0;
      let requests = 0;
      while (sids().length < sent.length && looks < 20) {
        requests += await look();
        looks++;
        const handed = sids();
        assert.deepEqual(handed, sent.slice(0, handed.length), 'oldest first, none skipped');
      }
      t.diagnostic(`25,000 in one interval: caught up in ${looks} looks, ${requests} requests`);
      assert.deepEqual(sids(), sent);
      assert.ok(
        outcomes.every((o) => !o.truncated),
        'nothing was left behind',
      );
      const six = Array.from({ length: 6 }, () => twilio.text());
      await look();
      assert.deepEqual(sids().slice(-6), six);
      assert.equal(sids().length, 25_006);
      assert.ok(outcomes.every((o) => !o.truncated));
    });

    it('a burst that outlasts a restart mid-way is still handed on once, in order', async () => {
      const { clock, twilio } = start();
      const first = pollerOver(twilio, clock);
      await first.look(0);
      const now = twilio.twilioNow() + 30_000;
      const sent = Array.from({ length: 12_000 }, (_, i) => twilio.text({ at: now - 30_000 + Math.floor(i / 400) * 1000 }));
      clock.set(clock.now() + 30_000);
      await first.look();
      await first.look();
      assert.ok(first.sids().length > 0 && first.sids().length < sent.length, 'stopped mid-way');
      const second = pollerOver(twilio, clock, { store: first.store });
      for (let i = 0; i < 10 && first.sids().length + second.sids().length < sent.length; i++) await second.look();
      assert.deepEqual([...first.sids(), ...second.sids()], sent);
    });

    it('warns only when more than one look reads came in one single second', async () => {
      const { clock, twilio } = start();
      const { look, outcomes, sids } = pollerOver(twilio, clock);
      await look(0);
      const at = twilio.twilioNow() + 1000;
      for (let i = 0; i < MAX_RECORDS + 500; i++) twilio.text({ at });
      for (let i = 0; i < 5; i++) await look();
      assert.equal(outcomes.filter((o) => o.truncated).length, 1);
      assert.ok(sids().length >= MAX_RECORDS);
      const later = twilio.text();
      await look();
      assert.equal(sids().at(-1), later);
      assert.equal(outcomes.filter((o) => o.truncated).length, 1);
    });
  });

  describe('a record dated in the future never stops polling', () => {
    for (const [name, aheadMs] of [
      ['a year ahead', 365 * 24 * 3600_000],
      ['ten minutes ahead', 10 * 60_000],
    ] as const) {
      for (const when of ['after the first look', 'in the history']) {
        it(`${name}, ${when}`, async () => {
          const { clock, twilio } = start();
          const { look, sids, store } = pollerOver(twilio, clock);
          let future: string | undefined;
          if (when === 'in the history') twilio.text({ at: twilio.twilioNow() + aheadMs });
          await look(0);
          if (when === 'after the first look') future = twilio.text({ at: twilio.twilioNow() + aheadMs });
          const later: string[] = [];
          for (let i = 0; i < 5; i++) {
            later.push(twilio.text());
            assert.equal(await look(), 1);
          }
          assert.deepEqual(
            sids().filter((s) => s !== future),
            later,
          );
          assert.equal(sids().filter((s) => s === future).length, future ? 1 : 0);
          const cursor = (await store.get('twilio-in-poll-cursor')) as { messages: number };
          assert.ok(cursor.messages <= clock.now() + 120_000, 'the cursor is not past now');
        });
      }
    }
  });

  describe('what held before still holds', () => {
    for (const skewMs of [-360_000, -90_000, 90_000]) {
      it(`loses nothing and repeats nothing with Twilio's clock ${skewMs / 1000} s off`, async () => {
        const { clock, twilio } = start();
        twilio.skewMs = skewMs;
        twilio.texts(300, 5 * 60_000);
        const { look, sids } = pollerOver(twilio, clock);
        await look(0);
        const sent: string[] = [];
        for (let i = 0; i < 4; i++) {
          sent.push(twilio.text(), twilio.text());
          assert.equal(await look(1_000), 1);
        }
        assert.deepEqual(sids(), sent);
      });
    }

    it('hands on what came while it was stopped, once, after a restart from its store', async () => {
      const { clock, twilio } = start();
      twilio.texts(50, 60_000);
      const first = pollerOver(twilio, clock);
      await first.look(0);
      const one = twilio.text();
      await first.look();
      const down = [twilio.text(), twilio.text()];
      clock.set(clock.now() + 3_600_000);
      const second = pollerOver(twilio, clock, { store: first.store });
      await second.look();
      await second.look();
      assert.deepEqual(first.sids(), [one]);
      assert.deepEqual(second.sids(), down);
    });

    it('polls calls too: history not replayed, a new call handed on once', async () => {
      const { clock, twilio } = start();
      for (let i = 0; i < 1_200; i++) twilio.call({ at: twilio.twilioNow() - 1_200_000 + i * 1000 });
      const { look, got } = pollerOver(twilio, clock, { calls: true });
      await look(0);
      assert.equal(await look(), 2, 'one request per kind');
      const call = twilio.call();
      await look();
      await look();
      assert.deepEqual(
        got.map((e) => [e.kind, e.sid]),
        [['call', call]],
      );
    });

    for (const hostile of ['endless', 'unfiltered'] as const) {
      it(`a list that is ${hostile === 'endless' ? 'endless' : 'not filtered by date'}: looks stay bounded, texts arrive once`, async () => {
        const { clock, twilio } = start();
        twilio.texts(20, 60_000);
        twilio.hostile = hostile;
        const { look, sids } = pollerOver(twilio, clock);
        assert.ok((await look(0)) <= 10);
        const sent: string[] = [];
        for (let i = 0; i < 4; i++) {
          sent.push(twilio.text());
          assert.ok((await look()) <= 10, 'a bounded look');
        }
        for (let i = 0; i < 3; i++) await look();
        assert.deepEqual(sids(), sent);
      });
    }
  });

  /**
   * Found by attack23 (was test/attack23/poller.test.ts): skewed clocks, records listed late or dated a
   * little ahead, a damaged stored cursor, more than a page in the mark's second.
   */
  describe('skew, late listings and damaged cursors lose nothing and replay no history', () => {
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

    it('a mark from a stop of over a day is a stop, not damage: the last day arrives, nothing older', async () => {
      const { clock, twilio } = start();
      const now = twilio.twilioNow();
      const older = twilio.text({ at: now - 25 * 3600_000 }); // during the stop, but over a day ago: history
      const recent = [twilio.text({ at: now - 20 * 3600_000 }), twilio.text({ at: now - 3600_000 })];
      const store = memoryStore();
      await store.set('twilio-in-poll-cursor', { messages: now - 26 * 3600_000, tops: {}, ceilings: {} });
      const { look, sids } = pollerOver(twilio, clock, { store });
      await look(0);
      await look();
      assert.deepEqual(sids(), recent);
      assert.ok(!sids().includes(older));
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

    it('a damaged cursor is said once (restarted), then the list goes on from its fresh mark', async () => {
      const { clock, twilio } = start();
      const store = memoryStore();
      await store.set('twilio-in-poll-cursor', { messages: 1e15 });
      const { look, outcomes, sids } = pollerOver(twilio, clock, { store });
      await look(0);
      const sid = twilio.text();
      await look();
      await look();
      assert.deepEqual(
        outcomes.map((o) => Boolean(o.restarted)),
        [true, false, false],
      );
      assert.deepEqual(sids(), [sid]);
      const cursor = (await store.get('twilio-in-poll-cursor')) as { messages: number };
      assert.ok(cursor.messages <= clock.now(), 'the stored mark is not past now');
    });

    it('a record dated 90 s ahead moves the mark no further than 30 s past now', async () => {
      const { clock, twilio } = start();
      const { look, store } = pollerOver(twilio, clock);
      await look(0);
      twilio.text({ at: twilio.twilioNow() + 90_000 });
      await look();
      const cursor = (await store.get('twilio-in-poll-cursor')) as { messages: number };
      assert.ok(cursor.messages <= clock.now() + 30_000, `mark ${cursor.messages - clock.now()} ms past now`);
    });
  });
});
