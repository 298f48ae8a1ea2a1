/**
 * c. Webhook intake: signed Twilio webhooks per second through twilio-in → twilio-reply, against the
 * core http in → template → http response answering the same TwiML, in one real Node-RED process
 * (started here with its own user dir, as `npm start` does). autocannon drives both the same way:
 * alternating rounds, medians compared.
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import twilio from 'twilio';
import { DEMO_ACCOUNT } from '../simulator/server';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const root = path.resolve(__dirname, '..', '..');

export interface IntakeRow {
  subject: string;
  perSecond: number;
  requests: number;
  non2xx: number;
  errors: number;
  p99Ms: number;
  note?: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const TWIML_TEMPLATE = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Got it: {{payload.Body}}</Message></Response>';

function flows(redisUrl?: string): object[] {
  const state = redisUrl ? { stateBackend: 'redis', redisUrl } : {};
  return [
    { id: 'benchTab', type: 'tab', label: 'webhook intake' },
    {
      id: 'benchAccount',
      type: 'twilio-config',
      name: 'bench',
      authMode: 'authToken',
      region: '',
      edge: '',
      defaultFrom: '',
      baseUrl: '',
      ...state,
    },
    {
      id: 'benchIn',
      type: 'twilio-in',
      z: 'benchTab',
      account: 'benchAccount',
      path: '/bench/twilio',
      publicBaseUrl: '${NODE_RED_PUBLIC_URL}',
      validate: true,
      reply: 'flow',
      replyTimeout: 10,
      dedupe: false,
      wires: [['benchReply']],
    },
    {
      id: 'benchDedupe',
      type: 'twilio-in',
      z: 'benchTab',
      account: 'benchAccount',
      path: '/bench/dedupe',
      publicBaseUrl: '${NODE_RED_PUBLIC_URL}',
      validate: true,
      reply: 'flow',
      replyTimeout: 10,
      dedupe: true,
      dedupeWindow: 3600,
      wires: [['benchReply']],
    },
    {
      id: 'benchReply',
      type: 'twilio-reply',
      z: 'benchTab',
      action: 'message',
      text: 'Got it: {{payload.Body}}',
      textType: 'str',
      wires: [],
    },
    { id: 'benchHttpIn', type: 'http in', z: 'benchTab', url: '/bench/plain', method: 'post', upload: false, wires: [['benchTemplate']] },
    {
      id: 'benchTemplate',
      type: 'template',
      z: 'benchTab',
      field: 'payload',
      fieldType: 'msg',
      format: 'handlebars',
      syntax: 'mustache',
      template: TWIML_TEMPLATE,
      output: 'str',
      wires: [['benchHttpOut']],
    },
    { id: 'benchHttpOut', type: 'http response', z: 'benchTab', statusCode: '200', headers: { 'content-type': 'text/xml' }, wires: [] },
  ];
}

/**
 * How a bench's red.js process is started (startNodeRed): its flows (the webhook flows by default),
 * more environment, the route it is ready at once it answers a POST, and its standard output.
 */
export interface NodeRedOptions {
  redisUrl?: string;
  flows?: object[];
  env?: Record<string, string>;
  /** A route of the flows answering a POST with 2xx once they run (default /bench/plain). */
  readyPath?: string;
  /** Its log level (default warn), and who reads its standard output (default: no one). */
  logLevel?: 'warn' | 'info';
  onStdout?: (chunk: Buffer) => void;
}

