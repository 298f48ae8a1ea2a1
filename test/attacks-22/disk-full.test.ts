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
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { suiteNeeding } from '../support/redis';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-22-tmpfs-'));
let cannotMount: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'pipe' });
} catch (err) {
  cannotMount = `cannot mount a small tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`;
  fs.rmSync(mountPoint, { recursive: true, force: true });
}

const SETTINGS = `functionGlobalContext: { fs: require('fs'), path: require('path'), userDir: __dirname },`;
const recorder = (id: string, what: string, detail: string) => ({
  id,
  type: 'function',
  z: 'tab',
  func: `global.get('fs').appendFileSync(global.get('path').join(global.get('userDir'), 'ended.log'), '${what} ' + msg.id + ' ' + (${detail}) + '\\n'); return null;`,
  outputs: 0,
  wires: [],
});

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
      const flows = [
        { id: 'tab', type: 'tab', label: 't' },
        {
          id: 'account',
          type: 'twilio-config',
          name: 'a',
          authMode: 'authToken',
          region: '',
          edge: '',
          defaultFrom: '+15017122661',
          baseUrl: simulator.url,
        },
        { id: 'in', type: 'http in', z: 'tab', url: '/go', method: 'post', wires: [['prep']] },
        {
          id: 'prep',
          type: 'function',
          z: 'tab',
          func: `msg.id = msg.payload.id; msg.big = 'x'.repeat(20000);
const reply = { req: msg.req, res: msg.res, payload: 'ok', statusCode: 200 };
delete msg.req; delete msg.res; msg.payload = 'hello ' + msg.id;
return [msg, reply];`,
          outputs: 2,
          wires: [['send'], ['reply']],
        },
        { id: 'reply', type: 'http response', z: 'tab', wires: [] },
        {
          id: 'send',
          type: 'twilio-send',
          z: 'tab',
          account: 'account',
          resource: 'message',
          to: HELD,
          toType: 'str',
          body: 'payload',
          bodyType: 'msg',
          waitFor: 'outcome',
          outcomeTimeout: 600,
          failureOutput: true,
          outputs: 2,
          wires: [['reached'], ['missed']],
        },
        recorder('reached', 'out1', 'msg.payload.status'),
        recorder('missed', 'out2', 'msg.payload.status'),
        { id: 'catcher', type: 'catch', z: 'tab', scope: ['send'], uncaught: false, wires: [['caught']] },
        recorder('caught', 'error', 'msg.error && msg.error.code'),
      ];
      red = await startRed(flows, { account: { accountSid: DEMO_ACCOUNT.sid, authToken: DEMO_ACCOUNT.authToken } }, SETTINGS);
      await red.kill();
      fs.rmSync(path.join(red.userDir, 'twilio-state'), { recursive: true, force: true });
      fs.symlinkSync(mountPoint, path.join(red.userDir, 'twilio-state'), 'dir');
      red = await restartRed(red, SETTINGS);
      const N = 400; // 400 waits of 20 kB: twice the disk
      const accepted: number[] = [];
      for (let id = 0; id < N && red.alive(); id++) {
        const res = await fetch(`${red.url}/go`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ id }),
        }).catch(() => undefined);
        if (res?.status === 200) accepted.push(id);
        await res?.body?.cancel().catch(() => undefined);
      }
      await sleep(3_000);
      const log = red.log();
      assert.ok(red.alive(), `Node-RED died with the disk full:\n${log.slice(-2000)}`);
      const file = path.join(red.userDir, 'ended.log');
      const ended = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
      const texts = [...simulator.messages.values()].filter((m) => m.to === HELD).length;
      // Each accepted msg is either waiting (its text made, held at `sent`) or ended with a code.
      assert.equal(
        texts + ended.filter((l) => l.startsWith('error')).length >= accepted.length,
        true,
        `${accepted.length} msgs, ${texts} texts, endings: ${ended.slice(0, 5).join(' | ')}`,
      );
      // What could not be kept was not sent: the flow's Catch is told so by the code a store refusal has.
      const codes = new Set(ended.filter((l) => l.startsWith('error')).map((l) => l.split(' ')[2]));
      assert.deepEqual([...codes], ['STATE_UNAVAILABLE'], 'a full disk refuses a msg as STATE_UNAVAILABLE');
      console.log(
        `disk full: ${accepted.length} msgs, ${texts} texts, ${ended.length} endings (${[...new Set(ended.map((l) => l.split(' ')[0] + ' ' + l.split(' ')[2]))].join(', ')})`,
      );
    });
  },
  { timeout: 180_000 },
);
