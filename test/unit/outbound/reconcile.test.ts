/**
 * reconcileIntent against the simulator (a real HTTP Twilio stand-in, through the account's SDK
 * client) and the account's real state engine: an intent a crash left without its Sid is found (To,
 * sender, body, minutes), or not; two identical intents take two records; a Messaging Service's
 * message; and a Twilio that cannot be asked rejects (the caller tries later) instead of answering
 * "not sent". Times are compared on Twilio's clock (the offset learnt from its Date headers), and a
 * Sid another intent got (its wait ended since) is never taken: claimed atomically, remembered for
 * SID_MEMORY_MS, and a record older than that memory, made before the intent, is not guessed to be it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock, installClock } from '../../../lib/core/clock';
import type { Node, NodeAPI } from 'node-red';
import { TwilioAccount, openAccount } from '../../../lib/account/account';
import {
  RECONCILE_RETRY_MAX_MS,
  RECONCILE_SETTLE_MS,
  RECONCILE_WINDOW_MS,
  ReconcileNotYet,
  SID_MEMORY_MS,
  SendIntent,
  reconcileIntent,
  reconcileRetryMs,
  reconcilingSince,
  rememberSid,
} from '../../../lib/outbound/reconcile';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../../simulator/server';
import { setClockSkew } from '../../../simulator/resources';
import { freePort } from '../../support/prism';

const RED = { util: (require('@node-red/util') as { util: NodeAPI['util'] }).util, _: (key: string) => key } as unknown as NodeAPI;
const API_KEY = DEMO_ACCOUNT.apiKeys![0];
const FROM = '+15017122661';
const SERVICE = 'MG' + 'a'.repeat(32);
/** The node the looks are made for: looking since long ago, so a look that finds nothing concludes "not sent". */
const owner = {};
reconcilingSince(owner, 0);

function accountAt(baseUrl: string, settings: Record<string, unknown> = {}): { account: TwilioAccount; close: () => Promise<void> } {
  const node = {} as Node & TwilioAccount;
  const close = openAccount(
    RED,
    node,
    { authMode: 'apiKey', region: '', edge: '', defaultFrom: FROM, baseUrl, ...settings },
    { accountSid: DEMO_ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret },
  );
  return { account: node, close };
}

