/**
 * Attack (a figure, and its bound): a burst of twilio-send "wait for the outcome" msgs right after a
 * start, before any answer told Twilio's clock: each wait is held (stored) first, then the look at
 * Twilio's clock, then stored again with the offset (outcome-waits.ts intend). How many more store
 * commits does the burst cost than the same burst once the offset is known, and how many looks?
 *
 * Promise (the brief's "bounded, O(1) per event"): at most one extra commit per msg, one look for
 * the burst; every msg is sent once.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, it } from 'node:test';
import { EmbeddedStateEngine } from '../../lib/state/embedded';
import { accountNode, allNodes, helper, useRuntime } from '../support/harness';

const N = 200;
const LOOK = /^\/2010-04-01\/Accounts\/AC[0-9a-f]+\.json/;
const { simulator } = useRuntime();

let looks = 0;
let proxyUrl = '';
let closeProxy = () => Promise.resolve();
async function startProxy(): Promise<void> {
  const to = new URL(simulator.url);
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && LOOK.test(req.url ?? '')) looks++;
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeProxy = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}
after(() => closeProxy());

it(`a burst of ${N} waiting sends at a start costs at most one extra commit each, and one look`, { timeout: 60_000 }, async () => {
  await startProxy();
  let puts = 0;
  const proto = EmbeddedStateEngine.prototype as unknown as { put: (key: string, ...rest: unknown[]) => Promise<unknown> };
  const put = proto.put;
  proto.put = function (this: unknown, key: string, ...rest: unknown[]) {
    if (typeof key === 'string' && key.startsWith('node/send/')) puts++;
    return put.call(this, key, ...rest);
  };
  try {
    const account = accountNode(proxyUrl);
    const flow = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      {
        id: 'send',
        type: 'twilio-send',
        z: 'tab',
        account: 'account',
        resource: 'message',
        to: 'to',
        toType: 'msg',
        body: 'payload',
        bodyType: 'msg',
        waitFor: 'outcome',
        outcomeTimeout: 600,
        wires: [[]],
      },
    ];
    await helper.load(allNodes, flow, { account: account.credentials });
    const node = helper.getNode('send');
    const burst = async (tag: string) => {
      const before = { puts, texts: simulator.messages.size };
      for (let i = 0; i < N; i++)
        node.receive({ payload: `Smoke ${tag} ${i}`, to: `+1555555${String(2600 + (i % 300)).padStart(4, '0')}` });
      for (let w = 0; w < 30_000 && simulator.messages.size < before.texts + N; w += 20) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 500)); // the saves after each Sid
      return { puts: puts - before.puts, texts: simulator.messages.size - before.texts };
    };
    const first = await burst('first');
    const looksFirst = looks;
    const second = await burst('second');
    const report = `first burst (no offset known): ${first.puts} commits for ${first.texts} texts, ${looksFirst} look(s); second burst (offset known): ${second.puts} commits for ${second.texts} texts, ${looks - looksFirst} more look(s); extra commits ${first.puts - second.puts}`;
    console.log(`# look-commits: ${report}`);
    assert.equal(first.texts, N, report);
    assert.equal(second.texts, N, report);
    assert.equal(looksFirst, 1, report);
    assert.ok(first.puts - second.puts <= N, report);
  } finally {
    proto.put = put;
  }
});
