/**
 * The send controller without Node-RED: a msg's plan, one request per recipient, and the result onto
 * msg, status and done; an outcome holder's turn; a catalogue create; a closing node; no account.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node } from 'node-red';
import type { TwilioAccount } from '../../../lib/account/account';
import { findObject } from '../../../lib/catalogue/catalogue';
import { TwilioNodeError } from '../../../lib/core/errors';
import { NodeStatus } from '../../../lib/node-red/status';
import type { AcceptedMessage } from '../../../lib/outbound/intake';
import { OutcomeHolder, SendController, SendControllerOptions, sendFieldNames, sendKind } from '../../../lib/outbound/send-controller';

const ANN = '+15555550100';
const BOB = '+15555550101';
const INVALID = '+15005550001';

/** A client whose message create answers like Twilio (and fails for INVALID). */
function fakeAccount(created: Array<Record<string, unknown>>): TwilioAccount {
  const create = async (params: Record<string, unknown>) => {
    if (params.to === INVALID) throw new TwilioNodeError('INVALID_TO_PHONE_NUMBER_ERROR', `not a number: ${INVALID}`);
    created.push(params);
    return { sid: `SM${String(created.length).padStart(32, '0')}`, to: params.to, body: params.body, status: 'queued' };
  };
  const client = { accountSid: 'AC' + '0'.repeat(32), api: { v2010: { account: { messages: { create }, calls: { create } } } } };
  return {
    accountSid: client.accountSid,
    defaultFrom: '+15017122661',
    getClient: () => client,
    clientFor: () => client,
    redact: (text: string) => text,
    queue: { wantsMore: () => true },
  } as unknown as TwilioAccount;
}

function accepted() {
  const seen = { sent: [] as any[], done: [] as Array<TwilioNodeError | undefined> };
  const msg: AcceptedMessage<any> & { seen: typeof seen } = {
    seen,
    get ended() {
      return seen.done.length > 0;
    },
    send: (m) => seen.sent.push(m),
    done: (error) => seen.done.push(error),
  };
  return msg;
}

function setUp(options: Partial<SendControllerOptions<string>> & { to?: string } = {}) {
  const created: Array<Record<string, unknown>> = [];
  const statuses: Array<{ fill?: string; text?: string }> = [];
  const status = new NodeStatus({ status: (s: object) => statuses.push(s) } as unknown as Node, (key) => key);
  const intake = { closing: false, woken: 0, wake: () => intake.woken++ };
  const controller = new SendController<string>({
    account: fakeAccount(created),
    owner: {},
    kind: 'message',
    object: findObject('Message'),
    readFields: async () => ({ to: options.to ?? ANN, body: 'The garage is open' }),
    status,
    intake,
    ...options,
  });
  const run = async (msg: any = { payload: 'x' }) => {
    const taken = accepted();
    await controller.handle(msg, taken).catch((err: unknown) => taken.done(controller.failed(err)));
    return { msg, ...taken.seen };
  };
  return { controller, created, statuses, intake, run };
}

