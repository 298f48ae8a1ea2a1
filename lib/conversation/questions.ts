/**
 * The account's open questions, and where a reply goes. Every question waits for one person's reply
 * to the number it was sent from; a reply reaches exactly one question, however many nodes asked:
 * - with one question open for that person (on that number), the reply is its answer;
 * - with several, each carries a short code (sent with the question when another was already open)
 *   and the reply quotes it ("YES 42"); a reply without a known code answers none of them: it is
 *   news, passed on by twilio-in as any text is, and the person gets one clarifying message listing
 *   the open questions and their codes (one per set of open questions, not one per text).
 * Nothing a person texts vanishes: a reply is an answer to exactly one question (claimed on the
 * inbound path, so twilio-in does not also pass it on), or news on twilio-in's output.
 *
 * Several Node-RED instances on one shared engine (Redis): what routing needs is in the account's
 * engine, not only in memory. Each open question has an index record (by Account SID, person and
 * question) naming the instance that holds it, written when it opens (before its text goes) and
 * removed when it ends; each board mirrors the others' records (read at start, then kept by the
 * events every board publishes). A reply landing on an instance that does not hold its question is
 * stored in the engine for that question and the holder is told on its own channel; it takes the
 * stored reply (one taker: a delete) and answers. The reply is claimed where it landed, never news.
 * An instance that died leaves the reply stored: the question's next owner (a restart, or the
 * instance that takes its waits over) takes it as it opens the question again.
 */
import type { InboundEvent, InboundHub } from '../inbound/hub';
import type { StateEngine } from '../state/engine';
import { Clock, Timer, systemClock } from '../core/clock';
import { instanceId } from './instance';
import { mediaOf } from '../inbound/webhook';
import { render, text } from '../core/texts';
import { quotedCode } from './quoted-code';

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
  /** When Twilio took the question (its clock): a polled reply from before it cannot answer it. */
  askedAt?: number;
  /** Takes a reply; `false` when it is not an answer after all (a page's contact texting anything but an acknowledgement): it is passed on as news. */
  onReply(reply: Reply): unknown;
  /** How its node sends a clarifying message (each node its own; the board's when it has none). */
  clarify?: Clarify;
  /**
   * When it stops waiting at the latest (ms since the epoch): its shared index record expires then
   * (a margin after), so a record left by an instance whose question never opens again (a node
   * removed while Node-RED was down) does not take its person's texts for ever.
   */
  deadline?: number;
}

/** Sends the clarifying message: the open questions, each with its code. */
export type Clarify = (person: string, ourNumber: string, questions: ReadonlyArray<{ code: string; summary: string }>) => void;

const CODE_DIGITS = 2;

/** The engine a board shares with the other instances of one Twilio account. */
export interface SharedBoard {
  engine: StateEngine;
  accountSid: string;
  /** This process's instance (instanceId()): the channel it hears forwarded replies on. */
  instance: string;
  /** A failed engine write or read (logged by the caller, once in a while). */
  onError?(err: unknown): void;
  /** The clock deadlines are read on (the nodes' Clock). */
  clock?: Clock;
  /** A reply forwarded for a question that ended before its holder took it: it answers nothing (said in the log). */
  onLost?(question: string): void;
}

/** What the index keeps of an open question, and what a board mirrors of another instance's. */
interface IndexedQuestion {
  id: string;
  person: string;
  ourNumber?: string;
  code: string;
  summary: string;
  askedAt?: number;
  deadline?: number;
  instance: string;
}

/** How long an index record outlives its question's deadline (clocks differ; a restart takes time). */
const INDEX_MARGIN_MS = 10 * 60_000;

/** A reply stored for the instance holding its question; `declined` once the holder could not take it. */
interface ForwardedReply {
  question: string;
  reply: Reply;
  declined?: true;
}

