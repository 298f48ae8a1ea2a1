/**
 * ResourceAction and the raw request's pieces, driven without Node-RED: a stand-in RED (Node-RED's own
 * util for typed inputs), an account opened against the simulator, and the status a node would show.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Node, NodeAPI, NodeMessageInFlow, NodeStatus as NodeRedStatus } from 'node-red';
import { TwilioAccount, openAccount } from '../../../lib/account/account';
import { TwilioNodeError } from '../../../lib/core/errors';
import { NodeStatus } from '../../../lib/node-red/status';
import { ResourceAction, ResourceActionName } from '../../../lib/resources/resource-action';
import { RequestSettings, buildRequest } from '../../../lib/resources/request-action';
import type { ResourceNodeDef } from '../../../lib/catalogue/resource-inputs';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../../simulator/server';

const RED = { util: (require('@node-red/util') as { util: NodeAPI['util'] }).util, _: (key: string) => key } as unknown as NodeAPI;
const API_KEY = DEMO_ACCOUNT.apiKeys![0];

describe('ResourceAction', () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let account: TwilioAccount;
  let closeAccount: () => Promise<void>;

  before(async () => {
    await simulator.start();
    const accountNode = {} as Node & TwilioAccount;
    closeAccount = openAccount(
      RED,
      accountNode,
      { authMode: 'apiKey', region: '', edge: '', defaultFrom: '+15017122661', baseUrl: simulator.url },
      { accountSid: DEMO_ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret },
    );
    account = accountNode;
  });
  after(async () => {
    await closeAccount();
    await simulator.stop();
  });

  /** A node of `action` over `def`: what it sent and showed for one msg. */
  async function run(action: ResourceActionName, def: Partial<ResourceNodeDef>, msg: Record<string, unknown> = {}) {
    const shown: NodeRedStatus[] = [];
    const warnings: string[] = [];
    const node = { id: 'n', status: (s: NodeRedStatus) => shown.push(s), warn: (w: string) => warnings.push(w) } as unknown as Node;
    // Keys as they are, but for the counted records, in both forms as the catalogue has them.
    const counted: Record<string, string> = {
      'twilio.status.record': '__count__ record',
      'twilio.status.record_plural': '__count__ records',
    };
    const status = new NodeStatus(node, (key, subs) => (counted[key] ?? key).replace('__count__', String(subs?.count)));
    const resource = new ResourceAction({
      RED,
      node,
      def: { account: 'a', object: '', ...def } as ResourceNodeDef,
      action,
      status,
      account,
    });
    const sent: any[] = [];
    let error: TwilioNodeError | undefined;
    await resource.run(msg as NodeMessageInFlow, (m) => sent.push(m)).catch((err: TwilioNodeError) => (error = err));
    return { sent, shown, warnings, error, queue: resource.queue };
  }

  it('gets a record by the Sid in msg.sid: msg.payload the record, msg.twilio what was asked', async () => {
    const created = await account.getClient().messages.create({ to: '+15558675310', from: '+15017122661', body: 'hi' });
    const { sent, shown, error, queue } = await run(
      'get',
      { object: 'Message', sid: 'sid', sidType: 'msg' },
      { sid: created.sid, topic: 't' },
    );
    assert.equal(error, undefined);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].payload.sid, created.sid);
    assert.equal(sent[0].payload.body, 'hi');
    assert.equal(sent[0].topic, 't', 'the rest of the msg goes on');
    assert.deepEqual(sent[0].twilio, { object: 'Message', action: 'get', sid: created.sid, accountSid: DEMO_ACCOUNT.sid });
    assert.deepEqual(
      shown.map((s) => [s.fill, s.text]),
      [
        ['blue', 'twilio.status.requesting'],
        ['green', 'twilio.status.get'],
      ],
    );
    assert.equal(queue, account.queue, "the close withdraws the node's requests from its account's queue");
  });

  it('queries up to the limit, and sends one msg per record with msg.parts as a split node writes them', async () => {
    const { sent, shown, error } = await run(
      'query',
      { object: 'LocalPhoneNumber', sid: 'US', sidType: 'str', limit: 3, output: 'each' },
      { topic: 'keep' },
    );
    assert.equal(error, undefined);
    assert.equal(sent.length, 3);
    assert.deepEqual(
      sent.map((m) => [m.parts.index, m.parts.count, m.parts.type, m.parts.len, m.topic, m.twilio.action]),
      [0, 1, 2].map((i) => [i, 3, 'array', 1, 'keep', 'query']),
    );
    assert.equal(new Set(sent.map((m) => m.parts.id)).size, 1, 'one id for the whole array');
    assert.equal(new Set(sent.map((m) => m.payload.phoneNumber)).size, 3);
    assert.deepEqual(shown.at(-1), { fill: 'green', shape: 'dot', text: '3 records' });
    const one = await run('query', { object: 'LocalPhoneNumber', sid: 'US', sidType: 'str', limit: 1 });
    assert.equal(one.sent[0].payload.length, 1, 'an array in msg.payload by default');
    assert.equal(one.shown.at(-1)?.text, '1 record');
  });

  it('refuses before any request: a record as the changes, an object without the action', async () => {
    const before = simulator.requests.length;
    const record = await run(
      'update',
      { object: 'Message', sid: 'SM' + '0'.repeat(32), sidType: 'str' },
      { payload: { sid: 'SMx', accountSid: 'ACx' } },
    );
    assert.equal(record.error?.code, 'INVALID_INPUT');
    assert.deepEqual(record.sent, []);
    const unknown = await run('delete', { object: 'NoSuchThing' });
    assert.equal(unknown.error?.code, 'INVALID_INPUT');
    assert.deepEqual(unknown.shown[0], { fill: 'red', shape: 'ring', text: 'twilio.status.unknownObject' }, 'said at deploy too');
    assert.equal(simulator.requests.length, before);
  });

  it('masks the account secrets in a failure from Twilio and codes it', async () => {
    simulator.failNext({ type: 'http', status: 500, code: 20500, message: `broken ${API_KEY.secret}` });
    const { error, sent } = await run('get', { object: 'Message', sid: 'SM' + '1'.repeat(32), sidType: 'str' });
    assert.deepEqual(sent, []);
    assert.ok(error instanceof TwilioNodeError);
    assert.equal(error.status, 500);
    assert.doesNotMatch(error.message, new RegExp(API_KEY.secret));
  });
});

