/**
 * Every object of the 2010-04-01 API the nodes use, as data: where it lives (path, parent), its Sid
 * prefix, the key its list answers under, which operations Twilio offers, how it is created and
 * which parameters an update may change. The server turns this table into routes.
 */
import { API_VERSION, Params, SimulatedError, TwilioRecord, createCall, createMessage, first, list, newSid, twilioDate } from './resources';

export type Operation = 'list' | 'create' | 'get' | 'update' | 'delete';

export interface CreateContext {
  accountSid: string;
  params: Params;
  parent?: TwilioRecord;
  /** Adds a record to another collection (a participant's call, a message's media). */
  insert(collection: string, record: TwilioRecord): void;
  /** Looks a record up in another collection. */
  find(collection: string, sid: string): TwilioRecord | undefined;
}

export interface CollectionDef {
  name: string;
  /** Path segment under /Accounts/{AccountSid}/ (or under the parent's record). */
  path: string;
  /** Sid prefix; records are addressed by `<prefix><32 hex>`. */
  prefix: string;
  /** Addressed by another field than `sid` (a participant by its call_sid or label). */
  idFields?: string[];
  listKey: string;
  parent?: string;
  /** The record field that holds the parent's sid. */
  parentField?: string;
  operations: Operation[];
  create?: (ctx: CreateContext) => TwilioRecord;
  /** Parameters an update may set (PascalCase, as sent); a function for special rules. */
  updatable?: string[];
  update?: (record: TwilioRecord, params: Params) => void;
  /** Query parameters that filter lists, mapped to record fields (exact match). */
  filters?: Record<string, string>;
  /** A date field for DateCreated-style filters (`<Field>`, `<Field><`, `<Field>>`). */
  dateFilters?: Record<string, string>;
}

