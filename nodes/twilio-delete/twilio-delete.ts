/** twilio-delete: the Delete action over any object of the resource catalogue (see lib/resource-node.ts). */
import type { NodeAPI } from 'node-red';
import { registerResourceNode } from '../../lib/resources/resource-node';

module.exports = function registerTwilioDelete(RED: NodeAPI): void {
  registerResourceNode(RED, 'twilio-delete', 'delete');
};