describe('buildRequest', () => {
  const settings: RequestSettings = {
    domain: '',
    method: '',
    responseType: 'json',
    timeout: '',
    retries: '',
    retryDelay: '',
    backoff: '',
    retryOn: 'server',
  };

  it('fills in the defaults and reads the fields', () => {
    const request = buildRequest(settings, { path: '/v1/x', query: { a: 1 }, files: { filename: 'f.txt', data: 'x' } });
    assert.equal(request.domain, 'api');
    assert.equal(request.method, 'GET');
    assert.equal(request.timeoutMs, 30_000);
    assert.deepEqual(request.retry, { count: 0, delayMs: 1000, backoff: 2, on: 'server' });
    assert.deepEqual(request.query, { a: 1 });
    assert.deepEqual(request.files, [{ field: 'file', filename: 'f.txt', contentType: undefined, data: 'x' }]);
  });

  it('refuses a missing path, a non-object query and a file without a name, as coded errors', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as TwilioNodeError).code;
      }
      return 'none';
    };
    assert.equal(
      code(() => buildRequest(settings, {})),
      'MISSING_INPUT',
    );
    assert.equal(
      code(() => buildRequest(settings, { path: '/x', query: ['a'] })),
      'INVALID_INPUT',
    );
    assert.equal(
      code(() => buildRequest(settings, { path: '/x', files: [{ data: 'x' }] })),
      'INVALID_INPUT',
    );
    assert.equal(
      code(() => buildRequest({ ...settings, retries: 11 }, { path: '/x' })),
      'INVALID_INPUT',
    );
  });
});
