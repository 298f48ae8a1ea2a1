/**
 * A power cut mid-page (issue #22): a real red.js process pages three people who never answer (a
 * text, then a call, each), and is killed with SIGKILL three times, each restart on the same user
 * dir and its embedded store:
 *   1. right after the first step's request left (Twilio takes it after the process died: found);
 *   2. during a step's wait (the call placed, its Sid stored);
 *   3. during the second contact, while its call's request is in flight and Twilio never takes it
 *      (no record: the one step that goes again).
 * While it is down the second time, damaged page records are written into its store: the restart
 * sets them aside (logged once) and runs on. Every assertion is on what Twilio (the simulator in this
 * process) received and what the flow got out of the page.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedStateEngine } from '../../lib/state/embedded';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { freePort } from '../support/prism';
import { CREDENTIALS, TAB, accountConfig } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';

const ALICE = '+15555550131';
const BOB = '+15555550132';
const CAROL = '+15555550133';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `check` to hold, up to `ms`; fails with `what` and Node-RED's last lines. */
async function until(what: string, check: () => boolean, red: () => RedProcess | undefined, ms = 20_000): Promise<void> {
  for (let waited = 0; !check(); waited += 25) {
    if (waited > ms) assert.fail(`${what}; Node-RED's log:\n${red()?.log().split('\n').slice(-20).join('\n') ?? ''}`);
    await sleep(25);
  }
}

interface Create {
  kind: 'message' | 'call';
  to: string;
  at: number;
  /** Never answered and never taken by Twilio (no record). */
  swallowed?: true;
}

