/**
 * The waiting lifecycle of a node that holds msgs until something happens (twilio-send until an
 * outcome, twilio-ask until an answer, twilio-page until an acknowledgement). One room per node:
 *
 *   accept ─ a msg comes in through the intake: a burst waits as msgs until the account has room;
 *   admit  ─ before anything is sent, room is reserved for the copy its wait keeps (a msg that cannot
 *            be kept, or one more than the room holds, is refused while it is still safe to send again);
 *   hold   ─ once sent, the wait is written to the store (its record: enough to resume it) and its
 *            msg's send and done are held, as the core join node holds its group's;
 *   restore─ a start finds the waits a previous run left (a redeploy, a restart with a persistent
 *            store): each is checked, and resumed without a `done` (it leaves as a fresh msg);
 *   emit   ─ a msg leaves by one port (the others null, as the core switch node sends);
 *   end    ─ the wait is gone from memory and store, and its msg's done is called once;
 *   close  ─ work under way gets one budget (CLOSE_BUDGET_MS) to finish; then a removed node ends
 *            every wait and forgets its store, a redeploy or shutdown lets them go (stored, to resume).
 *
 * Every msg taken ends exactly once: by an emit that is its last, an end, a refusal, or the close.
 *
 * Several instances on one engine (Redis): every stored record says which instance holds it
 * (`heldBy`, lib/state/instance.ts), and that instance keeps its instance lease alive. restore() and
 * a look every third of the lease (on the Clock) take over the records of an instance whose lease is
 * gone: each by compare-and-set on its version, so exactly one instance resumes it, as a restart
 * resumes a wait (a fresh msg). A live instance's records are never taken. Every later write of a
 * record compares its version too: an instance that was paused past its lease finds its wait taken
 * and lets it go (its msg done, nothing emitted) instead of writing over the new holder's. On a
 * one-instance engine (embedded, context) none of this applies: a restart resumes every wait at once.
 */
import type { NodeMessageInFlow } from 'node-red';
import { Clock, Timer, systemClock } from '../core/clock';
import { TwilioNodeError } from '../core/errors';
import { Translate, render, text } from '../core/texts';
import type { KeyValueStore } from '../node-red/context';
import { type Presence, presenceOn } from '../state/instance';
import { reportsHealth } from '../state/redis';
import { type VersionedStore, isVersioned } from '../account/node-state';
import { ShownWaits } from '../account/activity';
import { AcceptedMessage, CLOSE_BUDGET_MS, MessageIntake } from '../outbound/intake';

/** How soon an ended wait's delete the store could not answer is tried again, doubling up to the max. */
export const DELETE_RETRY_FIRST_MS = 500;
const DELETE_RETRY_MAX_MS = 10_000;

/** What all the waits of one node may hold in stored msgs together: a flow of big msgs is refused, not a crash. */
export const MAX_HELD_BYTES = 64 * 2 ** 20;

type Msg = NodeMessageInFlow;

/** Room reserved for one msg's wait: the copy it keeps (JSON-safe, without req and res) and its size. */
export interface Admission {
  copy: Record<string, unknown>;
  bytes: number;
}

/**
 * A msg as a store can keep it, and its size in bytes as the store writes it (UTF-8 JSON): a JSON
 * copy without req and res (an http in node's, which cannot be stored). A msg that cannot be copied
 * (circular, a BigInt, a getter or toJSON that throws, a toJSON that answers no object) is refused as
 * INVALID_INPUT: it cannot wait, so it is not sent.
 */
export function storableCopy(msg: object): Admission {
  try {
    const { req: _req, res: _res, ...rest } = msg as Record<string, unknown>;
    const json: unknown = JSON.stringify(rest);
    if (typeof json !== 'string') throw new Error(`JSON of ${typeof json}`);
    const copy: unknown = JSON.parse(json);
    if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) throw new Error('its JSON is no object');
    return { copy: copy as Record<string, unknown>, bytes: Buffer.byteLength(json) };
  } catch (err) {
    throw new TwilioNodeError('INVALID_INPUT', text('cannotWait', { reason: err instanceof Error ? err.message : String(err) }));
  }
}

