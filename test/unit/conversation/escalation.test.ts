/**
 * The escalation machine, every path of a page without Node-RED or Twilio: events in, the next
 * record and the actions out. And the stored record's check: a damaged page is set aside by the
 * node's waiting room, never resumed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EscalationAction,
  EscalationEvent,
  EscalationPolicy,
  PORT,
  PageRecord,
  escalate,
  escalationPolicy,
  isPageRecord,
  newPage,
  parseContacts,
} from '../../../lib/conversation/escalation';
import { TwilioNodeError } from '../../../lib/core/errors';
import type { KeyValueStore } from '../../../lib/node-red/context';
import { WaitingRoom } from '../../../lib/waits/waiting-room';
import { codeOf } from '../../support/assertions';

const T0 = Date.UTC(2026, 0, 1, 3, 0, 0);
const ALICE = { name: 'Alice', number: '+15555550120' };
const BOB = { name: 'Bob', number: '+15555550121' };

function policy(settings: Parameters<typeof escalationPolicy>[0] = {}): EscalationPolicy {
  return escalationPolicy({ steps: [{ action: 'call', wait: 20 }], rounds: 1, ackWords: 'ack, ok', ...settings });
}

/** A page driven through events, the time moving as each says; every record and action kept. */
class Run {
  page: PageRecord;
  now = T0;
  actions: EscalationAction[] = [];

  constructor(
    readonly policy: EscalationPolicy,
    contacts = [ALICE, BOB],
    page?: PageRecord,
  ) {
    this.page = page ?? newPage({ alarmId: 'smoke', msg: { payload: 'kitchen' }, spoken: 'Smoke.', contacts, from: '+15017122661' }, T0);
  }

  on(event: EscalationEvent, afterMs = 0): EscalationAction[] {
    this.now += afterMs;
    const before = JSON.stringify(this.page);
    const { page, actions } = escalate(this.policy, this.page, event, this.now);
    assert.equal(JSON.stringify(this.page), before, 'the record given is never changed');
    assert.deepEqual(JSON.parse(JSON.stringify(page)), page, 'the next record is JSON as stored');
    this.page = page;
    this.actions.push(...actions);
    return actions;
  }

  /** Time passes to `at`; the step's timer fires on the way when it falls due (as the pager's clock would). */
  passTo(at: number): void {
    if (this.page.ended === undefined && this.page.stepEnds <= at)
      this.on({ type: 'step-timer-due' }, Math.max(this.page.stepEnds - this.now, 0));
    this.now = Math.max(this.now, at);
  }

  /** The step's text or call went out (its sid from the action just taken). */
  sent(sid: string, afterMs = 100): EscalationAction[] {
    const step = [...this.actions].reverse().find((a) => a.type === 'text' || a.type === 'call') as Extract<
      EscalationAction,
      { type: 'text' | 'call' }
    >;
    return this.on({ type: 'step-sent', action: step.type, to: step.to, sid, from: '+15017122661', code: '42' }, afterMs);
  }
}

const types = (actions: EscalationAction[]) => actions.map((a) => a.type);
const emitted = (actions: EscalationAction[]) => actions.find((a) => a.type === 'emit') as Extract<EscalationAction, { type: 'emit' }>;
const outcomes = (run: Run) => run.page.history.map((h) => [h.name, h.action, h.round, h.outcome]);

