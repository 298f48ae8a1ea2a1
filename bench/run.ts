/**
 * `npm run bench`: the nodes against the raw twilio SDK, side by side in one run, on the local
 * simulator. Prints a table and writes bench/results/latest.json. Ratios, not absolute speeds, are
 * what to compare across machines.
 *   a. overhead: N messages through a real Node-RED flow vs the SDK at the same concurrency, no latency;
 *      beside them the floor, a bare node that only calls the SDK (what Node-RED itself costs)
 *   b. rate-limited: 100 ms latency, a cap of 5, 20 and 50 concurrent requests (429 above it); the flow
 *      with default settings vs the SDK with Promise.all and with its autoRetry
 *   c. webhook intake: signed requests through twilio-in → twilio-reply vs the core http in → http
 *      response, autocannon against one real Node-RED process; and twilio-in's duplicate window, nearly
 *      empty and holding 100,000 tokens (BENCH_DEDUPE_TOKENS)
 *   d. memory: peak RSS for a burst of messages, and RSS after the queue drains, three bursts; then the
 *      same through the bare node, and into a sink in twilio-send's place, the floor (what the msgs cost
 *      Node-RED alone) (BENCH_MEMORY_SUBJECTS=flow,bare,floor picks them)
 *   e. two-way: requests per hour of an idle poll, a text's delay to its msg, 5,000 sends that wait
 *      for their outcome, 1,000 open questions (bench/two-way.ts)
 *   f. CPU per send: this process's CPU time (user + system; the simulator runs in its own) per plain
 *      SMS through twilio-send in a real Node-RED runtime, beside a bare SDK `messages.create` loop on
 *      the same simulator in the same process: ms per msg and their ratio
 *   g. state engine: commits per second and p99 commit latency of the embedded engine (put, CAS), and
 *      Redis round trips per claim (bench/state.ts)
 *   h. state behind the nodes: the p99 the embedded store adds to a send that waits (vs
 *      `stateIn: 'context:memory'`, same run), and webhooks per second and Redis round trips per
 *      webhook with twilio-in's duplicate window on Redis, 1 and 3 instances (bench/state-nodes.ts); and
 *      questions per second through twilio-ask on Redis, 1 and 3 instances behind a round-robin proxy,
 *      the answer's webhook → output latency and Redis round trips per question (bench/questions.ts).
 *      BENCH_REDIS_INSTANCES=1,3 the instance counts; BENCH_H_ROWS=wait,webhooks,questions the rows;
 *      BENCH_ASK_CONCURRENCY=30 the people answering at once
 *   i. sidebar cost: CPU per send with the Twilio sidebar plugin loaded and no editor connected, vs
 *      without it, and with an editor connected; and what the account's activity costs per event (bench/sidebar.ts)
 *   j. MMS media served: GETs per second of a held 100 kB photo, and of a wrong token (bench/media.ts)
 *   k. answer patterns: the slowest of the worst one-message replies for each ordinary pattern
 *      regexHazard lets through (test/support/answer-patterns.ts); the target is well under 50 ms
 */
import fs from 'node:fs';
import path from 'node:path';
import twilio from 'twilio';
import { DEMO_ACCOUNT } from '../simulator/server';
import { RawSdkRequestClient } from '../simulator/raw-sdk-client';
import { SimulatorProcess } from './simulator-process';
import type { SinkNode } from './sink-node';
import { redisWebhookIntake, webhookIntake } from './webhooks';
import { stateEngine } from './state';
import { waitLatency } from './state-nodes';
import { questionsPerSecond } from './questions';
import { noRedis, startRedis } from '../test/support/redis';
import { ORDINARY_PATTERNS, WORST_REPLIES } from '../test/support/answer-patterns';
import { AnswerMatcher } from '../lib/conversation/answers';
import { twoWay } from './two-way';
import { sidebarCost } from './sidebar';
import { mediaServed } from './media';
import { startPromoted, stopPromoted } from './promoted';

