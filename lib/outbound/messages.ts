/**
 * The texts and calls a node makes besides the catalogue's create (a question, a page's steps, a
 * clarifying message, an all clear): one way for every node, through the account's queue, as the
 * node's own requests (a close withdraws those still queued). Each answers with Twilio's record as a
 * plain object (dates as ISO text), as twilio-send's msg.payload carries it.
 */
import type { TwilioAccount } from '../account/account';
import { runAction } from '../catalogue/actions';
import { findObject } from '../catalogue/catalogue';
import type twilio from 'twilio';

/** A message or call is created in the client's own account. */
const OWN_ACCOUNT = { parts: {} };
const MESSAGE = findObject('Message')!;
const CALL = findObject('Call')!;

export type TwilioRecord = Record<string, unknown> & { sid: string };

/** What a text takes: To, and From (the account's default sender when absent), Body and anything else Twilio's create takes. */
export interface TextParams {
  to: string;
  from?: string;
  body?: string;
  [param: string]: unknown;
}

/**
 * Runs `request` on `owner`'s view of the account's client (its requests are the owner's to withdraw
 * on close). Whatever fails, the answer is a rejected promise, never a throw: a closed account's
 * client throws, and a caller that fires and forgets (a hang-up in a close) must not turn that into
 * an uncaught exception that stops Node-RED.
 */
function asOwner(account: TwilioAccount, owner: object, request: (client: twilio.Twilio) => Promise<unknown>): Promise<unknown> {
  try {
    return request(account.clientFor(owner));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Sends one text as `owner`'s request. */
export function sendText(account: TwilioAccount, owner: object, params: TextParams): Promise<TwilioRecord> {
  // A Messaging Service picks the sender itself: the default From is only for a text without one.
  const from = params.from || (params.messagingServiceSid ? undefined : account.defaultFrom);
  return asOwner(account, owner, (client) => runAction(client, MESSAGE, 'create', OWN_ACCOUNT, from ? { ...params, from } : params)).then(
    (record) => (account.activity?.sent('message', record as TwilioRecord), record),
  ) as Promise<TwilioRecord>;
}

/** Places one call as `owner`'s request (`twiml` says what it says). */
export function placeCall(account: TwilioAccount, owner: object, params: TextParams & { twiml?: string }): Promise<TwilioRecord> {
  const from = params.from || account.defaultFrom;
  return asOwner(account, owner, (client) => runAction(client, CALL, 'create', OWN_ACCOUNT, { ...params, from })).then(
    (record) => (account.activity?.sent('call', record as TwilioRecord), record),
  ) as Promise<TwilioRecord>;
}

/** Ends a call that rings or talks (a page that is over). Rejects when Twilio did not take it: the caller says so. */
export function hangUp(account: TwilioAccount, owner: object, sid: string): Promise<void> {
  return asOwner(account, owner, (client) => runAction(client, CALL, 'update', { parts: { sid } }, { status: 'completed' })).then(
    () => undefined,
  );
}
