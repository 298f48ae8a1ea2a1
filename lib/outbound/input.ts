/**
 * The message API of a node that does one piece of work per msg (the resource nodes, twilio-request,
 * twilio-reply): (msg, send, done) through a MessageIntake, so every msg taken ends exactly once.
 */
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { Clock } from '../core/clock';
import type { NodeStatus } from '../node-red/status';
import { AcceptedMessage, MessageIntake } from './intake';

/** What a node's msgs end with when it stops: not started (NOT_SENT), or no answer within the close's budget. */
const notSent = (): TwilioNodeError => new TwilioNodeError('NOT_SENT', text('nodeStopped'));
const abandoned = (): TwilioNodeError => new TwilioNodeError('REQUEST_TIMEOUT', text('stoppedWaiting'));

interface NodeInputOptions {
  /** Masks the account's secrets in a failure that is not coded yet. */
  redact?: () => ((text: string) => string) | undefined;
  /** How long a close waits for msgs under way (default CLOSE_BUDGET_MS). */
  closeWaitMs?: number;
  clock?: Clock;
}

/**
 * Takes a node's msgs: each one's work (whose requests name the node as their owner, so a close
 * withdraws those still queued) ends the msg when it resolves; a failure becomes a coded error for Catch nodes, in
 * the runtime's language, and a red status with Twilio's number or our code. On close, msgs not
 * started end as NOT_SENT, those under way get their answer for as long as the budget allows.
 */
export class NodeInput<M extends object> {
  private readonly intake: MessageIntake<M>;

  constructor(
    private readonly owner: object,
    private readonly status: NodeStatus,
    private readonly options: NodeInputOptions = {},
  ) {
    this.intake = new MessageIntake<M>({ notSent, abandoned, closeWaitMs: options.closeWaitMs, clock: options.clock });
  }

  /** Takes a msg; `work` runs when its turn comes and sends through `accepted.send`. */
  take(send: (msg: M) => void, done: (error?: Error) => void, work: (accepted: AcceptedMessage<M>) => Promise<void>): void {
    this.intake.acceptWork(
      send,
      done,
      (accepted) => work(accepted).then(() => accepted.done()),
      (err) => {
        const error = toTwilioNodeError(err, this.options.redact?.());
        this.status.failedWith(error);
        return error;
      },
      this.status.translate,
    );
  }

  /**
   * Ends every msg taken (see MessageIntake.close) and takes back the node's requests still waiting
   * in `queue` (each fails as NOT_SENT, so its msg ends at once); then the status is cleared.
   */
  async close(queue?: { withdraw(owner: object): void }): Promise<void> {
    const closed = this.intake.close();
    queue?.withdraw(this.owner);
    await closed;
    this.status.clear();
  }
}