/** A real red.js process with its own user dir, the package linked in, as `npm start` runs it. */
export async function startNodeRed(port: number, userDir: string, nodeRed: string, options: NodeRedOptions = {}): Promise<ChildProcess> {
  const pkgName = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string }).name;
  const link = path.join(userDir, 'node_modules', ...pkgName.split('/'));
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(root, link, 'dir');
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'bench', private: true, dependencies: { [pkgName]: `file:${root}` } }),
  );
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(options.flows ?? flows(options.redisUrl)));
  // Credentials as ${ENV} references, as in the demo: nothing secret is written to disk.
  fs.writeFileSync(
    path.join(userDir, 'flows_cred.json'),
    JSON.stringify({ benchAccount: { accountSid: '${TWILIO_ACCOUNT}', authToken: '${TWILIO_TOKEN}' } }),
  );
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', credentialSecret: false,
  diagnostics: { enabled: false }, telemetry: { enabled: false, updateNotification: false }, logging: { console: { level: '${options.logLevel ?? 'warn'}', metrics: false, audit: false } } };\n`,
  );
  const red = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_RED_ARGS ?? '').split(' ').filter(Boolean),
      require.resolve(`${nodeRed}/red.js`),
      '--userDir',
      userDir,
      '--settings',
      path.join(userDir, 'settings.js'),
    ],
    {
      stdio: ['ignore', options.onStdout ? 'pipe' : 'ignore', 'inherit'],
      env: {
        ...process.env,
        TWILIO_ACCOUNT: DEMO_ACCOUNT.sid,
        TWILIO_TOKEN: DEMO_ACCOUNT.authToken,
        NODE_RED_PUBLIC_URL: `http://127.0.0.1:${port}`,
        ...options.env,
      },
    },
  );
  if (options.onStdout) red.stdout!.on('data', options.onStdout);
  for (let waited = 0; waited < 60_000; waited += 250) {
    if (red.exitCode !== null) throw new Error(`Node-RED exited (${red.exitCode}) before its flows started`);
    const ready = await fetch(`http://127.0.0.1:${port}${options.readyPath ?? '/bench/plain'}`, {
      method: 'POST',
      body: 'Body=ping',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return red;
    await new Promise((r) => setTimeout(r, 250));
  }
  red.kill();
  throw new Error('Node-RED did not start its flows within 60 s');
}

/**
 * `dedupeTokens`: how many distinct idempotency tokens twilio-in's duplicate window holds before the
 * second measurement of the dedupe route (each request of the bench carries a fresh token, as Twilio's do).
 */
export async function webhookIntake(
  nodeRed: string,
  options: { seconds: number; rounds: number; connections: number; dedupeTokens: number },
): Promise<IntakeRow[]> {
  const port = await freePort();
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-bench-'));
  const red = await startNodeRed(port, userDir, nodeRed);
  try {
    const params = {
      AccountSid: DEMO_ACCOUNT.sid,
      MessageSid: 'SM' + '0'.repeat(32),
      From: '+15558675310',
      To: '+15017122661',
      Body: 'Lights off?',
      NumMedia: '0',
    };
    const body = new URLSearchParams(params).toString();
    const base = `http://127.0.0.1:${port}`;
    let token = 0;
    const target = (route: string, signed: boolean) => ({
      url: `${base}${route}`,
      method: 'POST',
      body,
      connections: options.connections,
      duration: options.seconds,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(signed ? { 'x-twilio-signature': twilio.getExpectedTwilioSignature(DEMO_ACCOUNT.authToken, `${base}${route}`, params) } : {}),
      },
      // Every request a token of its own, as Twilio's deliveries have: each one is new to the window.
      requests: [
        {
          setupRequest: (request: { headers: Record<string, string> }) => ({
            ...request,
            headers: { ...request.headers, 'i-twilio-idempotency-token': `bench-${token++}` },
          }),
        },
      ],
    });
    // Both warmed first (JIT, sockets); a wrong signature would show as non-2xx below, not as speed.
    await autocannon({ ...target('/bench/plain', false), duration: 2 });
    await autocannon({ ...target('/bench/twilio', true), duration: 2 });
    const results: Record<'core' | 'twilio', AutocannonResult[]> = { core: [], twilio: [] };
    for (let round = 0; round < options.rounds; round++) {
      results.core.push(await autocannon(target('/bench/plain', false)));
      results.twilio.push(await autocannon(target('/bench/twilio', true)));
    }
    const medianOf = (list: AutocannonResult[]) =>
      [...list].sort((a, b) => a.requests.average - b.requests.average)[Math.floor(list.length / 2)];
    const sum = (list: AutocannonResult[], pick: (r: AutocannonResult) => number) => list.reduce((n, r) => n + pick(r), 0);
    const row = (subject: string, list: AutocannonResult[], note?: string): IntakeRow => {
      const m = medianOf(list);
      return {
        subject,
        perSecond: m.requests.average,
        requests: sum(list, (r) => r.requests.total),
        non2xx: sum(list, (r) => r.non2xx),
        errors: sum(list, (r) => r.errors + r.timeouts),
        p99Ms: m.latency.p99,
        note,
      };
    };
    const core = row(
      'http in → template → http response',
      results.core,
      `median of ${options.rounds} rounds of ${options.seconds} s, ${options.connections} connections`,
    );
    const ours = row('twilio-in (signature checked) → twilio-reply', results.twilio);
    ours.note = `${(ours.perSecond / core.perSecond).toFixed(2)}× the core nodes' rate (target ≥ 0.8)`;

    // The duplicate window: webhooks per second with it empty, then with `dedupeTokens` remembered.
    token = 0;
    await autocannon({ ...target('/bench/dedupe', true), duration: 2 });
    const empty: AutocannonResult[] = [];
    for (let round = 0; round < options.rounds; round++) {
      token = 1_000_000_000 * (round + 1); // fresh tokens; the window is as good as empty
      empty.push(await autocannon(target('/bench/dedupe', true)));
    }
    token = 0;
    const { duration: _duration, ...filling } = target('/bench/dedupe', true);
    await autocannon({ ...filling, amount: options.dedupeTokens });
    const full: AutocannonResult[] = [];
    for (let round = 0; round < options.rounds; round++) full.push(await autocannon(target('/bench/dedupe', true)));
    const fresh = row('twilio-in, dedupe on, window starting empty', empty);
    const remembered = row(`twilio-in, dedupe on, ${options.dedupeTokens.toLocaleString('en')} tokens remembered`, full);
    remembered.note = `${(remembered.perSecond / fresh.perSecond).toFixed(2)}× the rate from an empty window`;
    return [core, ours, fresh, remembered];
  } finally {
    red.kill('SIGTERM');
    await new Promise((r) => red.once('exit', r));
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

/**
 * Webhooks per second through twilio-in with its duplicate window on a Redis, with `instances`
 * Node-RED processes on that one Redis (each driven directly, the connections split between them, as
 * a round-robin balancer would spread them; their rates summed), and the Redis round trips each
 * webhook costs: the commands the instances' clients sent, counted with MONITOR over `sample`
 * webhooks posted one at a time (a separate run: MONITOR slows Redis).
 */
export async function redisWebhookIntake(
  nodeRed: string,
  redisUrl: string,
  options: { seconds: number; rounds: number; connections: number; sample: number; instances?: number },
): Promise<IntakeRow[]> {
  const count = options.instances ?? 1;
  const reds: Array<{ red: ChildProcess; port: number; userDir: string }> = [];
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-bench-redis-'));
      reds.push({ red: await startNodeRed(port, userDir, nodeRed, { redisUrl }), port, userDir });
    }
    const params = {
      AccountSid: DEMO_ACCOUNT.sid,
      MessageSid: 'SM' + '1'.repeat(32),
      From: '+15558675310',
      To: '+15017122661',
      Body: 'On?',
    };
    const body = new URLSearchParams(params).toString();
    const urlOf = (port: number) => `http://127.0.0.1:${port}/bench/dedupe`;
    const headersOf = (port: number) => ({
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(DEMO_ACCOUNT.authToken, urlOf(port), params),
    });
    let token = 0;
    // Tokens no earlier run on this Redis used: each webhook is new to the shared window.
    const run = `${count}-${Date.now()}`;
    const target = (port: number) => ({
      url: urlOf(port),
      method: 'POST',
      body,
      connections: Math.max(1, Math.round(options.connections / count)),
      duration: options.seconds,
      headers: headersOf(port),
      requests: [
        {
          setupRequest: (request: { headers: Record<string, string> }) => ({
            ...request,
            headers: { ...request.headers, 'i-twilio-idempotency-token': `redis-bench-${run}-${token++}` },
          }),
        },
      ],
    });
    const round = async (duration = options.seconds) => {
      const results = await Promise.all(reds.map(({ port }) => autocannon({ ...target(port), duration })));
      return {
        perSecond: results.reduce((n, r) => n + r.requests.average, 0),
        total: results.reduce((n, r) => n + r.requests.total, 0),
        non2xx: results.reduce((n, r) => n + r.non2xx, 0),
        errors: results.reduce((n, r) => n + r.errors + r.timeouts, 0),
        p99: Math.max(...results.map((r) => r.latency.p99)),
      };
    };
    await round(2);
    const runs: Array<Awaited<ReturnType<typeof round>>> = [];
    for (let i = 0; i < options.rounds; i++) runs.push(await round());
    const median = [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)];
    const total = (pick: (r: Awaited<ReturnType<typeof round>>) => number) => runs.reduce((n, r) => n + pick(r), 0);

    const monitor = await redisMonitor(redisUrl);
    let ok = 0;
    for (let i = 0; i < options.sample; i++) {
      const { port } = reds[i % reds.length];
      const res = await fetch(urlOf(port), {
        method: 'POST',
        body,
        headers: { ...headersOf(port), 'i-twilio-idempotency-token': `redis-sample-${run}-${i}` },
      });
      if (res.ok) ok++;
      await res.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, 500));
    const { sent, inside } = monitor.stop();
    return [
      {
        subject: `twilio-in, dedupe on, window on Redis (${count} instance${count === 1 ? '' : 's'})`,
        perSecond: median.perSecond,
        requests: total((r) => r.total),
        non2xx: total((r) => r.non2xx),
        errors: total((r) => r.errors),
        p99Ms: median.p99,
        note: `median of ${options.rounds} rounds of ${options.seconds} s, ${options.connections} connections in all; ${(sent / options.sample).toFixed(2)} Redis round trips a webhook (${(inside / options.sample).toFixed(1)} commands run inside scripts; ${ok}/${options.sample} answered 2xx)`,
      },
    ];
  } finally {
    for (const { red, userDir } of reds) {
      red.kill('SIGTERM');
      await new Promise((r) => red.once('exit', r));
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  }
}

