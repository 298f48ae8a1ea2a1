/** twilio-get: the Get action over any object of the resource catalogue (lib/resources/resource-action.ts). */
import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import type { ResourceNodeDef } from '../../lib/catalogue/resource-inputs';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { nodeStatus } from '../../lib/node-red/status';
import { NodeInput } from '../../lib/outbound/input';
import { ResourceAction } from '../../lib/resources/resource-action';

module.exports = function registerTwilioGet(RED: NodeAPI): void {
  function TwilioGet(this: Node, def: ResourceNodeDef): void {
    RED.nodes.createNode(this, def);
    const status = nodeStatus(RED, this);
    const action = new ResourceAction({ RED, node: this, def: upgradeConfig('twilio-get', def), action: 'get', status });
    const input = new NodeInput<NodeMessageInFlow>(this, status);
    this.on('input', (msg, send, done) => input.take(send, done, (accepted) => action.run(msg, (out) => accepted.send(out))));
    this.on('close', (_removed: boolean, done: () => void) => void input.close(action.queue).then(done));
  }

  RED.nodes.registerType('twilio-get', TwilioGet);
};
