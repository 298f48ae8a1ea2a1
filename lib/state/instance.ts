/**
 * This Node-RED process among the others on one shared state engine (several instances on one
 * Redis): its identity, and a lease that says it is alive.
 *
 *   instanceId  one per process, random: what a record says when it names its owner (a wait, a page, a
 *               question), and where a reply for one of them is to be routed.
 *   Presence    the process's instance lease `instance/<id>` on one engine, renewed every third of
 *               its time (INSTANCE_LEASE_MS, 30 s by default) on the Clock. Another instance whose
 *               records name an owner asks `isGone(owner)`: that takes the owner's lease for itself
 *               when it has expired, so among the instances that ask, one at a time holds the right
 *               to take that owner's records over (each by compare-and-set, one record at a time).
 *
 * On a one-instance engine (embedded, context) every owner but this process is a previous run of
 * it: gone at once, so a restart resumes everything as it always did, without waiting for a lease.
 * A restart on a shared engine: the process before it on the same host and user dir (its home) is
 * its predecessor, gone for sure: its work is taken over at once rather than a lease later.
 * After an outage that cut this instance off (its lease could not be renewed), it takes nothing over
 * for OUTAGE_GRACE_LEASES leases (at least OUTAGE_GRACE_MIN_MS): the others were cut off too, and each
 * reconnects on its own backoff; one that is back later than this one is not gone, and its ended work's
 * deletes are still on their way (a takeover then would send a msg a second time).
 * Settings: `twilio: { leaseMs }` in settings.js shortens the lease (tests; a takeover then comes sooner).
 */
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Clock, Timer, systemClock } from '../core/clock';
import type { Lease, StateEngine } from './engine';

/**
 * This process, among the instances sharing an engine: new at each start (a restarted process is a
 * new instance; what the old one held is taken over once its lease is gone). TWILIO_INSTANCE_ID, when
 * set, names it (readable ids in Redis); it must still differ between processes running at once.
 */
