/**
 * h. Questions per second on Redis: `instances` real red.js processes on one Redis (the account's
 * "Shared state: Redis") behind a round-robin proxy without sticky sessions, the simulator (a process
 * of its own) playing Twilio and the people. Each question is a POST through the proxy into a
 * twilio-ask (on any instance); the person it goes to answers "yes" as soon as the text is delivered,
 * by a signed webhook Twilio (the simulator) posts to the house number's SmsUrl, the proxy, so it lands
 * on any instance; the answer leaves twilio-ask's "yes" output on the instance that asked. Measured:
 * questions answered per second end to end (asked → answer out), `concurrency` people each asked one
 * question after another; the latency from the answer's webhook to its output (p50, p99); and, in a
 * run of its own under MONITOR, the Redis round trips a question costs (the instances' background,
 * leases and timers, counted while idle and taken off). Counted besides: answers lost (a reply twilio-in
 * passed on as news instead of answering its question, or none within 15 s: that person is replaced
 * by another), questions sent with a code (another instance still counted the person's previous
 * question open) and clarifying texts. BENCH_DEBUG=1 prints each lost answer and each stray output.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_ACCOUNT } from '../simulator/server';
import { startProxy } from '../test/support/proxy';
import { SimulatorProcess } from './simulator-process';
import { freePort, redisMonitor, startNodeRed } from './webhooks';

const HOUSE = '+15017122661';
const PORTS = ['yes', 'else', 'noReply', 'notDelivered', 'extra'];

export interface QuestionsRow {
  subject: string;
  messages: number;
  seconds: number;
  delivered: number;
  lost: number;
  duplicated: number;
  note: string;
}

function flows(simulatorUrl: string, redisUrl: string, proxyUrl: string): object[] {
  const fn = (id: string, func: string, wires: string[][] = []) => ({ id, type: 'function', z: 'tab', func, outputs: 1, libs: [], wires });
  return [
    { id: 'tab', type: 'tab', label: 'questions' },
    {
      id: 'benchAccount',
      type: 'twilio-config',
      name: 'bench',
      authMode: 'authToken',
      region: '',
      edge: '',
      defaultFrom: HOUSE,
      baseUrl: simulatorUrl,
      stateBackend: 'redis',
      redisUrl,
    },
    { id: 'ready', type: 'http in', z: 'tab', url: '/bench/ready', method: 'post', upload: false, wires: [['ok']] },
    { id: 'askIn', type: 'http in', z: 'tab', url: '/bench/ask', method: 'post', upload: false, wires: [['prep', 'ok']] },
    fn(
      'prep',
      `if (env.get('BENCH_DEBUG')) node.log('ASKED ' + msg.payload.tag + ' ' + Date.now() + ' on ' + env.get('NODE_RED_PUBLIC_URL'));
msg = { to: msg.payload.to, topic: msg.payload.tag }; return msg;`,
      [['ask']],
    ),
    { id: 'ok', type: 'http response', z: 'tab', statusCode: '200', headers: {}, wires: [] },
    {
      id: 'ask',
      type: 'twilio-ask',
      z: 'tab',
      account: 'benchAccount',
      to: 'to',
      toType: 'msg',
      body: 'Leave the heating on?',
      bodyType: 'str',
      answers: [{ type: 'words', value: 'yes, y', label: 'yes' }],
      timeout: 120,
      mode: 'first',
      outputs: PORTS.length,
      wires: PORTS.map((port) => [`out-${port}`]),
    },
    ...PORTS.map((port) =>
      fn(
        `out-${port}`,
        `node.log('OUT ${port} ' + msg.topic + ' ' + Date.now() + ' ' + (msg.reply && msg.reply.sid || '-') + ' ' + (msg.error ? msg.error.code + ' ' + msg.error.message : JSON.stringify(msg.ask || null))); return null;`,
      ),
    ),
    {
      id: 'hook',
      type: 'twilio-in',
      z: 'tab',
      account: 'benchAccount',
      path: '/bench/sms',
      publicBaseUrl: proxyUrl,
      validate: true,
      reply: 'auto',
      wires: [['news']],
    },
    fn(
      'news',
      `node.log('OUT news ' + msg.payload.From + ' ' + Date.now() + ' ' + msg.payload.MessageSid + ' on ' + env.get('NODE_RED_PUBLIC_URL')); return null;`,
    ),
  ];
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

export async function questionsPerSecond(
  nodeRed: string,
  redisUrl: string,
  options: { seconds: number; concurrency: number; sample: number; instances: number },
): Promise<QuestionsRow[]> {
  const sim = await SimulatorProcess.start();
  const proxy = await startProxy([]);
  const reds: Array<{ red: ChildProcess; userDir: string }> = [];
  /** What left the instances' twilio-ask (and twilio-in, as news): port, tag, when, the answer's Sid. */
  const waiting = new Map<string, (out: { port: string; at: number; sid: string; error: string }) => void>();
  const emitted = new Map<string, number>();
  /** The question each person was asked and has not answered yet (tag by number). */
  const open = new Map<string, string>();
  /** Texts twilio-in passed on as news: an answer that missed its question (by number). */
  const news: string[] = [];
  const stray: string[] = [];
  /** BENCH_DEBUG: when and on which instance each question was asked. */
  const askedOn = new Map<string, string>();
  const hear = () => {
    let partial = '';
    return (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const asking = /\bASKED (\S+) (.*)$/.exec(line);
        if (asking) askedOn.set(asking[1], asking[2]);
        const out = /\bOUT (\S+) (\S+) (\d+) (\S+) ?(.*)$/.exec(line);
        if (!out) continue;
        const [, port, tag, at, sid, error] = out;
        // An answer twilio-in passed on as news answers no question: its question waits for ever (its timeout), lost.
        const question = port === 'news' ? open.get(tag) : tag;
        if (port === 'news') {
          news.push(tag);
          if (process.env.BENCH_DEBUG)
            console.log(`news from ${tag} at ${at} ${error} (its question ${question}, asked at ${askedOn.get(question ?? '')})`);
        } else emitted.set(tag, (emitted.get(tag) ?? 0) + 1);
        if (question === undefined) continue;
        const waiter = waiting.get(question);
        if (waiter) {
          waiting.delete(question);
          waiter({ port, at: Number(at), sid, error });
        } else if (port !== 'news') {
          stray.push(`${port} ${tag}`);
          if (process.env.BENCH_DEBUG) console.log(`an output of no question waited for: ${line}`);
        }
      }
    };
  };
  try {
    // Numbers of this instance count's own (a question an earlier run on this Redis left open answers
    // nothing here), and spares: a person whose answer was lost (whose question is open for its timeout) is replaced.
    const people = Array.from({ length: options.concurrency * 4 }, (_, i) => `+1555${String(7_000_000 + options.instances * 10_000 + i)}`);
    let nextPerson = options.concurrency;
    await sim.control('POST', 'settings', { people: Object.fromEntries(people.map((p) => [p, { reply: { text: 'yes', afterMs: 0 } }])) });
    // Twilio calls the proxy for texts to the house number: each answer lands on the next instance in turn.
    const numbers = await sim.control<Array<{ sid: string; phone_number: string }>>('GET', 'incomingPhoneNumbers');
    const house = numbers.find((n) => n.phone_number === HOUSE)!;
    const updated = await fetch(`${sim.url}/2010-04-01/Accounts/${DEMO_ACCOUNT.sid}/IncomingPhoneNumbers/${house.sid}.json`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${DEMO_ACCOUNT.sid}:${DEMO_ACCOUNT.authToken}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ SmsUrl: `${proxy.url}/bench/sms` }).toString(),
    });
    if (!updated.ok) throw new Error(`the house number's SmsUrl: ${updated.status}`);
    for (let i = 0; i < options.instances; i++) {
      const port = await freePort();
      const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-bench-ask-'));
      const red = await startNodeRed(port, userDir, nodeRed, {
        flows: flows(sim.url, redisUrl, proxy.url),
        readyPath: '/bench/ready',
        logLevel: 'info',
        onStdout: hear(),
      });
      reds.push({ red, userDir });
      proxy.targets.push(`http://127.0.0.1:${port}`);
    }

    const run = `${options.instances}-${Date.now()}`;
    let asked = 0;
    let lost = 0;
    /** One question to `person`, through the proxy: when it was asked, when its answer left, and that answer's Sid. */
    const question = async (person: string): Promise<{ tag: string; asked: number; at: number; sid: string } | undefined> => {
      const tag = `${run}-${asked++}`;
      open.set(person, tag);
      const out = new Promise<{ port: string; at: number; sid: string; error: string } | undefined>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(tag);
          resolve(undefined);
        }, 15_000);
        waiting.set(tag, (o) => {
          clearTimeout(timer);
          resolve(o);
        });
      });
      const started = Date.now();
      const status = await fetch(`${proxy.url}/bench/ask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: person, tag }),
      }).then(
        async (res) => (await res.arrayBuffer(), res.status),
        (err: Error) => err.message,
      );
      const answered = await out;
      open.delete(person);
      if (status !== 200 || answered?.port !== 'yes') {
        if (process.env.BENCH_DEBUG) console.log(`question ${tag}: ${status} ${JSON.stringify(answered)}`);
        return undefined;
      }
      return { tag, asked: started, at: answered.at, sid: answered.sid };
    };
    /** `concurrency` people, each asked one question after another until `until` (one whose answer was lost replaced by a spare). */
    const slots = people.slice(0, options.concurrency);
    const drive = async (until: () => boolean, perPerson = Infinity) => {
      const done: Array<{ tag: string; asked: number; at: number; sid: string }> = [];
      await Promise.all(
        slots.map(async (_, slot) => {
          for (let n = 0; n < perPerson && !until(); n++) {
            const r = await question(slots[slot]);
            if (r) done.push(r);
            else {
              lost++;
              if (nextPerson === people.length) return;
              slots[slot] = people[nextPerson++];
            }
          }
        }),
      );
      return done;
    };

    // Warm (JIT, sockets, each board's view of the others), then measured.
    const warmUntil = Date.now() + 2_000;
    await drive(() => Date.now() > warmUntil);
    const askedBefore = asked;
    const lostBefore = lost;
    const started = Date.now();
    const stopAt = started + options.seconds * 1000;
    const done = await drive(() => Date.now() > stopAt);
    const seconds = (Date.now() - started) / 1000;
    const measuredAsked = asked - askedBefore;
    const measuredLost = lost - lostBefore;

    // Latency from the answer's webhook (the simulator's delivery, its start) to the answer's output.
    const deliveries = await sim.control<Array<{ params: Record<string, string>; at: number }>>('GET', 'deliveries');
    const webhookAt = new Map(deliveries.filter((d) => d.params.MessageSid).map((d) => [d.params.MessageSid, d.at]));
    const toOutput = done
      .map((d) => (webhookAt.has(d.sid) ? d.at - webhookAt.get(d.sid)! : undefined))
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => a - b);
    const endToEnd = done.map((d) => d.at - d.asked).sort((a, b) => a - b);

    // Round trips: MONITOR while idle (the instances' leases and timers), then over `sample` questions.
    await new Promise((r) => setTimeout(r, 1_000));
    const monitor = await redisMonitor(redisUrl);
    const idleMs = 2_000;
    await new Promise((r) => setTimeout(r, idleMs));
    const idle = monitor.counts();
    monitor.reset();
    const sampleStarted = Date.now();
    const perPerson = Math.max(1, Math.ceil(options.sample / slots.length));
    const sampled = await drive(() => false, perPerson);
    await new Promise((r) => setTimeout(r, 500)); // each question's index record removed, its end published
    const sampleMs = Date.now() - sampleStarted;
    const busy = monitor.stop();
    const background = (idle.sent / idleMs) * sampleMs;
    const perQuestion = (busy.sent - background) / Math.max(1, sampled.length);
    const insidePerQuestion = (busy.inside - (idle.inside / idleMs) * sampleMs) / Math.max(1, sampled.length);
    const byName = [...busy.byName]
      .map(([name, n]) => [name, (n - ((idle.byName.get(name) ?? 0) / idleMs) * sampleMs) / Math.max(1, sampled.length)] as const)
      .filter(([, n]) => n >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ${n.toFixed(1)}`)
      .join(', ');

    const duplicated = [...emitted.values()].filter((n) => n > 1).length;
    // Texts besides the questions: clarifying messages ("which question?"), sent when a reply met more than one open question.
    const texts = await sim.control<Array<{ to: string; body: string }>>('GET', 'messages');
    const clarifying = texts.filter((m) => people.includes(m.to) && !m.body.startsWith('Leave the heating on?')).length;
    const coded = texts.filter(
      (m) => people.includes(m.to) && m.body.startsWith('Leave the heating on?') && m.body !== 'Leave the heating on?',
    ).length;
    const n = options.instances;
    return [
      {
        subject: `twilio-ask, state on Redis, ${n} instance${n === 1 ? '' : 's'} behind a round-robin proxy: questions answered`,
        messages: measuredAsked,
        seconds,
        delivered: done.length,
        lost: measuredLost,
        duplicated,
        note:
          `${(done.length / seconds).toFixed(1)} questions/s, ${options.concurrency} people asked one after another; ` +
          `answer webhook → output p50 ${percentile(toOutput, 50)} ms, p99 ${percentile(toOutput, 99)} ms; ` +
          `asked → answer out p50 ${percentile(endToEnd, 50)} ms, p99 ${percentile(endToEnd, 99)} ms; ` +
          `${perQuestion.toFixed(1)} Redis round trips a question (${byName}; ${insidePerQuestion.toFixed(1)} commands inside scripts; ` +
          `MONITOR over ${sampled.length} questions, ${((idle.sent / idleMs) * 1000).toFixed(1)}/s of idle background taken off); ` +
          `${lost} answers lost in all (${news.length} replies passed on by twilio-in as news instead; ${coded} questions sent with a code, ${clarifying} clarifying texts), ${stray.length} outputs of no question`,
      },
    ];
  } finally {
    await proxy.close();
    for (const { red, userDir } of reds) {
      red.kill('SIGTERM');
      await new Promise((r) => (red.exitCode !== null ? r(undefined) : red.once('exit', r)));
      fs.rmSync(userDir, { recursive: true, force: true });
    }
    await sim.stop();
  }
}
