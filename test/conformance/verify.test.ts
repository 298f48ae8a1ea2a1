/**
 * Every request twilio-verify makes, sent through Stoplight Prism serving Twilio's own OpenAPI
 * description of Verify v2 (twilio_verify_v2.json, one Prism for it): a start on each channel, a check
 * by address and by verification SID. A request that breaks the spec gets 422 and fails the test.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyHttpRequest } from '../../lib/outbound/verify';
import { performRawRequest } from '../../lib/transport/raw-request';
import { accountNode, allNodes, helper } from '../support/harness';
import { builtNodes } from '../support/paths';
import { PrismServer, startConformanceProxy, startPrism } from '../support/prism';

const twilioVerify = require(path.join(builtNodes, 'twilio-verify', 'twilio-verify.js')) as unknown;
const SPEC = 'twilio_verify_v2.json';
const SERVICE = 'VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';

describe('conformance: twilio-verify against Twilio Verify v2 OpenAPI (Prism)', { timeout: 180_000 }, () => {
  let prism: PrismServer;
  let proxy: Awaited<ReturnType<typeof startConformanceProxy>>;

  before(async () => {
    prism = await startPrism(SPEC);
    proxy = await startConformanceProxy(prism.url, SPEC);
  });
  after(async () => {
    await helper.unload();
    await proxy?.stop();
    await prism?.stop();
  });

  /** One msg through a twilio-verify with `config`: its outputs, or the error it ended with. */
  const run = async (config: Record<string, unknown>, msg: Record<string, unknown>) => {
    const account = accountNode(proxy.url);
    await helper.load(
      [...allNodes, twilioVerify],
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'verify',
          type: 'twilio-verify',
          z: 'tab',
          account: 'account',
          serviceSid: SERVICE,
          serviceSidType: 'str',
          to: 'to',
          toType: 'msg',
          channelType: 'channel',
          code: 'code',
          codeType: 'msg',
          wires: [['out'], ['out'], ['out']],
          ...config,
        },
        { id: 'out', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const node = helper.getNode('verify');
    const result = await new Promise<{ msg?: any; error?: any }>((resolve) => {
      const complete = node._complete as (m: unknown, err?: any) => void;
      let out: any;
      helper.getNode('out').on('input', (m: any) => (out = m));
      node._complete = (m: unknown, err?: any) => {
        complete.call(node, m, err);
        setTimeout(() => resolve({ msg: out, error: err }), 20);
      };
      node.receive(msg);
    });
    await helper.unload();
    return result;
  };

  for (const [channel, to] of [
    ['sms', '+14155550100'],
    ['whatsapp', '+14155550100'],
    ['call', '+14155550100'],
    ['email', 'person@example.com'],
  ] as const) {
    it(`start by ${channel}`, async () => {
      const before = proxy.violations.length;
      const { msg, error } = await run({ action: 'start', channel }, { to });
      assert.equal(error, undefined, `Prism refused the request: ${error?.message}`);
      assert.ok(msg.payload.sid);
      assert.deepEqual(proxy.violations.slice(before), []);
      assert.equal(proxy.requests.at(-1), `POST /v2/Services/${SERVICE}/Verifications`);
    });
  }

  it('check by address, and by verification SID', async () => {
    const before = proxy.violations.length;
    const byAddress = await run({ action: 'check' }, { to: '+14155550100', code: '123456' });
    assert.equal(byAddress.error, undefined, `Prism refused the request: ${byAddress.error?.message}`);
    const bySid = await run(
      { action: 'check', verificationSid: 'sid', verificationSidType: 'msg' },
      { sid: 'VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', code: '0123456789' },
    );
    assert.equal(bySid.error, undefined, `Prism refused the request: ${bySid.error?.message}`);
    assert.deepEqual(proxy.violations.slice(before), []);
    assert.deepEqual(proxy.requests.slice(-2), [
      `POST /v2/Services/${SERVICE}/VerificationCheck`,
      `POST /v2/Services/${SERVICE}/VerificationCheck`,
    ]);
  });

  it('refuses a request that breaks the spec (the checks above can fail)', async () => {
    const before = proxy.violations.length;
    const transport = {
      accountSid: 'AC' + 'a'.repeat(32),
      authorization: 'Basic eDp5',
      baseUrl: proxy.url,
      agentFor: () => undefined as never,
      schedule: <T>(run: () => Promise<T>) => run(),
    };
    const request = verifyHttpRequest({ action: 'start', serviceSid: SERVICE, to: '+14155550100', channel: 'sms' });
    // An undeclared parameter, a Service SID of the wrong shape.
    await assert.rejects(performRawRequest({ ...request, form: { ...request.form, Chanel: 'sms' } }, transport), { status: 422 });
    await assert.rejects(performRawRequest({ ...request, path: '/v2/Services/VA123/Verifications' }, transport), { status: 422 });
    assert.equal(proxy.violations.length - before, 2, proxy.violations.join('\n'));
  });
});
