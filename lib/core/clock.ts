/**
 * Time, as everything in lib/ reads it: the current time and timers (deadlines, poll intervals,
 * backoffs, step waits). Real by default; a test installs a ManualClock and moves it forward instead
 * of sleeping, so a 15-minute deadline is a line of a test, not 15 minutes of it.
 */

/** A timer a clock started: pass it back to the same clock's clearTimeout. */
export type Timer = { readonly __timer: unique symbol } | NodeJS.Timeout;

export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /**
   * Milliseconds on a clock that only moves forward at the pace of time, whatever sets the wall clock
   * (NTP, a person): what an estimate tied to a moment must be anchored to. Absent: `now()` is used.
   */
  monotonic?(): number;
  /** Calls `fn` once, `ms` from now. A timer never keeps the process alive (a node's close ends it). */
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
}

/** The machine's clock and Node's timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)).unref(),
  clearTimeout: (timer) => {
    if (timer !== undefined && !(timer instanceof ManualTimer)) clearTimeout(timer as NodeJS.Timeout);
  },
};

let installed: Clock = realClock;

/**
 * The clock lib uses unless it is given one: whatever is installed when it is read (the real clock,
 * or a test's). A timer is cleared by the clock that started it, even when another was installed since.
 */
export const systemClock: Required<Clock> = {
  now: () => installed.now(),
  monotonic: () => installed.monotonic?.() ?? installed.now(),
  setTimeout: (fn, ms) => installed.setTimeout(fn, ms),
  clearTimeout: (timer) => {
    if (timer instanceof ManualTimer) timer.clock.clearTimeout(timer);
    else realClock.clearTimeout(timer);
  },
};

/** Makes `clock` the one lib reads (tests only); returns how to put the real one back. */
export function installClock(clock: Clock): () => void {
  installed = clock;
  return () => {
    installed = realClock;
  };
}

/** `ms` from now, as an ISO date by `clock`. */
export const isoIn = (clock: Clock, ms = 0): string => new Date(clock.now() + ms).toISOString();

class ManualTimer {
  constructor(
    readonly clock: ManualClock,
    readonly due: number,
    readonly order: number,
    readonly fn: () => void,
  ) {}
}

/**
 * A clock that moves only when told. `advance(ms)` runs every timer that falls due on the way, in
 * order of time, letting promises and I/O callbacks settle between two timers, so a chain of awaits
 * that a timer started has run before the next timer fires.
 */
export class ManualClock implements Clock {
  private current: number;
  /** Time moved by advance() alone: set() steps the wall clock, not this. */
  private elapsed = 0;
  private readonly timers = new Set<ManualTimer>();
  private order = 0;

  constructor(start = Date.now()) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.elapsed;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer = new ManualTimer(this, this.current + Math.max(0, Number.isFinite(ms) ? ms : 0), this.order++, fn);
    this.timers.add(timer);
    return timer as unknown as Timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    if (timer instanceof ManualTimer) this.timers.delete(timer);
    else realClock.clearTimeout(timer);
  }

  /** How many timers wait. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves the time forward by `ms`, running each timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    await settle();
    for (;;) {
      const next = this.nextDue();
      if (!next || next.due > until) break;
      this.timers.delete(next);
      this.moveTo(Math.max(this.current, next.due));
      next.fn();
      await settle();
    }
    this.moveTo(until);
    await settle();
  }

  private moveTo(time: number): void {
    this.elapsed += time - this.current;
    this.current = time;
  }

  /** Jumps the wall time (a wrong clock put right; monotonic() does not move): no timer runs until the next advance. */
  set(time: number): void {
    this.current = time;
  }

  private nextDue(): ManualTimer | undefined {
    let next: ManualTimer | undefined;
    for (const timer of this.timers)
      if (!next || timer.due < next.due || (timer.due === next.due && timer.order < next.order)) next = timer;
    return next;
  }
}

/** Lets promise chains and I/O callbacks that are ready run: a few turns of the event loop. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
