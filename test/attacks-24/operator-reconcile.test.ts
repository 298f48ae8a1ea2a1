/**
 * Attack on reconcile after a crash (lib/outbound/reconcile.ts) with two instances on one Redis: two
 * identical alarms (same person, same text) go through twilio-send "wait for the outcome" on A; Twilio
 * is slow (1.5 s a create), and A is killed (kill -9) while both requests are out, their answers lost.
 * A is restarted at once while B, behind the same Redis, takes A's waits over once A's lease is gone:
 * two instances may reconcile the same intents at once. Promise: each msg ends once, delivered, and
 * nothing is sent again (two texts at Twilio, each claimed by one intent).
 * Seen before RECONCILE_SETTLE_MS: restarted at once, A looked at Twilio before Twilio made the texts;
 * both msgs ended NOT_SENT ("safe to send again") while both texts went (with the restart 3 s later,
 * both ended delivered). Now a look that finds nothing is believed only 10 s after the restarted node
 * began looking: A looks again then and finds both texts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep } from '../support/assertions';
import { CREDENTIALS } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const FROM = '+15017122661';
const TO = '+15555553601';
const LEASE = 3_000;

const recorder = (id: string, what: string, detail: string) => ({
  id,
  type: 'function',
  z: 'tab',
  func: `global.get('fs').appendFileSync(global.get('logFile'), '${what} ' + msg.id + ' ' + global.get('instance') + ' ' + (${detail}) + '\\n');
return null;`,
  outputs: 0,
  wires: [],
});

function flows(simulatorUrl: string, redisUrl: string): object[] {
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
    { id: 'in', type: 'http in', z: 'tab', url: '/go', method: 'post', wires: [['prep']] },
    {
      id: 'prep',
      type: 'function',
      z: 'tab',
      func: `msg.id = msg.payload.id;
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
      body: 'Smoke alarm in the garage',
      bodyType: 'str',
      waitFor: 'outcome',
      outcomeTimeout: 60,
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

suiteNeeding(
  noRedis,
  'two identical alarms, kill -9 with both requests out, two instances reconciling',
  () => {
    const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: { [TO]: { message: 'delivered' as const } } });
    let redis: RedisServer;
    let dir: string;
    const reds: RedProcess[] = [];
    before(async () => {
      await simulator.start();
      redis = await startRedis();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-24-reconcile-'));
    });
    after(async () => {
      for (const red of reds) await red.stop();
      await redis?.stop();
      await simulator.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('ends each msg once, delivered, and sends nothing again', async () => {
      const logFile = path.join(dir, 'ended.log');
      const settings = (name: string) =>
        `functionGlobalContext: { fs: require('fs'), logFile: ${JSON.stringify(logFile)}, instance: '${name}' }, twilio: { leaseMs: ${LEASE} },`;
      const a = await startRed(flows(simulator.url, redis.url), CREDENTIALS, settings('A'));
      reds.push(a);
      const b = await startRed(flows(simulator.url, redis.url), CREDENTIALS, settings('B'));
      reds.push(b);
      simulator.latencyMs = 1_500;
      const arrived = simulator.stats.requests;
      for (const id of ['x', 'y']) {
        const res = await fetch(`${a.url}/go`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ id }),
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      // A's first sends look at Twilio's clock first (one request), then both creates go.
      const deadline0 = Date.now() + 20_000;
      while (simulator.stats.requests < arrived + 3 && Date.now() < deadline0) await sleep(20);
      assert.equal(simulator.stats.requests, arrived + 3, 'the look at the clock and both creates reached Twilio');
      await sleep(300); // both requests at Twilio, neither answered
      await a.kill();
      simulator.latencyMs = 0;
      if (process.env.ATK_RESTART_DELAY) await sleep(Number(process.env.ATK_RESTART_DELAY));
      reds.push(await restartRed(a, settings('A2')));
      const endings = () => {
        const byId = new Map<string, string[]>();
        for (const line of fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n') : []) {
          if (!line) continue;
          const [what, id, instance, detail] = line.split(' ');
          byId.set(id, [...(byId.get(id) ?? []), `${what} ${detail} on ${instance}`]);
        }
        return byId;
      };
      const deadline = Date.now() + 60_000;
      while (!(endings().has('x') && endings().has('y')) && Date.now() < deadline) await sleep(100);
      await sleep(4_000); // a second ending, a text sent again, on its way
      const texts = [...simulator.messages.values()].filter((m) => m.to === TO).length;
      const report = `${JSON.stringify([...endings()])}; ${texts} texts at Twilio`;
      console.log(`# ${report}`);
      assert.deepEqual(
        endings()
          .get('x')
          ?.map((e) => e.split(' on ')[0]),
        ['out1 delivered'],
        report,
      );
      assert.deepEqual(
        endings()
          .get('y')
          ?.map((e) => e.split(' on ')[0]),
        ['out1 delivered'],
        report,
      );
      assert.equal(texts, 2, report);
    });
  },
  { timeout: 180_000 },
);
