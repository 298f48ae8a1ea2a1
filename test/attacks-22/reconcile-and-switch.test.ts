/**
 * Attacks on issue #22 (reconcile after a crash, and the account's backend changed), with real red.js
 * processes, the simulator, a real redis-server, and a small proxy in front of the simulator that can
 * lose a request (the power went before it left) or its answer (the power went after Twilio made the
 * text, before its Sid was written).
 *
 * Holds (passing):
 * 3. This machine's clock ahead of Twilio's by more than the reconcile window (a Raspberry Pi whose
 *    RTC keeps local time east of UTC, before NTP): a text Twilio made must not be judged NOT_SENT
 *    (the flow would send it again: the person gets it twice).
 * 4. The same alarm text twice within five minutes, the second one's request lost at the power cut:
 *    reconcile must not take the first text (ended before the cut) as the second's and report the
 *    second delivered (an alert the person never got). a full or a nodes redeploy while a reconcile retries (Twilio cannot be asked)
 *    ends the msg once, with its text found, and the deploy is not held up.
 * 5. The account node moved from the embedded store to Redis (or back) while outcome waits are stored:
 *    they are never resumed and nothing says so.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { setClockSkew } from '../../simulator/resources';
import { eventually as until, sleep } from '../support/assertions';
import { CREDENTIALS, deployFlows, endings, logFiles, outcomeFlow, postJson, recorderSettings } from '../support/flows';
import { freePort } from '../support/prism';
import { RedProcess, restartRed, startRed } from '../support/red-process';
import { noRedis, startRedis, type RedisServer } from '../support/redis';
import { httpRequest } from '../../simulator/http-client';

/** In front of the simulator: passes everything, or loses the next message create before or after Twilio had it. */
async function startCutter(target: string) {
  const port = await freePort();
  let mode: 'pass' | 'lose-request' | 'lose-answer' | 'fail-lists' = 'pass';
  const lost: string[] = [];
  const refused = { lists: 0 };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const create = req.method === 'POST' && /\/Messages\.json$/.test(req.url ?? '');
    if (mode === 'fail-lists' && req.method === 'GET' && /\/Messages\.json/.test(req.url ?? '')) {
      refused.lists++;
      res.writeHead(503, { 'content-type': 'application/json' });
      return res.end('{"code":20503,"message":"Service Unavailable","status":503}');
    }
    if (create && mode === 'lose-request') {
      lost.push(body.toString());
      return; // never forwarded, never answered: the power goes now
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
    const answer = await httpRequest(target + req.url, { method: req.method, headers, body: chunks.length ? body : undefined });
    const text = answer.body;
    if (create && mode === 'lose-answer') {
      lost.push(body.toString());
      return; // Twilio made it; its answer never comes back
    }
    // Twilio's Date header passes as a network passes it (it tells this machine's offset to Twilio's clock).
    const date = answer.headers.date;
    res.writeHead(answer.status, {
      'content-type': answer.contentType ?? 'application/json',
      ...(date ? { date } : {}),
    });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    lost,
    refused,
    set: (m: typeof mode) => (mode = m),
    stop: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

const settingsFor = (logFile: string) => recorderSettings({ logFile });
const flows = (baseUrl: string, account: Record<string, unknown> = {}): object[] =>
  outcomeFlow(baseUrl, 'msg.id = msg.payload.id; msg.to = msg.payload.to; msg.text = msg.payload.text;', { account });
const go = (red: RedProcess, id: number, to: string, text: string) => postJson(`${red.url}/go`, { id, to, text });

describe('reconcile after a power cut, and a changed backend', { timeout: 120_000 }, () => {
  const HELD = '+15555553999';
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: { [HELD]: { message: 'sent' as const } } });
  let cutter: Awaited<ReturnType<typeof startCutter>>;
  const reds: RedProcess[] = [];
  const logs = logFiles();
  const logFile = () => logs.next();
  const started = (red: RedProcess) => (reds.push(red), red);
  /** Node-RED on `flows`, recording to `file`; stopped after the suite. */
  const start = async (flows: object[], file: string) => started(await startRed(flows, CREDENTIALS, settingsFor(file)));
  /** Node-RED again on the user dir `red` (killed) left. */
  const restart = async (red: RedProcess, file: string) => started(await restartRed(red, settingsFor(file)));
  const texts = (to: string, body: string) => [...simulator.messages.values()].filter((m) => m.to === to && m.body === body);
  before(async () => {
    await simulator.start();
    cutter = await startCutter(simulator.url);
  });
  after(async () => {
    for (const red of reds) await red.stop();
    await cutter.stop();
    await simulator.stop();
    logs.remove();
  });

  // The reconcile window is read on Twilio's clock, its offset learnt from the Date header of the reconcile's own list.
  it("does not call a text Twilio made NOT_SENT when this machine's clock is 10 minutes ahead", async () => {
    const file = logFile();
    const TO = '+15555553101';
    let red = await start(flows(cutter.url), file);
    setClockSkew(-10 * 60_000);
    try {
      cutter.set('lose-answer');
      await go(red, 1, TO, 'Water leak in the cellar');
      await until('Twilio made the text', () => texts(TO, 'Water leak in the cellar').length === 1);
      await sleep(300);
      await red.kill();
      cutter.set('pass');
      red = await restart(red, file);
      await until('msg 1 ended', () => endings(file).get('1'));
      await sleep(1_000);
      const ended = endings(file).get('1');
      assert.notDeepEqual(ended, ['error NOT_SENT'], 'a text Twilio has, reported NOT_SENT: the flow sends it again');
    } finally {
      setClockSkew(0);
    }
  });

  // The first text after a boot (no answer before it) looks at Twilio's clock first: its intent keeps the offset.
  it('does not call the first text after a boot an hour ahead NOT_SENT when NTP set the clock before the restart', async () => {
    const file = logFile();
    const TO = '+15555553103';
    let red = await start(flows(cutter.url), file);
    setClockSkew(-3_600_000); // this machine an hour ahead of Twilio
    try {
      cutter.set('lose-answer');
      await go(red, 1, TO, 'Smoke in the kitchen');
      await until('Twilio made the text', () => texts(TO, 'Smoke in the kitchen').length === 1);
      await sleep(300);
      await red.kill();
      setClockSkew(0); // NTP set this machine's clock right before Node-RED came back (relative to Twilio's, the same)
      cutter.set('pass');
      red = await restart(red, file);
      await until('msg 1 ended', () => endings(file).get('1'));
      await sleep(1_000);
      const ended = endings(file).get('1');
      assert.equal(ended?.length, 1, JSON.stringify(ended));
      assert.notDeepEqual(ended, ['error NOT_SENT'], 'a text Twilio has, reported NOT_SENT: the flow sends it again');
    } finally {
      setClockSkew(0);
    }
  });

  // The Sids of intents (their waits ended since) are claimed in the account's engine: reconcile passes over them.
  it('does not report a repeated alarm delivered when its own text never went', async () => {
    const file = logFile();
    const TO = '+15555553102';
    const ALARM = 'Smoke alarm: kitchen';
    const red = await start(flows(cutter.url), file);
    await go(red, 1, TO, ALARM);
    await until('the first alarm delivered and its msg ended', () => endings(file).get('1')?.includes('out1 delivered'));
    cutter.set('lose-request');
    const lostBefore = cutter.lost.length; // (earlier tests lost answers too)
    await go(red, 2, TO, ALARM);
    await until("the second alarm's request on its way", () => cutter.lost.length === lostBefore + 1);
    await sleep(300);
    await red.kill();
    cutter.set('pass');
    await restart(red, file);
    await until('msg 2 ended', () => endings(file).get('2'), 30_000);
    const made = texts(TO, ALARM).length;
    assert.equal(made, 1, 'Twilio made one text');
    assert.notDeepEqual(endings(file).get('2'), ['out1 delivered'], `msg 2 reported delivered with ${made} text for two alarms`);
  });

  for (const deployment of ['full', 'nodes'] as const) {
    it(`ends a msg whose intent is being reconciled once when a ${deployment} redeploy comes meanwhile`, async () => {
      const file = logFile();
      const TO = deployment === 'full' ? '+15555553103' : '+15555553104';
      const BODY = `Door open ${deployment}`;
      let red = await start(flows(cutter.url), file);
      cutter.set('lose-answer');
      await go(red, 1, TO, BODY);
      await until('Twilio made the text', () => texts(TO, BODY).length === 1);
      await sleep(300);
      await red.kill();
      cutter.set('fail-lists'); // Twilio cannot be asked: the reconcile tries again and again
      red = await restart(red, file);
      await sleep(1_500);
      // The operator deploys (a changed text elsewhere): the same flows, every node restarted.
      const next = flows(cutter.url).map((n: any) => (n.id === 'prep' ? { ...n, name: 'changed' } : n));
      const started = Date.now();
      const res = await deployFlows(
        red.url,
        deployment === 'nodes' ? next.map((n: any) => (n.id === 'send' ? { ...n, name: 'changed' } : n)) : next,
        deployment,
      );
      assert.equal(res.status, 204, await res.text());
      const deployMs = Date.now() - started;
      await sleep(1_000);
      assert.ok(cutter.refused.lists > 0, 'the restart tried to reconcile while Twilio could not be asked');
      cutter.set('pass');
      await until('msg 1 ended', () => endings(file).get('1'), 30_000);
      await sleep(2_000);
      assert.ok(red.alive(), 'Node-RED is up');
      assert.ok(deployMs < 10_000, `the deploy took ${deployMs} ms`);
      assert.equal(texts(TO, BODY).length, 1, 'one text');
      assert.equal(endings(file).get('1')!.length, 1, `msg 1 ended once: ${JSON.stringify(endings(file).get('1'))}`);
      assert.notEqual(endings(file).get('1')![0], 'error NOT_SENT', 'its text exists: not NOT_SENT');
    });
  }

  it('says so when waits are left in the store the account node no longer uses', { skip: noRedis }, async () => {
    const file = logFile();
    let redis: RedisServer | undefined;
    try {
      redis = await startRedis();
      let red = await start(flows(simulator.url), file);
      for (let id = 1; id <= 3; id++) await go(red, id, HELD, `held ${id}`);
      await until('three texts', () => [1, 2, 3].every((id) => texts(HELD, `held ${id}`).length === 1));
      await sleep(1_000);
      await red.kill();
      // The operator turns on "Shared state: Redis" (to add a second instance) and deploys.
      fs.writeFileSync(
        path.join(red.userDir, 'flows.json'),
        JSON.stringify(flows(simulator.url, { stateBackend: 'redis', redisUrl: redis.url })),
      );
      for (let id = 1; id <= 3; id++) Object.assign(texts(HELD, `held ${id}`)[0], { status: 'delivered' });
      red = await restart(red, file);
      // Up to 8 s for the restart to end the three msgs or to say they were left behind (both only grow).
      const settled = () => endings(file).size === 3 || /twilio-state|embedded|left behind|not moved/i.test(red.log());
      for (const deadline = Date.now() + 8_000; !settled() && Date.now() < deadline;) await sleep(50);
      const told = /twilio-state|embedded|left behind|not moved/i.test(red.log());
      assert.ok(
        endings(file).size === 3 || told,
        `3 msgs waiting in the embedded store: ${endings(file).size} ended, and the log says nothing:\n${red.log().slice(-1500)}`,
      );
    } finally {
      await redis?.stop();
    }
  });
});
