/** How a node of an account tells an error (lib/account/node-errors.ts): coded, its secrets redacted, shown in the status. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeErrors } from '../../../lib/account/node-errors';
import { TwilioNodeError } from '../../../lib/core/errors';
import type { NodeStatus } from '../../../lib/node-red/status';

describe('nodeErrors', () => {
  it("codes an error with the account's secrets redacted; failed shows it in the status too", () => {
    const shown: TwilioNodeError[] = [];
    const status = { translate: (key: string) => key, failedWith: (error: TwilioNodeError) => shown.push(error) } as unknown as NodeStatus;
    const { coded, failed } = nodeErrors({ redact: (text) => text.replaceAll('s3cret', '***') }, status);
    const error = coded(new Error('token s3cret refused'));
    assert.ok(error instanceof TwilioNodeError);
    assert.doesNotMatch(error.message, /s3cret/);
    assert.equal(shown.length, 0, 'coded alone shows nothing');
    const same = new TwilioNodeError('NOT_SENT', 'not sent');
    assert.equal(failed(same).code, 'NOT_SENT');
    assert.deepEqual(
      shown.map((e) => e.code),
      ['NOT_SENT'],
    );
    assert.equal(nodeErrors(undefined, status).coded('plain').message.includes('plain'), true, 'without an account nothing is redacted');
  });
});