/** Whether a msg asks to cancel rather than start a wait: msg.cancel, or the node's cancel topic. */
export function isCancel(msg: object, cancelTopic: string | undefined): boolean {
  const m = msg as { cancel?: unknown; topic?: unknown };
  return m.cancel === true || (!!cancelTopic && m.topic === cancelTopic);
}

export interface Wait<R> {
  id: string;
  /** What is stored: enough to resume the wait after a restart (JSON-safe). */
  record: R;
  /** The msg itself, while the run that took it goes on; absent for a restored wait (use record's copy). */
  msg?: Msg;
  /** Its msg's send and done, likewise. */
  accepted?: AcceptedMessage<Msg>;
  bytes: number;
  /** Several instances: the stored record's version (each write compares it), and the write under way. */
  version?: number;
  writing?: Promise<void>;
  /** Several instances: whether its ending found the record still this instance's. */
  owned?: boolean;
}

/** The field of a stored record that names the instance holding it (several instances on one engine). */
export const HELD_BY = 'heldBy';

/** What a room needs of its node. */
export interface RoomNode {
  id: string;
  /** Sends a restored wait's msg (it has no `done` of its own). */
  send(msg: Msg | Array<Msg | null>): void;
  log(message: string): void;
  warn(message: string): void;
  /** Tells Catch nodes of a restored wait's error, with its msg (it has no `done` to carry it). */
  error?(error: Error, msg?: unknown): void;
}

export interface WaitingRoomOptions<R> {
  node: RoomNode;
  store: KeyValueStore;
  /** Each wait is one key: prefix + id. */
  prefix: string;
  /** Waits held at most: past it a new msg is refused (the oldest are someone's too). */
  capacity: number;
  /** How many outputs the node has: an emit sends an array this long (one output: the msg alone). */
  outputs: number;
  /** Checks a stored record before it is resumed: a damaged one is set aside, never resumed. */
  isRecord(value: unknown): value is R;
  /** Whether the account can take another msg now (a burst waits as msgs until it can). */
  ready?: () => boolean;
  /** The error a msg ends with when the node stopped before it was sent. */
  notSent: () => TwilioNodeError;
  /** The error a msg ends with when the close could not wait for its answer. */
  abandoned: () => TwilioNodeError;
  /** The runtime's language: errors before done(err), and the room's log lines. */
  translate?: Translate;
  clock?: Clock;
  /** How long a close waits for work under way. */
  closeBudgetMs?: number;
  /** Several instances on one engine: this instance's presence (by default the process's on the store's engine). */
  presence?: Presence;
}

export class WaitingRoom<R> {
  private readonly waits = new ShownWaits<Wait<R>>(); // listed in the Twilio sidebar (lib/account/activity.ts)
  /** Several instances: endings waiting for their owned delete (see endOwned). */
  private readonly ending = new Set<Promise<void>>();
  private readonly intake: MessageIntake<Msg>;
  /** Work under way (msgs being started, tracked steps): counted, not kept, so a burst of sends costs no set of promises. */
  private underWay = 0;
  private onIdle?: () => void;
  private readonly settledOne = (): void => {
    if (--this.underWay === 0) this.onIdle?.();
  };
  private readonly clock: Clock;
  private heldBytes = 0;
  /** Waits admitted whose msgs are still being sent: counted in advance, so a burst cannot all pass the check. */
  private reserved = 0;
  private closed = false;
  /** While restore() reads the store: msgs wait for it (a cancel or the same alarm must see the restored waits). */
  private restoring?: Promise<void>;
  /** Several instances on one engine: the store with versions, this instance's presence, the look for waits to take over. */
  private readonly shared?: { store: VersionedStore; presence: Presence };
  private resumer?: (restored: Array<Wait<R>>) => void;
  private lookTimer?: Timer;
  private lookFailing = false;
  /** Deletes of ended waits' records waiting for the store to answer again, each with how to stop it (see deleteLater). */
  private readonly deleteRetries = new Set<() => void>();

  constructor(private readonly options: WaitingRoomOptions<R>) {
    this.clock = options.clock ?? systemClock;
    this.waits.show(options.node.id);
    const store = options.store;
    if (isVersioned(store) && store.engine.guarantees.instances === 'many') {
      const presence = options.presence ?? presenceOn(store.engine);
      presence.join();
      this.shared = { store, presence };
    }
    this.intake = new MessageIntake<Msg>({
      ready: options.ready,
      notSent: options.notSent,
      abandoned: options.abandoned,
      clock: this.clock,
      closeWaitMs: options.closeBudgetMs,
      translate: options.translate,
    });
  }

