/**
 * Attacks on issue #22 as an unlucky operator runs Node-RED (real red.js processes, the simulator in
 * this process, a real redis-server): each test states what a user would see and asserts the
 * promise that every msg twilio-send took ends exactly once.
 *
 * 1. Two Node-RED processes started on ONE user dir by mistake (two services, or a container and a
 *    manual `node-red -u` on the same volume): the embedded store has no owner, so both resume every
 *    stored outcome wait, and each msg ends twice.
 * 2b. The same with a page: the paused instance's step timer, once it runs again, must not text a
 *    contact the instance that took the page over has texted.
 * 3. Redis stalled (SIGSTOP of redis-server) for longer than the lease, every instance alive: when it
 *    is back, another instance takes a live instance's wait over while the live one still holds it.
 * 2. Several instances on Redis: an instance paused (SIGSTOP: a stalled VM, a debugger, a swapped-out
 *    host) past its lease has its waits taken over by another; when it runs again (SIGCONT) its own
 *    timers end those waits too, unfenced, so each msg ends twice.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const FROM = '+15017122661';
const recipientOf = (id: number) => `+1555555${3100 + (id % 10)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CREDENTIALS = { account: { accountSid: DEMO_ACCOUNT.sid, authToken: DEMO_ACCOUNT.authToken } };
/** Held back: each text stays at `sent`, so each wait is open until the test says otherwise. */
const heldBack = () => Object.fromEntries(Array.from({ length: 10 }, (_, i) => [recipientOf(i), { message: 'sent' as const }]));

async function until<T>(what: string, check: () => T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** settings.js: the flow's recorders append "<what> <id> <instance> <detail>" to `logFile`. */
const settingsFor = (logFile: string, name: string, extra = '') =>
  `functionGlobalContext: { fs: require('fs'), logFile: ${JSON.stringify(logFile)}, instance: ${JSON.stringify(name)} }, ${extra}`;

const logDirs: string[] = [];
/** A log file outside every user dir (both processes append to it). */
function newLogFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-22-'));
  logDirs.push(dir);
  return path.join(dir, 'ended.log');
}

const recorder = (id: string, what: string, detail: string) => ({
  id,
  type: 'function',
  z: 'tab',
  func: `global.get('fs').appendFileSync(global.get('logFile'), '${what} ' + msg.id + ' ' + global.get('instance') + ' ' + (${detail}) + '\\n');
return null;`,
  outputs: 0,
  wires: [],
});

