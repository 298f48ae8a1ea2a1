/**
 * ATTACK 3: masking of echoed secrets (lib/account/account.ts maskAnswers ~line 118; raw requests
 * ~line 196; lib/core/errors.ts secretRedactor/maskTexts). A hostile server at the account's base URL
 * echoes the Auth Token in a form JSON allows: one character written as a `\u` escape. maskAnswers
 * redacts the body as TEXT before the SDK parses it, so the escaped spelling slips past and JSON.parse
 * then hands the SDK (and the msg) the token itself. maskTexts also stops at depth 32 (errors.ts
 * MAX_MASK_DEPTH): a raw request's JSON nested deeper keeps the token, if the text pass misses it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Node, NodeAPI } from 'node-red';
import { TwilioAccount, openAccount } from '../../lib/account/account';
import { maskTexts, secretRedactor } from '../../lib/core/errors';
import { sendText } from '../../lib/outbound/messages';

const RED = { util: (require('@node-red/util') as { util: NodeAPI['util'] }).util, _: (key: string) => key } as unknown as NodeAPI;
const SID = 'AC' + '1'.repeat(32);
const TOKEN = 'abcdef0123456789abcdef0123456789';
/** The token as JSON may spell it: its first character as a \u escape. */
const ESCAPED = '\\u0061' + TOKEN.slice(1);

describe('attack23: a server that echoes the token in a JSON escape', () => {
  let server: http.Server;
  let account: TwilioAccount;
  let closeAccount: () => Promise<void>;
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        let nested = `"${ESCAPED}"`;
        for (let i = 0; i < 40; i++) nested = `{"d":${nested}}`;
        const body = `{"sid":"SM${'2'.repeat(32)}","account_sid":"${SID}","status":"queued","direction":"outbound-api","to":"+15558675310","from":"+15017122661","body":"${ESCAPED}","deep":${nested}}`;
        res.writeHead(req.method === 'POST' ? 201 : 200, { 'Content-Type': 'application/json' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const node = {} as Node & TwilioAccount;
    closeAccount = openAccount(
      RED,
      node,
      {
        authMode: 'authToken',
        region: '',
        edge: '',
        defaultFrom: '+15017122661',
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      },
      { accountSid: SID, authToken: TOKEN },
    );
    account = node;
  });
  after(async () => {
    await closeAccount();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a record the SDK parsed (sendText) carries no token', async () => {
    const sent = await sendText(account, {}, { to: '+15558675310', body: 'hi' });
    assert.ok(!JSON.stringify(sent).includes(TOKEN), `the token reached the record: body ${JSON.stringify(sent.body)}`);
  });

  it("a raw request's JSON body carries no token", async () => {
    const raw = await account.rawRequest({
      domain: 'api',
      method: 'GET',
      path: `/2010-04-01/Accounts/${SID}/Messages.json`,
      responseType: 'json',
      retry: { count: 0, delayMs: 0, backoff: 1, on: 'server' },
      timeoutMs: 5_000,
    });
    const text = JSON.stringify(raw);
    const at = text.indexOf(TOKEN);
    // The top-level "body" is masked after parsing; the copy nested 41 deep (past MAX_MASK_DEPTH) is not.
    assert.ok(at === -1, `the token reached the raw answer: …${text.slice(Math.max(0, at - 60), at + 40)}`);
  });

  it('maskTexts masks a string nested deeper than 32 levels', () => {
    let value: unknown = `token ${TOKEN}`;
    for (let i = 0; i < 40; i++) value = { d: value };
    const masked = maskTexts(value, secretRedactor([TOKEN]));
    assert.ok(!JSON.stringify(masked).includes(TOKEN), 'left as it is past MAX_MASK_DEPTH');
  });
});
