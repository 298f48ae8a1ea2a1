/**
 * The resource catalogue: every Twilio object the nodes act on, as data. For each object: its
 * actions and the SDK call behind each, the parts of its compound Sid, its list filters and its
 * writable fields. The runtime executes it (actions.ts) and the editor builds its object
 * and field lists from it (served by twilio-config at GET /twilio-catalogue). Adding an object is a row.
 *
 * An SDK call is written as the path the SDK is walked: `account.conferences(conferenceSid).participants(callSid).update`
 * starts at `client.api.v2010.accounts(<account>)`, calls each `name(part)` with that Sid part, and
 * ends with the method. Roots: `account` (the config's account, or an `AC…:` prefix), `api`
 * (`client.api.v2010`), `lookups` (`client.lookups.v2`).
 */
import { PATTERNS } from '../twilio/values';
import { LocalText, text } from '../core/texts';

export type Action = 'get' | 'query' | 'create' | 'update' | 'delete';
export const ACTIONS: readonly Action[] = ['get', 'query', 'create', 'update', 'delete'];

type ValueType = 'string' | 'url' | 'method' | 'boolean' | 'integer' | 'enum' | 'sid' | 'phone' | 'list' | 'date';

/** A writable field (create/update) or a list filter, named as the SDK names the parameter. */
export interface FieldSpec {
  name: string;
  type: ValueType;
  /** For enum: the allowed values. For sid: the prefix. */
  options?: readonly string[];
  prefix?: string;
  /** Which writing actions take it (fields only). */
  on?: readonly Action[];
  /** Required when creating. */
  required?: boolean;
}

/** One part of a compound Sid: a Sid prefix, or a pattern for parts that are not Sids. */
export interface SidPart {
  name: string;
  label: string;
  prefixes?: readonly string[];
  /** Regular expression source, for parts that are not Sids (a country code, a phone number). */
  pattern?: string;
  /** Also accepts a free label (conference participants are addressed by label too). */
  orLabel?: boolean;
  example: string;
}

export interface ActionSpec {
  call: string;
  /** Parameters always sent (Account "delete" is an update to status closed). */
  fixed?: Readonly<Record<string, unknown>>;
  /** Get by listing: the list filter that narrows to one record, fed with a Sid part, matched on a field. */
  find?: { filter: string; part: string; field: string };
  /** Options a fetch always takes (Lookup: the data packages to ask for). */
  fetchOptions?: Readonly<Record<string, unknown>>;
  /** Why a catalogue action shows but is refused (before any request): the object has no such API. */
  notSupported?: string;
}

export interface ObjectSpec {
  name: string;
  label: string;
  plural: string;
  /** Served by another object's calls, with a one-time deprecation warning. */
  deprecatedFor?: string;
  parts: readonly SidPart[];
  actions: Partial<Record<Action, ActionSpec>>;
  filters?: readonly FieldSpec[];
  fields?: readonly FieldSpec[];
}

// --- building blocks --------------------------------------------------------------------------
const WRITE: readonly Action[] = ['create', 'update'];
const CREATE: readonly Action[] = ['create'];
const UPDATE: readonly Action[] = ['update'];

const sidPart = (name: string, label: string, ...prefixes: string[]): SidPart => ({ name, label, prefixes, example: `${prefixes[0]}…` });
const field = (name: string, type: ValueType, on: readonly Action[] = WRITE, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  name,
  type,
  on,
  ...extra,
});
const oneOf = (name: string, options: readonly string[], on: readonly Action[] = WRITE, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  name,
  type: 'enum',
  options,
  on,
  ...extra,
});
const filter = (name: string, type: ValueType, extra: Partial<FieldSpec> = {}): FieldSpec => ({ name, type, ...extra });
/** A URL and its HTTP method: the pair Twilio uses for every webhook setting. */
const hookPair = (url: string, method: string, on: readonly Action[] = WRITE): FieldSpec[] => [
  field(url, 'url', on),
  field(method, 'method', on),
];

const ACCOUNT_PART = sidPart('sid', 'Account SID', 'AC');
const CALL = sidPart('callSid', 'Call SID', 'CA');
const RECORDING = sidPart('recordingSid', 'Recording SID', 'RE');
const MESSAGE_PART = sidPart('messageSid', 'Message SID', 'SM', 'MM');
const COUNTRY: SidPart = { name: 'countryCode', label: 'Country code', pattern: '^[A-Z]{2}$', example: 'US' };
const PHONE: SidPart = { name: 'phoneNumber', label: 'Phone number', pattern: PATTERNS.e164, example: '+14155550100' };

