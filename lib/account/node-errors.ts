/**
 * How a node of an account tells an error: coded (lib/core/errors.ts), the account's secrets
 * redacted from its text, in the node's language; `failed` also shows it in the node's status.
 */
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import type { NodeStatus } from '../node-red/status';

export interface NodeErrors {
  coded(err: unknown): TwilioNodeError;
  failed(err: unknown): TwilioNodeError;
}

export function nodeErrors(account: { redact(text: string): string } | undefined, status: NodeStatus): NodeErrors {
  const coded = (err: unknown) => toTwilioNodeError(err, account?.redact).localise(status.translate);
  return {
    coded,
    failed: (err) => {
      const error = coded(err);
      status.failedWith(error);
      return error;
    },
  };
}
