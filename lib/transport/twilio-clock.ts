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
 */
import { Clock, systemClock } from '../core/clock';

/** Samples the median is taken of. */
const SAMPLES = 9;
/** A header further than this from our clock is not believed (a broken proxy): ten years. */
const MAX_OFFSET_MS = 10 * 365 * 86_400_000;

export class TwilioClock {
  private readonly samples: number[] = [];
  private next = 0;
  private lastHeader = '';
  private estimate?: number;

  constructor(private readonly clock: Clock = systemClock) {}

  /** This machine's time now (its Clock), for a request about to leave. */
  now(): number {
    return this.clock.now();
  }

  /** Takes an answer's `Date` header; `sentAt` is when its request left (this machine's clock, `now()`). */
  observe(date: unknown, sentAt: number): void {
    if (typeof date !== 'string' || date === this.lastHeader) return;
    this.lastHeader = date;
    const twilio = Date.parse(date);
    if (!Number.isFinite(twilio)) return;
    const sample = twilio + 500 - (sentAt + this.clock.now()) / 2;
    if (!Number.isFinite(sample) || Math.abs(sample) > MAX_OFFSET_MS) return;
    if (this.samples.length < SAMPLES) this.samples.push(sample);
    else this.samples[this.next] = sample;
    this.next = (this.next + 1) % SAMPLES;
    this.estimate = undefined;
  }

  /** Twilio's clock minus this machine's (ms), or undefined before any answer with a `Date` header. */
  offsetMs(): number | undefined {
    if (this.samples.length === 0) return undefined;
    if (this.estimate === undefined) {
      const sorted = [...this.samples].sort((a, b) => a - b);
      const middle = sorted.length >> 1;
      this.estimate = Math.round(sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2);
    }
    return this.estimate;
  }
}

/** The `Date` header of an answer as the transport hands it over (lib/transport/http.ts), if it has one. */
export function dateHeaderOf(answer: unknown): unknown {
  if (typeof answer !== 'object' || answer === null) return undefined;
  const headers = (answer as { headers?: unknown }).headers;
  return typeof headers === 'object' && headers !== null ? (headers as Record<string, unknown>).date : undefined;
}