const helper = require('node-red-node-test-helper');
const nodeRed = process.env.NODE_RED_PACKAGE || (Number(process.versions.node.split('.')[0]) >= 22 ? 'node-red-5' : 'node-red');
helper.init(require.resolve(nodeRed));
const nodesDir = path.resolve(__dirname, '..', 'nodes');
const nodes = [
  ...['twilio-config', 'twilio-send'].map((n) => require(path.join(nodesDir, n, `${n}.js`))),
  require('./bare-send-node'),
  require('./sink-node'),
];
const SINK = process.env.BENCH_SINK || 'bench-sink';
const KEY = DEMO_ACCOUNT.apiKeys![0];
const SCALE = Number(process.env.BENCH_SCALE || 1);

interface Row {
  scenario: string;
  subject: string;
  messages: number;
  seconds: number;
  perSecond: number;
  delivered: number;
  lost: number;
  duplicated: number;
  tooManyRequests: number;
  note?: string;
}

/**
 * `ready` runs just before the clock starts, after the flow is deployed. `bare` puts the least a node
 * can do (bench/bare-send-node.ts) where twilio-send is, at the account's concurrency; 'floor' puts
 * a sink there (it ends each msg at once, sends nothing): what the msgs cost Node-RED alone.
 */
async function flowRun(
  sim: SimulatorProcess,
  count: number,
  body: string,
  account: Record<string, unknown> = {},
  ready?: () => Promise<void>,
  bare: boolean | 'floor' = false,
  extra: unknown[] = [],
): Promise<{ seconds: number; cpuMs: number; outputs: number; errors: number }> {
  // The test helper wraps Node's methods (send, status, …) in spies and Proxies that record every
  // call; restoring its sandbox leaves the Proxies. A benchmark measures Node-RED, not the helper.
  const nodePrototype = helper._NodePrototype as Record<string, unknown>;
  const originals = Object.fromEntries(Object.getOwnPropertyNames(nodePrototype).map((name) => [name, nodePrototype[name]]));
  await helper.load(
    [...nodes, ...extra],
    [
      { id: 'tab', type: 'tab', label: 'bench' },
      {
        id: 'account',
        type: 'twilio-config',
        authMode: 'apiKey',
        region: '',
        edge: '',
        defaultFrom: '+15017122661',
        baseUrl: sim.url,
        ...account,
      },
      bare === 'floor'
        ? { id: 'send', type: SINK, z: 'tab' }
        : bare
          ? {
              id: 'send',
              type: 'bench-bare-send',
              z: 'tab',
              baseUrl: sim.url,
              accountSid: DEMO_ACCOUNT.sid,
              keySid: KEY.sid,
              keySecret: KEY.secret,
              from: '+15017122661',
              body,
              concurrency: account.maxConcurrency,
              wires: [['out']],
            }
          : {
              id: 'send',
              type: 'twilio-send',
              z: 'tab',
              account: 'account',
              resource: 'message',
              to: 'to',
              toType: 'msg',
              body,
              bodyType: 'str',
              wires: [['out']],
            },
      { id: 'out', type: SINK, z: 'tab' },
      { id: 'catcher', type: 'catch', z: 'tab', scope: ['send'], uncaught: false, wires: [['failed']] },
      { id: 'failed', type: SINK, z: 'tab' },
    ],
    { account: { accountSid: DEMO_ACCOUNT.sid, apiKeySid: KEY.sid, apiKeySecret: KEY.secret } },
  );
  const proxiedSend = nodePrototype.send;
  helper._sandbox.restore();
  Object.assign(nodePrototype, originals);
  // Node-RED copies Node.prototype.send onto each wired node when it is created.
  for (const id of ['send', 'out', 'catcher', 'failed']) {
    const node = helper.getNode(id) as Record<string, unknown>;
    if (node.send === proxiedSend) node.send = originals.send;
  }
  const send = helper.getNode('send');
  let outputs = 0;
  let errors = 0;
  const finished = new Promise<void>((resolve) => {
    const check = () => outputs + errors >= count && resolve();
    const sink = (id: string, received: () => void) => {
      const node = helper.getNode(id) as SinkNode;
      if (SINK === 'bench-sink') node.onReceived = received;
      else node.on('input', received);
    };
    sink(bare === 'floor' ? 'send' : 'out', () => {
      outputs++;
      check();
    });
    sink('failed', () => {
      errors++;
      check();
    });
  });
  await ready?.();
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) send.receive({ to: `+1555${String(1_000_000 + i)}` });
  // A run that cannot finish (a message neither sent nor reported) shows as lost, not as a hang.
  let giveUp: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((r) => (giveUp = setTimeout(r, 180_000)))]);
  clearTimeout(giveUp);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuMs = cpuMilliseconds(process.cpuUsage(cpu));
  await helper.unload();
  return { seconds, cpuMs, outputs, errors };
}

