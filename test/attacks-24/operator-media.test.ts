/**
 * Attacks on #24 part 1 (MMS media from a Buffer) as an unlucky operator runs Node-RED: real red.js
 * processes, the simulator in this process (Twilio fetches the media some seconds after the create),
 * a round-robin proxy as the public URL (a load balancer without sticky sessions), a real redis-server.
 *
 * 1. Power cut (kill -9) after the create, before Twilio fetched the photo; Node-RED restarted on its
 *    user dir (embedded store): the photo is still served, byte-identical, and the msg that waited for
 *    its outcome ends exactly once, delivered.
 * 2. Two Node-RED on one Redis behind the proxy: the one that sent is killed before the fetch; the
 *    fetch lands on the other, which serves the photo (its HEAD on one and its GET on the other too).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually, sleep } from '../support/assertions';
import { CREDENTIALS } from '../support/flows';
import { startProxy, type RoundRobinProxy } from '../support/proxy';
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const FROM = '+15017122661';
const TO = '+15555553201';
/** The photo every flow sends: a PNG signature and 40 kB after it (the same bytes each time). */
const PHOTO_JS = `Buffer.concat([Buffer.from([0x89,0x50,0x4e,0x47,0x0d,0x0a,0x1a,0x0a]), Buffer.alloc(40000, 7)])`;
const PHOTO_SHA = crypto
  .createHash('sha256')
  .update(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40000, 7)]))
  .digest('hex');

/** eventually(), with this file's longer patience (whole Node-RED processes restart in it). */
const until = <T>(what: string, check: () => T | undefined | false, ms = 30_000): Promise<T> => eventually(what, check, ms);

const dirs: string[] = [];
function newLogFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-24-media-'));
  dirs.push(dir);
  return path.join(dir, 'ended.log');
}
const settingsFor = (logFile: string, name: string, extra = '') =>
  `functionGlobalContext: { fs: require('fs'), logFile: ${JSON.stringify(logFile)}, instance: ${JSON.stringify(name)} }, ${extra}`;

const recorder = (id: string, what: string, detail: string) => ({
  id,
  type: 'function',
  z: 'tab',
  func: `global.get('fs').appendFileSync(global.get('logFile'), '${what} ' + msg.id + ' ' + global.get('instance') + ' ' + (${detail}) + '\\n');
return null;`,
  outputs: 0,
  wires: [],
});

/** The endings written to `logFile`, by msg id. */
function endings(logFile: string): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  if (!fs.existsSync(logFile)) return byId;
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!line) continue;
    const [what, id, instance, detail] = line.split(' ');
    byId.set(id, [...(byId.get(id) ?? []), `${what} ${detail} on ${instance}`]);
  }
  return byId;
}

function flows(simulatorUrl: string, publicBaseUrl: string, account: Record<string, unknown> = {}): object[] {
  return [
    { id: 'tab', type: 'tab', label: 't' },
    {
      id: 'account',
      type: 'twilio-config',
      name: 'a',
      authMode: 'authToken',
      region: '',
      edge: '',
      defaultFrom: FROM,
      baseUrl: simulatorUrl,
      publicBaseUrl,
      ...account,
    },
    { id: 'in', type: 'http in', z: 'tab', url: '/go', method: 'post', wires: [['prep']] },
    {
      id: 'prep',
      type: 'function',
      z: 'tab',
      func: `msg.id = msg.payload.id; msg.text = 'photo ' + msg.payload.id; msg.photo = ${PHOTO_JS};
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
      waitFor: 'outcome',
      outcomeTimeout: 120,
      failureOutput: true,
      outputs: 2,
      wires: [['reached'], ['missed']],
    },
    recorder('reached', 'out1', 'msg.payload.status'),
    recorder('missed', 'out2', 'msg.payload.status'),
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['send'], uncaught: false, wires: [['caught']] },
    recorder('caught', 'error', 'msg.error && msg.error.code'),
  ];
}

async function go(red: RedProcess, id: number): Promise<void> {
  const res = await fetch(`${red.url}/go`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

const photoMessages = (simulator: TwilioSimulator) => [...simulator.messages.values()].filter((m) => String(m.body).startsWith('photo '));

describe('MMS media through a power cut (embedded store)', { timeout: 150_000 }, () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let proxy: RoundRobinProxy;
  const reds: RedProcess[] = [];
  before(async () => {
    await simulator.start();
    proxy = await startProxy([]);
  });
  after(async () => {
    for (const red of reds) await red.kill();
    if (reds[0]) await reds[0].stop();
    await proxy.close();
    await simulator.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the photo after kill -9 between the create and the fetch, and the msg that waited ends once, delivered', async () => {
    const logFile = newLogFile();
    simulator.media.delayMs = 25_000; // Twilio fetches late: the restart comes first
    const first = await startRed(flows(simulator.url, proxy.url), CREDENTIALS, settingsFor(logFile, 'first'));
    reds.push(first);
    proxy.targets = [first.url];
    await go(first, 1);
    await until('the MMS created', () => photoMessages(simulator).length === 1);
    await sleep(500); // the Sid written to the wait's record
    await first.kill();
    const second = await restartRed(first, settingsFor(logFile, 'second'));
    reds.push(second);
    proxy.targets = [second.url];
    const fetched = await until('Twilio fetched the photo', () => simulator.media.fetched.find((f) => f.status !== 0 || f.error), 60_000);
    assert.equal(fetched.status, 200, `the fetch after the restart: ${JSON.stringify({ ...fetched, bytes: undefined })}`);
    assert.equal(fetched.sha256, PHOTO_SHA);
    await until('the msg ended', () => endings(logFile).get('1'), 60_000);
    await sleep(2_000); // a second ending on its way
    assert.deepEqual(endings(logFile).get('1'), ['out1 delivered on second']);
  });
});

describe('MMS media through a redeploy', { timeout: 150_000 }, () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  let proxy: RoundRobinProxy;
  let red: RedProcess | undefined;
  before(async () => {
    await simulator.start();
    proxy = await startProxy([]);
  });
  after(async () => {
    await red?.stop();
    await proxy.close();
    await simulator.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  // The operator disables the camera's tab (or deletes its twilio-send) and deploys while an MMS
  // waits for Twilio's fetch: the account stays, and the message was created; its photo must be served.
  it('serves the photo of a message already created when its twilio-send is removed by a deploy before the fetch', async () => {
    const logFile = newLogFile();
    simulator.media.delayMs = 6_000;
    const all = flows(simulator.url, proxy.url);
    red = await startRed(all, CREDENTIALS, settingsFor(logFile, 'first'));
    proxy.targets = [red.url];
    const before = simulator.media.fetched.length;
    await go(red, 4);
    await until('the MMS created', () => photoMessages(simulator).some((m) => m.body === 'photo 4'));
    const withoutSend = (all as Array<{ id: string; wires?: string[][] }>)
      .filter((n) => !['send', 'reached', 'missed', 'catcher', 'caught'].includes(n.id))
      .map((n) => (n.id === 'prep' ? { ...n, wires: [[], ['reply']] } : n));
    const deployed = await fetch(`${red.url}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(withoutSend),
    });
    assert.equal(deployed.status, 204);
    const fetched = await until('Twilio fetched the photo', () =>
      simulator.media.fetched.slice(before).find((f) => f.status !== 0 || f.error),
    );
    assert.equal(fetched.status, 200, `the fetch after the deploy: ${JSON.stringify({ ...fetched, bytes: undefined })}`);
  });
});

