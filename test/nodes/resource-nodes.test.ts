/**
 * twilio-get, twilio-query, twilio-update, twilio-delete and twilio-send's other creatable objects:
 * every object and action of the catalogue against the simulator, through real flows.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CATALOGUE } from '../../lib/catalogue/catalogue';
import { createTwilioClient } from '../../lib/transport/sdk-client';
import type { TwilioSimulator } from '../../simulator/server';
import { until } from '../support/assertions';
import { ACCOUNT, API_KEY, SendResult, accountNode, allNodes, helper, runNode, useRuntime } from '../support/harness';
import { root } from '../support/paths';

type Node = 'get' | 'query' | 'update' | 'delete' | 'create';
interface Row {
  name: string;
  value: string;
  valueType?: string;
  op?: string;
}
interface Scenario {
  node: Node;
  object: string;
  /** The Sid typed into the node (a function of the simulator's records). */
  sid?: (sim: TwilioSimulator, made: Made) => string;
  rows?: Row[];
  payload?: unknown;
  config?: Record<string, unknown>;
  check: (result: SendResult, sim: TwilioSimulator, made: Made) => void;
}

/** Records made through the SDK before the scenarios, for the objects the simulator does not seed. */
interface Made {
  message: string;
  mms: string;
  media: string;
  scheduled: string;
  application: string;
  queue: string;
  subaccount: string;
}

const sidOf = (sim: TwilioSimulator, collection: string, match?: (r: Record<string, unknown>) => boolean) =>
  String(sim.find(collection, match)!.sid);
const ok =
  (check: (payload: any, sim: TwilioSimulator, made: Made, result: SendResult) => void) =>
  (result: SendResult, sim: TwilioSimulator, made: Made) => {
    assert.equal(result.error, undefined, `${result.error?.code}: ${result.error?.message}`);
    check(result.output.payload, sim, made, result);
  };
const notSupported = (result: SendResult, sim: TwilioSimulator) => {
  assert.equal(result.error?.code, 'NOT_SUPPORTED');
  assert.equal(sim.requests.length, 0, 'refused before any request');
};
const row = (name: string, value: string, valueType = 'str', op?: string): Row => ({ name, value, valueType, op });

