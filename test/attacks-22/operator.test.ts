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
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually, sleep } from '../support/assertions';
import {
  CREDENTIALS,
  TAB,
  accountConfig,
  endings,
  httpTrigger,
  logFiles,
  outcomeFlow,
  postJson,
  recorder,
  recorderSettings,
} from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const recipientOf = (id: number) => `+1555555${3100 + (id % 10)}`;
/** Held back: each text stays at `sent`, so each wait is open until the test says otherwise. */
const heldBack = () => Object.fromEntries(Array.from({ length: 10 }, (_, i) => [recipientOf(i), { message: 'sent' as const }]));

/** settings.js: the flow's recorders append "<what> <id> <instance> <detail>" to `logFile`. */
const settingsFor = (logFile: string, name: string, extra = '') => recorderSettings({ logFile, instance: name }, extra);

/** Log files outside every user dir (both processes append to one). */
const logs = logFiles();

const flows = (baseUrl: string, outcomeTimeout: number, account: Record<string, unknown> = {}): object[] =>
  outcomeFlow(baseUrl, `msg.id = msg.payload.id; msg.to = msg.payload.to; msg.text = 'operator ' + msg.payload.id;`, {
    account,
    send: { outcomeTimeout },
  });

const go = (red: RedProcess, id: number) => postJson(`${red.url}/go`, { id, to: recipientOf(id) });

describe('two Node-RED processes on one user dir (embedded store)', { timeout: 120_000 }, () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: heldBack() });
  const reds: RedProcess[] = [];
  before(() => simulator.start());
  after(async () => {
    for (const red of reds) await red.kill();
    if (reds[0]) await reds[0].stop();
    await simulator.stop();
    logs.remove();
  });

  it('ends each stored outcome wait once, not once per process', async () => {
    const N = 5;
    const logFile = logs.next();
    const first = await startRed(flows(simulator.url, 600), CREDENTIALS, settingsFor(logFile, 'first'));
    reds.push(first);
    for (let id = 0; id < N; id++) await go(first, id);
    const created = () => [...simulator.messages.values()].filter((m) => String(m.body).startsWith('operator '));
    await eventually('every text created', () => created().length === N);
    await sleep(1_000); // the Sids written to the waits' records
    await first.kill();
    for (const m of created()) Object.assign(m, { status: 'delivered' });

    // The operator starts Node-RED twice on the same user dir (a second service, another port).
    // (One after the other: each writes its own port into the dir's settings.js before it starts.)
    reds.push(await restartRed(first, settingsFor(logFile, 'second')));
    reds.push(await restartRed(first, settingsFor(logFile, 'third')));
    await eventually('every msg ended', () => endings(logFile).size === N);
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
    const LEASE = 3_000; // a lease a loaded CI machine keeps renewed (a shorter one lapses under load alone)
    /** Instances A and B of `flows` (on Redis), with that lease, recording to `logFile`. */
    async function startAB(flows: object[], logFile: string): Promise<RedProcess[]> {
      const lease = `twilio: { leaseMs: ${LEASE} },`;
      for (const name of ['A', 'B']) reds.push(await startRed(flows, CREDENTIALS, settingsFor(logFile, name, lease)));
      return reds.slice(-2);
    }
    before(() => simulator.start());
    // Each test on a Redis of its own, its instances stopped after it: the same flows left running on
    // one Redis would take the next test's waits over and end them into the last test's log.
    beforeEach(async () => {
      redis = await startRedis();
    });
    afterEach(async () => {
      for (const red of reds.splice(0)) {
        try {
          process.kill(red.pid, 'SIGCONT');
        } catch {
          // gone
        }
        await red.stop();
      }
      await redis?.stop();
    });
    after(async () => {
      await simulator.stop();
      logs.remove();
    });

    it('does not end a wait another instance took over when it runs again', async () => {
      const logFile = logs.next();
      const account = { stateBackend: 'redis', redisUrl: redis.url };
      const [a] = await startAB(flows(simulator.url, 8, account), logFile);
      await go(a, 1);
      await eventually('the text created', () => [...simulator.messages.values()].some((m) => m.body === 'operator 1'));
      await sleep(500); // its record stored
      process.kill(a.pid, 'SIGSTOP');
      // B takes the wait over once A's lease is gone and ends it at its deadline (the text stays `sent`).
      await eventually(
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
      const logFile = logs.next();
      const CONTACTS = ['+15555553501', '+15555553502', '+15555553503'];
      const pageFlows = (): object[] => [
        TAB,
        accountConfig(simulator.url, { stateBackend: 'redis', redisUrl: redis.url }),
        ...httpTrigger('/page', `msg.id = 'p'; msg.topic = 'kitchen';`, 'page'),
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
      const [a] = await startAB(pageFlows(), logFile);
      await postJson(`${a.url}/page`, {});
      const textsTo = (to: string) =>
        [...simulator.messages.values()].filter((m) => m.to === to && String(m.body).includes('Smoke')).length;
      await eventually('the first contact texted', () => textsTo(CONTACTS[0]) === 1);
      await sleep(500);
      process.kill(a.pid, 'SIGSTOP');
      // B takes the page over and runs it to its end (no one acknowledges).
      await eventually('the page ended', () => endings(logFile).get('p'), 40_000);
      process.kill(a.pid, 'SIGCONT');
      await sleep(5_000); // A runs its overdue timers
      const counts = CONTACTS.map(textsTo);
      assert.deepEqual(counts, [1, 1, 1], `texts per contact: ${counts.join(', ')}`);
      assert.equal(endings(logFile).get('p')?.length, 1, `the page ended: ${JSON.stringify(endings(logFile).get('p'))}`);
    });

    // With every lease lapsed at once, two instances took the wait from each other until the test gave
    // up: an instance without its own lease now takes nothing over, and an owner takes its lease back.
    it('ends a wait once when Redis stalls longer than the lease and comes back', async () => {
      const logFile = logs.next();
      const account = { stateBackend: 'redis', redisUrl: redis.url };
      const [a, b] = await startAB(flows(simulator.url, 10, account), logFile);
      await go(a, 2);
      await eventually('the text created', () => [...simulator.messages.values()].some((m) => m.body === 'operator 2'));
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
      await eventually('the wait ended', () => endings(logFile).get('2'), 30_000).catch((err: unknown) => {
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
