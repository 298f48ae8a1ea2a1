/**
 * The MMS media a twilio-send holds (lib/outbound/media.ts) goes once Twilio fetched it and its
 * message reached a final status: heard on the account's inbound hub (a twilio-in's receipts or polls).
 */
import type { NodeAPI } from 'node-red';
import type { AccountNode } from '../account/account';
import { inboundHubFor } from '../inbound/hub';
import { MediaSending, mediaSending } from '../outbound/media';
import { receiverBase } from '../outbound/send-controller';

/** A twilio-send's media: the account's public URL or its receipts twilio-in's, statuses from the hub. */
export function sendMedia(RED: NodeAPI, account: AccountNode | undefined, receiverId: string | undefined): MediaSending {
  const watch: MediaSending['watch'] = account
    ? (sid, heard) => inboundHubFor(account).subscribe({ sid }, (event) => heard(event.params.MessageStatus as string | undefined))
    : undefined;
  return mediaSending(RED, account, receiverBase(RED, receiverId), watch);
}
