/**
 * twilio-verify: one-time codes with Twilio Verify v2 (lib/outbound/verify.ts). *Start* sends a code
 * by SMS, WhatsApp, a call or email; *check* says whether the code a person typed is right. Its
 * outputs: start → sent, not delivered; check → approved, wrong code (still pending), expired or too
 * many attempts. The code is taken off the msg as it is read: no output, error, log or status has it.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { findAccount, getAccount } from '../../lib/account/account';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { nodeStatus } from '../../lib/node-red/status';
import { typedFieldsReader } from '../../lib/node-red/typed-fields';
import { NodeInput } from '../../lib/outbound/input';
import { VERIFY_FIELDS, actionOf, runVerify, takeCode, verifyOutput, verifyRequest } from '../../lib/outbound/verify';

interface TwilioVerifyDef extends NodeDef {
  account: string;
  action: string;
  [field: string]: unknown;
}

type Outputs = Array<NodeMessage | null>;

module.exports = function registerTwilioVerify(RED: NodeAPI): void {
  function TwilioVerify(this: Node, def: TwilioVerifyDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-verify', def);
    const node = this;
    const action = actionOf(def.action);
    const status = nodeStatus(RED, node);
    const readFields = typedFieldsReader(RED, node, def, VERIFY_FIELDS);
    const input = new NodeInput<Outputs>(node, status, { redact: () => findAccount(RED, def.account)?.redact });

    node.on('input', (msg: NodeMessageInFlow, send, done) =>
      input.take(send as (msg: Outputs) => void, done, async (accepted) => {
        // The code first, and off the msg at once: whatever fails after, no msg carries it on.
        const code = action === 'check' ? await takeCode(RED, node, def, msg) : undefined;
        const request = verifyRequest(action, { ...(await readFields(msg)), code });
        const result = await runVerify(getAccount(RED, def.account), request, status, node);
        accepted.send(verifyOutput(msg as NodeMessage & Record<string, unknown>, request, result));
      }),
    );
    // What waits in the account's queue is taken back (NOT_SENT); what is in flight gets its answer.
    node.on('close', (_removed: boolean, done: () => void) => void input.close(findAccount(RED, def.account)?.queue).then(done));
  }

  RED.nodes.registerType('twilio-verify', TwilioVerify);
};