describe('escalation', () => {
  it("starts with the first contact's first step: shown as step 1 of all, its wait counted from now", () => {
    const run = new Run(
      policy({
        steps: [
          { action: 'text', wait: 60 },
          { action: 'call', wait: 90 },
        ],
        rounds: 2,
      }),
    );
    const actions = run.on({ type: 'start' });
    assert.deepEqual(actions, [
      { type: 'show', action: 'text', name: 'Alice', step: 1, of: 8 },
      { type: 'save' },
      { type: 'text', to: ALICE.number, from: '+15017122661', body: 'Smoke.' },
    ]);
    assert.equal(run.page.stepEnds, T0 + 60_000);
    assert.deepEqual(
      run.page.intent,
      { action: 'text', to: ALICE.number, from: '+15017122661', at: T0 },
      'its intent, saved before the text goes',
    );
    assert.equal(run.page.startedAt, new Date(T0).toISOString());
  });

  it('is acknowledged by the key pressed in the ringing call, and only by that key in that call', () => {
    const run = new Run(policy());
    assert.deepEqual(types(run.on({ type: 'start' })), ['show', 'save', 'call']);
    assert.deepEqual(
      run.sent('CA1', 2_000).filter((a) => a.type !== 'listen-replies'),
      [
        { type: 'save' },
        // The step lasts while the call can take the key: 20 s of ringing, Twilio's 5 s more, 5 s to answer,
        // "Smoke." and the prompt said (5 s), the <Gather>'s 8 s; its end is awaited a minute more.
        { type: 'watch-call', sid: 'CA1', until: T0 + 2_000 + 43_000 + 60_000 },
        { type: 'set-timer', at: T0 + 2_000 + 43_000 },
      ],
    );
    assert.equal(run.page.callSid, 'CA1');
    assert.deepEqual(run.page.alerted, [ALICE.number]);
    assert.deepEqual(run.on({ type: 'key-pressed', sid: 'CA1', digits: '2' }), [], 'another key');
    assert.deepEqual(run.on({ type: 'key-pressed', sid: 'CA0', digits: '1' }), [], 'another call');
    const end = emitted(run.on({ type: 'key-pressed', sid: 'CA1', digits: '1' }, 5_000));
    assert.equal(end.port, PORT.acknowledged);
    assert.deepEqual(end.page.acknowledged, {
      name: 'Alice',
      number: ALICE.number,
      how: 'key',
      at: new Date(T0 + 7_000).toISOString(),
      afterSteps: 0,
    });
    assert.deepEqual([end.page.alarmId, end.page.steps, end.page.merged, end.page.startedAt], ['smoke', 0, 0, new Date(T0).toISOString()]);
    assert.equal(run.page.ended, PORT.acknowledged);
  });

  it("keeps a call's step on while the call can still take the key: it rings (plus Twilio's 5 s), is answered, says the alert, waits the <Gather>", () => {
    const run = new Run(policy({ steps: [{ action: 'call', wait: 30 }] }));
    run.on({ type: 'start' });
    run.sent('CA1', 0);
    // Alice picks up at 25 s, hears the alert, and presses 1 at 35 s: her step is still on, and she acknowledges.
    run.passTo(T0 + 35_000);
    assert.deepEqual(outcomes(run), [], 'the step did not move on at the end of its 30 s wait');
    assert.ok(
      run.page.stepEnds >= T0 + 30_000 + 5_000 + 8_000,
      `the step lasts the ring, its slack and the <Gather>: ${run.page.stepEnds - T0}`,
    );
    const end = emitted(run.on({ type: 'key-pressed', sid: 'CA1', digits: '1' }));
    assert.deepEqual([end?.port, end?.page.acknowledged?.name, end?.page.acknowledged?.how], [PORT.acknowledged, 'Alice', 'key']);
  });

  it("is acknowledged by a key pressed in an earlier step's call that has not ended, while the next step runs: by whom that call went to", () => {
    const run = new Run(policy({ steps: [{ action: 'call', wait: 30 }] }));
    run.on({ type: 'start' });
    run.sent('CA1', 0);
    // Alice's call is still under way when her step ends: Bob is called meanwhile.
    assert.deepEqual(types(run.on({ type: 'step-timer-due' }, run.page.stepEnds - run.now)), ['quiet', 'show', 'save', 'call']);
    run.sent('CA2');
    assert.deepEqual(outcomes(run), [['Alice', 'call', 1, 'no-ack']]);
    assert.deepEqual(run.on({ type: 'key-pressed', sid: 'CA1', digits: '2' }), [], 'another key');
    const actions = run.on({ type: 'key-pressed', sid: 'CA1', digits: '1' }, 2_000);
    assert.deepEqual(types(actions), ['save', 'hang-up', 'emit'], "Bob's call, still ringing, is hung up");
    assert.deepEqual(actions[1], { type: 'hang-up', sid: 'CA2' });
    assert.deepEqual(
      [emitted(actions).port, emitted(actions).page.acknowledged?.name, emitted(actions).page.acknowledged?.number],
      [PORT.acknowledged, 'Alice', ALICE.number],
    );
    // Once a call has ended, a key "in it" is nobody's.
    const ended = new Run(policy({ steps: [{ action: 'call', wait: 30 }] }));
    ended.on({ type: 'start' });
    ended.sent('CA1', 0);
    ended.on({ type: 'step-timer-due' }, ended.page.stepEnds - ended.now);
    ended.sent('CA2');
    assert.deepEqual(types(ended.on({ type: 'call-ended', sid: 'CA1', status: 'completed' })), ['unwatch-call', 'save']);
    assert.deepEqual(ended.on({ type: 'key-pressed', sid: 'CA1', digits: '1' }), []);
    assert.equal(ended.page.callSid, 'CA2', "Bob's step goes on");
  });

  it("records a phone that rings out past the ring timeout (Twilio's up to 5 s more) as no-answer, not no-ack", () => {
    const run = new Run(policy({ steps: [{ action: 'call', wait: 30 }] }));
    run.on({ type: 'start' });
    run.sent('CA1', 0);
    run.passTo(T0 + 34_000);
    run.on({ type: 'call-ended', sid: 'CA1', status: 'no-answer' });
    assert.deepEqual(outcomes(run), [['Alice', 'call', 1, 'no-answer']]);
    // Should Twilio's word come only after the step ended (a status look late), it still is the outcome recorded.
    const late = new Run(policy({ steps: [{ action: 'call', wait: 30 }] }));
    late.on({ type: 'start' });
    late.sent('CA1', 0);
    late.on({ type: 'step-timer-due' }, late.page.stepEnds - late.now);
    late.sent('CA2');
    late.on({ type: 'call-ended', sid: 'CA1', status: 'busy' });
    late.on({ type: 'call-ended', sid: 'CA2', status: 'completed', answeredBy: 'human' });
    assert.deepEqual(outcomes(late), [
      ['Alice', 'call', 1, 'busy'],
      ['Bob', 'call', 1, 'no-ack'],
    ]);
  });

  it('is acknowledged by a reply with an acknowledgement word (or the key) from a number it texted', () => {
    const run = new Run(policy({ steps: [{ action: 'text', wait: 60 }], ackKey: '9' }));
    run.on({ type: 'start' });
    const sent = run.sent('SM1');
    assert.deepEqual(sent, [
      { type: 'save' },
      { type: 'listen-replies', texted: [{ number: ALICE.number, from: '+15017122661', name: 'Alice', code: '42' }] },
      { type: 'set-timer', at: T0 + 100 + 60_000 },
    ]);
    assert.deepEqual(outcomes(run), [['Alice', 'text', 1, 'sent']]);
    assert.equal(run.page.history[0].sid, 'SM1');
    assert.deepEqual(run.on({ type: 'reply', number: BOB.number, text: 'ack' }), [], 'Bob was not texted');
    assert.deepEqual(run.on({ type: 'reply', number: ALICE.number, text: 'what?' }), [], 'not an acknowledgement');
    const end = emitted(run.on({ type: 'reply', number: ALICE.number, text: ' OK! ' }));
    assert.deepEqual(
      [end.port, end.page.acknowledged?.how, end.page.acknowledged?.name, end.page.acknowledged?.afterSteps],
      [0, 'reply', 'Alice', 1],
    );
    for (const text of ['ACK', '9']) {
      const again = new Run(policy({ steps: [{ action: 'text', wait: 60 }], ackKey: '9' }));
      again.on({ type: 'start' });
      again.sent('SM1');
      assert.equal(emitted(again.on({ type: 'reply', number: ALICE.number, text }))?.port, PORT.acknowledged, text);
    }
  });

  it('texts a contact again with the code it already has on this page, and keeps where it was first texted from', () => {
    const run = new Run(policy({ steps: [{ action: 'text', wait: 5 }], rounds: 2 }), [ALICE]);
    run.on({ type: 'start' });
    run.sent('SM1');
    const next = run.on({ type: 'step-timer-due' }, 5_000);
    assert.deepEqual(types(next), ['quiet', 'show', 'save', 'text']);
    assert.deepEqual(next[3], { type: 'text', to: ALICE.number, from: '+15017122661', body: 'Smoke.', code: '42' });
    run.on({ type: 'step-sent', action: 'text', to: ALICE.number, sid: 'SM2', from: '+15017122662', code: '42' });
    assert.deepEqual(run.page.texted, [{ number: ALICE.number, from: '+15017122661', name: 'Alice', code: '42' }]);
  });

  it('skips voicemail, and moves on at once from a busy line, no answer or a call answered without the key', () => {
    const run = new Run(policy(), [
      { name: 'Voicemail', number: '+15555550103' },
      { name: 'Fax', number: '+15555550105' },
      { name: 'Busy', number: '+15555550102' },
      { name: 'Off', number: '+15555550101' },
      { name: 'Bob', number: BOB.number },
    ]);
    run.on({ type: 'start' });
    const ends: Array<[string, string | undefined]> = [
      ['completed', 'machine_start'],
      ['completed', 'fax'],
      ['busy', undefined],
      ['no-answer', undefined],
      ['completed', 'human'],
    ];
    ends.forEach(([status, answeredBy], i) => {
      run.sent(`CA${i}`);
      assert.deepEqual(run.on({ type: 'call-ended', sid: 'CA9', status: 'busy' }), [], "another call's end");
      const next = run.on({ type: 'call-ended', sid: `CA${i}`, status, answeredBy }, 3_000);
      assert.deepEqual(
        types(next),
        i < ends.length - 1 ? ['unwatch-call', 'quiet', 'show', 'save', 'call'] : ['unwatch-call', 'save', 'emit'],
        `after ${status}`,
      );
      assert.equal(run.page.callSid, undefined);
    });
    assert.deepEqual(
      run.page.history.map((h) => [h.name, h.outcome, h.sid]),
      [
        ['Voicemail', 'voicemail', 'CA0'],
        ['Fax', 'voicemail', 'CA1'],
        ['Busy', 'busy', 'CA2'],
        ['Off', 'no-answer', 'CA3'],
        ['Bob', 'no-ack', 'CA4'],
      ],
    );
    assert.equal(emitted(run.actions).port, PORT.exhausted);
  });

  it("takes a contact that cannot be reached as that step's failure, not the page's end", () => {
    const run = new Run(policy());
    run.on({ type: 'start' });
    const next = run.on({ type: 'step-failed', error: 'INVALID_TO_PHONE_NUMBER_ERROR: not a number' });
    assert.deepEqual(types(next), ['quiet', 'show', 'save', 'call']);
    assert.deepEqual(next[3], { type: 'call', to: BOB.number, from: '+15017122661', spoken: 'Smoke.', ringSeconds: 20 });
    assert.deepEqual(run.page.history[0], {
      name: 'Alice',
      number: ALICE.number,
      action: 'call',
      round: 1,
      at: new Date(T0).toISOString(),
      outcome: 'failed',
      error: 'INVALID_TO_PHONE_NUMBER_ERROR: not a number',
    });
  });

  it("goes through every contact for every round, then is exhausted with every step's outcome", () => {
    const run = new Run(
      policy({
        steps: [
          { action: 'text', wait: 5 },
          { action: 'call', wait: 30 },
        ],
        rounds: 2,
      }),
    );
    run.on({ type: 'start' });
    const shown: string[] = [];
    for (let step = 0; step < 8; step++) {
      const show = [...run.actions].reverse().find((a) => a.type === 'show') as Extract<EscalationAction, { type: 'show' }>;
      shown.push(`${show.step}/${show.of} ${show.name} ${show.action}`);
      if (step === 5) run.on({ type: 'step-failed', error: 'X: no' });
      else {
        run.sent(`S${step}`);
        run.on({ type: 'step-timer-due' }, 30_000);
      }
    }
    assert.deepEqual(shown, [
      '1/8 Alice text',
      '2/8 Alice call',
      '3/8 Bob text',
      '4/8 Bob call',
      '5/8 Alice text',
      '6/8 Alice call',
      '7/8 Bob text',
      '8/8 Bob call',
    ]);
    assert.deepEqual(outcomes(run), [
      ['Alice', 'text', 1, 'sent'],
      ['Alice', 'call', 1, 'no-ack'],
      ['Bob', 'text', 1, 'sent'],
      ['Bob', 'call', 1, 'no-ack'],
      ['Alice', 'text', 2, 'sent'],
      ['Alice', 'call', 2, 'failed'],
      ['Bob', 'text', 2, 'sent'],
      ['Bob', 'call', 2, 'no-ack'],
    ]);
    const end = emitted(run.actions);
    assert.deepEqual([end.port, end.page.steps, end.page.history.length], [PORT.exhausted, 8, 8]);
    assert.equal(end.page.acknowledged, undefined);
  });

  it('cancels: hangs up the ringing call, leaves by cancelled, and tells everyone alerted from the number that texted them', () => {
    const run = new Run(
      policy({
        steps: [
          { action: 'text', wait: 5 },
          { action: 'call', wait: 30 },
        ],
        allClear: 'All clear',
      }),
    );
    run.on({ type: 'start' });
    run.on({ type: 'step-sent', action: 'text', to: ALICE.number, sid: 'SM1', from: '+15017122662', code: '42' });
    run.on({ type: 'step-timer-due' }, 5_000);
    run.sent('CA1');
    const actions = run.on({ type: 'cancel' }, 1_000);
    // The all clear is an intent saved with the end; the msg leaves once it was taken.
    assert.deepEqual(types(actions), ['save', 'hang-up', 'all-clear', 'emit']);
    assert.deepEqual(actions[1], { type: 'hang-up', sid: 'CA1' });
    assert.equal(emitted(actions).port, PORT.cancelled);
    assert.equal(emitted(actions).page.cancelledAt, new Date(T0 + 6_100).toISOString());
    const allClear = [{ number: ALICE.number, from: '+15017122662', at: T0 + 6_100 }];
    assert.deepEqual(actions[2], { type: 'all-clear', to: allClear });
    assert.deepEqual(run.page.allClear, allClear, 'committed with the end');
    assert.ok(isPageRecord(run.page));
    // Nothing more happens to a page that ended.
    for (const event of [
      { type: 'cancel' },
      { type: 'step-timer-due' },
      { type: 'key-pressed', sid: 'CA1', digits: '1' },
    ] as EscalationEvent[])
      assert.deepEqual(run.on(event), [], event.type);
  });

  it('after a restart, asks Twilio about an all clear a cancel committed and Twilio had not confirmed, then ends', () => {
    const run = new Run(policy({ steps: [{ action: 'text', wait: 60 }], allClear: 'All clear' }));
    run.on({ type: 'start' });
    run.sent('SM1');
    run.on({ type: 'cancel' });
    const stored = JSON.parse(JSON.stringify(run.page)) as PageRecord;
    assert.ok(isPageRecord(stored));
    const resumed = new Run(run.policy, undefined, stored);
    const actions = resumed.on({ type: 'resumed' });
    assert.deepEqual(types(actions), ['all-clear', 'emit']);
    assert.deepEqual(actions[0], { type: 'all-clear', to: stored.allClear, reconcile: true });
    // A record whose all clear Twilio took (its Sid known) only ends.
    const done = new Run(run.policy, undefined, { ...stored, allClear: stored.allClear!.map((t) => ({ ...t, sid: 'SM2' })) });
    assert.deepEqual(types(done.on({ type: 'resumed' })), ['emit']);
    // A damaged all clear sets the record aside.
    assert.equal(isPageRecord({ ...stored, allClear: [{ number: 5 }] }), false);
  });

  it('cancels without an all clear when the node has none, or nobody was alerted yet', () => {
    const silent = new Run(policy());
    silent.on({ type: 'start' });
    silent.sent('CA1');
    assert.deepEqual(types(silent.on({ type: 'cancel' })), ['save', 'hang-up', 'emit']);
    const early = new Run(policy({ allClear: 'All clear' }));
    early.on({ type: 'start' });
    assert.deepEqual(types(early.on({ type: 'cancel' })), ['save', 'emit']);
  });

  it('counts the same alarm merged into it, and says so when it ends', () => {
    const run = new Run(policy());
    run.on({ type: 'start' });
    assert.deepEqual(run.on({ type: 'merged' }), [{ type: 'save' }]);
    run.on({ type: 'merged' });
    assert.equal(emitted(run.on({ type: 'cancel' })).page.merged, 2);
  });

  it('hangs up a call placed after the page ended, and follows a text that went out after a cancel with the all clear', () => {
    const call = new Run(policy());
    call.on({ type: 'start' });
    call.on({ type: 'key-pressed', sid: 'CA0', digits: '1' });
    call.on({ type: 'cancel' });
    assert.deepEqual(call.sent('CA1'), [{ type: 'hang-up', sid: 'CA1' }]);
    assert.equal(call.page.callSid, undefined, 'not recorded');
    const text = new Run(policy({ steps: [{ action: 'text', wait: 60 }], allClear: 'All clear' }));
    text.on({ type: 'start' });
    text.on({ type: 'cancel' });
    assert.deepEqual(text.sent('SM1'), [{ type: 'all-clear', to: [{ number: ALICE.number, from: '+15017122661' }] }]);
    assert.deepEqual(text.page.history, []);
  });

  it('resumes a stored step for the time it had left: its call heard again, the replies of those texted', () => {
    const run = new Run(
      policy({
        steps: [
          { action: 'text', wait: 5 },
          { action: 'call', wait: 30 },
        ],
      }),
    );
    run.on({ type: 'start' });
    run.on({ type: 'step-sent', action: 'text', to: ALICE.number, sid: 'SM1', code: '42' });
    run.on({ type: 'step-timer-due' }, 5_000);
    run.sent('CA1');
    const stored = JSON.parse(JSON.stringify(run.page)) as PageRecord;
    assert.ok(isPageRecord(stored));
    const resumed = new Run(run.policy, undefined, stored);
    resumed.now = run.now + 10_000;
    assert.deepEqual(resumed.on({ type: 'resumed' }), [
      { type: 'show', action: 'call', name: 'Alice', step: 2, of: 4 },
      { type: 'listen-replies', texted: [{ number: ALICE.number, name: 'Alice', code: '42' }] },
      { type: 'watch-call', sid: 'CA1', until: stored.stepEnds + 60_000 },
      { type: 'set-timer', at: stored.stepEnds },
    ]);
  });

  it('begins a page stored before its first step (its node closed meanwhile) when resumed, not as if that step went out', () => {
    const fresh = new Run(policy({ steps: [{ action: 'text', wait: 60 }] }));
    assert.equal(fresh.page.notStarted, true, 'a new page is stored as not started');
    const stored = JSON.parse(JSON.stringify(fresh.page)) as PageRecord;
    assert.ok(isPageRecord(stored));
    const resumed = new Run(fresh.policy, undefined, stored);
    resumed.now = T0 + 5_000;
    assert.deepEqual(resumed.on({ type: 'resumed' }), [
      { type: 'show', action: 'text', name: 'Alice', step: 1, of: 2 },
      { type: 'save' },
      { type: 'text', to: ALICE.number, from: '+15017122661', body: 'Smoke.' },
    ]);
    assert.equal(resumed.page.notStarted, undefined);
    assert.equal(resumed.page.stepEnds, T0 + 5_000 + 60_000);
    fresh.on({ type: 'start' });
    assert.equal(fresh.page.notStarted, undefined, 'started: a later resume goes on with its step');
    assert.equal(isPageRecord({ ...stored, notStarted: false }), false);
  });

  it('clamps a stored page its node no longer fits (fewer steps, contacts or rounds), never crashes', () => {
    const two = policy({
      steps: [
        { action: 'text', wait: 5 },
        { action: 'text', wait: 30 },
      ],
      rounds: 3,
    });
    const run = new Run(two);
    run.on({ type: 'start' });
    run.sent('SM1');
    run.on({ type: 'step-timer-due' }, 5_000);
    run.sent('SM2');
    // The node now has one step: Alice's step 2 no longer exists, so the page goes on with Bob.
    const one = new Run(policy({ steps: [{ action: 'text', wait: 30 }], rounds: 3 }), undefined, run.page);
    const next = one.on({ type: 'resumed' });
    assert.deepEqual(types(next), ['quiet', 'show', 'save', 'text']);
    assert.deepEqual([one.page.contact, one.page.step, (next[3] as { to: string }).to], [1, 0, BOB.number]);
    // A stored page past the last contact and round of its node: clamped, then it goes on to its end.
    const beyond = { ...run.page, contact: 7, step: 4, round: 5 };
    const last = new Run(policy({ steps: [{ action: 'call', wait: 30 }], rounds: 1 }), undefined, beyond);
    const end = emitted(last.on({ type: 'resumed' }));
    assert.equal(end.port, PORT.exhausted);
    // On its last step, with its ladder shrunk from under it, the step's end records the rung there is.
    const onLast = new Run(policy({ steps: [{ action: 'call', wait: 30 }] }), undefined, { ...run.page, step: 3, callSid: 'CA1' });
    assert.deepEqual(types(onLast.on({ type: 'step-timer-due' })), ['quiet', 'show', 'save', 'call']);
    assert.equal(onLast.page.history.at(-1)?.action, 'call');
  });

  it('ends as nobody acknowledged, with the reason, when something outside the ladder broke', () => {
    const run = new Run(policy());
    run.on({ type: 'start' });
    const end = emitted(run.on({ type: 'broken', error: 'STORE: refused' }));
    assert.deepEqual([end.port, end.page.error], [PORT.exhausted, 'STORE: refused']);
  });

  it("reads the node's settings as a policy, within bounds", () => {
    const defaults = escalationPolicy({});
    assert.deepEqual(defaults.ladder, [
      { action: 'text', waitMs: 60_000 },
      { action: 'call', waitMs: 90_000 },
    ]);
    assert.deepEqual([defaults.rounds, defaults.ackKey, defaults.ackWord, defaults.allClear], [2, '1', 'ACK', false]);
    assert.ok(defaults.acknowledges('yes') && defaults.acknowledges('1') && !defaults.acknowledges('no'));
    const odd = escalationPolicy({
      steps: [{ action: 'fax', wait: 99_999 }, null, { action: 'call', wait: 'x' }],
      rounds: 99,
      ackKey: '12345',
      ackWords: 'Roger, ok',
    });
    assert.deepEqual(odd.ladder, [
      { action: 'text', waitMs: 3_600_000 },
      { action: 'text', waitMs: 60_000 },
      { action: 'call', waitMs: 60_000 },
    ]);
    assert.deepEqual([odd.rounds, odd.ackKey, odd.ackWord], [10, '1', 'ROGER']);
    assert.equal(escalationPolicy({ rounds: -3 }).rounds, 1);
    assert.equal(escalationPolicy({ ackKey: '*9' }).ackKey, '*9');
  });

  it('reads contacts from a list, numbers, or {name, number}; refuses what is none', () => {
    assert.deepEqual(parseContacts('Alice +1 555 555 0120, Bob: +15555550121;\n+15555550122'), [
      ALICE,
      BOB,
      { name: '+15555550122', number: '+15555550122' },
    ]);
    assert.deepEqual(parseContacts([{ name: 'Carol', number: '+15555550122' }, '+15555550120']), [
      { name: 'Carol', number: '+15555550122' },
      { name: '+15555550120', number: '+15555550120' },
    ]);
    assert.equal(
      codeOf(() => parseContacts('Alice')),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => parseContacts([42])),
      'INVALID_INPUT',
    );
    assert.equal(
      codeOf(() => parseContacts(' , ')),
      'MISSING_INPUT',
    );
  });
});

