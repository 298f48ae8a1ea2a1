/**
 * Attack (#24 part 3): what a stranger can put in front of the Twilio sidebar. A page the admin visits
 * reads GET /twilio-activity cross-site (refused); a webhook carries a From and a status written as
 * markup, and a body (what the sidebar keeps of it: a masked number, a status from Twilio's alphabet,
 * never the body); a flood of forged webhooks from distinct numbers (counted, never listed: the
 * sidebar's memory stays as it was). Real runtime, the plugin's own endpoint.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import { ACCOUNT, FlowNode, accountNode, allNodes, helper, useHttpNode, useRuntime } from '../support/harness';
import { until } from '../support/assertions';
import { root } from '../support/paths';

const sidebarPlugin = require(path.join(root, 'dist', 'plugins', 'twilio-sidebar', 'twilio-sidebar.js')) as (RED: unknown) => void;

interface Served {
  accounts: Array<{
    id: string;
    traffic: Array<{ sid: string; from: string; to: string; status: string }>;
    refusals: Record<string, number>;
  }>;
}

describe('attack: a stranger and the Twilio sidebar', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  const flow = (): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken').node,
    {
      id: 'bot',
      type: 'twilio-in',
      z: 'tab',
      account: 'account',
      path: '/twilio/sms',
      publicBaseUrl: httpNode.base(),
      validate: true,
      reply: 'auto',
      wires: [['out']],
    },
    { id: 'out', type: 'helper', z: 'tab' },
  ];
  const served = async (): Promise<Served['accounts'][number]> => {
    const body = (await helper.request().get('/twilio-activity').expect(200)).body as Served;
    return body.accounts.find((a) => a.id === 'account')!;
  };

  it('refuses a cross-site read of the snapshot', async () => {
    await helper.load([...allNodes, sidebarPlugin], flow(), { account: accountNode(simulator.url, 'authToken').credentials });
    const answer = await helper.request().get('/twilio-activity').set('Sec-Fetch-Site', 'cross-site').set('Origin', 'https://evil.example');
    assert.equal(answer.status, 403);
    assert.equal(answer.headers['access-control-allow-origin'], undefined, 'and no CORS grant to read it');
    assert.ok(!JSON.stringify(answer.body).includes('traffic'));
  });

  it('keeps markup in a From and a status as text it cannot run, never the body, and counts a forged flood without listing it', async () => {
    await helper.load([...allNodes, sidebarPlugin], flow(), { account: accountNode(simulator.url, 'authToken').credentials });
    const news: unknown[] = [];
    helper.getNode('out').on('input', (m: unknown) => news.push(m));
    const url = `${httpNode.base()}/twilio/sms`;
    const sid = 'SM' + crypto.randomBytes(16).toString('hex');
    const params: Record<string, string> = {
      AccountSid: ACCOUNT.sid,
      ApiVersion: '2010-04-01',
      Body: 'the secret word is swordfish',
      From: '<img src=x onerror=alert(document.domain)>',
      MessageSid: sid,
      NumMedia: '0',
      SmsMessageSid: sid,
      SmsSid: sid,
      SmsStatus: '<script>alert(1)</script>',
      To: '+15017122661',
    };
    const signed = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': twilio.getExpectedTwilioSignature(ACCOUNT.authToken, url, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    assert.equal(signed.status, 200);
    await until(() => news.length === 1, 'the signed webhook reached the flow');
    const entry = (await served()).traffic.find((t) => t.sid === sid);
    assert.ok(entry, 'listed');
    assert.ok(!entry.from.includes('<img') && !entry.from.includes('onerror'), `From kept as markup: ${entry.from}`);
    assert.equal(entry.status, 'unknown', 'a status outside Twilio’s alphabet is not shown');
    const before = await served();
    assert.ok(!JSON.stringify(before).includes('swordfish'), 'no body text');

    // 300 forged posts, each from another number: refused, counted, none listed.
    for (let i = 0; i < 300; i++) {
      const forged = { ...params, From: `+1555${String(1_000_000 + i)}`, MessageSid: 'SM' + crypto.randomBytes(16).toString('hex') };
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'forged' },
        body: new URLSearchParams(forged).toString(),
      });
      assert.equal(res.status, 403);
    }
    const afterFlood = await served();
    assert.equal(afterFlood.refusals.signature - before.refusals.signature, 300);
    assert.deepEqual(afterFlood.traffic, before.traffic, 'the forged numbers are nowhere');
    assert.equal(news.length, 1);
  });
});
