/**
 * Attack on MMS media from a Buffer (lib/outbound/media.ts) with the disk under the embedded store
 * filling up (an SD card on a Raspberry Pi): a real red.js whose `twilio-state` is on a small tmpfs
 * (needs root to mount it: skipped otherwise); a camera flow sends 1 MB photos by MMS until the disk
 * is full. Promise: Node-RED stays up; each msg ends once: sent (and its photo served to Twilio), or
 * refused with a stable code (MEDIA_STORE_FULL or STATE_UNAVAILABLE) and nothing sent for it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep } from '../support/assertions';
import { startProxy, type RoundRobinProxy } from '../support/proxy';
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { suiteNeeding } from '../support/redis';
import { httpRequest } from '../../simulator/http-client';

const TO = '+15555553451';
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-24-tmpfs-'));
let cannotMount: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { stdio: 'pipe' });
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
  'a full disk under MMS media',
  () => {
    const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: { [TO]: { message: 'delivered' as const } } });
    let red: RedProcess | undefined;
    let proxy: RoundRobinProxy;
    before(async () => {
      await simulator.start();
      proxy = await startProxy([]);
    });
    after(async () => {
      await red?.stop();
      await proxy.close();
      await simulator.stop();
      execFileSync('umount', [mountPoint]);
      fs.rmSync(mountPoint, { recursive: true, force: true });
    });

    it('keeps Node-RED up; each photo is sent and served, or refused with a code and not sent', async () => {
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
          publicBaseUrl: proxy.url,
        },
        { id: 'in', type: 'http in', z: 'tab', url: '/go', method: 'post', wires: [['prep']] },
        {
          id: 'prep',
          type: 'function',
          z: 'tab',
          func: `msg.id = msg.payload.id; msg.text = 'cam ' + msg.id;
msg.photo = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(1000000, msg.id % 251)]);
const reply = { req: msg.req, res: msg.res, payload: 'ok', statusCode: 200 };
delete msg.req; delete msg.res;
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
          to: TO,
          toType: 'str',
          body: 'text',
          bodyType: 'msg',
          mediaUrl: 'photo',
          mediaUrlType: 'msg',
          wires: [['sent']],
        },
        recorder('sent', 'sent', 'msg.payload.sid'),
        { id: 'catcher', type: 'catch', z: 'tab', scope: ['send'], uncaught: false, wires: [['caught']] },
        recorder('caught', 'error', 'msg.error && msg.error.code'),
      ];
      red = await startRed(flows, { account: { accountSid: DEMO_ACCOUNT.sid, authToken: DEMO_ACCOUNT.authToken } }, SETTINGS);
      await red.kill();
      fs.rmSync(path.join(red.userDir, 'twilio-state'), { recursive: true, force: true });
      fs.symlinkSync(mountPoint, path.join(red.userDir, 'twilio-state'), 'dir');
      red = await restartRed(red, SETTINGS);
      proxy.targets = [red.url];
      const N = 16; // 16 photos of 1 MB (1.3 MB as stored): twice the disk
      const accepted: number[] = [];
      for (let id = 0; id < N && red.alive(); id++) {
        const res = await httpRequest(`${red.url}/go`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ id }),
        }).catch(() => undefined);
        if (res?.status === 200) accepted.push(id);
      }
      const file = path.join(red.userDir, 'ended.log');
      const ended = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
      const deadline = Date.now() + 30_000;
      while (ended().length < accepted.length && Date.now() < deadline && red.alive()) await sleep(100);
      await sleep(2_000);
      assert.ok(red.alive(), `Node-RED died with the disk full:\n${red.log().slice(-2000)}`);
      const byId = new Map<string, string[]>();
      for (const line of ended()) byId.set(line.split(' ')[1], [...(byId.get(line.split(' ')[1]) ?? []), line]);
      const created = [...simulator.messages.values()].filter((m) => String(m.body).startsWith('cam '));
      const fetched = simulator.media.fetched;
      const report = `${accepted.length} msgs; endings ${JSON.stringify([...byId.values()])}; ${created.length} MMS created; fetches ${JSON.stringify(fetched.map((f) => f.status))}`;
      console.log(`# ${report}`);
      for (const id of accepted) {
        const endings = byId.get(String(id)) ?? [];
        assert.equal(endings.length, 1, `msg ${id} ended ${endings.length} times: ${report}`);
        const [what, , detail] = endings[0].split(' ');
        const madeFor = created.filter((m) => m.body === `cam ${id}`);
        if (what === 'error') {
          assert.ok(['MEDIA_STORE_FULL', 'STATE_UNAVAILABLE'].includes(detail), `msg ${id} refused with ${detail}: ${report}`);
          assert.equal(madeFor.length, 0, `msg ${id} refused, yet sent: ${report}`);
        } else {
          assert.equal(madeFor.length, 1, `msg ${id}: ${report}`);
        }
      }
      assert.ok(
        fetched.every((f) => f.status === 200),
        `every photo sent was served: ${report}`,
      );
      assert.ok(created.length < N, `the disk was filled: ${report}`);
    });
  },
  { timeout: 180_000 },
);