  get size(): number {
    return this.waits.size;
  }

  private beganClosing?: () => void;
  /** Resolves once the room begins to close: work waiting on something else (a look at Twilio's clock) stops waiting. */
  readonly whenClosing: Promise<void> = new Promise((resolve) => (this.beganClosing = resolve));

  /** Whether the node is closing: work that gets here now must not start anything new. */
  get closing(): boolean {
    return this.closed;
  }

  values(): IterableIterator<Wait<R>> {
    return this.waits.values();
  }

  get(id: string): Wait<R> | undefined {
    return this.waits.get(id);
  }

  /** Starts waiting msgs if the account has room again (call when its queue changes). */
  wake(): void {
    this.intake.wake();
  }

  /**
   * The node's input handler (`node.on('input', room.input(start, onError))`): each msg waits its turn
   * in the intake as one small record (MessageIntake.take; what a burst of 50,000 holds while it waits
   * decides how far the heap grows before V8 first collects it). `start` runs when its turn comes
   * (after the stored waits are restored; never if the node closes first: the msg then ends as not
   * sent); a failure of `start` ends the msg with `onError`'s coded error.
   */
  input(
    start: (msg: Msg, accepted: AcceptedMessage<Msg>) => Promise<unknown>,
    onError: (error: unknown) => TwilioNodeError,
  ): (msg: Msg, send: (msg: Msg | Array<Msg | null>) => void, done: (error?: Error) => void) => void {
    const begin = (msg: Msg, accepted: AcceptedMessage<Msg>): void => {
      this.underWay++;
      const started = this.restoring ? this.afterRestore(() => start(msg, accepted)) : start(msg, accepted);
      started.then(this.settledOne, (err: unknown) => {
        this.settledOne();
        accepted.done(onError(err));
      });
    };
    return (msg, send, done) => this.intake.take(msg, send as (msg: Msg) => void, done, begin);
  }

  /** Starts a msg that came while the waits were being restored, in its turn, once they are (not at all if the node closed meanwhile). */
  private async afterRestore(start: () => Promise<unknown>): Promise<unknown> {
    await this.restoring;
    if (this.closed) throw this.options.notSent();
    return start();
  }

  /** Work for a wait that a close must wait for (a step being sent): it gets the close's budget. */
  track<T>(work: Promise<T>): Promise<T> {
    this.underWay++;
    work.then(this.settledOne, this.settledOne);
    return work;
  }

  /** Reserves room for a msg's wait, before anything of it is sent; refuses as NOT_SENT when there is none. */
  admit(msg: object): Admission {
    const admission = storableCopy(msg);
    if (this.waits.size + this.reserved >= this.options.capacity || this.heldBytes + admission.bytes > MAX_HELD_BYTES)
      throw new TwilioNodeError('NOT_SENT', text('waitsFull', { count: this.waits.size, megabytes: MAX_HELD_BYTES / 2 ** 20 }));
    this.reserved++;
    this.heldBytes += admission.bytes;
    return admission;
  }

  /** Gives back the room of a msg that will not wait after all (nothing was sent, or it ended). */
  withdraw(admission: Admission): void {
    this.reserved--;
    this.heldBytes -= admission.bytes;
  }

  /**
   * Holds a wait in its admitted room: stored before the caller acts on it. Returns its id, or
   * undefined when the msg ended meanwhile (a close that could not wait said "may have been sent"):
   * such a wait is never resumed. Held while the node closes, it stays stored for the next start,
   * which resumes it from its record: a caller that acts only after hold (a page's first step) says
   * so in the record, so that the next start does it.
   */
  async hold(admission: Admission, record: R, accepted?: AcceptedMessage<Msg>, msg?: Msg): Promise<string | undefined> {
    if (accepted?.ended) {
      this.withdraw(admission);
      return undefined;
    }
    const id = randomId();
    const wait: Wait<R> = { id, record, msg, accepted, bytes: admission.bytes };
    this.waits.set(id, wait);
    this.reserved--;
    try {
      if (this.shared) await this.putFirst(wait);
      else await this.options.store.set(this.options.prefix + id, record);
    } catch (err) {
      // Not stored, so not held: the caller's msg ends with the store's error, and its room is free again.
      this.waits.delete(id);
      this.heldBytes -= admission.bytes;
      throw err;
    }
    if (this.closed) {
      this.waits.delete(id);
      this.heldBytes -= admission.bytes;
      accepted?.done();
      return undefined;
    }
    return id;
  }

