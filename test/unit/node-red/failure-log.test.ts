/** A failure no Catch node takes is logged as a sentence; a Catch node still gets the error itself. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node } from 'node-red';
import { TwilioNodeError } from '../../../lib/core/errors';
import { failureSentence, logFailuresAsSentences } from '../../../lib/node-red/failure-log';

/** A node as Node-RED's Node#error sees it: its flow offers errors to Catch nodes, and what none takes is logged. */
function fakeNode(caught: boolean | undefined) {
  const offered: unknown[] = [];
  const logged: unknown[] = [];
  const node = {
    _flow:
      caught === undefined
        ? undefined
        : {
            handleError: (_node: unknown, error: unknown) => {
              offered.push(error);
              return caught;
            },
          },
    // Node#error: offered to the Catch nodes when there is a msg, logged when none took it.
    error(this: any, logMessage: unknown, msg?: object) {
      if (msg && this._flow?.handleError(this, logMessage, msg)) return;
      logged.push(logMessage);
    },
  };
  logFailuresAsSentences(node as unknown as Node);
  return { node: node as unknown as Node, offered, logged };
}

const missingTo = () => new TwilioNodeError('MISSING_INPUT', 'no recipient: To is empty');

describe('failures in the log', () => {
  it('logs a failure no Catch node takes as a sentence, code first', () => {
    const { node, offered, logged } = fakeNode(false);
    const error = missingTo();
    node.error(error, { payload: 1 });
    assert.deepEqual(offered, [error], 'offered to the Catch nodes as the error itself');
    assert.deepEqual(logged, ['MISSING_INPUT: no recipient: To is empty']);
    assert.equal(failureSentence(error), 'MISSING_INPUT: no recipient: To is empty');
  });

  it('leaves a failure a Catch node took to the Catch node: code and message as they were', () => {
    const { node, offered, logged } = fakeNode(true);
    const error = missingTo();
    node.error(error, { payload: 1 });
    assert.equal(offered.length, 1);
    assert.equal((offered[0] as TwilioNodeError).code, 'MISSING_INPUT');
    assert.equal(String(offered[0]), 'no recipient: To is empty');
    assert.deepEqual(logged, []);
  });

  it('logs a failure without a msg as a sentence too', () => {
    const { node, logged } = fakeNode(false);
    node.error(missingTo());
    assert.deepEqual(logged, ['MISSING_INPUT: no recipient: To is empty']);
  });

  it("reports anything else as Node-RED does, and keeps Node-RED's way where the flow has no handleError", () => {
    const { node, logged } = fakeNode(false);
    const other = new Error('boom');
    node.error(other, { payload: 1 });
    node.error('a text');
    assert.deepEqual(logged, [other, 'a text']);
    const bare = fakeNode(undefined);
    const error = missingTo();
    bare.node.error(error, { payload: 1 });
    assert.deepEqual(bare.logged, [error]);
  });
});
