/**
 * The simulator's Twilio objects: how each is validated and created, in Twilio's JSON shapes
 * (snake_case, RFC 2822 dates, string counters), with Twilio's error codes and its test "magic numbers"
 * (https://www.twilio.com/docs/iam/test-credentials) so every failure path can be reached on purpose.
 */
import crypto from 'node:crypto';

export type Params = Record<string, string | string[]>;
export type TwilioRecord = Record<string, unknown>;

export const API_VERSION = '2010-04-01';

export class SimulatedError extends Error {
  /** `code` undefined gives a body without a Twilio code, as a proxy or a gateway would answer. */
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): TwilioRecord {
    if (this.code === undefined) return { message: this.message, status: this.status };
    return { code: this.code, message: this.message, more_info: `https://www.twilio.com/docs/errors/${this.code}`, status: this.status };
  }
}

export function newSid(prefix: string): string {
  return prefix + crypto.randomBytes(16).toString('hex');
}

/** How far the simulated Twilio's clock runs ahead of this machine's: set by the simulator (one per process). */
let clockSkewMs = 0;

export function setClockSkew(ms: number): void {
  clockSkewMs = ms;
}

/** Now, by the simulated Twilio's clock. */
export function twilioNow(): Date {
  return new Date(Date.now() + clockSkewMs);
}

/** Twilio writes dates as RFC 2822: "Tue, 24 Nov 2026 19:02:18 +0000". */
export function twilioDate(date = twilioNow()): string {
  return date.toUTCString().replace('GMT', '+0000');
}

export function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

const E164 = /^\+[1-9]\d{1,14}$/;
const MESSAGE_ADDRESS = /^(whatsapp:|messenger:)?\+[1-9]\d{1,14}$/;
const CALL_ADDRESS = /^(\+[1-9]\d{1,14}|client:[\w.@-]+|sip:\S+@\S+)$/;
const SENDER = /^((whatsapp:|messenger:)?\+[1-9]\d{1,14}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}|\d{3,8})$/;
const SID = (prefix: string) => new RegExp(`^${prefix}[0-9a-fA-F]{32}$`);

