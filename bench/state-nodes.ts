/**
 * h. The state store behind the nodes (issue #22's figures):
 *   waits: what the embedded store adds to a send that waits for its outcome. The same burst of msgs
 *     through a twilio-send "when its outcome is known", once with its waits in the embedded store
 *     (the default: each committed to disk before the node goes on) and once with `stateIn:
 *     'context:memory'` (nothing written anywhere), in one run, alternating: p50/p99 of the store's
 *     write of each wait (WaitingRoom.hold, the step that waits for the commit) and of the whole
 *     receive → wait held (the request to the simulator included).
 *   webhooks on Redis: see webhooks.ts (redisWebhookIntake): webhooks per second through a twilio-in
 *     with its duplicate window on one Redis, 1 and 3 Node-RED instances (BENCH_REDIS_INSTANCES), and
 *     Redis round trips per webhook (counted with MONITOR in a separate, sequential run: the commands
 *     the clients sent, not those their scripts ran inside).
 */
import { WaitingRoom } from '../lib/waits/waiting-room';
import type { SimulatorProcess } from './simulator-process';
import { DEMO_ACCOUNT } from '../simulator/server';

const helper = require('node-red-node-test-helper');
const KEY = DEMO_ACCOUNT.apiKeys![0];

export interface StateNodesRow {
  subject: string;
  messages: number;
  seconds: number;
  delivered: number;
  lost: number;
  duplicated: number;
  note: string;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Times every WaitingRoom.hold of this process: the store's write of a wait (and receive → held, by msg.i). */
function timeHolds() {
  const hold = WaitingRoom.prototype.hold;
  const received = new Map<number, number>();
  const holdMs: number[] = [];
  const heldMs: number[] = [];
  WaitingRoom.prototype.hold = async function (this: WaitingRoom<unknown>, ...args: Parameters<typeof hold>) {
    const t = performance.now();
    const id = await hold.apply(this, args);
    const done = performance.now();
    holdMs.push(done - t);
    const i = (args[3] as { i?: number } | undefined)?.i;
    const at = i === undefined ? undefined : received.get(i);
    if (at !== undefined) heldMs.push(done - at);
    return id;
  } as typeof hold;
  return {
    received,
    holdMs,
    heldMs,
    reset() {
      received.clear();
      holdMs.length = 0;
      heldMs.length = 0;
    },
    restore: () => (WaitingRoom.prototype.hold = hold),
  };
}

export async function waitLatency(nodes: unknown[], sim: SimulatorProcess, scale = 1): Promise<StateNodesRow[]> {
  const count = Math.max(200, Math.round(1_000 * scale));
  const rounds = 3;
  const timing = timeHolds();
  const single = { embedded: 0, memory: 0 };
  const stats = (list: number[]) => {
    const sorted = [...list].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  const singleHeld = { embedded: 0, memory: 0 };
  const results: Record<'embedded' | 'memory', { hold: number[]; held: number[]; seconds: number[]; lost: number }> = {
    embedded: { hold: [], held: [], seconds: [], lost: 0 },
    memory: { hold: [], held: [], seconds: [], lost: 0 },
  };
  try {
    const run = async (subject: 'embedded' | 'memory', n: number, oneAtATime = false) => {
      await helper.load(
        nodes,
        [
          { id: 'tab', type: 'tab', label: 'bench' },
          { id: 'account', type: 'twilio-config', authMode: 'apiKey', region: '', edge: '', defaultFrom: '+15017122661', baseUrl: sim.url },
          {
            id: 'send',
            type: 'twilio-send',
            z: 'tab',
            account: 'account',
            resource: 'message',
            to: 'to',
            toType: 'msg',
            body: 'wait',
            bodyType: 'str',
            waitFor: 'outcome',
            outcomeTimeout: 3600,
            stateIn: subject === 'memory' ? 'context:memory' : '',
            wires: [['out']],
          },
          { id: 'out', type: 'helper', z: 'tab' },
        ],
        { account: { accountSid: DEMO_ACCOUNT.sid, apiKeySid: KEY.sid, apiKeySecret: KEY.secret } },
      );
      timing.reset();
      const send = helper.getNode('send');
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        timing.received.set(i, performance.now());
        send.receive({ to: `+1555${String(4_000_000 + i)}`, i });
        // One at a time: the next msg once this one's wait is held (no commit queued behind another).
        if (oneAtATime) while (timing.holdMs.length <= i) await sleep(0);
      }
      const until = Date.now() + 120_000;
      while (timing.holdMs.length < n && Date.now() < until) await sleep(5);
      const seconds = (performance.now() - started) / 1000;
      const r = { hold: [...timing.holdMs], held: [...timing.heldMs], seconds, lost: n - timing.holdMs.length };
      // Removed, so its waits end and its store is forgotten (a stop would keep them for the next start).
      await helper.setFlows([{ id: 'tab', type: 'tab', label: 'bench' }]);
      await helper.unload();
      await sim.reset();
      return r;
    };
    await run('embedded', 200); // warm-up
    await run('memory', 200);
    for (let round = 0; round < rounds; round++)
      for (const subject of round % 2 === 0 ? (['embedded', 'memory'] as const) : (['memory', 'embedded'] as const)) {
        global.gc?.();
        const r = await run(subject, count);
        results[subject].hold.push(...r.hold);
        results[subject].held.push(...r.held);
        results[subject].seconds.push(r.seconds);
        results[subject].lost += r.lost;
      }
    // One at a time: what a single send that waits pays, with nothing queued beside it.
    for (const subject of ['embedded', 'memory'] as const) {
      const r = await run(subject, 200, true);
      single[subject] = stats(r.hold).p99;
      singleHeld[subject] = stats(r.held).p99;
    }
  } finally {
    timing.restore();
  }
  const e = { hold: stats(results.embedded.hold), held: stats(results.embedded.held) };
  const m = { hold: stats(results.memory.hold), held: stats(results.memory.held) };
  const row = (subject: 'embedded' | 'memory', label: string, note: string): StateNodesRow => {
    const s = subject === 'embedded' ? e : m;
    const seconds = results[subject].seconds.reduce((a, b) => a + b, 0) / rounds;
    return {
      subject: label,
      messages: count,
      seconds,
      delivered: count * rounds - results[subject].lost,
      lost: results[subject].lost,
      duplicated: 0,
      note: `store write of a wait p50 ${s.hold.p50.toFixed(2)} ms, p99 ${s.hold.p99.toFixed(2)} ms; receive → wait held p50 ${s.held.p50.toFixed(1)} ms, p99 ${s.held.p99.toFixed(1)} ms (bursts of ${count}, ${rounds} rounds)${note}`,
    };
  };
  return [
    row('memory', "send that waits, stateIn 'context:memory' (nothing written)", ''),
    row(
      'embedded',
      'send that waits, embedded store (committed to disk)',
      `; adds p99 ${(e.hold.p99 - m.hold.p99).toFixed(2)} ms to the write, ${(e.held.p99 - m.held.p99).toFixed(1)} ms to receive → held. One at a time (200): write p99 ${single.embedded.toFixed(2)} ms vs ${single.memory.toFixed(2)} ms, receive → held p99 ${singleHeld.embedded.toFixed(1)} ms vs ${singleHeld.memory.toFixed(1)} ms`,
    ),
  ];
}
