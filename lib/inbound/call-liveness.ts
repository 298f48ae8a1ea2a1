/**
 * A request within a call (a <Redirect>, a <Gather> that heard nothing) is signed alike each time:
 * only its unsigned token tells two apart, so a captured one replayed with a fresh token looks like
 * Twilio's next request. What can still be told is whether its call is going on: Twilio asks nothing
 * within a call that ended minutes ago (a <Dial> or <Record> action comes right at its end), nor
 * within a call this account does not have. Such a request is a replay.
 *
 * One look at the call per request, through the account's queue; a call found ended is remembered
 * (bounded), so a flood of replays costs one look. A look that fails says nothing: the request is
 * taken as Twilio's (as it was before this check), never refused on a guess.
 */
import type { TwilioAccount } from '../account/account';
import { Clock, Timer, systemClock } from '../core/clock';
import { FINAL_STATUSES } from './outcomes';

/** Calls remembered as ended (or unknown to the account), with when: the oldest is forgotten first. */
export const CALLS_KEPT = 1_000;
/** How long a call seen going on is believed to be, so a burst of requests costs one look. */
export const LIVE_FOR_MS = 1_000;
/** Twilio's last requests of a call (a <Dial> action after a hang-up, its retries) come within this of its end. */
export const LAST_REQUESTS_MS = 5 * 60_000;
/**
 * How long a look may take: Twilio gives up on a webhook after 15 s (the caller hears an application
 * error), so a look stuck behind a busy queue or a slow API says nothing, as a failed one does.
 */
export const LOOK_TIMEOUT_MS = 5_000;

/** Sets key to value, forgetting the oldest key once `limit` are kept. */
function keepBounded<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  if (map.size >= limit) map.delete(map.keys().next().value as string);
  map.set(key, value);
}

export class CallLiveness {
  /** When each call ended, on this machine's clock (never later than when it was seen ended). */
  private readonly endedAt = new Map<string, number>();
  private readonly liveUntil = new Map<string, number>();

  constructor(
    private readonly account: TwilioAccount,
    private readonly owner: object,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Looks under way: requests for one call that arrive together wait for one look. */
  private readonly looking = new Map<string, Promise<boolean>>();

  /** True when the call ended a while ago or is not this account's: a request within it is a replay. */
  isOver(callSid: string): Promise<boolean> {
    const under = this.looking.get(callSid);
    if (under) return under;
    const look = this.judge(callSid).finally(() => this.looking.delete(callSid));
    this.looking.set(callSid, look);
    return look;
  }

  private async judge(callSid: string): Promise<boolean> {
    const now = this.clock.now();
    const known = this.endedAt.get(callSid);
    if (known !== undefined) return now - known > LAST_REQUESTS_MS;
    const until = this.liveUntil.get(callSid);
    if (until !== undefined && until > now) return false;
    let endedAt: number;
    try {
      const call = await this.lookInTime(callSid);
      if (!call) return false;
      if (!Object.hasOwn(FINAL_STATUSES.call, call.status)) {
        keepBounded(this.liveUntil, callSid, now + LIVE_FOR_MS, CALLS_KEPT);
        return false;
      }
      // Twilio's clock may be ahead of this one: an end "in the future" ended now.
      const end = call.endTime ? new Date(call.endTime).getTime() : Number.NaN;
      endedAt = Number.isFinite(end) ? Math.min(end, now) : now;
    } catch (err) {
      // Not found: not a call of this account (signed with its token all the same: a replay from elsewhere).
      if ((err as { status?: unknown }).status !== 404) return false;
      endedAt = -Infinity;
    }
    keepBounded(this.endedAt, callSid, endedAt, CALLS_KEPT);
    return this.clock.now() - endedAt > LAST_REQUESTS_MS;
  }

  /** The call as Twilio has it, or undefined when it did not answer within LOOK_TIMEOUT_MS. */
  private lookInTime(callSid: string): Promise<{ status: string; endTime?: Date | null } | undefined> {
    const look = this.account.clientFor(this.owner).calls(callSid).fetch();
    let timer: Timer | undefined;
    const late = new Promise<undefined>((resolve) => (timer = this.clock.setTimeout(() => resolve(undefined), LOOK_TIMEOUT_MS)));
    look.catch(() => undefined); // a look answered after its time is not waited for
    return Promise.race([look, late]).finally(() => this.clock.clearTimeout(timer));
  }
}
