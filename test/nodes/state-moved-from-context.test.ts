/**
 * A flow saved by the previous release (configVersion 1, `contextStore: 'file'`), whose twilio-send
 * left a wait in the file context store: it restarts on this release with that wait moved into the
 * state engine once (gone from the context store) and resumed; a second restart finds nothing to
 * resume again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { until } from '../support/assertions';
import { FlowNode, accountNode, allNodes, helper, initWithFileContext, useRuntime } from '../support/harness';
import { acquireStateEngine, embeddedStateDir } from '../../lib/account/state-engines';
import { MOVED_PREFIX } from '../../lib/account/node-state';
import { useManualClock } from '../support/ticking';

initWithFileContext();

const ANSWERS = '+15555550100';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('state kept by the previous release in a context store', { timeout: 60_000 }, () => {
  const { simulator } = useRuntime();
  const time = useManualClock();

  it('is moved into the state engine once when the flow restarts, and its wait resumes', async () => {
    const account = accountNode(simulator.url, 'authToken');
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        configVersion: 1,
        contextStore: 'file',
        resource: 'message',
        to: ANSWERS,
        toType: 'str',
        body: 'hi',
        bodyType: 'str',
        waitFor: 'outcome',
        failureOutput: true,
        outputs: 2,
        wires: [['reached'], ['notReached']],
      },
      { id: 'reached', type: 'helper', z: 'tab' },
      { id: 'notReached', type: 'helper', z: 'tab' },
    ];
    await helper.load(allNodes, flow, { account: account.credentials });
    const red = helper as any;
    await red._context.load();
    // What the previous release left: a wait whose outcome was already known, in the file store.
    const record = {
      kind: 'message',
      deadline: Date.now() + 600_000,
      callbacks: false,
      msg: { payload: 'x', mark: 'from the file store' },
      several: false,
      sids: { [ANSWERS]: 'SM' + 'b'.repeat(32) },
      errors: {},
      outcomes: { [ANSWERS]: { status: 'delivered', reached: true } },
    };
    const context = () => (helper.getNode('send') as any).context();
    const fileContext = context();
    await red._redNodes.stopFlows();
    const call = <T>(fn: (cb: (err: unknown, v?: T) => void) => void) =>
      new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
    await call((cb) => fileContext.set('twilio-send-wait-previous', record, 'file', cb));
    assert.deepEqual(await call<string[]>((cb) => fileContext.keys('file', cb)), ['twilio-send-wait-previous']);

    await red._redNodes.startFlows();
    const reached: any[] = [];
    helper.getNode('reached').on('input', (m: any) => reached.push(m));
    for (let i = 0; i < 40 && reached.length === 0; i++) {
      await time.clock.advance(50);
      await sleep(25);
    }
    await until(() => reached.length === 1, 'the moved wait resumed');
    assert.equal(reached[0].mark, 'from the file store');
    assert.equal(reached[0].payload.status, 'delivered');
    assert.deepEqual(await call<string[]>((cb) => context().keys('file', cb)), [], 'gone from the file context store');
    const { engine, release } = acquireStateEngine({ backend: 'embedded', dir: embeddedStateDir(undefined) });
    try {
      // Ended once resumed: its record is gone from the engine too (nothing to resume a second time).
      // (Only the mark that it was moved stays: a later start does not move it again.)
      const left = async () =>
        (await engine.scan('node/send/', 10)).map((r) => r.key).filter((k) => !k.startsWith(`node/send/${MOVED_PREFIX}`));
      for (let i = 0; i < 40 && (await left()).length > 0; i++) await sleep(25);
      assert.deepEqual(await left(), []);
    } finally {
      await release();
    }

    // A second restart: nothing left to move or resume.
    await red._redNodes.stopFlows();
    await red._redNodes.startFlows();
    helper.getNode('reached').on('input', (m: any) => reached.push(m));
    for (let i = 0; i < 10; i++) {
      await time.clock.advance(50);
      await sleep(25);
    }
    assert.equal(reached.length, 1, 'resumed once');
  });
});
