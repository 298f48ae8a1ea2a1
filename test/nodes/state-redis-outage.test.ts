/**
 * Redis down or unreachable (issue #22, part 5), with a real redis-server stopped mid-run and started
 * again on the same port: the nodes that keep state say so in their status; a send that does not wait
 * still goes; a msg that would have to wait is refused as STATE_UNAVAILABLE before anything is sent;
 * a wait held before the outage keeps its record and ends normally after it; the account logs ONE
 * line when Redis goes and one when it returns; nothing crashes. Redis here keeps an append-only file
 * (fsync always), so what it had survives its restart, as a production Redis configured so would.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import { Redis } from 'ioredis';
import { until as untilWithin } from '../support/assertions';
import { FlowNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../support/redis';
import { untilTicking, useManualClock } from '../support/ticking';

const ANSWERS = '+15555550100';
const until = (check: () => boolean, what: string, ms = 20_000) => untilWithin(check, what, ms);

suiteNeeding(
  noRedis,
  'Redis down and back',
  () => {
    const { simulator } = useRuntime();
    const time = useManualClock();
    let dir: string;
    let server: RedisServer | undefined;
    let port: string;
    /** AOF with fsync at each write: a record Redis acknowledged is in its file when it stops. */
    const durable = () => ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];

    beforeEach(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-redis-outage-'));
      server = await startRedis(durable());
      port = new URL(server.url).port;
    });
    afterEach(async () => {
      await server?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const url = () => `redis://127.0.0.1:${port}`;
    /**
     * Resolves once node `id`'s wait is stored in Redis with its text's Sid: held, sent, and what a
     * restart resumes (counting the clock's timers said "held" too early on a loaded machine).
     */
    const storedWithSid = async (id: string) => {
      const peek = new Redis(url());
      try {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const keys = await peek.keys(`nr-twilio:r:node/${id}/*`);
          const values = await Promise.all(keys.map((key) => peek.get(key)));
          if (values.some((value) => /"SM[0-9a-f]{32}"/.test(String(value)))) return keys.length;
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${id}'s wait stored with its Sid: ${JSON.stringify(values)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        peek.disconnect();
      }
    };
    const sendNode = (id: string, waitFor: 'queued' | 'outcome', wires: string[][]): FlowNode => ({
      id,
      type: 'twilio-send',
      z: 'tab',
      account: 'account',
      resource: 'message',
      to: ANSWERS,
      toType: 'str',
      body: 'The garage is open',
      bodyType: 'str',
      waitFor,
      outcomeTimeout: 3600,
      wires,
    });

    it('says so in the statuses and the log once, sends what needs no state, refuses a wait, and resumes held waits after', async () => {
      const account = accountNode(simulator.url, 'authToken', { stateBackend: 'redis', redisUrl: url() });
      const flow: FlowNode[] = [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        sendNode('plain', 'queued', [['plainOut']]),
        sendNode('waiting', 'outcome', [['waitOut']]),
        { id: 'plainOut', type: 'helper', z: 'tab' },
        { id: 'waitOut', type: 'helper', z: 'tab' },
      ];
      await helper.load(allNodes, flow, { account: account.credentials });
      const out = { plain: [] as any[], waiting: [] as any[] };
      const errors = { plain: [] as any[], waiting: [] as any[] };
      const statuses = { plain: [] as string[], waiting: [] as string[] };
      for (const id of ['plain', 'waiting'] as const) {
        const node = helper.getNode(id) as any;
        const complete = node._complete.bind(node);
        node._complete = (m: unknown, err?: any) => {
          if (err) errors[id].push(err);
          complete(m, err);
        };
        node.on('call:status', (call: any) => statuses[id].push(String(call.args[0]?.text ?? '')));
      }
      helper.getNode('plainOut').on('input', (m: any) => out.plain.push(m));
      helper.getNode('waitOut').on('input', (m: any) => out.waiting.push(m));
      const accountWarn = (helper.getNode('account') as any).warn;
      const accountLog = (helper.getNode('account') as any).log;
      const lines = (spy: any, pattern: RegExp) => spy.getCalls().filter((c: any) => pattern.test(String(c.args[0]))).length;
      const created = () => simulator.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Messages.json')).length;

      // A wait held before the outage: its record is in Redis.
      helper.getNode('waiting').receive({ payload: 'before', n: 1 });
      assert.equal(await storedWithSid('waiting'), 1, 'the wait is stored in Redis, with its Sid');

      // Redis stops.
      await server!.stop();
      server = undefined;
      await until(() => statuses.waiting.includes('twilio.status.stateDown'), 'the waiting node says Redis is down');
      await until(() => lines(accountWarn, /unreachable/) === 1, 'one log line: Redis went');

      // A send that does not wait needs no state: it goes.
      const sentBefore = created();
      helper.getNode('plain').receive({ payload: 'during', n: 2 });
      await until(() => out.plain.length === 1, 'the plain send went while Redis was down');
      assert.equal(errors.plain.length, 0);
      assert.ok(!statuses.plain.includes('twilio.status.stateDown'), 'a send that keeps no state does not need Redis');

      // A msg that would have to wait is refused before it is sent.
      helper.getNode('waiting').receive({ payload: 'during', n: 3 });
      await until(() => errors.waiting.length === 1, 'the wait refused');
      assert.equal(errors.waiting[0].code, 'STATE_UNAVAILABLE', String(errors.waiting[0].message));
      assert.equal(created(), sentBefore + 1, 'only the plain send reached Twilio during the outage');

      // Many commands failed meanwhile: still one log line, per engine.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(lines(accountWarn, /unreachable/), 1, 'one line when it goes, not one per command or node');

      // Redis comes back on the same port, with what it had.
      server = await startRedis([...durable(), '--port', port]);
      await until(() => statuses.waiting.includes('twilio.status.stateBack'), 'the waiting node says Redis is back');
      await until(() => lines(accountLog, /reachable again/) === 1, 'one log line: Redis returned');
      assert.equal(lines(accountWarn, /unreachable/), 1);

      // The wait held before the outage ends normally, and its record goes.
      await time.clock.advance(2_000);
      await until(() => out.waiting.length === 1, 'the held wait ended after the outage');
      assert.equal(out.waiting[0].n, 1);
      assert.equal(out.waiting[0].payload.status, 'delivered');
      const after = new Redis(url());
      try {
        for (let i = 0; i < 50 && (await after.keys('nr-twilio:r:node/waiting/*')).length > 0; i++)
          await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(await after.keys('nr-twilio:r:node/waiting/*'), [], 'its record is gone');
      } finally {
        after.disconnect();
      }
      // A new wait is taken again.
      helper.getNode('waiting').receive({ payload: 'after', n: 4 });
      await untilTicking(time.clock, () => out.waiting.length === 2, 'the new wait ended', 1_000, 20_000);
      assert.equal(errors.waiting.length, 1);
    });

    it('resumes the waits stored before the outage once Redis is back, when the flows started while it was down', async () => {
      const account = accountNode(simulator.url, 'authToken', { stateBackend: 'redis', redisUrl: url() });
      const flow: FlowNode[] = [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        sendNode('waiting', 'outcome', [['waitOut']]),
        { id: 'waitOut', type: 'helper', z: 'tab' },
      ];
      await helper.load(allNodes, flow, { account: account.credentials });
      const red = helper as any;
      helper.getNode('waiting').receive({ payload: 'before', n: 7 });
      assert.equal(await storedWithSid('waiting'), 1, 'the wait held, with its Sid');
      // A stop keeps the wait stored (in Redis); Redis goes; the flows start again while it is away.
      await red._redNodes.stopFlows();
      await server!.stop();
      server = undefined;
      await red._redNodes.startFlows();
      const statuses: string[] = [];
      const out: any[] = [];
      (helper.getNode('waiting') as any).on('call:status', (call: any) => statuses.push(String(call.args[0]?.text ?? '')));
      // What the node said, for a failure to explain itself (it failed twice in loaded full runs, never alone).
      const said: string[] = [];
      for (const level of ['warn', 'error', 'log'])
        (helper.getNode('waiting') as any).on(`call:${level}`, (call: any) =>
          said.push(`${level}: ${String(call.args[0]?.message ?? call.args[0])}`),
        );
      helper.getNode('waitOut').on('input', (m: any) => out.push(m));
      await until(() => statuses.includes('twilio.status.stateDown'), 'the node says Redis is down');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(out.length, 0);
      // Redis returns with what it had: the stored wait is restored and ends as it would have.
      server = await startRedis([...durable(), '--port', port]);
      await untilTicking(time.clock, () => out.length === 1, 'the stored wait resumed once Redis was back', 1_000, 25_000).catch(
        (err: Error) => {
          throw new Error(`${err.message}; statuses ${JSON.stringify(statuses)}; the node said ${JSON.stringify(said)}`);
        },
      );
      assert.equal(out[0].n, 7);
      assert.equal(out[0].payload.status, 'delivered');
    });

    it('refuses a Redis URL with a password in it, and never shows the password', async () => {
      const secret = 'hunter2-in-url';
      const account = accountNode(simulator.url, 'authToken', { stateBackend: 'redis', redisUrl: `redis://:${secret}@127.0.0.1:${port}` });
      const flow: FlowNode[] = [{ id: 'tab', type: 'tab', label: 't' }, account.node, sendNode('waiting', 'outcome', [['waitOut']])];
      flow.push({ id: 'waitOut', type: 'helper', z: 'tab' });
      await helper.load(allNodes, flow, { account: account.credentials });
      const node = helper.getNode('waiting') as any;
      const failed = new Promise<any>((resolve) => {
        const complete = node._complete.bind(node);
        node._complete = (m: unknown, err?: any) => {
          resolve(err);
          complete(m, err);
        };
      });
      node.receive({ payload: 'x' });
      const error = await failed;
      assert.equal(error?.code, 'STATE_UNAVAILABLE');
      const accountNodeRt = helper.getNode('account') as any;
      const said = [
        String(error?.message),
        ...['error', 'warn', 'log'].flatMap((level) => accountNodeRt[level].getCalls().map((c: any) => String(c.args[0]))),
      ];
      assert.ok(
        said.some((line) => /password/i.test(line)),
        `the log says why: ${said.join(' | ')}`,
      );
      for (const line of said) assert.ok(!line.includes(secret), line);
      assert.deepEqual(
        simulator.requests.map((r) => `${r.method} ${r.path}`),
        [],
        'nothing was sent',
      );
    });
  },
  { timeout: 120_000 },
);
