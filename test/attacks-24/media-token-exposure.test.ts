/**
 * Attack (#24 part 1): a media token is the only thing between a stranger and the photo it serves.
 * It must be in no place a stranger (or a log shipper, or a flow that echoes msg back by SMS) reads:
 * not the msg that leaves twilio-send (waiting for the outcome or not), not a status, not the log,
 * not what the Twilio sidebar's runtime publishes. And what is served with it must carry nothing a
 * browser would run on Node-RED's origin (a PDF, whose bytes a stranger may have chosen).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { until } from '../support/assertions';
import { FlowNode, accountNode, allNodes, helper, statusesOf, useHttpNode, useRuntime } from '../support/harness';
import { root } from '../support/paths';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
/** A PDF whose body is also a page: what a stranger would upload for a flow to forward. */
const POLYGLOT = Buffer.from('%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n%%EOF\n');
const MEDIA_URL = /\/twilio\/media\/([A-Za-z0-9_-]{43})$/;
const sidebar = require(path.join(root, 'dist', 'plugins', 'twilio-sidebar', 'twilio-sidebar.js')) as { snapshot(): unknown };

describe('attack: where a media token could be read', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  const flow = (send: Record<string, unknown>): FlowNode[] => [
    { id: 'tab', type: 'tab', label: 't' },
    accountNode(simulator.url, 'authToken', { publicBaseUrl: httpNode.base() }).node,
    {
      id: 'send',
      type: 'twilio-send',
      z: 'tab',
      account: 'account',
      resource: 'message',
      to: '+15555550100',
      toType: 'str',
      body: 'Someone is at the door',
      bodyType: 'str',
      mediaUrl: 'payload',
      mediaUrlType: 'msg',
      wires: [['out']],
      ...send,
    },
    { id: 'out', type: 'helper', z: 'tab' },
  ];

  const lastMediaUrl = (): string => {
    const params = simulator.requests.filter((r) => r.method === 'POST' && /Messages\.json$/.test(r.path)).at(-1)?.params;
    const urls = params?.MediaUrl;
    return String(Array.isArray(urls) ? urls[0] : urls);
  };

  for (const waitFor of ['queued', 'outcome'] as const)
    it(`keeps the token off the msg, the statuses, the log and the sidebar (waiting for: ${waitFor})`, async () => {
      await helper.load(allNodes, flow({ waitFor, outcomeTimeout: 30 }), {
        account: accountNode(simulator.url, 'authToken').credentials,
      });
      const outputs: unknown[] = [];
      helper.getNode('out').on('input', (m: unknown) => outputs.push(m));
      helper.getNode('send').receive({ payload: PNG });
      await until(() => outputs.length > 0, 'the msg left twilio-send', 10_000);
      const token = MEDIA_URL.exec(lastMediaUrl())![1];
      assert.ok(token, 'the simulator was given a media URL');
      const places: Record<string, unknown> = {
        msg: outputs,
        statuses: statusesOf(helper.getNode('send')),
        log: (helper as unknown as { log(): { args: unknown[] } }).log().args,
        sidebar: sidebar.snapshot(),
      };
      for (const [place, value] of Object.entries(places))
        assert.ok(!JSON.stringify(value).includes(token), `the token is on the ${place}: ${JSON.stringify(value).slice(0, 600)}`);
    });

  it('serves a PDF (a stranger may have chosen its bytes) so that no browser runs it on Node-RED’s origin', async () => {
    simulator.media.delayMs = 60_000; // Twilio has not fetched it yet
    try {
      await helper.load(allNodes, flow({}), { account: accountNode(simulator.url, 'authToken').credentials });
      const outputs: unknown[] = [];
      helper.getNode('out').on('input', (m: unknown) => outputs.push(m));
      helper.getNode('send').receive({ payload: POLYGLOT });
      await until(() => outputs.length > 0, 'sent', 10_000);
      const res = await fetch(lastMediaUrl());
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/pdf');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /\bsandbox\b/, `no sandbox: ${csp}`);
      assert.match(csp, /default-src 'none'/, `scripts and frames may load: ${csp}`);
      assert.match(res.headers.get('content-disposition') ?? '', /^attachment/, 'a PDF is downloaded, not opened on this origin');
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(POLYGLOT), 'Twilio still gets the bytes');
    } finally {
      simulator.media.delayMs = 0;
    }
  });
});