async function sdkRun(
  sim: SimulatorProcess,
  count: number,
  body: string,
  concurrency: number,
  options: { autoRetry?: boolean; ready?: () => Promise<void> } = {},
): Promise<{ seconds: number; cpuMs: number; ok: number; failed: number }> {
  const requestClient = new RawSdkRequestClient(sim.url, { autoRetry: options.autoRetry, maxRetries: options.autoRetry ? 6 : undefined });
  const client = twilio(KEY.sid, KEY.secret, { accountSid: DEMO_ACCOUNT.sid, httpClient: requestClient, env: {} });
  let next = 0;
  let ok = 0;
  let failed = 0;
  await options.ready?.();
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        await client.messages.create({ to: `+1555${String(1_000_000 + i)}`, from: '+15017122661', body });
        ok++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuMs = cpuMilliseconds(process.cpuUsage(cpu));
  requestClient.destroy();
  return { seconds, cpuMs, ok, failed };
}

/** This process's CPU time (user and system) in a `process.cpuUsage(start)` difference. */
function cpuMilliseconds(used: NodeJS.CpuUsage): number {
  return (used.user + used.system) / 1000;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

type OverheadSubject = 'sdk' | 'flow' | 'bare';

async function overhead(rows: Row[]): Promise<void> {
  const count = Math.round(5000 * SCALE);
  const concurrency = 20;
  const rounds = 7;
  const sim = await SimulatorProcess.start();
  const subjects: OverheadSubject[] = ['sdk', 'flow', 'bare'];
  const run = (subject: OverheadSubject, messages: number, body: string, ready?: () => Promise<void>) =>
    subject === 'sdk'
      ? sdkRun(sim, messages, body, concurrency, { ready })
      : flowRun(sim, messages, body, { maxConcurrency: concurrency }, ready, subject === 'bare');
  // Warm every path once, so none pays for first-use compilation in the measured runs.
  for (const subject of subjects) await run(subject, 1000, 'warm');
  // Rounds, medians compared: one process on two cores drifts (GC, JIT) by ±15 % run to run.
  const seconds: Record<OverheadSubject, number[]> = { sdk: [], flow: [], bare: [] };
  const lost: Record<OverheadSubject, number> = { sdk: 0, flow: 0, bare: 0 };
  const duplicated: Record<OverheadSubject, number> = { sdk: 0, flow: 0, bare: 0 };
  // Each run starts from the same state: this process's heap collected (so none pays for another's
  // garbage) and the simulator emptied and collected (so none pays for another's records); and the
  // order rotates every round (so none always runs first or last).
  const settle = async () => {
    global.gc?.();
    await new Promise((r) => setTimeout(r, 100));
  };
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < subjects.length; i++) {
      const subject = subjects[(round + i) % subjects.length];
      await sim.reset();
      const body = `a-${subject}-${round}`;
      seconds[subject].push((await run(subject, count, body, settle)).seconds);
      const d = await sim.delivered(body);
      lost[subject] += count - d.delivered;
      duplicated[subject] += d.duplicated;
    }
  }
  const sdk = median(seconds.sdk);
  const row = (subject: OverheadSubject, label: string, comparison: string) => {
    const value = median(seconds[subject]);
    const spread = seconds[subject].map((v) => (count / v).toFixed(0)).join(' / ');
    rows.push({
      scenario: 'a. overhead',
      subject: label,
      messages: count,
      seconds: value,
      perSecond: count / value,
      delivered: count * rounds - lost[subject],
      lost: lost[subject],
      duplicated: duplicated[subject],
      tooManyRequests: 0,
      note: `median of ${rounds} rounds (${spread} /s)${comparison}`,
    });
  };
  row('sdk', `raw SDK, ${concurrency} at a time`, '');
  row('flow', `flow, queue of ${concurrency}`, `: ${(sdk / median(seconds.flow)).toFixed(2)}× the SDK's rate (target ≥ 0.9)`);
  row(
    'bare',
    `floor: a bare node, ${concurrency} at a time`,
    `: ${(sdk / median(seconds.bare)).toFixed(2)}× the SDK's rate; twilio-send reaches ${(median(seconds.bare) / median(seconds.flow)).toFixed(2)}× it`,
  );
  await sim.stop();
}

