/**
 * twilio-in polling a server that misbehaves (the account's base URL can point anywhere): a poison
 * record, media that cannot be listed, endless pages, no answer at all. Texts after them still
 * arrive, and a redeploy is never held.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ACCOUNT, FlowNode, accountNode, allNodes, helper, useRuntime } from '../support/harness';
import { untilTicking, useManualClock } from '../support/ticking';

const HOUSE = '+15017122661';
const sid = (prefix: string, n: number) => prefix + n.toString(16).padStart(32, '0');

describe('twilio-in polling a misbehaving server', () => {
  useRuntime();
  // Looks and the wait for a look under way run on lib's clock: the test moves it on instead of waiting.
  const time = useManualClock();
  const until = (check: () => boolean, what: string, ms = 10_000) => untilTicking(time.clock, check, what, 250, ms);
  let server: http.Server;
  let url = '';
  /** What the listing holds (newest first, as Twilio lists), and how the media list and the listing behave. */
  const state = { records: [] as Array<Record<string, unknown>>, media: 'ok' as 'ok' | '404' | 'endless', hang: false, looks: 0 };
  /** Looks the server left without an answer while `hang` was set. */
  const hung: http.ServerResponse[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      const send = (status: number, body: unknown) =>
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      const page = (key: string, items: unknown[], next: string | null) =>
        send(200, {
          [key]: items,
          next_page_uri: next,
          page: 0,
          page_size: 50,
          uri: path,
          first_page_uri: path,
          previous_page_uri: null,
          start: 0,
          end: items.length,
        });
      if (/\/Media\.json$/.test(path)) {
        if (state.media === '404') return send(404, { code: 20404, message: 'not found', status: 404 });
        const item = { sid: sid('ME', 1), uri: `${path.replace('.json', '')}/${sid('ME', 1)}.json`, content_type: 'image/jpeg' };
        return page('media_list', [item], state.media === 'endless' ? `${path}?Page=1&PageToken=again` : null);
      }
      if (/\/Messages\.json$/.test(path)) {
        state.looks++;
        if (state.hang) return void hung.push(res); // not answered
        return page('messages', state.records, null);
      }
      send(404, { code: 20404, message: 'not found', status: 404 });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const message = (n: number, extra: Record<string, unknown> = {}) => ({
    sid: sid('SM', n),
    account_sid: ACCOUNT.sid,
    from: '+15555550100',
    to: HOUSE,
    body: `text ${n}`,
    direction: 'inbound',
    num_media: '0',
    date_sent: new Date(Date.now() - 1000).toUTCString(),
    date_created: new Date(Date.now() - 1000).toUTCString(),
    ...extra,
  });

  const flow = (extra: Record<string, unknown> = {}): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(url).node,
    {
      id: 'in',
      type: 'twilio-in',
      z: 'tab',
      account: 'account',
      receive: 'poll',
      pollNumber: HOUSE,
      pollInterval: 1,
      wires: [['out']],
      ...extra,
    },
    { id: 'out', type: 'helper', z: 'tab' },
  ];
  async function load() {
    await helper.load(allNodes, flow(), { account: accountNode(url).credentials });
    const got: any[] = [];
    helper.getNode('out').on('input', (m: any) => got.push(m));
    const looks = state.looks;
    await until(() => state.looks > looks, 'the first look');
    return got;
  }

  it('hands on the texts after an MMS whose media cannot be listed, a record with a broken Sid, and endless media pages', async () => {
    state.records = [];
    state.media = '404';
    const got = await load();
    // Newest first: a plain text, a record whose Sid is a number, and an MMS whose media list fails.
    state.records = [message(3), message(2, { sid: 12345 }), message(1, { sid: sid('MM', 1), num_media: '1' })];
    await until(() => got.length === 2, 'the MMS and the text after it');
    assert.deepEqual(
      got.map((m) => [m.payload.MessageSid, m.payload.MediaUnavailable]),
      [
        [sid('MM', 1), 'true'],
        [sid('SM', 3), undefined],
      ],
    );
    await helper.unload();

    state.records = [];
    state.media = 'endless';
    const again = await load();
    state.records = [message(5, { sid: sid('MM', 5), num_media: '1' })];
    await until(() => again.length === 1, 'the MMS with endless media pages');
    assert.equal(again[0].payload.media.length, 1, 'one page of media: a message has at most ten');
  });

  it('lets a redeploy go on when the server never answers a look', async () => {
    state.records = [];
    state.media = 'ok';
    await load();
    state.hang = true;
    const looks = state.looks;
    await until(() => state.looks > looks, 'a look that hangs');
    const started = time.clock.now();
    let redeployed = false;
    const redeploy = helper
      .setFlows(flow({ name: 'changed' }), 'nodes', { account: accountNode(url).credentials })
      .then(() => (redeployed = true));
    await until(() => redeployed, 'the redeploy');
    await redeploy;
    const took = time.clock.now() - started;
    state.hang = false;
    assert.ok(took < 7_000, `the redeploy took ${took} ms`);
    // The server answers at last (an empty page): the hung looks end, and the next unload waits for none.
    for (const res of hung.splice(0)) res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ messages: [] }));
  });
});
