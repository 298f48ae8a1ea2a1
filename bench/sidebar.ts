/**
 * i. What the Twilio sidebar costs: CPU per plain send through twilio-send (this process's user +
 * system time) with the sidebar plugin loaded and no editor connected, without it, and with an editor
 * connected (its pushes, at most two a second); rounds alternate the subjects, medians shown. And the
 * account's activity itself (lib/account/activity.ts, always on: it records whether or not the plugin
 * is loaded), in ns per recorded send and per queue change.
 */
import path from 'node:path';
import { AccountActivity } from '../lib/account/activity';
import { RequestQueue } from '../lib/transport/request-queue';
import { SimulatorProcess } from './simulator-process';

type FlowRun = (
  sim: SimulatorProcess,
  count: number,
  body: string,
  account?: Record<string, unknown>,
  ready?: () => Promise<void>,
  bare?: boolean,
  extra?: unknown[],
) => Promise<{ seconds: number; cpuMs: number; outputs: number; errors: number }>;

type Subject = 'without' | 'idle' | 'watched';
const LABELS: Record<Subject, string> = {
  without: 'twilio-send, no sidebar plugin',
  idle: 'twilio-send, sidebar loaded, no editor',
  watched: 'twilio-send, sidebar loaded, an editor connected',
};
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

export async function sidebarCost(
  rows: { push(...rows: object[]): number },
  scale: number,
  flowRun: FlowRun,
  helper: { _events: { emit(name: string, data: object): void } },
): Promise<void> {
  const plugin = require(path.resolve(__dirname, '..', 'plugins', 'twilio-sidebar', 'twilio-sidebar.js')) as unknown;
  const count = Math.round(5000 * scale);
  const rounds = 5;
  const concurrency = 20;
  const sim = await SimulatorProcess.start();
  const subjects: Subject[] = ['without', 'idle', 'watched'];
  const run = (subject: Subject, messages: number, body: string) =>
    flowRun(
      sim,
      messages,
      body,
      { maxConcurrency: concurrency },
      async () => {
        // An editor's comms connection as Node-RED announces it (the plugin listens for it).
        if (subject === 'watched') helper._events.emit('comms:connection-added', { session: 'bench' });
        global.gc?.();
        await new Promise((r) => setTimeout(r, 100));
      },
      false,
      subject === 'without' ? [] : [plugin],
    ).finally(() => {
      if (subject === 'watched') helper._events.emit('comms:connection-removed', { session: 'bench' });
    });
  for (const subject of subjects) await run(subject, 1000, 'warm');
  const perMsg: Record<Subject, number[]> = { without: [], idle: [], watched: [] };
  const seconds: Record<Subject, number[]> = { without: [], idle: [], watched: [] };
  const delivered: Record<Subject, number> = { without: 0, idle: 0, watched: 0 };
  for (let round = 1; round <= rounds; round++)
    for (let i = 0; i < subjects.length; i++) {
      const subject = subjects[(round + i) % subjects.length];
      await sim.reset();
      const body = `i-${subject}-${round}`;
      const r = await run(subject, count, body);
      perMsg[subject].push(r.cpuMs / count);
      seconds[subject].push(r.seconds);
      delivered[subject] += (await sim.delivered(body)).delivered;
    }
  await sim.stop();
  const without = median(perMsg.without);
  for (const subject of subjects) {
    const value = median(seconds[subject]);
    const ratio = subject === 'without' ? '' : `: ${(median(perMsg[subject]) / without).toFixed(2)}× without the plugin`;
    rows.push({
      scenario: 'i. sidebar cost',
      subject: LABELS[subject],
      messages: count,
      seconds: value,
      perSecond: count / value,
      delivered: delivered[subject],
      lost: count * rounds - delivered[subject],
      duplicated: 0,
      tooManyRequests: 0,
      note: `${median(perMsg[subject]).toFixed(3)} ms CPU/msg, median of ${rounds} (${perMsg[subject].map((v) => v.toFixed(3)).join(' / ')})${ratio}`,
    });
  }

  // The activity itself, in this process: a recorded send (masking two numbers) and a queue change.
  const events = Math.round(1_000_000 * scale);
  const queue = new RequestQueue();
  const activity = new AccountActivity('bench', 'bench', 'AC' + '0'.repeat(32));
  const stop = activity.follow(queue);
  const sids = Array.from({ length: 1000 }, (_, i) => 'SM' + i.toString(16).padStart(32, '0'));
  let started = process.hrtime.bigint();
  for (let i = 0; i < events; i++)
    activity.sent('message', { sid: sids[i % 1000], to: '+15558675310', from: '+15017122661', status: 'queued' });
  const sentNs = Number(process.hrtime.bigint() - started) / events;
  started = process.hrtime.bigint();
  const state = { queued: 1, inFlight: 1, window: 16, retrying: 0 };
  const notify = (queue as unknown as { listeners: Set<(s: typeof state) => void> }).listeners;
  for (let i = 0; i < events; i++) for (const listener of notify) listener(state);
  const queueNs = Number(process.hrtime.bigint() - started) / events;
  stop();
  rows.push({
    scenario: 'i. sidebar cost',
    subject: 'account activity per event (always on)',
    messages: events,
    seconds: 0,
    perSecond: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    tooManyRequests: 0,
    note: `${sentNs.toFixed(0)} ns per recorded send (a new Sid: masked, kept, the oldest let go), ${queueNs.toFixed(0)} ns per queue change`,
  });
}
