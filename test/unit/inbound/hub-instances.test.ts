/**
 * The inbound path across instances: two hubs on one store (two embedded engines on one directory
 * share a bus in this process, as two Node-RED share a Redis; and a real redis-server), each event
 * claimed once (heardFirst) and a Sid event that lands where no one waits for it reaching the hub
 * that does. What a stranger controls never becomes a key as written.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HEARD_MEMORY_MS, heardFirst, heardPrefix, inboundChannel } from '../../../lib/inbound/heard';
import { InboundEvent, InboundHub, eventIdentity, inboundHubFor } from '../../../lib/inbound/hub';
import type { StateEngine } from '../../../lib/state/engine';
import { openStateEngine } from '../../../lib/state/open';
import { until } from '../../support/assertions';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../../support/redis';

const CA = 'CA' + 'a'.repeat(32);
const accountSid = () => 'AC' + crypto.randomBytes(16).toString('hex');
const status = (value: string, overrides: Partial<InboundEvent> = {}): InboundEvent => ({
  kind: 'call-status',
  sid: CA,
  from: '+15017122661',
  to: '+15558675310',
  params: { CallSid: CA, CallStatus: value, SequenceNumber: value === 'completed' ? '3' : '1' },
  source: 'webhook',
  ...overrides,
});

/** What any instance does with a webhook it heard: claim it on the account's store, and publish it when it was first. */
async function land(hub: InboundHub, engine: StateEngine, sid: string, event: InboundEvent): Promise<boolean> {
  if (!(await heardFirst(engine, sid, eventIdentity(event)))) return false;
  hub.publish(event);
  return true;
}

function instancesSuite(name: string, open: () => Promise<[StateEngine, StateEngine]>, close: () => Promise<void>) {
  describe(name, () => {
    let engines: [StateEngine, StateEngine];
    before(async () => void (engines = await open()));
    after(async () => {
      await Promise.all(engines.map((e) => e.close()));
      await close();
    });

    const twoHubs = async (sid: string) => {
      const hubs = [new InboundHub(), new InboundHub()] as const;
      hubs.forEach((hub, i) => hub.connect(engines[i], sid));
      // Each hears the other once its subscription is live (Redis subscribes asynchronously).
      for (const [i, hub] of hubs.entries()) {
        const probe = 'CA' + crypto.randomBytes(16).toString('hex');
        let heard = false;
        const stop = hub.subscribe({ sid: probe }, () => void (heard = true));
        // Claimed first, as any instance does (a far event whose identity no instance claimed is not believed).
        for (const deadline = Date.now() + 10_000; !heard; await new Promise((r) => setTimeout(r, 20))) {
          if (Date.now() > deadline) throw new Error(`hub ${i} subscribed`);
          const n = String(Math.random());
          await land(hubs[1 - i], engines[1 - i], sid, status(n, { sid: probe, params: { CallSid: probe, CallStatus: n } }));
        }
        stop();
      }
      return hubs;
    };

    it('a status landing on the instance where no one waits reaches the wait on the other, once', async () => {
      const sid = accountSid();
      const [here, there] = await twoHubs(sid);
      const heard: string[] = [];
      there.subscribe({ sid: CA }, (event) => void heard.push(`${event.source} ${String(event.params.CallStatus)}`));
      assert.equal(await land(here, engines[0], sid, status('ringing')), true);
      assert.equal(await land(there, engines[1], sid, status('ringing')), false, 'Twilio retried it on the other instance');
      assert.equal(await land(here, engines[0], sid, status('ringing')), false, 'and on this one');
      assert.equal(await land(here, engines[0], sid, status('completed', { source: 'poll' })), true);
      await until(() => heard.length >= 2, 'both statuses there');
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(heard, ['webhook ringing', 'poll completed']);
    });

    it('an event the instance itself waits for stays there; an incoming text goes nowhere else; its own echo is not heard again', async () => {
      const sid = accountSid();
      const [here, there] = await twoHubs(sid);
      const got: string[] = [];
      here.subscribe({ sid: CA }, () => void got.push('here'));
      there.subscribe({ sid: CA }, () => void got.push('there'));
      const SM = 'SM' + crypto.randomBytes(16).toString('hex');
      there.subscribe({ sid: SM }, () => void got.push('there SM'));
      assert.deepEqual(here.publish(status('answered')), { delivered: 1, claimed: false });
      here.publish({ kind: 'message', sid: SM, from: '+1', to: '+2', params: { MessageSid: SM, Body: 'hi' }, source: 'webhook' });
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(got, ['here']);
    });

    it('ignores what does not look like an event on the channel (a shared store is not trusted), without a crash', async () => {
      const sid = accountSid();
      const [, there] = await twoHubs(sid);
      const heard: unknown[] = [];
      there.subscribe({ sid: CA }, (event) => void heard.push(event.params.CallStatus));
      const channel = inboundChannel(sid);
      for (const junk of [
        null,
        'text',
        [1, 2],
        { origin: 'x' },
        { origin: 'x', event: { sid: CA, kind: 'nonsense', params: {} } },
        { origin: 'x', event: { sid: `${CA}/../x`, kind: 'call-status', params: {} } },
        { origin: 'x', event: { sid: CA, kind: 'call-status', params: 'not a record' } },
        { origin: 7, event: { sid: CA, kind: 'call-status', params: {} } },
      ])
        await engines[0].publish(channel, junk);
      // The one good event: claimed first, as the instance that heard it does.
      await heardFirst(engines[0], sid, eventIdentity(status('busy', { params: { CallStatus: 'busy' } })));
      await engines[0].publish(channel, {
        origin: 'x',
        event: { sid: CA, kind: 'call-status', params: { CallStatus: 'busy' }, at: 'soon' },
      });
      await until(() => heard.length >= 1, 'the one good event');
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(heard, ['busy']);
    });

    it('gives one of many concurrent claims of one event, across both stores, the event', async () => {
      const sid = accountSid();
      const event = status('in-progress', { params: { CallSid: CA, Digits: '1' }, kind: 'gather', route: '/twilio/gather' });
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          heardFirst(engines[i % 2], sid, eventIdentity(event), { value: `token-${i}`, windowMs: 60_000 }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      // The same key on another route (another <Gather>) is another event; on another account too.
      assert.equal(await heardFirst(engines[1], sid, eventIdentity({ ...event, route: '/twilio/gather?step=2' })), true);
      assert.equal(await heardFirst(engines[0], accountSid(), eventIdentity(event)), true);
    });
  });
}

instancesSuite(
  'two instances on one embedded store (two engines, one directory)',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-hubs-'));
    dirs.push(dir);
    return [openStateEngine({ backend: 'embedded', dir }), openStateEngine({ backend: 'embedded', dir })];
  },
  async () => undefined,
);
const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

