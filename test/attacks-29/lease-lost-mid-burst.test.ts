/**
 * Attack 29: two instances poll one account and number on one Redis (a real redis-server, each
 * instance its own connection); the poll lease holder A loses its lease in the middle of a burst,
 * right after it emitted text 5, while that text's records (handedOn, its Sid remembered) are still
 * pending (held: A's process is paused). B takes the lease over and looks; then A wakes up, its
 * pending records go (or fail), and it goes on with its look believing its lease still runs.
 * Each "instance" is an InboundPoller with its own holder and clock, its onEvent as twilio-in's
 * receiver (heardFirst, emit, handedOn returned as `recorded`). In one process both share one
 * instance id, so a claim of A's is never taken over as a dead instance's (only after TAKEOVER_MS).
 *
 * Found: HELD. Every text is emitted once across A and B, whether A's pending records then land or
 * fail; B's cursor is kept (A's fenced cursor write is refused); nothing unhandled.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, it } from 'node:test';
import type twilio from 'twilio';
import { ManualClock, installClock } from '../../lib/core/clock';
import { engineStore } from '../../lib/account/node-state';
import { DuplicateWindow } from '../../lib/inbound/dedupe';
import { handedOn, heardFirst } from '../../lib/inbound/heard';
import { InboundPoller, type PollOutcome } from '../../lib/inbound/poller';
import type { StateEngine } from '../../lib/state/engine';
import { RedisStateEngine } from '../../lib/state/redis';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';
import { HOUSE, faulty, standInTwilio, twice, unhandledDuring } from './burst';

const LEASE_MS = 3_000;
const BURST = 12;
const AT = 5;

function instance(
  engine: StateEngine,
  holder: string,
  clock: ManualClock,
  client: unknown,
  accountSid: string,
  gate?: { at: number; open: Promise<void>; reached: () => void },
) {
  const store = engineStore(engine, 'node/in/');
  const emitted: string[] = [];
  const outcomes: PollOutcome[] = [];
  let events = 0;
  const poller = new InboundPoller({
    client: () => client as twilio.Twilio,
    store,
    seen: new DuplicateWindow(store, { windowMs: 30 * 24 * 3600_000, capacity: 20_000, prefix: 'twilio-in-polled', clock }),
    to: HOUSE,
    messages: true,
    calls: false,
    intervalMs: 10_000,
    onEvent: async (event) => {
      // Paused before it claims the text after text 5 (text 5's records still pending).
      if (gate && ++events === gate.at) {
        gate.reached();
        await gate.open;
      }
      const identity = `message|${event.sid}`;
      if (!(await heardFirst(engine, accountSid, identity))) return;
      emitted.push(event.sid);
      return { recorded: handedOn(engine, accountSid, identity) };
    },
    onPoll: (outcome) => void outcomes.push(outcome),
    clock,
    leaseName: `poll/${accountSid}/${HOUSE}`,
    leaseMs: LEASE_MS,
    holder,
  });
  return { poller, emitted, outcomes };
}

suiteNeeding(noRedis, 'attack 29: the poll lease lost mid-burst with records pending', () => {
  let redis: RedisServer;
  before(async () => (redis = await startRedis()));
  after(() => redis?.stop());

  for (const then of ['land', 'fail'] as const) {
    it(`A paused after text 5 (its records pending), B takes over; A's records then ${then}: every text once`, async (t) => {
      const clock = new ManualClock(Date.UTC(2026, 11, 7, 12));
      const restore = installClock(clock);
      const pausedClock = new ManualClock(clock.now());
      const prefix = `attack29-${crypto.randomBytes(4).toString('hex')}:`;
      const rawA = new RedisStateEngine({ url: redis.url, clock, prefix });
      const rawB = new RedisStateEngine({ url: redis.url, clock, prefix });
      const a = faulty(rawA);
      const accountSid = 'AC' + crypto.randomBytes(16).toString('hex');
      const tw = standInTwilio(clock, accountSid);
      let open: () => void = () => undefined;
      let reached = false;
      const gate = { at: AT + 1, open: new Promise<void>((resolve) => (open = resolve)), reached: () => (reached = true) };
      const A = instance(a.engine, 'A', pausedClock, tw.client, accountSid, gate);
      const B = instance(rawB, 'B', clock, tw.client, accountSid);
      try {
        const unhandled = await unhandledDuring(async () => {
          await A.poller.look(); // A holds the lease: its first look sets the mark
          await B.poller.look();
          assert.equal(B.outcomes.at(-1)?.standingBy, true, 'B stands by');
          const sent = Array.from({ length: BURST }, () => tw.text());
          // A's records of text 5 hang: A is paused (a stalled VM) as it comes to text 6.
          const writes = a.onWrite;
          a.onWrite = (method, key, value) => {
            if (A.emitted.length === AT && !reached) a.fault = 'hold';
            writes(method, key, value);
          };
          const looking = A.poller.look();
          for (const deadline = Date.now() + 5_000; !reached && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 1));
          assert.ok(reached, 'A paused at text 6');
          assert.deepEqual(A.emitted, sent.slice(0, AT));
          assert.ok(a.held.length >= 1, "text 5's records are pending");
          // A's lease runs out (by B's clock); B takes over and looks.
          await clock.advance(LEASE_MS + 1);
          await B.poller.look();
          assert.equal(B.outcomes.at(-1)?.error, undefined, B.outcomes.at(-1)?.error?.message);
          // A wakes up: its pending records land (or fail), and it goes on with its look.
          a.fault = 'none';
          for (const write of a.held.splice(0)) (then === 'land' ? write.release : write.fail)();
          open();
          await looking;
          await B.poller.look();
          const all = [...A.emitted, ...B.emitted];
          t.diagnostic(
            `A emitted ${A.emitted.length}, B ${B.emitted.length}; A's last look: ${A.outcomes.at(-1)?.error?.code ?? 'no error said'}`,
          );
          assert.deepEqual(twice(all), {}, `emitted twice: A ${A.emitted.length}, B ${B.emitted.length}`);
          assert.deepEqual([...all].sort(), [...sent].sort(), 'every text');
          assert.ok(!A.outcomes.at(-1)?.error || then === 'fail', `A's look: ${A.outcomes.at(-1)?.error?.message}`);
          const cursor = (await rawB.get('node/in/twilio-in-poll-cursor'))?.value as { messages?: number };
          assert.ok(cursor?.messages !== undefined && cursor.messages >= clock.now() - 60_000, "B's cursor kept");
        });
        assert.deepEqual(unhandled, []);
      } finally {
        await Promise.all([A.poller.stop(), B.poller.stop()]);
        restore();
        await Promise.all([rawA.close(), rawB.close()]);
      }
    });
  }
});