/** Twilio's test numbers: a sender or recipient that always fails in a known way. */
const MAGIC_FROM: Record<string, [number, string]> = {
  '+15005550001': [21212, "The 'From' number +15005550001 is not a valid phone number, shortcode, or alphanumeric sender ID."],
  '+15005550007': [
    21606,
    "The 'From' phone number provided (+15005550007) is not a valid message-capable Twilio phone number for this destination/account.",
  ],
  '+15005550008': [21611, "This 'From' number has exceeded the maximum number of queued messages."],
};
const MAGIC_TO_MESSAGE: Record<string, [number, string]> = {
  '+15005550001': [21211, "The 'To' number +15005550001 is not a valid phone number."],
  '+15005550002': [21612, "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number via SMS."],
  '+15005550003': [21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +15005550003."],
  '+15005550004': [21610, 'Attempt to send to unsubscribed recipient'],
  '+15005550009': [21614, "'To' number is not a valid mobile number"],
};
const MAGIC_TO_CALL: Record<string, [number, string]> = {
  '+15005550001': [21217, 'Phone number does not appear to be valid'],
  '+15005550003': [21215, 'Account not authorized to call +15005550003. Perhaps you need to enable some international permissions.'],
  '+15005550004': [21216, 'Call blocked by Twilio blocklist'],
};

function magic(table: Record<string, [number, string]>, number: string | undefined): void {
  const bare = number?.replace(/^(whatsapp:|messenger:)/, '');
  const hit = bare ? table[bare] : undefined;
  if (hit) throw new SimulatedError(400, hit[0], hit[1]);
}

/** GSM-7 text splits at 153 characters a segment, anything else (UCS-2) at 67. */
function segmentCount(body: string): number {
  const gsm = /^[\x20-\x7E\n\r£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà€]*$/.test(body);
  const [single, multi] = gsm ? [160, 153] : [70, 67];
  const length = [...body].length;
  if (length === 0) return 1;
  return length <= single ? 1 : Math.ceil(length / multi);
}

function accountUri(accountSid: string): string {
  return `/${API_VERSION}/Accounts/${accountSid}`;
}

export function createMessage(accountSid: string, p: Params): TwilioRecord {
  const to = first(p.To);
  const from = first(p.From);
  const messagingServiceSid = first(p.MessagingServiceSid);
  const body = first(p.Body);
  const mediaUrls = list(p.MediaUrl);
  const contentSid = first(p.ContentSid);
  const sendAt = first(p.SendAt);

  if (!to) throw new SimulatedError(400, 21604, "A 'To' phone number is required.");
  if (!MESSAGE_ADDRESS.test(to)) throw new SimulatedError(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
  if (!from && !messagingServiceSid) throw new SimulatedError(400, 21603, "A 'From' phone number is required.");
  if (from && !SENDER.test(from))
    throw new SimulatedError(400, 21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`);
  if (messagingServiceSid && !SID('MG').test(messagingServiceSid))
    throw new SimulatedError(400, 21701, `The Messaging Service Sid ${messagingServiceSid} is invalid.`);
  if (!body && mediaUrls.length === 0 && !contentSid)
    throw new SimulatedError(400, 21619, 'A text message body or media urls must be specified.');
  if (body && [...body].length > 1600)
    throw new SimulatedError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
  if (mediaUrls.length > 10) throw new SimulatedError(400, 21623, 'The number of media files exceeds the maximum of 10 allowed.');
  for (const url of mediaUrls) if (!/^https?:\/\//.test(url)) throw new SimulatedError(400, 21620, `Invalid media URL(s): ${url}`);
  if (contentSid && !SID('HX').test(contentSid)) throw new SimulatedError(400, 21655, 'The ContentSid is Invalid.');
  const contentVariables = first(p.ContentVariables);
  if (contentVariables) {
    try {
      JSON.parse(contentVariables);
    } catch {
      throw new SimulatedError(400, 21656, 'The ContentVariables Parameter is invalid.');
    }
  }
  if (sendAt) {
    if (!messagingServiceSid) throw new SimulatedError(400, 35118, 'MessagingServiceSid is required to schedule a message.');
    if (first(p.ScheduleType) !== 'fixed') throw new SimulatedError(400, 35114, 'Scheduling does not support this ScheduleType.');
    if (Number.isNaN(Date.parse(sendAt))) throw new SimulatedError(400, 35111, 'SendAt must be an ISO 8601 date and time.');
  }
  const validity = first(p.ValidityPeriod);
  if (validity !== undefined && !(Number(validity) >= 1 && Number(validity) <= 36000)) {
    throw new SimulatedError(400, 21635, 'ValidityPeriod must be between 1 and 36000 seconds.');
  }
  magic(MAGIC_FROM, from);
  magic(MAGIC_TO_MESSAGE, to);

  const sid = newSid(mediaUrls.length > 0 ? 'MM' : 'SM');
  const now = twilioDate();
  const uri = `${accountUri(accountSid)}/Messages/${sid}.json`;
  return {
    account_sid: accountSid,
    api_version: API_VERSION,
    body: body ?? '',
    date_created: now,
    date_sent: null,
    date_updated: now,
    direction: 'outbound-api',
    error_code: null,
    error_message: null,
    from: from ?? null,
    messaging_service_sid: messagingServiceSid ?? null,
    num_media: String(mediaUrls.length),
    num_segments: String(segmentCount(body ?? '')),
    price: null,
    price_unit: 'USD',
    sid,
    status: sendAt ? 'scheduled' : messagingServiceSid ? 'accepted' : 'queued',
    subresource_uris: { media: `${accountUri(accountSid)}/Messages/${sid}/Media.json` },
    to,
    uri,
  };
}

export function createCall(accountSid: string, p: Params): TwilioRecord {
  const to = first(p.To);
  const from = first(p.From);
  if (!to) throw new SimulatedError(400, 21201, "No 'To' number is specified");
  if (!from) throw new SimulatedError(400, 21213, 'Caller phone number is required');
  if (!CALL_ADDRESS.test(to)) throw new SimulatedError(400, 21217, 'Phone number does not appear to be valid');
  if (!CALL_ADDRESS.test(from)) throw new SimulatedError(400, 21212, `The 'From' number ${from} is not a valid phone number.`);
  const sources = ['Url', 'Twiml', 'ApplicationSid'].filter((k) => first(p[k]));
  if (sources.length === 0) throw new SimulatedError(400, 21205, 'Url, Twiml or ApplicationSid is required');
  if (sources.length > 1)
    throw new SimulatedError(400, 21205, `Only one of Url, Twiml or ApplicationSid may be given (got ${sources.join(', ')})`);
  const twiml = first(p.Twiml);
  if (twiml && !/<Response[\s>/]/.test(twiml))
    throw new SimulatedError(400, 21205, 'Twiml is not valid TwiML: it needs a <Response> element');
  const timeout = first(p.Timeout);
  if (timeout !== undefined && !(Number.isInteger(Number(timeout)) && Number(timeout) >= 1 && Number(timeout) <= 600)) {
    throw new SimulatedError(400, 21232, 'Timeout must be an integer between 1 and 600');
  }
  const machineDetection = first(p.MachineDetection);
  if (machineDetection && !['Enable', 'DetectMessageEnd'].includes(machineDetection)) {
    throw new SimulatedError(400, 21232, 'MachineDetection must be Enable or DetectMessageEnd');
  }
  magic(MAGIC_FROM, from);
  magic(MAGIC_TO_CALL, to);

  const sid = newSid('CA');
  const now = twilioDate();
  const base = `${accountUri(accountSid)}/Calls/${sid}`;
  return {
    account_sid: accountSid,
    annotation: null,
    answered_by: null,
    api_version: API_VERSION,
    caller_name: null,
    date_created: now,
    date_updated: now,
    direction: 'outbound-api',
    duration: null,
    end_time: null,
    forwarded_from: null,
    from,
    from_formatted: from,
    group_sid: null,
    parent_call_sid: null,
    phone_number_sid: E164.test(from) ? newSid('PN') : null,
    price: null,
    price_unit: 'USD',
    queue_time: '0',
    sid,
    start_time: null,
    status: 'queued',
    subresource_uris: {
      notifications: `${base}/Notifications.json`,
      recordings: `${base}/Recordings.json`,
      events: `${base}/Events.json`,
    },
    to,
    to_formatted: to,
    trunk_sid: null,
    uri: `${base}.json`,
  };
}

export function accountRecord(sid: string, friendlyName: string, status: string): TwilioRecord {
  const now = twilioDate(new Date('2024-01-01T00:00:00Z'));
  const uri = `${accountUri(sid)}.json`;
  return {
    auth_token: '********', // the real API returns it; the simulator never echoes a secret
    date_created: now,
    date_updated: now,
    friendly_name: friendlyName,
    owner_account_sid: sid,
    sid,
    status,
    subresource_uris: {
      messages: `${accountUri(sid)}/Messages.json`,
      calls: `${accountUri(sid)}/Calls.json`,
    },
    type: 'Full',
    uri,
  };
}
