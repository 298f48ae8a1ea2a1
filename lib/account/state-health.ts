/**
 * A node that keeps state in its account's Redis says so in its status while Redis is unreachable,
 * and refuses meanwhile what it would have to keep (STATE_UNAVAILABLE, before anything is sent): its
 * waits keep their records (in Redis) and go on once it is back. A node whose state is in the
 * embedded store or a context store, or that keeps none (a twilio-send without waits), needs no
 * watch: pass it no account. The log lines (one when Redis goes, one when it returns) are the
 * engine's, not the node's (lib/account/state-engines.ts).
 */
import { Clock, systemClock } from '../core/clock';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { NodeStatus } from '../node-red/status';
import type { StateHealth } from './state-engines';
import type { NodeState } from './node-state';

export interface StateHealthWatch {
  /** Whether the state store is reachable (last heard; an engine that could not open refuses all the same). */
  readonly up: boolean;
  /** `start` as it is while the store is up; while it is down, a rejection with STATE_UNAVAILABLE instead. */
  guard<A extends unknown[], R>(start: (...args: A) => Promise<R>): (...args: A) => Promise<R>;
  /**
   * Runs `work` (a start's restore of its stored waits); when it fails because the store is down, runs
   * it again once the store is back (each time): waits stored before an outage resume after it, not
   * only at the next restart. Never settles once the watch is stopped.
   */
  retryWhenBack<T>(work: () => Promise<T>): Promise<T>;
  stop(): void;
}

export interface HealthSource {
  readonly state?: unknown;
  onStateHealth?(listener: (health: StateHealth) => void): () => void;
}

/** How soon work that failed as the store came back is tried again. */
export const RETRY_WHEN_BACK_MS = 1_000;

export function watchStateHealth(
  account: HealthSource | undefined,
  state: Pick<NodeState, 'durable'>,
  status: NodeStatus,
  clock: Clock = systemClock,
): StateHealthWatch {
  let health: StateHealth = { up: true };
  let stopped = false;
  /** Work to run again once the store is back. */
  const owed = new Set<() => void>();
  // An engine that could not open at all (the log said why): what must be kept is refused before it is sent.
  const notOpen = account !== undefined && state.durable !== 'flush-interval' && !account.state;
  const watched = Boolean(account?.onStateHealth) && state.durable === 'server';
  const stopListening = watched
    ? account!.onStateHealth!((next) => {
        health = next;
        if (next.up) status.success('twilio.status.stateBack');
        else status.failed('twilio.status.stateDown');
        if (next.up)
          for (const again of [...owed]) {
            owed.delete(again);
            again();
          }
      })
    : () => undefined;
  const retryWhenBack = <T>(work: () => Promise<T>): Promise<T> =>
    work().catch((err: unknown) => {
      if ((err as { code?: unknown } | undefined)?.code !== 'STATE_UNAVAILABLE' || !watched || stopped) throw err;
      // A command sent while the store was down may fail after it is back (its "back" already heard):
      // then again in a moment, not at a next "back" that may never come.
      return new Promise<void>((again) => (health.up ? clock.setTimeout(again, RETRY_WHEN_BACK_MS) : owed.add(again))).then(() =>
        retryWhenBack(work),
      );
    });
  return {
    get up() {
      return health.up;
    },
    guard:
      (start) =>
      (...args) =>
        notOpen
          ? Promise.reject(new TwilioNodeError('STATE_UNAVAILABLE', text('stateNotOpen')))
          : health.up
            ? start(...args)
            : Promise.reject(new TwilioNodeError('STATE_UNAVAILABLE', text('redisDown', { message: health.reason ?? '' }))),
    retryWhenBack,
    stop: () => {
      stopped = true;
      owed.clear();
      stopListening();
    },
  };
}
