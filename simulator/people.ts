/**
 * The people at the other end: what becomes of a message or a call to a number. Most numbers
 * receive their texts and answer their calls; a few, set here or by a test, do not, the way real
 * handsets fail (Twilio's error codes on undelivered and failed messages, busy and unanswered calls,
 * voicemail answering for a person).
 */
import { API_VERSION, TwilioRecord, twilioDate } from './resources';

export type MessageFate = 'delivered' | 'read' | 'sent' | 'undelivered' | 'failed';
export type CallFate = 'completed' | 'busy' | 'no-answer' | 'failed' | 'machine';

export interface Person {
  message?: MessageFate;
  call?: CallFate;
  /** Texts back once a text reaches them: this, after `afterMs` (default 1500). */
  reply?: { text: string; afterMs?: number };
  /** Presses these keys when a call they answer asks for them (a <Gather>). */
  press?: string;
  /** What Twilio's record says of a text that failed to reach them, instead of its usual text (a test's). */
  errorMessage?: string;
}

/** The simulated people every test and the demo can write to (numbers no real phone has: 555 01xx). */
export const SIMULATED_PEOPLE: Readonly<Record<string, Person>> = {
  '+15555550100': { message: 'delivered', call: 'completed' }, // answers, by hand
  '+15555550101': { message: 'undelivered', call: 'no-answer' }, // phone off: texts wait and expire, calls ring out
  '+15555550102': { message: 'failed', call: 'busy' }, // a landline: no texts; always on the phone
  '+15555550103': { message: 'delivered', call: 'machine' }, // voicemail picks up
  '+15555550104': { message: 'read', call: 'failed' }, // WhatsApp reads receipts; calls cannot reach it
  // People who answer questions (twilio-ask): yes, no, something else, and one who reads but never answers.
  '+15555550110': { reply: { text: 'Yes!' } },
  '+15555550111': { reply: { text: 'no' } },
  '+15555550112': { reply: { text: 'what garage?' } },
  '+15555550113': {},
  '+15555550114': { reply: { text: 'close', afterMs: 3_000 } },
  // People who get paged (twilio-page): one presses 1, one answers but presses nothing, one acknowledges by text.
  '+15555550120': { call: 'completed', press: '1' },
  '+15555550121': { call: 'completed' },
  '+15555550122': { call: 'no-answer', reply: { text: 'ACK', afterMs: 1_000 } },
};

/** Twilio's codes for what went wrong (https://www.twilio.com/docs/api/errors). */
const MESSAGE_ERRORS: Partial<Record<MessageFate, [number, string]>> = {
  undelivered: [30003, 'Unreachable destination handset'],
  failed: [30006, 'Landline or unreachable carrier'],
};

export interface StatusStep {
  /** The record's fields at this step. */
  fields: TwilioRecord;
  /** What a status callback of this step carries, beside the call's or message's common parameters. */
  callback: Record<string, string>;
  /** The call progress event this step is (StatusCallbackEvent), for calls. */
  event?: string;
}

const bare = (address: unknown) => String(address ?? '').replace(/^(whatsapp:|messenger:)/, '');

export function messageSteps(record: TwilioRecord, people: Readonly<Record<string, Person>>): StatusStep[] {
  const person = people[bare(record.to)];
  const fate = person?.message ?? 'delivered';
  const path: string[] =
    fate === 'failed' ? ['failed'] : fate === 'sent' ? ['sent'] : fate === 'read' ? ['sent', 'delivered', 'read'] : ['sent', fate];
  return path.map((status) => {
    const error = status === fate ? MESSAGE_ERRORS[fate] : undefined;
    return {
      fields: {
        status,
        date_sent: status === 'sent' || status === 'failed' ? twilioDate() : record.date_sent,
        error_code: error ? error[0] : null,
        error_message: error ? (person?.errorMessage ?? error[1]) : null,
      },
      callback: {
        MessageSid: String(record.sid),
        SmsSid: String(record.sid),
        MessageStatus: status,
        SmsStatus: status,
        ...(error ? { ErrorCode: String(error[0]) } : {}),
      },
    };
  });
}

export function callSteps(record: TwilioRecord, people: Readonly<Record<string, Person>>, machineDetection: boolean): StatusStep[] {
  const fate = people[bare(record.to)]?.call ?? 'completed';
  const answered = fate === 'completed' || fate === 'machine';
  const answeredBy = machineDetection && answered ? (fate === 'machine' ? 'machine_start' : 'human') : undefined;
  const path: Array<[event: string, status: string]> =
    fate === 'failed'
      ? [['completed', 'failed']]
      : answered
        ? [
            ['initiated', 'queued'],
            ['ringing', 'ringing'],
            ['answered', 'in-progress'],
            ['completed', 'completed'],
          ]
        : [
            ['initiated', 'queued'],
            ['ringing', 'ringing'],
            ['completed', fate],
          ];
  return path.map(([event, status], i) => {
    const ended = event === 'completed';
    const duration = ended && answered ? '12' : ended ? '0' : undefined;
    return {
      event,
      fields: {
        status,
        answered_by: answeredBy && i >= 2 ? answeredBy : null,
        ...(duration !== undefined ? { duration, end_time: twilioDate() } : {}),
        ...(status === 'in-progress' ? { start_time: twilioDate() } : {}),
      },
      callback: {
        CallSid: String(record.sid),
        CallStatus: status,
        Direction: 'outbound-api',
        CallbackSource: 'call-progress-events',
        SequenceNumber: String(i),
        Timestamp: twilioDate(),
        ApiVersion: API_VERSION,
        ...(answeredBy && i >= 2 ? { AnsweredBy: answeredBy } : {}),
        ...(duration !== undefined ? { CallDuration: duration } : {}),
      },
    };
  });
}
