/** Objects outside the stored collections: usage records (computed) and Lookup v2 answers. */
import { API_VERSION, Params, TwilioRecord, first } from './resources';

const USAGE = [
  ['sms', 'SMS', 'messages', 0.0079],
  ['calls', 'Voice Minutes', 'minutes', 0.014],
  ['recordings', 'Voice Recording Minutes', 'minutes', 0.0025],
  ['phonenumbers', 'Phone Numbers', 'numbers', 1.15],
  ['totalprice', 'Total Price', 'usd', 1],
] as const;

export function usageRecords(accountSid: string, query: Params): TwilioRecord[] {
  const category = first(query.Category);
  const start = first(query.StartDate) ?? '2026-11-01';
  const end = first(query.EndDate) ?? '2026-11-24';
  return USAGE.filter(([c]) => !category || c === category).map(([c, description, unit, price], i) => {
    const count = 10 * (i + 1);
    return {
      account_sid: accountSid,
      api_version: API_VERSION,
      as_of: new Date().toISOString(),
      category: c,
      count: String(count),
      count_unit: unit,
      description,
      end_date: end,
      price: (count * price).toFixed(4),
      price_unit: 'usd',
      start_date: start,
      subresource_uris: {},
      uri: `/${API_VERSION}/Accounts/${accountSid}/Usage/Records.json?Category=${c}&StartDate=${start}&EndDate=${end}`,
      usage: String(count),
      usage_unit: unit,
    };
  });
}

const E164 = /^\+[1-9]\d{6,14}$/;

/** Lookup v2: a number's validity, and its line type when Fields asks for line_type_intelligence. */
export function lookupRecord(number: string, query: Params): TwilioRecord {
  const fields = (first(query.Fields) ?? '').split(',').map((f) => f.trim());
  const valid = E164.test(number) && number !== '+15005550001';
  const us = number.startsWith('+1');
  return {
    calling_country_code: valid ? (us ? '1' : number.slice(1, 3)) : null,
    country_code: valid ? (us ? 'US' : 'GB') : null,
    phone_number: number,
    national_format: valid && us ? number.replace(/^\+1(\d{3})(\d{3})(\d{4})$/, '($1) $2-$3') : valid ? number : null,
    valid,
    validation_errors: valid ? [] : [E164.test(number) ? 'INVALID_BUT_POSSIBLE' : 'NOT_A_NUMBER'],
    caller_name: null,
    sim_swap: null,
    call_forwarding: null,
    line_status: null,
    line_type_intelligence:
      fields.includes('line_type_intelligence') && valid
        ? {
            carrier_name: 'Simulated Wireless',
            error_code: null,
            mobile_country_code: '310',
            mobile_network_code: '456',
            type: number.startsWith('+1800') ? 'tollFree' : 'mobile',
          }
        : null,
    identity_match: null,
    reassigned_number: null,
    sms_pumping_risk: null,
    phone_number_quality_score: null,
    pre_fill: null,
    url: `https://lookups.twilio.com/v2/PhoneNumbers/${encodeURIComponent(number)}`,
  };
}
