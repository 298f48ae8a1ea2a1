/**
 * twilio-in's admin endpoints, for its editor dialog's "connect a number": list the account's numbers,
 * and point one's SmsUrl or VoiceUrl at a twilio-in route. They use the deployed account node, so
 * secrets never reach the editor, and follow every endpoint's rules (lib/node-red/admin-endpoints).
 */
import type { NodeAPI } from 'node-red';
import { findAccount } from '../../lib/account/account';
import { TwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { publicWebhookUrl } from '../../lib/inbound/route';
import { adminEndpoint, editorValue, findDeployed } from '../../lib/node-red/admin-endpoints';

export function registerConnectEndpoints(RED: NodeAPI): void {
  const accountFor = (id: unknown) => {
    const account = findAccount(RED, typeof id === 'string' ? id : undefined);
    if (!account) throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-in.connect.deployFirst'));
    return account;
  };
  adminEndpoint(RED, 'get', '/twilio-in/numbers', 'twilio-in.read', async (req) => {
    const numbers = await accountFor(req.query.account).getClient().incomingPhoneNumbers.list({ limit: 200 });
    return numbers.map((n) => ({
      sid: n.sid,
      phoneNumber: n.phoneNumber,
      friendlyName: n.friendlyName,
      smsUrl: n.smsUrl,
      voiceUrl: n.voiceUrl,
    }));
  });
  adminEndpoint(RED, 'post', '/twilio-in/connect', 'twilio-in.write', async (req) => {
    const { account, node: id, publicBaseUrl, path, which, number } = (req.body ?? {}) as Record<string, unknown>;
    const deployed = findDeployed(RED, id, 'twilio-in');
    const base = editorValue(RED, 'Public URL', publicBaseUrl, deployed, deployed?.config.publicBaseUrl);
    if (!/^https?:\/\/\S+$/.test(base)) throw new TwilioNodeError('MISSING_INPUT', RED._('twilio-in.connect.needsPublicUrl'));
    if (typeof path !== 'string' || !path) throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'path' }));
    if (typeof number !== 'string' || !/^PN[0-9a-fA-F]{32}$/.test(number))
      throw new TwilioNodeError('INVALID_INPUT', text('choosePhoneNumber'));
    const url = publicWebhookUrl(RED, base, path);
    const update = which === 'voice' ? { voiceUrl: url, voiceMethod: 'POST' } : { smsUrl: url, smsMethod: 'POST' };
    const updated = await accountFor(account).getClient().incomingPhoneNumbers(number).update(update);
    return { sid: updated.sid, phoneNumber: updated.phoneNumber, url };
  });
}