/**
 * Commands Redis was sent (round trips, pipelining aside) and those run inside its Lua scripts, since
 * the last reset; `byName`: the commands sent, by name (evalsha, publish, …).
 */
export interface RedisCounts {
  sent: number;
  inside: number;
  byName: Map<string, number>;
}

export interface RedisMonitor {
  reset(): void;
  counts(): RedisCounts;
  /** Stops counting; the counts since the last reset. */
  stop(): RedisCounts;
}

/**
 * Counts the commands every client sends a Redis with redis-cli's MONITOR (ioredis's monitor mode can
 * trip over its own queue under load); counting from 500 ms after it started. MONITOR slows Redis:
 * count in a run of its own, not one whose speed is measured.
 */
export async function redisMonitor(redisUrl: string): Promise<RedisMonitor> {
  const server = new URL(redisUrl);
  const monitor = spawn('redis-cli', ['-h', server.hostname, '-p', server.port, 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let sent = 0;
  let inside = 0;
  let byName = new Map<string, number>();
  let partial = '';
  monitor.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const command = /^\d+\.\d+ \[\d+ (\S+)\] "([^"]*)"/.exec(line);
      if (!command) continue;
      if (command[1] === 'lua') inside++;
      else {
        sent++;
        const name = command[2].toLowerCase();
        byName.set(name, (byName.get(name) ?? 0) + 1);
      }
    }
  });
  const reset = () => {
    sent = 0;
    inside = 0;
    byName = new Map();
  };
  await new Promise((r) => setTimeout(r, 500));
  reset();
  const counts = () => ({ sent, inside, byName });
  return {
    reset,
    counts,
    stop: () => {
      monitor.kill();
      return counts();
    },
  };
}