describe('a step as an intent', () => {
  const ladder = () =>
    policy({
      steps: [
        { action: 'text', wait: 60 },
        { action: 'call', wait: 20 },
      ],
    });
  /** The record a power cut leaves while the current step's request is on its way: its intent, no Sid. */
  const inFlight = (run: Run) => JSON.parse(JSON.stringify(run.page)) as PageRecord;

  it('is saved before its text or call goes, given its Sid when it went, and replaced by the next step', () => {
    const run = new Run(ladder());
    assert.deepEqual(types(run.on({ type: 'start' })), ['show', 'save', 'text']);
    assert.deepEqual(run.page.intent, { action: 'text', to: ALICE.number, from: '+15017122661', at: T0 });
    run.sent('SM1', 1_000);
    assert.equal(run.page.intent?.sid, 'SM1');
    assert.deepEqual(types(run.on({ type: 'step-timer-due' }, 60_000)), ['quiet', 'show', 'save', 'call']);
    assert.deepEqual(run.page.intent, { action: 'call', to: ALICE.number, from: '+15017122661', at: T0 + 61_000 });
    run.on({ type: 'step-failed', error: 'X: no' });
    assert.equal(run.page.intent?.to, BOB.number, "the failed step's intent is over: the next one's");
  });

  it('without a Sid after a restart, asks Twilio first: no timer, nothing sent, until it answers', () => {
    const run = new Run(ladder());
    run.on({ type: 'start' });
    const resumed = new Run(run.policy, undefined, inFlight(run));
    resumed.now = T0 + 30_000;
    assert.deepEqual(resumed.on({ type: 'resumed' }), [
      { type: 'show', action: 'text', name: 'Alice', step: 1, of: 4 },
      { type: 'listen-replies', texted: [] },
      { type: 'reconcile', intent: { action: 'text', to: ALICE.number, from: '+15017122661', at: T0 } },
    ]);
    assert.deepEqual(resumed.on({ type: 'step-timer-due' }), [], 'no timer of the step meanwhile');
  });

  it('found at Twilio, goes on as sent: counted, its code kept, its wait counted from the intent (a restart does not lengthen it)', () => {
    const run = new Run(ladder());
    run.on({ type: 'start' });
    const stored = inFlight(run);
    stored.intent = { ...stored.intent!, body: 'Smoke. Reply ACK', code: '7' };
    const resumed = new Run(run.policy, undefined, stored);
    resumed.now = T0 + 30_000;
    resumed.on({ type: 'resumed' });
    const actions = resumed.on({ type: 'reconciled', sid: 'SM9' });
    assert.deepEqual(types(actions), ['save', 'listen-replies', 'set-timer']);
    assert.deepEqual(actions[2], { type: 'set-timer', at: T0 + 60_000 });
    assert.deepEqual(outcomes(resumed), [['Alice', 'text', 1, 'sent']]);
    assert.deepEqual(resumed.page.texted, [{ number: ALICE.number, from: '+15017122661', name: 'Alice', code: '7', askedAt: T0 }]);
    assert.equal(resumed.page.intent?.sid, 'SM9');
    assert.deepEqual(resumed.on({ type: 'reconciled', sid: 'SM10' }), [], 'answered once');
    assert.deepEqual(resumed.on({ type: 'reconciled' }), [], 'a late "not found" changes nothing');
  });

  it('found at Twilio, a call is watched; its step ends at once when the restart came after its wait', () => {
    const run = new Run(policy());
    run.on({ type: 'start' });
    const resumed = new Run(run.policy, undefined, inFlight(run));
    resumed.now = T0 + 10 * 60_000;
    resumed.on({ type: 'resumed' });
    const actions = resumed.on({ type: 'reconciled', sid: 'CA9' });
    assert.deepEqual(
      actions.filter((a) => a.type === 'watch-call' || a.type === 'set-timer'),
      [
        { type: 'watch-call', sid: 'CA9', until: T0 + 43_000 + 60_000 },
        { type: 'set-timer', at: T0 + 43_000 },
      ],
    );
    assert.equal(resumed.page.callSid, 'CA9');
    assert.equal(emitted(resumed.on({ type: 'key-pressed', sid: 'CA9', digits: '1' }))?.port, PORT.acknowledged);
  });

  it('not found at Twilio, it never left: sent now, once, as a new intent', () => {
    const run = new Run(ladder());
    run.on({ type: 'start' });
    const resumed = new Run(run.policy, undefined, inFlight(run));
    resumed.now = T0 + 30_000;
    resumed.on({ type: 'resumed' });
    const actions = resumed.on({ type: 'reconciled' });
    assert.deepEqual(actions, [
      { type: 'show', action: 'text', name: 'Alice', step: 1, of: 4 },
      { type: 'save' },
      { type: 'text', to: ALICE.number, from: '+15017122661', body: 'Smoke.' },
    ]);
    assert.deepEqual(resumed.page.intent, { action: 'text', to: ALICE.number, from: '+15017122661', at: T0 + 30_000 });
    assert.equal(resumed.page.stepEnds, T0 + 30_000 + 60_000);
    assert.deepEqual(resumed.page.history, [], 'nothing counted yet');
  });

  it('found after the page ended meanwhile (cancelled): its call is hung up, its text followed by the all clear', () => {
    for (const [steps, expected] of [
      [[{ action: 'call', wait: 20 }], [{ type: 'hang-up', sid: 'X9' }]],
      [[{ action: 'text', wait: 20 }], [{ type: 'all-clear', to: [{ number: ALICE.number, from: '+15017122661' }] }]],
    ] as const) {
      const run = new Run(policy({ steps: steps as never, allClear: 'All clear' }));
      run.on({ type: 'start' });
      const resumed = new Run(run.policy, undefined, inFlight(run));
      resumed.on({ type: 'resumed' });
      assert.equal(emitted(resumed.on({ type: 'cancel' })).port, PORT.cancelled);
      assert.deepEqual(resumed.on({ type: 'reconciled', sid: 'X9' }), expected);
    }
  });
});

