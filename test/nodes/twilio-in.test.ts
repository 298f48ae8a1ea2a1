/**
 * twilio-in and twilio-reply over real HTTP: signatures made with the twilio SDK's own helpers, proxies,
 * JSON bodies, duplicates, reply timeouts, TwiML escaping, and the whole loop with the simulator.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import { inboundHubFor } from '../../lib/inbound/hub';
import { nestsDeeperThan, tooManyParameters, webhookBodyKind } from '../../lib/inbound/webhook';
import {
  ACCOUNT,
  API_KEY,
  FlowNode,
  RuntimeNode,
  accountNode,
  allNodes,
  helper,
  nodeRedPackage,
  statusesOf,
  useHttpNode,
  useRuntime,
} from '../support/harness';

const TOKEN = ACCOUNT.authToken;
const PARAMS = {
  MessageSid: 'SM' + 'a'.repeat(32),
  AccountSid: ACCOUNT.sid,
  From: '+15558675310',
  To: '+15017122661',
  Body: "It's 100% Tom & Jerry — café",
  NumMedia: '0',
};

/** A text of its own: what Twilio signs of one text is heard once (a second post of it is a duplicate). */
const freshText = (): Record<string, string> => ({ ...PARAMS, MessageSid: 'SM' + crypto.randomBytes(16).toString('hex') });

interface Posted {
  status: number;
  body: string;
  contentType: string | null;
}

describe('webhook body limits', () => {
  it("counts a form's parameters and a JSON text's nesting without parsing them", () => {
    assert.equal(tooManyParameters('a=1&b=2', 2), false);
    assert.equal(tooManyParameters('a=1&b=2&c=3', 2), true);
    assert.equal(tooManyParameters('', 1), false);
    assert.equal(nestsDeeperThan('{"a":[{"b":[1]}]}', 4), false);
    assert.equal(nestsDeeperThan('{"a":[{"b":[[1]]}]}', 4), true);
    assert.equal(nestsDeeperThan('{"a":"[[[[[[[[[[\\"[[[[["}', 2), false, 'brackets in strings do not count');
    assert.equal(webhookBodyKind('application/x-www-form-urlencoded; charset=UTF-8'), 'form');
    assert.equal(webhookBodyKind('Application/JSON'), 'json');
    for (const other of [
      undefined,
      '',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      'text/plain; application/json',
    ])
      assert.equal(webhookBodyKind(other), undefined, String(other));
  });
});

