/**
 * Flows with known credentials, made to succeed and to fail in every way we can reach; then every log
 * line, message, status, error and the exported flow are scanned for the secrets: none may appear.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ACCOUNT, API_KEY, FlowNode, allNodes, capturedRED, helper, runSend, useRuntime } from '../support/harness';

const SECRETS = [API_KEY.secret, ACCOUNT.authToken, 'not-the-right-secret-1234'];

/** JSON of anything, circular references and Node-RED's req/res left out. */
function dump(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (key, inner: unknown) => {
    if (key === 'req' || key === 'res' || key === '_req' || key === '_res') return '[http]';
    if (typeof inner === 'object' && inner !== null) {
      if (seen.has(inner)) return '[seen]';
      seen.add(inner);
    }
    if (inner instanceof Error) return { ...inner, message: inner.message, stack: inner.stack };
    return inner;
  });
}

describe('secrets stay secret', () => {
  const { simulator } = useRuntime();

  it('appear in no log line, message, status, error or exported flow', async () => {
    const base = { z: 'tab', wires: [['out']] };
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      {
        id: 'account-good',
        type: 'twilio-config',
        name: 'working account',
        authMode: 'apiKey',
        region: '',
        edge: '',
        defaultFrom: '+15017122661',
        baseUrl: simulator.url,
      },
      {
        id: 'account-bad',
        type: 'twilio-config',
        name: 'wrong token',
        authMode: 'authToken',
        region: '',
        edge: '',
        defaultFrom: '+15017122661',
        baseUrl: simulator.url,
      },
      {
        id: 'sms',
        type: 'twilio-send',
        account: 'account-good',
        resource: 'message',
        to: '+15558675310',
        toType: 'str',
        body: 'hi',
        bodyType: 'str',
        ...base,
      },
      {
        id: 'invalid',
        type: 'twilio-send',
        account: 'account-good',
        resource: 'message',
        to: '+15005550001',
        toType: 'str',
        body: 'hi',
        bodyType: 'str',
        ...base,
      },
      {
        id: 'denied',
        type: 'twilio-send',
        account: 'account-bad',
        resource: 'message',
        to: '+15558675310',
        toType: 'str',
        body: 'hi',
        bodyType: 'str',
        ...base,
      },
      { id: 'get', type: 'twilio-get', account: 'account-bad', object: 'Account', sid: ACCOUNT.sid, sidType: 'str', ...base },
      {
        id: 'raw',
        type: 'twilio-request',
        account: 'account-good',
        domain: 'api',
        method: 'GET',
        path: '/2010-04-01/Accounts/{AccountSid}/Nothing.json',
        pathType: 'str',
        responseType: 'json',
        timeout: 5,
        retries: 0,
        ...base,
      },
      { id: 'in', type: 'twilio-in', account: 'account-good', path: '/twilio/secret', validate: true, reply: 'auto', ...base },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    // Credentials, made up to include the account's real token in the "bad" node's wrong one.
    await helper.load(allNodes, flow, {
      'account-good': { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret, authToken: ACCOUNT.authToken },
      'account-bad': { accountSid: ACCOUNT.sid, authToken: 'not-the-right-secret-1234' },
    });
    const seen: unknown[] = [];
    helper.getNode('out').on('input', (msg: unknown) => seen.push(msg));
    for (const id of ['sms', 'invalid', 'denied', 'get', 'raw', 'in']) {
      const node = helper.getNode(id);
      for (const event of ['call:status', 'call:error', 'call:warn', 'call:log'])
        node.on(event, (call: { args: unknown[] }) => seen.push(call.args));
    }
    for (const id of ['sms', 'invalid', 'denied', 'get', 'raw']) helper.getNode(id).receive({ payload: 'go' });
    // A forged webhook: the warning it causes must not carry the token or the signature.
    const server = http.createServer((req, res) => capturedRED!.httpNode(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const forged = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/twilio/secret`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'forged' },
        body: 'Body=hi',
      });
      assert.equal(forged.status, 403);
    } finally {
      server.closeAllConnections();
      server.close();
    }
    await new Promise((r) => setTimeout(r, 300));

    const logs = ((helper as unknown as { log(): { args: unknown[][] } }).log()?.args ?? []) as unknown[];
    const exported = helper._redNodes.getFlows().flows;
    const haystacks: Record<string, string> = {
      'log lines': dump(logs),
      'messages, statuses, errors and warnings': dump(seen),
      'exported flow': dump(exported),
      'simulator records': dump(simulator.requests),
    };
    assert.ok(haystacks['messages, statuses, errors and warnings'].includes('AUTHENTICATION_CONNECTION_ERROR'), 'the failures did happen');
    assert.ok(haystacks['messages, statuses, errors and warnings'].includes('INVALID_TO_PHONE_NUMBER_ERROR'));
    assert.ok(haystacks['log lines'].length > 100, 'something was logged');
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of SECRETS) assert.ok(!text.includes(secret), `a secret appeared in the ${where}`);
    }
  });

  it('stay out of errors when a server echoes the Authorization header (plain or base64) back', async () => {
    const echo = http.createServer((req, res) => {
      const header = String(req.headers.authorization ?? '');
      const decoded = Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ code: 20003, status: 401, message: `refused ${header} (${decoded}) ${encodeURIComponent(decoded)}` }));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
      for (const mode of ['apiKey', 'authToken'] as const) {
        const { error } = await runSend(url, { to: '+15558675310', toType: 'str', body: 'x', bodyType: 'str' }, {}, { mode });
        await helper.unload();
        assert.equal(error?.code, 'AUTHENTICATION_CONNECTION_ERROR');
        const text = dump(error);
        for (const secret of [API_KEY.secret, ACCOUNT.authToken])
          assert.ok(!text.includes(secret) && !text.includes(encodeURIComponent(secret)), `${mode}: ${text}`);
        assert.ok(!/Basic [A-Za-z0-9+/=]{20,}/.test(text), `${mode}: no Authorization in ${text}`);
      }
    } finally {
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});
