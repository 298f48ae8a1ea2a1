/**
 * Every error code a twilio-send can give, reached through a real flow against the simulator: by our
 * own checks, by Twilio's test numbers, by injected HTTP faults and by broken connections.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { ALL_ERROR_CODES, HTTP_STATUS_CODES, VERIFY_ERROR_CODES } from '../../lib/core/errors';
import { accountNode, allNodes, helper, nodeRedPackage, runSend, useRuntime } from '../support/harness';

const TO = '+15558675310';

describe('error codes through a flow', () => {
  const { simulator } = useRuntime();
  const reached = new Set<string>();
  const expectCode = async (
    code: string,
    node: Record<string, unknown>,
    msg: Record<string, unknown> = {},
    opts: Parameters<typeof runSend>[3] = {},
    url = simulator.url,
  ) => {
    const { error, output } = await runSend(url, { to: TO, toType: 'str', body: 'hi', bodyType: 'str', ...node }, msg, opts);
    await helper.unload();
    assert.equal(error?.code, code, `expected ${code}, got ${error?.code}: ${error?.message}`);
    assert.equal(output, undefined, 'a failed single send outputs nothing');
    reached.add(code);
    return error!;
  };

  it('gives the input and template codes before any request', async () => {
    await expectCode('MISSING_INPUT', { to: '' });
    await expectCode('INVALID_INPUT', { statusCallback: 'nope', statusCallbackType: 'str' });
    await expectCode('TEMPLATE_READ_ERROR', { body: 'payload', bodyType: 'msg' }, { payload: ['not', 'text'] });
    await expectCode('TEMPLATE_METADATA_ERROR', { body: '{{nobody}}' });
    await expectCode('TEMPLATE_SYNTAX_ERROR', { body: '{{#open}}' });
    await expectCode('INVALID_TO_PHONE_NUMBER_ERROR', { to: 'call me maybe' });
    await expectCode('INVALID_FROM_PHONE_NUMBER_ERROR', { from: '+0000', fromType: 'str' });
    assert.equal(simulator.requests.length, 0);
  });

  it("maps Twilio's answers: test numbers and authentication", async () => {
    const to = await expectCode('INVALID_TO_PHONE_NUMBER_ERROR', { to: '+15005550001' });
    assert.deepEqual(to.cause, { twilioCode: 21211, status: 400, moreInfo: 'https://www.twilio.com/docs/errors/21211' });
    assert.equal((await expectCode('INVALID_FROM_PHONE_NUMBER_ERROR', { from: '+15005550001', fromType: 'str' })).cause.twilioCode, 21212);
    assert.equal((await expectCode('INVALID_FROM_PHONE_NUMBER_ERROR', { from: '+15005550007', fromType: 'str' })).cause.twilioCode, 21606);
    assert.equal((await expectCode('INVALID_REGION_TO_PHONE_NUMBER_ERROR', { to: '+15005550003' })).cause.twilioCode, 21408);
    assert.equal((await expectCode('PERMISSION_DENIED_ERROR', { to: '+15005550004' })).cause.twilioCode, 21610);
    assert.equal((await expectCode('TOO_MANY_REQUESTS', { from: '+15005550008', fromType: 'str' })).cause.twilioCode, 21611);
    await expectCode(
      'AUTHENTICATION_CONNECTION_ERROR',
      {},
      {},
      { mode: 'authToken', credentials: { accountSid: 'AC' + 'f'.repeat(32), authToken: 'nope' } },
    );
    simulator.failNext({ type: 'http', status: 400, code: 21620, message: 'Invalid media URL(s)' });
    assert.equal((await expectCode('INVALID_REQUEST_ERROR', {})).cause.twilioCode, 21620);
  });

  it('names every other HTTP failure after its status', async () => {
    for (const [status, name] of Object.entries(HTTP_STATUS_CODES)) {
      simulator.failNext({ type: 'http', status: Number(status), message: `injected ${status}` });
      // No retries here: the queue would otherwise retry 429 and 503 (see the faults tests).
      const error = await expectCode(name, {}, {}, { account: { maxRetries: 0 } });
      assert.equal(error.cause.status, Number(status));
      assert.equal(error.message, `injected ${status}`);
    }
    simulator.failNext({ type: 'http', status: 302, message: 'moved' });
    await expectCode('UNKNOWN_ERROR', {});
  });

  it('reports a dropped connection and an unreachable server as TWILIO_CONNECTION_ERROR', async () => {
    simulator.failNext({ type: 'reset' });
    await expectCode('TWILIO_CONNECTION_ERROR', {});
    const closed = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    // A refused connection never reached Twilio, so the queue retries it: once is enough to show it
    // gives up with the same code (the default six retries with backoff take about ten seconds).
    await expectCode('TWILIO_CONNECTION_ERROR', {}, {}, { account: { maxRetries: 1 } }, `http://127.0.0.1:${closed}`);
  });

  it("refuses what Twilio's API does not offer as NOT_SUPPORTED, before any request", async () => {
    const error = await expectCode('NOT_SUPPORTED', {
      resource: 'ConnectApp',
      fields: [{ name: 'friendlyName', value: 'x', valueType: 'str' }],
    });
    assert.match(error.message, /Console/);
    assert.equal(simulator.requests.length, 0);
  });

  it('refuses MMS media from bytes it cannot serve, before any request (twilio-send.media.test.ts has the rest)', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000', 'hex');
    const media = { mediaUrl: 'payload', mediaUrlType: 'msg' };
    const publicUrl = { account: { publicBaseUrl: 'https://node-red.example.com' } };
    await expectCode('MEDIA_NEEDS_PUBLIC_URL', media, { payload: png });
    await expectCode('MEDIA_TOO_LARGE', media, { payload: Buffer.concat([png, Buffer.alloc(5_000_000)]) }, publicUrl);
    await expectCode('MEDIA_TYPE_UNSUPPORTED', media, { payload: Buffer.from('text') }, publicUrl);
    await expectCode('MEDIA_PATH_REFUSED', media, { payload: '../photo.png' }, publicUrl);
    // The account's share of held media (64 MiB) full: thirteen photos of 5 MB wait for Twilio to fetch them.
    simulator.media.delayMs = 60_000;
    try {
      const photo = Buffer.concat([png, Buffer.alloc(4_999_000)]);
      for (let i = 0; i < 13; i++) {
        const { error } = await runSend(simulator.url, { to: TO, toType: 'str', ...media }, { payload: photo }, publicUrl);
        await helper.unload();
        assert.equal(error, undefined);
      }
      await expectCode('MEDIA_STORE_FULL', media, { payload: photo }, publicUrl);
    } finally {
      simulator.media.delayMs = 0;
    }
    assert.equal(simulator.requests.length, 13);
  });

  it('ends what a stopped node had not sent as NOT_SENT', async () => {
    simulator.latencyMs = 300;
    try {
      const account = accountNode(simulator.url);
      await helper.load(
        allNodes,
        [
          { id: 'tab', type: 'tab', label: 't' },
          account.node,
          {
            id: 'send',
            type: 'twilio-send',
            z: 'tab',
            account: 'account',
            resource: 'message',
            to: TO,
            toType: 'str',
            body: 'hi',
            bodyType: 'str',
            wires: [[]],
          },
        ],
        { account: account.credentials },
      );
      const node = helper.getNode('send');
      const codes: string[] = [];
      const complete = node._complete as (m: unknown, err?: { code: string }) => void;
      node._complete = (m: unknown, err?: { code: string }) => {
        if (err) codes.push(err.code);
        complete.call(node, m, err);
      };
      for (let i = 0; i < 100; i++) node.receive({ payload: i });
      await new Promise((r) => setTimeout(r, 50));
      await helper.unload();
      assert.ok(codes.includes('NOT_SENT'), codes.join());
      reached.add('NOT_SENT');
    } finally {
      simulator.latencyMs = 0;
    }
  });

  it('refuses a page as STATE_UNAVAILABLE when its account cannot open its state store, before any step', async () => {
    // A Redis URL that is no URL: the account says so in the log, and nothing that must be kept is accepted.
    const account = accountNode(simulator.url, 'apiKey', { stateBackend: 'redis', redisUrl: 'http://not-redis' });
    const flow = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      {
        id: 'page',
        type: 'twilio-page',
        z: 'tab',
        account: 'account',
        contacts: TO,
        contactsType: 'str',
        alert: 'Smoke',
        wires: [[], [], []],
      },
    ];
    await helper.load(allNodes, flow, { account: account.credentials });
    try {
      const node = helper.getNode('page');
      const done = new Promise<any>((resolve) => {
        const complete = node._complete as (m: unknown, err?: unknown) => void;
        node._complete = (m: unknown, err?: unknown) => {
          resolve(err);
          complete.call(node, m, err);
        };
      });
      node.receive({ payload: 'fire' });
      const error = await done;
      assert.equal(error?.code, 'STATE_UNAVAILABLE', String(error?.message));
      assert.doesNotMatch(String(error?.message), /not-redis/);
      assert.equal(simulator.requests.length, 0, 'nothing was sent');
      reached.add('STATE_UNAVAILABLE');
    } finally {
      await helper.unload();
    }
  });

  it('ends a wait for an outcome as OUTCOME_UNKNOWN when the node is removed (it was sent)', async () => {
    // Delivered (two steps: sent, delivered) about a second after the send, long after the node is
    // gone (~100 ms); the simulator's stop waits for these steps, so longer only slows the file down.
    simulator.statusCallbackDelayMs = 500;
    try {
      const account = accountNode(simulator.url);
      const flow = [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'send',
          type: 'twilio-send',
          z: 'tab',
          account: 'account',
          resource: 'message',
          to: TO,
          toType: 'str',
          body: 'hi',
          bodyType: 'str',
          waitFor: 'outcome',
          wires: [[]],
        },
      ];
      await helper.load(allNodes, flow, { account: account.credentials });
      const node = helper.getNode('send');
      const codes: string[] = [];
      const complete = node._complete as (m: unknown, err?: { code: string }) => void;
      node._complete = (m: unknown, err?: { code: string }) => {
        codes.push(err?.code ?? 'done');
        complete.call(node, m, err);
      };
      node.receive({ payload: 'x' });
      for (let i = 0; i < 100 && simulator.messages.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      await helper.setFlows(
        flow.filter((n) => n.id !== 'send'),
        'full',
        { account: account.credentials } as never,
      );
      assert.deepEqual(codes, ['OUTCOME_UNKNOWN']);
      assert.equal(simulator.messages.size, 1, 'it was sent');
      reached.add('OUTCOME_UNKNOWN');
    } finally {
      simulator.statusCallbackDelayMs = 20;
      await helper.unload();
    }
  });

  it('reaches a Catch node with the message alone in msg.error.message, the code beside it', async () => {
    const catchNode = require(require.resolve('@node-red/nodes/core/common/25-catch.js', { paths: [require.resolve(nodeRedPackage)] }));
    const account = accountNode(simulator.url);
    await helper.load(
      [...allNodes, catchNode],
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'send',
          type: 'twilio-send',
          z: 'tab',
          account: 'account',
          resource: 'message',
          to: `${TO}, +15005550001, +15005550004`,
          toType: 'str',
          body: 'hi',
          bodyType: 'str',
          wires: [[]],
        },
        { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const caught = new Promise<any>((resolve) => helper.getNode('caught').once('input', resolve));
    helper.getNode('send').receive({ payload: 'x' });
    const msg = await caught;
    await helper.unload();
    assert.equal(msg.error.message, "2 of 3 recipients failed; first: The 'To' number +15005550001 is not a valid phone number.");
    assert.equal(msg.error.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
  });

  it('has reached every documented code', () => {
    assert.deepEqual(
      // Verify's own codes are twilio-verify's: test/nodes/twilio-verify.test.ts reaches each.
      ALL_ERROR_CODES.filter((c) => !reached.has(c) && !VERIFY_ERROR_CODES.includes(c)),
      [],
    );
  });
});