/** FriendlyName → friendly_name, SmsUrl → sms_url, StatusCallbackEvent → status_callback_event. */
export function snakeCase(param: string): string {
  return param
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

function paramsToFields(params: Params): TwilioRecord {
  const out: TwilioRecord = {};
  for (const [key, value] of Object.entries(params)) {
    const text = first(value);
    out[snakeCase(key)] = Array.isArray(value) ? value : text === 'true' ? true : text === 'false' ? false : text;
  }
  return out;
}

function base(accountSid: string, sid: string, uriPath: string, fields: TwilioRecord): TwilioRecord {
  const now = twilioDate();
  return {
    account_sid: accountSid,
    api_version: API_VERSION,
    date_created: now,
    date_updated: now,
    sid,
    ...fields,
    uri: `/${API_VERSION}/Accounts/${accountSid}/${uriPath}/${sid}.json`,
  };
}

function required(params: Params, ...names: string[]): void {
  for (const name of names)
    if (!first(params[name])) throw new SimulatedError(400, 21201, `Missing required parameter ${name} in the post body`);
}

const E164 = /^\+[1-9]\d{1,14}$/;

function phoneNumberRecord(accountSid: string, params: Params, type: 'local' | 'toll-free' | undefined): TwilioRecord {
  const areaCode = first(params.AreaCode);
  const phoneNumber =
    first(params.PhoneNumber) ?? (areaCode ? `+1${areaCode}5550${String(Math.floor(Math.random() * 900) + 100)}` : undefined);
  if (!phoneNumber) throw new SimulatedError(400, 21421, 'PhoneNumber or AreaCode is required');
  if (!E164.test(phoneNumber)) throw new SimulatedError(400, 21421, `PhoneNumber ${phoneNumber} is invalid`);
  if (phoneNumber === '+15005550000') throw new SimulatedError(400, 21422, 'PhoneNumber is unavailable');
  const sid = newSid('PN');
  return base(accountSid, sid, 'IncomingPhoneNumbers', {
    friendly_name: phoneNumber,
    phone_number: phoneNumber,
    capabilities: { voice: true, sms: true, mms: true, fax: false },
    status: 'in-use',
    origin: 'twilio',
    beta: false,
    voice_url: null,
    sms_url: null,
    ...paramsToFields(params),
    type: type ?? (phoneNumber.startsWith('+18') ? 'toll-free' : 'local'),
  });
}

function recordingRecord(accountSid: string, callSid: string | null, conferenceSid: string | null, params: Params = {}): TwilioRecord {
  const sid = newSid('RE');
  return base(accountSid, sid, 'Recordings', {
    call_sid: callSid,
    conference_sid: conferenceSid,
    channels: 1,
    duration: '-1',
    source: 'StartCallRecordingAPI',
    status: 'in-progress',
    price: null,
    price_unit: 'USD',
    start_time: twilioDate(),
    track: first(params.RecordingTrack) ?? 'both',
    error_code: null,
    encryption_details: null,
    media_url: `https://api.twilio.com/${API_VERSION}/Accounts/${accountSid}/Recordings/${sid}`,
  });
}

const METHODS = ['GET', 'POST'];
function checkMethods(params: Params): void {
  for (const [key, value] of Object.entries(params)) {
    if (key.endsWith('Method') && !METHODS.includes(String(first(value)).toUpperCase())) {
      throw new SimulatedError(400, 21203, `${key} must be GET or POST`);
    }
    if (key.endsWith('Url') && first(value) && !/^https?:\/\//.test(String(first(value)))) {
      throw new SimulatedError(400, 21205, `${key} is not a valid URL: ${String(first(value))}`);
    }
  }
}

export const COLLECTIONS: CollectionDef[] = [
  {
    name: 'messages',
    path: 'Messages',
    prefix: '(?:SM|MM)',
    listKey: 'messages',
    operations: ['list', 'create', 'get', 'update', 'delete'],
    filters: { To: 'to', From: 'from', Status: 'status' },
    dateFilters: { DateSent: 'date_created' },
    create: (ctx) => {
      const message = createMessage(ctx.accountSid, ctx.params);
      for (const url of list(ctx.params.MediaUrl)) {
        const sid = newSid('ME');
        ctx.insert('media', {
          ...base(ctx.accountSid, sid, `Messages/${message.sid as string}/Media`, {
            parent_sid: message.sid,
            content_type: /\.png$/.test(url) ? 'image/png' : 'image/jpeg',
          }),
          media_url: url,
        });
      }
      return message;
    },
    update: (record, params) => {
      const body = first(params.Body);
      const status = first(params.Status);
      if (body !== undefined) {
        if (body !== '') throw new SimulatedError(400, 20009, 'Body may only be set to an empty string (redaction)');
        record.body = '';
      }
      if (status !== undefined) {
        if (status !== 'canceled') throw new SimulatedError(400, 20009, 'Status may only be set to canceled');
        if (record.status !== 'scheduled') throw new SimulatedError(400, 30409, 'Only scheduled messages can be canceled');
        record.status = 'canceled';
      }
    },
  },
  {
    name: 'media',
    path: 'Media',
    prefix: 'ME',
    listKey: 'media_list',
    parent: 'messages',
    parentField: 'parent_sid',
    operations: ['list', 'get', 'delete'],
  },
  {
    name: 'calls',
    path: 'Calls',
    prefix: 'CA',
    listKey: 'calls',
    operations: ['list', 'create', 'get', 'update', 'delete'],
    filters: { To: 'to', From: 'from', Status: 'status', ParentCallSid: 'parent_call_sid' },
    dateFilters: { StartTime: 'date_created', EndTime: 'date_updated' },
    create: (ctx) => createCall(ctx.accountSid, ctx.params),
    update: (record, params) => {
      checkMethods(params);
      const status = first(params.Status);
      if (status !== undefined && !['canceled', 'completed'].includes(status))
        throw new SimulatedError(400, 21218, 'Status must be canceled or completed');
      if (status) record.status = status;
      if (first(params.Url) || first(params.Twiml)) record.status = record.status === 'queued' ? 'in-progress' : record.status;
      if (first(params.Twiml) && !/<Response[\s>/]/.test(first(params.Twiml)!))
        throw new SimulatedError(400, 21205, 'Twiml is not valid TwiML');
    },
  },
  {
    name: 'callNotifications',
    path: 'Notifications',
    prefix: 'NO',
    listKey: 'notifications',
    parent: 'calls',
    parentField: 'call_sid',
    operations: ['list', 'get'],
    filters: { Log: 'log' },
    dateFilters: { MessageDate: 'message_date' },
  },
  {
    name: 'callRecordings',
    path: 'Recordings',
    prefix: 'RE',
    listKey: 'recordings',
    parent: 'calls',
    parentField: 'call_sid',
    operations: ['list', 'create', 'get', 'update', 'delete'],
    dateFilters: { DateCreated: 'date_created' },
    create: (ctx) => {
      const record = recordingRecord(ctx.accountSid, ctx.parent!.sid as string, null, ctx.params);
      ctx.insert('recordings', record); // one recording, seen from the call and from the account
      return record;
    },
    update: (record, params) => {
      required(params, 'Status');
      const status = first(params.Status)!;
      if (!['stopped', 'paused', 'in-progress'].includes(status))
        throw new SimulatedError(400, 21220, 'Status must be stopped, paused or in-progress');
      record.status = status === 'stopped' ? 'completed' : status;
    },
  },
  {
    name: 'conferences',
    path: 'Conferences',
    prefix: 'CF',
    listKey: 'conferences',
    operations: ['list', 'get', 'update'],
    filters: { FriendlyName: 'friendly_name', Status: 'status' },
    dateFilters: { DateCreated: 'date_created', DateUpdated: 'date_updated' },
    update: (record, params) => {
      checkMethods(params);
      const status = first(params.Status);
      if (status !== undefined && status !== 'completed') throw new SimulatedError(400, 20009, 'Status may only be completed');
      if (status) record.status = 'completed';
    },
  },
  {
    name: 'participants',
    path: 'Participants',
    prefix: 'CA',
    idFields: ['call_sid', 'label'],
    listKey: 'participants',
    parent: 'conferences',
    parentField: 'conference_sid',
    operations: ['list', 'create', 'get', 'update', 'delete'],
    filters: { Muted: 'muted', Hold: 'hold', Coaching: 'coaching' },
    create: (ctx) => {
      required(ctx.params, 'From', 'To');
      const call = createCall(ctx.accountSid, { From: ctx.params.From, To: ctx.params.To, Url: 'https://handler.twilio.com/conference' });
      ctx.insert('calls', call);
      const conferenceSid = ctx.parent!.sid as string;
      const fields = paramsToFields(ctx.params);
      return {
        account_sid: ctx.accountSid,
        call_sid: call.sid,
        conference_sid: conferenceSid,
        label: fields.label ?? null,
        coaching: fields.coaching ?? false,
        call_sid_to_coach: fields.call_sid_to_coach ?? null,
        muted: fields.muted ?? false,
        hold: false,
        start_conference_on_enter: fields.start_conference_on_enter ?? true,
        end_conference_on_exit: fields.end_conference_on_exit ?? false,
        status: 'queued',
        queue_time: '0',
        date_created: twilioDate(),
        date_updated: twilioDate(),
        uri: `/${API_VERSION}/Accounts/${ctx.accountSid}/Conferences/${conferenceSid}/Participants/${call.sid as string}.json`,
      };
    },
    updatable: [
      'Muted',
      'Hold',
      'HoldUrl',
      'HoldMethod',
      'AnnounceUrl',
      'AnnounceMethod',
      'WaitUrl',
      'WaitMethod',
      'BeepOnExit',
      'EndConferenceOnExit',
      'Coaching',
      'CallSidToCoach',
    ],
  },
  {
    name: 'recordings',
    path: 'Recordings',
    prefix: 'RE',
    listKey: 'recordings',
    operations: ['list', 'get', 'delete'],
    filters: { CallSid: 'call_sid', ConferenceSid: 'conference_sid' },
    dateFilters: { DateCreated: 'date_created' },
  },
  {
    name: 'recordingTranscriptions',
    path: 'Transcriptions',
    prefix: 'TR',
    listKey: 'transcriptions',
    parent: 'recordings',
    parentField: 'recording_sid',
    operations: ['list', 'get', 'delete'],
  },
  { name: 'transcriptions', path: 'Transcriptions', prefix: 'TR', listKey: 'transcriptions', operations: ['list', 'get', 'delete'] },
  {
    name: 'notifications',
    path: 'Notifications',
    prefix: 'NO',
    listKey: 'notifications',
    operations: ['list', 'get'],
    filters: { Log: 'log' },
    dateFilters: { MessageDate: 'message_date' },
  },
  {
    name: 'applications',
    path: 'Applications',
    prefix: 'AP',
    listKey: 'applications',
    operations: ['list', 'create', 'get', 'update', 'delete'],
    filters: { FriendlyName: 'friendly_name' },
    create: (ctx) => {
      checkMethods(ctx.params);
      return base(ctx.accountSid, newSid('AP'), 'Applications', {
        friendly_name: null,
        voice_url: null,
        voice_method: 'POST',
        sms_url: null,
        sms_method: 'POST',
        status_callback: null,
        voice_caller_id_lookup: false,
        public_application_connect_enabled: false,
        ...paramsToFields(ctx.params),
      });
    },
    updatable: [
      'FriendlyName',
      'ApiVersion',
      'VoiceUrl',
      'VoiceMethod',
      'VoiceFallbackUrl',
      'VoiceFallbackMethod',
      'StatusCallback',
      'StatusCallbackMethod',
      'VoiceCallerIdLookup',
      'SmsUrl',
      'SmsMethod',
      'SmsFallbackUrl',
      'SmsFallbackMethod',
      'SmsStatusCallback',
      'MessageStatusCallback',
      'PublicApplicationConnectEnabled',
    ],
  },
  {
    name: 'connectApps',
    path: 'ConnectApps',
    prefix: 'CN',
    listKey: 'connect_apps',
    operations: ['list', 'get', 'update', 'delete'],
    updatable: [
      'AuthorizeRedirectUrl',
      'CompanyName',
      'DeauthorizeCallbackMethod',
      'DeauthorizeCallbackUrl',
      'Description',
      'FriendlyName',
      'HomepageUrl',
      'Permissions',
    ],
  },
  {
    name: 'authorizedConnectApps',
    path: 'AuthorizedConnectApps',
    prefix: 'CN',
    idFields: ['connect_app_sid'],
    listKey: 'authorized_connect_apps',
    operations: ['list', 'get'],
  },
  {
    name: 'incomingPhoneNumbers',
    path: 'IncomingPhoneNumbers',
    prefix: 'PN',
    listKey: 'incoming_phone_numbers',
    operations: ['list', 'create', 'get', 'update', 'delete'],
    filters: { FriendlyName: 'friendly_name', PhoneNumber: 'phone_number', Origin: 'origin' },
    create: (ctx) => {
      checkMethods(ctx.params);
      return phoneNumberRecord(ctx.accountSid, ctx.params, undefined);
    },
    updatable: [
      'AccountSid',
      'ApiVersion',
      'FriendlyName',
      'SmsApplicationSid',
      'SmsFallbackMethod',
      'SmsFallbackUrl',
      'SmsMethod',
      'SmsUrl',
      'StatusCallback',
      'StatusCallbackMethod',
      'VoiceApplicationSid',
      'VoiceCallerIdLookup',
      'VoiceFallbackMethod',
      'VoiceFallbackUrl',
      'VoiceMethod',
      'VoiceUrl',
      'EmergencyStatus',
      'EmergencyAddressSid',
      'TrunkSid',
      'VoiceReceiveMode',
      'IdentitySid',
      'AddressSid',
      'BundleSid',
    ],
  },
  {
    name: 'outgoingCallerIds',
    path: 'OutgoingCallerIds',
    prefix: 'PN',
    listKey: 'outgoing_caller_ids',
    operations: ['list', 'get', 'update', 'delete'],
    filters: { PhoneNumber: 'phone_number', FriendlyName: 'friendly_name' },
    updatable: ['FriendlyName'],
  },
  {
    name: 'shortCodes',
    path: 'SMS/ShortCodes',
    prefix: 'SC',
    listKey: 'short_codes',
    operations: ['list', 'get', 'update'],
    filters: { FriendlyName: 'friendly_name', ShortCode: 'short_code' },
    updatable: ['FriendlyName', 'ApiVersion', 'SmsUrl', 'SmsMethod', 'SmsFallbackUrl', 'SmsFallbackMethod'],
  },
  {
    name: 'queues',
    path: 'Queues',
    prefix: 'QU',
    listKey: 'queues',
    operations: ['list', 'create', 'get', 'update', 'delete'],
    create: (ctx) => {
      required(ctx.params, 'FriendlyName');
      const maxSize = Number(first(ctx.params.MaxSize) ?? 100);
      if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > 5000)
        throw new SimulatedError(400, 21230, 'MaxSize must be between 1 and 5000');
      return base(ctx.accountSid, newSid('QU'), 'Queues', {
        friendly_name: first(ctx.params.FriendlyName),
        max_size: maxSize,
        current_size: 0,
        average_wait_time: 0,
      });
    },
    update: (record, params) => {
      if (first(params.FriendlyName) !== undefined) record.friendly_name = first(params.FriendlyName);
      if (first(params.MaxSize) !== undefined) record.max_size = Number(first(params.MaxSize));
    },
  },
];

