/**
 * One request queue per Twilio account: every request of every node using the account goes through
 * it. It bounds concurrency, finding the account's limit by itself, optionally caps requests per
 * second, and retries what
 * is safe to retry: 429 (after Retry-After), 503, and connections that failed before anything was
 * sent, with exponential backoff and jitter. A request that may have reached Twilio is never repeated.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Clock, Timer, systemClock } from '../core/clock';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { TwilioClock, dateHeaderOf } from './twilio-clock';

const FIRST_PROBE_INTERVAL_MS = 5_000;
const MAX_PROBE_INTERVAL_MS = 120_000;
/** Requests a node keeps prepared in the queue at least (see wantsMore). */
const MIN_AHEAD = 16;

export interface QueueOptions {
  /** Upper bound of requests in flight; the queue settles below Twilio's limit on its own. */
  maxConcurrency?: number;
  /** Where the window starts. */
  initialConcurrency?: number;
  /** Requests started per second at most (0: no cap). */
  ratePerSecond?: number;
  /** Retries of one request after 429, 503 or a refused connection. */
  maxRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Seeded for tests; Math.random otherwise. */
  random?: () => number;
  /** Retry backoffs, the rate limit's spacing and probe intervals are read on it (tests move it). */
  clock?: Clock;
}

/**
 * Who a request is for (a node): requests scheduled inside `requestOwner.run(owner, …)`, however deep
 * in the SDK, carry it, so the owner can withdraw what it has waiting when it stops (`withdraw`).
 * Once used, an AsyncLocalStorage makes every promise of the process carry its store (a fifth to a third of a
 * plain send's CPU on Node 20): a path that knows its owner passes it to `schedule` instead (an
 * account's `clientFor(owner)`), and the storage is only read when no owner was passed.
 */
export const requestOwner = new AsyncLocalStorage<object>();

/** What a request's outcome means for the queue. */
export type Verdict =
  { kind: 'done' } | { kind: 'retry'; reason: 'rate-limited' | 'unavailable' | 'not-connected'; retryAfterMs?: number } | { kind: 'fail' };

export interface QueueState {
  queued: number;
  inFlight: number;
  window: number;
  retrying: number;
}

/**
 * How a request that asked for its own retries is repeated (twilio-request's settings), instead of
 * the queue's: how often, and how long it waits (each wait `backoff` times the one before, no jitter).
 * What is safe to repeat is still the judge's to say.
 */
export interface RetryPolicy {
  retries: number;
  delayMs: number;
  backoff: number;
}

/**
 * A request in the queue, from its scheduling to its answer. A class, not an object literal: V8 may
 * decide that a literal's objects outlive young-generation collections (a burst's first requests
 * all wait at once when the first full collection comes) and from then on allocate them in the old
 * generation, where each pulls what it refers to (its promise, and so the answer) along with it,
 * to stay as garbage until the next full collection. V8 makes that decision per literal (its
 * allocation site); instances of a class are not pretenured that way.
 */
class Job {
  attempts = 0;
  /** Requests in flight, this one included, when it started: a 429 at level k says the limit is below k. */
  level = 0;
  startedAt = 0;
  /** When it left, as TwilioClock.stamp() tells it (for the offset to Twilio's clock its answer gives). */
  sentAt = 0;
  probe?: boolean;

  constructor(
    readonly run: () => Promise<unknown>,
    readonly judge: (outcome: { value?: unknown; error?: unknown }) => Verdict,
    readonly policy: RetryPolicy | undefined,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
    readonly owner: object | undefined,
  ) {}
}

export class RequestQueue {
  private readonly max: number;
  private window: number;
  private readonly rate: number;
  private readonly maxRetries: number;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly waiting: Job[] = [];
  private inFlight = 0;
  private retrying = 0;
  /** Until the first 429 the window doubles each round trip (slow start). */
  private slowStart = true;
  /** The lowest level that drew a 429: the account allows fewer. Only a probe goes there. */
  private ceiling = Infinity;
  /** When the last 429 that told something new arrived: later 429s of requests sent before it are its echo. */
  private lastCut = -Infinity;
  /**
   * A probe is one request at the ceiling, to learn whether the limit has risen. At a concurrency limit
   * a failed probe costs about a round trip of sending (the requests arriving with it are refused too),
   * so probes are spaced in time: doubling after each failure, at once again after a success.
   */
  private probeInterval = 0;
  private nextProbeAt = 0;
  private probeInFlight = false;
  private nextStart = 0;
  private timer?: Timer;
  private closed = false;
  private readonly listeners = new Set<(state: QueueState) => void>();
  /** Jobs between a retryable answer and their retry, with the timer that brings them back. */
  private readonly retryingJobs = new Map<Job, Timer>();
  private readonly idle: Array<() => void> = [];
  /** Requests started (retries too) and retries made, for the sidebar (lib/account/activity.ts), tests and benchmarks. */
  readonly stats = { started: 0, retried: 0, rateLimited: 0 };
  /** Twilio's clock as its answers' Date headers tell it (reconcile compares an intent's time with Twilio's dates). */
  readonly twilioClock = new TwilioClock();

