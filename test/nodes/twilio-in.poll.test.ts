/**
 * twilio-in without a public URL: it polls the account for incoming messages (and missed calls),
 * and hands each on exactly once, across redeploys and restarts, with no replay of history.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCOUNT, FlowNode, initWithFileContext, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';
import { untilTicking, useManualClock } from '../support/ticking';
import { inboundHubFor } from '../../lib/inbound/hub';

initWithFileContext();

const HOUSE = '+15017122661';
const PERSON = '+15555550100';

describe('twilio-in polling', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();
  // Looks and backoffs run on lib's clock: the test moves it on instead of waiting seconds for them.
  const time = useManualClock();
  const until = (check: () => boolean, what: string, ms = 10_000) => untilTicking(time.clock, check, what, 250, ms);

  function flow(extra: Record<string, unknown> = {}, inbound: FlowNode[] = []): FlowNode[] {
    return [
      { id: 'tab', type: 'tab', label: 't' },
      accountNode(simulator.url).node,
      {
        id: 'in',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        receive: 'poll',
        pollNumber: HOUSE,
        pollInterval: 1,
        wires: [['out']],
        ...extra,
      },
      { id: 'out', type: 'helper', z: 'tab' },
      ...inbound,
    ];
  }
  const credentials = () => ({ account: accountNode(simulator.url).credentials });

  /** Loads the flow and collects what twilio-in sends, its statuses and warnings. */
  async function load(extra: Record<string, unknown> = {}, inbound: FlowNode[] = []) {
    await helper.load(allNodes, flow(extra, inbound), credentials());
    await (helper as any)._context.load();
    return listen();
  }
  function listen() {
    const got = { msgs: [] as any[], statuses: [] as any[], warnings: [] as string[], logs: [] as string[] };
    helper.getNode('out').on('input', (m: any) => got.msgs.push(m));
    helper.getNode('in').on('call:status', (c: any) => got.statuses.push({ ...c.args[0], at: time.clock.now() }));
    helper.getNode('in').on('call:warn', (c: any) => got.warnings.push(String(c.args[0])));
    helper.getNode('in').on('call:log', (c: any) => got.logs.push(String(c.args[0])));
    return got;
  }
  const looked = (got: { statuses: any[] }) => got.statuses.filter((s) => s.fill === 'green').length;
  const text = (body: string, from = PERSON) => simulator.receiveMessage({ from, to: HOUSE, body });

  it('hands on a text that arrives after it started, once, as a webhook would carry it; history is not replayed', async () => {
    await text('sent before the node existed');
    const got = await load();
    await until(() => looked(got) >= 1, 'the first look');
    const { sid } = await text('Lights on');
    await until(() => got.msgs.length >= 1, 'the text');
    await until(() => looked(got) >= 4, 'two more looks');
    assert.equal(got.msgs.length, 1);
    const [msg] = got.msgs;
    assert.equal(msg.payload.Body, 'Lights on');
    assert.equal(msg.payload.From, PERSON);
    assert.equal(msg.payload.To, HOUSE);
    assert.equal(msg.payload.MessageSid, sid);
    assert.equal(msg.payload.AccountSid, ACCOUNT.sid);
    assert.deepEqual(msg.twilio, { event: 'message', sid, from: PERSON, to: HOUSE, accountSid: ACCOUNT.sid, source: 'poll' });
    assert.equal(msg.req, undefined);
    assert.equal(got.statuses.at(-1).text, 'twilio-in.status.polled');
  });

  it('costs one request per interval when nothing arrives', async () => {
    const got = await load();
    await until(() => looked(got) >= 1, 'the first look');
    const from = simulator.requests.length;
    const before = looked(got);
    await until(() => looked(got) >= before + 3, 'three more looks');
    const requests = simulator.requests.slice(from).filter((r) => r.method === 'GET');
    assert.equal(requests.length, looked(got) - before);
    assert.ok(requests.every((r) => /\/Messages\.json$/.test(r.path) && r.query.To === HOUSE && r.query['DateSent>']));
  });

  it('hands on 1,100 texts that arrive between two looks, every one once, oldest first (pages of 1,000, many in one second)', async () => {
    const got = await load({ pollInterval: 3 });
    await until(() => looked(got) >= 1, 'the first look');
    const sids: string[] = [];
    for (let i = 0; i < 1_100; i++) sids.push((await text(`reading ${i}`, `+1555555${String(1000 + i)}`)).sid);
    await until(() => got.msgs.length >= 1_100, '1,100 texts', 45_000); // a bound, not a speed: a loaded 2-core run took over 15 s
    const before = looked(got);
    await until(() => looked(got) >= before + 1, 'one more look');
    assert.equal(got.msgs.length, 1_100);
    assert.deepEqual(
      got.msgs.map((m) => m.payload.MessageSid),
      sids,
    );
  });

  for (const pollNumber of [HOUSE, '']) {
    it(`a node started on a busy number (${pollNumber ? 'its number' : 'every number'}) replays none of its 1,130 texts and looks at them with one request`, async () => {
      for (let i = 0; i < 1_130; i++) await text(`history ${i}`, `+1555556${String(1000 + i)}`);
      const got = await load({ pollNumber });
      await until(() => looked(got) >= 1, 'the first look');
      const from = simulator.requests.length;
      const before = looked(got);
      await until(() => looked(got) >= before + 3, 'three more looks');
      const gets = simulator.requests.slice(from).filter((r) => r.method === 'GET');
      // Each look reads the margin under its mark again (lib/inbound/poller.ts POLL_MARGIN_MS: Twilio may
      // list a text late), to the page that reaches under the mark: these 1,130 texts came within a second
      // or two, more than one page in the margin, so a quiet look is two requests here, never more, and
      // not growing look after look; a number whose minute of texts fits a page costs one (unit tests).
      assert.ok(gets.length <= 2 * (looked(got) - before), `${gets.length} requests in ${looked(got) - before} quiet looks`);
      assert.equal(got.msgs.length, 0, 'no history');
      const { sid } = await text('Lights on');
      await until(() => got.msgs.length >= 1, 'the text after it started');
      const after = looked(got);
      await until(() => looked(got) >= after + 2, 'two more looks');
      assert.deepEqual(
        got.msgs.map((m) => m.payload.MessageSid),
        [sid],
      );
    });
  }

  it('keeps receiving after a text dated a year ahead (a clock fault at Twilio), and hands that one on once', async () => {
    const got = await load();
    await until(() => looked(got) >= 1, 'the first look');
    const settings = (clockSkewMs: number) =>
      fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify({ clockSkewMs }) });
    try {
      assert.equal((await settings(365 * 24 * 3600_000)).status, 200);
      const ahead = (await text('from the future')).sid;
      await settings(0);
      await until(() => got.msgs.length >= 1, 'the text dated ahead');
      const later = [(await text('one')).sid, (await text('two')).sid];
      await until(() => got.msgs.length >= 3, 'the texts after it');
      const before = looked(got);
      await until(() => looked(got) >= before + 2, 'two more looks');
      assert.deepEqual(
        got.msgs.map((m) => m.payload.MessageSid),
        [ahead, ...later],
      );
    } finally {
      await settings(0);
    }
  });

  it('hands on nothing twice and loses nothing across a redeploy, a restart, and texts while it was stopped', async () => {
    let got = await load({});
    await until(() => looked(got) >= 1, 'the first look');
    const sent = [(await text('one')).sid];
    await until(() => got.msgs.length === 1, 'the first text');
    const seen = [...got.msgs];

    // A full redeploy: the same node starts again from the cursor and Sids in its store.
    await helper.setFlows(flow({ name: 'changed' }), 'full', credentials());
    sent.push((await text('two')).sid);
    got = listen();
    await until(() => got.msgs.length >= 1, 'the text after the redeploy');
    seen.push(...got.msgs);

    // A restart of Node-RED: the flows stop, the file store is written and read back, the flows start
    // again. Texts that came while it was down arrive after it.
    const red = helper as any;
    await red._redNodes.stopFlows();
    await red._context.close();
    sent.push((await text('three, while down')).sid, (await text('four, while down')).sid);
    await red._context.load();
    await red._redNodes.startFlows();
    got = listen();
    await until(() => got.msgs.length >= 2, 'the texts sent while down');
    await until(() => looked(got) >= 3, 'two more looks');
    seen.push(...got.msgs);
    assert.deepEqual(
      seen.map((m) => m.payload.MessageSid),
      sent,
    );
  });

  // Twilio's clock behind by minutes (this machine's fast, as after a bad NTP start), a little ahead, far ahead.
  for (const skewMs of [-360_000, -90_000, 4_000, 90_000]) {
    it(`loses nothing and repeats nothing when Twilio's clock is ${skewMs / 1000} s off this machine's`, async () => {
      const control = await fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify({ clockSkewMs: skewMs }) });
      assert.equal(control.status, 200);
      try {
        const got = await load();
        await until(() => looked(got) >= 1, 'the first look');
        const sids = [(await text('a')).sid, (await text('b')).sid];
        await until(() => got.msgs.length >= 2, 'two texts');
        const before = looked(got);
        await until(() => looked(got) >= before + 2, 'two more looks');
        assert.deepEqual(
          got.msgs.map((m) => m.payload.MessageSid),
          sids,
        );
      } finally {
        await fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify({ clockSkewMs: 0 }) });
      }
    });
  }

  it('backs off while looks fail, says so once in the log and in its status, and receives again when they work', async () => {
    const got = await load();
    await until(() => looked(got) >= 1, 'the first look');
    // Each failing look is a request the queue does not retry (401): the account's token was changed.
    simulator.failNext(...Array.from({ length: 3 }, () => ({ type: 'http' as const, status: 401, code: 20003, message: 'Authenticate' })));
    await until(() => got.statuses.filter((s) => s.fill === 'red').length >= 3, 'three failed looks', 20_000);
    const failed = got.statuses.filter((s) => s.fill === 'red');
    assert.ok(failed.every((s) => s.text === 'twilio-in.status.pollFailed'));
    // Interval 1 s: the next looks come 2 s and then 4 s after a failure.
    const gaps = [failed[1].at - failed[0].at, failed[2].at - failed[1].at];
    assert.ok(gaps[0] >= 1_900 && gaps[0] < 3_500, `first gap ${gaps[0]} ms`);
    assert.ok(gaps[1] >= 3_900 && gaps[1] < 5_500, `second gap ${gaps[1]} ms`);
    assert.deepEqual(got.warnings, ['twilio-in.warnings.pollFailed'], 'one warning for the whole outage');
    const { sid } = await text('after the outage');
    await until(() => got.msgs.length >= 1, 'the text after recovery', 20_000);
    assert.equal(got.msgs[0].payload.MessageSid, sid);
    // The status follows the end of the look (its cursor stored), a moment after its msgs.
    await until(() => got.statuses.at(-1).fill === 'green', 'the status of a good look');
    assert.deepEqual(got.logs, ['twilio-in.warnings.pollRecovered']);
  });

  it('hands on a missed call when it polls calls too, and an MMS with the URLs of its media', async () => {
    const got = await load({ pollCalls: true });
    await until(() => looked(got) >= 1, 'the first look');
    const call = await simulator.receiveCall({ from: PERSON, to: HOUSE });
    const mms = await simulator.receiveMessage({ from: PERSON, to: HOUSE, body: 'the gate', mediaUrls: ['https://example.com/gate.jpg'] });
    await until(() => got.msgs.length >= 2, 'the call and the MMS');
    const byEvent = Object.fromEntries(got.msgs.map((m) => [m.twilio.event, m]));
    assert.equal(byEvent.call.payload.CallSid, call.sid);
    assert.equal(byEvent.call.payload.CallStatus, 'no-answer');
    assert.equal(byEvent.message.payload.MessageSid, mms.sid);
    assert.equal(byEvent.message.payload.NumMedia, '1');
    assert.equal(byEvent.message.payload.MediaContentType0, 'image/jpeg');
    assert.match(byEvent.message.payload.media[0].url, new RegExp(`/Messages/${mms.sid}/Media/ME[0-9a-f]{32}$`));
  });

  it('a text that comes by webhook and by poll reaches a node waiting on the inbound path once, and the flow once', async () => {
    const webhook: FlowNode = {
      id: 'hook',
      type: 'twilio-in',
      z: 'tab',
      account: 'account',
      path: '/twilio/sms',
      validate: true,
      reply: 'auto',
      wires: [['hookOut']],
    };
    await helper.load(
      allNodes,
      flow({}, [webhook, { id: 'hookOut', type: 'helper', z: 'tab' }]).map((n) =>
        n.type === 'twilio-config' ? accountNode(simulator.url, 'authToken').node : n,
      ),
      { account: accountNode(simulator.url, 'authToken').credentials },
    );
    await (helper as any)._context.load();
    const got = listen();
    const hooked: any[] = [];
    helper.getNode('hookOut').on('input', (m: any) => hooked.push(m));
    const waiting: string[] = [];
    inboundHubFor(helper.getNode('account')).subscribe({ from: PERSON, to: HOUSE }, (event) =>
      waiting.push(`${event.source} ${event.sid}`),
    );
    await until(() => looked(got) >= 1, 'the first look');
    simulator.find('incomingPhoneNumbers')!.sms_url = `${httpNode.base()}/twilio/sms`;
    const { sid, delivery } = await text('both ways');
    assert.equal(delivery?.status, 200);
    await until(() => hooked.length >= 1, 'the webhook');
    const looks = looked(got);
    await until(() => looked(got) >= looks + 2, 'two looks after it');
    assert.deepEqual(waiting, [`webhook ${sid}`]);
    assert.equal(got.msgs.length, 0, 'heard by webhook first: the poll finds a duplicate, not news');
  });
});