/** Collections whose records the server creates at start so that Get/Query/Update have something to find. */
export function seedRecords(accountSid: string, insert: (collection: string, record: TwilioRecord) => void): void {
  // A call of some weeks ago, so that "older than 30 days" (the Delete old recordings example) finds its recording.
  const weeksAgo = twilioDate(new Date(Date.now() - 45 * 24 * 3600 * 1000));
  const call = createCall(accountSid, { To: '+15558675310', From: '+15017122661', Url: 'https://demo.twilio.com/welcome/voice/' });
  Object.assign(call, {
    status: 'completed',
    duration: '42',
    date_created: weeksAgo,
    date_updated: weeksAgo,
    start_time: weeksAgo,
    end_time: weeksAgo,
  });
  insert('calls', call);
  const recording = recordingRecord(accountSid, call.sid as string, null);
  Object.assign(recording, { status: 'completed', duration: '40', date_created: weeksAgo, date_updated: weeksAgo, start_time: weeksAgo });
  insert('recordings', recording);
  insert('callRecordings', recording);
  const transcription = base(accountSid, newSid('TR'), 'Transcriptions', {
    recording_sid: recording.sid,
    duration: '40',
    status: 'completed',
    transcription_text: 'Hello from the simulator',
    type: 'fast',
    price: null,
    price_unit: 'USD',
  });
  insert('transcriptions', transcription);
  insert('recordingTranscriptions', transcription);
  const notification = base(accountSid, newSid('NO'), 'Notifications', {
    call_sid: call.sid,
    error_code: '11200',
    log: '0',
    message_date: twilioDate(),
    message_text: 'HTTP retrieval failure',
    more_info: 'https://www.twilio.com/docs/errors/11200',
    request_method: 'POST',
    request_url: 'https://example.com/voice',
  });
  insert('notifications', notification);
  insert('callNotifications', notification);

  const conference = base(accountSid, newSid('CF'), 'Conferences', {
    friendly_name: 'ops-bridge',
    region: 'us1',
    status: 'in-progress',
    reason_conference_ended: null,
    call_sid_ending_conference: null,
  });
  insert('conferences', conference);
  for (const [to, label] of [
    ['+15558675311', 'alice'],
    ['+15558675312', 'bob'],
  ]) {
    const leg = createCall(accountSid, { To: to, From: '+15017122661', Url: 'https://handler.twilio.com/conference' });
    leg.status = 'in-progress';
    insert('calls', leg);
    insert('participants', {
      account_sid: accountSid,
      call_sid: leg.sid,
      conference_sid: conference.sid,
      label,
      coaching: false,
      call_sid_to_coach: null,
      muted: false,
      hold: false,
      start_conference_on_enter: true,
      end_conference_on_exit: false,
      status: 'connected',
      queue_time: '0',
      date_created: twilioDate(),
      date_updated: twilioDate(),
      uri: `/${API_VERSION}/Accounts/${accountSid}/Conferences/${conference.sid as string}/Participants/${leg.sid as string}.json`,
    });
  }
  insert(
    'shortCodes',
    base(accountSid, newSid('SC'), 'SMS/ShortCodes', {
      friendly_name: 'alerts',
      short_code: '89757',
      sms_url: null,
      sms_method: 'POST',
      sms_fallback_url: null,
      sms_fallback_method: 'POST',
    }),
  );
  const connectApp = base(accountSid, newSid('CN'), 'ConnectApps', {
    friendly_name: 'Partner dashboard',
    company_name: 'Example Corp',
    description: 'Reads usage',
    homepage_url: 'https://example.com',
    permissions: ['get-all'],
    authorize_redirect_url: 'https://example.com/authorize',
    deauthorize_callback_url: null,
    deauthorize_callback_method: 'POST',
  });
  insert('connectApps', connectApp);
  insert('authorizedConnectApps', {
    account_sid: accountSid,
    connect_app_sid: connectApp.sid,
    connect_app_company_name: 'Example Corp',
    connect_app_description: 'Reads usage',
    connect_app_friendly_name: 'Partner dashboard',
    connect_app_homepage_url: 'https://example.com',
    permissions: ['get-all'],
    uri: `/${API_VERSION}/Accounts/${accountSid}/AuthorizedConnectApps/${connectApp.sid as string}.json`,
  });
  insert(
    'outgoingCallerIds',
    base(accountSid, newSid('PN'), 'OutgoingCallerIds', { friendly_name: 'Front desk', phone_number: '+15017122670' }),
  );
  insert('incomingPhoneNumbers', phoneNumberRecord(accountSid, { PhoneNumber: '+15017122661', FriendlyName: 'Main line' }, 'local'));
}

