/**
 * Attack (issue #22): a Redis password typed into the account's URL is exported with the flow, so the
 * account node refuses such a URL (twilio-config.redis.test.ts: `redis://:pw@host`). The client
 * (ioredis) takes a password from other spellings of a URL too: `?password=` in its query. Such a URL
 * connects, and the password travels in every flow export, and is said unmasked in log lines.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { FlowNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { until } from '../support/assertions';
import { redactUrl } from '../../lib/state/redis';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const PASSWORD = 'redis-pw-query-9931';

suiteNeeding(noRedis, 'attack: a Redis password in the URL in another spelling', () => {
  const { simulator } = useRuntime();
  let server: RedisServer;
  before(async () => (server = await startRedis(['--requirepass', PASSWORD])));
  after(() => server.stop());

  it('a URL with ?password= is refused as redis://:pw@ is (it would travel in every flow export)', async () => {
    const port = new URL(server.url).port;
    const account = accountNode(simulator.url, 'authToken', {
      stateBackend: 'redis',
      redisUrl: `redis://127.0.0.1:${port}/?password=${PASSWORD}`,
    });
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
    await helper.load(allNodes, flow, { account: { ...account.credentials, redisPassword: '' } });
    const send = helper.getNode('send') as any;
    const ended: any[] = [];
    const complete = send._complete.bind(send);
    send._complete = (m: unknown, err?: unknown) => {
      ended.push(err ?? 'done');
      complete(m, err);
    };
    send.receive({ payload: 'x' });
    await until(() => ended.length === 1, 'the msg ended', 15_000);
    assert.equal(
      ended[0] === 'done' ? 'done (the state opened on Redis with the password from the URL)' : ended[0]?.code,
      'STATE_UNAVAILABLE',
    );
  });

  it('log lines mask a password however the URL spells it', () => {
    for (const url of [
      `redis://:${PASSWORD}@h:6379`,
      `redis://h:6379/?password=${PASSWORD}`,
      `rediss://h:6379/0?db=1&password=${PASSWORD}`,
    ])
      assert.ok(!redactUrl(`Redis at ${url} went down`).includes(PASSWORD), `unmasked: ${redactUrl(`Redis at ${url} went down`)}`);
  });
});