const PHONE_NUMBER_FIELDS: FieldSpec[] = [
  field('friendlyName', 'string'),
  ...hookPair('voiceUrl', 'voiceMethod'),
  ...hookPair('voiceFallbackUrl', 'voiceFallbackMethod'),
  ...hookPair('smsUrl', 'smsMethod'),
  ...hookPair('smsFallbackUrl', 'smsFallbackMethod'),
  ...hookPair('statusCallback', 'statusCallbackMethod'),
  field('voiceApplicationSid', 'sid', WRITE, { prefix: 'AP' }),
  field('smsApplicationSid', 'sid', WRITE, { prefix: 'AP' }),
  field('voiceCallerIdLookup', 'boolean'),
  field('addressSid', 'sid', WRITE, { prefix: 'AD' }),
  field('bundleSid', 'sid', WRITE, { prefix: 'BU' }),
  field('identitySid', 'sid', WRITE, { prefix: 'RI' }),
  field('trunkSid', 'sid', WRITE, { prefix: 'TK' }),
  oneOf('voiceReceiveMode', ['voice', 'fax']),
  oneOf('emergencyStatus', ['Active', 'Inactive']),
  field('emergencyAddressSid', 'sid', WRITE, { prefix: 'AD' }),
];
/** Buying a number: a specific one, or any in an area code. */
const BUY_FIELDS: FieldSpec[] = [field('phoneNumber', 'phone', CREATE), field('areaCode', 'string', CREATE), ...PHONE_NUMBER_FIELDS];
const PHONE_NUMBER_FILTERS: FieldSpec[] = [
  filter('friendlyName', 'string'),
  filter('phoneNumber', 'string'),
  filter('beta', 'boolean'),
  oneOf('origin', ['twilio', 'hosted'], []),
];
const AVAILABLE_FILTERS: FieldSpec[] = [
  filter('areaCode', 'integer'),
  filter('contains', 'string'),
  filter('smsEnabled', 'boolean'),
  filter('mmsEnabled', 'boolean'),
  filter('voiceEnabled', 'boolean'),
  filter('inRegion', 'string'),
  filter('inPostalCode', 'string'),
  filter('inLocality', 'string'),
  filter('nearNumber', 'phone'),
  filter('distance', 'integer'),
  filter('excludeAllAddressRequired', 'boolean'),
  filter('beta', 'boolean'),
];
const VALIDATION_FIELDS: FieldSpec[] = [
  field('phoneNumber', 'phone', CREATE, { required: true }),
  field('friendlyName', 'string', CREATE),
  field('callDelay', 'integer', CREATE),
  field('extension', 'string', CREATE),
  ...hookPair('statusCallback', 'statusCallbackMethod', CREATE),
];
const RECORDING_FILTERS: FieldSpec[] = [filter('dateCreated', 'date')];
const RECORDING_STATUS = ['stopped', 'paused', 'in-progress'];

const METHOD_OF: Record<Action, string> = { get: 'fetch', query: 'list', create: 'create', update: 'update', delete: 'remove' };

/**
 * The usual calls on an SDK collection: `<list>(<item>).fetch|update|remove` and `<list>.list|create`,
 * e.g. `standard('account.queues', 'get query create update delete')`.
 */
function standard(list: string, actions: string, item = 'sid'): Partial<Record<Action, ActionSpec>> {
  const out: Partial<Record<Action, ActionSpec>> = {};
  for (const action of actions.split(' ') as Action[]) {
    out[action] = {
      call: action === 'query' || action === 'create' ? `${list}.${METHOD_OF[action]}` : `${list}(${item}).${METHOD_OF[action]}`,
    };
  }
  return out;
}

/** An action users look for but Twilio's API does not offer: refused before any request, with why. */
const notSupported = (reason: string): ActionSpec => ({ call: '', notSupported: reason });

