/**
 * The account's masking of what Twilio says: every answer of its client (a record, an outcome's
 * error text) and of its raw requests passes it, so a server at the base URL that echoes the
 * Authorization header or the token cannot put either in a msg. An account opened against the
 * simulator, whose person at one number fails with such an echo.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Node, NodeAPI } from 'node-red';
import { TwilioAccount, openAccount } from '../../../lib/account/account';
import { fetchOutcome } from '../../../lib/inbound/outcomes';
import { sendText } from '../../../lib/outbound/messages';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../../simulator/server';

const RED = { util: (require('@node-red/util') as { util: NodeAPI['util'] }).util, _: (key: string) => key } as unknown as NodeAPI;
const ECHOES = '+15555550197';
const HEADER = Buffer.from(`${DEMO_ACCOUNT.sid}:${DEMO_ACCOUNT.authToken}`).toString('base64');
const ECHO = `you sent Authorization: Basic ${HEADER} and ${DEMO_ACCOUNT.authToken}`;
const MASKED = 'you sent Authorization: Basic ******** and ********';

describe("the account's masking of Twilio's answers", () => {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT], people: { [ECHOES]: { message: 'undelivered', errorMessage: ECHO } } });
  let account: TwilioAccount;
  let closeAccount: () => Promise<void>;
  const owner = {};

  before(async () => {
    await simulator.start();
    const node = {} as Node & TwilioAccount;
    closeAccount = openAccount(
      RED,
      node,
      { authMode: 'authToken', region: '', edge: '', defaultFrom: '+15017122661', baseUrl: simulator.url },
      { accountSid: DEMO_ACCOUNT.sid, authToken: DEMO_ACCOUNT.authToken },
    );
    account = node;
  });
  after(async () => {
    await closeAccount();
    await simulator.stop();
  });

  const noSecret = (value: unknown) => {
    const text = JSON.stringify(value);
    assert.ok(!text.includes(DEMO_ACCOUNT.authToken) && !text.includes(HEADER), `no secret in ${text.slice(0, 200)}`);
  };

  it("masks an outcome's error text (fetchOutcome), a record (sendText) and a raw request's body", async () => {
    const sent = await sendText(account, owner, { to: ECHOES, body: `the token is ${DEMO_ACCOUNT.authToken}` });
    assert.equal(sent.body, 'the token is ********', "the record's echo of what was sent");
    await simulator.settled();
    const outcome = await fetchOutcome(account, owner, 'message', sent.sid);
    assert.deepEqual([outcome.status, outcome.errorMessage], ['undelivered', MASKED]);
    const raw = await account.rawRequest({
      domain: 'api',
      method: 'GET',
      path: `/2010-04-01/Accounts/${DEMO_ACCOUNT.sid}/Messages/${sent.sid}.json`,
      responseType: 'json',
      retry: { count: 0, delayMs: 0, backoff: 1, on: 'server' },
      timeoutMs: 5_000,
    });
    assert.equal((raw.body as { error_message?: string }).error_message, MASKED);
    for (const value of [sent, outcome, raw.body]) noSecret(value);
  });
});

describe("the account's Public URL", () => {
  const open = (publicBaseUrl: string) => {
    const warnings: string[] = [];
    const node = { warn: (w: string) => warnings.push(w) } as unknown as Node & TwilioAccount;
    const close = openAccount(
      RED,
      node,
      { authMode: 'authToken', region: '', edge: '', defaultFrom: '+15017122661', baseUrl: 'http://127.0.0.1:9', publicBaseUrl },
      { accountSid: DEMO_ACCOUNT.sid, authToken: DEMO_ACCOUNT.authToken },
    );
    return { warnings, close };
  };

  it('warns once when media links and webhooks would cross the internet in plain http, not for https or this machine', async () => {
    for (const [url, warned] of [
      ['http://my-pi.example.com:1880', true],
      ['http://203.0.113.7', true],
      ['https://my-pi.example.com', false],
      ['http://127.0.0.1:1880', false],
      ['http://localhost:1880', false],
      ['', false],
    ] as const) {
      const { warnings, close } = open(url);
      assert.equal(warnings.length, warned ? 1 : 0, `${url || '(none)'}: ${warnings.join(' | ')}`);
      if (warned) assert.match(warnings[0], /is plain http: .* Use an https address/);
      await close();
    }
  });
});
