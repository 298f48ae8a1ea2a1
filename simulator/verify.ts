/**
 * The simulator's Twilio Verify v2 (https://verify.twilio.com/v2): Services, Verifications and
 * VerificationChecks, as Twilio plays them. A verification lives 10 minutes on the simulator's clock
 * (`advance` moves it on, for tests), takes 5 sends and 5 checks; an approved, canceled or expired one
 * is gone for a check (404, 20404). Errors come in Twilio's bodies and codes (60200 invalid parameter,
 * 60202 max check attempts, 60203 max send attempts, 60205 SMS to a landline, 60410 Fraud Guard). The
 * code it "sends" is shown at GET /_sim/verify/codes (the demo's and the tests' phone).
 */
import crypto from 'node:crypto';
import type { Person } from './people';
import { Params, SimulatedError, TwilioRecord, first, newSid, twilioNow } from './resources';

export const VERIFY_EXPIRY_MS = 10 * 60_000;
export const VERIFY_MAX_CHECKS = 5;
export const VERIFY_MAX_SENDS = 5;
export const VERIFY_CHANNELS = ['sms', 'call', 'email', 'whatsapp'];

/** A number Fraud Guard blocks (60410), for tests and the demo. */
export const VERIFY_BLOCKED_NUMBER = '+15555550130';

/** The Verify Service every simulated account has from the start: its Sid is the account's with VA for AC. */
export const verifyServiceSidOf = (accountSid: string): string => `VA${accountSid.slice(2)}`;

interface Verification {
  record: TwilioRecord;
  code: string;
  createdAt: number;
  checks: number;
  sends: number;
}

type Reply = { status: number; body: TwilioRecord | null };
interface Context {
  accountSid: string;
  params: Params;
  query: Params;
  match: RegExpMatchArray;
}
type Route = (method: string, path: string, handler: (ctx: Context) => Reply) => void;

