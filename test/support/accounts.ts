/**
 * An account node's TwilioAccount without Node-RED (lib/account/account.ts openAccount), for the tests
 * that talk to the simulator through lib directly (reconcile, the look at Twilio's clock): opened with
 * the simulator's demo account and its API key, as a Node-RED restart opens it again.
 */
import { after, before } from 'node:test';
import type { Node, NodeAPI } from 'node-red';
import { TwilioAccount, openAccount } from '../../lib/account/account';
import { setClockSkew } from '../../simulator/resources';
import { DEMO_ACCOUNT, TwilioSimulator } from '../../simulator/server';

const RED = { util: (require('@node-red/util') as { util: NodeAPI['util'] }).util, _: (key: string) => key } as unknown as NodeAPI;
const API_KEY = DEMO_ACCOUNT.apiKeys![0];

/** The house's number: the account's default From (as flows.ts HOUSE). */
export const FROM = '+15017122661';

/** The demo account (API key) calling Twilio at `baseUrl`; `close()` closes it as its node's close does. */
export function accountAt(baseUrl: string): { account: TwilioAccount; close: () => Promise<void> } {
  const node = {} as Node & TwilioAccount;
  const close = openAccount(
    RED,
    node,
    { authMode: 'apiKey', region: '', edge: '', defaultFrom: FROM, baseUrl },
    { accountSid: DEMO_ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret },
  );
  return { account: node, close };
}

/** The simulator (the demo account) for a file or suite: started before its tests; after them Twilio's clock skew is set back to none and it stops. */
export function skewedSimulator(): TwilioSimulator {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  before(() => simulator.start());
  after(async () => {
    setClockSkew(0);
    await simulator.stop();
  });
  return simulator;
}
