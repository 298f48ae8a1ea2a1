/**
 * The account's "Shared state: Redis": its URL (`${ENV}` allowed) and its password in the credential
 * store. The waits of its nodes are kept in that Redis; the password is in no log line, status, error
 * or flow export, whether it is right or wrong. A real redis-server with requirepass.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, it } from 'node:test';
import { Redis } from 'ioredis';
import { until } from '../support/assertions';
import { FlowNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const PASSWORD = 'redis-pw-s3cret-4711';

suiteNeeding(noRedis, 'twilio-config with Redis', () => {
  const { simulator } = useRuntime();
  let server: RedisServer;
  before(async () => (server = await startRedis(['--requirepass', PASSWORD])));
  after(() => server.stop());
  afterEach(() => {
    delete process.env.TEST_REDIS_URL;
    delete process.env.TEST_REDIS_PW;
  });

  /** Loads an account on Redis and a twilio-send that waits; every line any node said, afterwards. */
  async function load(settings: Record<string, unknown>, redisPassword: string) {
    const account = accountNode(simulator.url, 'authToken', { stateBackend: 'redis', ...settings });
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: '+15555550100',
        toType: 'str',
        body: 'hello',
        bodyType: 'str',
        waitFor: 'outcome',
        outcomeTimeout: 3600,
        wires: [['out']],
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    await helper.load(allNodes, flow, { account: { ...account.credentials, redisPassword } });
    const send = helper.getNode('send') as any;
    const ended: any[] = [];
    const statuses: any[] = [];
    send.on('call:status', (call: any) => statuses.push(call.args[0]));
    const complete = send._complete.bind(send);
    send._complete = (m: unknown, err?: unknown) => {
      ended.push(err ?? 'done');
      complete(m, err);
    };
    const said = () => {
      const lines: string[] = [];
      for (const id of ['account', 'send']) {
        const node = helper.getNode(id) as any;
        for (const level of ['log', 'warn', 'error', 'debug', 'trace'])
          if (node[level]?.getCalls) lines.push(...node[level].getCalls().map((c: any) => JSON.stringify(c.args)));
      }
      return lines;
    };
    return { send, ended, statuses, said };
  }

  it('keeps the waits in Redis, with the password from the credential store and the URL from ${ENV}', async () => {
    process.env.TEST_REDIS_URL = `${server.url}/2`;
    process.env.TEST_REDIS_PW = PASSWORD;
    const { send, said, statuses } = await load({ redisUrl: '${TEST_REDIS_URL}' }, '${TEST_REDIS_PW}');
    send.receive({ payload: 'x' });
    const peek = new Redis(`${server.url}/2`, { password: PASSWORD });
    try {
      let stored: string[] = [];
      for (let i = 0; i < 200 && stored.length === 0; i++) {
        stored = await peek.keys('nr-twilio:r:node/send/*');
        if (stored.length === 0) await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(stored.length, 1, 'the wait is kept in Redis (db 2)');
    } finally {
      peek.disconnect();
    }
    const exported = JSON.stringify(helper._redNodes.getFlows());
    for (const text of [exported, JSON.stringify(statuses), ...said()]) assert.ok(!text.includes(PASSWORD), `the password leaked: ${text}`);
    assert.ok(!exported.includes('TEST_REDIS_PW'), 'the password field is a credential: not in the flow');
  });

  it('refuses what must be kept when the password is wrong, and says so without the password', async () => {
    const wrong = 'wrong-redis-pw-0815';
    const { send, ended, statuses, said } = await load({ redisUrl: server.url }, wrong);
    send.receive({ payload: 'x' });
    await until(() => ended.length === 1, 'the msg ended', 15_000);
    assert.equal(ended[0]?.code, 'STATE_UNAVAILABLE', String(ended[0]?.message));
    assert.ok(
      simulator.requests.every((r) => r.method !== 'POST'),
      'nothing was sent',
    );
    await until(() => said().some((line) => /unreachable|WRONGPASS|NOAUTH/.test(line)), 'the log says Redis refused', 10_000);
    for (const text of [String(ended[0]?.message), JSON.stringify(statuses), JSON.stringify(helper._redNodes.getFlows()), ...said()])
      for (const secret of [wrong, PASSWORD]) assert.ok(!text.includes(secret), `a password leaked: ${text}`);
  });

  it('refuses a URL that carries a password (it would be exported with the flow), masked wherever it is said', async () => {
    const { send, ended, said } = await load({ redisUrl: `redis://:${PASSWORD}@127.0.0.1:${new URL(server.url).port}` }, '');
    send.receive({ payload: 'x' });
    await until(() => ended.length === 1, 'the msg ended');
    assert.equal(ended[0]?.code, 'STATE_UNAVAILABLE');
    assert.ok(
      said().some((line) => /password/i.test(line)),
      'the log says why',
    );
    for (const text of [String(ended[0]?.message), ...said()]) assert.ok(!text.includes(PASSWORD), `the password leaked: ${text}`);
    assert.ok(
      simulator.requests.every((r) => r.method !== 'POST'),
      'nothing was sent',
    );
  });
});