const SCENARIOS: Scenario[] = [
  // Account
  { node: 'get', object: 'Account', sid: () => ACCOUNT.sid, check: ok((p) => assert.equal(p.status, 'active')) },
  { node: 'query', object: 'Account', check: ok((p, _s, made) => assert.ok(p.some((a: any) => a.sid === made.subaccount))) },
  {
    node: 'create',
    object: 'Account',
    rows: [row('friendlyName', 'Tenant 42')],
    check: ok((p) => {
      assert.equal(p.friendlyName, 'Tenant 42');
      assert.equal(p.ownerAccountSid, ACCOUNT.sid);
    }),
  },
  {
    node: 'update',
    object: 'Account',
    sid: (_s, m) => m.subaccount,
    payload: { status: 'suspended' },
    check: ok((p) => assert.equal(p.status, 'suspended')),
  },
  { node: 'delete', object: 'Account', sid: (_s, m) => m.subaccount, check: ok((p) => assert.equal(p.status, 'closed')) },
  // Application
  { node: 'get', object: 'Application', sid: (_s, m) => m.application, check: ok((p) => assert.equal(p.friendlyName, 'IVR')) },
  { node: 'query', object: 'Application', rows: [row('friendlyName', 'IVR')], check: ok((p) => assert.equal(p.length, 1)) },
  {
    node: 'create',
    object: 'Application',
    rows: [
      row('friendlyName', 'Bot'),
      row('smsUrl', 'https://example.com/sms'),
      row('smsMethod', 'POST'),
      row('voiceCallerIdLookup', 'true', 'bool'),
    ],
    check: ok((p) => {
      assert.match(p.sid, /^AP/);
      assert.equal(p.smsUrl, 'https://example.com/sms');
      assert.equal(p.voiceCallerIdLookup, true);
    }),
  },
  {
    node: 'update',
    object: 'Application',
    sid: (_s, m) => m.application,
    rows: [row('voiceUrl', 'https://example.com/voice')],
    check: ok((p) => assert.equal(p.voiceUrl, 'https://example.com/voice')),
  },
  {
    node: 'delete',
    object: 'Application',
    sid: (_s, m) => m.application,
    check: ok((p, sim, made) => {
      assert.equal(p, true);
      assert.equal(
        sim.find('applications', (r) => r.sid === made.application),
        undefined,
      );
    }),
  },
  // ConnectApp
  { node: 'get', object: 'ConnectApp', sid: (s) => sidOf(s, 'connectApps'), check: ok((p) => assert.equal(p.companyName, 'Example Corp')) },
  { node: 'query', object: 'ConnectApp', check: ok((p) => assert.equal(p.length, 1)) },
  { node: 'create', object: 'ConnectApp', rows: [row('friendlyName', 'x')], check: notSupported },
  {
    node: 'update',
    object: 'ConnectApp',
    sid: (s) => sidOf(s, 'connectApps'),
    rows: [row('permissions', 'get-all,post-all')],
    check: ok((p) => assert.deepEqual(p.permissions, ['get-all', 'post-all'])),
  },
  {
    node: 'delete',
    object: 'ConnectApp',
    sid: (s) => sidOf(s, 'connectApps'),
    check: ok((p, sim) => {
      assert.equal(p, true);
      assert.equal(sim.collection('connectApps').size, 0);
    }),
  },
  // AuthorizedConnectApp
  {
    node: 'get',
    object: 'AuthorizedConnectApp',
    sid: (s) => sidOf(s, 'connectApps'),
    check: ok((p) => assert.equal(p.connectAppFriendlyName, 'Partner dashboard')),
  },
  { node: 'query', object: 'AuthorizedConnectApp', check: ok((p) => assert.equal(p.length, 1)) },
  // Numbers to buy
  {
    node: 'get',
    object: 'LocalPhoneNumber',
    sid: () => 'US:+14155551000',
    check: ok((p) => {
      assert.equal(p.phoneNumber, '+14155551000');
      assert.equal(p.region, 'CA');
    }),
  },
  { node: 'get', object: 'LocalPhoneNumber', sid: () => 'US:+14155559999', check: (r) => assert.equal(r.error?.code, 'NOT_FOUND') },
  {
    node: 'query',
    object: 'LocalPhoneNumber',
    sid: () => 'US',
    rows: [row('areaCode', '510', 'num'), row('smsEnabled', 'true', 'bool')],
    check: ok((p) => {
      assert.ok(p.length > 5);
      assert.ok(p.every((n: any) => n.phoneNumber.startsWith('+1510') && n.capabilities.SMS));
    }),
  },
  {
    node: 'get',
    object: 'TollFreePhoneNumber',
    sid: () => 'US:+18005551001',
    check: ok((p) => assert.equal(p.phoneNumber, '+18005551001')),
  },
  {
    node: 'query',
    object: 'TollFreePhoneNumber',
    sid: () => 'US',
    rows: [row('contains', '800555101')],
    check: ok((p) => assert.equal(p.length, 10)),
  },
  // Call
  {
    node: 'get',
    object: 'Call',
    sid: (s) => sidOf(s, 'calls', (r) => r.status === 'completed'),
    check: ok((p) => assert.equal(p.duration, '42')),
  },
  { node: 'query', object: 'Call', rows: [row('status', 'in-progress')], check: ok((p) => assert.equal(p.length, 2)) },
  {
    node: 'query',
    object: 'Call',
    rows: [row('startTime', '2001-01-01 00:00:00', 'str', 'after')],
    check: ok((p) => assert.equal(p.length, 3)),
  },
  { node: 'query', object: 'Call', rows: [row('startTime', '2001-01-01', 'str', 'before')], check: ok((p) => assert.equal(p.length, 0)) },
  {
    node: 'update',
    object: 'Call',
    sid: (s) => sidOf(s, 'calls', (r) => r.status === 'in-progress'),
    rows: [row('status', 'completed')],
    check: ok((p) => assert.equal(p.status, 'completed')),
  },
  {
    node: 'update',
    object: 'Call',
    sid: (s) => sidOf(s, 'calls', (r) => r.status === 'in-progress'),
    rows: [row('twiml', '<Response><Say>Moving you</Say></Response>')],
    check: ok((p) => assert.equal(p.status, 'in-progress')),
  },
  {
    node: 'delete',
    object: 'Call',
    sid: (s) => sidOf(s, 'calls', (r) => r.status === 'completed'),
    check: ok((p) => assert.equal(p, true)),
  },
  // Conference
  { node: 'get', object: 'Conference', sid: (s) => sidOf(s, 'conferences'), check: ok((p) => assert.equal(p.friendlyName, 'ops-bridge')) },
  {
    node: 'query',
    object: 'Conference',
    rows: [row('status', 'in-progress'), row('dateCreated', new Date().toISOString().slice(0, 10), 'str', 'on')],
    check: ok((p) => assert.equal(p.length, 1)),
  },
  {
    node: 'update',
    object: 'Conference',
    sid: (s) => sidOf(s, 'conferences'),
    rows: [row('status', 'completed')],
    check: ok((p) => assert.equal(p.status, 'completed')),
  },
  // Phone numbers of the account
  {
    node: 'get',
    object: 'IncomingPhoneNumber',
    sid: (s) => sidOf(s, 'incomingPhoneNumbers'),
    check: ok((p) => assert.equal(p.phoneNumber, '+15017122661')),
  },
  { node: 'query', object: 'IncomingPhoneNumber', rows: [row('phoneNumber', '+15017122661')], check: ok((p) => assert.equal(p.length, 1)) },
  {
    node: 'create',
    object: 'IncomingPhoneNumber',
    rows: [row('phoneNumber', '+14155551002'), row('smsUrl', 'https://example.com/in')],
    check: ok((p) => {
      assert.match(p.sid, /^PN/);
      assert.equal(p.smsUrl, 'https://example.com/in');
    }),
  },
  {
    node: 'update',
    object: 'IncomingPhoneNumber',
    sid: (s) => sidOf(s, 'incomingPhoneNumbers'),
    rows: [row('smsUrl', 'https://example.com/sms'), row('friendlyName', 'Support')],
    check: ok((p) => {
      assert.equal(p.smsUrl, 'https://example.com/sms');
      assert.equal(p.friendlyName, 'Support');
    }),
  },
  {
    node: 'delete',
    object: 'IncomingPhoneNumber',
    sid: (s) => sidOf(s, 'incomingPhoneNumbers'),
    check: ok((p, sim) => {
      assert.equal(p, true);
      assert.equal(sim.collection('incomingPhoneNumbers').size, 0);
    }),
  },
  {
    node: 'get',
    object: 'LocalIncomingPhoneNumber',
    sid: (s) => sidOf(s, 'incomingPhoneNumbers'),
    check: ok((p) => assert.match(p.sid, /^PN/)),
  },
  { node: 'query', object: 'LocalIncomingPhoneNumber', check: ok((p) => assert.equal(p.length, 1)) },
  {
    node: 'create',
    object: 'LocalIncomingPhoneNumber',
    rows: [row('phoneNumber', '+15105551003')],
    check: ok((p, sim) => assert.equal(sim.find('incomingPhoneNumbers', (r) => r.sid === p.sid)!.type, 'local')),
  },
  {
    node: 'get',
    object: 'TollFreeIncomingPhoneNumber',
    sid: (s) => sidOf(s, 'incomingPhoneNumbers'),
    check: ok((p) => assert.match(p.sid, /^PN/)),
  },
  { node: 'query', object: 'TollFreeIncomingPhoneNumber', check: ok((p) => assert.equal(p.length, 0)) },
  {
    node: 'create',
    object: 'TollFreeIncomingPhoneNumber',
    rows: [row('phoneNumber', '+18005551004')],
    check: ok((p, sim) => assert.equal(sim.find('incomingPhoneNumbers', (r) => r.sid === p.sid)!.type, 'toll-free')),
  },
  // Notifications
  { node: 'get', object: 'Notification', sid: (s) => sidOf(s, 'notifications'), check: ok((p) => assert.equal(p.errorCode, '11200')) },
  {
    node: 'query',
    object: 'Notification',
    rows: [row('log', '0'), row('messageDate', '2001-01-01', 'str', 'after')],
    check: ok((p) => assert.equal(p.length, 1)),
  },
  { node: 'delete', object: 'Notification', sid: (s) => sidOf(s, 'notifications'), check: notSupported },
  {
    node: 'get',
    object: 'CallNotification',
    sid: (s) => `${String(s.find('notifications')!.call_sid)}:${sidOf(s, 'notifications')}`,
    check: ok((p) => assert.match(p.sid, /^NO/)),
  },
  {
    node: 'query',
    object: 'CallNotification',
    sid: (s) => String(s.find('notifications')!.call_sid),
    check: ok((p) => assert.equal(p.length, 1)),
  },
  // Caller IDs
  {
    node: 'get',
    object: 'OutgoingCallerId',
    sid: (s) => sidOf(s, 'outgoingCallerIds'),
    check: ok((p) => assert.equal(p.phoneNumber, '+15017122670')),
  },
  { node: 'query', object: 'OutgoingCallerId', rows: [row('phoneNumber', '+15017122670')], check: ok((p) => assert.equal(p.length, 1)) },
  {
    node: 'create',
    object: 'OutgoingCallerId',
    rows: [row('phoneNumber', '+15017122671'), row('friendlyName', 'Warehouse')],
    check: ok((p, sim) => {
      assert.match(p.validationCode, /^\d{6}$/);
      assert.ok(sim.find('outgoingCallerIds', (r) => r.phone_number === '+15017122671'));
    }),
  },
  {
    node: 'update',
    object: 'OutgoingCallerId',
    sid: (s) => sidOf(s, 'outgoingCallerIds'),
    rows: [row('friendlyName', 'Reception')],
    check: ok((p) => assert.equal(p.friendlyName, 'Reception')),
  },
  { node: 'delete', object: 'OutgoingCallerId', sid: (s) => sidOf(s, 'outgoingCallerIds'), check: ok((p) => assert.equal(p, true)) },
  { node: 'get', object: 'CallerIdValidation', sid: (s) => sidOf(s, 'outgoingCallerIds'), check: notSupported },
  {
    node: 'create',
    object: 'CallerIdValidation',
    rows: [row('phoneNumber', '+15017122672')],
    check: ok((p) => assert.equal(p.phoneNumber, '+15017122672')),
  },
  {
    node: 'create',
    object: 'CallerIdValidation',
    rows: [row('friendlyName', 'no number')],
    check: (r) => assert.equal(r.error?.code, 'MISSING_INPUT'),
  },
  // Conference participants
  {
    node: 'get',
    object: 'ConferenceParticipant',
    sid: (s) => `${sidOf(s, 'conferences')}:${String(s.find('participants')!.call_sid)}`,
    check: ok((p) => assert.equal(p.label, 'alice')),
  },
  {
    node: 'get',
    object: 'ConferenceParticipant',
    sid: (s) => `${sidOf(s, 'conferences')}:bob`,
    check: ok((p) => assert.equal(p.label, 'bob')),
  },
  {
    node: 'get',
    object: 'ConferenceParticipant',
    sid: (s) => `${ACCOUNT.sid}:${sidOf(s, 'conferences')}:bob`,
    check: ok((p) => assert.equal(p.label, 'bob')),
  },
  {
    node: 'query',
    object: 'ConferenceParticipant',
    sid: (s) => sidOf(s, 'conferences'),
    rows: [row('muted', 'false', 'bool')],
    check: ok((p) => assert.equal(p.length, 2)),
  },
  {
    node: 'create',
    object: 'ConferenceParticipant',
    sid: (s) => sidOf(s, 'conferences'),
    rows: [row('from', '+15017122661'), row('to', '+15558675313'), row('label', 'carol')],
    check: ok((p) => {
      assert.equal(p.label, 'carol');
      assert.match(p.callSid, /^CA/);
    }),
  },
  {
    node: 'create',
    object: 'ConferenceParticipant',
    sid: (s) => sidOf(s, 'conferences'),
    rows: [row('from', '+15017122661')],
    check: (r) => assert.equal(r.error?.code, 'MISSING_INPUT'),
  },
  {
    node: 'update',
    object: 'ConferenceParticipant',
    sid: (s) => `${sidOf(s, 'conferences')}:alice`,
    payload: { muted: true, hold: true },
    check: ok((p) => {
      assert.equal(p.muted, true);
      assert.equal(p.hold, true);
    }),
  },
  {
    node: 'delete',
    object: 'ConferenceParticipant',
    sid: (s) => `${sidOf(s, 'conferences')}:bob`,
    check: ok((p, sim) => {
      assert.equal(p, true);
      assert.equal(sim.collection('participants').size, 1);
    }),
  },
  // Recordings and transcriptions
  { node: 'get', object: 'Recording', sid: (s) => sidOf(s, 'recordings'), check: ok((p) => assert.equal(p.duration, '40')) },
  { node: 'query', object: 'Recording', rows: [row('callSid', '')], check: ok((p) => assert.equal(p.length, 1)) },
  { node: 'delete', object: 'Recording', sid: (s) => sidOf(s, 'recordings'), check: ok((p) => assert.equal(p, true)) },
  {
    node: 'get',
    object: 'CallRecording',
    sid: (s) => `${String(s.find('recordings')!.call_sid)}:${sidOf(s, 'recordings')}`,
    check: ok((p) => assert.match(p.sid, /^RE/)),
  },
  {
    node: 'query',
    object: 'CallRecording',
    sid: (s) => String(s.find('recordings')!.call_sid),
    check: ok((p) => assert.equal(p.length, 1)),
  },
  {
    node: 'create',
    object: 'CallRecording',
    sid: (s) => sidOf(s, 'calls', (r) => r.status === 'in-progress'),
    rows: [row('recordingChannels', 'dual'), row('recordingStatusCallbackEvent', 'in-progress,completed')],
    check: ok((p) => assert.equal(p.status, 'in-progress')),
  },
  {
    node: 'update',
    object: 'CallRecording',
    sid: (s) => `${String(s.find('recordings')!.call_sid)}:${sidOf(s, 'recordings')}`,
    rows: [row('status', 'paused'), row('pauseBehavior', 'silence')],
    check: ok((p) => assert.equal(p.status, 'paused')),
  },
  {
    node: 'delete',
    object: 'CallRecording',
    sid: (s) => `${String(s.find('recordings')!.call_sid)}:${sidOf(s, 'recordings')}`,
    check: ok((p) => assert.equal(p, true)),
  },
  {
    node: 'get',
    object: 'Transcription',
    sid: (s) => sidOf(s, 'transcriptions'),
    check: ok((p) => assert.equal(p.transcriptionText, 'Hello from the simulator')),
  },
  { node: 'query', object: 'Transcription', check: ok((p) => assert.equal(p.length, 1)) },
  { node: 'delete', object: 'Transcription', sid: (s) => sidOf(s, 'transcriptions'), check: ok((p) => assert.equal(p, true)) },
  {
    node: 'get',
    object: 'RecordingTranscription',
    sid: (s) => `${sidOf(s, 'recordings')}:${sidOf(s, 'transcriptions')}`,
    check: ok((p) => assert.match(p.sid, /^TR/)),
  },
  { node: 'query', object: 'RecordingTranscription', sid: (s) => sidOf(s, 'recordings'), check: ok((p) => assert.equal(p.length, 1)) },
  {
    node: 'delete',
    object: 'RecordingTranscription',
    sid: (s) => `${sidOf(s, 'recordings')}:${sidOf(s, 'transcriptions')}`,
    check: ok((p) => assert.equal(p, true)),
  },
  // Short codes
  { node: 'get', object: 'ShortCode', sid: (s) => sidOf(s, 'shortCodes'), check: ok((p) => assert.equal(p.shortCode, '89757')) },
  { node: 'query', object: 'ShortCode', rows: [row('shortCode', '89757')], check: ok((p) => assert.equal(p.length, 1)) },
  {
    node: 'update',
    object: 'ShortCode',
    sid: (s) => sidOf(s, 'shortCodes'),
    rows: [row('smsUrl', 'https://example.com/sc')],
    check: ok((p) => assert.equal(p.smsUrl, 'https://example.com/sc')),
  },
  { node: 'delete', object: 'ShortCode', sid: (s) => sidOf(s, 'shortCodes'), check: notSupported },
  // Messages (and the deprecated SMSMessage, served by Message)
  { node: 'get', object: 'Message', sid: (_s, m) => m.message, check: ok((p) => assert.equal(p.body, 'stored')) },
  {
    node: 'get',
    object: 'Message',
    sid: (_s, m) => `${ACCOUNT.sid}:${m.message}`,
    check: ok((p, _s, _m, r) => {
      assert.equal(p.body, 'stored');
      assert.equal(r.output.twilio.accountSid, ACCOUNT.sid);
    }),
  },
  {
    node: 'query',
    object: 'Message',
    rows: [row('to', '+15558675310'), row('dateSent', new Date().toISOString().slice(0, 10), 'str', 'on')],
    check: ok((p) => assert.equal(p.length, 3)),
  },
  { node: 'update', object: 'Message', sid: (_s, m) => m.message, rows: [row('body', '')], check: ok((p) => assert.equal(p.body, '')) },
  { node: 'update', object: 'Message', sid: (_s, m) => m.message, payload: { body: '' }, check: ok((p) => assert.equal(p.body, '')) },
  {
    node: 'update',
    object: 'Message',
    sid: (_s, m) => m.scheduled,
    rows: [row('status', 'canceled')],
    check: ok((p) => assert.equal(p.status, 'canceled')),
  },
  {
    node: 'update',
    object: 'Message',
    sid: (_s, m) => m.message,
    rows: [row('status', 'canceled')],
    check: (r) => {
      assert.equal(r.error?.code, 'INVALID_REQUEST_ERROR');
      assert.equal(r.error?.cause?.twilioCode, 30409);
    },
  },
  {
    node: 'delete',
    object: 'Message',
    sid: (_s, m) => m.message,
    check: ok((p, sim, m) => {
      assert.equal(p, true);
      assert.equal(sim.messages.has(m.message), false);
    }),
  },
  {
    node: 'get',
    object: 'SMSMessage',
    sid: (_s, m) => m.message,
    check: ok((p, _s, _m, r) => {
      assert.equal(p.body, 'stored');
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0], /deprecated/);
    }),
  },
  { node: 'query', object: 'SMSMessage', check: ok((p) => assert.equal(p.length, 3)) },
  {
    node: 'create',
    object: 'SMSMessage',
    config: { to: '+15558675310', toType: 'str', body: 'old style', bodyType: 'str' },
    check: ok((p, _s, _m, r) => {
      assert.equal(p.body, 'old style');
      assert.match(r.warnings[0], /deprecated/);
    }),
  },
  { node: 'update', object: 'SMSMessage', sid: (_s, m) => m.message, rows: [row('body', '')], check: ok((p) => assert.equal(p.body, '')) },
  // Beyond the 2010-04-01 objects: balance, usage, media, queues, lookups
  {
    node: 'get',
    object: 'Balance',
    check: ok((p) => {
      assert.equal(p.balance, '42.50');
      assert.equal(p.currency, 'USD');
    }),
  },
  {
    node: 'query',
    object: 'UsageRecord',
    rows: [row('category', 'sms'), row('startDate', '2026-11-01')],
    check: ok((p) => {
      assert.equal(p.length, 1);
      assert.equal(p[0].category, 'sms');
    }),
  },
  {
    node: 'get',
    object: 'MessageMedia',
    sid: (_s, m) => `${m.mms}:${m.media}`,
    check: ok((p) => assert.equal(p.contentType, 'image/png')),
  },
  { node: 'query', object: 'MessageMedia', sid: (_s, m) => m.mms, check: ok((p) => assert.equal(p.length, 2)) },
  {
    node: 'delete',
    object: 'MessageMedia',
    sid: (_s, m) => `${m.mms}:${m.media}`,
    check: ok((p, sim) => {
      assert.equal(p, true);
      assert.equal(sim.collection('media').size, 1);
    }),
  },
  { node: 'get', object: 'Queue', sid: (_s, m) => m.queue, check: ok((p) => assert.equal(p.friendlyName, 'support')) },
  { node: 'query', object: 'Queue', check: ok((p) => assert.equal(p.length, 1)) },
  {
    node: 'create',
    object: 'Queue',
    rows: [row('friendlyName', 'sales'), row('maxSize', '20', 'num')],
    check: ok((p) => {
      assert.equal(p.friendlyName, 'sales');
      assert.equal(p.maxSize, 20);
    }),
  },
  { node: 'create', object: 'Queue', rows: [row('maxSize', '20', 'num')], check: (r) => assert.equal(r.error?.code, 'MISSING_INPUT') },
  {
    node: 'update',
    object: 'Queue',
    sid: (_s, m) => m.queue,
    rows: [row('maxSize', '50', 'num')],
    check: ok((p) => assert.equal(p.maxSize, 50)),
  },
  { node: 'delete', object: 'Queue', sid: (_s, m) => m.queue, check: ok((p) => assert.equal(p, true)) },
  {
    node: 'get',
    object: 'PhoneNumberLookup',
    sid: () => '+14155550100',
    check: ok((p) => {
      assert.equal(p.valid, true);
      assert.equal(p.lineTypeIntelligence.type, 'mobile');
    }),
  },
  {
    node: 'get',
    object: 'PhoneNumberLookup',
    sid: () => '+15005550001',
    check: ok((p) => {
      assert.equal(p.valid, false);
      assert.deepEqual(p.validationErrors, ['INVALID_BUT_POSSIBLE']);
    }),
  },
];