describe('a real Node-RED: kill -9 mid-page, three times', { timeout: 150_000 }, () => {
  const simulator = new TwilioSimulator({
    accounts: [DEMO_ACCOUNT],
    // People who never answer: each text is delivered, each call rings out.
    people: Object.fromEntries([ALICE, BOB, CAROL].map((n) => [n, { message: 'delivered', call: 'no-answer' }])),
  });
  /** Every create of a text or call that reached Twilio, in order (with the one swallowed). */
  const creates: Create[] = [];
  /** The next create of this kind is swallowed: Twilio hears it, never answers it, keeps no record. */
  let swallow: Create['kind'] | undefined;
  /** What the page's outputs sent out of Node-RED. */
  const outputs: Array<{ port: number; page: { history: Array<Record<string, string>>; steps: number } }> = [];
  const out = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      outputs.push(JSON.parse(body) as (typeof outputs)[number]);
      res.end('ok');
    });
  });
  let outPort = 0;

  before(async () => {
    await simulator.start();
    // Twilio's side of each create, as it arrives (before the simulator's latency, before its record).
    const sim = simulator as unknown as { handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> };
    const handle = sim.handle.bind(simulator);
    sim.handle = async (req, res) => {
      const kind = /\/Messages\.json$/.test(req.url ?? '') ? 'message' : /\/Calls\.json$/.test(req.url ?? '') ? 'call' : undefined;
      if (req.method !== 'POST' || !kind) return handle(req, res);
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const to = new URLSearchParams(body.toString()).get('To') ?? '';
      if (swallow === kind) {
        swallow = undefined;
        // No answer, no record: the client waits until its process dies.
        return void creates.push({ kind, to, at: Date.now(), swallowed: true });
      }
      creates.push({ kind, to, at: Date.now() });
      // The simulator reads the body again: the request as it came, its body replayed.
      const replay = Object.create(req, {
        [Symbol.asyncIterator]: {
          value: async function* () {
            yield body;
          },
        },
      }) as http.IncomingMessage;
      return handle(replay, res);
    };
    outPort = await freePort();
    await new Promise<void>((resolve) => out.listen(outPort, '127.0.0.1', resolve));
  });
  after(async () => {
    await simulator.stop();
    await new Promise((r) => out.close(r));
  });

  const flows = (triggerPath: string) => [
    TAB,
    accountConfig(simulator.url),
    { id: 'trigger', type: 'http in', z: 'tab', url: triggerPath, method: 'post', wires: [['page', 'answer']] },
    { id: 'answer', type: 'http response', z: 'tab', statusCode: '202', wires: [] },
    {
      id: 'page',
      type: 'twilio-page',
      z: 'tab',
      account: 'account',
      contacts: `Alice ${ALICE}, Bob ${BOB}, Carol ${CAROL}`,
      contactsType: 'str',
      alarmId: 'smoke',
      alarmIdType: 'str',
      alert: 'Smoke in the {{payload.room}}.',
      steps: [
        { action: 'text', wait: 2 },
        { action: 'call', wait: 5 },
      ],
      rounds: 1,
      wires: [['port0'], ['port1'], ['port2']],
    },
    ...[0, 1, 2].map((port) => ({
      id: `port${port}`,
      type: 'function',
      z: 'tab',
      func: `msg.payload = { port: ${port}, page: msg.page }; msg.headers = { 'content-type': 'application/json' }; return msg;`,
      outputs: 1,
      wires: [['report']],
    })),
    { id: 'report', type: 'http request', z: 'tab', method: 'POST', ret: 'txt', url: `http://127.0.0.1:${outPort}/out`, wires: [] },
  ];

  it('reaches every contact in order, sends no step twice but the one Twilio never took, and ends the msg once', async () => {
    let red: RedProcess | undefined = await startRed(flows('/smoke'), CREDENTIALS);
    const current = () => red;
    /** Each run's log, kept as it is killed. */
    const logs: string[] = [];
    const cut = async () => {
      logs.push(red!.log());
      await red!.kill();
    };
    const userDir = red.userDir;
    const created = (kind: Create['kind'], to: string) => creates.filter((c) => c.kind === kind && c.to === to);
    const records = (kind: 'messages' | 'calls', to: string) => [...simulator[kind].values()].filter((r) => r.to === to);
    try {
      // 1. The first step's request leaves; Twilio takes it slowly, after the power cut.
      simulator.latencyMs = 1_500;
      const started = await fetch(`${red.url}/smoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'kitchen' }),
      });
      assert.equal(started.status, 202);
      await until('the first text to be on its way', () => created('message', ALICE).length === 1, current);
      await cut();
      await until("Twilio to take the dead process's text", () => records('messages', ALICE).length === 1, current);
      simulator.latencyMs = 0;

      // 2. Restarted: the text is found (not sent again), its wait ends, Alice is called; cut during that call's wait.
      red = await restartRed(red);
      await until("Alice's call", () => records('calls', ALICE).length === 1, current);
      await sleep(500); // its Sid stored; the page waits to learn its end
      await cut();
      await writeDamagedPages(userDir);

      // 3. Restarted: Alice's call is watched to its end, Bob texted, and Bob's call never reaches a record.
      swallow = 'call';
      red = await restartRed(red);
      await until("Bob's call to be on its way", () => created('call', BOB).length === 1, current);
      await sleep(200);
      await cut();

      // 4. Restarted: Bob's call is not at Twilio, so it is placed now; then Carol; the page ends exhausted.
      red = await restartRed(red);
      await until('the page to end', () => outputs.length === 1, current, 45_000);
      await sleep(1_500); // a second end, or a step sent late, would come by now
      assert.ok(red.alive(), 'Node-RED runs');
      await cut();
      const log = logs.join('\n');

      // Every contact reached, in order: a text, then a call, each.
      const order = creates.map((c) => `${c.kind} ${c.to}${c.swallowed ? ' (swallowed)' : ''}`);
      assert.deepEqual(order, [
        `message ${ALICE}`,
        `call ${ALICE}`,
        `message ${BOB}`,
        `call ${BOB} (swallowed)`,
        `call ${BOB}`,
        `message ${CAROL}`,
        `call ${CAROL}`,
      ]);
      // No step sent twice, but Bob's call, whose first request Twilio never took (no record of it).
      for (const to of [ALICE, BOB, CAROL]) {
        assert.equal(records('messages', to).length, 1, `one text to ${to}`);
        assert.equal(records('calls', to).length, 1, `one call to ${to}`);
      }
      // The page's msg ended once, exhausted, with every step's outcome, each with Twilio's Sid.
      assert.equal(outputs.length, 1);
      assert.equal(outputs[0].port, 1, 'exhausted');
      const history = outputs[0].page.history;
      assert.deepEqual(
        history.map((h) => [h.name, h.action, h.outcome]),
        [
          ['Alice', 'text', 'sent'],
          ['Alice', 'call', 'no-answer'],
          ['Bob', 'text', 'sent'],
          ['Bob', 'call', 'no-answer'],
          ['Carol', 'text', 'sent'],
          ['Carol', 'call', 'no-answer'],
        ],
      );
      const sids = [ALICE, BOB, CAROL].flatMap((to) => [records('messages', to)[0].sid, records('calls', to)[0].sid]);
      assert.deepEqual(
        history.map((h) => h.sid),
        sids,
      );
      // The damaged records: set aside, said once, never resumed (no other page ran).
      assert.equal(log.match(/stored waits found damaged/g)?.length, 1, `said once; log:\n${log}`);
      const engine = new EmbeddedStateEngine({ dir: path.join(userDir, 'twilio-state') });
      try {
        const keys = (await engine.scan('node/page/', 1_000)).map((r) => r.key);
        assert.equal(keys.filter((k) => k.startsWith('node/page/twilio-page-')).length, 0, 'the page is gone from the store');
        assert.equal(
          keys.filter((k) => k.startsWith('node/page/damaged-twilio-page-')).length,
          DAMAGES.length,
          'every damaged record set aside',
        );
      } finally {
        await engine.close();
      }
    } finally {
      if (red) await red.stop();
    }
  });

  it('kill -9 at random moments, three times (Twilio slow): every step sent once, in order, and the msg ends once', async () => {
    simulator.reset();
    creates.length = 0;
    outputs.length = 0;
    const seed = Number(process.env.PAGE_CUT_SEED) || Date.now() % 100_000;
    let state = seed;
    const random = () => (state = (state * 48_271) % 2_147_483_647) / 2_147_483_647;
    let red: RedProcess | undefined = await startRed(flows('/alarm'), CREDENTIALS);
    const current = () => red;
    const records = (kind: 'messages' | 'calls', to: string) => [...simulator[kind].values()].filter((r) => r.to === to);
    const moments: number[] = [];
    const said = () => `seed ${seed} (PAGE_CUT_SEED), cuts after ${moments.join(', ')} ms; creates: ${JSON.stringify(creates)}`;
    try {
      // Every request waits a little at Twilio: a cut lands on one in flight as often as not.
      simulator.latencyMs = 300;
      await fetch(`${red.url}/alarm`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'attic' }),
      });
      for (let cut = 0; cut < 3 && outputs.length === 0; cut++) {
        const after = 300 + Math.floor(random() * 5_000);
        moments.push(after);
        await sleep(after);
        if (outputs.length > 0) break;
        await red.kill();
        red = await restartRed(red);
      }
      await until(`the page to end; ${said()}`, () => outputs.length === 1, current, 60_000);
      await sleep(1_500);
      simulator.latencyMs = 0;
      assert.ok(red.alive(), 'Node-RED runs');
      assert.equal(outputs.length, 1, `the msg ended once; ${said()}`);
      assert.equal(outputs[0].port, 1, 'exhausted');
      assert.deepEqual(
        outputs[0].page.history.map((h) => [h.name, h.action]),
        [
          ['Alice', 'text'],
          ['Alice', 'call'],
          ['Bob', 'text'],
          ['Bob', 'call'],
          ['Carol', 'text'],
          ['Carol', 'call'],
        ],
        said(),
      );
      // Every request that reached Twilio became its record, and each step is one request: none twice.
      assert.deepEqual(
        creates.map((c) => `${c.kind} ${c.to}`),
        [ALICE, BOB, CAROL].flatMap((to) => [`message ${to}`, `call ${to}`]),
        said(),
      );
      for (const to of [ALICE, BOB, CAROL]) {
        assert.equal(records('messages', to).length, 1, `one text to ${to}; ${said()}`);
        assert.equal(records('calls', to).length, 1, `one call to ${to}; ${said()}`);
      }
    } finally {
      simulator.latencyMs = 0;
      if (red) await red.stop();
    }
  });
});

/** Shapes a hand edit or a half-written record can take: a contact null, steps missing, a wrong type in each field. */
const DAMAGES: Array<(page: Record<string, unknown>) => void> = [
  (p) => ((p.contacts as unknown[])[0] = null),
  (p) => delete p.step,
  (p) => delete p.history,
  (p) => (p.intent = { action: 'call' }),
  ...[
    'alarmId',
    'msg',
    'spoken',
    'contacts',
    'round',
    'contact',
    'step',
    'stepEnds',
    'texted',
    'alerted',
    'history',
    'merged',
    'startedAt',
  ].map((field) => (p: Record<string, unknown>) => (p[field] = typeof p[field] === 'string' ? 42 : 'x')),
];

/** Writes damaged copies of the stored page into the store of a Node-RED that is down. */
async function writeDamagedPages(userDir: string): Promise<void> {
  const engine = new EmbeddedStateEngine({ dir: path.join(userDir, 'twilio-state') });
  try {
    const [stored] = await engine.scan('node/page/twilio-page-', 10);
    assert.ok(stored, 'the page is stored');
    for (const [i, damage] of DAMAGES.entries()) {
      const copy = JSON.parse(JSON.stringify(stored.value)) as Record<string, unknown>;
      damage(copy);
      await engine.put(`node/page/twilio-page-damaged${i}`, copy);
    }
  } finally {
    await engine.close();
  }
}
