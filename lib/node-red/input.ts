/** The message API every node uses: (msg, send, done), with failures as coded errors. */
import type { Node, NodeMessageInFlow } from 'node-red';
import { toTwilioNodeError } from '../core/errors';
import type { NodeStatus } from './status';

/**
 * The message API every node uses: the handler does the work (and may send); a failure becomes a
 * coded error for Catch nodes and a red status with Twilio's number or our code.
 */
export function onInput(
  node: Node,
  status: NodeStatus,
  handler: (msg: NodeMessageInFlow, send: (msg: NodeMessageInFlow | NodeMessageInFlow[]) => void) => Promise<void>,
  redact?: () => ((text: string) => string) | undefined,
): void {
  node.on('input', (msg, send, done) => {
    handler(msg, send).then(
      () => done(),
      (err: unknown) => {
        const error = toTwilioNodeError(err, redact?.()).localise(status.translate);
        status.failedWith(error);
        done(error);
      },
    );
  });
}
