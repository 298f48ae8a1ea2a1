/**
 * twilio-request: any Twilio REST call with the account's auth (a "raw request"), for the APIs the
 * catalogue does not describe: Verify, Conversations, Studio, … (lib/resources/request-action.ts).
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { findAccount, getAccount } from '../../lib/account/account';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { nodeStatus } from '../../lib/node-red/status';
import { typedFieldsReader } from '../../lib/node-red/typed-fields';
import { NodeInput } from '../../lib/outbound/input';
import { REQUEST_FIELDS, RequestSettings, buildRequest, runRequest } from '../../lib/resources/request-action';

interface TwilioRequestDef extends NodeDef, RequestSettings {
  account: string;
  [field: string]: unknown;
}

module.exports = function registerTwilioRequest(RED: NodeAPI): void {
  function TwilioRequest(this: Node, def: TwilioRequestDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-request', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const readFields = typedFieldsReader(RED, node, def, REQUEST_FIELDS);
    const input = new NodeInput<NodeMessageInFlow>(node, status);

    node.on('input', (msg, send, done) =>
      input.take(send, done, async (accepted) => {
        const account = getAccount(RED, def.account);
        await runRequest(account, buildRequest(def, await readFields(msg)), msg, status, node);
        accepted.send(msg);
      }),
    );
    // What waits in the account's queue is taken back (NOT_SENT); what is in flight gets its answer.
    node.on('close', (_removed: boolean, done: () => void) => void input.close(findAccount(RED, def.account)?.queue).then(done));
  }

  RED.nodes.registerType('twilio-request', TwilioRequest);
};