suiteNeeding(
  noRedis,
  'MMS media on two Node-RED sharing Redis behind a load balancer',
  () => {
    const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
    let redis: RedisServer;
    let proxy: RoundRobinProxy;
    const reds: RedProcess[] = [];
    before(async () => {
      await simulator.start();
      redis = await startRedis();
      proxy = await startProxy([]);
    });
    after(async () => {
      for (const red of reds) await red.stop();
      await proxy.close();
      await redis?.stop();
      await simulator.stop();
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('serves the photo from the other instance when the one that sent it died before the fetch; the msg ends once', async () => {
      const logFile = newLogFile();
      simulator.media.delayMs = 3_000;
      const account = { stateBackend: 'redis', redisUrl: redis.url };
      const lease = `twilio: { leaseMs: 3000 },`;
      const a = await startRed(flows(simulator.url, proxy.url, account), CREDENTIALS, settingsFor(logFile, 'A', lease));
      reds.push(a);
      const b = await startRed(flows(simulator.url, proxy.url, account), CREDENTIALS, settingsFor(logFile, 'B', lease));
      reds.push(b);
      proxy.targets = [a.url, b.url];
      await go(a, 2);
      await until('the MMS created', () => photoMessages(simulator).length === 1);
      await sleep(300);
      await a.kill();
      const fetched = await until('Twilio fetched the photo', () => simulator.media.fetched.find((f) => f.status !== 0 || f.error), 30_000);
      assert.equal(fetched.status, 200, `the fetch: ${JSON.stringify({ ...fetched, bytes: undefined })}`);
      assert.equal(fetched.sha256, PHOTO_SHA);
      await until('the msg ended', () => endings(logFile).get('2'), 60_000);
      await sleep(2_000);
      assert.deepEqual(endings(logFile).get('2'), ['out1 delivered on B']);
    });

    it('serves the HEAD from one instance and the GET from the other, both alive', async () => {
      simulator.media.delayMs = 0;
      const logFile = newLogFile();
      const account = { stateBackend: 'redis', redisUrl: redis.url };
      const a = await startRed(flows(simulator.url, proxy.url, account), CREDENTIALS, settingsFor(logFile, 'A'));
      reds.push(a);
      const b = await startRed(flows(simulator.url, proxy.url, account), CREDENTIALS, settingsFor(logFile, 'B'));
      reds.push(b);
      proxy.targets = [a.url, b.url];
      const before = simulator.media.fetched.length;
      await go(a, 3);
      const fetched = await until('Twilio fetched the photo', () =>
        simulator.media.fetched.slice(before).find((f) => f.status !== 0 || f.error),
      );
      assert.equal(fetched.head, 200);
      assert.equal(fetched.status, 200);
      const media = proxy.log.filter((entry) => fetched.url.endsWith(entry.path));
      assert.equal(new Set(media.map((entry) => entry.target)).size, 2, `served by: ${JSON.stringify(media)}`);
      await until('the msg ended', () => endings(logFile).get('3'), 60_000);
      assert.equal(endings(logFile).get('3')?.length, 1);
    });
  },
  { timeout: 150_000 },
);
