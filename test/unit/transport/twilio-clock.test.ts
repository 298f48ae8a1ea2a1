/**
 * The offset to Twilio's clock, learnt from the Date headers of Twilio's answers: per answer (the
 * account's queue, through the simulator with its clock set off this machine's), a robust estimate
 * (the median: one stale or slow answer does not move it), second resolution considered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../lib/core/clock';
import { RequestQueue } from '../../../lib/transport/request-queue';
import { TwilioClock } from '../../../lib/transport/twilio-clock';
import { createTwilioClient } from '../../../lib/transport/sdk-client';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../../simulator/server';
import { setClockSkew } from '../../../simulator/resources';
import { useManualClock } from '../../support/ticking';

const httpDate = (ms: number) => new Date(ms).toUTCString();

describe('TwilioClock', () => {
  it('knows nothing before an answer with a Date header, and ignores what is not a date', () => {
    const clock = new ManualClock(1_767_225_600_000);
    const twilio = new TwilioClock(clock);
    assert.equal(twilio.offsetMs(), undefined);
    twilio.observe(undefined, twilio.stamp());
    twilio.observe('not a date', twilio.stamp());
    twilio.observe(['Mon, 07 Dec 2026 06:00:00 GMT'], twilio.stamp());
    twilio.observe(httpDate(clock.now() + 100 * 365 * 86_400_000), twilio.stamp()); // a century off: a broken proxy
    twilio.observeCreated({ statusCode: 200, body: '{"date_created": "Mon, 07 Dec 2026 06:00:00 +0000"}' }, twilio.stamp()); // not a create
    assert.equal(twilio.offsetMs(), undefined);
  });

  it('takes the middle of the second a Date header names, and of the round trip', async () => {
    const clock = new ManualClock(1_767_225_600_000); // on a whole second
    const twilio = new TwilioClock(clock);
    const sent = twilio.stamp();
    await clock.advance(200);
    // Twilio's clock 10 minutes behind; its header says the second, rounded down.
    twilio.observe(httpDate(Math.floor((clock.now() - 600_000) / 1000) * 1000), sent);
    // The true offset is -600,000 ms; the estimate is within half a second and half the round trip.
    assert.ok(Math.abs(twilio.offsetMs()! + 600_000) <= 600, `${twilio.offsetMs()}`);
  });

  it('is the median of recent answers: a stale header (a proxy, a slow answer) does not move it', async () => {
    const clock = new ManualClock(1_767_225_600_000);
    const twilio = new TwilioClock(clock);
    for (let i = 0; i < 8; i++) {
      await clock.advance(1_000);
      twilio.observe(httpDate(clock.now() + 3_600_000), twilio.stamp());
    }
    await clock.advance(1_000);
    twilio.observe(httpDate(clock.now() - 86_400_000), twilio.stamp()); // one answer a day off
    assert.ok(Math.abs(twilio.offsetMs()! - 3_600_000) <= 500, `${twilio.offsetMs()}`);
    // Twilio's answers change (another region, a proxy's clock): the recent ones win within a few.
    for (let i = 0; i < 9; i++) {
      await clock.advance(1_000);
      twilio.observe(httpDate(clock.now()), twilio.stamp());
    }
    assert.ok(Math.abs(twilio.offsetMs()!) <= 500, `${twilio.offsetMs()}`);
  });
});

describe("TwilioClock when this machine's clock is set (NTP, a person) or answers carry no Date", () => {
  it("follows a step of this machine's clock at once, with no answer since", async () => {
    const clock = new ManualClock(1_767_225_600_000 + 3_600_000); // an RTC an hour ahead
    const twilio = new TwilioClock(clock);
    for (let i = 0; i < 9; i++) {
      const sent = twilio.stamp();
      await clock.advance(100);
      twilio.observe(httpDate(clock.now() - 3_600_000), sent);
      await clock.advance(1_000);
    }
    assert.ok(Math.abs(twilio.offsetMs()! + 3_600_000) <= 600, `${twilio.offsetMs()}`);
    clock.set(clock.now() - 3_600_000); // NTP steps the clock back an hour: it agrees with Twilio now
    assert.ok(Math.abs(twilio.offsetMs()!) <= 600, `after the step: ${twilio.offsetMs()}`);
    await clock.advance(600_000); // and keeps agreeing as time goes on
    assert.ok(Math.abs(twilio.offsetMs()!) <= 600, `ten minutes later: ${twilio.offsetMs()}`);
  });

  it('learns from the date_created of a record an answer without a Date header created, until a header comes', async () => {
    const clock = new ManualClock(1_767_225_600_000);
    const twilio = new TwilioClock(clock);
    const created = (ms: number) => JSON.stringify({ sid: 'SM1', date_created: new Date(Math.floor(ms / 1000) * 1000).toUTCString() });
    twilio.observeCreated({ statusCode: 200, body: created(clock.now() - 600_000) }, twilio.stamp()); // a fetch: an old record
    twilio.observeCreated({ statusCode: 201, body: 'not json' }, twilio.stamp());
    twilio.observeCreated({ statusCode: 201, body: '{"date_created": null}' }, twilio.stamp());
    assert.equal(twilio.offsetMs(), undefined);
    const sent = twilio.stamp();
    await clock.advance(300);
    twilio.observeCreated({ statusCode: 201, body: created(clock.now() - 600_000) }, sent); // Twilio ten minutes behind
    assert.ok(Math.abs(twilio.offsetMs()! + 600_000) <= 700, `${twilio.offsetMs()}`);
    // Once a header came, creates add nothing (a header is taken per answer, and is the better sample).
    twilio.observe(httpDate(clock.now() - 600_000), twilio.stamp());
    for (let i = 0; i < 9; i++) twilio.observeCreated({ statusCode: 201, body: created(clock.now() + 86_400_000) }, twilio.stamp());
    assert.ok(Math.abs(twilio.offsetMs()! + 600_000) <= 700, `${twilio.offsetMs()}`);
  });
});

describe("the account's queue learns Twilio's clock from every answer", () => {
  const ticking = useManualClock();
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  before(() => simulator.start());
  after(async () => {
    setClockSkew(0);
    await simulator.stop();
  });

  for (const skewMs of [-600_000, 0, 7_200_000]) {
    it(`with Twilio's clock ${skewMs / 60_000} minutes off this machine's (lib's clock, a ManualClock)`, async () => {
      setClockSkew(skewMs);
      const queue = new RequestQueue();
      const { client, requestClient } = createTwilioClient(
        { accountSid: DEMO_ACCOUNT.sid, authMode: 'authToken', authToken: DEMO_ACCOUNT.authToken },
        { baseUrl: simulator.url, queue },
      );
      try {
        assert.equal(queue.twilioClock.offsetMs(), undefined, 'nothing answered yet');
        // An error answer tells the time as well as a success does.
        await assert.rejects(client.messages('SM' + '0'.repeat(32)).fetch());
        // The simulator's clock is real time plus the skew; lib's is the ManualClock.
        const expected = Date.now() + skewMs - ticking.clock.now();
        assert.ok(Math.abs(queue.twilioClock.offsetMs()! - expected) <= 1_500, `${queue.twilioClock.offsetMs()} vs ${expected}`);
      } finally {
        requestClient.destroy();
        await queue.close();
      }
    });
  }
});
