/**
 * twilio-verify in a real Node-RED runtime against the simulator's Verify v2: a start on each channel,
 * a check approved, wrong, expired (the simulator's clock), checked too often, not found; a service
 * from the msg; a start not delivered; Twilio's Verify codes as stable codes; the code never on a
 * msg, in a status or in the log after it is read; hostile input refused before any request.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { VERIFY_ERROR_CODES } from '../../lib/core/errors';
import { VERIFY_BLOCKED_NUMBER, verifyServiceSidOf } from '../../simulator/verify';
import { ACCOUNT, API_KEY, accountNode, allNodes, helper, statusesOf, useRuntime } from '../support/harness';
import { until } from '../support/assertions';
import { builtNodes } from '../support/paths';

const twilioVerify = require(path.join(builtNodes, 'twilio-verify', 'twilio-verify.js')) as unknown;
const SERVICE = verifyServiceSidOf(ACCOUNT.sid);
const PERSON = '+15555550100';
const LANDLINE = '+15555550102';

interface Outcome {
  port?: number;
  msg?: any;
  error?: { code: string; message: string; cause?: any };
  /** The msg as the node ended it (what a Catch node gets on a failure). */
  ended?: any;
}

describe('twilio-verify', () => {
  const { simulator } = useRuntime();
  const reached = new Set<string>();

  /** Loads account → twilio-verify → three helpers (one per output); a test may load again (a start, then a check). */
  const load = async (config: Record<string, unknown> = {}) => {
    await helper.unload();
    const account = accountNode(simulator.url);
    await helper.load(
      [...allNodes, twilioVerify],
      [
        { id: 'tab', type: 'tab', label: 'verify' },
        account.node,
        {
          id: 'verify',
          type: 'twilio-verify',
          z: 'tab',
          account: 'account',
          action: 'start',
          serviceSid: SERVICE,
          serviceSidType: 'str',
          to: 'to',
          toType: 'msg',
          channel: 'sms',
          channelType: 'channel',
          code: 'code',
          codeType: 'msg',
          verificationSid: '',
          verificationSidType: 'none',
          wires: [['o0'], ['o1'], ['o2']],
          ...config,
        },
        { id: 'o0', type: 'helper', z: 'tab' },
        { id: 'o1', type: 'helper', z: 'tab' },
        { id: 'o2', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
  };

  /** Sends a msg into the loaded node: resolves when it has ended, with the output it left on or its error. */
  const run = (msg: Record<string, unknown>): Promise<Outcome> => {
    const node = helper.getNode('verify');
    const outs = [0, 1, 2].map((i) => helper.getNode(`o${i}`));
    return new Promise((resolve) => {
      const result: Outcome = {};
      let ended = false;
      const listeners = outs.map((_, i) => (m: any) => {
        result.port = i;
        result.msg = m;
        finish();
      });
      outs.forEach((o, i) => o.on('input', listeners[i]));
      const finish = () => {
        if (!ended || (!result.error && result.port === undefined)) return;
        outs.forEach((o, i) => o.removeListener('input', listeners[i]));
        resolve(result);
      };
      const complete = node._complete as (m: unknown, err?: any) => void;
      node._complete = (m: any, err?: any) => {
        node._complete = complete;
        if (err) result.error = { code: err.code, message: err.message, cause: err.cause };
        result.ended = m;
        complete.call(node, m, err);
        ended = true;
        setImmediate(finish);
      };
      node.receive(msg);
    });
  };

  const codeFor = (to: string) => {
    const found = simulator.verify.codes().find((c) => c.to === to);
    assert.ok(found, `a code was sent to ${to}`);
    return String(found.code);
  };
  const verifyRequests = () => simulator.requests.filter((r) => r.path.startsWith('/v2/'));
  /** The code appears nowhere: not on the msg, not in any status, not in the log. */
  const assertNowhere = (code: string, ...msgs: unknown[]) => {
    for (const msg of msgs) assert.ok(!JSON.stringify(msg ?? null).includes(code), `the code is not on ${JSON.stringify(msg)}`);
    const statuses = JSON.stringify(statusesOf(helper.getNode('verify')));
    assert.ok(!statuses.includes(code), `the code is not in a status: ${statuses}`);
    const logged = JSON.stringify((helper as unknown as { log(): { args: unknown[] } }).log().args);
    assert.ok(!logged.includes(code), 'the code is not in the log');
  };

  for (const [channel, to] of [
    ['sms', PERSON],
    ['whatsapp', PERSON],
    ['call', PERSON],
    ['email', 'person@example.com'],
  ] as const) {
    it(`starts a verification by ${channel}: output 1, sent`, async () => {
      await load({ channel });
      const { port, msg, error } = await run({ to, payload: 'start' });
      assert.equal(error, undefined);
      assert.equal(port, 0);
      assert.equal(msg.payload.status, 'pending');
      assert.equal(msg.payload.channel, channel);
      assert.match(msg.payload.sid, /^VE[0-9a-f]{32}$/);
      assert.deepEqual(
        { ...msg.verify, sid: undefined },
        { action: 'start', outcome: 'sent', status: 'pending', sid: undefined, serviceSid: SERVICE, to, channel },
      );
      const [request] = verifyRequests();
      assert.equal(request.path, `/v2/Services/${SERVICE}/Verifications`);
      assert.deepEqual(request.params, { To: to, Channel: channel });
      assert.equal(request.username, API_KEY.sid, "with the account's credentials");
      assert.ok(statusesOf(helper.getNode('verify')).some((s) => s.text === 'twilio-verify.status.sent'));
    });
  }

  it('checks the right code: output 1, approved; the code is taken off the msg and is nowhere after', async () => {
    await load();
    await run({ to: PERSON });
    const code = codeFor(PERSON);
    await load({ action: 'check' });
    const { port, msg, error } = await run({ to: PERSON, code, payload: 'typed' });
    assert.equal(error, undefined);
    assert.equal(port, 0);
    assert.equal(msg.payload.status, 'approved');
    assert.equal(msg.payload.valid, true);
    assert.equal(msg.verify.outcome, 'approved');
    assert.equal('code' in msg, false, 'msg.code is gone');
    assertNowhere(code, msg);
    const check = verifyRequests().at(-1)!;
    assert.equal(check.path, `/v2/Services/${SERVICE}/VerificationCheck`);
    assert.deepEqual(check.params, { To: PERSON, Code: code });
    // Approved is the end of it: the same code again finds nothing pending.
    const again = await run({ to: PERSON, code });
    assert.equal(again.port, 2);
    assert.equal(again.msg.error.code, 'NOT_FOUND');
  });

  it('a code read from msg.payload is replaced by the answer; one read by a verification SID is checked by it', async () => {
    await load();
    const started = await run({ to: PERSON });
    const code = codeFor(PERSON);
    await load({ action: 'check', code: 'payload', verificationSid: 'sid', verificationSidType: 'msg' });
    const { port, msg } = await run({ payload: code, sid: started.msg.payload.sid });
    assert.equal(port, 0);
    assert.equal(msg.payload.status, 'approved');
    assert.deepEqual(verifyRequests().at(-1)!.params, { Code: code, VerificationSid: started.msg.payload.sid });
    assertNowhere(code, msg);
  });

  it('checks a code sent by email, whatever the (start-only) channel says', async () => {
    const to = 'person@example.com';
    await load({ channel: 'email' });
    await run({ to });
    const code = codeFor(to);
    await load({ action: 'check', channel: 'sms' });
    const { port, msg } = await run({ to, code });
    assert.equal(port, 0);
    assert.equal(msg.payload.channel, 'email');
    assert.deepEqual(verifyRequests().at(-1)!.params, { To: to, Code: code });
  });

  it('a code read from flow context is taken out of it', async () => {
    await load();
    await run({ to: PERSON });
    const code = codeFor(PERSON);
    await load({ action: 'check', code: 'otp', codeType: 'flow' });
    const flow = (helper.getNode('verify') as any).context().flow;
    flow.set('otp', code);
    const { port, msg } = await run({ to: PERSON });
    assert.equal(port, 0);
    assert.equal(msg.payload.status, 'approved');
    assert.equal(flow.get('otp'), undefined, 'the code is gone from flow context');
    assertNowhere(code, msg);
  });

  it('a wrong code: output 2, still pending', async () => {
    await load();
    await run({ to: PERSON });
    const code = codeFor(PERSON);
    const wrong = code === '000000' ? '111111' : '000000';
    await load({ action: 'check' });
    const { port, msg } = await run({ to: PERSON, code: wrong });
    assert.equal(port, 1);
    assert.equal(msg.payload.status, 'pending');
    assert.equal(msg.verify.outcome, 'wrongCode');
    assertNowhere(wrong, msg);
    assert.ok(statusesOf(helper.getNode('verify')).some((s) => s.text === 'twilio-verify.status.wrongCode'));
    // Still pending: the right code still works.
    assert.equal((await run({ to: PERSON, code })).port, 0);
  });

  it("expired after 10 minutes on the simulator's clock: output 3, NOT_FOUND (20404)", async () => {
    await load();
    await run({ to: PERSON });
    const code = codeFor(PERSON);
    simulator.verify.advance(10 * 60_000 + 1_000);
    await load({ action: 'check' });
    const { port, msg } = await run({ to: PERSON, code });
    assert.equal(port, 2);
    assert.equal(msg.verify.outcome, 'expired');
    assert.equal(msg.verify.status, 'expired');
    assert.equal(msg.error.code, 'NOT_FOUND');
    assert.equal(msg.error.cause.twilioCode, 20404);
    assertNowhere(code, msg);
  });

  it('a check for an address with nothing pending: output 3, NOT_FOUND', async () => {
    await load({ action: 'check' });
    const { port, msg } = await run({ to: '+15555550199', code: '123456' });
    assert.equal(port, 2);
    assert.equal(msg.error.code, 'NOT_FOUND');
    assert.equal(verifyRequests().length, 1);
  });

  it('a code flood: 5 wrong checks, then VERIFY_MAX_CHECK_ATTEMPTS (60202) on output 3, each check sent once, never retried', async () => {
    await load();
    await run({ to: PERSON });
    const code = codeFor(PERSON);
    const wrong = code === '000000' ? '111111' : '000000';
    await load({ action: 'check' });
    const ports: number[] = [];
    for (let i = 0; i < 7; i++) ports.push((await run({ to: PERSON, code: wrong })).port!);
    assert.deepEqual(ports, [1, 1, 1, 1, 1, 2, 2]);
    // The right code is too late now.
    const late = await run({ to: PERSON, code });
    assert.equal(late.port, 2);
    assert.equal(late.msg.error.code, 'VERIFY_MAX_CHECK_ATTEMPTS');
    assert.equal(late.msg.error.cause.twilioCode, 60202);
    assert.equal(late.msg.verify.status, 'max_attempts_reached');
    reached.add('VERIFY_MAX_CHECK_ATTEMPTS');
    assert.ok(statusesOf(helper.getNode('verify')).some((s) => s.text === 'twilio-verify.status.tooManyAttempts'));
    assert.equal(verifyRequests().filter((r) => r.path.endsWith('/VerificationCheck')).length, 8);
    // Many at once: each ends exactly once, each is one request.
    const before = verifyRequests().length;
    const arrived: number[] = [];
    [0, 1, 2].forEach((i) => helper.getNode(`o${i}`).on('input', (m: any) => arrived.push(i) && assert.equal('code' in m, false)));
    for (let i = 0; i < 30; i++) helper.getNode('verify').receive({ to: PERSON, code: wrong });
    await until(() => arrived.length === 30, '30 checks ended');
    assert.deepEqual(new Set(arrived), new Set([2]));
    assert.equal(verifyRequests().length - before, 30);
    assertNowhere(code, late.msg);
  });

  it('removed with checks waiting, it ends each msg exactly once: those not sent as NOT_SENT, each sent one with its answer', async () => {
    await load({ action: 'check' });
    simulator.latencyMs = 300;
    try {
      const node = helper.getNode('verify');
      const ends: Array<string | undefined> = [];
      const complete = node._complete as (m: any, err?: any) => void;
      node._complete = (m: any, err?: any) => {
        ends.push(err?.code);
        assert.equal('code' in m, false, 'no code on a msg that ends');
        complete.call(node, m, err);
      };
      for (let i = 0; i < 40; i++) node.receive({ to: PERSON, code: '123456' });
      await until(() => simulator.stats.requests > 0, 'the first checks under way');
      await helper.unload();
      assert.equal(ends.length, 40, 'each msg ended once');
      const sent = simulator.stats.requests;
      assert.ok(sent > 0 && sent < 40, `${sent} sent before the node went`);
      assert.equal(ends.filter((c) => c === 'NOT_SENT').length, 40 - sent, 'the others were never sent');
      assert.equal(ends.filter((c) => c === undefined).length, sent, 'each one sent got its answer (nothing pending: output 3)');
    } finally {
      simulator.latencyMs = 0;
    }
  });

  it('a 429 (60212, too many requests for one number) ends the msg with TOO_MANY_REQUESTS and is not retried', async () => {
    await load({ action: 'check' });
    simulator.failNext({ type: 'http', status: 429, code: 60212, message: 'Too many concurrent requests for phone number', retryAfter: 0 });
    const { error, port, ended } = await run({ to: PERSON, code: '123456' });
    assert.equal(port, undefined);
    assert.equal(error?.code, 'TOO_MANY_REQUESTS');
    assert.equal(error?.cause?.twilioCode, 60212);
    assert.equal(verifyRequests().length, 1);
    assert.equal('code' in ended, false, 'the msg a Catch node gets has no code');
  });

  it("Twilio's 60200 (invalid parameter) is INVALID_REQUEST_ERROR", async () => {
    await load();
    simulator.failNext({ type: 'http', status: 400, code: 60200, message: 'Invalid parameter: To' });
    const { error } = await run({ to: PERSON });
    assert.equal(error?.code, 'INVALID_REQUEST_ERROR');
    assert.equal(error?.cause?.twilioCode, 60200);
  });

  it('takes the service, the address and the channel from the msg', async () => {
    const created = await fetch(`${simulator.url}/v2/Services`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${ACCOUNT.sid}:${ACCOUNT.authToken}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'FriendlyName=Second+service&CodeLength=8',
    });
    const service = (await created.json()) as { sid: string };
    await load({ serviceSid: 'serviceSid', serviceSidType: 'msg', channel: 'channel', channelType: 'msg' });
    const { port, msg } = await run({ serviceSid: service.sid, to: '+1 (555) 555-0100', channel: 'CALL' });
    assert.equal(port, 0);
    assert.equal(msg.payload.service_sid, service.sid);
    assert.equal(msg.payload.channel, 'call');
    assert.equal(msg.payload.to, PERSON);
    assert.equal(verifyRequests().at(-1)!.path, `/v2/Services/${service.sid}/Verifications`);
    assert.equal(codeFor(PERSON).length, 8);
  });

  it('a start Verify will not deliver: output 2 (landline 60205, Fraud Guard 60410, a 6th send 60203)', async () => {
    await load();
    const landline = await run({ to: LANDLINE });
    assert.equal(landline.port, 1);
    assert.equal(landline.msg.error.code, 'VERIFY_NOT_DELIVERABLE');
    assert.equal(landline.msg.error.cause.twilioCode, 60205);
    assert.equal(landline.msg.verify.outcome, 'notDelivered');
    const blocked = await run({ to: VERIFY_BLOCKED_NUMBER });
    assert.equal(blocked.port, 1);
    assert.equal(blocked.msg.error.cause.twilioCode, 60410);
    reached.add('VERIFY_NOT_DELIVERABLE');
    // A call to the landline is delivered.
    await load({ channel: 'call' });
    assert.equal((await run({ to: LANDLINE })).port, 0);
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) ports.push((await run({ to: PERSON })).port!);
    assert.deepEqual(ports, [0, 0, 0, 0, 0, 1]);
    assert.equal(simulator.verify.codes().filter((c) => c.to === PERSON).length, 1, 'one verification, sent 5 times');
    const last = await run({ to: PERSON });
    assert.equal(last.msg.error.code, 'VERIFY_MAX_SEND_ATTEMPTS');
    assert.equal(last.msg.error.cause.twilioCode, 60203);
    reached.add('VERIFY_MAX_SEND_ATTEMPTS');
    assert.ok(statusesOf(helper.getNode('verify')).some((s) => s.text === 'twilio-verify.status.notDelivered'));
  });

  it('refuses hostile input before any request, and a refused code is nowhere either', async () => {
    await load({ action: 'check' });
    const refused: Array<[Record<string, unknown>, string]> = [
      [{ to: PERSON }, 'MISSING_INPUT'],
      [{ to: PERSON, code: 'abcdef' }, 'INVALID_INPUT'],
      [{ to: PERSON, code: '123' }, 'INVALID_INPUT'],
      [{ to: PERSON, code: '12345678901' }, 'INVALID_INPUT'],
      [{ to: PERSON, code: '9'.repeat(1_000_000) }, 'INVALID_INPUT'],
      [{ to: PERSON, code: '123456\n' + 'x'.repeat(20) }, 'INVALID_INPUT'],
      [{ to: PERSON, code: '12 34 56' }, 'INVALID_INPUT'],
      [{ to: PERSON, code: { $ne: '' } }, 'INVALID_INPUT'],
      [{ to: PERSON, code: ['123456'] }, 'INVALID_INPUT'],
      [{ to: PERSON, code: 1.5 }, 'INVALID_INPUT'],
      [{ to: `${PERSON}\nTo=+15555550101`, code: '123456' }, 'INVALID_INPUT'],
      [{ to: '{{payload}}', code: '123456' }, 'INVALID_INPUT'],
      [{ to: '+1555\n5550100', code: '123456' }, 'INVALID_INPUT'],
      [{ to: '+1555\t5550100', code: '123456' }, 'INVALID_INPUT'],
      [{ to: ['+15555550100'], code: '123456' }, 'INVALID_INPUT'],
      [{ code: '123456' }, 'MISSING_INPUT'],
    ];
    for (const [msg, code] of refused) {
      const { error, port, ended } = await run({ ...msg });
      assert.equal(port, undefined);
      assert.equal(error?.code, code, `${JSON.stringify(msg).slice(0, 80)}: ${error?.message}`);
      assert.equal('code' in ended, false, 'the code is taken off even when it is refused');
    }
    await load({ channel: 'email' });
    for (const to of ['a@b.co\nBcc: x@y.z', 'a@b.co,c@d.ee', '{{#x}}@b.co', 'not-an-address', `${'a'.repeat(250)}@b.co`]) {
      const { error } = await run({ to });
      assert.equal(error?.code, 'INVALID_INPUT', to);
    }
    await load({ serviceSid: 'VA123', channel: 'sms' });
    assert.equal((await run({ to: PERSON })).error?.code, 'INVALID_INPUT');
    await load({ serviceSid: '', channel: 'sms' });
    assert.equal((await run({ to: PERSON })).error?.code, 'MISSING_INPUT');
    await load({ channel: 'pigeon' });
    assert.equal((await run({ to: PERSON })).error?.code, 'INVALID_INPUT');
    assert.equal(verifyRequests().length, 0, 'nothing refused reached Twilio');
    assertNowhere('999999999999');
  });

  it("has reached every Verify code (each also has a status reason in every language: see the unit's status test)", () => {
    assert.deepEqual(
      VERIFY_ERROR_CODES.filter((c) => !reached.has(c)),
      [],
    );
  });
});
