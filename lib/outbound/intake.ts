/** What a node takes in: bursts started as the account's queue has room, and msgs that end exactly once. */
import type { TwilioNodeError } from '../core/errors';
import type { Translate } from '../core/texts';
import { Clock, systemClock } from '../core/clock';

/**
 * Starts tasks in arrival order, a few milliseconds' worth at a time, yielding to the event loop in
 * between, and only while `ready()` says the work downstream can take more. A burst of thousands of
 * messages (a split node, a broadcast) would otherwise prepare every request at once: answers would
 * wait to be read behind the preparing, and every prepared request would sit in memory. Waiting
 * tasks are a closure each; call `wake()` when downstream has room again. A task is called once:
 * with `cancelled` false when it runs, or true when the intake closed before its turn.
 */
/**
 * A task of a SlicedIntake: a function, or an object that runs (a burst of 50,000 waits as one small
 * record each rather than a closure and its scope: what waits is the memory a burst holds).
 */
export type IntakeTask = ((cancelled: boolean) => void) | { run(cancelled: boolean): void };

const perform = (task: IntakeTask, cancelled: boolean): void => (typeof task === 'function' ? task(cancelled) : task.run(cancelled));

export class SlicedIntake {
  /** Tasks in arrival order from `head` on; run ones are cleared, and the array is cut when half is spent. */
  private waiting: Array<IntakeTask | undefined> = [];
  private head = 0;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly ready: () => boolean = () => true,
    private readonly sliceMs = 4,
  ) {}

  /** How many tasks wait for their turn. */
  get size(): number {
    return this.waiting.length - this.head;
  }

  run(task: IntakeTask): void {
    if (this.closed) return perform(task, true);
    this.waiting.push(task);
    this.wake();
  }

  wake(): void {
    if (this.scheduled || this.closed || this.head === this.waiting.length) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  /** Runs nothing more: every waiting task, and any that arrives later, is called as cancelled, in order. */
  close(): void {
    this.closed = true;
    const waiting = this.waiting;
    const from = this.head;
    this.waiting = [];
    this.head = 0;
    for (let i = from; i < waiting.length; i++) perform(waiting[i]!, true);
  }

  private drain(): void {
    this.scheduled = false;
    const until = performance.now() + this.sliceMs;
    let ran = 0;
    while (!this.closed && this.head < this.waiting.length && this.ready() && (ran === 0 || performance.now() < until)) {
      const task = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined;
      ran++;
      perform(task, false);
    }
    // Cutting the front off a long array copies the rest: done once half of it is spent, not per slice.
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    if (ran > 0) this.wake(); // more to do; when not ready, the next wake() comes from downstream
  }
}

/**
 * How long a node's close waits for what it has under way (a request in flight, a step being sent)
 * before it lets go: Node-RED gives a close 15 s, and the account's own close needs the rest.
 */
export const CLOSE_BUDGET_MS = 12_000;

/** A msg a node took: it sends on at most once and ends exactly once, whatever happens around it. */
export interface AcceptedMessage<M> {
  /** Sends `msg` on, unless this msg has already ended. */
  send(msg: M): void;
  /** Ends this msg (done, or done(err)); later calls do nothing. */
  done(error?: TwilioNodeError): void;
  /** Whether it has ended (a close that could not wait ended it as abandoned). */
  readonly ended: boolean;
}

export interface MessageIntakeOptions {
  /** Whether the work downstream can take another msg now. */
  ready?: () => boolean;
  /** The error a msg ends with when the node stopped before it started: it was not sent. */
  notSent: () => TwilioNodeError;
  /** The error a msg ends with when the close could not wait for its answer. */
  abandoned: () => TwilioNodeError;
  /** How long a close waits for msgs under way (Node-RED gives a close 15 s). */
  closeWaitMs?: number;
  clock?: Clock;
  /** Says the error a msg taken by `take` ends with in the runtime's language (its status's translate). */
  translate?: Translate;
}

/**
 * The msgs a node has taken, from input to their end: a burst waits in a SlicedIntake and starts as
 * the work downstream has room; on close, what waits ends as not sent at once, what is under way gets
 * its answer for a while, and then ends as abandoned. So every msg taken ends exactly once.
 */
export class MessageIntake<M> {
  private readonly waiting: SlicedIntake;
  /** Msgs started and not yet ended (each ends once: a close that cannot wait ends them as abandoned). */
  private readonly underWay = new Set<AcceptedMessage<M>>();
  private closed = false;
  private onIdle?: () => void;

  constructor(private readonly options: MessageIntakeOptions) {
    this.waiting = new SlicedIntake(options.ready);
  }

  /** Whether the node is closing: a msg that gets here now should end as not sent. */
  get closing(): boolean {
    return this.closed;
  }