  constructor(options: QueueOptions = {}) {
    this.max = Math.max(1, options.maxConcurrency ?? 100);
    this.window = Math.min(this.max, Math.max(1, options.initialConcurrency ?? 16));
    this.rate = Math.max(0, options.ratePerSecond ?? 0);
    this.maxRetries = options.maxRetries ?? 6;
    this.baseDelay = options.baseDelayMs ?? 250;
    this.maxDelay = options.maxDelayMs ?? 20_000;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
  }

  get state(): QueueState {
    return { queued: this.waiting.length, inFlight: this.inFlight, window: Math.floor(this.window), retrying: this.retrying };
  }

  /**
   * Whether a node that prepares requests ahead (`preparing` of them not yet here) should hand over
   * more: about one window's worth waiting keeps every slot busy as answers come in, and no more,
   * since a prepared request waiting long is memory the garbage collector copies. A node that
   * prepares a request in a moment (twilio-send's plain sends) asks for a `share` of that: a request
   * that waits less is less often still alive when V8 next collects, and so less often copied into
   * the old generation, where it stays as garbage until the next full collection.
   */
  wantsMore(preparing = 0, share = 1): boolean {
    return this.waiting.length + preparing < Math.max(MIN_AHEAD, Math.ceil(this.window * share));
  }