  /** Writes a wait's record again, after it changed. */
  async save(id: string): Promise<void> {
    const wait = this.waits.get(id);
    if (!wait) return;
    if (this.shared) await this.afterWrites(wait, () => this.putOwned(wait));
    else await this.options.store.set(this.options.prefix + id, wait.record);
  }

  /** A new wait's first write: only once this instance's lease is held (else others would take it at once). */
  private async putFirst(wait: Wait<R>): Promise<void> {
    await this.shared!.presence.ready();
    const version = await this.shared!.store.write(this.options.prefix + wait.id, this.stamped(wait.record), { ifVersion: 0 });
    if (version === undefined) throw new Error(`state refused ${this.options.prefix}${wait.id}`);
    wait.version = version;
  }

  /** Runs a write of a wait after those under way (each compares the version the one before left). */
  private afterWrites(wait: Wait<R>, write: () => Promise<void>): Promise<void> {
    const next = (wait.writing ?? Promise.resolve()).then(write);
    wait.writing = next.catch(() => undefined);
    return next;
  }

  /**
   * Writes a held wait's record again, if it is still this instance's: refused (its version moved),
   * it is read again: another instance took it over (this one was paused past its lease) or ended
   * it: the wait is let go here. Written by this instance meanwhile: written again on that version.
   */
  private async putOwned(wait: Wait<R>): Promise<void> {
    const { store, presence } = this.shared!;
    const key = this.options.prefix + wait.id;
    for (let tries = 0; tries < 3; tries++) {
      if (this.waits.get(wait.id) !== wait) return;
      const version = await store.write(key, this.stamped(wait.record), { ifVersion: wait.version ?? 0 });
      if (version !== undefined) {
        wait.version = version;
        return;
      }
      const now = await store.read(key);
      const owner = heldBy(now?.value);
      if (!now || owner !== presence.id) return this.letGo(wait, owner);
      wait.version = now.version;
    }
    throw new Error(`state refused ${key}`);
  }

  /** Deletes an ended wait's record, if it is still this instance's: false when another instance took it over (or ended it). */
  private async deleteOwned(wait: Wait<R>): Promise<boolean> {
    const { store, presence } = this.shared!;
    const key = this.options.prefix + wait.id;
    for (let tries = 0; tries < 3; tries++) {
      if ((await store.write(key, undefined, { ifVersion: wait.version ?? 0 })) !== undefined) return true;
      const now = await store.read(key);
      if (!now || heldBy(now.value) !== presence.id) return false;
      wait.version = now.version;
    }
    return true;
  }

  /**
   * An ended wait's delete the store could not answer, tried again until it does: deleted, or found
   * another instance's or gone. Tried at once when Redis says it is back (before another instance's
   * look can take the record over), else after `delayMs`, backing off to DELETE_RETRY_MAX_MS. A close
   * stops it (the record then stays for whoever resumes it).
   */
  private deleteLater(wait: Wait<R>, delayMs: number): void {
    if (this.closed) return;
    const engine = this.shared?.store.engine;
    let stopHearing = (): void => undefined;
    const cancel = (): void => {
      this.clock.clearTimeout(timer);
      stopHearing();
      this.deleteRetries.delete(cancel);
    };
    const again = (): void => {
      if (!this.deleteRetries.has(cancel)) return;
      cancel();
      this.deleteOwned(wait).catch(() => this.deleteLater(wait, Math.min(delayMs * 2, DELETE_RETRY_MAX_MS)));
    };
    const timer = this.clock.setTimeout(again, delayMs);
    if (engine && reportsHealth(engine)) stopHearing = engine.onHealth((health) => void (health.up && again()));
    this.deleteRetries.add(cancel);
  }