/** How long a forwarded reply stays in the engine for its question's owner (a question waits at most 14 days). */
const FORWARD_TTL_MS = 15 * 24 * 3_600_000;
const SCAN_PAGE = 500;
/** Pages a look at one person's index records reads at most (beyond it, mirrored questions are kept, not dropped). */
const LOOK_PAGES = 4;
/** How often the mirror is read again from the whole index (a `closed` lost in a reconnect), and how much of it. */
const MIRROR_REFRESH_MS = 60_000;
const MIRROR_PAGES = 100;
/** How often a forwarded reply is handed on to a newer holder (takeovers the sender had not heard of). */
const MAX_HOPS = 3;
/**
 * How long the instance a reply landed on waits to hear whether the holder took it: declined (its
 * question had ended), the reply is news there; no word in time (the holder stalled or died), it
 * stays stored for the question's holder (claimed). Well within Twilio's 15 s for a webhook.
 */
const FORWARD_VERDICT_MS = 5_000;
/** How long a declined forward stays for its sender to read. */
const DECLINED_TTL_MS = 60_000;
/** Questions this instance closed lately, remembered to decline replies forwarded to them (bounded). */
const RECENTLY_CLOSED = 1_000;

/** Whether a question may take this message: sent from the number it came to, and asked before it (a poll may list an old text again). */
const fitting =
  (event: InboundEvent) =>
  (q: { ourNumber?: string; askedAt?: number }): boolean =>
    (!q.ourNumber || q.ourNumber === event.to) && !(event.at !== undefined && q.askedAt !== undefined && event.at < q.askedAt);