function flows(baseUrl: string, outcomeTimeout: number, account: Record<string, unknown> = {}): object[] {
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
      baseUrl,
      ...account,
    },
    { id: 'in', type: 'http in', z: 'tab', url: '/go', method: 'post', wires: [['prep']] },
    {
      id: 'prep',
      type: 'function',
      z: 'tab',
      func: `msg.id = msg.payload.id; msg.to = msg.payload.to; msg.text = 'operator ' + msg.payload.id;
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
      to: 'to',
      toType: 'msg',
      body: 'text',
      bodyType: 'msg',
      waitFor: 'outcome',
      outcomeTimeout,
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

async function go(red: RedProcess, id: number): Promise<void> {
  const res = await fetch(`${red.url}/go`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id, to: recipientOf(id) }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

describe('two Node-RED processes on one user dir (embedded store)', { timeout: 120_000 }, () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: heldBack() });
  const reds: RedProcess[] = [];
  before(() => simulator.start());
  after(async () => {
    for (const red of reds) await red.kill();
    if (reds[0]) await reds[0].stop();
    await simulator.stop();
    for (const dir of logDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ends each stored outcome wait once, not once per process', async () => {
    const N = 5;
    const logFile = newLogFile();
    const first = await startRed(flows(simulator.url, 600), CREDENTIALS, settingsFor(logFile, 'first'));
    reds.push(first);
    for (let id = 0; id < N; id++) await go(first, id);
    const created = () => [...simulator.messages.values()].filter((m) => String(m.body).startsWith('operator '));
    await until('every text created', () => created().length === N);
    await sleep(1_000); // the Sids written to the waits' records
    await first.kill();
    for (const m of created()) Object.assign(m, { status: 'delivered' });

    // The operator starts Node-RED twice on the same user dir (a second service, another port).
    // (One after the other: each writes its own port into the dir's settings.js before it starts.)
    reds.push(await restartRed(first, settingsFor(logFile, 'second')));
    reds.push(await restartRed(first, settingsFor(logFile, 'third')));
    await until('every msg ended', () => endings(logFile).size === N);
    await sleep(3_000); // any second ending on its way
    const twice = [...endings(logFile)].filter(([, e]) => e.length !== 1);
    assert.deepEqual(twice, [], `msgs ended more than once: ${JSON.stringify(twice)}`);
  });
});

suiteNeeding(
  noRedis,
  'an instance paused past its lease on Redis',
  () => {
    const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: heldBack() });
    let redis: RedisServer;
    const reds: RedProcess[] = [];
    before(async () => {
      await simulator.start();
      redis = await startRedis();
    });
    after(async () => {
      for (const red of reds) {
        try {
          process.kill(red.pid, 'SIGCONT');
        } catch {
          // gone
        }
        await red.stop();
      }
      await redis?.stop();
      await simulator.stop();
      for (const dir of logDirs) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('does not end a wait another instance took over when it runs again', async () => {
      const LEASE = 3_000; // a lease a loaded CI machine keeps renewed (a shorter one lapses under load alone)
      const logFile = newLogFile();
      const account = { stateBackend: 'redis', redisUrl: redis.url };
      const lease = `twilio: { leaseMs: ${LEASE} },`;
      const a = await startRed(flows(simulator.url, 8, account), CREDENTIALS, settingsFor(logFile, 'A', lease));
      reds.push(a);
      const b = await startRed(flows(simulator.url, 8, account), CREDENTIALS, settingsFor(logFile, 'B', lease));
      reds.push(b);
      await go(a, 1);
      await until('the text created', () => [...simulator.messages.values()].some((m) => m.body === 'operator 1'));
      await sleep(500); // its record stored
      process.kill(a.pid, 'SIGSTOP');
      // B takes the wait over once A's lease is gone and ends it at its deadline (the text stays `sent`).
      await until(
        'B ends the wait',
        () =>
          endings(logFile)
            .get('1')
            ?.some((e) => e.endsWith('on B')),
        30_000,
      );
      process.kill(a.pid, 'SIGCONT');
      await sleep(4_000); // A runs its overdue timers
      assert.deepEqual(endings(logFile).get('1')?.length, 1, `msg 1 ended: ${JSON.stringify(endings(logFile).get('1'))}`);
    });

    it('does not text a page step twice when the paused instance runs again', async () => {
      const LEASE = 3_000; // a lease a loaded CI machine keeps renewed (a shorter one lapses under load alone)
      const logFile = newLogFile();
      const CONTACTS = ['+15555553501', '+15555553502', '+15555553503'];
      const pageFlows = (): object[] => [
        { id: 'tab', type: 'tab', label: 't' },
        {
          id: 'account',
          type: 'twilio-config',
          name: 'a',
          authMode: 'authToken',
          region: '',
          edge: '',
          defaultFrom: FROM,
          baseUrl: simulator.url,
          stateBackend: 'redis',
          redisUrl: redis.url,
        },
        { id: 'in', type: 'http in', z: 'tab', url: '/page', method: 'post', wires: [['prep']] },
        {
          id: 'prep',
          type: 'function',
          z: 'tab',
          func: `msg.id = 'p'; msg.topic = 'kitchen';
const reply = { req: msg.req, res: msg.res, payload: 'ok', statusCode: 200 };
delete msg.req; delete msg.res;
return [msg, reply];`,
          outputs: 2,
          wires: [['page'], ['reply']],
        },
        { id: 'reply', type: 'http response', z: 'tab', wires: [] },
        {
          id: 'page',
          type: 'twilio-page',
          z: 'tab',
          account: 'account',
          contacts: CONTACTS.map((n, i) => `P${i} ${n}`).join('\n'),
          contactsType: 'str',
          alert: 'Smoke {{topic}}',
          steps: [{ action: 'text', wait: 3 }],
          rounds: 1,
          ackKey: '1',
          ackWords: 'ack',
          wires: [['acked'], ['exhausted'], ['cancelled']],
        },
        recorder('acked', 'acked', "'-'"),
        recorder('exhausted', 'exhausted', "'-'"),
        recorder('cancelled', 'cancelled', "'-'"),
        { id: 'catcher', type: 'catch', z: 'tab', scope: ['page'], uncaught: false, wires: [['caught']] },
        recorder('caught', 'error', 'msg.error && msg.error.code'),
      ];
      const lease = `twilio: { leaseMs: ${LEASE} },`;
      const a = await startRed(pageFlows(), CREDENTIALS, settingsFor(logFile, 'A', lease));
      reds.push(a);
      const b = await startRed(pageFlows(), CREDENTIALS, settingsFor(logFile, 'B', lease));
      reds.push(b);
      const res = await fetch(`${a.url}/page`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const textsTo = (to: string) =>
        [...simulator.messages.values()].filter((m) => m.to === to && String(m.body).includes('Smoke')).length;
      await until('the first contact texted', () => textsTo(CONTACTS[0]) === 1);
      await sleep(500);
      process.kill(a.pid, 'SIGSTOP');
      // B takes the page over and runs it to its end (no one acknowledges).
      await until('the page ended', () => endings(logFile).get('p'), 40_000);
      process.kill(a.pid, 'SIGCONT');
      await sleep(5_000); // A runs its overdue timers
      const counts = CONTACTS.map(textsTo);
      assert.deepEqual(counts, [1, 1, 1], `texts per contact: ${counts.join(', ')}`);
      assert.equal(endings(logFile).get('p')?.length, 1, `the page ended: ${JSON.stringify(endings(logFile).get('p'))}`);
    });

    // With every lease lapsed at once, two instances took the wait from each other until the test gave
    // up: an instance without its own lease now takes nothing over, and an owner takes its lease back.
    it('ends a wait once when Redis stalls longer than the lease and comes back', async () => {
      const LEASE = 3_000; // a lease a loaded CI machine keeps renewed (a shorter one lapses under load alone)
      const logFile = newLogFile();
      const account = { stateBackend: 'redis', redisUrl: redis.url };
      const lease = `twilio: { leaseMs: ${LEASE} },`;
      const a = await startRed(flows(simulator.url, 10, account), CREDENTIALS, settingsFor(logFile, 'A', lease));
      reds.push(a);
      const b = await startRed(flows(simulator.url, 10, account), CREDENTIALS, settingsFor(logFile, 'B', lease));
      reds.push(b);
      await go(a, 2);
      await until('the text created', () => [...simulator.messages.values()].some((m) => m.body === 'operator 2'));
      await sleep(500); // its record stored
      // Redis stalls (a fork for a snapshot on a full disk, a VM migration): 3 leases long, every instance alive.
      const port = new URL(redis.url).port;
      const pid = Number(
        execFileSync('pgrep', ['-f', `redis-server 127.0.0.1:${port}`])
          .toString()
          .trim()
          .split('\n')[0],
      );
      process.kill(pid, 'SIGSTOP');
      await sleep(3 * LEASE);
      process.kill(pid, 'SIGCONT');
      await until('the wait ended', () => endings(logFile).get('2'), 30_000).catch((err: unknown) => {
        // Seen once under a loaded run (cause not known): what both instances said is the only witness.
        console.log(`# instance A:\n${a.log()}\n# instance B:\n${b.log()}`);
        throw err;
      });
      await sleep(4_000); // a second ending on its way
      assert.deepEqual(endings(logFile).get('2')?.length, 1, `msg 2 ended: ${JSON.stringify(endings(logFile).get('2'))}`);
    });
  },
  { timeout: 120_000 },
);
