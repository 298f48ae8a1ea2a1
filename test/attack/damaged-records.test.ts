/**
 * ATTACK: damaged records of every shape in the context store before start, for twilio-send,
 * twilio-ask and twilio-page. Promise: Node-RED never crashes; each damaged record is set aside
 * (damaged-<key>) and logged once (one warning for all); the valid record beside them resumes.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ManualClock, installClock } from '../../lib/core/clock';
import { FlowNode, accountNode, allNodes, helper, nodeRedPackage, useRuntime } from '../support/harness';
import { refusingModule, refusingStore } from './stores';

helper.init(require.resolve(nodeRedPackage), { contextStorage: { default: { module: 'memory' }, plain: { module: refusingModule } } });

const ANSWERS = '+15555550100';
const SILENT = '+15555550113';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const COMMON: unknown[] = [null, 42, 'text', [], {}, true, { msg: null }, [{ msg: {} }]];

describe('ATTACK damaged stored records', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  let clock: ManualClock;
  let restoreClock: () => void;
  beforeEach(() => {
    clock = new ManualClock();
    restoreClock = installClock(clock);
  });
  afterEach(() => restoreClock());
  const credentials = () => ({ account: accountNode(simulator.url, 'authToken').credentials });

  async function startWith(node: FlowNode, prefix: string, valid: object, damaged: unknown[]) {
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      accountNode(simulator.url, 'authToken').node,
      { ...node, z: 'tab', account: 'account', contextStore: 'plain', wires: [['o0'], ['o1'], ['o2'], ['o3']] },
      ...['o0', 'o1', 'o2', 'o3'].map((id) => ({ id, type: 'helper', z: 'tab' })),
    ];
    await helper.load(allNodes, flow, credentials());
    const red = helper as any;
    await red._context.load();
    await red._redNodes.stopFlows();
    const store = refusingStore.instances.at(-1)!;
    const data: Record<string, unknown> = {};
    damaged.forEach((d, i) => (data[`${prefix}d${i}`] = d));
    data[`${prefix}valid`] = valid;
    store.data[`${node.id}:tab`] = data;
    await red._redNodes.startFlows();
    const out: any[] = [];
    for (const o of ['o0', 'o1', 'o2', 'o3']) helper.getNode(o).on('input', (m: any) => out.push(m));
    await sleep(200);
    await clock.advance(10);
    await sleep(200);
    const warnings = (helper.getNode(node.id).warn as any).getCalls().map((c: any) => String(c.args[0]));
    const keys = Object.keys(store.data[`${node.id}:tab`] ?? {});
    return { out, warnings, keys };
  }

  function check(r: { out: any[]; warnings: string[]; keys: string[] }, prefix: string, count: number) {
    assert.equal(r.warnings.length, 1, `one warning: ${r.warnings.join(' | ')}`);
    assert.equal(r.keys.filter((k) => k.startsWith(`damaged-${prefix}`)).length, count, `set aside: ${r.keys.join(', ')}`);
    assert.deepEqual(
      r.keys.filter((k) => k.startsWith(prefix) && k !== `${prefix}valid`),
      [],
    );
    assert.equal(r.out.length, 1, 'the valid record resumed and left');
    assert.equal(r.out[0].mark, 'valid');
  }

  it('twilio-send', async () => {
    const valid = {
      kind: 'message',
      deadline: Date.now() + 600_000,
      callbacks: false,
      msg: { payload: 'x', mark: 'valid' },
      several: false,
      sids: { [ANSWERS]: 'SM' + 'a'.repeat(32) },
      errors: {},
      outcomes: { [ANSWERS]: { status: 'delivered', reached: true } },
    };
    const damaged = [
      ...COMMON,
      { ...valid, sids: null },
      { ...valid, sids: { [ANSWERS]: null } },
      { ...valid, sids: {} },
      { ...valid, msg: null },
      { ...valid, msg: [] },
      { ...valid, deadline: 'x' },
      { ...valid, deadline: null },
      { ...valid, kind: 'fax' },
      { ...valid, outcomes: { other: { status: 'delivered', reached: true } } },
      { ...valid, outcomes: { [ANSWERS]: null } },
      { ...valid, errors: null },
      { ...valid, failure: 'boom' },
      { ...valid, several: 'no' },
    ];
    const r = await startWith(
      {
        id: 'send',
        type: 'twilio-send',
        resource: 'message',
        to: ANSWERS,
        toType: 'str',
        body: 'hi',
        bodyType: 'str',
        waitFor: 'outcome',
        failureOutput: true,
        outputs: 2,
      },
      'twilio-send-wait-',
      valid,
      damaged,
    );
    check(r, 'twilio-send-wait-', damaged.length);
  });

  it('twilio-ask', async () => {
    const asked = { sid: 'SM' + 'b'.repeat(32), code: '12', person: SILENT, open: true };
    const valid = {
      deadline: Date.now() - 1000,
      askedAt: new Date().toISOString(),
      msg: { payload: 'x', mark: 'valid' },
      question: 'Close?',
      recipients: { [SILENT]: asked },
    };
    const damaged = [
      ...COMMON,
      { ...valid, recipients: null },
      { ...valid, recipients: {} },
      { ...valid, recipients: { [SILENT]: null } },
      { ...valid, recipients: { [SILENT]: { ...asked, sid: null } } },
      { ...valid, recipients: { [SILENT]: { ...asked, open: 'yes' } } },
      { ...valid, recipients: { [SILENT]: { ...asked, askedAt: 'now' } } },
      { ...valid, msg: null },
      { ...valid, deadline: null },
      { ...valid, deadline: 'tomorrow' },
      { ...valid, question: 5 },
      { ...valid, askedAt: null },
    ];
    const r = await startWith(
      {
        id: 'ask',
        type: 'twilio-ask',
        to: SILENT,
        toType: 'str',
        body: 'Close?',
        bodyType: 'str',
        answers: [{ type: 'words', value: 'yes' }],
        outputs: 4,
      },
      'twilio-ask-',
      valid,
      damaged,
    );
    check(r, 'twilio-ask-', damaged.length);
  });

  it('twilio-page', async () => {
    const valid = {
      alarmId: 'smoke',
      msg: { payload: 'x', mark: 'valid' },
      spoken: 'Smoke',
      contacts: [{ name: 'Nobody', number: SILENT }],
      round: 0,
      contact: 0,
      step: 0,
      stepEnds: Date.now() - 1000,
      texted: [],
      alerted: [],
      history: [],
      merged: 0,
      startedAt: new Date().toISOString(),
    };
    const damaged = [
      ...COMMON,
      { ...valid, contacts: [] },
      { ...valid, contacts: [null] },
      { ...valid, contacts: [{ name: 'x', number: null }] },
      { ...valid, texted: [null] },
      { ...valid, texted: null },
      { ...valid, history: null },
      { ...valid, history: [null] },
      { ...valid, alerted: [null] },
      { ...valid, msg: null },
      { ...valid, step: -1 },
      { ...valid, round: 1.5 },
      { ...valid, stepEnds: null },
      { ...valid, calls: [{ sid: null }] },
      { ...valid, callSid: 5 },
      { ...valid, ended: 7 },
      { ...valid, alarmId: null },
    ];
    const r = await startWith(
      {
        id: 'page',
        type: 'twilio-page',
        contacts: `Nobody ${SILENT}`,
        contactsType: 'str',
        alert: 'Smoke',
        steps: [{ action: 'text', wait: 60 }],
        rounds: 1,
        outputs: 3,
      },
      'twilio-page-',
      valid,
      damaged,
    );
    check(r, 'twilio-page-', damaged.length);
  });
});