/**
 * CPU per plain send: what this process spends (user + system time, from the first msg to the last
 * answer) per SMS through twilio-send, beside a bare SDK `messages.create` loop at the same
 * concurrency on the same simulator. Rounds alternate the subjects; medians and every round shown.
 */
async function cpuPerSend(rows: Row[]): Promise<void> {
  const count = Math.round(5000 * SCALE);
  const concurrency = 20;
  const rounds = 5;
  const sim = await SimulatorProcess.start();
  const subjects: OverheadSubject[] = ['sdk', 'flow', 'bare'];
  const settle = async () => {
    global.gc?.();
    await new Promise((r) => setTimeout(r, 100));
  };
  const run = (subject: OverheadSubject, messages: number, body: string, ready?: () => Promise<void>) =>
    subject === 'sdk'
      ? sdkRun(sim, messages, body, concurrency, { ready })
      : flowRun(sim, messages, body, { maxConcurrency: concurrency }, ready, subject === 'bare');
  for (const subject of subjects) await run(subject, 1000, 'warm');
  const perMsg: Record<OverheadSubject, number[]> = { sdk: [], flow: [], bare: [] };
  const seconds: Record<OverheadSubject, number[]> = { sdk: [], flow: [], bare: [] };
  const delivered: Record<OverheadSubject, number> = { sdk: 0, flow: 0, bare: 0 };
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < subjects.length; i++) {
      const subject = subjects[(round + i) % subjects.length];
      await sim.reset();
      const body = `f-${subject}-${round}`;
      const r = await run(subject, count, body, settle);
      perMsg[subject].push(r.cpuMs / count);
      seconds[subject].push(r.seconds);
      delivered[subject] += (await sim.delivered(body)).delivered;
    }
  }
  const sdk = median(perMsg.sdk);
  const row = (subject: OverheadSubject, label: string, comparison: string) => {
    const value = median(seconds[subject]);
    rows.push({
      scenario: 'f. CPU per send',
      subject: label,
      messages: count,
      seconds: value,
      perSecond: count / value,
      delivered: delivered[subject],
      lost: count * rounds - delivered[subject],
      duplicated: 0,
      tooManyRequests: 0,
      note: `${median(perMsg[subject]).toFixed(3)} ms CPU/msg, median of ${rounds} (${perMsg[subject].map((v) => v.toFixed(3)).join(' / ')})${comparison}`,
    });
  };
  row('sdk', `raw SDK messages.create, ${concurrency} at a time`, '');
  row('flow', `twilio-send, queue of ${concurrency}`, `: ${(median(perMsg.flow) / sdk).toFixed(2)}× the SDK's CPU per msg`);
  row('bare', `floor: a bare node, ${concurrency} at a time`, `: ${(median(perMsg.bare) / sdk).toFixed(2)}× the SDK's CPU per msg`);
  await sim.stop();
}

async function rateLimited(rows: Row[], cap: number): Promise<void> {
  const latency = 100;
  const ideal = cap / (latency / 1000);
  const count = Math.round(ideal * 20 * SCALE); // twenty seconds of ideal sending: a broadcast, not a blip
  for (const subject of ['flow, default settings', 'raw SDK, Promise.all', 'raw SDK, autoRetry']) {
    const sim = await SimulatorProcess.start({ latencyMs: latency, maxConcurrent: cap });
    const body = `b-${cap}`;
    let seconds: number;
    if (subject.startsWith('flow')) seconds = (await flowRun(sim, count, body)).seconds;
    else seconds = (await sdkRun(sim, count, body, count, { autoRetry: subject.endsWith('autoRetry') })).seconds;
    const d = await sim.delivered(body);
    const { tooManyRequests } = await sim.stats();
    rows.push({
      scenario: `b. cap ${cap}, ${latency} ms`,
      subject,
      messages: count,
      seconds,
      perSecond: d.delivered / seconds,
      delivered: d.delivered,
      lost: count - d.delivered,
      duplicated: d.duplicated,
      tooManyRequests,
      note: `${((d.delivered / seconds / ideal) * 100).toFixed(0)} % of the ideal ${ideal}/s`,
    });
    await sim.stop();
  }
}

