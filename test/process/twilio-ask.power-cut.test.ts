/**
 * A power cut under twilio-ask, in a real red.js with the embedded state store (LMDB in its user dir):
 * 200 questions to 200 people, `kill -9` at a random moment while they are being asked, a restart,
 * `kill -9` again at a random moment while all are open, a restart; then some people answer (signed
 * webhooks to twilio-in, whose public URL stays the same across restarts) and the others' questions
 * time out. The simulator (Twilio) runs in this process and keeps every text it was asked to send.
 *
 * Promise: each question is committed as an intent before its text goes. After a restart, one whose
 * Sid was never written is looked up at Twilio: found, it waits on; not found (and still not found
 * RECONCILE_SETTLE_MS after the restart began looking), its msg ends NOT_SENT (seen by Catch) and its
 * question never opens. So every msg ends exactly once across all runs (an
 * answer, "no reply", or a coded error), no one gets the question twice, and each answer reaches its
 * own question. A msg Node-RED had in memory only (not yet committed) when the process died is lost
 * with the process, as every msg in flight in Node-RED is: it was never texted; the test asks those
 * people again, and counts them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import twilio from 'twilio';
import { RECONCILE_SETTLE_MS } from '../../lib/outbound/reconcile';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { sleep } from '../support/assertions';
import { CREDENTIALS, HOUSE, askFlow, postWebhook } from '../support/flows';
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { httpRequest } from '../../simulator/http-client';

const PEOPLE = 200;
const TIMEOUT_S = 40;
const PUBLIC = 'https://ask.example.com';
const RETRY = 1000;
const person = (n: number) => `+1555030${String(n).padStart(4, '0')}`;

/** What each person does: answers yes, answers no, or never answers (their question times out). */
const plan = (n: number): 'yes' | 'no' | 'silent' => (n % 4 === 0 ? 'yes' : n % 4 === 2 ? 'no' : 'silent');

interface Outcome {
  n: number;
  port?: number;
  outcome?: string;
  text?: string;
  sid?: string;
  error?: string;
}

function flows(simulatorUrl: string, log: string) {
  const label = (port: number) => ({
    id: `out${port}`,
    type: 'function',
    z: 'tab',
    func: `msg.payload = JSON.stringify({ n: msg.n, port: ${port}, outcome: msg.ask && msg.ask.outcome, sid: msg.ask && msg.ask.sid, text: msg.reply && msg.reply.text }); return msg;`,
    outputs: 1,
    wires: [['sink']],
  });
  return [
    ...askFlow(simulatorUrl, {
      publicBaseUrl: PUBLIC,
      timeout: TIMEOUT_S,
      unpack: 'msg.n = msg.payload.n; msg.to = msg.payload.to; msg.payload = msg.payload.payload; return msg;',
      label,
      news: {
        id: 'news',
        type: 'function',
        z: 'tab',
        func: 'msg.payload = JSON.stringify({ n: -1, news: msg.payload && msg.payload.From }); return msg;',
        outputs: 1,
        wires: [['sink']],
      },
    }),
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['failed']] },
    {
      id: 'failed',
      type: 'function',
      z: 'tab',
      func: 'msg.payload = JSON.stringify({ n: msg.n, error: (msg.error && msg.error.code) || "none", message: msg.error && msg.error.message }); return msg;',
      outputs: 1,
      wires: [['sink']],
    },
    {
      id: 'sink',
      type: 'file',
      z: 'tab',
      filename: log,
      filenameType: 'str',
      appendNewline: true,
      createDir: true,
      overwriteFile: 'false',
      wires: [],
    },
  ];
}

/**
 * Between Node-RED and the simulator: each request goes on at once, and Twilio's answer to a new
 * message comes back `delayMs` late, so a kill finds texts that Twilio created and whose Sid Node-RED
 * never heard (`pending` counts them).
 */