describe('an ended page', () => {
  it('is saved as ended (how, and the calls it hangs up) before its calls are hung up and its msg leaves', () => {
    const run = new Run(policy({ steps: [{ action: 'call', wait: 20 }] }));
    run.on({ type: 'start' });
    run.sent('CA1');
    run.on({ type: 'step-timer-due' }, 43_000);
    run.sent('CA2');
    const actions = run.on({ type: 'key-pressed', sid: 'CA1', digits: '1' });
    assert.deepEqual(types(actions), ['save', 'hang-up', 'emit']);
    assert.equal(run.page.ended, PORT.acknowledged);
    assert.deepEqual(
      run.page.calls?.map((c) => c.sid),
      ['CA2'],
      'the calls it hangs up (not the one that acknowledged)',
    );
    assert.equal(run.page.endedWith?.acknowledged?.name, 'Alice');
    assert.ok(isPageRecord(JSON.parse(JSON.stringify(run.page))));
  });

  it('resumed after a power cut before its msg left: its calls hung up, it ends as it did, and never pages on', () => {
    const run = new Run(policy({ steps: [{ action: 'call', wait: 20 }] }));
    run.on({ type: 'start' });
    run.sent('CA1');
    run.on({ type: 'step-timer-due' }, 43_000);
    run.sent('CA2');
    const ended = emitted(run.on({ type: 'key-pressed', sid: 'CA1', digits: '1' }));
    const resumed = new Run(run.policy, undefined, JSON.parse(JSON.stringify(run.page)) as PageRecord);
    resumed.now = run.now + 60_000;
    const actions = resumed.on({ type: 'resumed' });
    assert.deepEqual(types(actions), ['hang-up', 'emit']);
    assert.deepEqual(actions[0], { type: 'hang-up', sid: 'CA2' });
    assert.deepEqual(emitted(actions), ended, 'the same end, with the same msg.page');
    for (const event of [{ type: 'step-timer-due' }, { type: 'reconciled' }, { type: 'cancel' }] as EscalationEvent[])
      assert.deepEqual(resumed.on(event), [], event.type);
  });
});

