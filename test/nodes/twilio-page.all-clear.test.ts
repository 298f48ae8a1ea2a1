/**
 * twilio-page's all clear (the texts a cancelled page sends those it alerted) is an intent, as a step
 * is: committed with the page's end before it goes, and the page's msg leaves once Twilio took it.
 * A power cut between its request and its record (the restart finds the ended page with its all
 * clear, no Sid) neither loses nor repeats it: Twilio is asked first; the one it has is not sent
 * again, the one it never got goes now. Real runtime (node-red-node-test-helper), the simulator, the
 * embedded engine, a ManualClock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acquireStateEngine, embeddedStateDir } from '../../lib/account/state-engines';
import { PORT, PageRecord, isPageRecord, newPage } from '../../lib/conversation/escalation';
import { ACCOUNT, FlowNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { untilTicking, useManualClock } from '../support/ticking';

const FROM = '+15017122661';
const ALICE = '+15555550121';
const BOB = '+15555550124';
const BODY = 'All clear: kitchen is fine.';

describe('twilio-page: the all clear across a power cut', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  const time = useManualClock();
  const account = () => accountNode(simulator.url, 'authToken');

  const flow = (): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    account().node,
    {
      id: 'page',
      type: 'twilio-page',
      z: 'tab',
      account: 'account',
      contacts: `Alice ${ALICE}, Bob ${BOB}`,
      contactsType: 'str',
      alert: 'Smoke in the {{payload}}',
      steps: [{ action: 'text', wait: 60 }],
      rounds: 1,
      allClear: 'All clear: {{payload}} is fine.',
      cancelTopic: 'cleared',
      wires: [['o0'], ['o1'], ['o2']],
    },
    ...['o0', 'o1', 'o2'].map((id) => ({ id, type: 'helper', z: 'tab' })),
  ];
  const texts = (to: string) =>
    [...simulator.messages.values()].filter((m) => m.to === to && m.direction !== 'inbound').map((m) => String(m.body));

  async function load(): Promise<{ cancelled: any[]; others: any[] }> {
    await helper.load(allNodes, flow(), { account: account().credentials });
    const got = { cancelled: [] as any[], others: [] as any[] };
    helper.getNode('o2').on('input', (m: any) => got.cancelled.push(m));
    for (const o of ['o0', 'o1']) helper.getNode(o).on('input', (m: any) => got.others.push(m));
    return got;
  }

  it('commits the all clear with the end of a cancelled page, and the msg leaves once Twilio took it', async () => {
    const got = await load();
    helper.getNode('page').receive({ topic: 'smoke', payload: 'kitchen' });
    await untilTicking(time.clock, () => texts(ALICE).length === 1, "Alice's alert");
    helper.getNode('page').receive({ topic: 'cleared' });
    await untilTicking(time.clock, () => got.cancelled.length === 1, 'the cancel');
    // By the time the msg leaves, the all clear was taken by Twilio (its record then goes).
    assert.deepEqual(texts(ALICE), [texts(ALICE)[0], BODY]);
    assert.deepEqual(texts(BOB), [], 'Bob was never alerted');
    for (let tries = 0; tries < 100 && (await storedPages()) > 0; tries++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await storedPages(), 0, 'its record is gone');
  });

  /** The page records left in the embedded store (the node's `twilio-page-` keys). */
  async function storedPages(): Promise<number> {
    const { engine, release } = acquireStateEngine({ backend: 'embedded', dir: embeddedStateDir(undefined) });
    try {
      return (await engine.scan('node/page/twilio-page-', 100)).length;
    } finally {
      await release();
    }
  }

  it('after a power cut: the all clear Twilio has is not sent again, the one it never got goes, the msg leaves once', async () => {
    // The previous run: Alice and Bob alerted, the page cancelled, its end saved with the all clear;
    // Alice's request reached Twilio (its answer lost with the power), Bob's never left.
    const now = time.clock.now();
    const page: PageRecord = newPage(
      {
        alarmId: 'smoke',
        msg: { topic: 'smoke', payload: 'kitchen', mark: 'first' },
        spoken: 'Smoke in the kitchen',
        contacts: [
          { name: 'Alice', number: ALICE },
          { name: 'Bob', number: BOB },
        ],
        from: FROM,
      },
      now - 120_000,
    );
    delete page.notStarted;
    page.alerted = [ALICE, BOB];
    page.texted = [
      { number: ALICE, name: 'Alice', code: '1', from: FROM },
      { number: BOB, name: 'Bob', code: '2', from: FROM },
    ];
    page.history = [
      { name: 'Alice', number: ALICE, action: 'text', round: 1, at: new Date(now - 120_000).toISOString(), outcome: 'sent' },
      { name: 'Bob', number: BOB, action: 'text', round: 1, at: new Date(now - 60_000).toISOString(), outcome: 'sent' },
    ] as PageRecord['history'];
    page.ended = PORT.cancelled;
    page.endedWith = { cancelledAt: new Date(now - 1_000).toISOString() };
    page.calls = [];
    page.allClear = [ALICE, BOB].map((number) => ({ number, from: FROM, at: now - 1_000, body: BODY }));
    assert.ok(isPageRecord(page));
    const { engine, release } = acquireStateEngine({ backend: 'embedded', dir: embeddedStateDir(undefined) });
    try {
      await engine.put('node/page/twilio-page-0123456789abcdef', page);
    } finally {
      await release();
    }
    const message = { to: ALICE, from: FROM, body: BODY };
    const created = await simulatorCreate(message);
    assert.ok(created.startsWith('SM'));

    const got = await load();
    await untilTicking(time.clock, () => got.cancelled.length === 1, 'the restored page ends');
    assert.deepEqual(texts(ALICE), [BODY], 'Alice got her all clear once: it was found, not sent again');
    assert.deepEqual(texts(BOB), [BODY], 'Bob, whose all clear never left, got it now');
    assert.equal(got.cancelled[0].mark, 'first');
    assert.equal(got.others.length, 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got.cancelled.length, 1, 'it left once');
    assert.deepEqual(texts(ALICE), [BODY]);
    assert.deepEqual(texts(BOB), [BODY]);
  });

  /** A text at the simulator, made as the previous run's request made it (the account's credentials). */
  async function simulatorCreate(params: Record<string, string>): Promise<string> {
    const auth = Buffer.from(`${ACCOUNT.sid}:${ACCOUNT.authToken}`).toString('base64');
    const res = await fetch(`${simulator.url}/2010-04-01/Accounts/${ACCOUNT.sid}/Messages.json`, {
      method: 'POST',
      headers: { Authorization: `Basic ${auth}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ To: params.to, From: params.from, Body: params.body }).toString(),
    });
    const body = (await res.json()) as { sid: string };
    return body.sid;
  }
});
