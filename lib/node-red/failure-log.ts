/**
 * How a msg's failure reads in the log and the debug sidebar when no Catch node takes it.
 *
 * A node ends a msg with done(err); Node-RED's Node#_complete hands err to node.error(err, msg),
 * which offers it to the flow's Catch nodes (msg.error = { message: err.toString(), code, cause })
 * and, when none takes it, logs err itself. An Error logs as an object: the debug sidebar shows it
 * collapsed, `{ name: "TwilioNodeError", message: …, code: …, stack: … }`. A TwilioNodeError that
 * no Catch takes is logged as a sentence instead, its code first ("MISSING_INPUT: no recipient: set
 * To …"); a Catch node still gets the error itself, so msg.error.code and msg.error.message stay as
 * they are.
 */
import type { Node, NodeMessage } from 'node-red';
import { TwilioNodeError } from '../core/errors';

/** Node-RED's flow of a node (Node#_flow): where Node#error itself offers an error to Catch nodes. */
interface FlowOfNode {
  handleError?(node: Node, error: unknown, msg: NodeMessage): boolean;
}

/** The line logged for a failure no Catch node took. */
export function failureSentence(error: TwilioNodeError): string {
  return `${error.code}: ${error.message}`;
}

/** Has `node` log its TwilioNodeErrors as sentences (see above); any other error is reported as Node-RED does. */
export function logFailuresAsSentences(node: Node): void {
  const report = node.error.bind(node);
  node.error = (logMessage: unknown, msg?: NodeMessage): void => {
    const flow = (node as unknown as { _flow?: FlowOfNode })._flow;
    // Without the flow's handleError (a runtime that changed it) Node-RED's own way stays: the error as it is.
    if (!(logMessage instanceof TwilioNodeError) || typeof flow?.handleError !== 'function') return report(logMessage, msg);
    if (msg && typeof msg === 'object' && flow.handleError(node, logMessage, msg)) return;
    // No msg: the sentence goes to the log only (offering it to the Catch nodes again would find none).
    report(failureSentence(logMessage));
  };
}
