/**
 * The Twilio sidebar's endpoint in a real Node-RED process with adminAuth: no token, or a user whose
 * permissions do not include reading, gets 401; a read-only user gets the accounts. The sidebar
 * plugin loads from the package (package.json node-red.plugins), as an installed package's does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedProcess, startRed } from '../support/red-process';

const bcrypt = require('bcryptjs') as { hashSync(text: string, rounds: number): string };
const PASSWORD = 'correct horse';

describe('the Twilio sidebar behind adminAuth', { timeout: 120_000 }, () => {
  let red: RedProcess;
  before(async () => {
    const hash = bcrypt.hashSync(PASSWORD, 4);
    red = await startRed(
      [{ id: 'acct', type: 'twilio-config', name: 'home', authMode: 'apiKey', region: '', edge: '', defaultFrom: '', baseUrl: '' }],
      { acct: { accountSid: 'AC' + '0'.repeat(32), apiKeySid: 'SK' + '0'.repeat(32), apiKeySecret: 'not-a-real-secret' } },
      `adminAuth: { type: 'credentials', users: [
        { username: 'viewer', password: '${hash}', permissions: 'read' },
        { username: 'flows', password: '${hash}', permissions: ['flows.read'] },
      ] },`,
    );
  });
  after(async () => {
    await red?.stop();
  });

  const token = async (username: string, scope: string): Promise<string> => {
    const answer = await fetch(`${red.url}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'node-red-admin', grant_type: 'password', scope, username, password: PASSWORD }),
    });
    assert.equal(answer.status, 200, `${username}: ${await answer.clone().text()}`);
    return ((await answer.json()) as { access_token: string }).access_token;
  };
  const get = (bearer?: string) => fetch(`${red.url}/twilio-activity`, { headers: bearer ? { Authorization: `Bearer ${bearer}` } : {} });

  it('refuses without a token and without the read permission, and serves a reader', async () => {
    assert.equal((await get()).status, 401);
    assert.equal((await get(await token('flows', 'flows.read'))).status, 401);
    const answer = await get(await token('viewer', 'read'));
    assert.equal(answer.status, 200);
    const body = (await answer.json()) as { accounts: Array<{ id: string; name: string }> };
    assert.deepEqual(
      body.accounts.map((a) => [a.id, a.name]),
      [['acct', 'home']],
    );
    assert.ok(!JSON.stringify(body).includes('not-a-real-secret'));
    assert.ok(!red.log().includes('not-a-real-secret'));
  });
});
