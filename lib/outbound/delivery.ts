/**
 * Delivery: a send plan in, one request per recipient through the account's queue, and per-recipient
 * results and the first failure (in the recipients' order) out. What a node makes of that (msg,
 * status, done) is the node's; twilio-send and the conversation nodes share this.
 */
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { mapWithConcurrency } from '../core/concurrency';
import type { SendPlan } from '../twilio/send-plans';

/** Recipients of one msg handed to the account's queue at once (the queue decides what runs). */
const RECIPIENT_CONCURRENCY = 20;

export interface Delivery<R> {
  recipients: readonly string[];
  /** What Twilio created, by recipient. */
  results: Map<string, R>;
  /** Why a recipient got nothing: a coded error with no secret in it. */
  failures: Map<string, TwilioNodeError>;
  /** The failure of the first recipient (in the plan's order) that failed, whatever finished first. */
  firstFailure?: TwilioNodeError;
}

/**
 * Creates what the plan says for each recipient with `create` (a message, a call). Never rejects:
 * every failure, an unusable account's too, is a recipient's coded error.
 */
export async function deliverToRecipients<P, R>(
  plan: SendPlan<P>,
  create: (params: P) => Promise<R>,
  redact?: (text: string) => string,
): Promise<Delivery<R>> {
  const results = new Map<string, R>();
  const failures = new Map<string, TwilioNodeError>();
  const one = async (recipient: string) => {
    try {
      results.set(recipient, await create(plan.paramsFor(recipient)));
    } catch (err) {
      failures.set(recipient, toTwilioNodeError(err, redact));
    }
  };
  if (plan.recipients.length === 1) await one(plan.recipients[0]);
  else await mapWithConcurrency(plan.recipients, RECIPIENT_CONCURRENCY, one);
  const first = plan.recipients.find((r) => failures.has(r));
  return { recipients: plan.recipients, results, failures, firstFailure: first === undefined ? undefined : failures.get(first) };
}