/** What a question's onReply said: `false` is "not an answer after all" (news); a forward's answer comes later. */
function claimedBy(said: unknown): 'claimed' | undefined | Promise<'claimed' | undefined> {
  if (said instanceof Promise) return said.then((later) => (later === false || later === undefined ? undefined : 'claimed'));
  return said === false ? undefined : 'claimed';
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isIndexed(v: unknown): v is IndexedQuestion {
  return (
    isObj(v) &&
    typeof v.id === 'string' &&
    typeof v.person === 'string' &&
    typeof v.code === 'string' &&
    typeof v.summary === 'string' &&
    typeof v.instance === 'string' &&
    (v.ourNumber === undefined || typeof v.ourNumber === 'string') &&
    (v.askedAt === undefined || typeof v.askedAt === 'number') &&
    (v.deadline === undefined || typeof v.deadline === 'number')
  );
}

function isForwarded(v: unknown): v is ForwardedReply {
  return (
    isObj(v) && typeof v.question === 'string' && isObj(v.reply) && typeof v.reply.text === 'string' && typeof v.reply.from === 'string'
  );
}

/** A key part that holds no separator of ours. */
const part = (s: string) => encodeURIComponent(s);

export class QuestionBoard {
  /** Open questions by person, in the order they were asked. */
  private readonly byPerson = new Map<string, Map<string, OpenQuestion>>();
  private readonly unsubscribe = new Map<string, () => void>();
  /** Codes handed out for questions still being sent, by person: two asks at once never share one. */
  private readonly pending = new Map<string, Set<string>>();
  /** The open questions each person was last sent a clarifying message about: one message per set, not one per reply. */
  private readonly clarified = new Map<string, string>();
  /** Other instances' open questions, by person (from the shared index). */
  private readonly remote = new Map<string, Map<string, IndexedQuestion>>();
  /** Index writes under way, by question: a question's text goes once its record is written. */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly stopShared: Array<Promise<() => Promise<void>>> = [];
  private stopUnclaimed?: () => void;
  /** Replies this instance forwarded, waiting for their holder's word, by key. */
  private readonly verdicts = new Map<string, () => void>();
  /** Questions closed here lately (oldest first out): a reply forwarded to one is declined, not kept for a reopening. */
  private readonly closedHere = new Set<string>();
  private refreshTimer?: Timer;
  private left = false;
  /** Resolves once the board has read the shared index and hears the other instances. */
  readonly ready: Promise<void>;

  constructor(
    private readonly hub: InboundHub,
    private readonly clarify: Clarify = () => undefined,
    private readonly random: () => number = Math.random,
    private readonly shared?: SharedBoard,
  ) {
    this.ready = shared ? this.join(shared).catch((err: unknown) => shared.onError?.(err)) : Promise.resolve();
    // A text that answers nothing known here may answer a question another instance opened unheard yet.
    if (shared) this.stopUnclaimed = hub.onUnclaimed((event) => this.unclaimed(event));
  }

  /** How many questions are open for a person (on any of our numbers, on any instance), those being sent included. */
  openFor(person: string): number {
    return (this.byPerson.get(person)?.size ?? 0) + (this.pending.get(person)?.size ?? 0) + this.remoteFor(person).length;
  }

  /**
   * openFor, with other instances' questions for the person read from the index first (one bounded
   * read): the mirror lags an `opened` or a `closed` by a pub/sub hop, and a question sent with a code
   * for one already answered elsewhere asks the person to quote a number for nothing, one sent without
   * while another just opened elsewhere makes an uncoded reply ambiguous. An engine that cannot say:
   * the mirror's count.
   */
  async openForNow(person: string): Promise<number> {
    if (this.shared) await this.look(person).catch((err: unknown) => this.shared!.onError?.(err));
    return this.openFor(person);
  }

  /** Resolves once the index records of these questions are written (a failed write is reported, not thrown). */
  async written(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.writes.get(id)));
  }

  /** Stops hearing the other instances (the account node closes). */
  async leave(): Promise<void> {
    this.left = true;
    (this.shared?.clock ?? systemClock).clearTimeout(this.refreshTimer);
    this.stopUnclaimed?.();
    const stops = await Promise.all(this.stopShared.splice(0));
    await Promise.all(stops.map((stop) => stop().catch(() => undefined)));
  }

  private get prefix(): string {
    return `board/${part(this.shared!.accountSid)}/`;
  }

  private indexKey(person: string, id: string): string {
    return `${this.prefix}q/${part(person)}/${part(id)}`;
  }

  private forwardPrefix(id: string): string {
    return `${this.prefix}fwd/${part(id)}/`;
  }

  /** Reads the index (others' open questions) and hears its changes and the replies forwarded to this instance. */
  private async join(shared: SharedBoard): Promise<void> {
    const { engine, instance } = shared;
    const events = engine.subscribe(`${this.prefix}events`, (message) => this.heard(message));
    const mine = engine.subscribe(`${this.prefix}instance/${part(instance)}`, (message) => {
      if (!isObj(message)) return;
      // A holder's word on a reply this instance forwarded: only a wake-up, the forward's record says what became of it.
      if (typeof message.verdict === 'string') return this.verdicts.get(message.verdict)?.();
      if (typeof message.key === 'string')
        void this.take(
          message.key,
          typeof message.hops === 'number' ? message.hops : 0,
          typeof message.from === 'string' ? message.from : undefined,
        );
    });
    this.stopShared.push(events, mine);
    await Promise.all([events, mine]);
    await this.readIndex();
    this.refreshLater();
  }

  /**
   * Makes the mirror what the whole index says (paged; at most MIRROR_PAGES pages): other instances'
   * records are added; mirrored questions missing from a complete read are dropped (their `closed` was
   * lost: pub/sub delivers nothing to a connection that was down). One heard of during the read stays.
   */
  private async readIndex(): Promise<void> {
    const shared = this.shared!;
    const known = new Set([...this.remote.values()].flatMap((questions) => [...questions.keys()]));
    const found = new Set<string>();
    let complete = false;
    for (let pages = 0, after: string | undefined; pages < MIRROR_PAGES && !complete; pages++) {
      const page = await shared.engine.scan(`${this.prefix}q/`, SCAN_PAGE, after);
      for (const { value } of page)
        if (isIndexed(value) && value.instance !== shared.instance) {
          found.add(value.id);
          this.addRemote(value);
        }
      complete = page.length < SCAN_PAGE;
      after = page[page.length - 1]?.key;
    }
    if (!complete) return;
    for (const [person, questions] of [...this.remote]) {
      for (const id of questions.keys()) if (known.has(id) && !found.has(id)) questions.delete(id);
      if (questions.size === 0) this.remote.delete(person);
      this.unsubscribeIfIdle(person);
    }
  }

  /** Reads the index again every MIRROR_REFRESH_MS while the board is shared (until it leaves). */
  private refreshLater(): void {
    const clock = this.shared!.clock ?? systemClock;
    this.refreshTimer = clock.setTimeout(() => {
      if (this.left) return;
      void this.readIndex()
        .catch((err: unknown) => this.shared!.onError?.(err))
        .finally(() => !this.left && this.refreshLater());
    }, MIRROR_REFRESH_MS);
  }

  /** Another instance opened or closed a question. */
  private heard(message: unknown): void {
    if (!isObj(message)) return;
    if (message.type === 'opened' && isIndexed(message.question) && message.question.instance !== this.shared!.instance) {
      // Taken over by another instance: it is theirs now (its index record names them). Believed as
      // the index record says it, not as the message does: whoever may publish on a shared Redis is
      // not thereby one of our instances (it cannot write keys).
      const shared = this.shared!;
      const { person, id } = message.question;
      void shared.engine
        .get(this.indexKey(person, id))
        .then((stored) => {
          if (stored && isIndexed(stored.value) && stored.value.instance !== shared.instance) this.addRemote(stored.value);
        })
        .catch((err: unknown) => shared.onError?.(err));
    } else if (message.type === 'closed' && typeof message.id === 'string' && typeof message.person === 'string') {
      const questions = this.remote.get(message.person);
      if (!questions || questions.get(message.id)?.instance !== message.instance) return;
      questions.delete(message.id);
      if (questions.size === 0) this.remote.delete(message.person);
      this.unsubscribeIfIdle(message.person);
    }
  }

  private addRemote(question: IndexedQuestion): void {
    if (this.byPerson.get(question.person)?.has(question.id)) return;
    let questions = this.remote.get(question.person);
    if (!questions) this.remote.set(question.person, (questions = new Map()));
    questions.set(question.id, question);
    this.subscribeFor(question.person);
  }

  private remoteFor(person: string): IndexedQuestion[] {
    const local = this.byPerson.get(person);
    const now = (this.shared?.clock ?? systemClock).now();
    return [...(this.remote.get(person)?.values() ?? [])].filter(
      (q) => !local?.has(q.id) && (q.deadline === undefined || q.deadline + INDEX_MARGIN_MS > now),
    );
  }

  private subscribeFor(person: string): void {
    if (this.unsubscribe.has(person)) return;
    this.unsubscribe.set(
      person,
      this.hub.subscribe({ from: person }, (event) => this.route(person, event)),
    );
  }

  private unsubscribeIfIdle(person: string): void {
    if (this.byPerson.has(person) || this.remote.has(person)) return;
    this.unsubscribe.get(person)?.();
    this.unsubscribe.delete(person);
  }

  /** Writes a question's index record (and says so to the others), then takes replies forwarded to it while it had no owner. */
  private index(question: OpenQuestion): void {
    const shared = this.shared!;
    const record: IndexedQuestion = {
      id: question.id,
      person: question.person,
      ourNumber: question.ourNumber,
      code: question.code,
      summary: question.summary,
      askedAt: question.askedAt,
      deadline: question.deadline,
      instance: shared.instance,
    };
    const ttlMs =
      question.deadline === undefined ? undefined : Math.max(question.deadline - (shared.clock ?? systemClock).now(), 0) + INDEX_MARGIN_MS;
    const write = (async () => {
      await shared.engine.put(this.indexKey(question.person, question.id), record, ttlMs === undefined ? undefined : { ttlMs });
      await shared.engine.publish(`${this.prefix}events`, { type: 'opened', question: record });
    })().catch((err: unknown) => shared.onError?.(err));
    this.writes.set(question.id, write);
    void write
      .then(async () => {
        if (this.writes.get(question.id) === write) this.writes.delete(question.id);
        const stored = await shared.engine.scan(this.forwardPrefix(question.id), 100);
        for (const { key } of stored) await this.take(key);
      })
      .catch((err: unknown) => shared.onError?.(err));
  }

  private unindex(person: string, id: string, code: string): void {
    const shared = this.shared!;
    void shared.engine.delete(this.codeKey(person, code)).catch((err: unknown) => shared.onError?.(err));
    const before = this.writes.get(id) ?? Promise.resolve();
    void before
      .then(async () => {
        // Another instance may own it now (a takeover): only our own record is removed.
        const stored = await shared.engine.get(this.indexKey(person, id));
        if (stored && isIndexed(stored.value) && stored.value.instance !== shared.instance) return;
        if (stored) await shared.engine.delete(this.indexKey(person, id), { ifVersion: stored.version });
        await shared.engine.publish(`${this.prefix}events`, { type: 'closed', id, person, instance: shared.instance });
      })
      .catch((err: unknown) => shared.onError?.(err));
  }

  /**
   * A reply stored for one of this instance's questions: taken by one taker only (the delete), then
   * answered, and its sender (`from`) told. A question that ended meanwhile (two replies at once, a
   * timeout) declines it: the sender passes it on as news.
   */
  private async take(key: string, hops = 0, from?: string): Promise<void> {
    const shared = this.shared!;
    const { engine } = shared;
    try {
      const stored = await engine.get(key);
      if (!stored || !isForwarded(stored.value) || stored.value.declined) return;
      const { question, reply } = stored.value;
      if (!this.byPerson.get(reply.from)?.get(question)) return await this.notOurs(key, stored.version, stored.value, hops, from);
      if (!(await engine.delete(key, { ifVersion: stored.version }))) return;
      // Looked up again after the delete: another reply taken meanwhile may have ended it.
      const open = this.byPerson.get(reply.from)?.get(question);
      const taken = open !== undefined && (await open.onReply(reply)) !== false;
      if (!taken) await engine.put(key, { ...stored.value, declined: true }, { ttlMs: DECLINED_TTL_MS });
      if (from) await engine.publish(`${this.prefix}instance/${part(from)}`, { verdict: key });
    } catch (err) {
      shared.onError?.(err);
    }
  }

  /**
   * A reply forwarded here for a question this instance does not hold (any more): the index says who
   * does. Another instance (a takeover the sender had not heard of yet): told in turn. This one, and
   * not closed here lately (the question is being opened again after a restart): it stays, and the
   * opening takes it. No one, or closed here: declined (its sender passes it on as news; with no
   * sender to tell, said through onLost).
   */
  private async notOurs(key: string, version: number, forwarded: ForwardedReply, hops: number, from?: string): Promise<void> {
    const shared = this.shared!;
    const index = await shared.engine.get(this.indexKey(forwarded.reply.from, forwarded.question));
    const holder = index && isIndexed(index.value) ? index.value.instance : undefined;
    if (holder === shared.instance && !this.closedHere.has(forwarded.question)) return;
    if (holder !== undefined && holder !== shared.instance) {
      if (hops < MAX_HOPS) await shared.engine.publish(`${this.prefix}instance/${part(holder)}`, { key, hops: hops + 1, from });
      return;
    }
    if (!from) {
      if (await shared.engine.delete(key, { ifVersion: version })) shared.onLost?.(forwarded.question);
      return;
    }
    if ((await shared.engine.put(key, { ...forwarded, declined: true }, { ifVersion: version, ttlMs: DECLINED_TTL_MS })) !== undefined)
      await shared.engine.publish(`${this.prefix}instance/${part(from)}`, { verdict: key });
  }

  /**
   * A reply to another instance's question: stored for it, and its holder told; claimed here once the
   * holder took it, or said nothing within FORWARD_VERDICT_MS (it stays stored for the question's
   * holder). Not stored, or declined (the question had ended): undefined, news here.
   */
  private async forward(question: IndexedQuestion, reply: Reply): Promise<'claimed' | undefined> {
    const shared = this.shared!;
    const { engine } = shared;
    const key = `${this.forwardPrefix(question.id)}${part(reply.sid ?? `${Date.now()}-${Math.floor(this.random() * 1e9)}`)}`;
    const forwarded: ForwardedReply = { question: question.id, reply };
    try {
      await engine.put(key, forwarded, { ttlMs: FORWARD_TTL_MS });
    } catch (err) {
      shared.onError?.(err);
      return undefined; // nothing stored: nobody else can take it
    }
    const clock = shared.clock ?? systemClock;
    let timer: Timer | undefined;
    const outcome = new Promise<'claimed' | undefined>((resolve) => {
      // Each wake-up reads the record (a message on a shared channel is not believed on its own).
      const read = (final: boolean) =>
        engine.get(key).then(
          (now) => {
            if (!now) return resolve('claimed'); // taken
            if (isForwarded(now.value) && now.value.declined) {
              void engine.delete(key).catch(() => undefined);
              return resolve(undefined);
            }
            if (final) resolve('claimed'); // no word in time: it stays for the holder
          },
          (err: unknown) => {
            shared.onError?.(err);
            if (final) resolve('claimed');
          },
        );
      this.verdicts.set(key, () => void read(false));
      timer = clock.setTimeout(() => void read(true), FORWARD_VERDICT_MS);
    });
    try {
      await engine.publish(`${this.prefix}instance/${part(question.instance)}`, { key, from: shared.instance });
    } catch (err) {
      shared.onError?.(err); // not told: it stays stored, and the holder takes it when it opens the question again
    }
    return outcome.finally(() => {
      clock.clearTimeout(timer);
      this.verdicts.delete(key);
    });
  }

  /**
   * A code no other question of this person has, open or being sent (10–99; more digits once those
   * run out). It stays reserved until its question opens, or `releaseCode` gives it back.
   */
  codeFor(person: string): string {
    const pending = this.pending.get(person) ?? new Set<string>();
    const taken = new Set(
      [...(this.byPerson.get(person)?.values() ?? [])]
        .map((q) => q.code)
        .concat(
          [...pending],
          this.remoteFor(person).map((q) => q.code),
        ),
    );
    for (let digits = CODE_DIGITS; ; digits++) {
      const low = 10 ** (digits - 1);
      const span = 9 * low;
      if (taken.size < span / 2)
        for (;;) {
          const code = String(low + Math.floor(this.random() * span));
          if (taken.has(code)) continue;
          pending.add(code);
          this.pending.set(person, pending);
          return code;
        }
    }
  }

  /**
   * Makes a code reserved here the person's on every instance (an atomic claim in the shared engine,
   * for `ttlMs`): two instances asking one person at the same moment never hand out one code. Answers
   * the code to use: `code`, or another when an instance holds it. Without a shared engine, or when
   * it cannot be asked (said through onError), `code` as it is.
   */
  async claimCode(person: string, code: string, ttlMs: number): Promise<string> {
    const shared = this.shared;
    if (!shared) return code;
    const refused: string[] = [];
    try {
      for (let tries = 0; tries < 20; tries++) {
        if (await shared.engine.claim(this.codeKey(person, code), ttlMs, { instance: shared.instance })) return code;
        // Held on another instance: kept reserved here until the end (codeFor must not hand it out again).
        refused.push(code);
        code = this.codeFor(person);
      }
      return code;
    } catch (err) {
      shared.onError?.(err);
      return code;
    } finally {
      for (const taken of refused) this.releaseCode(person, taken);
    }
  }

  private codeKey(person: string, code: string): string {
    return `${this.prefix}code/${part(person)}/${part(code)}`;
  }

  /** Gives back a code whose question was not sent. */
  releaseCode(person: string, code: string): void {
    const pending = this.pending.get(person);
    pending?.delete(code);
    if (pending?.size === 0) this.pending.delete(person);
  }

  /** Opens a question; returns how to close it. A question reopened after a restart keeps its code. */
  open(question: OpenQuestion): () => void {
    let questions = this.byPerson.get(question.person);
    if (!questions) this.byPerson.set(question.person, (questions = new Map()));
    this.subscribeFor(question.person);
    this.releaseCode(question.person, question.code);
    questions.set(question.id, question);
    // Held here now (a restart, a takeover): no longer another instance's.
    const remote = this.remote.get(question.person);
    if (remote?.delete(question.id) && remote.size === 0) this.remote.delete(question.person);
    if (this.shared) this.index(question);
    return () => this.close(question.person, question.id);
  }

  private close(person: string, id: string): void {
    const questions = this.byPerson.get(person);
    const question = questions?.get(id);
    if (!question || !questions?.delete(id)) return;
    this.clarified.delete(person);
    if (this.shared) {
      this.closedHere.add(id);
      if (this.closedHere.size > RECENTLY_CLOSED) this.closedHere.delete(this.closedHere.values().next().value as string);
      this.unindex(person, id, question.code);
    }
    if (questions.size > 0) return;
    this.byPerson.delete(person);
    this.unsubscribeIfIdle(person);
  }

  /**
   * A message from a person with open questions: to one of them, or a clarifying message. With a
   * shared engine the index is the truth and the mirror a cache that may lag (a `closed` not heard
   * yet): when another instance's question is a candidate, the index is read first.
   */
  private route(person: string, event: InboundEvent): 'claimed' | undefined | Promise<'claimed' | undefined> {
    if (event.kind !== 'message' || !event.to) return undefined;
    if (this.shared && (this.remoteFor(person).some(fitting(event)) || this.quotesAnother(person, event)))
      return this.lookThenAnswer(person, event);
    return this.answer(person, event);
  }

  /**
   * Whether a text quotes a code none of the person's questions here has ("yes 22" while only 11 is
   * known): the code of a question another instance opened unheard yet, which the index shows.
   */
  private quotesAnother(person: string, event: InboundEvent): boolean {
    const body = event.params.Body;
    if (typeof body !== 'string') return false;
    const numbers = body.match(/\d{2,12}/g);
    const quoted = numbers ? quotedCode(body, new Set(numbers)) : undefined;
    return quoted !== undefined && ![...(this.byPerson.get(person)?.values() ?? [])].some((q) => q.code === quoted.code);
  }

  /**
   * A text no question known here took: another instance may have opened one for its sender that
   * this one has not heard of yet (its `opened` is on its way); the index says.
   */
  private unclaimed(event: InboundEvent): Promise<'claimed' | undefined> | undefined {
    const person = event.from;
    if (event.kind !== 'message' || !event.to || !person) return undefined;
    const fits = fitting(event);
    // Routed already on a question that fits (answered, clarified, or refused by its node).
    if ([...(this.byPerson.get(person)?.values() ?? [])].some(fits)) return undefined;
    return this.lookThenAnswer(person, event);
  }

  /** Reads the person's index records, then routes on them; an engine that cannot say makes it news. */
  private async lookThenAnswer(person: string, event: InboundEvent): Promise<'claimed' | undefined> {
    try {
      await this.look(person);
    } catch (err) {
      this.shared!.onError?.(err);
      return undefined;
    }
    return this.answer(person, event);
  }

  /**
   * The mirror of a person's questions on other instances, made what the index says now (a bounded
   * read: LOOK_PAGES pages). Mirrored questions missing from it are dropped only when it read them all.
   */
  private async look(person: string): Promise<void> {
    const shared = this.shared!;
    const known = [...(this.remote.get(person)?.keys() ?? [])];
    const prefix = `${this.prefix}q/${part(person)}/`;
    const records: Array<{ key: string; value: unknown }> = [];
    let complete = false;
    for (let pages = 0, after: string | undefined; pages < LOOK_PAGES && !complete; pages++) {
      const page = await shared.engine.scan(prefix, SCAN_PAGE, after);
      records.push(...page);
      complete = page.length < SCAN_PAGE;
      after = page[page.length - 1]?.key;
    }
    const now = (shared.clock ?? systemClock).now();
    const found = new Set<string>();
    for (const { value } of records) {
      if (!isIndexed(value) || value.person !== person || value.instance === shared.instance) continue;
      if (value.deadline !== undefined && value.deadline + INDEX_MARGIN_MS <= now) continue;
      found.add(value.id);
      this.addRemote(value);
    }
    // Gone from the index (closed, its `closed` not heard yet): no longer a candidate. One heard of during the read stays.
    const questions = this.remote.get(person);
    if (complete) for (const id of known) if (!found.has(id)) questions?.delete(id);
    if (questions?.size === 0) this.remote.delete(person);
    this.unsubscribeIfIdle(person);
  }

  /**
   * Routes on what this instance knows now: ours answer here; another instance's get the reply
   * forwarded (claimed once its holder took it: a promise, see forward()).
   */
  private answer(person: string, event: InboundEvent): 'claimed' | undefined | Promise<'claimed' | undefined> {
    if (!event.to) return undefined;
    const fits = fitting(event);
    const candidates: OpenQuestion[] = [...(this.byPerson.get(person)?.values() ?? [])].filter(fits);
    for (const q of this.remoteFor(person).filter(fits)) candidates.push({ ...q, onReply: (reply) => this.forward(q, reply) });
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
    if (candidates.length === 1) return claimedBy(candidates[0].onReply(reply));
    const quoted = quotedCode(text, new Set(candidates.map((q) => q.code)));
    const chosen = quoted && candidates.find((q) => q.code === quoted.code);
    if (chosen) return claimedBy(chosen.onReply({ ...reply, text: quoted.rest, code: quoted.code }));
    this.askWhich(person, event.to, candidates);
    // It answers none of them: news, which twilio-in passes on (a fire, a question back, anything).
    return undefined;
  }

  /**
   * The clarifying message, once per set of open questions: a phone that answers every text (an
   * auto-reply) must not start an endless exchange, and two thousand texts are not two thousand messages.
   */
  private askWhich(person: string, ourNumber: string, candidates: OpenQuestion[]): void {
    const set = candidates
      .map((q) => q.id)
      .sort()
      .join('\u0000');
    if (this.clarified.get(person) !== set) {
      this.clarified.set(person, set);
      const clarify = candidates.find((q) => q.clarify)?.clarify ?? this.clarify;
      clarify(
        person,
        ourNumber,
        candidates.map((q) => ({ code: q.code, summary: q.summary })),
      );
    }
  }
}

