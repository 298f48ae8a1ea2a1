/**
 * One poller per account and number across instances on one engine: the lease holder looks, the
 * others stand by and take over once its lease expires; a paused holder whose lease was taken
 * cannot move the cursor (every cursor write is fenced with the lease).
 * A real engine (embedded LMDB) seen as shared; each "instance" is a poller with its own holder id.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type twilio from 'twilio';
import { ManualClock } from '../../../lib/core/clock';
import { engineStore } from '../../../lib/account/node-state';
import { DuplicateWindow } from '../../../lib/inbound/dedupe';
import { InboundPoller, type PollOutcome } from '../../../lib/inbound/poller';
import type { StateEngine } from '../../../lib/state/engine';
import { openStateEngine } from '../../../lib/state/open';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'poll-lease-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Engine calls still under way (a commit waits for the disk): time moves on only once they are done. */
let pending = 0;
async function settled(): Promise<void> {
  for (let quiet = 0; quiet < 3;) {
    await new Promise((resolve) => setImmediate(resolve));
    quiet = pending === 0 ? quiet + 1 : 0;
  }
}

function sharedView(engine: StateEngine): StateEngine {
  return new Proxy(engine, {
    get: (target, property) => {
      if (property === 'guarantees') return { durable: 'commit', instances: 'many' };
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        pending++;
        return result.finally(() => pending--);
      };
    },
  });
}

const LEASE_MS = 3_000;

async function pass(clocks: ManualClock[], ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 250) {
    for (const clock of clocks) {
      await clock.advance(Math.min(250, left));
      await settled();
    }
  }
}

function poller(engine: StateEngine, holder: string, clock: ManualClock) {
  const store = engineStore(engine, 'node/in/');
  const looks = { count: 0 };
  const outcomes: PollOutcome[] = [];
  const page = () => {
    looks.count++;
    return Promise.resolve({ instances: [], nextPageUrl: undefined, nextPage: () => Promise.resolve(undefined) });
  };
  const client = { messages: { page }, calls: { page } } as unknown as twilio.Twilio;
  const it = new InboundPoller({
    client: () => client,
    store,
    seen: new DuplicateWindow(store, { windowMs: 60_000, capacity: 100, prefix: 'polled', clock }),
    messages: true,
    calls: false,
    intervalMs: 1_000,
    onEvent: () => undefined,
    onPoll: (outcome) => outcomes.push(outcome),
    clock,
    leaseName: 'poll/AC1/+15017122661',
    leaseMs: LEASE_MS,
    holder,
  });
  return { poller: it, looks, outcomes };
}

describe('one poller per account and number (a fenced lease)', () => {
  it('the holder looks, the other stands by and takes over once the holder’s lease expires; a paused holder cannot move the cursor', async () => {
    const clock = new ManualClock();
    const raw = openStateEngine({ backend: 'embedded', dir: path.join(tmp, 'e1') }, clock);
    const engine = sharedView(raw);
    try {
      const pausedClock = new ManualClock(clock.now());
      const a = poller(engine, 'A', pausedClock);
      const b = poller(engine, 'B', clock);
      a.poller.start();
      await pass([pausedClock, clock], 250);
      b.poller.start();
      await pass([pausedClock, clock], 4_000);
      assert.ok(a.looks.count >= 3, `the holder looks (${a.looks.count})`);
      assert.equal(b.looks.count, 0, 'the other never asks Twilio');
      assert.ok(b.outcomes.length > 0 && b.outcomes.every((o) => o.standingBy), 'and says it stands by');

      // A pauses (its clock stops): its lease is not renewed, B takes over within the lease.
      const cursorBefore = await raw.get('node/in/twilio-in-poll-cursor');
      await pass([clock], LEASE_MS + 1_500);
      assert.ok(b.looks.count >= 1, 'B took over');
      const cursorTaken = await raw.get('node/in/twilio-in-poll-cursor');
      assert.ok(cursorTaken!.version > cursorBefore!.version, 'B moves the cursor');

      // A wakes up believing its lease still runs: whether its next look comes before its renewal
      // (then its fenced cursor write is refused) or after it (then it finds the lease gone and does
      // not look), it never moves the cursor, and it stands by.
      for (let ms = 0; ms < 2_000 && !a.outcomes.at(-1)?.standingBy; ms += 250) {
        await pausedClock.advance(250);
        await settled();
      }
      const afterA = await raw.get('node/in/twilio-in-poll-cursor');
      assert.equal(afterA!.version, cursorTaken!.version, 'A’s fenced cursor write was refused: the cursor is B’s');
      const lastA = a.outcomes.at(-1)!;
      assert.equal(lastA.standingBy, true, 'A found its lease gone and stands by');
      const bLooks = b.looks.count;
      await pass([clock, pausedClock], 2_000);
      assert.ok(b.looks.count > bLooks, 'B goes on looking');
      await Promise.all([a.poller.stop(), b.poller.stop()]);
    } finally {
      await raw.close();
    }
  });

  it('a stopped holder gives its lease up: the other takes over at its next look, not a lease later', async () => {
    const clock = new ManualClock();
    const raw = openStateEngine({ backend: 'embedded', dir: path.join(tmp, 'e2') }, clock);
    const engine = sharedView(raw);
    try {
      const a = poller(engine, 'A', clock);
      const b = poller(engine, 'B', clock);
      a.poller.start();
      await pass([clock], 250);
      b.poller.start();
      await pass([clock], 1_500);
      assert.equal(b.looks.count, 0);
      await a.poller.stop();
      await pass([clock], 1_250);
      assert.ok(b.looks.count >= 1, 'B looks within one interval');
      await b.poller.stop();
    } finally {
      await raw.close();
    }
  });
});