describe('reconcileIntent', () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let account: TwilioAccount;
  let close: () => Promise<void>;
  let n = 0;
  /** A fresh recipient per test, so the records of one do not meet another's. */
  const recipient = () => `+1555555${String(7000 + n++)}`;

  before(async () => {
    await simulator.start();
    ({ account, close } = accountAt(simulator.url));
  });
  after(async () => {
    await close();
    await simulator.stop();
  });

  const send = (params: Record<string, unknown>) =>
    account.getClient().messages.create(params as never) as unknown as Promise<{ sid: string }>;
  const message = (to: string, body: string, at = Date.now()): SendIntent => ({ kind: 'message', to, from: FROM, body, at });

  it('finds the record an intent became (To, From, body, within the minutes), and not one with another body', async () => {
    const to = recipient();
    const { sid } = await send({ to, from: FROM, body: 'Garage open' });
    await send({ to, from: FROM, body: 'Garage closed' });
    assert.equal(await reconcileIntent(account, owner, message(to, 'Garage open')), sid);
    assert.equal(await reconcileIntent(account, owner, message(to, 'Garage ajar')), undefined, 'not sent');
    assert.equal(await reconcileIntent(account, owner, message(recipient(), 'Garage open')), undefined, 'another recipient');
  });

  it("does not take a record created outside the window of the intent's time", async () => {
    const to = recipient();
    await send({ to, from: FROM, body: 'Old news' });
    const later = Date.now() + RECONCILE_WINDOW_MS + 60_000;
    assert.equal(await reconcileIntent(account, owner, message(to, 'Old news', later)), undefined);
  });

  it('gives two identical intents two different Sids, and a third none (two texts were sent)', async () => {
    const to = recipient();
    const first = await send({ to, from: FROM, body: 'Same' });
    const second = await send({ to, from: FROM, body: 'Same' });
    const taken = new Set<string>();
    const a = await reconcileIntent(account, owner, message(to, 'Same'), taken);
    const b = await reconcileIntent(account, owner, message(to, 'Same'), taken);
    assert.deepEqual([a, b].sort(), [first.sid, second.sid].sort());
    assert.equal(await reconcileIntent(account, owner, message(to, 'Same'), taken), undefined);
  });

  it('never gives a Sid another wait holds', async () => {
    const to = recipient();
    const { sid } = await send({ to, from: FROM, body: 'Held' });
    assert.equal(await reconcileIntent(account, owner, message(to, 'Held'), new Set([sid])), undefined);
  });

  it('finds a message sent through a Messaging Service (no From of ours), not one of another service', async () => {
    const to = recipient();
    const { sid } = await send({ to, messagingServiceSid: SERVICE, body: 'Via service' });
    const intent: SendIntent = { kind: 'message', to, messagingServiceSid: SERVICE, body: 'Via service', at: Date.now() };
    assert.equal(await reconcileIntent(account, owner, { ...intent, messagingServiceSid: 'MG' + 'b'.repeat(32) }), undefined);
    assert.equal(await reconcileIntent(account, owner, intent), sid);
  });

  it('finds a call by recipient, caller and time', async () => {
    const to = recipient();
    const call = (await account.getClient().calls.create({ to, from: FROM, twiml: '<Response><Say>Hi</Say></Response>' })) as {
      sid: string;
    };
    const intent: SendIntent = { kind: 'call', to, from: FROM, at: Date.now() };
    assert.equal(await reconcileIntent(account, owner, intent), call.sid);
    assert.equal(await reconcileIntent(account, owner, intent, new Set([call.sid])), undefined, 'one call, one intent');
  });

  it('reads past the first page: a record under a thousand newer ones to the same recipient is found', async () => {
    const to = recipient();
    const { sid } = await send({ to, from: FROM, body: 'Deep' });
    for (let i = 0; i < 1_050; i += 50)
      await Promise.all(Array.from({ length: 50 }, (_, j) => send({ to, from: FROM, body: `later ${i + j}` })));
    assert.equal(await reconcileIntent(account, owner, message(to, 'Deep')), sid);
  });

  it('says "not sent" only RECONCILE_SETTLE_MS after its node began looking (a create may still be made at Twilio)', async () => {
    const clock = new ManualClock();
    const restore = installClock(clock);
    try {
      const restarted = {}; // a restarted node: it begins looking now
      const to = recipient();
      const late = message(to, 'Back door', clock.now() - 1_000);
      const first = await reconcileIntent(account, restarted, late).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(first instanceof ReconcileNotYet, `not yet: ${String(first)}`);
      assert.equal(first.waitMs, RECONCILE_SETTLE_MS);
      await clock.advance(4_000);
      await assert.rejects(reconcileIntent(account, restarted, late), (err) => err instanceof ReconcileNotYet && err.waitMs === 6_000);
      // The create that reached Twilio as the process died is made now: the next look finds it.
      const { sid } = await send({ to, from: FROM, body: 'Back door' });
      assert.equal(await reconcileIntent(account, restarted, late), sid);
      await clock.advance(6_000);
      assert.equal(await reconcileIntent(account, restarted, message(to, 'Front door', clock.now() - 1_000)), undefined, 'settled');
      assert.equal(reconcilingSince(restarted), clock.now() - RECONCILE_SETTLE_MS);
    } finally {
      restore();
    }
  });

  it('rejects when Twilio cannot be asked (the caller tries again later), never answering "not sent"', async () => {
    const port = await freePort(); // nothing listens there
    const unreachable = accountAt(`http://127.0.0.1:${port}`, { maxRetries: 0 });
    try {
      await assert.rejects(reconcileIntent(unreachable.account, owner, message(recipient(), 'x')));
    } finally {
      await unreachable.close();
    }
    const failing = accountAt(simulator.url, { maxRetries: 0 });
    try {
      simulator.failNext({ type: 'http', status: 503, code: 20003, message: 'Service unavailable' });
      await assert.rejects(reconcileIntent(failing.account, owner, message(recipient(), 'x')));
    } finally {
      await failing.close();
    }
  });

  describe("on Twilio's clock", () => {
    after(() => setClockSkew(0));

    it("finds a text when this machine's clock is 10 minutes ahead of Twilio's, learning the offset from its own list first", async () => {
      setClockSkew(-600_000); // Twilio's clock behind ours: its dateCreated is 10 minutes before our intent's time
      const to = recipient();
      const { sid } = await send({ to, from: FROM, body: 'Water leak' });
      // A restart: a fresh account, no answer seen yet; the intent was made before any answer (no offset with it).
      const restarted = accountAt(simulator.url);
      try {
        assert.equal(restarted.account.queue.twilioClock.offsetMs(), undefined);
        assert.equal(await reconcileIntent(restarted.account, owner, message(to, 'Water leak'), new Set(), 'r-1'), sid);
        const offset = restarted.account.queue.twilioClock.offsetMs()!;
        assert.ok(Math.abs(offset + 600_000) < 2_000, `learnt ${offset} ms`);
      } finally {
        await restarted.close();
      }
    });

    it('takes the offset stored with the intent over the one known now (the clock was set between them)', async () => {
      setClockSkew(0);
      const to = recipient();
      const { sid } = await send({ to, from: FROM, body: 'Door open' });
      // Made while this machine was 10 minutes ahead (the offset said so), reconciled after NTP set it right.
      const intent = { ...message(to, 'Door open', Date.now() + 600_000), twilioOffsetMs: -600_000 };
      assert.equal(await reconcileIntent(account, owner, intent, new Set(), 'r-2'), sid);
      const wrong = { ...message(recipient(), 'Door open', Date.now() + 600_000), twilioOffsetMs: 0 };
      assert.equal(await reconcileIntent(account, owner, wrong, new Set(), 'r-3'), undefined, 'the stored offset is the one used');
    });
  });

  describe('Sids other intents got', () => {
    it('never takes the Sid of an identical text another intent got (its wait ended since); takes back its own', async () => {
      const to = recipient();
      const { sid } = await send({ to, from: FROM, body: 'Smoke alarm' });
      await rememberSid(account, sid, 'send/first/' + to); // as the first alarm's send did when Twilio answered
      // The second alarm's request never left; its reconcile must not take the first one's text.
      assert.equal(await reconcileIntent(account, owner, message(to, 'Smoke alarm'), new Set(), 'send/second/' + to), undefined);
      // The first's own intent (Twilio answered, the crash came before its wait kept the Sid) finds it.
      assert.equal(await reconcileIntent(account, owner, message(to, 'Smoke alarm'), new Set(), 'send/first/' + to), sid);
    });

    it('gives one record to one of two intents that reconcile at once (two nodes or instances, no shared `taken`)', async () => {
      const to = recipient();
      const { sid } = await send({ to, from: FROM, body: 'Gate open' });
      const found = await Promise.all(
        ['a', 'b', 'c'].map((ref) => reconcileIntent(account, owner, message(to, 'Gate open'), new Set(), `send/${ref}/${to}`)),
      );
      assert.deepEqual(
        found.filter((f) => f !== undefined),
        [sid],
        `one intent has it: ${JSON.stringify(found)}`,
      );
    });

    it('does not guess that a record made before the intent is it once whose it was may be forgotten (a restart hours later)', async () => {
      const to = recipient();
      const madeAt = Date.now();
      const early = await send({ to, from: FROM, body: 'Flood' });
      await rememberSid(account, early.sid, 'send/early/' + to);
      // The second identical alarm's intent, 90 s later; its request never left. The restart comes 25 hours on.
      const intent = { ...message(to, 'Flood', madeAt + 90_000), twilioOffsetMs: 0 };
      const clock = new ManualClock(Date.now() + 25 * 3_600_000);
      const restore = installClock(clock);
      setClockSkew(25 * 3_600_000); // Twilio's clock moved on as well
      const restarted = accountAt(simulator.url);
      try {
        assert.ok(25 * 3_600_000 > SID_MEMORY_MS, 'the first alarm’s claim has expired');
        assert.equal(await reconcileIntent(restarted.account, owner, intent, new Set(), 'send/late/' + to), undefined);
      } finally {
        await restarted.close();
        setClockSkew(0);
        restore();
      }
      // Within the memory the same look trusts the claims: a record after the intent is taken.
      const later = await send({ to, from: FROM, body: 'Flood' });
      assert.equal(await reconcileIntent(account, owner, { ...intent, at: Date.now() - 1_000 }, new Set(), 'send/late/' + to), later.sid);
    });
  });

  it('waits longer after each failed try, as the account does, up to its longest wait', () => {
    assert.deepEqual([0, 1, 2, 3].map(reconcileRetryMs), [250, 500, 1_000, 2_000]);
    assert.equal(reconcileRetryMs(30), RECONCILE_RETRY_MAX_MS);
  });
});