export const instanceId: string =
  process.env.TWILIO_INSTANCE_ID || `${os.hostname()}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;

/** How long an instance's lease lasts unless renewed: the longest a dead instance's work waits to be taken over. */
export const INSTANCE_LEASE_MS = 30_000;
let leaseMs = INSTANCE_LEASE_MS;

/** The lease time for presences started from now on (settings.js `twilio.leaseMs`); returns the one before. */
export function setInstanceLeaseMs(ms: number | undefined): number {
  const before = leaseMs;
  leaseMs = typeof ms === 'number' && Number.isFinite(ms) && ms >= 100 ? ms : INSTANCE_LEASE_MS;
  return before;
}

export function instanceLeaseMs(): number {
  return leaseMs;
}

let home: string | undefined;

/** Where this process runs (its host and Node-RED user dir): a later process of the same home is its successor. */
export function setInstanceHome(userDir: string | undefined): void {
  home = userDir ? `${os.hostname()} ${path.resolve(userDir)}` : undefined;
}

/** After an outage, takeovers wait this many leases, and at least OUTAGE_GRACE_MIN_MS (see the header). */
const OUTAGE_GRACE_LEASES = 2;
/** Longer than Redis's longest reconnection backoff (5 s, with its jitter): every instance is back by then. */
export const OUTAGE_GRACE_MIN_MS = 10_000;

const leaseName = (id: string) => `instance/${id}`;
const takeoverName = (id: string) => `instance-takeover/${id}`;
const homeKey = (place: string) => `instance-home/${crypto.createHash('sha256').update(place).digest('hex').slice(0, 32)}`;

export class Presence {
  private lease?: Lease;
  private timer?: Timer;
  private users = 0;
  /** The take or renewal under way. */
  private attempt?: Promise<void>;
  private readonly ttlMs: number;
  /** The process before this one in the same home, once read: gone (see the header). */
  private predecessor?: string;
  private homeRead = false;
  /** A renewal failed (an outage cut this instance off); then when the lease was held again. */
  private cutOff = false;
  private backSince?: number;

  constructor(
    readonly engine: StateEngine,
    readonly id: string = instanceId,
    private readonly clock: Clock = systemClock,
    ttlMs?: number,
    private readonly place: string | undefined = home,
  ) {
    this.ttlMs = ttlMs ?? leaseMs;
  }

  /** Whether instances share this engine: else ownership is moot (see the header). */
  get shared(): boolean {
    return this.engine.guarantees.instances === 'many';
  }

  /** How often owners are looked at and the lease renewed. */
  get everyMs(): number {
    return Math.max(50, Math.floor(this.ttlMs / 3));
  }

  /** One more user: the lease is taken (if it is not yet) and kept. Call `leave` after. */
  join(): void {
    this.users++;
    if (this.shared && !this.attempt && !this.timer) void this.tick().catch(() => undefined);
  }

  /** One user less; the last stops renewing (the lease then expires by itself, and others take over). */
  leave(): void {
    if (--this.users > 0) return;
    this.users = 0;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Resolves once the lease is held (records stamped with this instance are then safe); rejects while it cannot be taken. */
  ready(): Promise<void> {
    if (this.holding) return Promise.resolve();
    return this.attempt ?? this.tick();
  }

  /** The lease is held now (by this instance's clock). */
  get holding(): boolean {
    return !this.shared || (this.lease !== undefined && this.lease.expiresAt > this.clock.now());
  }

  /**
   * Whether `owner`'s work may be taken over: not this instance, and its lease has expired. On a
   * shared engine this instance then holds the right to take `owner`'s work over for a while: no other
   * instance takes over at the same time (each record is still taken by compare-and-set). The owner's
   * own lease is left free, so an owner that was only cut off (a Redis that stalled past every lease)
   * takes it back at its next renewal, and is then alive again for everyone. An instance that does
   * not hold its own lease takes nothing over: after such a stall, two instances would else each find
   * the other gone and take the same work back and forth.
   */
  async isGone(owner: string | undefined): Promise<boolean> {
    if (owner === this.id) return false;
    if (owner === undefined || !this.shared || owner === this.predecessor) return true;
    if (!this.holding || this.inOutageGrace) return false;
    const probe = await this.engine.lease(leaseName(owner), this.id, this.ttlMs);
    if (!probe) return false;
    await this.engine.release(probe);
    return (await this.engine.lease(takeoverName(owner), this.id, this.ttlMs)) !== undefined;
  }

  /** Back from an outage less than the grace ago: others may still be reconnecting (see the header). */
  private get inOutageGrace(): boolean {
    if (this.backSince === undefined) return false;
    const grace = Math.max(OUTAGE_GRACE_LEASES * this.ttlMs, OUTAGE_GRACE_MIN_MS);
    return this.clock.now() < this.backSince + grace;
  }

  /** Takes or renews the lease now, and again in a third of its time (a failure too: retried at that pace). */
  private tick(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const attempt = this.keep();
    this.attempt = attempt;
    const next = () => {
      if (this.attempt === attempt) this.attempt = undefined;
      if (this.users > 0 && !this.timer)
        this.timer = this.clock.setTimeout(() => void ((this.timer = undefined), this.tick().catch(() => undefined)), this.everyMs);
    };
    attempt.then(next, next);
    return attempt;
  }

  private async keep(): Promise<void> {
    try {
      const renewed = this.lease && (await this.engine.renew(this.lease, this.ttlMs));
      this.lease = renewed || (await this.engine.lease(leaseName(this.id), this.id, this.ttlMs));
    } catch (err) {
      this.cutOff = true;
      throw err;
    }
    if (!this.lease) throw new Error(`instance lease ${this.id} is held by another`);
    if (this.cutOff) {
      this.cutOff = false;
      this.backSince = this.clock.now();
    }
    if (!this.homeRead && this.place !== undefined) {
      // Read before this instance's first record is written: what the process before it left is its own to resume.
      const before = await this.engine.get(homeKey(this.place));
      if (typeof before?.value === 'string' && before.value !== this.id) this.predecessor = before.value;
      await this.engine.put(homeKey(this.place), this.id);
      this.homeRead = true;
    }
  }
}

const presences = new WeakMap<StateEngine, Presence>();

/** This process's presence on `engine` (one per engine). */
export function presenceOn(engine: StateEngine): Presence {
  let presence = presences.get(engine);
  if (!presence) presences.set(engine, (presence = new Presence(engine)));
  return presence;
}