describe('resource nodes over the catalogue', () => {
  const { simulator } = useRuntime();
  let made: Made;

  /** Records the simulator does not seed, made through the SDK as a flow would have made them. */
  async function prepare(): Promise<Made> {
    const { client, requestClient } = createTwilioClient(
      { accountSid: ACCOUNT.sid, authMode: 'apiKey', apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret },
      { baseUrl: simulator.url },
    );
    try {
      const message = await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'stored' });
      const mms = await client.messages.create({
        to: '+15558675310',
        from: '+15017122661',
        mediaUrl: ['https://example.com/a.png', 'https://example.com/b.jpg'],
      });
      const scheduled = await client.messages.create({
        to: '+15558675310',
        messagingServiceSid: 'MG' + '1'.repeat(32),
        body: 'later',
        sendAt: new Date(Date.now() + 3_600_000),
        scheduleType: 'fixed',
      });
      const application = await client.applications.create({ friendlyName: 'IVR' });
      const queue = await client.queues.create({ friendlyName: 'support' });
      const subaccount = await client.api.v2010.accounts.create({ friendlyName: 'Tenant 1' });
      const media = [...simulator.collection('media').values()].find(
        (m) => m.parent_sid === mms.sid && String(m.media_url).endsWith('.png'),
      )!;
      simulator.requests.length = 0;
      return {
        message: message.sid,
        mms: mms.sid,
        media: String(media.sid),
        scheduled: scheduled.sid,
        application: application.sid,
        queue: queue.sid,
        subaccount: subaccount.sid,
      };
    } finally {
      requestClient.destroy();
    }
  }

  before(async () => {
    made = await prepare();
  });

  for (const scenario of SCENARIOS) {
    const sidText = scenario.sid ? ' by Sid' : '';
    it(`${scenario.node} ${scenario.object}${sidText}${scenario.rows ? ` (${scenario.rows.map((r) => r.name).join(', ')})` : ''}${scenario.payload ? ' from msg.payload' : ''}`, async () => {
      simulator.reset();
      made = await prepare();
      const type = scenario.node === 'create' ? 'twilio-send' : `twilio-${scenario.node}`;
      const sid = scenario.sid?.(simulator, made) ?? '';
      const config: Record<string, unknown> =
        scenario.node === 'create'
          ? { resource: scenario.object, sid, sidType: 'str', fields: scenario.rows ?? [], ...scenario.config }
          : {
              object: scenario.object,
              sid,
              sidType: 'str',
              [scenario.node === 'query' ? 'filters' : 'fields']: scenario.rows ?? [],
              ...scenario.config,
            };
      const result = await runNode(simulator.url, type, config, scenario.payload !== undefined ? { payload: scenario.payload } : {});
      await helper.unload();
      scenario.check(result, simulator, made);
      if (!result.error && scenario.node !== 'create') {
        assert.deepEqual(Object.keys(result.output.twilio).sort(), ['accountSid', 'action', 'object', 'sid']);
        assert.equal(result.output.twilio.object, scenario.object);
      }
    });
  }

  it('covers every action of every object in the catalogue (X and +)', () => {
    const covered = new Set(SCENARIOS.map((s) => `${s.node}:${s.object}`));
    const missing = CATALOGUE.flatMap((o) => Object.keys(o.actions).map((a) => `${a}:${o.name}`)).filter((k) => !covered.has(k));
    // Message and Call creation have their own suites (send-message, send-call).
    assert.deepEqual(
      missing.filter((k) => !['create:Message', 'create:Call'].includes(k)),
      [],
    );
  });
});