function slowAnswers(target: () => string) {
  const proxy = { delayMs: 0, pending: 0, url: '', server: undefined as http.Server | undefined };
  proxy.server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const creating = req.method === 'POST' && /\/Messages\.json$/.test(req.url ?? '');
      try {
        const answer = await httpRequest(`${target()}${req.url}`, {
          method: req.method,
          headers: Object.fromEntries(
            Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
          ) as Record<string, string>,
          body: req.method === 'GET' ? undefined : Buffer.concat(chunks),
        });
        const body = answer.body;
        if (creating && proxy.delayMs > 0) {
          proxy.pending++;
          await sleep(proxy.delayMs);
          proxy.pending--;
        }
        res.writeHead(answer.status, { 'Content-Type': answer.contentType ?? 'application/json' });
        res.end(body);
      } catch {
        res.destroy();
      }
    });
  });
  return {
    proxy,
    start: () =>
      new Promise<void>((resolve) =>
        proxy.server!.listen(0, '127.0.0.1', () => {
          proxy.url = `http://127.0.0.1:${(proxy.server!.address() as AddressInfo).port}`;
          resolve();
        }),
      ),
    stop: () => new Promise<void>((resolve) => proxy.server!.close(() => resolve())),
  };
}

describe('a real Node-RED: kill -9 while 200 questions are asked and open', { timeout: 240_000 }, () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  const slow = slowAnswers(() => simulator.url);
  before(async () => {
    await simulator.start();
    await slow.start();
  });
  after(async () => {
    slow.proxy.server?.closeAllConnections();
    await slow.stop();
    await simulator.stop();
  });
  let red: RedProcess | undefined;
  // The flow's log lives outside Node-RED's user dir (which each restart keeps), removed after the file.
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ask-cut-'));
  after(async () => {
    await red?.stop();
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('every msg ends exactly once across the runs, no one is asked twice, each answer reaches its own question', async () => {
    const log = path.join(logDir, 'outcomes.log');
    red = await startRed(flows(slow.proxy.url, log), CREDENTIALS);
    const outcomes = (): Outcome[] =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Outcome)
        : [];
    const texts = (n: number) => [...simulator.messages.values()].filter((m) => m.to === person(n) && m.direction !== 'inbound');
    /** Asks person `n`; the msg is `n` (`RETRY + n` when the flow asks again after NOT_SENT). */
    const ask = (n: number, msg = n) =>
      httpRequest(`${red!.url}/ask`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ n: msg, to: person(n), payload: `Is door ${n} shut?` }),
      }).then(
        (r) => r.status,
        () => 0,
      );
    const facts: Record<string, number> = {};

    // 1. The burst, Twilio's answers a little late; kill -9 at a random moment within it (once 20 to 120 texts went).
    slow.proxy.delayMs = 40;
    const burst = Array.from({ length: PEOPLE }, (_, n) => ask(n));
    const killAt = 20 + Math.floor(Math.random() * 100);
    const textedNow = () => Array.from({ length: PEOPLE }, (_, n) => n).filter((n) => texts(n).length > 0).length;
    for (let w = 0; textedNow() < killAt && w < 30_000; w += 5) await sleep(5);
    facts.inFlightAtFirstKill = slow.proxy.pending;
    await red.kill();
    facts.textedBeforeFirstKill = textedNow();
    await Promise.all(burst);
    slow.proxy.delayMs = 0;

    // 2. Restart: intents reconciled. Who was never committed (lost with the process), or whose msg
    // ended NOT_SENT (safe to send again, as a flow would), is asked again, by a new msg.
    red = await restartRed(red);
    // A question not found at Twilio ends NOT_SENT only RECONCILE_SETTLE_MS after the restarted node
    // began looking (a create may still be made there): quiet before that is not the end of the reconcile.
    await sleep(RECONCILE_SETTLE_MS);
    const settled = async () => {
      for (let last = -1, still = 0; still < 10;) {
        await sleep(200);
        const now = simulator.requests.length + outcomes().length;
        still = now === last ? still + 1 : 0;
        last = now;
      }
    };
    await settled();
    const ended = (n: number) => outcomes().filter((o) => o.n === n);
    const lost = Array.from({ length: PEOPLE }, (_, n) => n).filter((n) => texts(n).length === 0 && ended(n).length === 0);
    facts.lostInMemoryAtFirstKill = lost.length;
    facts.notSentAfterFirstKill = outcomes().filter((o) => o.error === 'NOT_SENT').length;
    for (const n of lost) assert.equal(await ask(n), 200);
    const retried = new Set(Array.from({ length: PEOPLE }, (_, n) => n).filter((n) => ended(n).some((o) => o.error === 'NOT_SENT')));
    for (const n of retried) assert.equal(await ask(n, RETRY + n), 200);
    const open = () => Array.from({ length: PEOPLE }, (_, n) => n).filter((n) => texts(n).length > 0).length;
    for (let w = 0; open() < PEOPLE && w < 30_000; w += 100) await sleep(100);
    assert.equal(open(), PEOPLE, 'every person was asked');

    // 3. kill -9 while all are open, at a random moment; restart.
    await sleep(Math.floor(Math.random() * 1_500));
    await red.kill();
    red = await restartRed(red);
    await settled();

    // 4. Some answer (signed webhooks, each a fresh Sid); the others' questions time out.
    let replies = 0;
    const answer = async (n: number, body: string) => {
      const params = {
        MessageSid: `SM${String(++replies).padStart(32, 'a')}`,
        AccountSid: DEMO_ACCOUNT.sid,
        From: person(n),
        To: HOUSE,
        Body: body,
      };
      const signature = twilio.getExpectedTwilioSignature(DEMO_ACCOUNT.authToken, `${PUBLIC}/sms`, params);
      const res = await postWebhook(`${red!.url}/sms`, params, signature, { token: null });
      assert.equal(res.status, 200, `the webhook was taken: ${await res.text()}`);
    };
    for (let n = 0; n < PEOPLE; n++) if (plan(n) !== 'silent') await answer(n, plan(n) === 'yes' ? 'Yes' : 'No');
    const expected = PEOPLE + retried.size;
    for (let w = 0; outcomes().filter((o) => o.n >= 0).length < expected && w < (TIMEOUT_S + 30) * 1000; w += 250) await sleep(250);
    await sleep(1_000); // a second end would come now

    // Every msg ends exactly once, across the runs.
    const all = outcomes();
    const diagnosis = () =>
      `(${all.length} outcomes, ${JSON.stringify(facts)}); Node-RED's log:\n${red!.log().split('\n').slice(-30).join('\n')}`;
    for (let n = 0; n < PEOPLE; n++) {
      const first = all.filter((o) => o.n === n);
      const retry = all.filter((o) => o.n === RETRY + n);
      assert.equal(first.length, 1, `person ${n}'s msg ends exactly once: ${JSON.stringify(first)} ${diagnosis()}`);
      assert.equal(retry.length, retried.has(n) ? 1 : 0, `person ${n}'s second msg ends exactly once: ${JSON.stringify(retry)}`);
      const sent = texts(n);
      assert.equal(sent.length, 1, `person ${n} was asked once, not ${sent.length} times`);
      if (first[0].error) {
        assert.equal(first[0].error, 'NOT_SENT', `a coded error: ${JSON.stringify(first[0])}`);
        assert.ok(retried.has(n), `NOT_SENT only for a question Twilio had no record of (person ${n})`);
      }
      const [o] = retried.has(n) ? retry : first;
      assert.equal(o.error, undefined, `person ${n}'s question: ${JSON.stringify(o)}`);
      assert.equal(o.sid, sent[0].sid, `person ${n}'s msg carries the Sid of their own question`);
      if (plan(n) === 'silent') assert.deepEqual([o.port, o.outcome], [3, 'no-reply'], `person ${n} timed out`);
      else
        assert.deepEqual(
          [o.port, o.outcome, o.text],
          plan(n) === 'yes' ? [0, 'answered', 'Yes'] : [1, 'answered', 'No'],
          `person ${n}'s answer reached their question`,
        );
    }
    assert.deepEqual(
      all.filter((o) => o.n === -1),
      [],
      'no answer was passed on as news',
    );
    assert.ok(red.alive(), 'Node-RED is running');
    facts.notSent = all.filter((o) => o.error === 'NOT_SENT').length;
    facts.askedAgain = retried.size;
    facts.answered = all.filter((o) => o.outcome === 'answered').length;
    facts.timedOut = all.filter((o) => o.outcome === 'no-reply').length;
    console.log(`power cut under twilio-ask: ${JSON.stringify(facts)}`);
  });
});