let redis: RedisServer | undefined;
suiteNeeding(noRedis, 'two instances on one redis-server', () =>
  instancesSuite(
    'redis',
    async () => {
      redis = await startRedis();
      const prefix = `t${crypto.randomBytes(4).toString('hex')}:`;
      return [openStateEngine({ backend: 'redis', url: redis.url, prefix }), openStateEngine({ backend: 'redis', url: redis.url, prefix })];
    },
    async () => redis?.stop(),
  ),
);

describe('what an account heard', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-heard-'));
  const engine = openStateEngine({ backend: 'embedded', dir });
  after(async () => {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keys what a stranger controls by its digest: fixed length, no path, no pattern, whatever it holds', async () => {
    const sid = accountSid();
    const hostile = ['../../node/x', '*', 'a\nb', '__proto__', 'inbound/x/e/y', 'x'.repeat(200_000), '\u0000', '😀'.repeat(1000)];
    for (const text of hostile) {
      assert.equal(await heardFirst(engine, sid, text, { value: text, windowMs: 60_000 }), true);
      assert.equal(await heardFirst(engine, sid, text), false);
    }
    const keys = (await engine.scan(heardPrefix(sid), 100)).map((r) => r.key);
    assert.equal(keys.length, hostile.length * 2);
    for (const key of keys) assert.match(key, /^inbound\/[A-Za-z0-9_-]{22}\/[et]\/[A-Za-z0-9_-]{22}$/);
    const record = await engine.get(keys[0]);
    assert.ok(record?.expiresAt !== undefined && record.expiresAt <= Date.now() + HEARD_MEMORY_MS, 'each entry expires');
  });

  it('writes nothing for a replay: a flood of fresh tokens on what was heard leaves the store as it was', async () => {
    const sid = accountSid();
    const identity = 'message|SM' + 'e'.repeat(32);
    assert.equal(await heardFirst(engine, sid, identity, { value: 'first', windowMs: 60_000 }), true);
    const before = (await engine.scan(heardPrefix(sid), 100)).length;
    for (let i = 0; i < 500; i++) assert.equal(await heardFirst(engine, sid, identity, { value: `fresh-${i}`, windowMs: 60_000 }), false);
    assert.equal((await engine.scan(heardPrefix(sid), 100)).length, before);
    assert.equal(before, 2, 'its identity and its token');
    // A Twilio retry (the same token) of an event without a Sid is told by its token.
    assert.equal(await heardFirst(engine, sid, undefined, { value: 'no-sid', windowMs: 60_000 }), true);
    assert.equal(await heardFirst(engine, sid, undefined, { value: 'no-sid', windowMs: 60_000 }), false);
  });

  it('takes an event without a Sid or a token (nothing to tell it by) every time, and says when it cannot tell', async () => {
    assert.equal(await heardFirst(engine, accountSid(), undefined), true);
    await assert.rejects(heardFirst(undefined, accountSid(), 'x'), { name: 'HeardUnknownError' });
  });

  it('one hub per Account SID in a process, whichever config node asks; a node without a SID has its own', () => {
    const sid = accountSid();
    assert.equal(inboundHubFor({ accountSid: sid }), inboundHubFor({ accountSid: sid }));
    assert.notEqual(inboundHubFor({ accountSid: sid }), inboundHubFor({ accountSid: accountSid() }));
    const lone = {};
    assert.equal(inboundHubFor(lone), inboundHubFor(lone));
    assert.notEqual(inboundHubFor({}), inboundHubFor({}));
  });
});
