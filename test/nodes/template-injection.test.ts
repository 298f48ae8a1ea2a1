/**
 * A sender's text is data, never a template. Hostile texts reach every templated field (twilio-send's
 * Body and Say, twilio-reply's Text in message, say and gather) from every source a stranger's text
 * can come through (msg, flow and global context, env, JSONata) and leave exactly as written. And a
 * node's own template sees data only: no req/res, no prototype, no getter, no function called.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { renderTemplate } from '../../lib/twilio/templates';
import { FlowNode, RuntimeNode, accountNode, allNodes, helper, sendTo, useHttpNode, useRuntime } from '../support/harness';
import { codeOf } from '../support/assertions';

const HOSTILE = [
  '{{req.headers}}',
  '{{{req.headers.x-twilio-signature}}} and {{&res}}',
  '{{x}}',
  '{{#payload}}loop{{/payload}}{{^payload}}none{{/payload}}',
  '{{=<% %>=}}<% req %>',
  '{{>partial}}',
  '{{payload.constructor.constructor}}',
  '{{__proto__}}{{toString}}',
  '{{',
  '}}{{!comment}}',
  '{{#fn}}called{{/fn}}',
  'plain text, 100% & <b>',
];

/** Where a typed field can take a stranger's text from, and how to put the text there. */
const SOURCES = ['msg', 'flow', 'global', 'env', 'jsonata'] as const;

function place(
  source: (typeof SOURCES)[number],
  text: string,
  node: RuntimeNode,
  msg: Record<string, unknown>,
): { value: string; type: string } {
  switch (source) {
    case 'msg':
      msg.stranger = text;
      return { value: 'stranger', type: 'msg' };
    case 'flow':
      (node as any).context().flow.set('stranger', text);
      return { value: 'stranger', type: 'flow' };
    case 'global':
      (node as any).context().global.set('stranger', text);
      return { value: 'stranger', type: 'global' };
    case 'env':
      process.env.STRANGER_TEXT = text;
      return { value: 'STRANGER_TEXT', type: 'env' };
    case 'jsonata':
      msg.stranger = text;
      return { value: 'stranger', type: 'jsonata' };
  }
}

