/**
 * Attack on issue #22's one-time move of state a previous release kept in a Node-RED context store
 * (config-version step: `contextStore` → `stateIn`, `stateMovedFrom`): a real red.js with the file
 * context store (cached, written every 30 s) and a flow saved by the previous release, whose
 * twilio-send left an outcome wait in that store.
 *
 * The first start on this release moves the wait into the embedded engine, deletes it from the
 * context (in the context's cache: on disk within 30 s), resumes it and ends it (the outcome was
 * known). A power cut within those 30 s: flows.json still says `contextStore: 'file'` (the upgrade is
 * a copy), so the next start moves again, and the context file on disk still holds the wait the
 * engine no longer has: it is resumed and its msg ends a second time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually as until, sleep } from '../support/assertions';
import { CREDENTIALS, TAB, accountConfig, endedLog, endingRecorders, endings, recorderSettings } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';

const TO = '+15555553301';
const SETTINGS = recorderSettings({}, `contextStorage: { default: { module: 'memory' }, file: { module: 'localfilesystem' } },`);

describe('the move of context state, cut by a power cut', { timeout: 120_000 }, () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let red: RedProcess | undefined;
  before(() => simulator.start());
  after(async () => {
    await red?.stop();
    await simulator.stop();
  });

  it('does not resume a wait that ended after it was moved', async () => {
    const flows = [
      TAB,
      accountConfig(simulator.url),
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        configVersion: 1,
        contextStore: 'file',
        resource: 'message',
        to: TO,
        toType: 'str',
        body: 'hi',
        bodyType: 'str',
        waitFor: 'outcome',
        failureOutput: true,
        outputs: 2,
        wires: [['reached'], ['missed']],
      },
      ...endingRecorders('send', 'msg.mark'),
    ];
    // Started once to make the user dir, stopped by a kill (nothing of ours is stored yet).
    red = await startRed(flows, CREDENTIALS, SETTINGS);
    await red.kill();
    fs.rmSync(path.join(red.userDir, 'twilio-state'), { recursive: true, force: true });
    // What the previous release left in the file context store: a wait whose outcome was known.
    const record = {
      kind: 'message',
      deadline: Date.now() + 600_000,
      callbacks: false,
      msg: { payload: 'x', mark: 'previous' },
      several: false,
      sids: { [TO]: 'SM' + 'b'.repeat(32) },
      errors: {},
      outcomes: { [TO]: { status: 'delivered', reached: true } },
    };
    fs.mkdirSync(path.join(red.userDir, 'context', 'tab'), { recursive: true });
    fs.writeFileSync(path.join(red.userDir, 'context', 'tab', 'send.json'), JSON.stringify({ 'twilio-send-wait-previous': record }));
    /** "<what> <mark>" for each ending. */
    const ended = () => [...endings(endedLog(red!.userDir))].flatMap(([mark, e]) => e.map((ending) => `${ending.split(' ')[0]} ${mark}`));

    red = await restartRed(red, SETTINGS);
    await until('the moved wait resumed and ended', () => ended().length === 1);
    await sleep(1_000);
    await red.kill(); // within the file store's 30 s
    red = await restartRed(red, SETTINGS);
    await sleep(3_000);
    assert.deepEqual(ended(), ['out1 previous'], 'the moved wait ended once');
  });
});
