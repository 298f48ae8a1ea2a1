/**
 * Time for tests of nodes that wait on lib's clock while real I/O (the simulator's answers) goes on:
 * a ManualClock installed for each test, and an until() that moves it on while nothing but a timer
 * can make progress, so a poll interval or a backoff costs a few milliseconds, not seconds.
 */
import { afterEach, beforeEach } from 'node:test';
import { Clock, ManualClock, installClock } from '../../lib/core/clock';

/**
 * Real time whose timers keep the process alive, for a unit test with nothing else running: lib's
 * real clock unrefs its timers (a node's close ends them), so a retry would else outlive the test's loop.
 */
export const livingClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/** A fresh ManualClock installed before each test of the file (lib's systemClock reads it), the real one put back after. */
export function useManualClock(): { readonly clock: ManualClock } {
  const context = { clock: new ManualClock() };
  let restore: () => void = () => undefined;
  beforeEach(() => {
    context.clock = new ManualClock();
    restore = installClock(context.clock);
  });
  afterEach(() => restore());
  return context;
}

/**
 * Resolves once `check` holds. While a timer waits on `clock` it moves the clock `stepMs` on (the
 * timer fires once it is due); while none does, something is under way (a request), and only real
 * time passes. Fails with `what` after `ms` of real time.
 */
export async function untilTicking(clock: ManualClock, check: () => boolean, what: string, stepMs = 250, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (clock.pending > 0) await clock.advance(stepMs);
    else await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
