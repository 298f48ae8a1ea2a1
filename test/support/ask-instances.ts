/**
 * Two real red.js processes (A and B) on one redis-server, each running the asking flow (flows.ts
 * askFlow, its account node on Redis), Twilio's webhooks through the round-robin proxy, the simulator
 * as Twilio; both record every ending to one log file (" on A", " on B"). The question board's
 * attacks across instances (test/attacks-25/board-instances*.test.ts) use it.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';
import { eventually } from './assertions';
import { CREDENTIALS, askFlow, logFiles, recorder, recorderSettings } from './flows';
import { startProxy, type RoundRobinProxy } from './proxy';
import { type RedProcess, startRed } from './red-process';
import { startRedis, type RedisServer } from './redis';

export interface AskInstances {
  simulator: TwilioSimulator;
  /** The log file both record to. */
  logFile: string;
  /** A and B. */
  reds: RedProcess[];
  readonly proxy: RoundRobinProxy;
  readonly redis: RedisServer;
  /** Asks `person` on A (POST to A itself); resolves once the question's text exists (its index record is written before it goes). */
  askOnA(id: string, person: string): Promise<void>;
  /** The person texts `body` to the house; Twilio posts it to the proxy. Answers the webhook's status and how long it took. */
  text(from: string, body: string): Promise<{ sid: string; status?: number; ms: number }>;
}

/**
 * Inside a suite: A and B started before its tests, the proxy pointed at `proxied` (both, or B alone:
 * an answer lands where its question is not held); all stopped after them. `onRedis` is told the
 * server once it runs; `stopping()` is called first after the tests.
 */
export function askInstancesOnRedis(opts: {
  proxied: 'both' | 'B';
  onRedis?: (redis: RedisServer) => void;
  stopping?: () => void;
}): AskInstances {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  const files = logFiles();
  const logFile = files.next();
  let redis: RedisServer;
  let proxy: RoundRobinProxy;
  const reds: RedProcess[] = [];

  before(async () => {
    await simulator.start();
    redis = await startRedis();
    opts.onRedis?.(redis);
    proxy = await startProxy([]);
    const flows = askFlow(simulator.url, {
      publicBaseUrl: proxy.url,
      timeout: 60,
      unpack: 'msg.id = msg.payload.id; msg.to = msg.payload.to; msg.payload = msg.payload.text; return msg;',
      label: (port) => recorder(`out${port}`, `out${port}`, `'-'`),
      news: recorder('news', 'news', 'msg.payload.Body.replace(/ /g, "_")', 'msg.payload.MessageSid'),
    }).map((node) => ((node as { id?: string }).id === 'account' ? { ...node, stateBackend: 'redis', redisUrl: redis.url } : node));
    reds.push(
      ...(await Promise.all(['A', 'B'].map((name) => startRed(flows, CREDENTIALS, recorderSettings({ logFile, instance: name }))))),
    );
    proxy.targets.push(...(opts.proxied === 'both' ? reds.map((r) => r.url) : [reds[1].url]));
  });
  after(async () => {
    opts.stopping?.();
    await proxy?.close();
    await Promise.all(reds.map((r) => r.stop()));
    await simulator.stop();
    await redis?.stop();
    files.remove();
  });

  return {
    simulator,
    logFile,
    reds,
    get proxy() {
      return proxy;
    },
    get redis() {
      return redis;
    },
    async askOnA(id, person) {
      const res = await fetch(`${reds[0].url}/ask`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ id, to: person, text: `Question ${id}?` }),
      });
      assert.equal(res.status, 200);
      await eventually(`the question ${id} texted`, () =>
        [...simulator.messages.values()].some((m) => String(m.body).includes(`Question ${id}?`)),
      );
    },
    async text(from, body) {
      const started = Date.now();
      const arrival = await simulator.receiveMessage({ from, to: '+15017122661', body }, { url: `${proxy.url}/sms` });
      return { sid: arrival.sid, status: arrival.delivery?.status, ms: Date.now() - started };
    },
  };
}
