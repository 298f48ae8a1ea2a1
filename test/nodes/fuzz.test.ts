/**
 * Property-based: every node fed random messages (wrong types, long and unicode texts, odd numbers,
 * missing fields, __proto__ keys, huge recipient lists) answers each with an output or a coded error,
 * never a crash or an unhandled rejection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ALL_ERROR_CODES } from '../../lib/core/errors';
import { ACCOUNT, API_KEY, FlowNode, SendResult, allNodes, helper, sendTo, useRuntime } from '../support/harness';

const CODES = new Set<string>(ALL_ERROR_CODES);
const number = fc.oneof(
  fc.constantFrom(
    '+15558675310',
    '+15005550001',
    '+15005550003',
    'whatsapp:+15558675310',
    'client:alice',
    '+0',
    '++1',
    '555',
    '',
    ' ',
    '+1 (555) 867-5310',
  ),
  fc.string({ maxLength: 20 }),
  fc.integer(),
);
const text = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ minLength: 1590, maxLength: 1700 }),
  fc.constantFrom('{{missing}}', '{{#open}}', '{{payload}} 🚀 ünïcödé', '<Response/>', ''),
);
const anything = fc.anything({ withNullPrototype: true, withObjectString: true, maxDepth: 2 });
const recipients = fc.oneof(
  number,
  fc.array(number, { maxLength: 8 }),
  fc.uniqueArray(
    fc.integer({ min: 1_000_000, max: 9_999_999 }).map((n) => `+1555${n}`),
    { minLength: 100, maxLength: 250 },
  ),
  anything,
);
const message = fc.record(
  {
    payload: fc.oneof(text, anything, fc.constant(undefined)),
    to: recipients,
    body: fc.oneof(text, anything),
    sid: fc.oneof(
      fc.constantFrom('SM' + 'a'.repeat(32), 'CF' + 'b'.repeat(32) + ':bob', 'AC' + 'c'.repeat(32) + ':SMx', '', ':::'),
      fc.string({ maxLength: 40 }),
      anything,
    ),
    metadata: anything,
    path: fc.oneof(
      fc.constantFrom('/2010-04-01/Accounts/{AccountSid}.json', 'https://evil.example.com/', '//x', ''),
      fc.string({ maxLength: 30 }),
    ),
  },
  { requiredKeys: [], noNullPrototype: true },
); // Node-RED messages are plain objects

/** Adds __proto__ and constructor keys as own properties, as JSON.parse would. */
const withPrototypeKeys = (msg: Record<string, unknown>) => ({
  ...msg,
  ...JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}'),
});

describe('random messages into every node', () => {
  const { simulator } = useRuntime();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => process.off('unhandledRejection', onUnhandled));

  const nodes: Array<[string, Record<string, unknown>]> = [
    [
      'send a message',
      {
        type: 'twilio-send',
        resource: 'message',
        to: 'to',
        toType: 'msg',
        body: 'body',
        bodyType: 'msg',
        metadata: 'metadata',
        metadataType: 'msg',
      },
    ],
    ['send a call', { type: 'twilio-send', resource: 'call', callAction: 'say', to: 'to', toType: 'msg', say: 'body', sayType: 'msg' }],
    ['create a queue', { type: 'twilio-send', resource: 'Queue', fields: [{ name: 'friendlyName', value: 'body', valueType: 'msg' }] }],
    ['get', { type: 'twilio-get', object: 'Message', sid: 'sid', sidType: 'msg' }],
    [
      'query',
      {
        type: 'twilio-query',
        object: 'ConferenceParticipant',
        sid: 'sid',
        sidType: 'msg',
        filters: [{ name: 'muted', value: 'payload', valueType: 'msg' }],
        limit: 3,
      },
    ],
    ['update', { type: 'twilio-update', object: 'ConferenceParticipant', sid: 'sid', sidType: 'msg' }],
    ['delete', { type: 'twilio-delete', object: 'Recording', sid: 'sid', sidType: 'msg' }],
    [
      'request',
      {
        type: 'twilio-request',
        domain: 'api',
        method: 'POST',
        path: 'path',
        pathType: 'msg',
        form: 'payload',
        formType: 'msg',
        responseType: 'json',
        timeout: 5,
        retries: 0,
      },
    ],
    ['reply', { type: 'twilio-reply', action: 'raw' }],
  ];

  for (const [name, config] of nodes) {
    it(`${name}: an output or a coded error for each`, async () => {
      const flow: FlowNode[] = [
        { id: 'tab', type: 'tab', label: 't' },
        {
          id: 'account',
          type: 'twilio-config',
          authMode: 'apiKey',
          region: '',
          edge: '',
          defaultFrom: '+15017122661',
          baseUrl: simulator.url,
          maxRetries: 0,
        },
        { id: 'node', type: String(config.type), z: 'tab', account: 'account', wires: [['out']], ...config },
        { id: 'out', type: 'helper', z: 'tab' },
      ];
      await helper.load(allNodes, flow, { account: { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret } });
      const outcomes = { outputs: 0, errors: 0 };
      try {
        await fc.assert(
          fc.asyncProperty(message, fc.boolean(), async (msg, prototypeKeys) => {
            const input = prototypeKeys ? withPrototypeKeys(msg as Record<string, unknown>) : (msg as Record<string, unknown>);
            const node = helper.getNode('node');
            node.removeAllListeners('call:status');
            const result: SendResult = await sendTo(node, helper.getNode('out'), input);
            helper.getNode('out').removeAllListeners('input');
            if (result.error) {
              outcomes.errors++;
              assert.ok(CODES.has(result.error.code), `a coded error, got ${result.error.code}: ${result.error.message}`);
            } else {
              outcomes.outputs++;
            }
            assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
          }),
          { numRuns: 40, seed: 20261124 },
        );
      } finally {
        await helper.unload();
      }
      assert.equal(outcomes.outputs + outcomes.errors >= 40, true);
      assert.deepEqual(unhandled, []);
    });
  }
});
