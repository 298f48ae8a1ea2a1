/**
 * twilio-send that waits for each message's or call's outcome: from status callbacks through a
 * twilio-in, or by asking Twilio with backoff; a deadline ends as unknown; waits outlive a redeploy
 * and a restart; each msg leaves exactly once, on the output the user chose. The node's time (its
 * looks and deadlines) is a ManualClock the tests move forward; the simulator runs on real time.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { until as untilWithin } from '../support/assertions';
import { ACCOUNT, FlowNode, initWithFileContext, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';

initWithFileContext();

/** The simulator's people (simulator/people.ts). */
const ANSWERS = '+15555550100';
const PHONE_OFF = '+15555550101';
const LANDLINE = '+15555550102';
const VOICEMAIL = '+15555550103';
const WHATSAPP_READER = '+15555550104';

interface Run {
  reached: any[];
  notReached: any[];
  errors: any[];
  dones: number;
}

const until = (check: () => boolean, what: string, ms = 15_000) => untilWithin(check, what, ms);

describe('twilio-send waiting for outcomes', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  const settings = (body: object) => fetch(`${simulator.url}/_sim/settings`, { method: 'POST', body: JSON.stringify(body) });

  const time = useManualClock();
  /** The simulator's own records (its seed), which no test sent. */
  let seeded: Set<string>;
  beforeEach(() => {
    seeded = new Set([...simulator.messages.keys(), ...simulator.calls.keys()]);
  });

  /** Waits until the node's waits are held and tracked: `timers` looks and deadlines on its time.clock. */
  const tracking = (timers: number) => until(() => time.clock.pending >= timers, `${timers} timers (looks and deadlines)`);
  /** Waits until Twilio (the simulator, in real time) has these final statuses, of messages or of calls. */
  const twilioKnows = async (statuses: string[], of: 'messages' | 'calls' = 'messages') => {
    const now = () =>
      [...simulator[of]]
        .filter(([sid]) => !seeded.has(sid))
        .map(([, r]) => String(r.status))
        .sort();
    await until(() => now().join() === [...statuses].sort().join(), `${statuses.join(', ')}`).catch((err: Error) => {
      throw new Error(`${err.message} (Twilio has ${now().join(', ')})`);
    });
  };

  function flow(send: Record<string, unknown>, extra: FlowNode[] = []): FlowNode[] {
    return [
      { id: 'tab', type: 'tab', label: 't' },
      accountNode(simulator.url, 'authToken').node,
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: ANSWERS,
        toType: 'str',
        body: 'The garage is open',
        bodyType: 'str',
        waitFor: 'outcome',
        failureOutput: true,
        outputs: 2,
        wires: [['reached'], ['notReached']],
        ...send,
      },
      { id: 'reached', type: 'helper', z: 'tab' },
      { id: 'notReached', type: 'helper', z: 'tab' },
      { id: 'catcher', type: 'catch', z: 'tab', scope: ['send'], wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'tab' },
      ...extra,
    ];
  }
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });

  function listen(): Run {
    const run: Run = { reached: [], notReached: [], errors: [], dones: 0 };
    helper.getNode('reached').on('input', (m: any) => run.reached.push(m));
    helper.getNode('notReached').on('input', (m: any) => run.notReached.push(m));
    helper.getNode('caught').on('input', (m: any) => run.errors.push(m.error));
    const send = helper.getNode('send') as any;
    const complete = send._complete.bind(send);
    send._complete = (m: unknown, err: unknown) => {
      run.dones++;
      complete(m, err);
    };
    return run;
  }

  async function load(send: Record<string, unknown>, extra: FlowNode[] = []): Promise<Run> {
    await helper.load(allNodes, flow(send, extra), credentials());
    await (helper as any)._context.load();
    return listen();
  }

  const outputs = (run: Run) => run.reached.length + run.notReached.length;

  it('holds the msg until its text is delivered (asking Twilio, no public URL) and keeps the msg whole', async () => {
    const run = await load({ failureOutput: false, outputs: 1, wires: [['reached']] });
    helper.getNode('send').receive({ payload: 'x', door: 'garage' });
    await Promise.all([tracking(2), twilioKnows(['delivered'])]);
    await time.clock.advance(2_000); // the first look
    await until(() => run.reached.length === 1, 'the outcome');
    const [msg] = run.reached;
    assert.equal(msg.door, 'garage');
    assert.equal(msg.payload.status, 'delivered');
    assert.equal(msg.payload.reached, true);
    assert.equal(msg.payload.via, 'poll');
    assert.equal(msg.payload.to, ANSWERS);
    assert.match(msg.payload.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(run.dones, 1);
    const looks = simulator.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/Messages/${msg.payload.sid}.json`));
    assert.equal(looks.length, 1, 'one look: delivered within the first 2 s');
  });

  it('sends what did not reach the person to the second output, with the reason', async () => {
    const cases: Array<[string, string, number | undefined, boolean]> = [
      [PHONE_OFF, 'undelivered', 30003, false],
      [LANDLINE, 'failed', 30006, false],
      [WHATSAPP_READER, 'read', undefined, true],
    ];
    const run = await load({ to: 'to', toType: 'msg' });
    for (const [to] of cases) helper.getNode('send').receive({ to, payload: '', topic: to });
    await Promise.all([tracking(6), twilioKnows(['undelivered', 'failed', 'read'])]);
    await time.clock.advance(2_000);
    await until(() => outputs(run) === 3, 'three outcomes');
    for (const [to, status, code, reached] of cases) {
      const msg = [...run.reached, ...run.notReached].find((m) => m.payload.to === to);
      assert.ok(msg, to);
      assert.equal(msg.payload.status, status, to);
      assert.equal(msg.payload.errorCode, code, to);
      assert.equal((reached ? run.reached : run.notReached).includes(msg), true, `${to} on the ${reached ? 'first' : 'second'} output`);
    }
    assert.equal(run.errors.length, 0, 'an outcome is not an error');
    assert.equal(run.dones, 3);
  });

  it('waits for a call to end: answered by a person or a machine (AnsweredBy), busy, no answer', async () => {
    const run = await load({
      resource: 'call',
      callAction: 'say',
      say: 'Smoke detected',
      sayType: 'str',
      machineDetection: 'Enable',
      machineDetectionType: 'str',
      to: 'to',
      toType: 'msg',
    });
    for (const to of [ANSWERS, VOICEMAIL, LANDLINE, PHONE_OFF]) helper.getNode('send').receive({ to });
    await Promise.all([tracking(8), twilioKnows(['completed', 'completed', 'busy', 'no-answer'], 'calls')]);
    await time.clock.advance(5_000); // a call's first look
    await until(() => outputs(run) === 4, 'four call outcomes');
    const by = (to: string) => [...run.reached, ...run.notReached].find((m) => m.payload.to === to).payload;
    assert.deepEqual([by(ANSWERS).status, by(ANSWERS).answeredBy, by(ANSWERS).duration], ['completed', 'human', 12]);
    assert.deepEqual([by(VOICEMAIL).status, by(VOICEMAIL).answeredBy], ['completed', 'machine_start']);
    assert.equal(by(LANDLINE).status, 'busy');
    assert.equal(by(PHONE_OFF).status, 'no-answer');
    assert.deepEqual(run.notReached.map((m) => m.payload.to).sort(), [LANDLINE, PHONE_OFF].sort());
  });

  it('sends a msg to several recipients on once all have an outcome, with one each', async () => {
    const run = await load({ to: `${ANSWERS}, ${PHONE_OFF}, +15005550001` });
    helper.getNode('send').receive({ payload: 'x' });
    await Promise.all([tracking(4), twilioKnows(['delivered', 'undelivered'])]);
    await time.clock.advance(2_000);
    await until(() => outputs(run) === 1 && run.errors.length === 1, 'the msg and the failure of the invalid number');
    const [msg] = run.notReached;
    assert.deepEqual(Object.keys(msg.payload.outcomes).sort(), [ANSWERS, PHONE_OFF].sort());
    assert.equal(msg.payload.outcomes[ANSWERS].status, 'delivered');
    assert.equal(msg.payload.outcomes[PHONE_OFF].status, 'undelivered');
    assert.equal(msg.payload.errors['+15005550001'].code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(run.errors[0].code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(run.dones, 1);
  });

  it('takes the outcome from the status callback when a twilio-in with a public URL receives them, once', async () => {
    const receipts: FlowNode = {
      id: 'receipts',
      type: 'twilio-in',
      z: 'tab',
      account: 'account',
      path: '/twilio/status',
      publicBaseUrl: httpNode.base(),
      validate: true,
      reply: 'auto',
      wires: [['heard']],
    };
    const run = await load({ statusCallbackNode: 'receipts' }, [receipts, { id: 'heard', type: 'helper', z: 'tab' }]);
    const heard: any[] = [];
    helper.getNode('heard').on('input', (m: any) => heard.push(m));
    helper.getNode('send').receive({ payload: 'x' });
    await until(() => outputs(run) === 1, 'the outcome');
    assert.equal(run.reached[0].payload.via, 'callback');
    assert.equal(run.reached[0].payload.status, 'delivered');
    // twilio-in still sends its receipts on, as before.
    await until(() => heard.length === 2, 'the two receipts');
    assert.deepEqual(
      heard.map((m) => m.payload.MessageStatus),
      ['sent', 'delivered'],
    );
    const looks = simulator.requests.filter((r) => r.method === 'GET' && r.path.includes('/Messages/'));
    assert.equal(looks.length, 0, 'no look: the callback came first');
    assert.equal(run.dones, 1);
  });

  it("masks a secret a server echoed in the outcome's error text: the Authorization header, the token itself", async () => {
    const header = `Basic ${Buffer.from(`${ACCOUNT.sid}:${ACCOUNT.authToken}`).toString('base64')}`;
    const echo = `Rejected; you sent Authorization: ${header} (token ${ACCOUNT.authToken})`;
    await settings({ people: { '+15555550198': { message: 'undelivered', errorMessage: echo } } });
    try {
      const run = await load({ to: '+15555550198' });
      helper.getNode('send').receive({ payload: 'x' });
      await Promise.all([tracking(2), twilioKnows(['undelivered'])]);
      await time.clock.advance(2_000); // the look that finds it undelivered
      await until(() => outputs(run) === 1, 'the outcome');
      const [msg] = run.notReached;
      assert.equal(msg.payload.status, 'undelivered');
      assert.equal(msg.payload.errorMessage, 'Rejected; you sent Authorization: Basic ******** (token ********)');
      const whole = JSON.stringify(msg);
      for (const secret of [ACCOUNT.authToken!, header.slice('Basic '.length)]) assert.ok(!whole.includes(secret), 'no secret in the msg');
    } finally {
      await settings({ people: {} });
    }
  });

  it('ends as unknown at the deadline, with the last status Twilio gave', async () => {
    await settings({ people: { '+15555550199': { message: 'sent' } } });
    try {
      const run = await load({ to: '+15555550199', outcomeTimeout: 5 });
      helper.getNode('send').receive({ payload: 'x' });
      await tracking(2);
      await twilioKnows(['sent']);
      await time.clock.advance(2_000); // a look: still `sent`
      await tracking(2); // the look is back, and the next one planned
      await time.clock.advance(3_000);
      await until(() => outputs(run) === 1, 'the deadline');
      assert.deepEqual(
        [run.notReached[0].payload.status, run.notReached[0].payload.lastStatus, run.notReached[0].payload.via],
        ['unknown', 'sent', 'deadline'],
      );
    } finally {
      await settings({ people: {} });
    }
  });

  for (const how of ['a full redeploy', 'a restart of Node-RED']) {
    it(`resumes a wait after ${how}: the msg that waited ends once, the outcome leaves once as a fresh msg`, async () => {
      let run = await load({});
      helper.getNode('send').receive({ payload: 'x', door: 'garage' });
      // Held and stored; Twilio delivers it meanwhile, but the node's first look is 2 s away.
      await Promise.all([tracking(2), twilioKnows(['delivered'])]);
      const before = run;
      if (how === 'a full redeploy') {
        await helper.setFlows(flow({ name: 'changed' }), 'full', credentials());
      } else {
        const red = helper as any;
        await red._redNodes.stopFlows();
        await red._context.close();
        await red._context.load();
        await red._redNodes.startFlows();
      }
      assert.equal(before.dones, 1, 'the msg that waited ended when the node stopped');
      assert.equal(outputs(before), 0);
      run = listen();
      await tracking(2); // resumed
      await time.clock.advance(2_000);
      await until(() => outputs(run) === 1, 'the resumed outcome');
      assert.equal(run.reached[0].payload.status, 'delivered');
      assert.equal(run.reached[0].door, 'garage', 'the msg as it came in');
      await time.clock.advance(60_000); // any other look or deadline, of either run
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(outputs(run) + outputs(before), 1, 'once');
    });
  }

  it('ends every wait when the node is removed: Catch hears OUTCOME_UNKNOWN, and the store forgets them', async () => {
    const run = await load({});
    helper.getNode('send').receive({ payload: 'x' });
    helper.getNode('send').receive({ payload: 'y' });
    await until(() => simulator.messages.size === 2, 'two messages created');
    await tracking(4); // both held: the time.clock stands still, so no look learns an outcome first
    const send = helper.getNode('send') as any;
    const errors: any[] = [];
    const complete = send._complete.bind(send);
    send._complete = (m: unknown, err: any) => {
      if (err) errors.push(err);
      complete(m, err);
    };
    await helper.setFlows(
      flow({}).filter((n) => n.id !== 'send'),
      'full',
      credentials(),
    );
    assert.deepEqual(
      errors.map((e) => e.code),
      ['OUTCOME_UNKNOWN', 'OUTCOME_UNKNOWN'],
    );
    assert.equal(outputs(run), 0);
  });

  it('refuses, before sending, a msg its wait could not keep: a circular one, or one past the bytes a node holds', async () => {
    const run = await load({});
    const circular: Record<string, unknown> = { payload: 'x' };
    circular.self = circular;
    helper.getNode('send').receive(circular);
    await until(() => run.errors.length === 1, 'the refusal');
    assert.equal(run.errors[0].code, 'INVALID_INPUT');
    assert.equal(simulator.messages.size, 0, 'nothing was sent');
    // 7.9 MiB each: a node holds 64 MiB of waiting msgs, so the ninth and tenth are not sent (the
    // time.clock stands still: none of the eight learns its outcome and makes room meanwhile).
    const big = 'x'.repeat(Math.floor(7.9 * 2 ** 20));
    for (let i = 0; i < 10; i++) helper.getNode('send').receive({ payload: big, i });
    await until(() => run.errors.length === 3, 'two refusals');
    assert.deepEqual(
      run.errors.slice(1).map((e) => e.code),
      ['NOT_SENT', 'NOT_SENT'],
    );
    // Patience, not speed: the first waits after a start are written twice (again with Twilio's clock), 8 × 7.9 MiB each time.
    await until(() => simulator.messages.size === 8, 'eight sent', 20_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(simulator.messages.size, 8);
  });

  it('looks once for a wait whose deadline passed while Node-RED was off, before calling it unknown', async () => {
    let run = await load({ outcomeTimeout: 5 });
    helper.getNode('send').receive({ payload: 'x' });
    await Promise.all([tracking(2), twilioKnows(['delivered'])]);
    const red = helper as any;
    await red._redNodes.stopFlows();
    await red._context.close();
    await time.clock.advance(5_500); // the deadline passes while it is off; the text is delivered
    await red._context.load();
    await red._redNodes.startFlows();
    run = listen();
    await until(() => outputs(run) === 1, 'the resumed outcome');
    assert.deepEqual([run.reached[0].payload.status, run.reached[0].payload.via], ['delivered', 'poll']);
  });
});