  /**
   * Several instances: a wait ends here only once its record is deleted as this instance's. An
   * instance paused past its lease (a frozen VM, a Redis that stalled) whose wait was taken over
   * meanwhile finds the record moved on: its msg leaves from the instance that took it, not from
   * here too. When the store cannot say (Redis down), this instance still holds it as far as it knows:
   * the msg leaves (at least once, never lost), and the delete is tried again until the store answers:
   * a record left behind would be resumed once Redis is back (by this instance's look, or by another's
   * takeover) and its msg would leave a second time.
   */
  private endOwned(wait: Wait<R>, send: (() => void) | undefined, error?: TwilioNodeError): Promise<void> {
    this.waits.delete(wait.id);
    this.heldBytes -= wait.bytes;
    const ending = this.afterWrites(wait, async () => {
      wait.owned = await this.deleteOwned(wait);
    })
      .catch(() => this.deleteLater(wait, DELETE_RETRY_FIRST_MS))
      .then(() => {
        if (wait.owned === false) {
          wait.accepted?.done();
          this.options.node.warn(this.say('waitTakenOver', { id: wait.id, instance: '-' }));
          return;
        }
        send?.();
        if (wait.accepted) wait.accepted.done(error);
        else if (error) this.options.node.error?.(error, wait.msg ?? (wait.record as { msg?: unknown }).msg);
      })
      .finally(() => this.ending.delete(ending));
    this.ending.add(ending);
    return ending;
  }

  /** A wait another instance took over: gone from here without a word to the flow (it goes on there). */
  private letGo(wait: Wait<R>, owner: string | undefined): void {
    if (this.waits.get(wait.id) !== wait) return;
    this.waits.delete(wait.id);
    this.heldBytes -= wait.bytes;
    wait.accepted?.done();
    this.options.node.warn(this.say('waitTakenOver', { id: wait.id, instance: owner ?? '-' }));
  }

  private stamped(record: R): unknown {
    return typeof record === 'object' && record !== null ? { ...record, [HELD_BY]: this.shared!.presence.id } : record;
  }

  /** The msg a wait sends: the one that came in, or the stored copy of a restored wait. */
  message(id: string): Msg | undefined {
    const wait = this.waits.get(id);
    return wait && ((wait.msg ?? (wait.record as { msg?: unknown }).msg) as Msg | undefined);
  }

  /**
   * Sends `msg` by output `port`. With `last`, the wait ends too (its done called once, with `error`
   * when Catch nodes should hear of something); the promise resolves once its record is gone from the
   * store (rejects when one instance's store refused the delete).
   */
  emit(id: string, port: number, msg: Msg, last = true, error?: TwilioNodeError): Promise<void> {
    const wait = this.waits.get(id);
    if (!wait) return Promise.resolve();
    const out = this.options.outputs === 1 ? msg : Array.from({ length: this.options.outputs }, (_, i) => (i === port ? msg : null));
    const send = () => (wait.accepted ? wait.accepted.send(out as Msg) : this.options.node.send(out));
    if (last && this.shared) return this.endOwned(wait, send, error);
    send();
    return last ? this.forget(wait, error) : Promise.resolve();
  }

  /** Ends a wait: gone from memory and store, its msg done. Returns it, or undefined when it had ended. */
  end(id: string, error?: TwilioNodeError): Wait<R> | undefined {
    const wait = this.waits.get(id);
    if (!wait) return undefined;
    if (this.shared) void this.endOwned(wait, undefined, error);
    else void this.forget(wait, error);
    return wait;
  }

  /**
   * One instance: the wait leaves memory, its msg is done, its record's delete goes: resolved once
   * committed, rejected when the store refused it (a restart would then find the wait again).
   */
  private forget(wait: Wait<R>, error?: TwilioNodeError): Promise<void> {
    this.waits.delete(wait.id);
    this.heldBytes -= wait.bytes;
    // Tracked: a redeploy's close waits for it, so the next node does not restore the wait and end it again.
    const deleted = this.track(this.options.store.set(this.options.prefix + wait.id, undefined));
    deleted.catch(() => undefined); // heard by those who asked (emit's callers); else it is the store's to report
    if (wait.accepted) wait.accepted.done(error);
    else if (error) this.options.node.error?.(error, wait.msg ?? (wait.record as { msg?: unknown }).msg);
    return deleted;
  }