describe('twilio-in and twilio-reply', () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();

  /** Loads account → twilio-in → (twilio-reply) and a helper on twilio-in's output. */
  async function load(
    inConfig: Record<string, unknown> = {},
    opts: { reply?: Record<string, unknown>; mode?: 'apiKey' | 'authToken'; credentials?: object } = {},
  ) {
    const account = accountNode(simulator.url, opts.mode ?? 'authToken');
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      {
        id: 'in',
        type: 'twilio-in',
        z: 'tab',
        account: 'account',
        path: '/twilio/sms',
        validate: true,
        reply: 'auto',
        dedupe: true,
        dedupeWindow: 600,
        wires: [['out', ...(opts.reply ? ['reply'] : [])]],
        ...inConfig,
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    if (opts.reply) flow.push({ id: 'reply', type: 'twilio-reply', z: 'tab', ...opts.reply });
    await helper.load(allNodes, flow, { account: opts.credentials ?? account.credentials });
    const received: any[] = [];
    const warnings: string[] = [];
    helper.getNode('out').on('input', (msg: any) => received.push(msg));
    helper.getNode('in').on('call:warn', (call: any) => warnings.push(String(call.args[0])));
    return { received, warnings, inNode: helper.getNode('in') as RuntimeNode };
  }

  async function post(path: string, body: string, headers: Record<string, string>): Promise<Posted> {
    const response = await fetch(`${httpNode.base()}${path}`, { method: 'POST', headers, body });
    return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') };
  }

  /** A form POST signed for `signedFor` (the URL Twilio believes it called). */
  function signedForm(
    path: string,
    params: Record<string, string> = PARAMS,
    signedFor = `${httpNode.base()}${path}`,
    token = TOKEN,
    extra: Record<string, string> = {},
  ) {
    const signature = twilio.getExpectedTwilioSignature(token, signedFor, params);
    return post(path, new URLSearchParams(params).toString(), {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-Twilio-Signature': signature,
      ...extra,
    });
  }

  /** Node-RED delivers messages asynchronously: wait until `done()` holds (or a moment, without one). */
  const settle = async (done?: () => boolean) => {
    for (let waited = 0; waited < (done ? 5000 : 30); waited += 10) {
      if (done?.()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('accepts a correctly signed webhook, answers empty TwiML at once and emits the parameters', async () => {
    const { received } = await load();
    const answer = await signedForm('/twilio/sms', {
      ...PARAMS,
      NumMedia: '2',
      MediaUrl0: 'https://api.twilio.com/m/0',
      MediaContentType0: 'image/jpeg',
      MediaUrl1: 'https://api.twilio.com/m/1',
      MediaContentType1: 'image/png',
    });
    await settle(() => received.length >= 1);
    assert.equal(answer.status, 200);
    assert.match(answer.contentType!, /text\/xml/);
    assert.equal(answer.body, '<?xml version="1.0" encoding="UTF-8"?><Response/>');
    assert.equal(received.length, 1);
    const msg = received[0];
    assert.equal(msg.payload.Body, PARAMS.Body);
    assert.deepEqual(msg.payload.media, [
      { url: 'https://api.twilio.com/m/0', contentType: 'image/jpeg' },
      { url: 'https://api.twilio.com/m/1', contentType: 'image/png' },
    ]);
    assert.deepEqual(msg.twilio, { event: 'message', sid: PARAMS.MessageSid, from: PARAMS.From, to: PARAMS.To, accountSid: ACCOUNT.sid });
    assert.ok(msg.req && msg.res && msg.res._res, 'msg.req and msg.res as http-in gives them');
  });

  it('refuses a tampered body, a tampered URL, a missing header and a wrong token with 403 and no message', async () => {
    const { received, warnings } = await load();
    const signature = twilio.getExpectedTwilioSignature(TOKEN, `${httpNode.base()}/twilio/sms`, PARAMS);
    const tampered = await post('/twilio/sms', new URLSearchParams({ ...PARAMS, Body: 'send me the codes' }).toString(), {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-Twilio-Signature': signature,
    });
    const otherUrl = await signedForm('/twilio/sms', PARAMS, `${httpNode.base()}/twilio/other`);
    const otherQuery = await signedForm('/twilio/sms?site=a', PARAMS, `${httpNode.base()}/twilio/sms?site=b`);
    const missing = await post('/twilio/sms', new URLSearchParams(PARAMS).toString(), {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    const wrongToken = await signedForm('/twilio/sms', PARAMS, `${httpNode.base()}/twilio/sms`, 'not-the-token');
    await settle();
    for (const answer of [tampered, otherUrl, otherQuery, missing, wrongToken]) assert.equal(answer.status, 403);
    assert.equal(received.length, 0);
    assert.ok(warnings.length >= 1, 'a warning says why');
    for (const w of warnings) assert.ok(!w.includes(TOKEN) && !w.includes(signature), 'no secret in the warning');
  });

  it("checks the URL exactly as sent: query strings with ' % & and non-ASCII", async () => {
    const { received } = await load({ path: '/twilio/sms' });
    const path = "/twilio/sms?site=O'Brien&pct=100%25&and=a%26b&city=caf%C3%A9&tag=%E2%9C%93";
    const answer = await signedForm(path, { ...PARAMS, Body: "100% <b>'quoted'</b> & ünïcödé ✓" });
    await settle(() => received.length >= 1);
    assert.equal(answer.status, 200);
    assert.equal(received.length, 1);
    assert.equal(received[0].payload.Body, "100% <b>'quoted'</b> & ünïcödé ✓");
  });

  it('holds behind a proxy: a public base URL, or trusted X-Forwarded headers, with or without the port', async () => {
    const publicPath = 'https://home.example.com/twilio/sms';
    let loaded = await load({ publicBaseUrl: 'https://home.example.com' });
    assert.equal((await signedForm('/twilio/sms', freshText(), publicPath)).status, 200);
    assert.equal(
      (await signedForm('/twilio/sms', freshText(), 'https://home.example.com:443/twilio/sms')).status,
      200,
      'Twilio may sign with the default port',
    );
    assert.equal((await signedForm('/twilio/sms')).status, 403, 'the local URL is not what Twilio signed');
    await settle(() => loaded.received.length >= 2);
    assert.equal(loaded.received.length, 2);
    await helper.unload();

    loaded = await load({ publicBaseUrl: 'https://home.example.com:8443/nodered' });
    assert.equal(
      (await signedForm('/twilio/sms', PARAMS, 'https://home.example.com:8443/nodered/twilio/sms')).status,
      200,
      'a proxy that strips a prefix, on a port',
    );
    await helper.unload();

    // Behind a proxy without a public URL, the host it forwards must be named (see the next test).
    loaded = await load({ trustProxy: true, hosts: 'home.example.com' });
    const forwarded = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'home.example.com' };
    assert.equal((await signedForm('/twilio/sms', PARAMS, publicPath, TOKEN, forwarded)).status, 200);
    assert.equal(
      (
        await signedForm('/twilio/sms', PARAMS, 'https://home.example.com:8080/twilio/sms', TOKEN, {
          ...forwarded,
          'X-Forwarded-Host': 'home.example.com:8080',
        })
      ).status,
      200,
    );
    await helper.unload();

    loaded = await load({ trustProxy: false });
    assert.equal(
      (await signedForm('/twilio/sms', PARAMS, publicPath, TOKEN, forwarded)).status,
      403,
      'X-Forwarded-* are not believed unless trusted',
    );
  });

  it('without a public URL, refuses a signature Twilio made for another host, replayed with that host forwarded', async () => {
    // Twilio signed each for another service of the same account; an attacker replays it here.
    const replay = (host: string) =>
      signedForm('/twilio/sms', PARAMS, `https://${host}/twilio/sms`, TOKEN, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': host });
    let loaded = await load({ trustProxy: true });
    for (const host of ['other.example.com', 'other.example.com:443', 'OTHER.example.com'])
      assert.equal((await replay(host)).status, 403, `${host}, no hosts named`);
    await helper.unload();
    process.env.TWILIO_IN_TEST_HOST = 'tunnel.example.net:8443';
    loaded = await load({ trustProxy: true, hosts: 'home.example.com, ${TWILIO_IN_TEST_HOST}' });
    assert.equal((await replay('other.example.com')).status, 403, 'not one of those named');
    assert.equal((await replay('tunnel.example.net')).status, 403, 'named with another port');
    assert.equal((await replay('home.example.com')).status, 200, 'one named');
    assert.equal((await replay('tunnel.example.net:8443')).status, 200, 'one named by an env variable');
    delete process.env.TWILIO_IN_TEST_HOST;
    await helper.unload();
    loaded = await load({ publicBaseUrl: 'https://home.example.com', trustProxy: true });
    assert.equal((await replay('other.example.com')).status, 403, 'with a public URL, only its host is signed for');
    await settle(() => loaded.received.length >= 1);
    assert.equal(loaded.received.length, 0);
  });

  it('checks JSON bodies by bodySHA256', async () => {
    const { received } = await load();
    const body = JSON.stringify({
      EventType: 'com.twilio.messaging.message.delivered',
      AccountSid: ACCOUNT.sid,
      MessageSid: 'SM' + 'b'.repeat(32),
      MessageStatus: 'delivered',
    });
    const hash = crypto.createHash('sha256').update(body).digest('hex');
    const path = `/twilio/sms?bodySHA256=${hash}`;
    const signature = twilio.getExpectedTwilioSignature(TOKEN, `${httpNode.base()}${path}`, {});
    const ok = await post(path, body, { 'Content-Type': 'application/json', 'X-Twilio-Signature': signature });
    const tampered = await post(path, body.replace('delivered"}', 'failed"}'), {
      'Content-Type': 'application/json',
      'X-Twilio-Signature': signature,
    });
    await settle(() => received.length >= 1);
    assert.equal(ok.status, 200);
    assert.equal(tampered.status, 403);
    assert.equal(received.length, 1);
    assert.equal(received[0].payload.MessageStatus, 'delivered');
    assert.equal(received[0].twilio.event, 'message-status');
    // A JSON array arrives as the array it is.
    const list = JSON.stringify([{ MessageSid: 'SM' + 'c'.repeat(32) }]);
    const listPath = `/twilio/sms?bodySHA256=${crypto.createHash('sha256').update(list).digest('hex')}`;
    const listed = await post(listPath, list, {
      'Content-Type': 'application/json',
      'X-Twilio-Signature': twilio.getExpectedTwilioSignature(TOKEN, `${httpNode.base()}${listPath}`, {}),
    });
    assert.equal(listed.status, 200);
    await settle(() => received.length >= 2);
    assert.deepEqual(received[1].payload, [{ MessageSid: 'SM' + 'c'.repeat(32) }]);
  });

  it('drops a duplicate delivery (the same token, or the same text with a fresh token) but answers it', async () => {
    const { received, inNode } = await load();
    const statuses: string[] = [];
    inNode.on('call:status', (call: any) => statuses.push(call.args[0].text));
    const text = freshText();
    const token = { 'I-Twilio-Idempotency-Token': crypto.randomUUID() };
    const first = await signedForm('/twilio/sms', text, undefined, TOKEN, token);
    const again = await signedForm('/twilio/sms', text, undefined, TOKEN, token);
    const replay = await signedForm('/twilio/sms', text, undefined, TOKEN, { 'I-Twilio-Idempotency-Token': crypto.randomUUID() });
    const other = await signedForm('/twilio/sms', freshText(), undefined, TOKEN, { 'I-Twilio-Idempotency-Token': crypto.randomUUID() });
    await settle(() => received.length >= 2);
    assert.deepEqual([first.status, again.status, replay.status, other.status], [200, 200, 200, 200]);
    assert.deepEqual([again.body, replay.body], [first.body, first.body], 'empty TwiML: Twilio stops trying');
    await settle();
    assert.equal(received.length, 2);
    assert.equal(statuses.filter((s) => s === 'twilio-in.status.duplicate').length, 2);
  });

  it('still drops a duplicate after a full redeploy, and after a modified-nodes one', async () => {
    const { received } = await load();
    const token = { 'I-Twilio-Idempotency-Token': crypto.randomUUID() };
    assert.equal((await signedForm('/twilio/sms', PARAMS, undefined, TOKEN, token)).status, 200);
    await settle(() => received.length >= 1);
    const flows = helper._redNodes.getFlows();
    await helper.setFlows(flows.flows, 'full', flows.credentials as Record<string, object>);
    const later: any[] = [];
    helper.getNode('out').on('input', (m: any) => later.push(m));
    assert.equal((await signedForm('/twilio/sms', PARAMS, undefined, TOKEN, token)).status, 200, "Twilio's retry is answered");
    const changed = helper._redNodes.getFlows().flows.map((n) => (n.id === 'in' ? { ...n, name: 'renamed' } : n));
    await helper.setFlows(changed, 'nodes', flows.credentials as Record<string, object>);
    helper.getNode('out').on('input', (m: any) => later.push(m));
    assert.equal((await signedForm('/twilio/sms', PARAMS, undefined, TOKEN, token)).status, 200);
    await settle();
    assert.equal(later.length, 0, 'but not emitted again');
  });

  it("publishes each webhook to the account's inbound path once, and still emits it", async () => {
    const { received } = await load();
    // A Sid of its own: the account's path remembers what it heard across redeploys (and these tests).
    const params = { ...PARAMS, MessageSid: 'SM' + crypto.randomBytes(16).toString('hex') };
    const hub = inboundHubFor(helper.getNode('account'));
    const heard: string[] = [];
    const stops = [
      hub.subscribe({ sid: params.MessageSid }, (e) => heard.push(`sid:${e.kind}:${e.source}`)),
      hub.subscribe({ from: params.From, to: params.To }, (e) => heard.push(`pair:${String(e.params.Body)}`)),
      hub.subscribe({ to: params.To }, () => heard.push('number')),
    ];
    const token = { 'I-Twilio-Idempotency-Token': crypto.randomUUID() };
    assert.equal((await signedForm('/twilio/sms', params, undefined, TOKEN, token)).status, 200);
    assert.equal((await signedForm('/twilio/sms', params, undefined, TOKEN, token)).status, 200, 'a duplicate delivery');
    assert.equal((await signedForm('/twilio/sms', { ...params, Body: 'forged' }, undefined, 'not-the-token')).status, 403);
    await settle(() => received.length >= 1);
    assert.deepEqual(heard.sort(), ['number', `pair:${params.Body}`, 'sid:message:webhook']);
    assert.equal(received.length, 1, 'the output works as before');
    for (const stop of stops) stop();
  });

  it("answers with twilio-reply's TwiML, XML-escaped", async () => {
    await load(
      { reply: 'flow' },
      {
        reply: {
          action: 'message',
          text: 'You said: {{payload.Body}}',
          textType: 'str',
          mediaUrl: 'https://example.com/a.png?x=1&y=2',
          mediaUrlType: 'str',
        },
      },
    );
    const answer = await signedForm('/twilio/sms', { ...PARAMS, Body: `<b>"Tom" & 'Jerry'</b>` });
    assert.equal(answer.status, 200);
    assert.equal(
      answer.body,
      '<?xml version="1.0" encoding="UTF-8"?><Response><Message>You said: &lt;b&gt;"Tom" &amp; \'Jerry\'&lt;/b&gt;<Media>https://example.com/a.png?x=1&amp;y=2</Media></Message></Response>',
    );
  });

  it('sends the empty response and warns when no reply comes in time', async () => {
    const { warnings, received } = await load({ reply: 'flow', replyTimeout: 0.3 });
    const started = Date.now();
    const answer = await signedForm('/twilio/sms');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, '<?xml version="1.0" encoding="UTF-8"?><Response/>');
    assert.ok(Date.now() - started >= 250);
    await settle(() => received.length >= 1);
    assert.equal(received.length, 1);
    assert.match(warnings.join('\n'), /twilio-in\.warnings\.replyTimeout/);
  });

  it('answers a late flow with the fallback set (a message, a said text, TwiML), well before Twilio gives up', async () => {
    const XML = '<?xml version="1.0" encoding="UTF-8"?>';
    const cases: Array<[Record<string, unknown>, string]> = [
      [
        { fallback: 'message', fallbackText: "We'll call you back <soon> & {{payload}}" },
        `${XML}<Response><Message>We'll call you back &lt;soon&gt; &amp; {{payload}}</Message></Response>`,
      ],
      [{ fallback: 'say', fallbackText: 'Please hold' }, `${XML}<Response><Say>Please hold</Say></Response>`],
      [{ fallback: 'twiml', fallbackText: '<Response><Hangup/></Response>' }, '<Response><Hangup/></Response>'],
      [{ fallback: 'twiml', fallbackText: 'not TwiML' }, `${XML}<Response/>`],
      [{ fallback: 'message', fallbackText: '' }, `${XML}<Response/>`],
    ];
    for (const [settings, expected] of cases) {
      await load({ reply: 'flow', replyTimeout: 0.2, ...settings });
      const answer = await signedForm('/twilio/sms', freshText());
      assert.equal(answer.body, expected, JSON.stringify(settings));
      await helper.unload();
    }
  });

  it('reports a reply that comes after the fallback went out, to Catch nodes', async () => {
    const nodesDir = path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [require.resolve(nodeRedPackage)] }));
    const delay = require(path.join(nodesDir, 'core', 'function', '89-delay.js'));
    const account = accountNode(simulator.url, 'authToken');
    await helper.load(
      [...allNodes, delay],
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'in',
          type: 'twilio-in',
          z: 'tab',
          account: 'account',
          path: '/twilio/sms',
          validate: true,
          reply: 'flow',
          replyTimeout: 0.2,
          fallback: 'say',
          fallbackText: 'Hold on',
          wires: [['slow']],
        },
        { id: 'slow', type: 'delay', z: 'tab', pauseType: 'delay', timeout: '500', timeoutUnits: 'milliseconds', wires: [['reply']] },
        { id: 'reply', type: 'twilio-reply', z: 'tab', action: 'message', text: 'too late', textType: 'str' },
      ],
      { account: account.credentials },
    );
    const errors: any[] = [];
    helper.getNode('reply').on('call:error', (call: any) => errors.push(call.args[0]));
    const answer = await signedForm('/twilio/sms');
    assert.match(answer.body, /<Say>Hold on<\/Say>/);
    await settle(() => errors.length >= 1);
    assert.equal(errors.length, 1, 'the late reply is reported, not lost');
    assert.match(String(errors[0].message ?? errors[0]), /twilio-reply.errors.answered/, 'the reply node says it was already answered');
  });

  it('lets a core http response node answer too (msg.res as http-in gives it)', async () => {
    const account = accountNode(simulator.url, 'authToken');
    const httpResponse = require(
      require.resolve('@node-red/nodes/core/network/21-httpin.js', {
        paths: [
          require.resolve(process.env.NODE_RED_PACKAGE || (Number(process.versions.node.split('.')[0]) >= 22 ? 'node-red-5' : 'node-red')),
        ],
      }),
    );
    await helper.load(
      [...allNodes, httpResponse],
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'in',
          type: 'twilio-in',
          z: 'tab',
          account: 'account',
          path: '/twilio/sms',
          validate: true,
          reply: 'flow',
          wires: [['resp']],
        },
        { id: 'resp', type: 'http response', z: 'tab', statusCode: '200', headers: { 'content-type': 'text/plain' } },
      ],
      { account: account.credentials },
    );
    const answer = await signedForm('/twilio/sms');
    assert.equal(answer.status, 200);
    assert.match(answer.body, /MessageSid/, 'the http response node sent msg.payload');
  });

  it('refuses every request when it cannot check signatures (no Auth Token), and says so', async () => {
    const { received, inNode } = await load(
      {},
      { mode: 'apiKey', credentials: { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret } },
    );
    assert.equal((await signedForm('/twilio/sms')).status, 403);
    await settle();
    assert.equal(received.length, 0);
    assert.deepEqual(
      statusesOf(inNode).map((st) => [st.fill, st.text]),
      [
        ['red', 'twilio-in.status.noToken'],
        ['red', 'twilio-in.status.rejected'],
      ],
    );
  });

  it('takes unsigned requests only when the check is turned off, with a warning status', async () => {
    const account = accountNode(simulator.url, 'authToken');
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'in',
          type: 'twilio-in',
          z: 'tab',
          account: 'account',
          path: '/twilio/open',
          validate: false,
          reply: 'auto',
          wires: [['out']],
        },
        { id: 'out', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const received: any[] = [];
    helper.getNode('out').on('input', (m: any) => received.push(m));
    // What anyone could have sent reaches this node's output only: never a wait for an outcome or an answer.
    const heard: unknown[] = [];
    const hub = inboundHubFor(helper.getNode('account'));
    hub.subscribe({ sid: PARAMS.MessageSid }, (e) => heard.push(e));
    hub.subscribe({ from: PARAMS.From }, (e) => heard.push(e));
    const answer = await post('/twilio/open', new URLSearchParams(PARAMS).toString(), {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    await settle(() => received.length >= 1);
    assert.equal(answer.status, 200);
    assert.equal(received.length, 1);
    assert.deepEqual(heard, [], 'not published on the inbound path');
    assert.equal(hub.sources, 0, 'an unchecked twilio-in is no source');
    assert.deepEqual(statusesOf(helper.getNode('in'))[0], { fill: 'yellow', shape: 'ring', text: 'twilio-in.status.unchecked' });
  });

  it('removes its route when redeployed without it', async () => {
    await load();
    assert.equal((await signedForm('/twilio/sms')).status, 200);
    const account = accountNode(simulator.url, 'authToken');
    await helper.setFlows([{ id: 'tab', type: 'tab', label: 't' }, account.node], 'full', { account: account.credentials });
    assert.equal((await signedForm('/twilio/sms')).status, 404);
  });

  it('closes the loop with the simulator: delivery receipts, and an inbound SMS answered by twilio-reply', async () => {
    const account = accountNode(simulator.url, 'authToken');
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'receipts',
          type: 'twilio-in',
          z: 'tab',
          account: 'account',
          path: '/twilio/status',
          publicBaseUrl: httpNode.base(),
          validate: true,
          reply: 'auto',
          wires: [['out']],
        },
        {
          id: 'send',
          type: 'twilio-send',
          z: 'tab',
          account: 'account',
          resource: 'message',
          to: '+15558675310',
          toType: 'str',
          body: 'hi',
          bodyType: 'str',
          statusCallbackNode: 'receipts',
          wires: [[]],
        },
        {
          id: 'bot',
          type: 'twilio-in',
          z: 'tab',
          account: 'account',
          path: '/twilio/sms',
          publicBaseUrl: httpNode.base(),
          validate: true,
          reply: 'flow',
          wires: [['reply']],
        },
        { id: 'reply', type: 'twilio-reply', z: 'tab', action: 'message', text: 'Got "{{payload.Body}}" & thanks', textType: 'str' },
        { id: 'out', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const receipts: any[] = [];
    helper.getNode('out').on('input', (m: any) => receipts.push(m));
    helper.getNode('send').receive({ payload: 'x' });
    // The send, then two receipts: wait for them (under load they take longer than any fixed sleep).
    for (let waited = 0; receipts.length < 2 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await simulator.settled();
    assert.deepEqual(
      receipts.map((m) => [m.twilio.event, m.payload.MessageStatus]),
      [
        ['message-status', 'sent'],
        ['message-status', 'delivered'],
      ],
    );
    assert.equal(simulator.requests.at(-1)!.params.StatusCallback, `${httpNode.base()}/twilio/status`);

    const number = simulator.find('incomingPhoneNumbers')!;
    number.sms_url = `${httpNode.base()}/twilio/sms`;
    const { delivery } = await simulator.receiveMessage({ from: '+15558675399', to: String(number.phone_number), body: 'Lights <off>' });
    assert.equal(delivery?.status, 200);
    assert.deepEqual(delivery?.replies, ['Got "Lights <off>" & thanks']);
    assert.ok(
      simulator.find(
        'messages',
        (m) => m.direction === 'outbound-reply' && m.to === '+15558675399' && m.body === 'Got "Lights <off>" & thanks',
      ),
    );
  });

  it('answers an incoming call with Say, and reports its kind as a call', async () => {
    const account = accountNode(simulator.url, 'authToken');
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'voice',
          type: 'twilio-in',
          z: 'tab',
          account: 'account',
          path: '/twilio/voice',
          validate: true,
          reply: 'flow',
          wires: [['reply', 'out']],
        },
        {
          id: 'reply',
          type: 'twilio-reply',
          z: 'tab',
          action: 'say',
          text: 'Hello {{payload.From}}, press 1 & wait',
          textType: 'str',
          voice: 'Polly.Joanna',
          voiceType: 'str',
        },
        { id: 'out', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const calls: any[] = [];
    helper.getNode('out').on('input', (m: any) => calls.push(m));
    const number = simulator.find('incomingPhoneNumbers')!;
    number.voice_url = `${httpNode.base()}/twilio/voice`;
    const { delivery } = await simulator.receiveCall({ from: '+15558675399', to: String(number.phone_number) });
    assert.equal(delivery?.status, 200);
    assert.match(delivery!.contentType!, /text\/xml/);
    assert.equal(
      delivery!.body,
      '<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Joanna">Hello +15558675399, press 1 &amp; wait</Say></Response>',
    );
    assert.equal(calls[0].twilio.event, 'call');
  });

  it('connects a number to a twilio-in route from the editor (admin endpoint)', async () => {
    await load({ publicBaseUrl: 'https://home.example.com' });
    const number = simulator.find('incomingPhoneNumbers')!;
    const listed = await helper.request().get('/twilio-in/numbers').query({ account: 'account' });
    assert.equal(listed.status, 200);
    assert.equal(listed.body[0].phoneNumber, number.phone_number);
    const connected = await helper
      .request()
      .post('/twilio-in/connect')
      .send({ account: 'account', publicBaseUrl: 'https://home.example.com', path: '/twilio/sms', which: 'voice', number: number.sid });
    assert.equal(connected.status, 200);
    assert.equal(connected.body.url, 'https://home.example.com/twilio/sms');
    assert.equal(simulator.find('incomingPhoneNumbers')!.voice_url, 'https://home.example.com/twilio/sms');
    const local = await helper
      .request()
      .post('/twilio-in/connect')
      .send({ account: 'account', publicBaseUrl: '', path: '/twilio/sms', which: 'sms', number: number.sid });
    assert.equal(local.status, 400);
    assert.equal(local.body.code, 'MISSING_INPUT');
  });
});