describe("a sender's text is data, never a template", () => {
  const { simulator } = useRuntime();
  const httpNode = useHttpNode();
  after(() => {
    delete process.env.STRANGER_TEXT;
  });

  /** Loads a node of `type` whose `field` is read from `source`, sends a msg holding `text` there. */
  async function run(type: string, config: Record<string, unknown>, field: string, source: (typeof SOURCES)[number], text: string) {
    const account = accountNode(simulator.url);
    // The field's source is set after the node exists (flow and global context belong to it).
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      account.node,
      {
        id: 'node',
        type,
        z: 'tab',
        account: 'account',
        wires: [['out']],
        ...config,
        [field]: 'stranger',
        [`${field}Type`]: source === 'env' ? 'env' : source,
      },
      { id: 'out', type: 'helper', z: 'tab' },
    ];
    if (source === 'env') (flow[2] as Record<string, unknown>)[field] = 'STRANGER_TEXT';
    const msg: Record<string, unknown> = {
      payload: { Body: 'hi' },
      fn: () => {
        throw new Error('a function was called');
      },
    };
    await helper.load(allNodes, flow, { account: account.credentials });
    place(source, text, helper.getNode('node'), msg);
    return { msg, result: await sendTo(helper.getNode('node'), helper.getNode('out'), msg) };
  }

  it('twilio-send sends Body and Say from msg, flow, global, env and JSONata exactly as written', async () => {
    for (const source of SOURCES) {
      for (const text of HOSTILE) {
        const { result } = await run('twilio-send', { resource: 'message', to: '+15558675310', toType: 'str' }, 'body', source, text);
        assert.equal(result.error, undefined, `${source} ${text}: ${result.error?.message}`);
        assert.equal(simulator.requests.at(-1)!.params.Body, text, `${source}: the body is the text itself`);
        await helper.unload();
      }
      const { result } = await run(
        'twilio-send',
        { resource: 'call', callAction: 'say', to: '+15558675310', toType: 'str' },
        'say',
        source,
        '{{req.headers}} & <Hangup/>',
      );
      assert.equal(result.error, undefined);
      assert.match(String(simulator.requests.at(-1)!.params.Twiml), /<Say>\{\{req\.headers\}\} &amp; &lt;Hangup\/&gt;<\/Say>/);
      await helper.unload();
    }
  });

  it('twilio-reply answers with a Text from msg, flow, global, env and JSONata exactly as written', async () => {
    for (const action of ['message', 'say', 'gather']) {
      for (const source of SOURCES) {
        for (const text of HOSTILE) {
          let answered = '';
          const res = { headersSent: false, status: () => res, type: () => res, send: (body: string) => ((answered = body), res) };
          const account = accountNode(simulator.url);
          await helper.load(
            allNodes,
            [
              { id: 'tab', type: 'tab', label: 't' },
              account.node,
              {
                id: 'node',
                type: 'twilio-reply',
                z: 'tab',
                action,
                text: source === 'env' ? 'STRANGER_TEXT' : 'stranger',
                textType: source,
                wires: [['out']],
              },
              { id: 'out', type: 'helper', z: 'tab' },
            ],
            { account: account.credentials },
          );
          const msg: Record<string, unknown> = { res: { _res: res }, req: { headers: { cookie: 'session=secret' } } };
          place(source, text, helper.getNode('node'), msg);
          const result = await sendTo(helper.getNode('node'), helper.getNode('out'), msg);
          assert.equal(result.error, undefined, `${action} ${source} ${text}: ${result.error?.message}`);
          const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
          assert.ok(answered.includes(escaped), `${action} ${source}: ${answered} holds ${escaped}`);
          assert.ok(!answered.includes('session=secret'));
          await helper.unload();
        }
      }
    }
  });

  it('an echo bot answers a stranger\'s "{{req.headers}}" with that text, through a real webhook', async () => {
    const account = accountNode(simulator.url, 'authToken');
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        {
          id: 'bot',
          type: 'twilio-in',
          z: 'tab',
          account: 'account',
          path: '/twilio/echo',
          publicBaseUrl: httpNode.base(),
          validate: true,
          reply: 'flow',
          wires: [['reply']],
        },
        { id: 'reply', type: 'twilio-reply', z: 'tab', action: 'message', text: 'payload.Body', textType: 'msg' },
      ],
      { account: account.credentials },
    );
    const number = simulator.find('incomingPhoneNumbers')!;
    number.sms_url = `${httpNode.base()}/twilio/echo`;
    for (const body of HOSTILE) {
      const { delivery } = await simulator.receiveMessage({ from: '+15558675399', to: String(number.phone_number), body });
      assert.equal(delivery?.status, 200);
      assert.deepEqual(delivery?.replies, [body]);
    }
  });

  it('holds for any text a stranger can write (property, through twilio-reply)', async () => {
    const account = accountNode(simulator.url);
    await helper.load(
      allNodes,
      [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        { id: 'node', type: 'twilio-reply', z: 'tab', action: 'say', text: 'stranger', textType: 'msg', wires: [['out']] },
        { id: 'out', type: 'helper', z: 'tab' },
      ],
      { account: account.credentials },
    );
    const pieces = fc.constantFrom('{{', '}}', '{{{', '#', '/', '^', '&', '=', '>', '!', 'req', 'res', '.', ' ', 'a', '<', '%');
    await fc.assert(
      fc.asyncProperty(
        fc.array(pieces, { minLength: 1, maxLength: 12 }).map((p) => p.join('')),
        async (text) => {
          let answered = '';
          const res = { headersSent: false, status: () => res, type: () => res, send: (body: string) => ((answered = body), res) };
          const result = await sendTo(helper.getNode('node'), helper.getNode('out'), { stranger: text, res: { _res: res } });
          assert.equal(result.error, undefined, result.error?.message);
          const said = /<Say>(.*)<\/Say>/.exec(answered)?.[1] ?? '';
          assert.equal(said.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'), text);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("a node's own template sees data only: no req/res, prototype, getter or function", () => {
    let called = 0;
    const msg = {
      payload: { temp: 21, nested: { deep: 'ok' } },
      req: { headers: { 'x-twilio-signature': 'sig' } },
      res: { _res: {} },
      fn: () => {
        called++;
        return 'ran';
      },
      get sneaky() {
        called++;
        return 'ran';
      },
      printable: {
        a: 1,
        toJSON: () => {
          called++;
          return 'ran';
        },
        get b() {
          called++;
          return 2;
        },
      },
    };
    for (const template of [
      '{{req.headers}}',
      '{{res}}',
      '{{payload.constructor}}',
      '{{payload.toString}}',
      '{{payload.__proto__}}',
      '{{fn}}',
      '{{sneaky}}',
      '{{payload.temp.constructor}}',
    ]) {
      assert.equal(
        codeOf(() => renderTemplate(template, msg)),
        'TEMPLATE_METADATA_ERROR',
        template,
      );
    }
    assert.equal(renderTemplate('{{#fn}}x{{/fn}}{{^fn}}no lambda{{/fn}}', msg), 'no lambda');
    assert.equal(renderTemplate('{{payload.nested.deep}} {{payload.temp}}', msg), 'ok 21');
    assert.equal(renderTemplate('{{printable}}', msg), '{"a":1}');
    assert.equal(called, 0, 'no function or getter was called');
  });
});
