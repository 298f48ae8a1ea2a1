/** The catalogue against the SDK it drives, and compound Sid parsing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import twilio from 'twilio';
import { ACTIONS, CATALOGUE, findObject, partsFor } from '../../../lib/catalogue/catalogue';
import { buildFields, buildFilters, parseCompoundSid } from '../../../lib/catalogue/actions';
import { codeAndMessageOf } from '../../support/assertions';

const AC = 'AC' + 'a'.repeat(32);
const CF = 'CF' + 'b'.repeat(32);
const CA = 'CA' + 'c'.repeat(32);

describe('resource catalogue', () => {
  const client = twilio(AC, 'token', { accountSid: AC });

  /** Walks a call path on a real client without sending anything; returns the method. */
  function method(call: string, parts: string[]): (...args: unknown[]) => unknown {
    const segments = call.split('.');
    const root = segments.shift()!;
    const name = segments.pop()!;
    let current: any = root === 'account' ? client.api.v2010.accounts(AC) : root === 'api' ? client.api.v2010 : client.lookups.v2;
    for (const segment of segments) {
      const [, prop, part] = /^(\w+)(?:\((\w+)\))?$/.exec(segment)!;
      current = current[prop];
      assert.ok(current, `${call}: the SDK has no ${prop}`);
      if (part) current = current(parts.shift() ?? 'X');
    }
    assert.equal(typeof current[name], 'function', `${call}: the SDK has no ${name}()`);
    return current[name];
  }

  it('names SDK calls that exist, for every object and action', () => {
    let calls = 0;
    for (const object of CATALOGUE) {
      for (const action of ACTIONS) {
        const spec = object.actions[action];
        if (!spec || spec.notSupported) continue;
        method(
          spec.call,
          partsFor(object, action).map((p) => p.example),
        );
        calls++;
      }
    }
    assert.ok(calls >= 70, `${calls} calls checked`);
  });

  it('names fields and filters the SDK method sends (date filters with their Before/After forms)', () => {
    for (const object of CATALOGUE) {
      for (const action of ACTIONS) {
        const spec = object.actions[action];
        if (!spec || spec.notSupported) continue;
        const source = String(method(spec.call, []));
        const names =
          action === 'query'
            ? (object.filters ?? []).flatMap((f) => (f.type === 'date' ? [f.name, `${f.name}Before`, `${f.name}After`] : [f.name]))
            : (object.fields ?? []).filter((f) => f.on?.includes(action)).map((f) => f.name);
        // Lists are paged: the filters live in page(), which list() calls.
        const checked = action === 'query' ? String(method(spec.call.replace(/\.list$/, '.page'), [])) : source;
        for (const name of names)
          assert.ok(checked.includes(`params["${name}"]`), `${object.name} ${action}: the SDK does not send "${name}"`);
      }
    }
  });

  it("marks what Twilio cannot do (the seed's notes) as not supported, with a reason", () => {
    const refused = CATALOGUE.flatMap((o) => ACTIONS.filter((a) => o.actions[a]?.notSupported).map((a) => `${a} ${o.name}`)).sort();
    assert.deepEqual(refused, ['create ConnectApp', 'delete Notification', 'delete ShortCode', 'get CallerIdValidation']);
  });

  it('has unique object names and labels, and a plural for each', () => {
    assert.equal(new Set(CATALOGUE.map((o) => o.name)).size, CATALOGUE.length);
    for (const o of CATALOGUE) assert.ok(o.plural && o.label, o.name);
  });
});

