/**
 * Three real red.js processes on one Redis (the account node's "Shared state: Redis") behind a
 * round-robin HTTP proxy without sticky sessions, as FlowFuse's HA mode runs them; the simulator in
 * this process plays Twilio. Leases are short here (settings.js `twilio: { leaseMs: 3000 }`): a dead
 * instance's work is taken over within about that.
 * Promises: one poller per account and number (each inbound text emitted once across instances);
 * outcome waits end once, those of a killed instance on another within the lease; a page whose
 * instance is killed mid-page goes on elsewhere, no step sent twice; Redis stopped and started again
 * on its port (its AOF kept) loses nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { deliverWebhook } from '../../simulator/webhooks';
import { Redis } from 'ioredis';
import { CREDENTIALS, TAB, accountConfig } from '../support/flows';
import { startProxy, type RoundRobinProxy } from '../support/proxy';
import { type RedProcess, restartRed, startRed } from '../support/red-process';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';

const HOUSE = '+15017122661';
const ANSWERS = '+15555550100';
/** Texts back "Yes!" 1.5 s after a text reaches them. */
const SAYS_YES = '+15555550110';
/** Read texts, never answer: a page to them runs to its end. */
const SILENT = ['+15555550113', '+15555550100', '+15555550104'];
const LEASE_MS = 3_000;
let debugLog = () => '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => T | undefined | false, ms = 15_000, refresh?: () => Promise<void>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    await refresh?.();
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${process.env.SEVERAL_DEBUG ? `\n${debugLog()}` : ''}`);
    await sleep(50);
  }
}

suiteNeeding(
  noRedis,
  'several Node-RED instances on one Redis, behind a round-robin proxy',
  () => {
    const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
    const aof = fs.mkdtempSync(path.join(os.tmpdir(), 'several-redis-'));
    const redisArgs = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', aof];
    let redis: RedisServer;
    let port = '';
    let proxy: RoundRobinProxy;
    const reds: RedProcess[] = [];
    /** Every log line of every process this suite started (a killed one's included). */
    const retired: string[] = [];
    const settings = (name: string) => `twilio: { leaseMs: ${LEASE_MS} }, functionGlobalContext: { instance: '${name}' },`;

    const fn = (id: string, func: string, wires: string[][] = []) => ({
      id,
      type: 'function',
      z: 'tab',
      func,
      outputs: 1,
      noerr: 0,
      libs: [],
      wires,
    });
    const httpIn = (id: string, url: string, next: string) => [
      { id, type: 'http in', z: 'tab', url, method: 'post', upload: false, wires: [[`${id}-tag`]] },
      fn(`${id}-tag`, `msg.topic = String(msg.payload.tag); msg.payload = 'Test ' + msg.topic; return msg;`, [[next, `${id}-res`]]),
      {
        id: `${id}-res`,
        type: 'function',
        z: 'tab',
        func: `msg.payload = global.get('instance'); return msg;`,
        outputs: 1,
        noerr: 0,
        libs: [],
        wires: [[`${id}-ok`]],
      },
      { id: `${id}-ok`, type: 'http response', z: 'tab', statusCode: '', headers: {}, wires: [] },
    ];
    /** The host the proxy answers at: webhooks are signed for its URL (the node's "hosts" setting names it). */
    let proxyHost = '';
    const flows = () => [
      TAB,
      accountConfig(simulator.url, { name: 'shared', stateBackend: 'redis', redisUrl: redis.url }),
      {
        id: 'poller',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        receive: 'poll',
        pollNumber: HOUSE,
        pollInterval: 1,
        wires: [['log-in']],
      },
      fn('log-in', `node.log('OUT in ' + msg.payload.MessageSid); return null;`),
      {
        id: 'hook',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        path: '/twilio/sms',
        validate: true,
        reply: 'auto',
        hosts: proxyHost,
        wires: [['log-hook']],
      },
      fn('log-hook', `node.log('OUT in ' + msg.payload.MessageSid); return null;`),
      ...httpIn('send-in', '/send', 'send'),
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: ANSWERS,
        toType: 'str',
        body: 'payload',
        bodyType: 'msg',
        waitFor: 'outcome',
        outcomeTimeout: 120,
        wires: [['log-send']],
      },
      fn('log-send', `node.log('OUT send ' + msg.topic); return null;`),
      // A send that ends with an error (STATE_UNAVAILABLE while Redis is down, say) says so, instead of never ending in a test.
      { id: 'catch-send', type: 'catch', z: 'tab', scope: ['send'], uncaught: false, wires: [['log-send-failed']] },
      fn('log-send-failed', `node.log('OUT failed ' + msg.topic + ' ' + (msg.error && msg.error.code)); return null;`),
      ...httpIn('page-in', '/page', 'page'),
      {
        id: 'page',
        type: 'twilio-page',
        z: 'tab',
        account: 'account',
        contacts: SILENT.map((n, i) => `P${i} ${n}`).join('\n'),
        contactsType: 'str',
        alert: 'Smoke {{topic}}',
        steps: [{ action: 'text', wait: 5 }],
        rounds: 1,
        ackKey: '1',
        ackWords: 'ack',
        wires: [['log-ack'], ['log-exhausted'], ['log-cancelled']],
      },
      fn('log-ack', `node.log('OUT page acknowledged ' + msg.topic); return null;`),
      fn('log-exhausted', `node.log('OUT page exhausted ' + msg.topic); return null;`),
      fn('log-cancelled', `node.log('OUT page cancelled ' + msg.topic); return null;`),
      ...httpIn('ask-in', '/ask', 'ask'),
      {
        id: 'ask',
        type: 'twilio-ask',
        z: 'tab',
        account: 'account',
        to: SAYS_YES,
        toType: 'str',
        from: HOUSE,
        fromType: 'str',
        body: 'Leave the heating on?',
        bodyType: 'str',
        answers: [{ type: 'words', value: 'yes, y', label: 'yes' }],
        timeout: 120,
        mode: 'each',
        outputs: 5,
        wires: ['yes', 'else', 'noReply', 'notDelivered', 'extra'].map((port) => [`log-ask-${port}`]),
      },
      ...['yes', 'else', 'noReply', 'notDelivered', 'extra'].map((port) =>
        fn(`log-ask-${port}`, `node.log('OUT ask ${port} ' + msg.topic + ' on ' + global.get('instance')); return null;`),
      ),
    ];

    /** The OUT lines of every process so far: what the flows emitted, across instances. */
    const outputs = (prefix: string): string[] =>
      [...retired, ...alive().flatMap((r) => r.log().split('\n'))]
        .map((line) => /\bOUT (.*)$/.exec(line)?.[1])
        .filter((out): out is string => out !== undefined && out.startsWith(prefix))
        .map((out) => out.slice(prefix.length).trim());
    const counts = (values: string[]) => values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<string, number>());

    async function post(route: string, tag: string): Promise<string> {
      const answer = await fetch(`${proxy.url}${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tag }),
      });
      assert.equal(answer.status, 200, `${route} ${tag}`);
      return answer.text();
    }

    /** Kills instance `index` (SIGKILL): out of the proxy's targets, its log kept. */
    async function kill(index: number): Promise<RedProcess> {
      const killed = reds[index];
      proxy.targets = proxy.targets.filter((t) => t !== killed.url);
      await killed.kill();
      retired.push(...killed.log().split('\n'));
      return killed;
    }
    /** Starts a killed instance again on its user dir (a new process: a new instance), behind the proxy. */
    async function restart(index: number, killed: RedProcess): Promise<void> {
      const again = await restartRed(killed, settings(`r${index}`));
      reds[index] = again;
      proxy.targets.push(again.url);
    }
    const alive = () => reds.filter((r) => r.alive());

    // SEVERAL_DEBUG=1: a timed-out wait prints every live instance's log.
    debugLog = () =>
      alive()
        .map((r) => `--- ${r.url}\n${r.log()}`)
        .join('\n');
    before(async () => {
      redis = await startRedis(redisArgs);
      port = new URL(redis.url).port;
      await simulator.start();
      proxy = await startProxy([]);
      proxyHost = new URL(proxy.url).host;
      const started = await Promise.all([0, 1, 2].map((i) => startRed(flows(), CREDENTIALS, settings(`r${i}`))));
      reds.push(...started);
      proxy.targets.push(...reds.map((r) => r.url));
    });
    after(async () => {
      await proxy?.close();
      await Promise.all(reds.map((r) => r.stop()));
      await simulator.stop();
      await redis?.stop();
      fs.rmSync(aof, { recursive: true, force: true });
    });

    it('polling: one poller for the account and number, each inbound text emitted once across the instances', async () => {
      const looks = () => simulator.requests.filter((r) => r.method === 'GET' && /\/Messages\.json$/.test(r.path)).length;
      await sleep(1_500);
      const before = looks();
      const since = Date.now();
      await sleep(3_000);
      const perSecond = (looks() - before) / ((Date.now() - since) / 1000);
      console.log(`# polling with 3 instances, interval 1 s: ${perSecond.toFixed(2)} message list requests a second`);
      assert.ok(perSecond >= 0.5 && perSecond <= 1.7, `one poller looks about once a second, not three (${perSecond.toFixed(2)} looks/s)`);
      const sids: string[] = [];
      for (let i = 0; i < 10; i++) sids.push((await simulator.receiveMessage({ from: ANSWERS, to: HOUSE, body: `in ${i}` })).sid);
      await until('every text emitted', () => sids.every((sid) => outputs('in').includes(sid)));
      await sleep(2_500);
      const seen = counts(outputs('in'));
      for (const sid of sids) assert.equal(seen.get(sid), 1, `${sid} emitted once`);
    });

    it('outcome waits end once; those of a killed instance end on another within the lease', async () => {
      simulator.statusCallbackDelayMs = 1_200;
      const tags = Array.from({ length: 9 }, (_, i) => `s${i}`);
      let storedWaits = 0;
      const holders = await Promise.all(tags.map((tag) => post('/send', tag)));
      const victim = Number(holders[0].slice(1));
      assert.equal(new Set(holders).size, 3, 'the proxy spread the sends over the three instances');
      await until(
        '9 texts created',
        () => [...simulator.messages.values()].filter((m) => /^Test s\d$/.test(String(m.body))).length >= 9 || undefined,
      );
      // Each wait stored (in Redis) before the kill: a send whose wait was not stored yet is the crash
      // window the send side's intents close (wt-send), not what this test is about.
      const stored = new Redis(redis.url);
      try {
        await until(
          '9 waits stored',
          () => storedWaits >= 9 || undefined,
          10_000,
          async () => {
            storedWaits = (await stored.zrangebylex('nr-twilio:keys', '[node/send/', '[node/send/\xff')).length;
          },
        );
      } finally {
        stored.disconnect();
      }
      const killedAt = Date.now();
      const killed = await kill(victim);
      // A status callback that came while Redis was down was answered 503 (Twilio does not send it again):
      // its wait learns the outcome from its own look, 30 s after the create when callbacks are on.
      await until('every wait ended', () => tags.every((tag) => outputs('send').includes(tag)), 45_000);
      const took = Date.now() - killedAt;
      await sleep(1_500);
      const ended = counts(outputs('send'));
      for (const tag of tags) assert.equal(ended.get(tag), 1, `${tag} ended once`);
      assert.ok(took < LEASE_MS * 2 + 10_000, `taken over and ended ${took} ms after the kill`);
      console.log(`# outcome waits: all 9 ended once, the last ${took} ms after an instance holding 3 was killed (lease ${LEASE_MS} ms)`);
      simulator.statusCallbackDelayMs = 20;
      await restart(victim, killed);
    });

    it('a page whose instance is killed mid-page goes on elsewhere, no step sent twice', async () => {
      const texts = () => [...simulator.messages.values()].filter((m) => String(m.body).includes('Smoke p1'));
      const holder = Number((await post('/page', 'p1')).slice(1));
      await until('the first step sent', () => texts().length >= 1 || undefined);
      await sleep(300);
      const killedAt = Date.now();
      const killed = await kill(holder);
      await until('the next step, from another instance', () => texts().length >= 2 || undefined, 15_000);
      const nextStepIn = Date.now() - killedAt;
      await until('the page ends', () => outputs('page').length > 0 || undefined, 30_000);
      await sleep(1_500);
      assert.deepEqual(outputs('page'), ['exhausted p1'], 'the page ends once, exhausted');
      const survivors = alive().filter((r) => /OUT page exhausted p1/.test(r.log()));
      assert.equal(survivors.length, 1, 'on one of the live instances');
      assert.match(survivors[0].log(), /waits taken over from a Node-RED instance that stopped: 1/);
      const to = texts().map((m) => String(m.to));
      assert.deepEqual(counts(to), new Map(SILENT.map((n) => [n, 1])), 'each step sent once');
      // The step was due 5 s after the first: taken over within the lease, it went on no later than that allows.
      assert.ok(nextStepIn < 5_000 + LEASE_MS + 2_000, `next step ${nextStepIn} ms after the kill`);
      console.log(`# page: next step sent ${nextStepIn} ms after its instance was killed (lease ${LEASE_MS} ms, step wait 5 s)`);
      await restart(holder, killed);
    });

    it('Redis stopped and started again on its port: nothing lost', async () => {
      simulator.statusCallbackDelayMs = 800;
      const tags = ['r0', 'r1', 'r2'];
      await Promise.all(tags.map((tag) => post('/send', tag)));
      // Each wait committed before Redis stops (its intent is stored before its text is created): a send
      // that meets the outage before that is refused with STATE_UNAVAILABLE, which is not what this is about.
      await until(
        '3 texts created',
        () => [...simulator.messages.values()].filter((m) => /^Test r\d$/.test(String(m.body))).length >= 3 || undefined,
      );
      const sids = [(await simulator.receiveMessage({ from: ANSWERS, to: HOUSE, body: 'before' })).sid];
      await redis.stop();
      for (let i = 0; i < 3; i++) sids.push((await simulator.receiveMessage({ from: ANSWERS, to: HOUSE, body: `while down ${i}` })).sid);
      // A send that meets the outage: refused (STATE_UNAVAILABLE, nothing sent) unless Redis is back before its intent gives up.
      await post('/send', 'rx');
      await sleep(1_000);
      redis = await startRedis([...redisArgs, '--port', port]);
      await until('every text emitted', () => sids.every((sid) => outputs('in').includes(sid)), 20_000);
      // A status callback that came while Redis was down was answered 503 (Twilio does not send it again):
      // its wait learns the outcome from its own look, 30 s after the create when callbacks are on, or 2 s
      // after another instance took it over (an outage longer than the lease ends every presence).
      const failed = () => outputs('failed').filter((f) => !f.startsWith('rx '));
      await until(
        'every wait ended',
        () => {
          assert.deepEqual(failed(), [], 'no send committed before the outage ended with an error');
          return (
            tags.every((tag) => outputs('send').includes(tag)) &&
            (outputs('send').includes('rx') || outputs('failed').some((f) => f.startsWith('rx ')))
          );
        },
        95_000,
      );
      await sleep(2_000);
      const rx = [...outputs('send').filter((t) => t === 'rx'), ...outputs('failed').filter((f) => f.startsWith('rx '))];
      const rxTexts = [...simulator.messages.values()].filter((m) => String(m.body) === 'Test rx').length;
      console.log(
        `# Redis restart: the send during the outage ${rx[0] === 'rx' ? 'went once (Redis was back in time)' : 'was refused once'}`,
      );
      if (rx[0] === 'rx') assert.deepEqual([rx, rxTexts], [['rx'], 1], 'the send during the outage went once, and ended once');
      else assert.deepEqual([rx, rxTexts], [['rx STATE_UNAVAILABLE'], 0], 'the send during the outage was refused once, nothing sent');
      const seen = counts(outputs('in'));
      for (const sid of sids) assert.equal(seen.get(sid), 1, `${sid} emitted once`);
      const ended = counts(outputs('send'));
      for (const tag of tags) assert.equal(ended.get(tag), 1, `${tag} ended once`);
      simulator.statusCallbackDelayMs = 20;
    });

    it('webhook: a text Twilio delivers to one instance, again to another (its retry) and once more (a replay with a fresh token), that a poll lists too, is emitted once', async () => {
      const sids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const arrival = await simulator.receiveMessage({ from: ANSWERS, to: HOUSE, body: `hook ${i}` }, { url: `${proxy.url}/twilio/sms` });
        assert.equal(arrival.delivery?.status, 200, 'the first delivery taken');
        const { url, params, idempotencyToken } = arrival.delivery!;
        // A retry that lands while the first delivery is still being handed on is asked to come back (503),
        // as Twilio does: then it is a duplicate.
        let retry = await deliverWebhook(url, params, { authToken: DEMO_ACCOUNT.authToken, idempotencyToken });
        for (let wait = 200; retry.status === 503 && wait <= 3_200; wait *= 2) {
          await sleep(wait);
          retry = await deliverWebhook(url, params, { authToken: DEMO_ACCOUNT.authToken, idempotencyToken });
        }
        const replay = await deliverWebhook(url, params, { authToken: DEMO_ACCOUNT.authToken });
        assert.ok(retry.status! < 500 && replay.status! < 500, `answered (${retry.status}, ${replay.status})`);
        sids.push(arrival.sid);
      }
      await until('every text emitted', () => sids.every((sid) => outputs('in').includes(sid)));
      await sleep(2_500);
      const seen = counts(outputs('in'));
      for (const sid of sids) assert.equal(seen.get(sid), 1, `${sid} emitted once, by webhook or by poll, on one instance`);
    });
    it('a question asked on one instance is answered by a webhook landing on another', async () => {
      // Twilio now calls the proxy for texts to the house number: the reply lands on the next instance in turn.
      const numbers = (await (await fetch(`${simulator.url}/_sim/incomingPhoneNumbers`)).json()) as Array<{
        sid: string;
        phone_number: string;
      }>;
      const house = numbers.find((n) => n.phone_number === HOUSE)!;
      const auth = `Basic ${Buffer.from(`${DEMO_ACCOUNT.sid}:${DEMO_ACCOUNT.authToken}`).toString('base64')}`;
      const updated = await fetch(`${simulator.url}/2010-04-01/Accounts/${DEMO_ACCOUNT.sid}/IncomingPhoneNumbers/${house.sid}.json`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SmsUrl: `${proxy.url}/twilio/sms` }).toString(),
      });
      assert.equal(updated.status, 200);
      const asked = proxy.log.length;
      const holder = await post('/ask', 'q1');
      await until('the answer', () => outputs('ask').length > 0 || undefined, 20_000);
      await sleep(2_000);
      assert.deepEqual(outputs('ask'), [`yes q1 on ${holder}`], 'answered once, on the instance that asked');
      const askedOn = proxy.log[asked].target;
      const hooks = proxy.log.slice(asked + 1).filter((r) => r.path.startsWith('/twilio/sms'));
      assert.ok(hooks.length >= 1, 'the reply came by webhook');
      assert.ok(
        hooks.every((r) => r.target !== askedOn),
        'and landed on another instance',
      );
    });
  },
  { timeout: 240_000 },
);
