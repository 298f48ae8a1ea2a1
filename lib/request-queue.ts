/**
 * One request queue per Twilio account: every request of every node using the account goes through
 * it. It bounds concurrency, finding the account's limit by itself (additive increase on success,
 * multiplicative decrease on 429, as TCP does), optionally caps requests per second, and retries what
 * is safe to retry: 429 (after Retry-After), 503, and connections that failed before anything was
 * sent, with exponential backoff and jitter. A request that may have reached Twilio is never repeated.
 */
import { TwilioNodeError } from './errors';

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
}

/** What a request's outcome means for the queue. */
export type Verdict =
  | { kind: 'done' }
  | { kind: 'retry'; reason: 'rate-limited' | 'unavailable' | 'not-connected'; retryAfterMs?: number }
  | { kind: 'fail' };

export interface QueueState {
  queued: number;
  inFlight: number;
  window: number;
  retrying: number;
}

interface Job {
  run: () => Promise<unknown>;
  judge: (outcome: { value?: unknown; error?: unknown }) => Verdict;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  attempts: number;
}

export class RequestQueue {
  private readonly max: number;
  private window: number;
  private readonly rate: number;
  private readonly maxRetries: number;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly random: () => number;
  private readonly waiting: Job[] = [];
  private inFlight = 0;
  private retrying = 0;
  private lastDecrease = 0;
  /** Until the first 429 the window doubles each round trip (slow start), then grows by one. */
  private slowStart = true;
  private nextStart = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly listeners = new Set<(state: QueueState) => void>();
  private readonly idle: Array<() => void> = [];
  /** Counters for status lines and benchmarks. */
  readonly stats = { started: 0, retried: 0, rateLimited: 0, failed: 0 };

  constructor(options: QueueOptions = {}) {
    this.max = Math.max(1, options.maxConcurrency ?? 100);
    this.window = Math.min(this.max, Math.max(1, options.initialConcurrency ?? 4));
    this.rate = Math.max(0, options.ratePerSecond ?? 0);
    this.maxRetries = options.maxRetries ?? 6;
    this.baseDelay = options.baseDelayMs ?? 250;
    this.maxDelay = options.maxDelayMs ?? 20_000;
    this.random = options.random ?? Math.random;
  }

  get state(): QueueState {
    return { queued: this.waiting.length, inFlight: this.inFlight, window: Math.floor(this.window), retrying: this.retrying };
  }

  onChange(listener: (state: QueueState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `run` when there is room; `judge` says whether its outcome is final or worth a retry. */
  schedule<T>(run: () => Promise<T>, judge: Job['judge']): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ run, judge, resolve: resolve as (v: unknown) => void, reject, attempts: 0 });
      this.pump();
    });
  }

  /** Stops taking work: queued requests fail at once (their nodes report it); in-flight ones finish. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const job of this.waiting.splice(0)) job.reject(this.closedError());
    this.notify();
    if (this.inFlight > 0 || this.retrying > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private closedError(): TwilioNodeError {
    return new TwilioNodeError('TWILIO_CONNECTION_ERROR', 'the Twilio account node stopped (redeploy or shutdown) before this request was sent; it was not sent');
  }

  private notify(): void {
    const state = this.state;
    for (const listener of this.listeners) listener(state);
    if (this.inFlight === 0 && this.retrying === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  private pump(): void {
    while (!this.closed && this.waiting.length > 0 && this.inFlight < Math.floor(this.window)) {
      if (this.rate > 0) {
        const now = Date.now();
        if (now < this.nextStart) {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.pump(), this.nextStart - now);
          break;
        }
        this.nextStart = Math.max(now, this.nextStart) + 1000 / this.rate;
      }
      this.start(this.waiting.shift()!);
    }
    this.notify();
  }

  private start(job: Job): void {
    this.inFlight++;
    this.stats.started++;
    job.attempts++;
    job.run().then(
      (value) => this.finish(job, { value }),
      (error: unknown) => this.finish(job, { error }),
    );
  }

  private finish(job: Job, outcome: { value?: unknown; error?: unknown }): void {
    this.inFlight--;
    const verdict = job.judge(outcome);
    if (verdict.kind === 'retry' && verdict.reason === 'rate-limited') this.decrease();
    else if (verdict.kind === 'done') this.increase();
    if (verdict.kind === 'retry' && job.attempts <= this.maxRetries && !this.closed) {
      this.stats.retried++;
      if (verdict.reason === 'rate-limited') this.stats.rateLimited++;
      this.retrying++;
      const backoff = Math.min(this.maxDelay, this.baseDelay * 2 ** (job.attempts - 1));
      const delay = Math.max(verdict.retryAfterMs ?? 0, backoff * (0.5 + this.random() / 2)); // jitter: 50–100 %
      setTimeout(() => {
        this.retrying--;
        if (this.closed) {
          job.reject(this.closedError());
          this.notify();
          return;
        }
        this.waiting.unshift(job); // a retry keeps its place at the front
        this.pump();
      }, delay);
    } else if (outcome.error !== undefined) {
      this.stats.failed++;
      job.reject(outcome.error);
    } else {
      job.resolve(outcome.value);
    }
    this.pump();
  }

  /** Slow start, then additive increase: about one more request in flight per window of successes. */
  private increase(): void {
    if (this.window < this.max) this.window = Math.min(this.max, this.window + (this.slowStart ? 1 : 1 / this.window));
  }

  /** Multiplicative decrease, once per burst: the 429s of requests already in flight say the same thing. */
  private decrease(): void {
    const now = Date.now();
    if (now - this.lastDecrease < 100) return;
    this.lastDecrease = now;
    this.slowStart = false;
    this.window = Math.max(1, this.window / 2);
  }
}