/** Numbers on offer of one type, by country: there is no fetch, so Get finds the number in the list. */
function numbersToBuy(name: string, label: string, list: 'local' | 'tollFree'): ObjectSpec {
  const call = `account.availablePhoneNumbers(countryCode).${list}.list`;
  return {
    name,
    label,
    plural: `${label.replace('number', 'numbers')}`,
    parts: [COUNTRY, PHONE],
    actions: { get: { call, find: { filter: 'contains', part: 'phoneNumber', field: 'phoneNumber' } }, query: { call } },
    filters: AVAILABLE_FILTERS,
  };
}

/** The account's numbers of one type: their own list and purchase; a record is fetched as any number. */
function incomingNumbersOfType(name: string, label: string, list: 'local' | 'tollFree'): ObjectSpec {
  return {
    name,
    label,
    plural: `${label}s`,
    parts: [sidPart('sid', 'Phone Number SID', 'PN')],
    actions: {
      ...standard(`account.incomingPhoneNumbers.${list}`, 'query create'),
      get: { call: 'account.incomingPhoneNumbers(sid).fetch' },
    },
    filters: PHONE_NUMBER_FILTERS,
    fields: [{ ...BUY_FIELDS[0], required: true }, ...PHONE_NUMBER_FIELDS.map((f) => ({ ...f, on: CREATE }))],
  };
}

const MESSAGE: ObjectSpec = {
  name: 'Message',
  label: 'Message',
  plural: 'Messages',
  parts: [sidPart('sid', 'Message SID', 'SM', 'MM')],
  actions: standard('account.messages', 'get query create update delete'),
  filters: [filter('to', 'phone'), filter('from', 'phone'), filter('dateSent', 'date')],
  // Update redacts (body set to "") or cancels a scheduled message (status "canceled").
  fields: [field('body', 'string', UPDATE), oneOf('status', ['canceled'], UPDATE)],
};