const boards = new WeakMap<InboundHub, QuestionBoard>();

/**
 * The board of an account, made by the first node that asks; each question brings its own clarify.
 * One per hub, and so one per Account SID (inboundHubFor): two account nodes of one Twilio account
 * share it, and a reply answers one question of either. Its shared part (the engine's index of open
 * questions, replies forwarded between instances) is its account's: when that account node closes (a
 * redeploy), the board leaves the engine's channels and the next ask makes a new one.
 */
export function questionBoardFor(account: object, hub: InboundHub): QuestionBoard {
  let board = boards.get(hub);
  if (!board) {
    const made = new QuestionBoard(hub, undefined, undefined, sharedBoardOf(account));
    boards.set(hub, (board = made));
    (account as { on?: (event: string, listener: () => void) => void }).on?.('close', () => {
      if (boards.get(hub) === made) boards.delete(hub);
      void made.leave().catch(() => undefined);
    });
  }
  return board;
}

/** The account's engine as a board shares it: its open questions indexed, replies forwarded between instances. */
function sharedBoardOf(account: object): SharedBoard | undefined {
  const { state, accountSid } = account as { state?: StateEngine; accountSid?: unknown };
  if (!state || typeof accountSid !== 'string' || !accountSid) return undefined;
  let said = false;
  const log = (account as { warn?: (m: string) => void }).warn;
  return {
    engine: state,
    accountSid,
    instance: instanceId(),
    onError: (err) => {
      if (said) return;
      said = true;
      log?.call(account, render(text('boardUnavailable', { detail: err instanceof Error ? err.message : String(err) })));
    },
    onLost: (question) => log?.call(account, render(text('boardLost', { question }))),
  };
}