describe('SendController', () => {
  it('reads which kind of send a node makes, and the fields each reads', () => {
    assert.deepEqual(['', 'message', 'SMSMessage', 'Call', 'call', 'Queue'].map(sendKind), [
      'message',
      'message',
      'message',
      'call',
      'call',
      'object',
    ]);
    assert.ok(sendFieldNames('message', 'say').includes('body'));
    assert.deepEqual(sendFieldNames('call', 'twiml').slice(-1), ['twiml']);
    assert.ok(!sendFieldNames('call', 'url').includes('say'), 'a call reads only its action’s fields');
  });

  it('sends one message: the record in msg.payload, the status, sent on and done once', async () => {
    const { run, created, statuses, intake } = setUp();
    const { msg, sent, done } = await run({ payload: 'x', door: 'garage' });
    assert.equal(created.length, 1);
    assert.equal(created[0].to, ANN);
    assert.equal(created[0].from, '+15017122661', 'the account’s default sender');
    assert.equal(msg.payload.status, 'queued');
    assert.equal(msg.door, 'garage');
    assert.deepEqual(sent, [msg]);
    assert.deepEqual(done, [undefined]);
    assert.deepEqual(
      statuses.map((s) => s.text),
      ['twilio.status.sending', 'twilio.status.sent'],
    );
    assert.equal(intake.woken, 1, 'the intake hears that a msg was prepared');
  });

  it('sends to several: a map of results and errors; Catch hears of the failed recipients, the msg still goes on', async () => {
    const { run, statuses } = setUp({ to: `${ANN}, ${BOB}, ${INVALID}` });
    const { msg, sent, done } = await run();
    assert.deepEqual(Object.keys(msg.payload.results), [ANN, BOB]);
    assert.equal(msg.payload.errors[INVALID].code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(sent.length, 1);
    assert.equal(done.length, 1);
    assert.equal(done[0]?.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.match(done[0]!.message, /1 of 3 recipients failed/);
    assert.equal(statuses.at(-1)?.fill, 'yellow');
  });

  it('does not send on when the one recipient failed: done with its error, red status', async () => {
    const { run, statuses } = setUp({ to: INVALID });
    const { sent, done } = await run();
    assert.deepEqual(sent, []);
    assert.equal(done[0]?.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
    assert.equal(statuses.at(-1)?.fill, 'red');
  });

  /** A holder that logs each turn; `intend` answers what `intended` says (default: held). */
  function loggingHolder(calls: string[], created: () => number, intended: 'held' | 'ended' | Error = 'held'): OutcomeHolder<string> {
    return {
      admit: () => {
        calls.push('admit');
        return 'room';
      },
      withdraw: (admission) => void calls.push(`withdraw ${admission}`),
      intend: async (admission, _msg, _accepted, params) => {
        calls.push(`intend ${admission} ${params.map(([r, p]) => `${r}:${String(p.body)}`).join()} (created ${created()})`);
        if (intended instanceof Error) throw intended;
        if (intended === 'ended') return undefined;
        return {
          sent: (recipient, record) => void calls.push(`sent ${recipient} ${String(record.sid).slice(-2)}`),
          release: () => void calls.push('release'),
          hold: async (delivery) => void calls.push(`hold ${[...delivery.results.keys()].join()}`),
        };
      },
    };
  }

  it('commits every recipient as an intent before any request, each Sid as its answer comes, then holds', async () => {
    const calls: string[] = [];
    let count = () => 0;
    const sending = setUp({ outcomes: loggingHolder(calls, () => count()), to: `${ANN},${BOB}` });
    count = () => sending.created.length;
    const first = await sending.run();
    assert.deepEqual(calls.slice(0, 2), ['admit', `intend room ${ANN}:The garage is open,${BOB}:The garage is open (created 0)`]);
    assert.deepEqual(calls.slice(2, 4).sort(), [`sent ${ANN} 01`, `sent ${BOB} 02`].sort());
    assert.deepEqual(calls.slice(4), [`hold ${ANN},${BOB}`]);
    assert.deepEqual([first.sent, first.done], [[], []], 'the holder ends it, later');
  });

  it('releases the wait when nothing was sent, and the msg ends as a send that did not wait', async () => {
    const calls: string[] = [];
    const failing = setUp({ outcomes: loggingHolder(calls, () => 0), to: INVALID });
    const second = await failing.run();
    assert.deepEqual(calls, ['admit', `intend room ${INVALID}:The garage is open (created 0)`, 'release']);
    assert.equal(second.done[0]?.code, 'INVALID_TO_PHONE_NUMBER_ERROR');
  });

  it("sends nothing when the store refuses the intent: the msg ends with the store's coded error", async () => {
    const calls: string[] = [];
    const refusing = setUp({ outcomes: loggingHolder(calls, () => 0, new TwilioNodeError('STATE_UNAVAILABLE', 'state store not open')) });
    const { done, sent } = await refusing.run();
    assert.equal(done[0]?.code, 'STATE_UNAVAILABLE');
    assert.deepEqual(sent, []);
    assert.equal(refusing.created.length, 0);
  });

  it('sends nothing when the msg ended while its intent was stored (its node closed)', async () => {
    const calls: string[] = [];
    const closing = setUp({ outcomes: loggingHolder(calls, () => 0, 'ended') });
    await closing.run();
    assert.equal(closing.created.length, 0);
  });

  it('waits for the holder to be ready (restored intents reconciled) before it sends anything', async () => {
    const calls: string[] = [];
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const outcomes = { ...loggingHolder(calls, () => 0), ready: () => gate };
    const { run, created } = setUp({ outcomes });
    const running = run();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, [], 'nothing admitted while intents are reconciled');
    open();
    await running;
    assert.equal(created.length, 1);
  });

  it('counts a waiting msg as prepared until its intents are stored (a burst lets in only what the queue wants)', async () => {
    const calls: string[] = [];
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const holder = loggingHolder(calls, () => 0);
    const outcomes: OutcomeHolder<string> = { ...holder, intend: async (...args) => gate.then(() => holder.intend(...args)) };
    const sending = setUp({ outcomes });
    const account = sending.controller as unknown as { options: { account: { queue: { wantsMore: (p: number) => boolean } } } };
    account.options.account.queue.wantsMore = (preparing) => preparing === 0;
    const running = sending.run();
    await new Promise((r) => setImmediate(r));
    assert.equal(sending.controller.canTakeMore(), false, 'its intents are being stored');
    open();
    await running;
    assert.equal(sending.controller.canTakeMore(), true);
  });

  it('refuses before sending when the holder has no room', async () => {
    const outcomes: OutcomeHolder<string> = {
      admit: () => {
        throw new TwilioNodeError('NOT_SENT', 'full');
      },
      withdraw: () => assert.fail('nothing to withdraw'),
      intend: async () => assert.fail('nothing to intend'),
    };
    const { run, created } = setUp({ outcomes });
    const { done } = await run();
    assert.equal(done[0]?.code, 'NOT_SENT');
    assert.equal(created.length, 0);
  });

  it('ends a msg prepared while the node closes as NOT_SENT, sending nothing', async () => {
    const { run, created, intake } = setUp();
    intake.closing = true;
    const { done } = await run();
    assert.equal(done[0]?.code, 'NOT_SENT');
    assert.equal(created.length, 0);
  });

  it('refuses without an account as MISSING_INPUT', async () => {
    const { run } = setUp({ account: undefined });
    const { done } = await run();
    assert.equal(done[0]?.code, 'MISSING_INPUT');
  });

  it('creates any other catalogue object from what the node reads of the msg, and says what it created in msg.twilio', async () => {
    const { run, created, statuses } = setUp({
      kind: 'object',
      readCreate: async () => ({ object: findObject('Message')!, target: { parts: {} }, params: { to: ANN, from: BOB, body: 'hi' } }),
    });
    const { msg, sent, done } = await run();
    assert.equal(created.length, 1);
    assert.equal(msg.payload.to, ANN);
    assert.deepEqual(msg.twilio, { object: 'Message', action: 'create', sid: msg.payload.sid, accountSid: 'AC' + '0'.repeat(32) });
    assert.deepEqual([sent.length, done], [1, [undefined]]);
    assert.equal(statuses.at(-1)?.text, 'twilio.status.create');
  });
});