describe('parseCompoundSid', () => {
  const participant = findObject('ConferenceParticipant')!;

  it('reads Sid, Parent:Sid and AccountSid:Parent:Sid', () => {
    assert.deepEqual(parseCompoundSid(`${CF}:${CA}`, participant, 'get'), {
      accountSid: undefined,
      parts: { conferenceSid: CF, callSid: CA },
    });
    assert.deepEqual(parseCompoundSid(` ${AC} : ${CF} : ${CA} `, participant, 'get'), {
      accountSid: AC,
      parts: { conferenceSid: CF, callSid: CA },
    });
    assert.deepEqual(parseCompoundSid(`${CF}:alice`, participant, 'update'), {
      accountSid: undefined,
      parts: { conferenceSid: CF, callSid: 'alice' },
    });
    assert.deepEqual(parseCompoundSid(CF, participant, 'query'), { accountSid: undefined, parts: { conferenceSid: CF } });
    assert.deepEqual(parseCompoundSid({ sid: 'SM' + '1'.repeat(32), status: 'sent' }, findObject('Message')!, 'get').parts, {
      sid: 'SM' + '1'.repeat(32),
    });
    assert.deepEqual(parseCompoundSid('US:+14155550100', findObject('LocalPhoneNumber')!, 'get').parts, {
      countryCode: 'US',
      phoneNumber: '+14155550100',
    });
    assert.deepEqual(parseCompoundSid('', findObject('Message')!, 'query'), { parts: {} });
    assert.deepEqual(parseCompoundSid(AC, findObject('Message')!, 'query'), { accountSid: AC, parts: {} });
  });

  it('names the part that is wrong, before any request', () => {
    assert.match(
      codeAndMessageOf(() => parseCompoundSid(`${CA}:${CA}`, participant, 'get')),
      /^INVALID_INPUT: Conference SID must be CF/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid(`${CF}:${CF}`, participant, 'get')),
      /^INVALID_INPUT: Call SID or label must be CA/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid(`ACshort:${CF}:${CA}`, participant, 'get')),
      /^INVALID_INPUT: Account SID must be AC/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid(CF, participant, 'get')),
      /^INVALID_INPUT: ConferenceParticipant get takes CF…:CA… or AC…:CF…:CA…/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid(`${AC}:${AC}:${CF}:${CA}`, participant, 'get')),
      /^INVALID_INPUT/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid('RE' + '0'.repeat(32), findObject('Message')!, 'get')),
      /^INVALID_INPUT: Message SID must be SM or MM/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid('SM123', findObject('Message')!, 'get')),
      /^INVALID_INPUT/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid('us:+14155550100', findObject('LocalPhoneNumber')!, 'get')),
      /^INVALID_INPUT: Country code must be like US/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid(undefined, participant, 'get')),
      /^MISSING_INPUT: ConferenceParticipant get needs Conference SID \+ Call SID or label \(CF…:CA…\)/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid(42, findObject('Call')!, 'get')),
      /^INVALID_INPUT: Sid must be text/,
    );
    assert.match(
      codeAndMessageOf(() => parseCompoundSid(`${AC}:${AC}`, findObject('Account')!, 'get')),
      /^INVALID_INPUT/,
    );
  });
});

describe('filters and fields', () => {
  it("turns date filters into the SDK's on / Before / After parameters", () => {
    const message = findObject('Message')!;
    const on = buildFilters(message, [{ name: 'dateSent', op: 'on', value: '2026-11-24 13:45:00' }]);
    assert.deepEqual(Object.keys(on).sort(), ['dateSentAfter', 'dateSentBefore']);
    assert.equal((on.dateSentAfter as Date).toISOString(), '2026-11-24T00:00:00.000Z');
    assert.equal((on.dateSentBefore as Date).toISOString(), '2026-11-24T23:59:59.000Z');
    const after = buildFilters(message, [{ name: 'dateSent', op: 'after', value: '2026-11-24 13:45:00' }]);
    assert.equal((after.dateSentAfter as Date).toISOString(), '2026-11-24T13:45:00.000Z');
    const before = buildFilters(message, [{ name: 'dateSent', op: 'before', value: '2026-11-24T13:45:00+01:00' }]);
    assert.equal((before.dateSentBefore as Date).toISOString(), '2026-11-24T12:45:00.000Z');
  });

  it('coerces field values by type and applies fixed parameters', () => {
    const participant = findObject('ConferenceParticipant')!;
    assert.deepEqual(buildFields(participant, 'update', { muted: 'true', holdUrl: 'https://x.test/hold', holdMethod: 'get' }), {
      muted: true,
      holdUrl: 'https://x.test/hold',
      holdMethod: 'GET',
    });
    assert.deepEqual(buildFields(findObject('Account')!, 'delete', {}), { status: 'closed' });
    assert.deepEqual(buildFields(findObject('Queue')!, 'create', { friendlyName: 'q', maxSize: '10' }), { friendlyName: 'q', maxSize: 10 });
    assert.match(
      codeAndMessageOf(() => buildFields(findObject('Queue')!, 'create', { maxSize: 'ten' })),
      /^INVALID_INPUT: maxSize must be a whole number/,
    );
    assert.match(
      codeAndMessageOf(() => buildFields(findObject('Queue')!, 'create', {})),
      /^MISSING_INPUT: Queue create needs friendlyName/,
    );
  });
});