  /** Starts waiting msgs if the work downstream has room again. */
  wake(): void {
    this.waiting.wake();
  }

  /** Takes a msg; `start` runs when its turn comes (never, if the node closes first). */
  accept(send: (msg: M) => void, done: (error?: TwilioNodeError) => void, start: (msg: AcceptedMessage<M>) => void): void {
    this.waiting.run(new TakenMessage<M>(this, undefined, send, done, (_msg, accepted) => start(accepted), false));
  }

  /**
   * Takes a msg for a node whose `start` is one function for every msg (made once, not per msg):
   * while it waits, the msg is one small record, what a burst of 50,000 holds. Its error, if any,
   * is said in the runtime's language (`translate`) before `done`.
   */
  take(msg: M, send: (msg: M) => void, done: (error?: Error) => void, start: (msg: M, accepted: AcceptedMessage<M>) => void): void {
    this.waiting.run(new TakenMessage(this, msg, send, done, start, true));
  }

  /** The error `done` gets for a msg taken by `take`. */
  said(error: TwilioNodeError | undefined): TwilioNodeError | undefined {
    return error && this.options.translate ? error.localise(this.options.translate) : error;
  }

  /** The error of a msg whose turn never came: the node stopped first. */
  notSent(): TwilioNodeError {
    return this.options.notSent();
  }

  /** A msg starts: under way until it ends (see TakenMessage). */
  started(accepted: AcceptedMessage<M>): void {
    this.underWay.add(accepted);
  }

  /** A msg under way ended; a close waiting for the msgs under way hears when the last one did. */
  ended(accepted: AcceptedMessage<M>): void {
    this.underWay.delete(accepted);
    if (this.closed && this.underWay.size === 0) this.onIdle?.();
  }

  /**
   * Takes a msg whose work is a promise (what every node does with its msgs; WaitingRoom.accept and
   * NodeInput.take are this): `work` starts when its turn comes, and if it fails, the msg ends with
   * `onError`'s coded error. Errors reach `done` in the runtime's language when `translate` is given.
   * Success ends nothing: the work ends its msg itself (at once, or when what it waits for happens).
   */
  acceptWork(
    send: (msg: M) => void,
    done: (error?: TwilioNodeError) => void,
    work: (accepted: AcceptedMessage<M>) => Promise<unknown>,
    onError: (err: unknown) => TwilioNodeError,
    translate?: Translate,
  ): void {
    this.accept(
      send,
      (error) => done(error && translate ? error.localise(translate) : error),
      (accepted) => {
        let started: Promise<unknown>;
        try {
          started = work(accepted);
        } catch (err) {
          started = Promise.reject(err);
        }
        started.catch((err: unknown) => accepted.done(onError(err)));
      },
    );
  }

  /** Resolves once every msg taken has ended. */
  close(): Promise<void> {
    this.closed = true;
    this.waiting.close();
    if (this.underWay.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const clock = this.options.clock ?? systemClock;
      const deadline = clock.setTimeout(() => {
        for (const accepted of [...this.underWay]) accepted.done(this.options.abandoned());
      }, this.options.closeWaitMs ?? CLOSE_BUDGET_MS);
      this.onIdle = () => {
        clock.clearTimeout(deadline);
        resolve();
      };
    });
  }
}

/**
 * A msg a MessageIntake took: while it waits for its turn, the msg (for `take`), Node-RED's send and
 * done and the node's start; once started, the same record is the msg's AcceptedMessage (a burst of
 * 50,000 makes nothing more per msg when its turn comes: the record, long since in the old
 * generation, is all it holds). Once ended it lets go of the msg and its callbacks.
 */
class TakenMessage<M> implements AcceptedMessage<M> {
  ended = false;

  constructor(
    private intake: MessageIntake<M> | undefined,
    private msg: M | undefined,
    private sendOn: ((msg: M) => void) | undefined,
    private end: ((error?: TwilioNodeError) => void) | undefined,
    private start: ((msg: M, accepted: AcceptedMessage<M>) => void) | undefined,
    /** Whether its error is said in the runtime's language before `done` (a msg taken by `take`). */
    private readonly localised: boolean,
  ) {}

  run(cancelled: boolean): void {
    if (cancelled) return this.done(this.intake!.notSent());
    const { intake, msg, start } = this;
    this.start = undefined;
    intake!.started(this);
    start!(msg as M, this);
  }

  send(msg: M): void {
    if (!this.ended) this.sendOn!(msg);
  }

  done(error?: TwilioNodeError): void {
    if (this.ended) return;
    this.ended = true;
    const { intake, end } = this;
    this.intake = this.msg = this.sendOn = this.end = this.start = undefined;
    end!(this.localised ? intake!.said(error) : error);
    intake!.ended(this);
  }
}
