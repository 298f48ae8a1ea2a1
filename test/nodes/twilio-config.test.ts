import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCOUNT, API_KEY, FlowNode, accountNode, allNodes, helper, runSend, sendTo, useRuntime } from '../support/harness';

const TO = '+15558675310';
const message = { to: TO, toType: 'str', body: 'hi', bodyType: 'str' };

describe('twilio-config', () => {
  const { simulator } = useRuntime();

  it('signs in with an API Key (SK… + secret) for the account', async () => {
    const { error } = await runSend(simulator.url, message, {}, { mode: 'apiKey' });
    assert.equal(error, undefined);
    assert.equal(simulator.requests[0].username, API_KEY.sid);
    assert.match(simulator.requests[0].path, new RegExp(`/Accounts/${ACCOUNT.sid}/Messages.json$`));
  });

  it('signs in with the Auth Token', async () => {
    const { error } = await runSend(simulator.url, message, {}, { mode: 'authToken' });
    assert.equal(error, undefined);
    assert.equal(simulator.requests[0].username, ACCOUNT.sid);
  });

  it('reports credentials Twilio refuses as AUTHENTICATION_CONNECTION_ERROR, with no secret in the error', async () => {
    const secret = 'wrong-secret-value-1234';
    const { error, statuses } = await runSend(
      simulator.url,
      message,
      {},
      { credentials: { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: secret } },
    );
    assert.equal(error?.code, 'AUTHENTICATION_CONNECTION_ERROR');
    assert.equal(error?.cause?.twilioCode, 20003);
    assert.equal(error?.cause?.status, 401);
    assert.ok(!JSON.stringify(error).includes(secret));
    assert.ok(!JSON.stringify(statuses).includes(secret));
  });

  it('reports missing or malformed credentials before any request', async () => {
    const cases: Array<[object, string, RegExp]> = [
      [{ apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret }, 'MISSING_INPUT', /Account SID is not set/],
      [{ accountSid: 'AC123', apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret }, 'INVALID_INPUT', /Account SID must be AC/],
      [{ accountSid: ACCOUNT.sid, apiKeySid: 'SKshort', apiKeySecret: API_KEY.secret }, 'INVALID_INPUT', /API Key SID must be SK/],
      [{ accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid }, 'MISSING_INPUT', /API Key secret is not set/],
    ];
    for (const [credentials, code, text] of cases) {
      const { error } = await runSend(simulator.url, message, {}, { credentials });
      assert.equal(error?.code, code);
      assert.match(error!.message, text);
      await helper.unload();
    }
    const { error } = await runSend(simulator.url, message, {}, { mode: 'authToken', credentials: { accountSid: ACCOUNT.sid } });
    assert.equal(error?.code, 'MISSING_INPUT');
    assert.match(error!.message, /Auth Token is not set/);
    assert.equal(simulator.requests.length, 0);
  });

  it('refuses an API base URL that is not http(s) or carries a password', async () => {
    for (const baseUrl of ['ftp://127.0.0.1:1', 'http://user:pw@127.0.0.1:1', 'not a url']) {
      const { error } = await runSend(simulator.url, message, {}, { account: { baseUrl } });
      assert.equal(error?.code, 'INVALID_INPUT', baseUrl);
      assert.ok(!error!.message.includes('pw@'));
      await helper.unload();
    }
  });

  it('reads ${ENV_VAR} references in credentials and settings (as in the demo: TWILIO_ACCOUNT / TWILIO_TOKEN)', async () => {
    Object.assign(process.env, {
      TWILIO_ACCOUNT: ACCOUNT.sid,
      TWILIO_TOKEN: ACCOUNT.authToken,
      TWILIO_SIM: simulator.url,
      TWILIO_FROM: '+15017122669',
    });
    try {
      const { error } = await runSend(
        '${TWILIO_SIM}',
        message,
        {},
        {
          mode: 'authToken',
          account: { defaultFrom: '${TWILIO_FROM}' },
          credentials: { accountSid: '${TWILIO_ACCOUNT}', authToken: '${TWILIO_TOKEN}' },
        },
      );
      assert.equal(error, undefined);
      assert.equal(simulator.requests[0].username, ACCOUNT.sid);
      assert.equal(simulator.requests[0].params.From, '+15017122669');
    } finally {
      for (const name of ['TWILIO_ACCOUNT', 'TWILIO_TOKEN', 'TWILIO_SIM', 'TWILIO_FROM']) delete process.env[name];
    }
  });

  it('builds one SDK client per account, shared by its nodes, with region and edge, and releases it on close', async () => {
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      {
        id: 'account',
        type: 'twilio-config',
        authMode: 'apiKey',
        region: 'ie1',
        edge: 'dublin',
        defaultFrom: '+15017122661',
        baseUrl: simulator.url,
      },
      { id: 'a', type: 'twilio-send', z: 'tab', account: 'account', resource: 'message', ...message, wires: [['out']] },
      { id: 'b', type: 'twilio-send', z: 'tab', account: 'account', resource: 'message', ...message, wires: [['out']] },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    await helper.load(allNodes, flow, { account: { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret } });
    const account = helper.getNode('account') as unknown as { getClient(): { region: string; edge: string } };
    const client = account.getClient();
    assert.equal(account.getClient(), client);
    assert.equal(client.region, 'ie1');
    assert.equal(client.edge, 'dublin');
    assert.equal((await sendTo(helper.getNode('a'), helper.getNode('out'), {})).error, undefined);
    assert.equal((await sendTo(helper.getNode('b'), helper.getNode('out'), {})).error, undefined);
    assert.equal(account.getClient(), client);
    await helper.unload();
    assert.throws(() => account.getClient(), /closed/);
  });

  it('keeps credentials out of the flow JSON, the node and its outputs', async () => {
    const { output } = await runSend(simulator.url, message, {});
    const flows = JSON.stringify(helper._redNodes.getFlows().flows);
    const account = helper.getNode('account');
    const visible = JSON.stringify({
      flows,
      output,
      account: Object.keys(account)
        .filter((k) => k !== 'credentials')
        .map((k) => String(account[k])),
    });
    for (const secret of [API_KEY.secret, ACCOUNT.authToken]) assert.ok(!visible.includes(secret), 'a secret leaked');
    assert.ok(!flows.includes(API_KEY.sid), 'credential fields stay out of the flow');
  });

  it('reports a node with no account selected as MISSING_INPUT', async () => {
    await helper.load(allNodes, [
      { id: 'tab', type: 'tab', label: 't' },
      { id: 'send', type: 'twilio-send', z: 'tab', account: '', resource: 'message', ...message, wires: [['out']] },
      { id: 'out', type: 'helper', z: 'tab' },
    ]);
    const { error } = await sendTo(helper.getNode('send'), helper.getNode('out'), {});
    assert.equal(error?.code, 'MISSING_INPUT');
    assert.equal(error?.message, 'no Twilio account is selected for this node');
  });

  it('tests a connection from the editor: unsaved values, saved secrets, and failures without secrets', async () => {
    const { node, credentials } = accountNode(simulator.url, 'apiKey');
    await helper.load(allNodes, [node], { account: credentials });
    const unsaved = await helper
      .request()
      .post('/twilio-config/test')
      .send({ authMode: 'authToken', baseUrl: simulator.url, credentials: { accountSid: ACCOUNT.sid, authToken: ACCOUNT.authToken } });
    assert.deepEqual(unsaved.body, { ok: true, friendlyName: 'Simulated demo account', status: 'active', type: 'Full' });
    const saved = await helper
      .request()
      .post('/twilio-config/test')
      .send({
        id: 'account',
        authMode: 'apiKey',
        baseUrl: simulator.url,
        credentials: { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: '__PWRD__' },
      });
    assert.equal(saved.body.ok, true, 'the saved secret stood in for the unchanged password field');
    const wrong = await helper
      .request()
      .post('/twilio-config/test')
      .send({
        authMode: 'apiKey',
        baseUrl: simulator.url,
        credentials: { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: 'wrong-secret-123' },
      });
    assert.equal(wrong.body.ok, false);
    assert.equal(wrong.body.code, 'AUTHENTICATION_CONNECTION_ERROR');
    assert.ok(!JSON.stringify(wrong.body).includes('wrong-secret-123'));
    const incomplete = await helper
      .request()
      .post('/twilio-config/test')
      .send({ authMode: 'apiKey', credentials: { accountSid: 'AC123' } });
    assert.deepEqual([incomplete.body.ok, incomplete.body.code], [false, 'INVALID_INPUT']);
  });
});