  onChange(listener: (state: QueueState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs `run` when there is room; `judge` says whether its outcome is final or worth a retry. The
   * request belongs to `owner` when given, else to the one of the `requestOwner.run` it was made in.
   */
  schedule<T>(run: () => Promise<T>, judge: Job['judge'], policy?: RetryPolicy, owner?: object): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise<T>((resolve, reject) => {
      this.waiting.push(new Job(run, judge, policy, resolve as (v: unknown) => void, reject, owner ?? requestOwner.getStore()));
      this.pump();
    });
  }

  /** Stops taking work: queued requests fail at once (their nodes report it); in-flight ones finish. */
  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    for (const job of this.waiting.splice(0)) job.reject(this.closedError());
    for (const job of [...this.retryingJobs.keys()]) this.cancelRetry(job, this.closedError());
    this.notify();
    if (this.inFlight > 0 || this.retrying > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /**
   * Takes back every request of `owner` that has not left (queued, or waiting to retry after a 429 or
   * 503 that Twilio did not act on): each fails as NOT_SENT. Those in flight finish as they will.
   */
  withdraw(owner: object): void {
    const kept: Job[] = [];
    for (const job of this.waiting.splice(0)) {
      if (job.owner === owner) job.reject(this.withdrawnError());
      else kept.push(job);
    }
    this.waiting.push(...kept);
    for (const job of [...this.retryingJobs.keys()]) if (job.owner === owner) this.cancelRetry(job, this.withdrawnError());
    this.notify();
  }

  private cancelRetry(job: Job, error: TwilioNodeError): void {
    this.clock.clearTimeout(this.retryingJobs.get(job));
    this.retryingJobs.delete(job);
    this.retrying--;
    job.reject(error);
  }

  private closedError(): TwilioNodeError {
    return new TwilioNodeError('NOT_SENT', text('accountStopped'));
  }

  private withdrawnError(): TwilioNodeError {
    return new TwilioNodeError('NOT_SENT', text('nodeStopped'));
  }

  private notify(): void {
    const state = this.state;
    for (const listener of this.listeners) listener(state);
    if (this.inFlight === 0 && this.retrying === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  private pump(): void {
    while (!this.closed && this.waiting.length > 0 && this.inFlight < this.limit()) {
      if (this.rate > 0) {
        const now = this.clock.now();
        if (now < this.nextStart) {
          this.clock.clearTimeout(this.timer);
          this.timer = this.clock.setTimeout(() => this.pump(), this.nextStart - now);
          break;
        }
        this.nextStart = Math.max(now, this.nextStart) + 1000 / this.rate;
      }
      this.start(this.waiting.shift()!);
    }
    this.notify();
  }

  private limit(): number {
    const window = Math.floor(this.window);
    if (window < this.ceiling - 1) return window;
    const probe = !this.probeInFlight && this.clock.now() >= this.nextProbeAt;
    return this.ceiling - 1 + (probe ? 1 : 0);
  }

  private start(job: Job): void {
    this.inFlight++;
    this.stats.started++;
    job.attempts++;
    job.level = this.inFlight;
    job.startedAt = performance.now();
    job.sentAt = this.twilioClock.stamp();
    job.probe = job.level >= this.ceiling;
    if (job.probe) this.probeInFlight = true;
    job.run().then(
      (value) => this.finish(job, { value }),
      (error: unknown) => this.finish(job, { error }),
    );
  }

  private finish(job: Job, outcome: { value?: unknown; error?: unknown }): void {
    this.inFlight--;
    if (job.probe) this.probeInFlight = false;
    if (outcome.value !== undefined) {
      const date = dateHeaderOf(outcome.value);
      if (date !== undefined) this.twilioClock.observe(date, job.sentAt);
      else this.twilioClock.observeCreated(outcome.value as { statusCode?: unknown; body?: unknown }, job.sentAt);
    }
    const verdict = job.judge(outcome);
    if (verdict.kind === 'retry' && verdict.reason === 'rate-limited') this.decrease(job);
    else if (verdict.kind === 'done') this.increase(job);
    if (verdict.kind === 'retry' && job.attempts <= (job.policy?.retries ?? this.maxRetries) && !this.closed) {
      this.stats.retried++;
      if (verdict.reason === 'rate-limited') this.stats.rateLimited++;
      this.retrying++;
      const backoff = job.policy
        ? job.policy.delayMs * job.policy.backoff ** (job.attempts - 1)
        : Math.min(this.maxDelay, this.baseDelay * 2 ** (job.attempts - 1)) * (0.5 + this.random() / 2); // jitter: 50–100 %
      const delay = Math.max(verdict.retryAfterMs ?? 0, backoff);
      const timer = this.clock.setTimeout(() => {
        this.retrying--;
        this.retryingJobs.delete(job);
        this.waiting.unshift(job); // a retry keeps its place at the front
        this.pump();
      }, delay);
      this.retryingJobs.set(job, timer);
    } else if (outcome.error !== undefined) {
      job.reject(outcome.error);
    } else {
      job.resolve(outcome.value);
    }
    this.pump();
  }

  /** Slow start (one more per success: doubling each round trip) until the first 429, then one more per round trip up to the ceiling. */
  private increase(job: Job): void {
    if (job.probe) {
      // The account took one more than the ceiling: the limit has risen (another client stopped, a plan changed).
      this.ceiling = job.level + 1;
      this.window = Math.max(this.window, job.level);
      this.probeInterval = 0;
    }
    const step = this.slowStart ? 1 : 1 / this.window;
    this.window = Math.min(this.max, this.ceiling - 1, this.window + step);
  }

  /**
   * A 429 for a request that started with `level` in flight: the account allows fewer than that, so
   * the window drops just under it (not by half, as TCP must without that knowledge). A limit that is
   * not a concurrency limit still shrinks the window, by one per new 429 at least.
   */
  private decrease(job: Job): void {
    if (job.startedAt < this.lastCut) return;
    const now = performance.now();
    this.lastCut = now;
    // The level overstates what Twilio saw while answers wait to be read (a busy event loop), so a
    // 429 below the ceiling that is not the echo of the last cut means the estimate was high: shrink
    // by a sixth at least, to get under the limit in a round trip or two rather than one step a trip.
    const estimateWasHigh = !this.slowStart && !job.probe;
    this.slowStart = false;
    this.ceiling = Math.min(this.ceiling, Math.max(2, job.level)); // one request at a time is always allowed
    const under = Math.min(this.window - 1, job.level - 1);
    this.window = Math.max(1, estimateWasHigh ? Math.min(under, Math.floor((this.window * 5) / 6)) : under);
    this.probeInterval = job.probe
      ? Math.min(MAX_PROBE_INTERVAL_MS, Math.max(FIRST_PROBE_INTERVAL_MS, this.probeInterval * 2))
      : Math.max(FIRST_PROBE_INTERVAL_MS, this.probeInterval);
    this.nextProbeAt = this.clock.now() + this.probeInterval;
  }
}
