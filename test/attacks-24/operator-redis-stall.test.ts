/**
 * Attack on several instances (lib/state/instance.ts) as an unlucky operator's Redis behaves: two
 * Node-RED share one redis-server, each holds outcome waits and a page, and Redis stalls (SIGSTOP of
 * redis-server: a fork for a snapshot on a full disk, a VM migration) for three leases, twice. When it
 * is back, nothing ends twice or never: each wait's msg ends once, each page texts each contact once
 * and ends once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually, sleep } from '../support/assertions';
import { CREDENTIALS } from '../support/flows';
import { RedProcess, startRed } from '../support/red-process';
import { noRedis, redisPidOf, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const FROM = '+15017122661';
const LEASE = 3_000;
const WAITERS = Array.from({ length: 6 }, (_, i) => `+1555555${3800 + i}`);
const CONTACTS = Array.from({ length: 3 }, (_, i) => `+1555555${3900 + i}`);

/** eventually(), with this file's longer patience (whole Node-RED processes through Redis stalls). */
const until = <T>(what: string, check: () => T | undefined | false, ms = 60_000): Promise<T> => eventually(what, check, ms);

const recorder = (id: string, what: string) => ({
  id,
  type: 'function',
  z: 'tab',
  func: `global.get('fs').appendFileSync(global.get('logFile'), '${what} ' + msg.id + ' ' + global.get('instance') + ' ' + (msg.error ? msg.error.code : '-') + '\\n');
return null;`,
  outputs: 0,
  wires: [],
});

function flows(simulatorUrl: string, redisUrl: string): object[] {
  const entry = (id: string, url: string, target: string, func: string) => [
    { id: `${id}-in`, type: 'http in', z: 'tab', url, method: 'post', wires: [[`${id}-prep`]] },
    {
      id: `${id}-prep`,
      type: 'function',
      z: 'tab',
      func: `${func}
const reply = { req: msg.req, res: msg.res, payload: 'ok', statusCode: 200 };
delete msg.req; delete msg.res;
return [msg, reply];`,
      outputs: 2,
      wires: [[target], ['reply']],
    },
  ];
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
      stateBackend: 'redis',
      redisUrl,
    },
    ...entry('go', '/go', 'send', `msg.id = msg.payload.id; msg.to = msg.payload.to; msg.text = 'stall ' + msg.payload.id;`),
    ...entry('page', '/page', 'page', `msg.id = msg.payload.id; msg.topic = msg.payload.id;`),
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
      outcomeTimeout: 25,
      failureOutput: true,
      outputs: 2,
      wires: [['send-out'], ['send-out']],
    },
    {
      id: 'page',
      type: 'twilio-page',
      z: 'tab',
      account: 'account',
      contacts: CONTACTS.map((n, i) => `P${i} ${n}`).join('\n'),
      contactsType: 'str',
      alert: 'Smoke {{topic}}',
      steps: [{ action: 'text', wait: 6 }],
      rounds: 1,
      wires: [['page-out'], ['page-out'], ['page-out']],
    },
    recorder('send-out', 'send'),
    recorder('page-out', 'page'),
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['send', 'page'], uncaught: false, wires: [['caught']] },
    recorder('caught', 'error'),
  ];
}

suiteNeeding(
  noRedis,
  'Redis stalls twice for three leases under two instances with waits and pages',
  () => {
    const simulator = new TwilioSimulator({
      accounts: [DEMO_ACCOUNT],
      // Texts held at `sent`: each wait is open until its deadline; the page's contacts never answer.
      people: Object.fromEntries([...WAITERS, ...CONTACTS].map((n) => [n, { message: 'sent' as const }])),
    });
    let redis: RedisServer;
    let dir: string;
    const reds: RedProcess[] = [];
    let redisPid = 0;
    before(async () => {
      await simulator.start();
      redis = await startRedis();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-24-stall-'));
      redisPid = redisPidOf(redis.url);
    });
    after(async () => {
      try {
        process.kill(redisPid, 'SIGCONT');
      } catch {
        // gone
      }
      for (const red of reds) await red.stop();
      await redis?.stop();
      await simulator.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('ends every wait and page once, and texts each page contact once', async () => {
      const logFile = path.join(dir, 'ended.log');
      const settings = (name: string) =>
        `functionGlobalContext: { fs: require('fs'), logFile: ${JSON.stringify(logFile)}, instance: '${name}' }, twilio: { leaseMs: ${LEASE} },`;
      const a = await startRed(flows(simulator.url, redis.url), CREDENTIALS, settings('A'));
      reds.push(a);
      const b = await startRed(flows(simulator.url, redis.url), CREDENTIALS, settings('B'));
      reds.push(b);
      const post = async (red: RedProcess, route: string, body: object) => {
        const res = await fetch(`${red.url}${route}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      };
      for (const [i, to] of WAITERS.entries()) await post(i % 2 ? b : a, '/go', { id: `w${i}`, to });
      await post(a, '/page', { id: 'pA' });
      await post(b, '/page', { id: 'pB' });
      const texts = (prefix: string, to: string) =>
        [...simulator.messages.values()].filter((m) => m.to === to && String(m.body).startsWith(prefix)).length;
      await until('every wait sent', () => WAITERS.every((to, i) => texts(`stall w${i}`, to) === 1));
      await sleep(500);
      for (let stall = 0; stall < 2; stall++) {
        process.kill(redisPid, 'SIGSTOP');
        await sleep(3 * LEASE);
        process.kill(redisPid, 'SIGCONT');
        await sleep(2 * LEASE);
      }
      const endings = () => {
        const byId = new Map<string, string[]>();
        for (const line of fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n') : []) {
          if (!line) continue;
          const [what, id, instance, code] = line.split(' ');
          byId.set(id, [...(byId.get(id) ?? []), `${what} ${code} on ${instance}`]);
        }
        return byId;
      };
      const ids = [...WAITERS.map((_, i) => `w${i}`), 'pA', 'pB'];
      await until('everything ended', () => ids.every((id) => endings().has(id)), 90_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify([...endings()])}\n# A:\n${a.log().slice(-3000)}\n# B:\n${b.log().slice(-3000)}`);
      });
      await sleep(4_000); // a second ending on its way
      const wrong = [...endings()].filter(([, e]) => e.length !== 1);
      assert.deepEqual(wrong, [], `ended more than once: ${JSON.stringify(wrong)}`);
      const perContact = ['pA', 'pB'].map((id) => CONTACTS.map((to) => texts(`Smoke ${id}`, to)));
      assert.deepEqual(perContact, [
        [1, 1, 1],
        [1, 1, 1],
      ]);
    });
  },
  { timeout: 240_000 },
);
