/** The per-message work of a send, below the node: typed fields, the plan, the result's dates. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, NodeAPI } from 'node-red';
import { codeOf } from '../../support/assertions';
import { typedFieldsReader } from '../../../lib/node-red/typed-fields';
import { planMessage } from '../../../lib/twilio/send-plans';
import { runAction } from '../../../lib/catalogue/actions';
import { findObject } from '../../../lib/catalogue/catalogue';
import type { TwilioNodeError } from '../../../lib/core/errors';

type Callback = (err: Error | null, value?: unknown) => void;

/** A runtime whose typed-input evaluation is recorded: `msg` reads msg, `later` answers on a later tick, `broken` fails. */
function fakeRuntime(): { RED: NodeAPI; evaluated: string[] } {
  const evaluated: string[] = [];
  const evaluateNodeProperty = (value: string, type: string, _node: Node, msg: Record<string, unknown>, callback: Callback) => {
    evaluated.push(`${type}:${value}`);
    if (type === 'msg') return callback(null, msg[value]);
    if (type === 'later') return void setImmediate(() => callback(null, `later ${value}`));
    if (type === 'broken') return callback(new Error(`cannot read ${value}`));
    return callback(null, value);
  };
  return { RED: { util: { evaluateNodeProperty } } as unknown as NodeAPI, evaluated };
}

describe('typed fields', () => {
  const node = {} as Node;

  it('costs nothing per message for fields left empty or fixed text, and evaluates the rest each time', async () => {
    const { RED, evaluated } = fakeRuntime();
    const config = {
      to: 'number',
      toType: 'msg',
      body: 'Hello',
      bodyType: 'str',
      from: '',
      fromType: 'str',
      sendAt: 'x',
      sendAtType: 'none',
      mediaUrl: '',
      mediaUrlType: 'msg',
    };
    const read = typedFieldsReader(RED, node, config, ['to', 'body', 'from', 'sendAt', 'mediaUrl', 'statusCallback']);
    assert.deepEqual(await read({ number: '+15551230001' } as never), { to: '+15551230001', body: 'Hello' });
    assert.deepEqual(await read({ number: '+15551230002' } as never), { to: '+15551230002', body: 'Hello' });
    assert.deepEqual(await read({} as never), { body: 'Hello' }, 'a msg property that is not there is left out');
    assert.deepEqual(evaluated, ['msg:number', 'msg:number', 'msg:number'], 'only the msg field was evaluated, once per message');
  });

  it('waits for fields that answer later, and names the field that fails', async () => {
    const { RED } = fakeRuntime();
    const read = typedFieldsReader(RED, node, { a: 'one', aType: 'later', b: 'two', bType: 'msg' }, ['a', 'b']);
    assert.deepEqual(await read({ two: 2 } as never), { a: 'later one', b: 2 });
    const failing = typedFieldsReader(RED, node, { a: 'one', aType: 'later', b: 'two', bType: 'broken' }, ['a', 'b']);
    const error = (await failing({} as never).catch((err: unknown) => err)) as TwilioNodeError;
    assert.equal(error.code, 'INVALID_INPUT');
    assert.match(error.message, /^b: cannot read two/);
  });
});

describe('message plan', () => {
  it("puts To first in each request, and reads each message's sender afresh", () => {
    const plan = planMessage({ to: '+15551230001', body: 'hi' }, {}, '+15017122661');
    assert.deepEqual(Object.keys(plan.paramsFor('+15551230001')), ['to', 'from', 'body']);
    assert.equal(
      (
        planMessage({ to: '+15551230001', body: 'hi', from: '+15017122662' }, {}, '+15017122661').paramsFor('+15551230001') as {
          from: string;
        }
      ).from,
      '+15017122662',
    );
    assert.equal(
      (planMessage({ to: '+15551230001', body: 'hi' }, {}, '+15017122661').paramsFor('+15551230001') as { from: string }).from,
      '+15017122661',
    );
    assert.equal(
      codeOf(() => planMessage({ to: '+15551230001', body: 'hi', from: 'not a sender!' }, {}, '+15017122661')),
      'INVALID_FROM_PHONE_NUMBER_ERROR',
    );
    assert.equal(
      codeOf(() => planMessage({ to: '+15551230001', body: 'hi', from: 'not a sender!' }, {}, '+15017122661')),
      'INVALID_FROM_PHONE_NUMBER_ERROR',
      'a bad sender is refused every time',
    );
  });

  it('counts a long body in characters, not UTF-16 units', () => {
    assert.doesNotThrow(
      () => planMessage({ to: '+15551230001', body: '😀'.repeat(1600) }, {}, '+15017122661'),
      '1,600 emoji are 3,200 units but 1,600 characters',
    );
    assert.equal(
      codeOf(() => planMessage({ to: '+15551230001', body: '😀'.repeat(1601) }, {}, '+15017122661')),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => planMessage({ to: '+15551230001', body: 'a'.repeat(1601) }, {}, '+15017122661')),
      'INVALID_INPUT',
    );
  });
});

describe('a created record as msg.payload', () => {
  it('has its dates as ISO text, each its own, and an unreadable date as null', async () => {
    const records = [
      { sid: 'SM1', dateCreated: new Date('2024-01-01T00:00:00Z'), dateUpdated: new Date('2024-01-01T00:00:05Z'), dateSent: null },
      {
        sid: 'SM2',
        dateCreated: new Date('2024-01-01T00:00:05Z'),
        dateUpdated: new Date('2024-01-01T00:00:05Z'),
        dateSent: new Date('nonsense'),
      },
      { sid: 'SM3', dateCreated: new Date('2024-01-01T00:00:00Z'), dateUpdated: new Date('2025-06-30T12:34:56Z'), dateSent: undefined },
    ];
    let next = 0;
    const account = { messages: { create: async () => ({ toJSON: () => ({ ...records[next++] }) }) } };
    const client = { accountSid: 'AC00000000000000000000000000000000', api: { v2010: { account } } } as never;
    const message = findObject('Message')!;
    const payloads = [];
    for (let i = 0; i < records.length; i++)
      payloads.push(await runAction(client, message, 'create', { parts: {} }, { to: '+15551230001' }));
    assert.deepEqual(payloads, [
      { sid: 'SM1', dateCreated: '2024-01-01T00:00:00.000Z', dateUpdated: '2024-01-01T00:00:05.000Z', dateSent: null },
      { sid: 'SM2', dateCreated: '2024-01-01T00:00:05.000Z', dateUpdated: '2024-01-01T00:00:05.000Z', dateSent: null },
      { sid: 'SM3', dateCreated: '2024-01-01T00:00:00.000Z', dateUpdated: '2025-06-30T12:34:56.000Z' },
    ]);
  });
});