/** A row of `count` done in `seconds`, each of them delivered once. */
function allDelivered(scenario: string, subject: string, count: number, seconds: number): Omit<Row, 'note'> {
  return {
    scenario,
    subject,
    messages: count,
    seconds,
    perSecond: count / seconds,
    delivered: count,
    lost: 0,
    duplicated: 0,
    tooManyRequests: 0,
  };
}

async function memory(rows: Row[]): Promise<void> {
  const count = Math.round(50_000 * SCALE);
  const sim = await SimulatorProcess.start();
  const rss: number[] = [];
  let peak = 0;
  let peakHeap = 0;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peak = Math.max(peak, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  }, 20);
  // The floor: the same msgs into a node that ends each at once (what holding 50,000 msgs costs Node-RED).
  const subjects = (process.env.BENCH_MEMORY_SUBJECTS || 'flow,bare,floor').split(',');
  for (const subject of subjects)
    for (let burst = 1; burst <= (Number(process.env.BENCH_MEMORY_BURSTS) || 3); burst++) {
      // Each burst's own peaks (RSS keeps what earlier bursts took from the system, so the first tells most).
      peak = 0;
      peakHeap = 0;
      const bare = subject === 'bare';
      const floor = subject === 'floor';
      const profiling = process.env.BENCH_PROMOTED && burst === 1 ? await startPromoted() : undefined;
      const { seconds } = await flowRun(sim, count, `d-${burst}`, bare ? { maxConcurrency: 20 } : {}, undefined, floor ? 'floor' : bare);
      if (profiling) await stopPromoted(profiling, `${process.env.BENCH_PROMOTED}.${subject}`);
      await sim.reset(); // its records would only grow the listing
      global.gc?.();
      await new Promise((r) => setTimeout(r, 200));
      // RSS keeps pages the allocator has not returned; the live heap after a collection shows a leak.
      const after = process.memoryUsage();
      rss.push(after.rss);
      rows.push({
        ...allDelivered('d. memory', `${bare ? 'bare ' : floor ? 'floor: a sink, ' : ''}burst ${burst}`, count, seconds),
        note: `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB, peak heap ${(peakHeap / 2 ** 20).toFixed(0)} MiB, after draining ${(after.rss / 2 ** 20).toFixed(0)} MiB (live heap ${(after.heapUsed / 2 ** 20).toFixed(1)} MiB)`,
      });
    }
  clearInterval(sampler);
  await sim.stop();
}

/** k: each ordinary answer pattern on its worst replies, the slowest of five tries each (a reply stalls Node-RED for that long). */
function answerPatterns(rows: Row[]): void {
  for (const value of ORDINARY_PATTERNS) {
    const matcher = new AnswerMatcher([{ type: 'regex', value }]);
    let slowest = 0;
    const started = performance.now();
    for (let round = 0; round < 5; round++)
      for (const reply of WORST_REPLIES) {
        const at = performance.now();
        matcher.match(reply);
        slowest = Math.max(slowest, performance.now() - at);
      }
    const seconds = (performance.now() - started) / 1000;
    const count = 5 * WORST_REPLIES.length;
    rows.push({
      ...allDelivered('k. answer patterns', value, count, seconds),
      note: `slowest worst reply ${slowest.toFixed(1)} ms (target: well under 50 ms)`,
    });
  }
}