const E164 = /^\+[1-9]\d{1,14}$/;
const EMAIL = /^[^\s@<>"'{}]{1,64}@[^\s@<>"'{}]{1,190}\.[A-Za-z]{2,24}$/;
const SID = (prefix: string) => new RegExp(`^${prefix}[0-9a-fA-F]{32}$`);
const invalid = (name: string) => new SimulatedError(400, 60200, `Invalid parameter: ${name}`);
const notFound = (path: string) => new SimulatedError(404, 20404, `The requested resource ${path} was not found`);

export class SimulatedVerify {
  /** Services by Sid. */
  readonly services = new Map<string, TwilioRecord>();
  /** Verifications by Sid (approved, canceled and expired ones stay, for a fetch). */
  readonly verifications = new Map<string, Verification>();
  /** How far the simulated Verify's clock is ahead of Twilio's own (tests move it on with advance). */
  private offsetMs = 0;

  constructor(private readonly people: () => Record<string, Person>) {}

  now(): number {
    return twilioNow().getTime() + this.offsetMs;
  }

  /** Moves Verify's clock on: a verification older than 10 minutes has expired. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  reset(accounts: Iterable<string>): void {
    this.services.clear();
    this.verifications.clear();
    this.offsetMs = 0;
    for (const accountSid of accounts) this.createService(accountSid, verifyServiceSidOf(accountSid), 'Node-RED demo');
  }

  /** The codes of verifications still pending (what the person at `to` got), newest first. */
  codes(): TwilioRecord[] {
    return [...this.verifications.values()]
      .filter((v) => this.statusOf(v) === 'pending')
      .reverse()
      .map((v) => ({
        service_sid: v.record.service_sid,
        sid: v.record.sid,
        to: v.record.to,
        channel: v.record.channel,
        code: v.code,
        expires: new Date(v.createdAt + VERIFY_EXPIRY_MS).toISOString(),
      }));
  }

  /** The admin endpoints under /_sim/verify/: its codes, and its clock. */
  control(action: string, body: string): { status: number; body: unknown } | undefined {
    if (action === 'GET /_sim/verify/codes') return { status: 200, body: this.codes() };
    if (action === 'POST /_sim/verify/advance') {
      let ms = NaN;
      try {
        ms = Number((JSON.parse(body || '{}') as { ms?: unknown }).ms);
      } catch {
        // refused below
      }
      if (!Number.isFinite(ms) || ms < 0) return { status: 400, body: { error: 'body must be JSON: {"ms": <milliseconds>}' } };
      this.advance(ms);
      return { status: 200, body: { ok: true } };
    }
    return undefined;
  }

  defineRoutes(route: Route): void {
    const service = '/v2/Services/([^/]+)';
    route('POST', '/v2/Services', ({ accountSid, params }) => {
      const name = first(params.FriendlyName);
      if (!name || name.length > 30) throw invalid('FriendlyName');
      return { status: 201, body: this.createService(accountSid, newSid('VA'), name, Number(first(params.CodeLength) ?? 6)) };
    });
    route('GET', '/v2/Services', ({ accountSid }) => {
      const services = [...this.services.values()].filter((s) => s.account_sid === accountSid);
      const meta = { page: 0, page_size: 50, first_page_url: '', previous_page_url: null, url: '', next_page_url: null, key: 'services' };
      return { status: 200, body: { services, meta } };
    });
    route('GET', service, (ctx) => ({ status: 200, body: this.service(ctx) }));
    route('POST', `${service}/Verifications`, (ctx) => this.start(ctx));
    route('GET', `${service}/Verifications/([^/]+)`, (ctx) => ({ status: 200, body: this.view(this.verification(ctx)) }));
    route('POST', `${service}/Verifications/([^/]+)`, (ctx) => {
      const found = this.verification(ctx);
      const status = first(ctx.params.Status);
      if (status !== 'canceled' && status !== 'approved') throw invalid('Status');
      if (this.statusOf(found) !== 'pending') throw notFound(ctx.match[0]);
      Object.assign(found.record, { status, valid: status === 'approved', date_updated: this.date() });
      return { status: 200, body: this.view(found) };
    });
    route('POST', `${service}/VerificationCheck`, (ctx) => this.check(ctx));
  }

  private createService(accountSid: string, sid: string, name: string, codeLength = 6): TwilioRecord {
    if (!Number.isInteger(codeLength) || codeLength < 4 || codeLength > 10) throw invalid('CodeLength');
    const now = this.date();
    const record: TwilioRecord = {
      sid,
      account_sid: accountSid,
      friendly_name: name,
      code_length: codeLength,
      lookup_enabled: false,
      psd2_enabled: false,
      skip_sms_to_landlines: false,
      dtmf_input_required: true,
      tts_name: null,
      do_not_share_warning_enabled: false,
      custom_code_enabled: false,
      push: {},
      totp: {},
      default_template_sid: null,
      whatsapp: {},
      verify_event_subscription_enabled: false,
      date_created: now,
      date_updated: now,
      url: `https://verify.twilio.com/v2/Services/${sid}`,
      links: {},
    };
    this.services.set(sid, record);
    return record;
  }

  private service({ accountSid, match }: Context): TwilioRecord {
    const found = this.services.get(match[1]);
    if (!SID('VA').test(match[1])) throw invalid('ServiceSid');
    if (!found || found.account_sid !== accountSid) throw notFound(`/Services/${match[1]}`);
    return found;
  }

  /** Start: a new verification, or another send of the one still pending for this address. */
  private start(ctx: Context): Reply {
    const service = this.service(ctx);
    const to = first(ctx.params.To) ?? '';
    const channel = first(ctx.params.Channel) ?? '';
    if (!VERIFY_CHANNELS.includes(channel)) throw invalid('Channel');
    if (channel === 'email' ? !EMAIL.test(to) : !E164.test(to)) throw invalid('To');
    if (to === VERIFY_BLOCKED_NUMBER) throw new SimulatedError(403, 60410, 'Verification delivery attempt blocked');
    const person = this.people()[to];
    if ((channel === 'sms' || channel === 'whatsapp') && person?.message === 'failed')
      throw new SimulatedError(400, 60205, 'SMS is not supported by landline phone number');
    let found = this.pendingFor(String(service.sid), to);
    if (found && found.sends >= VERIFY_MAX_SENDS) throw new SimulatedError(429, 60203, 'Max send attempts reached');
    const now = this.date();
    if (!found) {
      const sid = newSid('VE');
      const length = Number(service.code_length) || 6;
      const code = String(crypto.randomInt(0, 10 ** length)).padStart(length, '0');
      found = {
        code,
        createdAt: this.now(),
        checks: 0,
        sends: 0,
        record: {
          sid,
          service_sid: service.sid,
          account_sid: ctx.accountSid,
          to,
          channel,
          status: 'pending',
          valid: false,
          lookup: {},
          amount: null,
          payee: null,
          send_code_attempts: [],
          date_created: now,
          date_updated: now,
          sna: null,
          url: `https://verify.twilio.com/v2/Services/${String(service.sid)}/Verifications/${sid}`,
        },
      };
      this.verifications.set(sid, found);
    }
    found.sends++;
    Object.assign(found.record, { channel, date_updated: now });
    (found.record.send_code_attempts as TwilioRecord[]).push({ attempt_sid: newSid('VL'), channel, time: now });
    return { status: 201, body: this.view(found) };
  }

  /** Check: approved with the right code (and gone after), pending with a wrong one; 60202 after 5 wrong. */
  private check(ctx: Context): Reply {
    const service = this.service(ctx);
    const code = first(ctx.params.Code);
    const to = first(ctx.params.To);
    const verificationSid = first(ctx.params.VerificationSid);
    if (code === undefined || !/^\d{4,10}$/.test(code)) throw invalid('Code');
    if (to === undefined && verificationSid === undefined) throw invalid('To');
    const found = verificationSid
      ? this.verifications.get(verificationSid)
      : (this.pendingFor(String(service.sid), to!) ?? this.latestFor(String(service.sid), to!));
    const path = `/Services/${String(service.sid)}/VerificationCheck`;
    if (!found || found.record.service_sid !== service.sid) throw notFound(path);
    const status = this.statusOf(found);
    if (status === 'max_attempts_reached') throw new SimulatedError(429, 60202, 'Max check attempts reached');
    if (status !== 'pending') throw notFound(path);
    found.checks++;
    const right = crypto.timingSafeEqual(Buffer.from(code.padEnd(10)), Buffer.from(found.code.padEnd(10)));
    if (right) Object.assign(found.record, { status: 'approved', valid: true });
    else if (found.checks >= VERIFY_MAX_CHECKS) found.record.status = 'max_attempts_reached';
    found.record.date_updated = this.date();
    const { sid, account_sid, channel, amount, payee, date_created, date_updated } = found.record;
    return {
      status: 200,
      body: {
        sid,
        service_sid: service.sid,
        account_sid,
        to: found.record.to,
        channel,
        // The check that used the 5th attempt still says pending; the next one is refused (60202).
        status: right ? 'approved' : 'pending',
        valid: right,
        amount,
        payee,
        sna_attempts_error_codes: [],
        date_created,
        date_updated,
      },
    };
  }

  private verification(ctx: Context): Verification {
    const service = this.service(ctx);
    const key = decodeURIComponent(ctx.match[2]);
    const found = this.verifications.get(key) ?? this.pendingFor(String(service.sid), key);
    if (!found || found.record.service_sid !== service.sid) throw notFound(ctx.match[0]);
    return found;
  }

  private pendingFor(serviceSid: string, to: string): Verification | undefined {
    for (const v of this.verifications.values())
      if (v.record.service_sid === serviceSid && v.record.to === to && this.statusOf(v) === 'pending') return v;
    return undefined;
  }

  private latestFor(serviceSid: string, to: string): Verification | undefined {
    let latest: Verification | undefined;
    for (const v of this.verifications.values()) if (v.record.service_sid === serviceSid && v.record.to === to) latest = v;
    return latest;
  }

  /** A pending verification older than 10 minutes has expired. */
  private statusOf(v: Verification): string {
    if (v.record.status === 'pending' && this.now() - v.createdAt > VERIFY_EXPIRY_MS) {
      v.record.status = 'expired';
      v.record.date_updated = this.date();
    }
    return String(v.record.status);
  }

  private view(v: Verification): TwilioRecord {
    this.statusOf(v);
    return { ...v.record, send_code_attempts: [...(v.record.send_code_attempts as TwilioRecord[])] };
  }

  /** Verify writes ISO 8601 dates. */
  private date(): string {
    return new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}
