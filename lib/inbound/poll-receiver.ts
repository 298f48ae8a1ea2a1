/**
 * twilio-in without a public URL: an InboundPoller asks the account every interval for what arrived,
 * each new message (and call) is published on the account's inbound path, and what no one there
 * claims goes to the flow once, as a webhook's would, without req and res (there is no one to
 * answer: a reply is a twilio-send to msg.payload.From). The status line and the log follow the looks.
 */
import type { KeyValueStore } from '../node-red/context';
import type { TwilioAccount } from '../account/account';
import type { StateEngine } from '../state/engine';
import { DuplicateWindow } from './dedupe';
import { handedOn, heardFirst, notHandedOn } from './heard';
import { systemClock } from '../core/clock';
import { eventIdentity, inboundHubFor } from './hub';
import { ReceiverCallbacks, inboundEvent, receiveInbound } from './inbound-message';
import { InboundPoller, PollOutcome } from './poller';

/** Sids a poller remembers: twice what one look reads (POLL_MAX_RECORDS); each is remembered long after it can be listed again. */
const POLLED_CAPACITY = 20_000;
const POLLED_MEMORY_MS = 30 * 24 * 3600_000;
/** Records said again after a look at most: a look's worth of texts (past it, the oldest claims stay "being taken"). */
const MAX_OWED_RECORDS = 10_000;

export interface PollSettings {
  /** The node's state: the poller's cursor and the Sids it handed on. */
  store: KeyValueStore;
  /** One of the account's numbers, or every number. */
  to?: string;
  calls: boolean;
  intervalMs: number;
}

export interface PollCallbacks extends ReceiverCallbacks {
  log(key: string): void;
}

export class PollReceiver {
  private readonly poller: InboundPoller;
  private readonly stopFeeding: () => void;
  private received = 0;
  private failing = false;
  private closed = false;
  /** Events handed on whose record the engine refused (identity → the engine of their claim), oldest first. */
  private readonly owed = new Map<string, StateEngine | undefined>();
  private recordingOwed = false;

  constructor(
    private readonly account: TwilioAccount,
    settings: PollSettings,
    private readonly callbacks: PollCallbacks,
  ) {
    const hub = inboundHubFor(account);
    this.poller = new InboundPoller({
      // Its own view of the client: a close takes back a look still waiting in the account's queue.
      client: () => account.clientFor(this),
      store: settings.store,
      seen: new DuplicateWindow(settings.store, {
        windowMs: POLLED_MEMORY_MS,
        capacity: POLLED_CAPACITY,
        prefix: 'twilio-in-polled',
        clock: callbacks.clock,
      }),
      to: settings.to,
      messages: true,
      calls: settings.calls,
      intervalMs: settings.intervalMs,
      redact: account.redact,
      clock: callbacks.clock,
      onEvent: async (event) => {
        const origin = { source: 'poll' as const, event: event.kind, at: event.at };
        // Heard before by any node of this account (by webhook or by poll, here or on another instance):
        // taken by no one. When the account's state cannot say, the look fails and the next one asks again.
        const inbound = inboundEvent(event.params, origin);
        const identity = eventIdentity(inbound);
        // The engine as it is now: a redeploy closes the account too, and its claim is still to be given back or recorded.
        const engine = account.state;
        const taking = (callbacks.clock ?? systemClock).now();
        if (!(await heardFirst(engine, account.accountSid, identity, undefined, taking))) return;
        // Closed while its claim was out: Node-RED took the flow out first, so a msg now would reach no
        // one. The claim is given back and the look fails: the text stays for the node that comes next.
        const unlessClosed = async () => {
          if (!this.closed) return;
          await notHandedOn(engine, account.accountSid, identity, taking);
          throw new Error('twilio-in closed');
        };
        await unlessClosed();
        account.activity?.heard(inbound);
        const msg = await receiveInbound(hub, event.params, origin, inbound);
        if (msg) {
          await unlessClosed();
          this.received++;
          callbacks.emit(msg);
        } // else an answer a twilio-ask took
        return { recorded: this.record(engine, identity) };
      },
      onPoll: (outcome) => {
        account.activity?.polled(settings.to, outcome);
        this.report(outcome);
        void this.recordOwed();
      },
      // Several instances on one engine: one poller per account and number (lib/inbound/poller.ts).
      leaseName: `poll/${account.accountSid}/${settings.to || '*'}`,
    });
    callbacks.status.working('twilio-in.status.polling', { seconds: settings.intervalMs / 1000 });
    this.stopFeeding = hub.addSource();
    this.poller.start();
  }

  /** Stops looking; resolves once a look under way has handed on what it found (or after a few seconds). */
  async close(): Promise<void> {
    this.closed = true;
    this.stopFeeding();
    this.account.queue.withdraw(this);
    await this.poller.stop();
  }

  /**
   * Marks a handed-on event heard. When the engine cannot take it now, it is said again after each
   * look until it can: left "being taken", a replay of its signed webhook would be taken after TAKEOVER_MS.
   */
  private async record(engine: StateEngine | undefined, identity: string | undefined): Promise<void> {
    if (identity === undefined || (await handedOn(engine, this.account.accountSid, identity))) return;
    this.owed.delete(identity);
    this.owed.set(identity, engine);
    if (this.owed.size > MAX_OWED_RECORDS) this.owed.delete(this.owed.keys().next().value!);
  }

  private async recordOwed(): Promise<void> {
    if (this.recordingOwed) return; // a slow store: the round under way goes on, not a second one beside it
    this.recordingOwed = true;
    try {
      for (const [identity, engine] of [...this.owed]) {
        if (!(await handedOn(engine, this.account.accountSid, identity))) return; // still down: after the next look
        this.owed.delete(identity);
      }
    } finally {
      this.recordingOwed = false;
    }
  }

  /** The log hears of the first failure and of the recovery, never of each retry. */
  private report(outcome: PollOutcome): void {
    const { status, warn, log } = this.callbacks;
    if (outcome.error) {
      const subs = { code: outcome.error.twilioCode ?? outcome.error.code, seconds: Math.round(outcome.nextInMs / 1000) };
      status.failed('twilio-in.status.pollFailed', subs);
      if (!this.failing) warn('twilio-in.warnings.pollFailed', { ...subs, message: outcome.error.message });
      this.failing = true;
      return;
    }
    if (outcome.standingBy) return status.working('twilio-in.status.standingBy');
    if (this.failing) log('twilio-in.warnings.pollRecovered');
    this.failing = false;
    if (outcome.truncated) warn('twilio-in.warnings.pollTruncated');
    if (outcome.restarted) warn('twilio-in.warnings.pollRestarted');
    status.success('twilio-in.status.polled', { time: new Date(outcome.at).toLocaleTimeString(), count: this.received });
  }
}
