/**
 * The simulator's Verify v2 (simulator/verify.ts), driven by the unmodified twilio SDK through the
 * base-URL request client: answers in the shapes of Twilio's spec, Twilio's limits (5 sends, 5 checks,
 * 10 minutes) and error bodies, and its admin endpoints (/_sim/verify/codes, /_sim/verify/advance).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createTwilioClient } from '../../lib/transport/sdk-client';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { VERIFY_BLOCKED_NUMBER, verifyServiceSidOf } from '../../simulator/verify';
import { SPEC_DIR } from '../support/prism';

const KEY = DEMO_ACCOUNT.apiKeys![0];
const TO = '+15555550100';
const SERVICE = verifyServiceSidOf(DEMO_ACCOUNT.sid);
const spec = require(path.join(SPEC_DIR, 'twilio_verify_v2.json')) as { components: { schemas: Record<string, { properties: object }> } };
/** The properties Twilio's spec gives a resource: the simulator answers with no other. */
const declared = (schema: string) => Object.keys(spec.components.schemas[schema].properties);

describe('simulator: Verify v2', () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let client: ReturnType<typeof createTwilioClient>;
  const verify = () => client.client.verify.v2.services(SERVICE);
  const codeOf = (to: string) => String(simulator.verify.codes().find((c) => c.to === to)!.code);
  const rejects = async (promise: Promise<unknown>, status: number, code: number) => {
    await assert.rejects(promise, (err: { status?: number; code?: number; message?: string }) => {
      assert.equal(err.status, status, err.message);
      assert.equal(err.code, code, err.message);
      return true;
    });
  };

  before(async () => {
    await simulator.start();
    client = createTwilioClient(
      { accountSid: DEMO_ACCOUNT.sid, authMode: 'apiKey', apiKeySid: KEY.sid, apiKeySecret: KEY.secret },
      { baseUrl: simulator.url },
    );
  });
  beforeEach(() => simulator.reset());
  after(async () => {
    client.requestClient.destroy();
    await simulator.stop();
  });

  it('has a Verify Service for each account, and makes more; its answers carry only what the spec declares', async () => {
    const services = await client.client.verify.v2.services.list();
    assert.deepEqual(
      services.map((s) => s.sid),
      [SERVICE],
    );
    const created = await client.client.verify.v2.services.create({ friendlyName: 'Door', codeLength: 8 });
    assert.match(created.sid, /^VA[0-9a-f]{32}$/);
    assert.equal(created.codeLength, 8);
    await rejects(client.client.verify.v2.services.create({ friendlyName: 'x'.repeat(31) }), 400, 60200);
    const raw = await fetch(`${simulator.url}/v2/Services/${SERVICE}`, {
      headers: { Authorization: `Basic ${Buffer.from(`${KEY.sid}:${KEY.secret}`).toString('base64')}` },
    });
    const extra = Object.keys((await raw.json()) as object).filter((k) => !declared('verify.v2.service').includes(k));
    assert.deepEqual(extra, []);
  });

  it('starts, sends again the same verification, and checks: wrong (pending), right (approved), then gone (20404)', async () => {
    const started = await verify().verifications.create({ to: TO, channel: 'sms' });
    assert.equal(started.status, 'pending');
    assert.equal(started.to, TO);
    const again = await verify().verifications.create({ to: TO, channel: 'call' });
    assert.equal(again.sid, started.sid, 'a second send of the pending verification');
    assert.equal(again.sendCodeAttempts.length, 2);
    const code = codeOf(TO);
    assert.match(code, /^\d{6}$/);
    const wrong = await verify().verificationChecks.create({ to: TO, code: code === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 'pending');
    assert.equal(wrong.valid, false);
    const right = await verify().verificationChecks.create({ to: TO, code });
    assert.equal(right.status, 'approved');
    assert.equal(right.valid, true);
    assert.equal((await verify().verifications(started.sid).fetch()).status, 'approved');
    await rejects(verify().verificationChecks.create({ to: TO, code }), 404, 20404);
    assert.deepEqual(simulator.verify.codes(), [], 'no code pending');
    // The answers carry only what Twilio's spec declares.
    const record = simulator.verify.verifications.get(started.sid)!.record;
    assert.deepEqual(
      Object.keys(record).filter((k) => !declared('verify.v2.service.verification').includes(k)),
      [],
    );
  });

  it("expires after 10 minutes on Verify's clock (POST /_sim/verify/advance)", async () => {
    const started = await verify().verifications.create({ to: TO, channel: 'sms' });
    const code = codeOf(TO);
    const advanced = await fetch(`${simulator.url}/_sim/verify/advance`, { method: 'POST', body: JSON.stringify({ ms: 600_001 }) });
    assert.equal(advanced.status, 200);
    await rejects(verify().verificationChecks.create({ to: TO, code }), 404, 20404);
    assert.equal((await verify().verifications(started.sid).fetch()).status, 'expired');
    assert.equal((await fetch(`${simulator.url}/_sim/verify/advance`, { method: 'POST', body: 'nope' })).status, 400);
  });

  it('refuses a 6th check (60202) and a 6th send (60203), as Twilio does', async () => {
    await verify().verifications.create({ to: TO, channel: 'sms' });
    const code = codeOf(TO);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) assert.equal((await verify().verificationChecks.create({ to: TO, code: wrong })).status, 'pending');
    await rejects(verify().verificationChecks.create({ to: TO, code }), 429, 60202);
    const other = '+15555550103';
    for (let i = 0; i < 5; i++) await verify().verifications.create({ to: other, channel: 'sms' });
    await rejects(verify().verifications.create({ to: other, channel: 'sms' }), 429, 60203);
  });

  it("answers bad parameters, landlines, Fraud Guard and unknown services with Twilio's codes", async () => {
    await rejects(verify().verifications.create({ to: '5555550100', channel: 'sms' }), 400, 60200);
    await rejects(verify().verifications.create({ to: TO, channel: 'sna' }), 400, 60200);
    await rejects(verify().verifications.create({ to: 'not an address', channel: 'email' }), 400, 60200);
    await rejects(verify().verifications.create({ to: '+15555550102', channel: 'sms' }), 400, 60205);
    await rejects(verify().verifications.create({ to: VERIFY_BLOCKED_NUMBER, channel: 'sms' }), 403, 60410);
    await rejects(verify().verificationChecks.create({ to: TO, code: 'abc123' }), 400, 60200);
    await rejects(client.client.verify.v2.services('VA' + 'f'.repeat(32)).verifications.create({ to: TO, channel: 'sms' }), 404, 20404);
    assert.equal((await verify().verifications.create({ to: 'person@example.com', channel: 'email' })).channel, 'email');
  });

  it('shows the codes it sent at GET /_sim/verify/codes, newest first; cancel ends one', async () => {
    await verify().verifications.create({ to: TO, channel: 'sms' });
    const second = await verify().verifications.create({ to: '+15555550103', channel: 'whatsapp' });
    const codes = (await (await fetch(`${simulator.url}/_sim/verify/codes`)).json()) as Array<Record<string, string>>;
    assert.deepEqual(
      codes.map((c) => [c.to, c.channel, c.service_sid]),
      [
        ['+15555550103', 'whatsapp', SERVICE],
        [TO, 'sms', SERVICE],
      ],
    );
    assert.ok(codes.every((c) => /^\d{6}$/.test(c.code)));
    assert.equal((await verify().verifications(second.sid).update({ status: 'canceled' })).status, 'canceled');
    assert.equal(simulator.verify.codes().length, 1);
  });
});
