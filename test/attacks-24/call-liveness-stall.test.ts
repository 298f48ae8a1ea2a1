/**
 * Attack (#24 / twilio-in's call liveness): a request within a call (a <Gather> action, a <Redirect>)
 * is now checked against Twilio with one GET of the call, through the account's queue, before it is
 * answered. Twilio gives up on a webhook after 15 seconds, and the call fails with "an application
 * error has occurred". Whoever can keep the account's queue busy (a stranger who makes a flow send
 * hundreds of texts, 429s with their backoff) or a slow Twilio API then breaks every IVR call, which
 * before asked Twilio nothing. A look that cannot be had in time must say nothing (the request is
 * Twilio's, as a failed look is). And a forged request never costs a look. Real twilio-in, real HTTP.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import twilio from 'twilio';
import { ACCOUNT, FlowNode, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';
import { useManualClock } from '../support/ticking';

describe("attack: twilio-in's call look stalled", () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();
  const time = useManualClock();
  /** A Twilio API that takes every request and answers none (its queue, as the account sees it, is stuck). */
  let stuck: http.Server;
  let stuckUrl = '';
  const held: string[] = [];
  before(async () => {
    stuck = http.createServer((req) => held.push(`${req.method} ${req.url}`));
    await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', () => resolve()));
    stuckUrl = `http://127.0.0.1:${(stuck.address() as AddressInfo).port}`;
  });
  after(
    () =>
      new Promise<void>((resolve) => {
        stuck.closeAllConnections();
        stuck.close(() => resolve());
      }),
  );

  async function load(baseUrl: string): Promise<{ url: string; news: unknown[] }> {
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      {
        id: 'in',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        path: '/twilio/in',
        validate: true,
        reply: 'auto',
        dedupe: true,
        dedupeWindow: 600,
        wires: [['news']],
      },
      { id: 'news', type: 'helper', z: 'tab' },
    ];
    const { node, credentials } = accountNode(baseUrl, 'authToken');
    await helper.load(allNodes, [...flow, { ...node, id: 'account' }], { account: credentials });
    const news: unknown[] = [];
    helper.getNode('news').on('input', (m: unknown) => news.push(m));
    return { url: `${httpNode.base()}/twilio/in`, news };
  }

  const within = (callSid: string) => ({
    AccountSid: ACCOUNT.sid,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'in-progress',
    Direction: 'inbound',
    From: '+15555550177',
    To: '+15017122661',
  });

  it("answers a request within a call in Twilio's 15 seconds when the look at the call cannot be had", async () => {
    const { url, news } = await load(stuckUrl);
    const params = within('CA' + crypto.randomBytes(16).toString('hex'));
    let answered: number | undefined;
    const posted = fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': twilio.getExpectedTwilioSignature(ACCOUNT.authToken, url, params),
        'I-Twilio-Idempotency-Token': crypto.randomUUID(),
      },
      body: new URLSearchParams(params).toString(),
    }).then((r) => (answered = r.status));
    // The look has gone out (and hangs), then Twilio's 15 seconds pass.
    const start = Date.now();
    while (held.length === 0 && Date.now() - start < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(
      held.some((r) => r.startsWith('GET ') && r.includes('/Calls/')),
      `the call was looked at: ${JSON.stringify(held)} answered ${answered} ${JSON.stringify((helper as any).log().args).slice(0, 3000)}`,
    );
    for (let i = 0; i < 15 && answered === undefined; i++) {
      await time.clock.advance(1_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const deadline = Date.now() + 1_000;
    while (answered === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(answered, 200, "answered within Twilio's 15 seconds (else the caller hears an application error)");
    assert.equal(news.length, 1, "and taken as Twilio's: the flow hears the digits");
    stuck.closeAllConnections();
    await posted.catch(() => undefined);
  });

  it('spends no look on forged requests within a call (a flood of wrong or missing signatures)', async () => {
    const { url, news } = await load(simulator.url);
    const looks = () => simulator.requests.filter((r) => r.method === 'GET' && /\/Calls\/CA[0-9a-f]{32}\.json$/.test(r.path)).length;
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const params = within('CA' + crypto.randomBytes(16).toString('hex'));
      const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
      if (i % 2 === 0) headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature('0'.repeat(32), url, params);
      const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
      statuses.add(res.status);
    }
    assert.deepEqual([...statuses], [403]);
    assert.equal(looks(), 0, 'no GET of a call for a forged request');
    assert.equal(news.length, 0);
  });
});