async function main(): Promise<void> {
  await helper.startServer();
  const rows: Row[] = [];
  // Each row is printed as it is measured, so a long run shows progress (and a stopped one, figures).
  const push = rows.push.bind(rows);
  rows.push = (...added: Row[]) => {
    for (const r of added) console.log(JSON.stringify(r));
    return push(...added);
  };
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('a')) await overhead(rows);
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('f')) await cpuPerSend(rows);
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('i')) await sidebarCost(rows, SCALE, flowRun, helper);
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('b'))
    for (const cap of (process.env.BENCH_CAPS || '5,20,50').split(',').map(Number)) await rateLimited(rows, cap);
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('c')) {
    const seconds = Math.max(2, Math.round(10 * SCALE));
    const dedupeTokens = Number(process.env.BENCH_DEDUPE_TOKENS) || Math.round(100_000 * SCALE);
    for (const r of await webhookIntake(nodeRed, { seconds, rounds: 3, connections: 20, dedupeTokens })) {
      rows.push({
        scenario: 'c. webhook intake',
        subject: r.subject,
        messages: r.requests,
        seconds: seconds * 3,
        perSecond: r.perSecond,
        delivered: r.requests - r.non2xx - r.errors,
        lost: r.non2xx + r.errors,
        duplicated: 0,
        tooManyRequests: 0,
        note: `${r.note ?? ''}; p99 ${r.p99Ms} ms`,
      });
    }
  }
  if (!process.env.BENCH_SKIP_MEMORY && (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('d'))) await memory(rows);
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('e')) {
    const sim = await SimulatorProcess.start();
    for (const r of await twoWay(
      [...nodes, ...['twilio-in', 'twilio-ask'].map((n) => require(path.join(nodesDir, n, `${n}.js`)))],
      sim,
      SCALE,
    ))
      rows.push({ scenario: 'e. two-way', perSecond: r.messages / r.seconds, tooManyRequests: 0, ...r });
    await sim.stop();
  }
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('j'))
    for (const r of await mediaServed(SCALE))
      rows.push({ scenario: 'j. media served', perSecond: r.messages / r.seconds, tooManyRequests: 0, ...r });
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('k')) answerPatterns(rows);
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('g'))
    for (const r of await stateEngine(SCALE))
      rows.push({ scenario: 'g. state engine', perSecond: r.messages / r.seconds, tooManyRequests: 0, ...r });
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('h')) {
    // BENCH_H_ROWS=wait,webhooks,questions picks h's rows (all by default).
    const hRows = (process.env.BENCH_H_ROWS || 'wait,webhooks,questions').split(',');
    if (hRows.includes('wait')) {
      const sim = await SimulatorProcess.start();
      for (const r of await waitLatency(nodes, sim, SCALE))
        rows.push({ scenario: 'h. state behind the nodes', perSecond: r.messages / r.seconds, tooManyRequests: 0, ...r });
      await sim.stop();
    }
    if (noRedis) console.log(`bench: ${noRedis}; the Redis webhook and question rows are skipped`);
    else {
      const redis = await startRedis();
      try {
        const seconds = Math.max(2, Math.round(10 * SCALE));
        const instances = (process.env.BENCH_REDIS_INSTANCES || '1,3').split(',').map(Number);
        for (const count of hRows.includes('webhooks') ? instances : [])
          for (const r of await redisWebhookIntake(nodeRed, redis.url, {
            seconds,
            rounds: 3,
            connections: 20,
            sample: 200,
            instances: count,
          }))
            rows.push({
              scenario: 'h. state behind the nodes',
              subject: r.subject,
              messages: r.requests,
              seconds: seconds * 3,
              perSecond: r.perSecond,
              delivered: r.requests - r.non2xx - r.errors,
              lost: r.non2xx + r.errors,
              duplicated: 0,
              tooManyRequests: 0,
              note: `${r.note ?? ''}; p99 ${r.p99Ms} ms`,
            });
        for (const count of hRows.includes('questions') ? instances : [])
          for (const r of await questionsPerSecond(nodeRed, redis.url, {
            seconds: Math.max(3, Math.round(5 * SCALE)),
            concurrency: Number(process.env.BENCH_ASK_CONCURRENCY) || 30,
            sample: 60,
            instances: count,
          }))
            rows.push({ scenario: 'h. state behind the nodes', perSecond: r.delivered / r.seconds, tooManyRequests: 0, ...r });
      } finally {
        await redis.stop();
      }
    }
  }
  await helper.stopServer();
  console.log(`Node ${process.version}, ${nodeRed}; scale ${SCALE}`);
  console.table(rows.map((r) => ({ ...r, seconds: r.seconds.toFixed(2), perSecond: r.perSecond.toFixed(0) })));
  const out = path.resolve(__dirname, '..', '..', 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(
    path.join(out, 'latest.json'),
    JSON.stringify({ node: process.version, nodeRed, scale: SCALE, at: new Date().toISOString(), rows }, null, 2),
  );
  console.log(`written: ${path.join(out, 'latest.json')}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
