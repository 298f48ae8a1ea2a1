/**
 * The package's admin endpoints against a page on another site and against an editor that tries to
 * move a saved secret: only JSON bodies are taken (a cross-site form cannot send one), cross-site
 * fetches are refused, a saved secret goes only where the deployed settings send it, `${NAME}` in a
 * value the editor sends is never read from the environment, and region/edge are Twilio's names only.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ACCOUNT, API_KEY, accountNode, allNodes, helper, runSend, useRuntime } from '../support/harness';

/** A server that records every request (and its Authorization header) and answers like Twilio would. */
function recorder() {
  const seen: Array<{ url: string; authorization?: string }> = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ sid: ACCOUNT.sid, friendly_name: 'recorder', status: 'active', type: 'Full' }));
  });
  return { seen, server, url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const decoded = (authorization?: string) => (authorization ? Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString() : '');

describe('admin endpoints', () => {
  const { simulator } = useRuntime();
  const elsewhere = recorder();
  before(() => new Promise<void>((resolve) => elsewhere.server.listen(0, '127.0.0.1', () => resolve())));
  after(() => new Promise<void>((resolve) => elsewhere.server.close(() => resolve())));

  async function deployAccount(mode: 'apiKey' | 'authToken' = 'authToken', extra: Record<string, unknown> = {}) {
    const account = accountNode(simulator.url, mode, extra);
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'in',
          type: 'twilio-in',
          z: 'tab',
          account: 'account',
          path: '/twilio/sms',
          publicBaseUrl: '${HOME_URL}',
          validate: true,
          reply: 'auto',
          wires: [[]],
        },
      ],
      { account: account.credentials },
    );
  }

  /** Every endpoint this package adds to Node-RED's admin app, read from its router. */
  function ourEndpoints(): Array<{ method: 'get' | 'post'; path: string }> {
    const stack = (
      helper as unknown as { _httpAdmin: { _router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } } }
    )._httpAdmin._router.stack;
    return stack
      .filter((l) => l.route && /^\/twilio/.test(l.route.path))
      .map((l) => ({ method: l.route!.methods.post ? 'post' : 'get', path: l.route!.path }));
  }

  const validBodies = (): Record<string, object> => ({
    '/twilio-config/test': {
      id: 'account',
      authMode: 'authToken',
      baseUrl: simulator.url,
      credentials: { accountSid: ACCOUNT.sid, authToken: '__PWRD__' },
    },
    '/twilio-in/connect': {
      account: 'account',
      publicBaseUrl: 'https://home.example.com',
      path: '/twilio/sms',
      which: 'sms',
      number: 'PN' + '0'.repeat(32),
    },
  });

  it('takes only JSON bodies on every POST endpoint: forms, multipart and text get 415, and nothing is sent', async () => {
    await deployAccount();
    const posts = ourEndpoints().filter((e) => e.method === 'post');
    assert.deepEqual(posts.map((e) => e.path).sort(), ['/twilio-config/test', '/twilio-in/connect']);
    for (const { path } of posts) {
      const fields = Object.fromEntries(
        Object.entries(validBodies()[path]).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
      );
      const form = await helper.request().post(path).type('form').send(fields);
      const multipart = await helper.request().post(path).field('id', 'account').field('baseUrl', elsewhere.url());
      const plain = await helper.request().post(path).set('Content-Type', 'text/plain').send(JSON.stringify(validBodies()[path]));
      const none = await helper.request().post(path).set('Content-Type', '').send(JSON.stringify(validBodies()[path]));
      const lookalike = await helper
        .request()
        .post(path)
        .set('Content-Type', 'text/plain; application/json')
        .send(JSON.stringify(validBodies()[path]));
      for (const answer of [form, multipart, plain, none, lookalike]) assert.equal(answer.status, 415, `${path}: ${answer.status}`);
    }
    assert.equal(simulator.requests.length, 0, 'no request reached Twilio');
    assert.equal(elsewhere.seen.length, 0);
  });

  it('refuses a request a browser marks as cross-site, on every endpoint', async () => {
    await deployAccount();
    for (const { method, path } of ourEndpoints()) {
      const request =
        method === 'post'
          ? helper.request().post(path).send(validBodies()[path])
          : helper.request().get(path).query({ account: 'account' });
      const answer = await request.set('Sec-Fetch-Site', 'cross-site');
      assert.equal(answer.status, 403, `${method} ${path}`);
    }
    const sameOrigin = await helper
      .request()
      .post('/twilio-config/test')
      .set('Sec-Fetch-Site', 'same-origin')
      .send(validBodies()['/twilio-config/test']);
    assert.equal(sameOrigin.body.ok, true, 'the editor itself still tests');
    assert.equal(simulator.requests.length, 1);
  });

  it('never sends a saved secret to a base URL, region or edge the editor typed', async () => {
    for (const mode of ['authToken', 'apiKey'] as const) {
      await deployAccount(mode);
      const secretField = mode === 'apiKey' ? 'apiKeySecret' : 'authToken';
      const credentials = mode === 'apiKey' ? { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid } : { accountSid: ACCOUNT.sid };
      const attempts = [
        { baseUrl: elsewhere.url() },
        { baseUrl: `${simulator.url}.evil.example` },
        { baseUrl: simulator.url, region: 'ie1' },
        { baseUrl: simulator.url, edge: 'dublin' },
        { baseUrl: '' },
        {},
      ];
      for (const attempt of attempts) {
        for (const secret of [{ [secretField]: '__PWRD__' }, {}]) {
          const answer = await helper
            .request()
            .post('/twilio-config/test')
            .send({ id: 'account', authMode: mode, ...attempt, credentials: { ...credentials, ...secret } });
          assert.deepEqual([answer.body.ok, answer.body.code], [false, 'INVALID_INPUT'], `${mode} ${JSON.stringify(attempt)}`);
          assert.match(answer.body.message, /saved secret/);
        }
      }
      assert.equal(elsewhere.seen.length, 0, 'the recorder never saw a request');
      assert.equal(simulator.requests.length, 0);
      const same = await helper
        .request()
        .post('/twilio-config/test')
        .send({ id: 'account', authMode: mode, baseUrl: simulator.url, credentials: { ...credentials, [secretField]: '__PWRD__' } });
      assert.equal(same.body.ok, true, 'with the deployed settings the saved secret is used');
      await helper.unload();
      simulator.reset();
    }
    // A secret typed in the dialog may go wherever the dialog says: the one typing it knows it.
    await deployAccount();
    const typed = await helper
      .request()
      .post('/twilio-config/test')
      .send({
        id: 'account',
        authMode: 'authToken',
        baseUrl: elsewhere.url(),
        credentials: { accountSid: ACCOUNT.sid, authToken: 'typed-in-the-dialog' },
      });
    assert.equal(typed.body.ok, true);
    assert.deepEqual(
      elsewhere.seen.map((r) => decoded(r.authorization)),
      [`${ACCOUNT.sid}:typed-in-the-dialog`],
    );
    elsewhere.seen.length = 0;
  });

  it('never reads ${NAME} from the environment for a value the editor sent', async () => {
    process.env.NOT_FOR_THE_EDITOR = 'env-secret-value-42';
    process.env.HOME_URL = elsewhere.url();
    try {
      await deployAccount();
      const inCredentials = await helper
        .request()
        .post('/twilio-config/test')
        .send({
          authMode: 'authToken',
          baseUrl: elsewhere.url(),
          credentials: { accountSid: ACCOUNT.sid, authToken: '${NOT_FOR_THE_EDITOR}' },
        });
      const inBaseUrl = await helper
        .request()
        .post('/twilio-config/test')
        .send({ authMode: 'authToken', baseUrl: '${HOME_URL}', credentials: { accountSid: ACCOUNT.sid, authToken: 'typed' } });
      const withId = await helper
        .request()
        .post('/twilio-config/test')
        .send({
          id: 'account',
          authMode: 'authToken',
          baseUrl: elsewhere.url(),
          credentials: { accountSid: '${NOT_FOR_THE_EDITOR}', authToken: '${NOT_FOR_THE_EDITOR}' },
        });
      for (const answer of [inCredentials, inBaseUrl, withId]) {
        assert.deepEqual([answer.body.ok, answer.body.code], [false, 'INVALID_INPUT']);
        assert.match(answer.body.message, /deploy first/);
        assert.ok(!JSON.stringify(answer.body).includes('env-secret-value-42'));
      }
      assert.equal(elsewhere.seen.length, 0);
      // twilio-in's "connect a number": a typed ${NAME} is refused; the deployed node's own is resolved as deployed.
      const number = simulator.find('incomingPhoneNumbers')!;
      const typedRef = await helper.request().post('/twilio-in/connect').send({
        account: 'account',
        node: 'in',
        publicBaseUrl: '${NOT_FOR_THE_EDITOR}',
        path: '/twilio/sms',
        which: 'sms',
        number: number.sid,
      });
      assert.deepEqual([typedRef.status, typedRef.body.code], [400, 'INVALID_INPUT']);
      const noNode = await helper
        .request()
        .post('/twilio-in/connect')
        .send({ account: 'account', publicBaseUrl: '${HOME_URL}', path: '/twilio/sms', which: 'sms', number: number.sid });
      assert.deepEqual([noNode.status, noNode.body.code], [400, 'INVALID_INPUT']);
      assert.notEqual(simulator.find('incomingPhoneNumbers')!.sms_url, `${elsewhere.url()}/twilio/sms`);
      // A saved `${NAME}` secret sent back as text is the saved secret: it goes nowhere the deployed settings do not.
      await helper.unload();
      process.env.SAVED_TOKEN = 'env-secret-value-42';
      const refAccount = accountNode(simulator.url, 'authToken');
      await helper.load(allNodes, [refAccount.node], { account: { accountSid: ACCOUNT.sid, authToken: '${SAVED_TOKEN}' } });
      for (const token of ['${SAVED_TOKEN}', ' ${SAVED_TOKEN} ']) {
        const sentBack = await helper
          .request()
          .post('/twilio-config/test')
          .send({
            id: 'account',
            authMode: 'authToken',
            baseUrl: elsewhere.url(),
            credentials: { accountSid: ACCOUNT.sid, authToken: token },
          });
        assert.deepEqual([sentBack.body.ok, sentBack.body.code], [false, 'INVALID_INPUT'], JSON.stringify(sentBack.body));
      }
      // Nor any other deployed `${NAME}`: an Account SID read from the environment goes only where the deployed settings say.
      await helper.unload();
      process.env.SAVED_SID = ACCOUNT.sid;
      await helper.load(allNodes, [refAccount.node], { account: { accountSid: '${SAVED_SID}', authToken: 'saved-token' } });
      const sidBack = await helper
        .request()
        .post('/twilio-config/test')
        .send({
          id: 'account',
          authMode: 'authToken',
          baseUrl: elsewhere.url(),
          credentials: { accountSid: '${SAVED_SID}', authToken: 'typed-by-me' },
        });
      assert.deepEqual([sidBack.body.ok, sidBack.body.code], [false, 'INVALID_INPUT'], JSON.stringify(sidBack.body));
      delete process.env.SAVED_SID;
      assert.equal(elsewhere.seen.length, 0, 'the env secret never left');
      delete process.env.SAVED_TOKEN;
      // The account's own ${NAME} settings, as deployed (the demo's), still test with the saved secret.
      await helper.unload();
      process.env.SIM_URL = simulator.url;
      await deployAccount('authToken', { baseUrl: '${SIM_URL}' });
      const deployedAccountRef = await helper
        .request()
        .post('/twilio-config/test')
        .send({
          id: 'account',
          authMode: 'authToken',
          baseUrl: '${SIM_URL}',
          credentials: { accountSid: ACCOUNT.sid, authToken: '__PWRD__' },
        });
      assert.equal(deployedAccountRef.body.ok, true, JSON.stringify(deployedAccountRef.body));
      const deployedRef = await helper
        .request()
        .post('/twilio-in/connect')
        .send({ account: 'account', node: 'in', publicBaseUrl: '${HOME_URL}', path: '/twilio/sms', which: 'sms', number: number.sid });
      assert.equal(deployedRef.status, 200, JSON.stringify(deployedRef.body));
      assert.equal(deployedRef.body.url, `${elsewhere.url()}/twilio/sms`);
    } finally {
      delete process.env.NOT_FOR_THE_EDITOR;
      delete process.env.HOME_URL;
      delete process.env.SIM_URL;
    }
  });

  it("takes only Twilio's names for region and edge, at run time and in the editor's test", async () => {
    for (const bad of ['evil.example#', 'EU', 'ie1.evil.example', 'a/b', 'x y', '-ie1', 'ie1-', 'a:80']) {
      for (const field of ['region', 'edge']) {
        const { error } = await runSend(
          simulator.url,
          { to: '+15558675310', toType: 'str', body: 'hi', bodyType: 'str' },
          {},
          { account: { [field]: bad } },
        );
        assert.equal(error?.code, 'INVALID_INPUT', `${field} ${bad}`);
        const tested = await helper
          .request()
          .post('/twilio-config/test')
          .send({
            authMode: 'authToken',
            baseUrl: elsewhere.url(),
            [field]: bad,
            credentials: { accountSid: ACCOUNT.sid, authToken: 'typed' },
          });
        assert.deepEqual([tested.body.ok, tested.body.code], [false, 'INVALID_INPUT'], `${field} ${bad} in the test`);
        await helper.unload();
      }
    }
    assert.equal(simulator.requests.length, 0);
    assert.equal(elsewhere.seen.length, 0);
    const { error } = await runSend(
      simulator.url,
      { to: '+15558675310', toType: 'str', body: 'hi', bodyType: 'str' },
      {},
      { account: { region: 'au1', edge: 'sydney' } },
    );
    assert.equal(error, undefined, "Twilio's own names pass");
  });
});