  /**
   * The waits a previous run left in the store, each checked: a damaged record (hand-edited, or
   * from a version that stored less) is set aside under `damaged-<key>` for inspection, said once
   * in the log, and never resumed. `resume` runs on the restored waits before any msg that came
   * meanwhile is started: input waits for the restore, so a cancel or the same alarm again finds them.
   */
  async restore(resume?: (restored: Array<Wait<R>>) => void): Promise<Array<Wait<R>>> {
    let opened: () => void = () => undefined;
    this.restoring = new Promise<void>((resolve) => (opened = resolve));
    this.resumer = resume;
    try {
      const restored = this.shared ? await this.readShared(false) : await this.read();
      if (!this.closed) resume?.(restored);
      return restored;
    } finally {
      this.restoring = undefined;
      opened();
      if (this.shared && !this.closed) this.lookLater();
    }
  }

  /** Several instances: the next look for waits whose instance is gone, in a third of the lease. */
  private lookLater(): void {
    this.clock.clearTimeout(this.lookTimer);
    this.lookTimer = this.clock.setTimeout(() => {
      this.lookTimer = undefined;
      if (this.closed) return;
      this.readShared(true)
        .then((taken) => {
          this.lookFailing = false;
          if (!this.closed && taken.length > 0) this.resumer?.(taken);
        })
        .catch((err: unknown) => {
          // Said once while it fails (the store unreachable): the next look tries again.
          if (!this.lookFailing) this.options.node.warn(errorText(err));
          this.lookFailing = true;
        })
        .finally(() => {
          if (!this.closed) this.lookLater();
        });
    }, this.shared!.presence.everyMs);
  }

  /**
   * The stored waits this instance may take (several instances): its own from a run before in this
   * process (not on a later look: those are ended waits whose delete is under way), those of no one
   * and those of an instance whose lease is gone. Each is taken by compare-and-set on its version
   * (stamped with this instance): the one instance whose write succeeds resumes it.
   */
  private async readShared(later: boolean): Promise<Array<Wait<R>>> {
    const { store, presence } = this.shared!;
    await presence.ready();
    const restored: Array<Wait<R>> = [];
    const damaged: string[] = [];
    const gone = new Map<string | undefined, boolean>();
    let notSetAside: unknown;
    for await (const entry of store.entries(this.options.prefix)) {
      if (this.closed) break;
      const id = entry.key.slice(this.options.prefix.length);
      if (this.waits.has(id)) continue;
      const owner = heldBy(entry.value);
      if (owner === presence.id ? later : !(gone.get(owner) ?? gone.set(owner, await presence.isGone(owner)).get(owner))) continue;
      const record = unstamped(entry.value);
      if (!checked(this.options.isRecord, record)) {
        damaged.push(entry.key);
        notSetAside ??= await this.setAside(entry.key, entry.value);
        continue;
      }
      const version = await store.write(entry.key, this.stamped(record as R), { ifVersion: entry.version });
      if (version === undefined || this.waits.has(id)) continue; // another instance took it first
      const wait: Wait<R> = { id, record: record as R, bytes: Buffer.byteLength(JSON.stringify(record)), version };
      this.waits.set(id, wait);
      this.heldBytes += wait.bytes;
      restored.push(wait);
    }
    if (damaged.length > 0)
      this.options.node.warn(this.say('damagedWaits', { count: damaged.length, keys: damaged.slice(0, 5).join(', ') }));
    if (notSetAside !== undefined) this.options.node.warn(errorText(notSetAside));
    if (later && restored.length > 0) this.options.node.log(this.say('waitsTakenOver', { count: restored.length }));
    return restored;
  }

  private async read(): Promise<Array<Wait<R>>> {
    const restored: Array<Wait<R>> = [];
    const damaged: string[] = [];
    let notSetAside: unknown;
    for (const key of await this.options.store.keys()) {
      if (!key.startsWith(this.options.prefix)) continue;
      const id = key.slice(this.options.prefix.length);
      if (this.waits.has(id)) continue;
      const record = await this.options.store.get(key);
      if (!checked(this.options.isRecord, record)) {
        damaged.push(key);
        // Best effort: a store that refuses writes now must not keep the valid waits from resuming.
        notSetAside ??= await this.setAside(key, record);
        continue;
      }
      const wait: Wait<R> = { id, record: record as R, bytes: Buffer.byteLength(JSON.stringify(record)) };
      this.waits.set(id, wait);
      this.heldBytes += wait.bytes;
      restored.push(wait);
    }
    if (damaged.length > 0)
      this.options.node.warn(this.say('damagedWaits', { count: damaged.length, keys: damaged.slice(0, 5).join(', ') }));
    if (notSetAside !== undefined) this.options.node.warn(errorText(notSetAside));
    return restored;
  }

