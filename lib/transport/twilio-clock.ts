/**
 * How far Twilio's clock is from this machine's, learnt from the HTTP `Date` header of Twilio's
 * answers (every answer of the account's queue). Reconcile compares the time of a send intent (this
 * machine's clock) with Twilio's `dateCreated` of a record (Twilio's): a Raspberry Pi whose RTC keeps
 * local time, before NTP, is minutes or hours off, and a text Twilio made would look made before
 * its own request.
 *
 * A `Date` header has a resolution of one second (it is Twilio's time rounded down) and is written
 * somewhere between the request leaving and the answer arriving: each answer gives one sample,
 * `date + 500 ms - (sent + received) / 2`, good to half a second plus half the round trip. The
 * estimate is the median of the last few samples (a slow answer or a proxy's stale header is one
 * outlier among them); one sample per distinct header value (a burst of answers within the same
 * second adds nothing but work). Per account (one per queue); O(1) per answer.
 *
 * Samples are kept against the monotonic clock, not the wall clock: when NTP (or a person) steps
 * this machine's clock after the last answer, the offset follows the step at once instead of
 * staying what it was until enough new answers came (an intent stored then would be an hour off).
 * An answer without a `Date` header (a proxy that strips it) still tells the time when it created
 * a record (201): its `date_created` is Twilio's second of the create, read only while no header
 * ever came.
 */
import { Clock, systemClock } from '../core/clock';

/** Samples the median is taken of. */
const SAMPLES = 9;
/** A header further than this from our clock is not believed (a broken proxy): ten years. */
const MAX_OFFSET_MS = 10 * 365 * 86_400_000;

export class TwilioClock {
  /** Twilio's time minus the monotonic clock, per answer. */
  private readonly samples: number[] = [];
  private next = 0;
  private lastHeader = '';
  private estimate?: number;
  private headersSeen = false;

  constructor(private readonly clock: Clock = systemClock) {}

  /** A stamp for a request about to leave (the monotonic clock): give it back to `observe`. */
  stamp(): number {
    return this.monotonic();
  }

  /** Takes an answer's `Date` header; `sentAt` is the `stamp()` of when its request left. */
  observe(date: unknown, sentAt: number): void {
    if (typeof date !== 'string' || date === this.lastHeader) return;
    this.lastHeader = date;
    this.headersSeen = true;
    this.sample(Date.parse(date), sentAt);
  }

  /**
   * Takes an answer with no `Date` header: the `date_created` of a record it created (status 201),
   * while no answer ever had a header (a header is the better sample: taken per answer, not per create).
   */
  observeCreated(answer: { statusCode?: unknown; body?: unknown }, sentAt: number): void {
    if (this.headersSeen || answer.statusCode !== 201 || typeof answer.body !== 'string') return;
    const created = /"date_created"\s*:\s*"([^"]{1,64})"/.exec(answer.body)?.[1];
    if (created) this.sample(Date.parse(created), sentAt);
  }

  /** Twilio's clock minus this machine's (ms), or undefined before any answer told Twilio's time. */
  offsetMs(): number | undefined {
    if (this.samples.length === 0) return undefined;
    if (this.estimate === undefined) {
      const sorted = [...this.samples].sort((a, b) => a - b);
      const middle = sorted.length >> 1;
      this.estimate = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
    return Math.round(this.estimate + this.monotonic() - this.clock.now());
  }

  /** One sample from Twilio's time to the second (`twilio`, rounded down) seen between `sentAt` and now. */
  private sample(twilio: number, sentAt: number): void {
    if (!Number.isFinite(twilio)) return;
    const received = this.monotonic();
    const sample = twilio + 500 - (sentAt + received) / 2;
    // Not believed: a header further than ten years from our clock (a broken proxy).
    if (!Number.isFinite(sample) || Math.abs(twilio - this.clock.now()) > MAX_OFFSET_MS) return;
    if (this.samples.length < SAMPLES) this.samples.push(sample);
    else this.samples[this.next] = sample;
    this.next = (this.next + 1) % SAMPLES;
    this.estimate = undefined;
  }

  private monotonic(): number {
    return this.clock.monotonic?.() ?? this.clock.now();
  }
}

/** The `Date` header of an answer as the transport hands it over (lib/transport/http.ts), if it has one. */
export function dateHeaderOf(answer: unknown): unknown {
  if (typeof answer !== 'object' || answer === null) return undefined;
  const headers = (answer as { headers?: unknown }).headers;
  return typeof headers === 'object' && headers !== null ? (headers as Record<string, unknown>).date : undefined;
}