describe('a stored page', () => {
  const valid = (): PageRecord => {
    const run = new Run(policy({ steps: [{ action: 'text', wait: 5 }] }));
    run.on({ type: 'start' });
    run.sent('SM1');
    return JSON.parse(JSON.stringify(run.page)) as PageRecord;
  };
  const damaged: Array<[string, (p: Record<string, any>) => void]> = [
    ['contacts null', (p) => (p.contacts = null)],
    ['no contacts', (p) => (p.contacts = [])],
    ['a contact null', (p) => (p.contacts[0] = null)],
    ['a contact without a number', (p) => delete p.contacts[1].number],
    ['history not an array', (p) => (p.history = {})],
    ['a history entry null', (p) => (p.history = [null])],
    ['no msg', (p) => delete p.msg],
    ['msg not an object', (p) => (p.msg = 'smoke')],
    ['no spoken alert', (p) => delete p.spoken],
    ['a step index that is no index', (p) => (p.step = -1)],
    ['a round as text', (p) => (p.round = '1')],
    ['stepEnds missing', (p) => delete p.stepEnds],
    ['texted not an array', (p) => (p.texted = null)],
    ['a texted entry without its code', (p) => delete p.texted[0].code],
    ['alerted holding a number', (p) => (p.alerted = [15555550120])],
    ['a callSid that is no text', (p) => (p.callSid = 7)],
    ['an unknown end', (p) => (p.ended = 3)],
    ['an intent null', (p) => (p.intent = null)],
    ['an intent of another action', (p) => (p.intent.action = 'fax')],
    ['an intent without its recipient', (p) => delete p.intent.to],
    ['an intent without its time', (p) => delete p.intent.at],
    ['an intent whose Sid is no text', (p) => (p.intent.sid = 12)],
    ['an intent whose body is no text', (p) => (p.intent.body = ['Smoke.'])],
  ];

  it('is checked to the last field the machine reads', () => {
    assert.ok(isPageRecord(valid()));
    for (const value of [null, undefined, 'page', 42, [], {}]) assert.equal(isPageRecord(value), false, String(value));
    for (const [what, damage] of damaged) {
      const page = valid() as Record<string, any>;
      damage(page);
      assert.equal(isPageRecord(page), false, what);
    }
  });

  it("refuses a wrong type in every field, its intent's too", () => {
    const wrong = (v: unknown): unknown[] =>
      typeof v === 'string' ? [7, null] : typeof v === 'number' ? ['7', null] : Array.isArray(v) ? ['x', {}] : ['x', 7, []];
    const page = valid() as unknown as Record<string, unknown>;
    assert.ok(page.intent, 'the valid record has an intent');
    for (const [field, value] of Object.entries(page))
      for (const bad of wrong(value)) assert.equal(isPageRecord({ ...page, [field]: bad }), false, `${field}: ${JSON.stringify(bad)}`);
    for (const [field, value] of Object.entries(page.intent as object))
      for (const bad of wrong(value))
        assert.equal(
          isPageRecord({ ...page, intent: { ...(page.intent as object), [field]: bad } }),
          false,
          `intent.${field}: ${JSON.stringify(bad)}`,
        );
  });

  it('is set aside by the waiting room when damaged, and the others resume', async () => {
    const data = new Map<string, unknown>();
    const store: KeyValueStore = {
      get: async (key) => data.get(key),
      set: async (key, value) => void (value === undefined ? data.delete(key) : data.set(key, value)),
      keys: async () => [...data.keys()],
    };
    damaged.forEach(([, damage], i) => {
      const page = valid() as Record<string, any>;
      damage(page);
      data.set(`twilio-page-bad${i}`, page);
    });
    data.set('twilio-page-good', valid());
    const warnings: string[] = [];
    const room = new WaitingRoom<PageRecord>({
      node: { id: 'n', send: () => undefined, log: () => undefined, warn: (m) => warnings.push(m) },
      store,
      prefix: 'twilio-page-',
      capacity: 10,
      outputs: 3,
      isRecord: isPageRecord,
      notSent: () => new TwilioNodeError('NOT_SENT', 'not sent'),
      abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', 'abandoned'),
    });
    const restored = await room.restore();
    assert.deepEqual(
      restored.map((w) => w.id),
      ['good'],
    );
    assert.equal(warnings.length, 1, 'said once');
    assert.equal([...data.keys()].filter((k) => k.startsWith('damaged-twilio-page-bad')).length, damaged.length);
    // The page that resumes goes on as the machine says.
    const { actions } = escalate(policy({ steps: [{ action: 'text', wait: 5 }] }), restored[0].record, { type: 'resumed' }, T0);
    assert.deepEqual(types(actions), ['show', 'listen-replies', 'set-timer']);
  });
});