// --- the catalogue ----------------------------------------------------------------------------
export const CATALOGUE: readonly ObjectSpec[] = [
  {
    name: 'Account',
    label: 'Account',
    plural: 'Accounts',
    parts: [ACCOUNT_PART],
    actions: {
      get: { call: 'api.accounts(sid).fetch' },
      query: { call: 'api.accounts.list' },
      create: { call: 'api.accounts.create' },
      update: { call: 'api.accounts(sid).update' },
      // Twilio never deletes an account: closing it is an update to status "closed".
      delete: { call: 'api.accounts(sid).update', fixed: { status: 'closed' } },
    },
    filters: [filter('friendlyName', 'string'), oneOf('status', ['active', 'suspended', 'closed'], [])],
    fields: [field('friendlyName', 'string'), oneOf('status', ['active', 'suspended', 'closed'], UPDATE)],
  },
  {
    name: 'Application',
    label: 'Application',
    plural: 'Applications',
    parts: [sidPart('sid', 'Application SID', 'AP')],
    actions: standard('account.applications', 'get query create update delete'),
    filters: [filter('friendlyName', 'string')],
    fields: [
      field('friendlyName', 'string'),
      field('apiVersion', 'string'),
      ...hookPair('voiceUrl', 'voiceMethod'),
      ...hookPair('voiceFallbackUrl', 'voiceFallbackMethod'),
      ...hookPair('statusCallback', 'statusCallbackMethod'),
      field('voiceCallerIdLookup', 'boolean'),
      ...hookPair('smsUrl', 'smsMethod'),
      ...hookPair('smsFallbackUrl', 'smsFallbackMethod'),
      field('smsStatusCallback', 'url'),
      field('messageStatusCallback', 'url'),
      field('publicApplicationConnectEnabled', 'boolean'),
    ],
  },
  {
    name: 'ConnectApp',
    label: 'Connect App',
    plural: 'Connect Apps',
    parts: [sidPart('sid', 'Connect App SID', 'CN')],
    actions: {
      ...standard('account.connectApps', 'get query update delete'),
      create: notSupported(
        "Twilio's API cannot create Connect Apps: create them in the Twilio Console, then Get, Update or Delete them here.",
      ),
    },
    fields: [
      field('friendlyName', 'string', UPDATE),
      field('companyName', 'string', UPDATE),
      field('description', 'string', UPDATE),
      field('homepageUrl', 'url', UPDATE),
      field('authorizeRedirectUrl', 'url', UPDATE),
      ...hookPair('deauthorizeCallbackUrl', 'deauthorizeCallbackMethod', UPDATE),
      field('permissions', 'list', UPDATE, { options: ['get-all', 'post-all'] }),
    ],
  },
  {
    name: 'AuthorizedConnectApp',
    label: 'Authorized Connect App',
    plural: 'Authorized Connect Apps',
    parts: [sidPart('connectAppSid', 'Connect App SID', 'CN')],
    actions: standard('account.authorizedConnectApps', 'get query', 'connectAppSid'),
  },
  numbersToBuy('LocalPhoneNumber', 'Local number to buy', 'local'),
  numbersToBuy('TollFreePhoneNumber', 'Toll-free number to buy', 'tollFree'),
  {
    name: 'Call',
    label: 'Call',
    plural: 'Calls',
    parts: [sidPart('sid', 'Call SID', 'CA')],
    actions: standard('account.calls', 'get query create update delete'),
    filters: [
      filter('to', 'phone'),
      filter('from', 'phone'),
      filter('parentCallSid', 'sid', { prefix: 'CA' }),
      oneOf('status', ['queued', 'ringing', 'in-progress', 'canceled', 'completed', 'failed', 'busy', 'no-answer'], []),
      filter('startTime', 'date'),
      filter('endTime', 'date'),
    ],
    // Update is how a live call is redirected (url or twiml) or ended (status).
    fields: [
      ...hookPair('url', 'method', UPDATE),
      field('twiml', 'string', UPDATE),
      oneOf('status', ['canceled', 'completed'], UPDATE),
      ...hookPair('fallbackUrl', 'fallbackMethod', UPDATE),
      ...hookPair('statusCallback', 'statusCallbackMethod', UPDATE),
      field('timeLimit', 'integer', UPDATE),
    ],
  },
  {
    name: 'Conference',
    label: 'Conference',
    plural: 'Conferences',
    parts: [sidPart('sid', 'Conference SID', 'CF')],
    actions: standard('account.conferences', 'get query update'),
    filters: [
      filter('dateCreated', 'date'),
      filter('dateUpdated', 'date'),
      filter('friendlyName', 'string'),
      oneOf('status', ['init', 'in-progress', 'completed'], []),
    ],
    fields: [oneOf('status', ['completed'], UPDATE), ...hookPair('announceUrl', 'announceMethod', UPDATE)],
  },
  {
    name: 'IncomingPhoneNumber',
    label: 'Phone number',
    plural: 'Phone numbers',
    parts: [sidPart('sid', 'Phone Number SID', 'PN')],
    actions: standard('account.incomingPhoneNumbers', 'get query create update delete'),
    filters: PHONE_NUMBER_FILTERS,
    fields: [...BUY_FIELDS, field('accountSid', 'sid', UPDATE, { prefix: 'AC' }), field('apiVersion', 'string')],
  },
  incomingNumbersOfType('LocalIncomingPhoneNumber', 'Local phone number', 'local'),
  incomingNumbersOfType('TollFreeIncomingPhoneNumber', 'Toll-free phone number', 'tollFree'),
  {
    name: 'Notification',
    label: 'Notification',
    plural: 'Notifications',
    parts: [sidPart('sid', 'Notification SID', 'NO')],
    actions: {
      ...standard('account.notifications', 'get query'),
      delete: notSupported("Twilio's API no longer deletes Notifications: they expire on their own (Twilio keeps them 31 days)."),
    },
    filters: [oneOf('log', ['0', '1'], []), filter('messageDate', 'date')],
  },
  {
    name: 'CallNotification',
    label: 'Call notification',
    plural: 'Call notifications',
    parts: [CALL, sidPart('sid', 'Notification SID', 'NO')],
    actions: standard('account.calls(callSid).notifications', 'get query'),
    filters: [oneOf('log', ['0', '1'], []), filter('messageDate', 'date')],
  },
  {
    name: 'OutgoingCallerId',
    label: 'Verified caller ID',
    plural: 'Verified caller IDs',
    parts: [sidPart('sid', 'Caller ID SID', 'PN')],
    actions: {
      ...standard('account.outgoingCallerIds', 'get query update delete'),
      // A caller ID is added by a validation request: Twilio calls the number, the person enters the code.
      create: { call: 'account.validationRequests.create' },
    },
    filters: [filter('phoneNumber', 'phone'), filter('friendlyName', 'string')],
    fields: [...VALIDATION_FIELDS.map((f) => (f.name === 'friendlyName' ? { ...f, on: WRITE } : f))],
  },
  {
    name: 'CallerIdValidation',
    label: 'Caller ID validation',
    plural: 'Caller ID validations',
    parts: [sidPart('sid', 'Caller ID SID', 'PN')],
    actions: {
      get: notSupported(
        'A validation request cannot be fetched: Twilio only answers it once, when it is created. Get the verified number as an OutgoingCallerId instead.',
      ),
      create: { call: 'account.validationRequests.create' },
    },
    fields: VALIDATION_FIELDS,
  },
  {
    name: 'ConferenceParticipant',
    label: 'Conference participant',
    plural: 'Conference participants',
    parts: [sidPart('conferenceSid', 'Conference SID', 'CF'), { ...sidPart('callSid', 'Call SID or label', 'CA'), orLabel: true }],
    actions: standard('account.conferences(conferenceSid).participants', 'get query create update delete', 'callSid'),
    filters: [filter('muted', 'boolean'), filter('hold', 'boolean'), filter('coaching', 'boolean')],
    fields: [
      field('from', 'phone', CREATE, { required: true }),
      field('to', 'phone', CREATE, { required: true }),
      field('label', 'string', CREATE),
      ...hookPair('statusCallback', 'statusCallbackMethod', CREATE),
      field('statusCallbackEvent', 'list', CREATE, { options: ['initiated', 'ringing', 'answered', 'completed'] }),
      field('timeout', 'integer', CREATE),
      field('record', 'boolean', CREATE),
      field('startConferenceOnEnter', 'boolean', CREATE),
      field('earlyMedia', 'boolean', CREATE),
      field('maxParticipants', 'integer', CREATE),
      field('timeLimit', 'integer', CREATE),
      field('muted', 'boolean'),
      field('hold', 'boolean', UPDATE),
      ...hookPair('holdUrl', 'holdMethod', UPDATE),
      ...hookPair('announceUrl', 'announceMethod', UPDATE),
      ...hookPair('waitUrl', 'waitMethod'),
      field('beepOnExit', 'boolean', UPDATE),
      field('endConferenceOnExit', 'boolean'),
      field('coaching', 'boolean'),
      field('callSidToCoach', 'sid', WRITE, { prefix: 'CA' }),
    ],
  },
  {
    name: 'Recording',
    label: 'Recording',
    plural: 'Recordings',
    parts: [sidPart('sid', 'Recording SID', 'RE')],
    actions: standard('account.recordings', 'get query delete'),
    filters: [
      ...RECORDING_FILTERS,
      filter('callSid', 'sid', { prefix: 'CA' }),
      filter('conferenceSid', 'sid', { prefix: 'CF' }),
      filter('includeSoftDeleted', 'boolean'),
    ],
  },
  {
    name: 'CallRecording',
    label: 'Call recording',
    plural: 'Call recordings',
    parts: [CALL, sidPart('sid', 'Recording SID', 'RE')],
    actions: standard('account.calls(callSid).recordings', 'get query create update delete'),
    filters: RECORDING_FILTERS,
    fields: [
      oneOf('status', RECORDING_STATUS, UPDATE, { required: true }),
      oneOf('pauseBehavior', ['skip', 'silence'], UPDATE),
      field('recordingStatusCallbackEvent', 'list', CREATE, { options: ['in-progress', 'completed', 'absent'] }),
      ...hookPair('recordingStatusCallback', 'recordingStatusCallbackMethod', CREATE),
      oneOf('trim', ['trim-silence', 'do-not-trim'], CREATE),
      oneOf('recordingChannels', ['mono', 'dual'], CREATE),
      oneOf('recordingTrack', ['inbound', 'outbound', 'both'], CREATE),
    ],
  },
  {
    name: 'ShortCode',
    label: 'Short code',
    plural: 'Short codes',
    parts: [sidPart('sid', 'Short Code SID', 'SC')],
    actions: {
      ...standard('account.shortCodes', 'get query update'),
      delete: notSupported(
        "Short codes are leased through Twilio's support, and the API cannot release one: contact Twilio to cancel a short code.",
      ),
    },
    filters: [filter('friendlyName', 'string'), filter('shortCode', 'string')],
    fields: [
      field('friendlyName', 'string', UPDATE),
      field('apiVersion', 'string', UPDATE),
      ...hookPair('smsUrl', 'smsMethod', UPDATE),
      ...hookPair('smsFallbackUrl', 'smsFallbackMethod', UPDATE),
    ],
  },
  {
    name: 'Transcription',
    label: 'Transcription',
    plural: 'Transcriptions',
    parts: [sidPart('sid', 'Transcription SID', 'TR')],
    actions: standard('account.transcriptions', 'get query delete'),
  },
  {
    name: 'RecordingTranscription',
    label: 'Recording transcription',
    plural: 'Recording transcriptions',
    parts: [RECORDING, sidPart('sid', 'Transcription SID', 'TR')],
    actions: standard('account.recordings(recordingSid).transcriptions', 'get query delete'),
  },
  MESSAGE,
  // Twilio's old SMS/Messages resource is gone: the Message calls serve it (with a warning, once).
  {
    ...MESSAGE,
    name: 'SMSMessage',
    label: 'SMS message (deprecated)',
    plural: 'SMS messages (deprecated)',
    deprecatedFor: 'Message',
    actions: standard('account.messages', 'get query create update'),
  },
  // Beyond the 2010-04-01 objects: what flows also ask for.
  {
    name: 'Balance',
    label: 'Balance',
    plural: 'Balances',
    parts: [],
    actions: { get: { call: 'account.balance.fetch' } },
  },
  {
    name: 'UsageRecord',
    label: 'Usage record',
    plural: 'Usage records',
    parts: [],
    actions: { query: { call: 'account.usage.records.list' } },
    filters: [
      filter('category', 'string'),
      filter('startDate', 'string'),
      filter('endDate', 'string'),
      filter('includeSubaccounts', 'boolean'),
    ],
  },
  {
    name: 'MessageMedia',
    label: 'Message media',
    plural: 'Message media',
    parts: [MESSAGE_PART, sidPart('sid', 'Media SID', 'ME')],
    actions: standard('account.messages(messageSid).media', 'get query delete'),
    filters: [filter('dateCreated', 'date')],
  },
  {
    name: 'Queue',
    label: 'Queue',
    plural: 'Queues',
    parts: [sidPart('sid', 'Queue SID', 'QU')],
    actions: standard('account.queues', 'get query create update delete'),
    fields: [field('friendlyName', 'string', WRITE, { required: true }), field('maxSize', 'integer')],
  },
  {
    name: 'PhoneNumberLookup',
    label: 'Number lookup (Lookup v2)',
    plural: 'Number lookups',
    parts: [PHONE],
    actions: { get: { call: 'lookups.phoneNumbers(phoneNumber).fetch', fetchOptions: { fields: 'validation,line_type_intelligence' } } },
  },
];