describe('queries: paging, limits, one message per record', () => {
  const { simulator } = useRuntime();

  it('follows pages past the first and stops at the limit, with progress in the status', async () => {
    const { output, error, statuses } = await runNode(
      simulator.url,
      'twilio-query',
      { object: 'LocalPhoneNumber', sid: 'US', sidType: 'str', limit: 45, pageSize: 20 },
      {},
    );
    await helper.unload();
    assert.equal(error, undefined);
    assert.equal(output.payload.length, 45);
    assert.equal(new Set(output.payload.map((n: any) => n.phoneNumber)).size, 45);
    assert.equal(simulator.requests.length, 3, 'three pages of 20');
    assert.deepEqual(
      statuses.filter((s) => s.text === 'twilio.status.record').map((s) => s.fill),
      ['blue', 'blue', 'blue', 'green'],
    );
  });

  it('says "1 record", not "1 records"', async () => {
    const { output, statuses } = await runNode(
      simulator.url,
      'twilio-query',
      { object: 'LocalPhoneNumber', sid: 'US', sidType: 'str', limit: 1, pageSize: 1 },
      {},
    );
    await helper.unload();
    assert.equal(output.payload.length, 1);
    assert.equal(statuses.at(-1)?.text, 'twilio.status.record');
    const en = JSON.parse(
      require('node:fs').readFileSync(
        require('node:path').join(root, 'dist', 'nodes', 'twilio-query', 'locales', 'en-US', 'twilio-query.json'),
        'utf8',
      ),
    );
    assert.equal(en.twilio.status.record, '__count__ record');
    assert.equal(en.twilio.status.record_plural, '__count__ records');
  });

  it('reads every page with limit 0', async () => {
    const { output } = await runNode(
      simulator.url,
      'twilio-query',
      { object: 'LocalPhoneNumber', sid: 'US', sidType: 'str', limit: 0, pageSize: 25 },
      {},
    );
    await helper.unload();
    assert.equal(output.payload.length, 60);
  });

  it('sends one message per record with msg.parts for a join node, keeping the rest of the msg', async () => {
    const { outputs, error } = await runNode(
      simulator.url,
      'twilio-query',
      { object: 'ConferenceParticipant', sid: String(simulator.find('conferences')!.sid), sidType: 'str', output: 'each' },
      { topic: 'keep' },
    );
    await helper.unload();
    assert.equal(error, undefined);
    assert.equal(outputs.length, 2);
    assert.deepEqual(
      outputs.map((m) => [m.parts.index, m.parts.count, m.parts.type, m.topic]),
      [
        [0, 2, 'array', 'keep'],
        [1, 2, 'array', 'keep'],
      ],
    );
    assert.equal(outputs[0].parts.id, outputs[1].parts.id);
    assert.notEqual(outputs[0].payload.callSid, outputs[1].payload.callSid);
  });

  it('refuses bad filters, limits and page sizes with INVALID_INPUT', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ object: 'Message', filters: [{ name: 'toNumber', value: 'x', valueType: 'str' }] }, /no filter "toNumber"/],
      [
        { object: 'Message', filters: [{ name: 'dateSent', value: 'yesterday-ish', valueType: 'str', op: 'after' }] },
        /dateSent must be a date/,
      ],
      [{ object: 'Call', filters: [{ name: 'status', value: 'ringing-ish', valueType: 'str' }] }, /status must be one of/],
      [{ object: 'Message', limit: -1 }, /Limit/],
      [{ object: 'Message', pageSize: 0 }, /Page size/],
    ];
    for (const [config, message] of cases) {
      const { error } = await runNode(simulator.url, 'twilio-query', config, {});
      await helper.unload();
      assert.equal(error?.code, 'INVALID_INPUT');
      assert.match(error!.message, message);
    }
    assert.equal(simulator.requests.length, 0);
  });

  it('reads filter values from the message, with dates as YYYY-MM-DD HH:MM:SS or ISO', async () => {
    const { output, error } = await runNode(
      simulator.url,
      'twilio-query',
      {
        object: 'Call',
        filters: [
          { name: 'status', value: 'wanted', valueType: 'msg' },
          { name: 'startTime', value: 'since', valueType: 'msg', op: 'after' },
        ],
      },
      { wanted: 'completed', since: '2020-01-01 00:00:00' },
    );
    await helper.unload();
    assert.equal(error, undefined);
    assert.equal(output.payload.length, 1);
    assert.equal(simulator.requests[0].query['StartTime>'], '2020-01-01T00:00:00Z');
  });
});

