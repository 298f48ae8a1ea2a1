/**
 * twilio-config: one Twilio account. Credentials live in Node-RED's credential store (never in the
 * flow JSON); the account (lib/account) builds the SDK client and the request queue once, and every
 * node that selects this config node shares them.
 */
import { upgradeConfig } from '../../lib/node-red/config-version';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { AccountCredentials, AccountSettings, TwilioAccount, openAccount } from '../../lib/account/account';
import { registerAccountEndpoints } from './admin';

export type TwilioConfigDef = NodeDef & AccountSettings;
export type TwilioConfigNode = Node<AccountCredentials> & TwilioAccount;

module.exports = function registerTwilioConfig(RED: NodeAPI): void {
  function TwilioConfig(this: TwilioConfigNode, def: TwilioConfigDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-config', def);
    const close = openAccount(RED, this, def, this.credentials ?? {});
    this.on('close', (done: () => void) => void close().then(done));
  }

  registerAccountEndpoints(RED);

  RED.nodes.registerType<TwilioConfigNode, TwilioConfigDef, object, AccountCredentials>('twilio-config', TwilioConfig, {
    credentials: {
      accountSid: { type: 'text' },
      apiKeySid: { type: 'text' },
      apiKeySecret: { type: 'password' },
      authToken: { type: 'password' },
      redisPassword: { type: 'password' },
    },
  });
};