export function findObject(name: string): ObjectSpec | undefined {
  return CATALOGUE.find((o) => o.name === name);
}

/** The Sid parts an action's call needs, in the order the call uses them. */
export function partsFor(object: ObjectSpec, action: Action): SidPart[] {
  const call = object.actions[action]?.call ?? '';
  const names = [...call.matchAll(/\((\w+)\)/g)].map((m) => m[1]);
  const find = object.actions[action]?.find;
  if (find) names.push(find.part);
  return names.map((name) => object.parts.find((p) => p.name === name)!);
}

export function fieldsFor(object: ObjectSpec, action: Action): FieldSpec[] {
  return (object.fields ?? []).filter((f) => f.on?.includes(action));
}

/**
 * The catalogue as the editor gets it: each object with, for each of its actions, the Sid parts and
 * fields this module works out, so the editor shows what the runtime will read and never works it
 * out again.
 */
export function catalogueForEditor(): Array<ObjectSpec & { editor: Partial<Record<Action, { parts: SidPart[]; fields: FieldSpec[] }>> }> {
  return CATALOGUE.map((object) => ({
    ...object,
    editor: Object.fromEntries(
      (Object.keys(object.actions) as Action[]).map((action) => [
        action,
        { parts: partsFor(object, action), fields: fieldsFor(object, action) },
      ]),
    ),
  }));
}

/** Why Twilio's API lacks an action, as a text the nodes translate (the English is the catalogue's own). */
export function notSupportedText(object: ObjectSpec, action: Action): LocalText {
  return text('notSupportedAction', {
    object: object.name,
    action,
    reason: { key: `twilio.notSupported.${object.name}.${action}`, subs: {} },
  });
}