  /** Moves a damaged record to `damaged-<key>`; answers the store's error, if it refused. */
  private async setAside(key: string, record: unknown): Promise<unknown> {
    try {
      await this.options.store.set(`damaged-${key}`, record);
      await this.options.store.set(key, undefined);
      return undefined;
    } catch (err) {
      return err ?? new Error('store refused');
    }
  }

  /**
   * Closes the room. Work under way (msgs being sent, tracked steps) gets one budget to finish; then
   * a removed node ends each wait (`endRemoved` says with what error, if any) and its store is
   * forgotten, while a redeploy or shutdown lets each go: its msg done, its record kept to resume.
   * Never rejects: what `endRemoved` throws is logged, and that wait ends all the same (a node's
   * close must call its done whatever happens).
   */
  close(removed: boolean, endRemoved: (wait: Wait<R>) => TwilioNodeError | undefined = () => undefined): Promise<void> {
    return this.closeNow(removed, endRemoved)
      .catch((err: unknown) => this.options.node.warn(errorText(err)))
      .finally(() => this.waits.hide());
  }

  private async closeNow(removed: boolean, endRemoved: (wait: Wait<R>) => TwilioNodeError | undefined): Promise<void> {
    this.closed = true;
    this.beganClosing?.();
    this.clock.clearTimeout(this.lookTimer);
    for (const cancel of [...this.deleteRetries]) cancel();
    if (this.shared) this.shared.presence.leave();
    const budget = this.options.closeBudgetMs ?? CLOSE_BUDGET_MS;
    let timer: Timer | undefined;
    const outOfTime = new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, budget)));
    const intakeClosed = this.intake.close();
    const idle = new Promise<void>((resolve) => (this.underWay === 0 ? resolve() : (this.onIdle = resolve)));
    await Promise.race([idle, outOfTime]);
    if (removed) {
      for (const wait of [...this.waits.values()]) this.end(wait.id, this.endingOf(wait, endRemoved));
    } else {
      const left = [...this.waits.values()];
      this.waits.clear();
      for (const wait of left) wait.accepted?.done();
      if (left.length > 0) this.options.node.log(this.say('waitsKept', { count: left.length }));
    }
    // Several instances: the endings waiting on their owned deletes, within what is left of the budget.
    if (this.ending.size > 0) await Promise.race([Promise.all(this.ending), outOfTime]);
    await intakeClosed;
    this.clock.clearTimeout(timer);
  }

  private endingOf(wait: Wait<R>, endRemoved: (wait: Wait<R>) => TwilioNodeError | undefined): TwilioNodeError | undefined {
    try {
      return endRemoved(wait);
    } catch (err) {
      this.options.node.warn(errorText(err));
      return undefined;
    }
  }

  private say(key: string, subs: Record<string, string | number>): string {
    return render(text(key, subs), this.options.translate);
  }
}

/** A record's check, whatever it throws on a shape it did not expect: false. */
function checked<R>(isRecord: (value: unknown) => value is R, record: unknown): boolean {
  try {
    return isRecord(record);
  } catch {
    return false;
  }
}

/** The instance a stored record says holds it (several instances on one engine). */
function heldBy(value: unknown): string | undefined {
  const owner = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[HELD_BY] : undefined;
  return typeof owner === 'string' ? owner : undefined;
}

/** A stored record without the instance that held it. */
function unstamped(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !(HELD_BY in value)) return value;
  const { [HELD_BY]: _owner, ...record } = value as Record<string, unknown>;
  return record;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A wait's id: unique in its store, as RED.util.generateId makes them. */
function randomId(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A status that follows a burst, not each change: at most every 250 ms unless forced (thousands of
 * status events a second would tell the editor nothing).
 */
export function throttled(show: () => void, clock: Clock = systemClock, everyMs = 250): (force?: boolean) => void {
  let last = -Infinity;
  return (force = false) => {
    const now = clock.now();
    if (!force && now - last < everyMs) return;
    last = now;
    show();
  };
}
