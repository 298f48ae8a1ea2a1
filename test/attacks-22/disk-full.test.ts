/**
 * Attack on issue #22: the disk that holds the embedded store (`<userDir>/twilio-state`) fills up
 * (an SD card on a Raspberry Pi, a log that grew). A real red.js whose twilio-state is on a small
 * tmpfs (needs root to mount it: skipped otherwise), nearly full; msgs keep coming to twilio-send
 * "wait for the outcome". Promise: Node-RED stays up, and each msg ends once: sent and waited for, or
 * refused with STATE_UNAVAILABLE (what a store that cannot keep it says), never silently dropped.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep } from '../support/assertions';
import { CREDENTIALS, endedLog, endings, outcomeFlow, recorderSettings } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { suiteNeeding } from '../support/redis';
import { httpRequest } from '../../simulator/http-client';

const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-22-tmpfs-'));
let cannotMount: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'pipe' });
} catch (err) {
  cannotMount = `cannot mount a small tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`;
  fs.rmSync(mountPoint, { recursive: true, force: true });
}

const SETTINGS = recorderSettings();

suiteNeeding(
  cannotMount,
  'a full disk under the embedded store',
  () => {
    const HELD = '+15555553401';
    const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: { [HELD]: { message: 'sent' as const } } });
    let red: RedProcess | undefined;
    before(() => simulator.start());
    after(async () => {
      await red?.stop();
      await simulator.stop();
      execFileSync('umount', [mountPoint]);
      fs.rmSync(mountPoint, { recursive: true, force: true });
    });

    it('keeps Node-RED up and ends every msg once (refused with a code when it cannot be stored)', async () => {
      const flows = outcomeFlow(simulator.url, `msg.id = msg.payload.id; msg.big = 'x'.repeat(20000); msg.payload = 'hello ' + msg.id;`, {
        send: { to: HELD, toType: 'str', body: 'payload' },
      });
      red = await startRed(flows, CREDENTIALS, SETTINGS);
      await red.kill();
      fs.rmSync(path.join(red.userDir, 'twilio-state'), { recursive: true, force: true });
      fs.symlinkSync(mountPoint, path.join(red.userDir, 'twilio-state'), 'dir');
      red = await restartRed(red, SETTINGS);
      const N = 400; // 400 waits of 20 kB: twice the disk
      const accepted: number[] = [];
      for (let id = 0; id < N && red.alive(); id++) {
        const res = await httpRequest(`${red.url}/go`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ id }),
        }).catch(() => undefined);
        if (res?.status === 200) accepted.push(id);
      }
      await sleep(3_000);
      const log = red.log();
      assert.ok(red.alive(), `Node-RED died with the disk full:\n${log.slice(-2000)}`);
      const ended = [...endings(endedLog(red.userDir)).values()].flat(); // "<what> <detail>"
      const texts = [...simulator.messages.values()].filter((m) => m.to === HELD).length;
      // Each accepted msg is either waiting (its text made, held at `sent`) or ended with a code.
      assert.equal(
        texts + ended.filter((l) => l.startsWith('error')).length >= accepted.length,
        true,
        `${accepted.length} msgs, ${texts} texts, endings: ${ended.slice(0, 5).join(' | ')}`,
      );
      // What could not be kept was not sent: the flow's Catch is told so by the code a store refusal has.
      const codes = new Set(ended.filter((l) => l.startsWith('error')).map((l) => l.split(' ')[1]));
      assert.deepEqual([...codes], ['STATE_UNAVAILABLE'], 'a full disk refuses a msg as STATE_UNAVAILABLE');
      console.log(`disk full: ${accepted.length} msgs, ${texts} texts, ${ended.length} endings (${[...new Set(ended)].join(', ')})`);
    });
  },
  { timeout: 180_000 },
);
