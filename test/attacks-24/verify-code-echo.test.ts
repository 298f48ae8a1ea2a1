/**
 * Attack (#24 part 2): the one-time code must never be logged, shown in a status or kept on a msg.
 * twilio-verify takes it off the msg before anything is sent, but Twilio's answer (or a proxy's, or a
 * gateway's error page) may quote the request it refused: "Invalid parameter `Code`: 482915". That
 * text became the coded error's message: on msg.error of the expired output, in done(err) (the log,
 * Catch) and nowhere masked. A local server that answers as such a Twilio does, no mocks.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { accountNode, allNodes, helper, statusesOf, useRuntime } from '../support/harness';
import { builtNodes } from '../support/paths';

const twilioVerify = require(path.join(builtNodes, 'twilio-verify', 'twilio-verify.js')) as unknown;
const SERVICE = 'VA' + 'a'.repeat(32);
const CODE = '482915';

describe('attack: a Verify answer that quotes the code', () => {
  const { simulator } = useRuntime();
  /** Each check is answered with this status and Twilio code, quoting the form it got. */
  let answer = { status: 400, code: 60200 };
  let echo: http.Server;
  let url = '';
  before(async () => {
    echo = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const code = new URLSearchParams(body).get('Code') ?? '';
        const message = `Invalid parameter \`Code\`: ${code} (request ${body})`;
        res.writeHead(answer.status, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            code: answer.code,
            message,
            status: answer.status,
            more_info: `https://www.twilio.com/docs/errors/${answer.code}?code=${code}`,
          }),
        );
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => echo.close(() => resolve())));

  async function check(): Promise<{ ended: unknown; outputs: unknown[]; error?: unknown }> {
    await helper.unload();
    const account = accountNode(simulator.url, 'apiKey', { baseUrl: url });
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
          action: 'check',
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
        },
        { id: 'o0', type: 'helper', z: 'tab' },
        { id: 'o1', type: 'helper', z: 'tab' },
        { id: 'o2', type: 'helper', z: 'tab' },
        { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const outputs: unknown[] = [];
    for (const id of ['o0', 'o1', 'o2', 'caught']) helper.getNode(id).on('input', (m: unknown) => outputs.push(m));
    const node = helper.getNode('verify');
    return new Promise((resolve) => {
      const complete = node._complete as (m: unknown, err?: unknown) => void;
      node._complete = (m: unknown, err?: unknown) => {
        node._complete = complete;
        complete.call(node, m, err);
        setTimeout(() => resolve({ ended: m, outputs, error: err }), 50);
      };
      node.receive({ to: '+15555550100', code: CODE, payload: 'check' });
    });
  }

  const nowhere = (what: string, seen: { ended: unknown; outputs: unknown[]; error?: unknown }) => {
    assert.ok(seen.outputs.length > 0 || seen.error, `${what}: the msg ended somewhere`);
    for (const m of seen.outputs)
      assert.ok(!JSON.stringify(m).includes(CODE), `${what}: the code is on an output msg: ${JSON.stringify(m)}`);
    const err = seen.error as { message?: string; cause?: unknown } | undefined;
    if (err)
      assert.ok(!`${err.message} ${JSON.stringify(err.cause ?? null)}`.includes(CODE), `${what}: the code is in done(err): ${err.message}`);
    const statuses = JSON.stringify(statusesOf(helper.getNode('verify')));
    assert.ok(!statuses.includes(CODE), `${what}: the code is in a status: ${statuses}`);
    const logged = JSON.stringify((helper as unknown as { log(): { args: unknown[] } }).log().args);
    assert.ok(!logged.includes(CODE), `${what}: the code is in the log`);
  };

  for (const [status, code, what] of [
    [400, 60200, 'a refusal (60200 invalid parameter): done(err), Catch, the log'],
    [404, 20404, 'not found (the expired output, msg.error)'],
    [429, 60202, 'too many checks (the expired output, msg.error)'],
    [500, 20500, 'a server error'],
  ] as const)
    it(`keeps the code out of ${what}`, async () => {
      answer = { status, code };
      const seen = await check();
      nowhere(what, seen);
    });
});