describe('updates: fields from the node or msg.payload', () => {
  const { simulator } = useRuntime();

  it('refuses unknown fields and wrong types, naming them, before any request', async () => {
    const sid = `${String(simulator.find('conferences')!.sid)}:alice`;
    const cases: Array<[unknown, RegExp]> = [
      [{ mutted: true }, /no field "mutted"/],
      [{ muted: 'loudly' }, /muted must be true or false/],
      [{ holdUrl: 'ftp://x' }, /holdUrl must be an http/],
    ];
    for (const [payload, message] of cases) {
      const { error } = await runNode(
        simulator.url,
        'twilio-update',
        { object: 'ConferenceParticipant', sid, sidType: 'str' },
        { payload },
      );
      await helper.unload();
      assert.equal(error?.code, 'INVALID_INPUT');
      assert.match(error!.message, message);
    }
    assert.equal(simulator.requests.length, 0);
  });

  it("lets the node's rows win over msg.payload, and ignores __proto__ keys", async () => {
    const sid = `${String(simulator.find('conferences')!.sid)}:alice`;
    const payload = JSON.parse('{"muted": false, "__proto__": {"polluted": true}}');
    const { output, error } = await runNode(
      simulator.url,
      'twilio-update',
      { object: 'ConferenceParticipant', sid, sidType: 'str', fields: [{ name: 'muted', value: 'true', valueType: 'bool' }] },
      { payload },
    );
    await helper.unload();
    assert.equal(error, undefined);
    assert.equal(output.payload.muted, true);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('takes a record in msg.payload for what it is: not fields, unless told to ignore msg.payload', async () => {
    const participant = simulator.find('participants')!;
    const record = {
      sid: undefined,
      callSid: participant.call_sid,
      accountSid: participant.account_sid,
      conferenceSid: participant.conference_sid,
      muted: false,
    };
    const config = {
      object: 'ConferenceParticipant',
      sid: `${String(participant.conference_sid)}:${String(participant.call_sid)}`,
      sidType: 'str',
      fields: [{ name: 'muted', value: 'true', valueType: 'bool' }],
    };
    const refused = await runNode(simulator.url, 'twilio-update', config, { payload: { ...record, sid: 'CF' + '0'.repeat(32) } });
    await helper.unload();
    assert.equal(refused.error?.code, 'INVALID_INPUT');
    assert.match(refused.error!.message, /is a Twilio record/);
    const ignored = await runNode(
      simulator.url,
      'twilio-update',
      { ...config, payloadFields: false },
      { payload: { ...record, sid: 'CF' + '0'.repeat(32) } },
    );
    await helper.unload();
    assert.equal(ignored.error, undefined);
    assert.equal(ignored.output.payload.muted, true);
  });

  it('reads the Sid from msg.sid by default, or from a record', async () => {
    const conference = String(simulator.find('conferences')!.sid);
    const { output, error } = await runNode(
      simulator.url,
      'twilio-update',
      { object: 'Conference', sid: 'sid', sidType: 'msg', fields: [{ name: 'status', value: 'completed', valueType: 'str' }] },
      { sid: conference },
    );
    await helper.unload();
    assert.equal(error, undefined);
    assert.equal(output.payload.status, 'completed');
    const fromRecord = await runNode(
      simulator.url,
      'twilio-get',
      { object: 'Conference', sid: 'payload', sidType: 'msg' },
      { payload: output.payload },
    );
    await helper.unload();
    assert.equal(fromRecord.output.payload.sid, conference);
  });
});

describe('a resource node that stops', () => {
  const { simulator } = useRuntime();

  it('ends every msg it took once: the one in flight with its answer, the queued one as NOT_SENT', async () => {
    simulator.latencyMs = 200;
    try {
      // One request at a time: the second msg's request waits in the account's queue.
      const account = accountNode(simulator.url, 'apiKey', { maxConcurrency: 1 });
      const conference = String(simulator.find('conferences')!.sid);
      const flow = [
        { id: 'tab', type: 'tab', label: 't' },
        account.node,
        { id: 'get', type: 'twilio-get', z: 'tab', account: 'account', object: 'Conference', sid: conference, sidType: 'str', wires: [[]] },
      ];
      await helper.load(allNodes, flow, { account: account.credentials });
      const node = helper.getNode('get');
      const ends: string[] = [];
      const complete = node._complete as (m: unknown, err?: { code: string }) => void;
      node._complete = (m: unknown, err?: { code: string }) => {
        ends.push(err?.code ?? 'done');
        complete.call(node, m, err);
      };
      node.receive({});
      node.receive({});
      const queue = (helper.getNode('account') as unknown as { queue: { state: { inFlight: number; queued: number } } }).queue;
      await until(() => queue.state.inFlight === 1 && queue.state.queued === 1, 'one request in flight, one queued');
      // Removing the node (the account stays): it takes its queued request back, and waits for the answer in flight.
      await helper.setFlows(
        flow.filter((n) => n.id !== 'get'),
        'full',
        { account: account.credentials } as never,
      );
      assert.deepEqual(ends.sort(), ['NOT_SENT', 'done']);
      assert.equal(simulator.requests.length, 1, 'the queued request never left');
      assert.equal(ends.length, 2, 'each msg ended once');
    } finally {
      simulator.latencyMs = 0;
    }
  });
});
