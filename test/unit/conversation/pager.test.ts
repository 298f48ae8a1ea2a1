/**
 * The pager without Node-RED (test/support/pager-harness.ts): a fake Twilio client, the account's
 * inbound hub, a waiting room in memory and a manual clock. What the escalation machine says becomes
 * texts, calls, hang-ups, timers and an output.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PageRecord } from '../../../lib/conversation/escalation';
import { TwilioNodeError } from '../../../lib/core/errors';
import { ALICE, BOB, OURS, type Writes, port, setUp } from '../../support/pager-harness';

describe('pager', () => {
  it('texts, waits on the clock, calls with the keys to press, and ends when the key comes', async () => {
    const t = setUp({
      steps: [
        { action: 'text', wait: 60 },
        { action: 'call', wait: 30 },
      ],
      rounds: 1,
    });
    t.input({ topic: 'smoke', payload: 'kitchen', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    assert.deepEqual(
      t.made.map((m) => [m.what, m.to]),
      [['text', ALICE]],
    );
    assert.match(String(t.made[0].params?.body), /^Smoke in the kitchen\. /);
    assert.ok(t.data.has(`twilio-page-${[...t.room.values()][0].id}`), 'stored');
    await t.clock.advance(59_000);
    assert.equal(t.made.length, 1, 'still within the wait');
    await t.clock.advance(1_000);
    assert.deepEqual(
      t.made.map((m) => [m.what, m.to]),
      [
        ['text', ALICE],
        ['call', ALICE],
      ],
    );
    const call = t.made[1];
    assert.match(String(call.params?.twiml), /<Gather[^>]*action="https:\/\/example\.com\/keys"/);
    assert.deepEqual([call.params?.timeout, call.params?.machineDetection, call.params?.from], [30, 'Enable', OURS]);
    assert.deepEqual(t.statuses, ['twilio-page.status.texting', 'twilio-page.status.calling']);
    t.key(call.sid, '7');
    assert.equal(t.out.length, 0, 'not the key');
    t.key(call.sid, '1');
    await t.clock.advance(0); // its end is saved before its msg leaves
    assert.equal(port(t.out[0]), 0);
    const msg = t.out[0][0]!;
    assert.deepEqual([msg.payload, msg.page.acknowledged.how, msg.page.acknowledged.afterSteps], ['kitchen', 'key', 1]);
    assert.equal(msg.page.acknowledged.at, new Date(t.clock.now()).toISOString());
    assert.deepEqual(t.ended, [undefined], 'its msg ended once');
    assert.equal(t.room.size, 0);
    assert.equal([...t.data.keys()].length, 0, 'gone from the store');
    assert.equal(t.statuses.at(-1), 'twilio-page.status.acknowledged');
  });

  it("moves on at once when a look finds the call busy, and takes a reply to the page's text", async () => {
    const t = setUp({
      steps: [
        { action: 'call', wait: 60 },
        { action: 'text', wait: 60 },
      ],
      rounds: 1,
    });
    t.input({ topic: 'smoke', payload: 'hall', contacts: `Bob ${BOB}` });
    await t.clock.advance(0);
    t.callStatus.set(t.made[0].sid, { status: 'busy' });
    await t.clock.advance(3_000); // the first look at the call
    assert.deepEqual(
      t.made.map((m) => [m.what, m.to]),
      [
        ['call', BOB],
        ['text', BOB],
      ],
    );
    // Anything but an acknowledgement is not the page's: news for twilio-in, never swallowed.
    assert.equal(t.reply(BOB, 'what?').claimed, false, 'passed on as news');
    assert.equal(t.out.length, 0, 'no acknowledgement');
    assert.equal(t.reply(BOB, 'OK').claimed, true, 'the acknowledgement is the page’s');
    await t.clock.advance(0); // its end is saved before its msg leaves
    assert.equal(port(t.out[0]), 0);
    const page = t.out[0][0]!.page;
    assert.deepEqual([page.acknowledged.how, page.acknowledged.number], ['reply', BOB]);
    assert.deepEqual(
      page.history.map((h: { action: string; outcome: string }) => [h.action, h.outcome]),
      [
        ['call', 'busy'],
        ['text', 'sent'],
      ],
    );
  });

  it('hangs up a call placed after a cancel when the step before it failed at once (two steps on their way)', async () => {
    const t = setUp({
      steps: [
        { action: 'text', wait: 5 },
        { action: 'call', wait: 30 },
      ],
      rounds: 1,
    });
    t.texting.refuse = 1; // the text fails: the call step starts while the text's step is still being done with
    const release = t.hold();
    t.input({ topic: 'smoke', payload: 'cellar', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(port(t.out[0]), 2, 'cancelled');
    release();
    await t.clock.advance(0);
    const call = t.made.find((m) => m.what === 'call');
    assert.ok(call, 'the call went out');
    assert.ok(
      t.made.some((m) => m.what === 'hang-up' && m.sid === call.sid),
      'and was hung up',
    );
  });

  it('cancels: a call placed meanwhile is hung up, those alerted hear the all clear, and every msg ends once', async () => {
    const t = setUp({
      steps: [
        { action: 'text', wait: 5 },
        { action: 'call', wait: 30 },
      ],
      rounds: 1,
      allClear: 'All clear: {{payload}}',
    });
    t.input({ topic: 'smoke', payload: 'garage', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    t.input({ topic: 'smoke', payload: 'garage again', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    assert.equal(t.ended.length, 1, 'the same alarm again is merged');
    const release = t.hold();
    await t.clock.advance(5_000); // the call is being placed
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(port(t.out[0]), 2);
    assert.equal(t.out[0][2]!.page.merged, 1);
    release();
    await t.clock.advance(0);
    assert.deepEqual(
      t.made
        .map((m) => [m.what, m.to ?? m.sid, m.params?.body])
        .map(([what, who, body]) => [what, who, what === 'text' ? String(body).slice(0, 17) : undefined]),
      [
        ['text', ALICE, 'Smoke in the gara'],
        ['text', ALICE, 'All clear: garage'],
        ['call', ALICE, undefined],
        ['hang-up', t.made[2].sid, undefined],
      ],
    );
    assert.deepEqual(t.ended, [undefined, undefined, undefined]);
    assert.equal(t.room.size, 0);
  });

  it('ends a cancel msg only once the cancelled page is stored as ended (a power cut after it still cancels)', async () => {
    const writes: { slow?: Promise<void> } = {};
    const data = new Map<string, unknown>();
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1, allClear: 'All clear: {{payload}}' }, data, writes);
    t.input({ topic: 'smoke', payload: 'garage', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    let store!: () => void;
    writes.slow = new Promise((resolve) => (store = resolve));
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.deepEqual(t.ended, [], 'the cancel has not ended while its page is not yet stored');
    const stored = () => [...data.values()].map((v) => (v as PageRecord).ended);
    assert.deepEqual(stored(), [undefined]);
    store();
    writes.slow = undefined;
    await t.clock.advance(0);
    assert.equal(t.ended.length, 2, 'the cancel and the page each ended');
    assert.deepEqual(t.ended, [undefined, undefined]);
    assert.equal(port(t.out[0]), 2);
  });

  it('ends the cancel of a page with no call to hang up once the page has left and its record is gone (a power cut then cannot send it twice)', async () => {
    const writes: Writes = {};
    const data = new Map<string, unknown>();
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, data, writes);
    t.input({ topic: 'smoke', payload: 'garage', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    let deleted!: () => void;
    writes.slowDeletes = new Promise((resolve) => (deleted = resolve));
    t.input({ topic: 'cleared' });
    await t.clock.advance(0);
    assert.equal(port(t.out[0]), 2, 'the page left on cancelled');
    assert.deepEqual(t.ended, [undefined], "the page's msg ended; the cancel's waits for the page's record to go");
    assert.equal(data.size, 1, 'the record is still stored');
    deleted();
    await t.clock.advance(0);
    assert.equal(data.size, 0);
    assert.deepEqual(t.ended, [undefined, undefined], 'the cancel ended once the record was gone');
  });

  it("takes no reply dated before the page's text as its acknowledgement (a poll listing an older 'ok'), as twilio-ask does not", async () => {
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 });
    // Twilio's clock: the text went out at 03:00:10; Bob's "ok" is from 2.5 s before it.
    const textedAt = Date.UTC(2026, 0, 1, 3, 0, 10);
    t.texting.dateCreated = new Date(textedAt);
    t.input({ topic: 'smoke', payload: 'hall', contacts: `Bob ${BOB}` });
    await t.clock.advance(0);
    assert.equal(t.made.length, 1);
    t.reply(BOB, 'ok', textedAt - 2_500);
    await t.clock.advance(0);
    assert.equal(t.out.length, 0, 'the old reply does not acknowledge');
    // The same board judges a twilio-ask question the same way: a question asked then ignores it too.
    t.reply(BOB, 'ok', textedAt + 1_000);
    await t.clock.advance(0); // its end is saved before its msg leaves
    assert.equal(port(t.out[0]), 0, 'a reply after the text does');
    assert.equal(t.out[0][0]!.page.acknowledged.how, 'reply');
  });

  it("gives back the code reserved for a page text Twilio refused: the person's next lone question carries no code", async () => {
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 });
    t.texting.refuse = 1;
    t.input({ topic: 'smoke', payload: 'hall', contacts: `Bob ${BOB}` });
    await t.clock.advance(0);
    assert.equal(port(t.out[0]), 1, 'refused: nobody could be paged');
    assert.match(t.out[0][1]!.page.history[0].outcome, /failed/);
    t.input({ topic: 'flood', payload: 'cellar', contacts: `Bob ${BOB}` });
    await t.clock.advance(0);
    assert.equal(t.made.length, 1);
    assert.equal(String(t.made[0].params?.body), 'Smoke in the cellar. Reply ACK to acknowledge.', 'no code: no other question is open');
  });

  it('resumes a page a previous run stored, for the time its step had left', async () => {
    const first = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 });
    first.input({ topic: 'smoke', payload: 'attic', contacts: `Bob ${BOB}, Alice ${ALICE}` });
    await first.clock.advance(20_000);
    first.pager.stop();
    await first.room.close(false);
    assert.equal(first.data.size, 1, 'kept');
    const next = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, first.data);
    next.clock.set(first.clock.now());
    next.pager.resume(await next.room.restore());
    assert.deepEqual(next.statuses, ['twilio-page.status.texting']);
    await next.clock.advance(39_000);
    assert.equal(next.made.length, 0, 'Bob is not texted again');
    await next.clock.advance(1_000);
    assert.deepEqual(
      next.made.map((m) => [m.what, m.to]),
      [['text', ALICE]],
    );
    await next.clock.advance(60_000);
    const page = next.out[0]?.[1]?.page;
    assert.deepEqual(
      page.history.map((h: { name: string }) => h.name),
      ['Bob', 'Alice'],
    );
  });

  /** A power cut while a page's call is being placed: what the store holds then (its intent, no Sid). */
  async function cutWhilePlacing() {
    const settings = { steps: [{ action: 'call', wait: 30 }], rounds: 1 };
    const first = setUp(settings);
    const release = first.hold();
    first.input({ topic: 'smoke', payload: 'attic', contacts: `Alice ${ALICE}, Bob ${BOB}` });
    await first.clock.advance(0);
    const disk = structuredClone(first.data);
    const [stored] = [...disk.values()] as PageRecord[];
    assert.deepEqual(
      stored.intent,
      { action: 'call', to: ALICE, from: OURS, at: first.clock.now() },
      'its intent is stored before its request',
    );
    assert.equal(first.made.length, 0, 'the request is on its way');
    first.pager.stop();
    release();
    const next = setUp(settings, disk);
    next.clock.set(first.clock.now() + 10_000);
    return { next, stored };
  }

  it('asks Twilio about a step a power cut left in flight: found, it goes on as sent (never placed again), for the time it had left', async () => {
    const { next, stored } = await cutWhilePlacing();
    next.listed.push({ kind: 'call', sid: 'CA900', to: ALICE, from: OURS, dateCreated: new Date(stored.intent!.at + 300) });
    next.pager.resume(await next.room.restore());
    await next.clock.advance(0);
    assert.equal(next.made.length, 0, 'not placed again');
    const [page] = [...next.room.values()].map((w) => w.record);
    assert.deepEqual(
      [page.callSid, page.intent?.sid, page.stepEnds],
      ['CA900', 'CA900', stored.stepEnds],
      'its wait counts from its intent',
    );
    assert.ok(
      [...next.data.values()].some((r) => (r as PageRecord).intent?.sid === 'CA900'),
      'its Sid is stored',
    );
    next.callStatus.set('CA900', { status: 'no-answer' });
    await next.clock.advance(3_000);
    assert.deepEqual(
      next.made.map((m) => [m.what, m.to]),
      [['call', BOB]],
      'the found call was watched to its end; then the next contact',
    );
    const now = [...next.room.values()][0].record;
    assert.deepEqual(
      now.history.map((h) => [h.name, h.sid, h.outcome]),
      [['Alice', 'CA900', 'no-answer']],
    );
  });

  it('asks Twilio about a step a power cut left in flight: not found, it is sent now; Twilio unreachable, it asks again with backoff, never guessing', async () => {
    const { next } = await cutWhilePlacing();
    next.lists.fail = 2;
    next.pager.resume(await next.room.restore());
    await next.clock.advance(0);
    assert.deepEqual(
      [next.made.length, next.lists.asked, next.warnings.length],
      [0, 1, 1],
      'Twilio could not be asked: nothing sent, said once',
    );
    await next.clock.advance(1_000);
    assert.deepEqual([next.made.length, next.lists.asked], [0, 2], 'asked again after a second; still unreachable');
    await next.clock.advance(1_999);
    assert.equal(next.lists.asked, 2, 'the backoff doubled');
    await next.clock.advance(1);
    assert.deepEqual(
      next.made.map((m) => [m.what, m.to]),
      [['call', ALICE]],
      'Twilio has no record of it: it never left, and is placed now (once)',
    );
    assert.equal(next.warnings.length, 1);
    const [page] = [...next.room.values()].map((w) => w.record);
    assert.equal(page.intent?.sid, next.made[0].sid);
  });

  it('gives a call Twilio has to one of two pages cut in flight calling the same person: the other is placed now', async () => {
    const settings = { steps: [{ action: 'call', wait: 30 }], rounds: 1 };
    const first = setUp(settings);
    const release = first.hold();
    first.input({ topic: 'smoke', payload: 'attic', contacts: `Alice ${ALICE}` });
    first.input({ topic: 'flood', payload: 'cellar', contacts: `Alice ${ALICE}` });
    await first.clock.advance(0);
    const disk = structuredClone(first.data);
    assert.equal(disk.size, 2);
    first.pager.stop();
    release();
    const next = setUp(settings, disk);
    next.clock.set(first.clock.now() + 1_000);
    next.listed.push({ kind: 'call', sid: 'CA900', to: ALICE, from: OURS, dateCreated: new Date(first.clock.now()) });
    next.pager.resume(await next.room.restore());
    await next.clock.advance(0);
    const pages = [...next.room.values()].map((w) => w.record);
    assert.deepEqual(pages.map((p) => p.intent?.sid).sort(), ['CA900', next.made[0]?.sid].sort());
    assert.deepEqual(
      next.made.map((m) => [m.what, m.to]),
      [['call', ALICE]],
    );
  });

  it('sends no step whose intent the store refused: the page ends at once with the reason, nobody alerted', async () => {
    const writes = { left: 1 }; // the page is held (stored), then the store refuses
    const t = setUp({ steps: [{ action: 'text', wait: 60 }], rounds: 1 }, new Map(), writes);
    t.input({ topic: 'smoke', payload: 'attic', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    assert.equal(t.made.length, 0, 'nothing sent');
    assert.equal(port(t.out[0]), 1);
    assert.match(String(t.out[0][1]!.page.error), /store refuses writes/);
    assert.deepEqual(t.ended, [undefined], 'its msg ended once');
    await t.clock.advance(120_000);
    assert.equal(t.made.length, 0);
  });

  it('saves a page as ended before its hang-ups; a power cut before its msg left: the restart hangs up and ends it once, never pages on', async () => {
    const settings = { steps: [{ action: 'call', wait: 30 }], rounds: 1 };
    const first = setUp(settings);
    first.input({ topic: 'smoke', payload: 'attic', contacts: `Alice ${ALICE}, Bob ${BOB}` });
    await first.clock.advance(0);
    const [call] = first.made;
    const release = first.holdHangUps();
    first.input({ topic: 'cleared' });
    await first.clock.advance(0);
    assert.equal(first.out.length, 0, 'its msg waits for the hang-up to be taken');
    const disk = structuredClone(first.data);
    const [stored] = [...disk.values()] as PageRecord[];
    assert.deepEqual([stored.ended, stored.calls?.map((c) => c.sid)], [2, [call.sid]], 'stored as ended, with the call it hangs up');
    first.pager.stop();
    const next = setUp(settings, disk);
    next.clock.set(first.clock.now() + 5_000);
    next.pager.resume(await next.room.restore());
    await next.clock.advance(0);
    assert.deepEqual(
      next.made.map((m) => [m.what, m.sid]),
      [['hang-up', call.sid]],
      'hung up again, nothing else sent',
    );
    assert.deepEqual(next.out.map(port), [2], 'ended once, cancelled');
    assert.equal(next.out[0][2]!.page.cancelledAt, new Date(first.clock.now()).toISOString());
    assert.equal(next.data.size, 0, 'gone from the store');
    await next.clock.advance(120_000);
    assert.equal(next.made.length, 1, 'never pages on');
    release();
    await first.clock.advance(0);
    assert.deepEqual(first.out.map(port), [2], 'the first run ends it once the hang-up was taken');
  });

  it("claims every key pressed on a page's call, acknowledging or not, so twilio-in does not pass it on as news", async () => {
    const t = setUp({ steps: [{ action: 'call', wait: 60 }], rounds: 1 });
    t.input({ topic: 'smoke', payload: 'cellar', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    const call = t.made[0];
    assert.equal(call.what, 'call');
    assert.equal(t.key(call.sid, '7').claimed, true, "a wrong key is still the page's");
    assert.equal(t.key(call.sid, '').claimed, true, 'no key (an empty Gather result) too');
    assert.equal(t.out.length, 0, 'not acknowledged');
    assert.equal(t.key(call.sid, '1').claimed, true, 'the acknowledging key');
    await t.clock.advance(0); // its end is saved before its msg leaves
    assert.equal(port(t.out[0]), 0);
    assert.equal(t.key('CA' + 'f'.repeat(32), '1').claimed, false, 'a key on a call no page made is news');
  });
  it("hangs up a removed page's calls; a closed account is a warning naming the call left ringing, never a throw", async () => {
    const t = setUp({ steps: [{ action: 'call', wait: 30 }], rounds: 1 });
    t.input({ topic: 'smoke', payload: 'hall', contacts: `Alice ${ALICE}` });
    await t.clock.advance(0);
    const sid = t.made[0].sid;
    const page = [...t.room.values()][0].record;
    await t.pager.hangUp(page);
    assert.deepEqual(
      t.made.map((m) => [m.what, m.sid]),
      [
        ['call', sid],
        ['hang-up', sid],
      ],
    );
    // A closed account's client throws when asked for (getClient, or a node's view of it).
    const closed = () => {
      throw new TwilioNodeError('AUTHENTICATION_CONNECTION_ERROR', 'Twilio account "a": closed');
    };
    Object.assign(t.account as object, { getClient: closed, clientFor: closed });
    await t.pager.hangUp(page); // resolves: the close that calls it goes on
    assert.equal(t.warnings.length, 1);
    assert.match(t.warnings[0], new RegExp(`${sid}.*closed`));
  });
});
