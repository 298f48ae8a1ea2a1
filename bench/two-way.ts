/**
 * e. Two-way behind any network: what receiving by polling costs and how late it is, and what
 * holding msgs until their outcome costs.
 *   idle: requests per hour of a twilio-in polling at its default interval (10 s) when nothing arrives
 *   delay: from a text's arrival at the simulator to its msg out of twilio-in, median and p99
 *     (target: at most the interval + 1 s)
 *   outcomes: 5,000 messages sent at once by a twilio-send that waits for each outcome: time to the
 *     last outcome, heap while they wait, requests it took, and none lost or doubled
 *   questions: 1,000 questions open at once in a twilio-ask: heap while they wait, then all cancelled,
 *     none lost or doubled
 */
import { DEMO_ACCOUNT } from '../simulator/server';
import type { SimulatorProcess } from './simulator-process';

const helper = require('node-red-node-test-helper');
const KEY = DEMO_ACCOUNT.apiKeys![0];
const HOUSE = '+15017122661';

export interface TwoWayRow {
  subject: string;
  messages: number;
  seconds: number;
  delivered: number;
  lost: number;
  duplicated: number;
  note: string;
}

const account = (url: string) => ({
  id: 'account',
  type: 'twilio-config',
  authMode: 'apiKey',
  region: '',
  edge: '',
  defaultFrom: HOUSE,
  baseUrl: url,
});
const credentials = { account: { accountSid: DEMO_ACCOUNT.sid, apiKeySid: KEY.sid, apiKeySecret: KEY.secret } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

type Requests = Array<{ method: string; path: string; at: number }>;

export async function twoWay(nodes: unknown[], sim: SimulatorProcess, scale: number): Promise<TwoWayRow[]> {
  const rows: TwoWayRow[] = [];
  const intervalSeconds = 10;
  await helper.load(
    nodes,
    [
      { id: 'tab', type: 'tab', label: 'bench' },
      account(sim.url),
      {
        id: 'in',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        receive: 'poll',
        pollNumber: HOUSE,
        pollInterval: intervalSeconds,
        wires: [['out']],
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ],
    credentials,
  );
  const received = new Map<string, number>();
  let duplicates = 0;
  helper.getNode('out').on('input', (msg: { payload: { Body: string } }) => {
    if (received.has(msg.payload.Body)) duplicates++;
    else received.set(msg.payload.Body, Date.now());
  });

  // Idle: every request the poller makes in a quiet stretch.
  const idleSeconds = Math.max(30, Math.round(60 * scale));
  await sleep(1_000); // its first look (history, handed on to no one)
  const from = Date.now();
  await sleep(idleSeconds * 1000);
  const requests = (await sim.control<Requests>('GET', 'requests')).filter((r) => r.at >= from && r.at < from + idleSeconds * 1000);
  rows.push({
    subject: `idle, polling every ${intervalSeconds} s`,
    messages: 0,
    seconds: idleSeconds,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    note: `${requests.length} requests in ${idleSeconds} s: ${Math.round((requests.length * 3600) / idleSeconds)} requests/hour (ideal ${3600 / intervalSeconds})`,
  });

  // Delay: texts at random moments; each one's arrival to its msg.
  const count = Math.max(20, Math.round(40 * scale));
  const sentAt = new Map<string, number>();
  const spreadMs = count * 2_500;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      await sleep(Math.random() * spreadMs);
      const body = `text ${i}`;
      sentAt.set(body, Date.now());
      await sim.control('POST', 'inbound/message', { from: `+1555555${String(2000 + i)}`, to: HOUSE, body });
    }),
  );
  const deadline = Date.now() + (intervalSeconds + 5) * 1000;
  while (received.size < count && Date.now() < deadline) await sleep(50);
  const delays = [...sentAt]
    .filter(([body]) => received.has(body))
    .map(([body, at]) => received.get(body)! - at)
    .sort((a, b) => a - b);
  rows.push({
    subject: `arrival → msg, polling every ${intervalSeconds} s`,
    messages: count,
    seconds: (Date.now() - started) / 1000,
    delivered: received.size,
    lost: count - received.size,
    duplicated: duplicates,
    note: `median ${(percentile(delays, 50) / 1000).toFixed(2)} s, p99 ${(percentile(delays, 99) / 1000).toFixed(2)} s, max ${(delays.at(-1)! / 1000).toFixed(2)} s (target ≤ ${intervalSeconds + 1} s)`,
  });
  await helper.unload();
  await sim.reset();

  // Outcomes: 5,000 messages held until each is delivered.
  const messages = Math.max(500, Math.round(5_000 * scale));
  await helper.load(
    nodes,
    [
      { id: 'tab', type: 'tab', label: 'bench' },
      account(sim.url),
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: 'to',
        toType: 'msg',
        body: 'outcome',
        bodyType: 'str',
        waitFor: 'outcome',
        wires: [['out']],
      },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'catcher', type: 'catch', z: 'tab', scope: ['send'], uncaught: false, wires: [['failed']] },
      { id: 'failed', type: 'helper', z: 'tab' },
    ],
    credentials,
  );
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 50);
  const outcomes = new Map<string, string>();
  let doubled = 0;
  let failed = 0;
  helper.getNode('out').on('input', (msg: { to: string; payload: { status: string } }) => {
    if (outcomes.has(msg.to)) doubled++;
    outcomes.set(msg.to, msg.payload.status);
  });
  helper.getNode('failed').on('input', () => failed++);
  const sendStarted = Date.now();
  const send = helper.getNode('send');
  for (let i = 0; i < messages; i++) send.receive({ to: `+1555${String(3_000_000 + i)}` });
  const until = Date.now() + 120_000;
  while (outcomes.size + failed < messages && Date.now() < until) await sleep(50);
  const seconds = (Date.now() - sendStarted) / 1000;
  clearInterval(sampler);
  const all = await sim.control<Requests>('GET', 'requests');
  const looks = all.filter((r) => r.method === 'GET').length;
  const delivered = [...outcomes.values()].filter((s) => s === 'delivered').length;
  rows.push({
    subject: `${messages} sends waiting for their outcome`,
    messages,
    seconds,
    delivered,
    lost: messages - outcomes.size - failed,
    duplicated: doubled,
    note: `heap +${((heapPeak - heapBefore) / 2 ** 20).toFixed(1)} MiB at the peak (${((heapPeak - heapBefore) / messages / 1024).toFixed(1)} KiB a wait); ${looks} looks (${(looks / messages).toFixed(2)} a message); ${failed} errors`,
  });
  await helper.unload();
  await sim.reset();

  // Questions: 1,000 open at once (people who never answer), then ended by one cancel.
  const questions = Math.max(200, Math.round(1_000 * scale));
  await helper.load(
    nodes,
    [
      { id: 'tab', type: 'tab', label: 'bench' },
      account(sim.url),
      { id: 'in', type: 'twilio-in', z: 'tab', account: 'account', receive: 'poll', pollNumber: HOUSE, pollInterval: 10, wires: [[]] },
      {
        id: 'ask',
        type: 'twilio-ask',
        z: 'tab',
        account: 'account',
        to: 'to',
        toType: 'msg',
        body: 'Leave the heating on? Reply YES or NO.',
        bodyType: 'str',
        answers: [
          { type: 'words', value: 'yes' },
          { type: 'words', value: 'no' },
        ],
        cancelTopic: 'cancel',
        wires: [['out'], ['out'], ['out'], ['out'], ['out']],
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ],
    credentials,
  );
  global.gc?.();
  const askHeapBefore = process.memoryUsage().heapUsed;
  const ended = new Map<string, number>();
  helper.getNode('out').on('input', (msg: { to: string }) => ended.set(msg.to, (ended.get(msg.to) ?? 0) + 1));
  const askStarted = Date.now();
  const ask = helper.getNode('ask');
  for (let i = 0; i < questions; i++) ask.receive({ to: `+1555${String(4_000_000 + i)}` });
  const sentBy = Date.now() + 120_000;
  while ((await sim.control<unknown[]>('GET', 'messages')).length < questions && Date.now() < sentBy) await sleep(200);
  const askSeconds = (Date.now() - askStarted) / 1000;
  await sleep(3_000); // each question's look for its outcome (delivered) has come and gone
  global.gc?.();
  const askHeap = process.memoryUsage().heapUsed - askHeapBefore;
  ask.receive({ topic: 'cancel' });
  const cancelBy = Date.now() + 30_000;
  while (ended.size < questions && Date.now() < cancelBy) await sleep(50);
  rows.push({
    subject: `${questions} questions open at once (twilio-ask)`,
    messages: questions,
    seconds: askSeconds,
    delivered: ended.size,
    lost: questions - ended.size,
    duplicated: [...ended.values()].filter((n) => n > 1).length,
    note: `heap +${(askHeap / 2 ** 20).toFixed(1)} MiB while open (${(askHeap / questions / 1024).toFixed(1)} KiB a question); all ended by one cancel`,
  });
  await helper.unload();
  await sim.reset();
  return rows;
}