/** Available numbers are generated per country: enough to page through, with capabilities to filter on. */
export function availableNumbers(country: string, type: 'local' | 'toll-free'): TwilioRecord[] {
  if (!/^[A-Z]{2}$/.test(country)) throw new SimulatedError(404, 20404, `The requested resource ${country} was not found`);
  const prefix = country === 'US' || country === 'CA' ? '+1' : country === 'GB' ? '+44' : '+33';
  return Array.from({ length: 60 }, (_, i) => {
    const area = type === 'toll-free' ? '800' : ['415', '510', '628'][i % 3];
    const phone = `${prefix}${area}555${String(1000 + i).padStart(4, '0')}`;
    return {
      friendly_name: phone.replace(/^\+1(\d{3})(\d{3})(\d{4})$/, '($1) $2-$3'),
      phone_number: phone,
      lata: type === 'local' ? '722' : null,
      locality: type === 'local' ? 'San Francisco' : null,
      rate_center: type === 'local' ? 'SNFC CA' : null,
      latitude: '37.77',
      longitude: '-122.42',
      region: type === 'local' ? 'CA' : null,
      postal_code: type === 'local' ? '94103' : null,
      iso_country: country,
      address_requirements: 'none',
      beta: false,
      capabilities: { voice: true, SMS: i % 4 !== 3, MMS: i % 2 === 0, fax: false },
    };
  });
}

export function subaccountRecord(ownerSid: string, params: Params): TwilioRecord {
  const sid = newSid('AC');
  const now = twilioDate();
  return {
    auth_token: '********',
    date_created: now,
    date_updated: now,
    friendly_name: first(params.FriendlyName) ?? `SubAccount Created at ${now}`,
    owner_account_sid: ownerSid,
    sid,
    status: 'active',
    type: 'Full',
    subresource_uris: {},
    uri: `/${API_VERSION}/Accounts/${sid}.json`,
  };
}

export { paramsToFields, base };
