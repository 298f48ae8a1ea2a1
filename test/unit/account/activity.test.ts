/**
 * What the Twilio sidebar is fed (lib/account/activity.ts) and how it is pushed
 * (plugins/twilio-sidebar): bounded rings, numbers masked, nothing secret or personal kept, statuses
 * that never go back, and no timer and no push while nothing happens or no editor is connected.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  AccountActivity,
  CHART_MINUTES,
  ShownWaits,
  TRAFFIC_KEPT,
  attachActivity,
  maskNumber,
  onActivity,
  openWaits,
  runningActivities,
} from '../../../lib/account/activity';
import { RequestQueue, Verdict } from '../../../lib/transport/request-queue';
import { livingClock, useManualClock } from '../../support/ticking';
import { root } from '../../support/paths';

const sid = (prefix: string, n: number) => prefix + n.toString(16).padStart(32, '0');
const done: Verdict = { kind: 'done' };
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

interface Publisher {
  watching(): void;
  stop(): void;
}
const sidebar = require('../../../plugins/twilio-sidebar/twilio-sidebar') as {
  startPublisher(RED: unknown): Publisher;
  PUSH_INTERVAL_MS: number;
};

/** The parts of Node-RED's API the publisher uses: its runtime events, and comms.publish (recorded). */
function fakeRed() {
  const events = new EventEmitter();
  const published: Array<{ topic: string; data: unknown }> = [];
  return { events, published, comms: { publish: (topic: string, data: unknown) => published.push({ topic, data }) } };
}

describe('account activity (the Twilio sidebar)', () => {
  const time = useManualClock();

  it("has the sidebar's texts in en-US, de and ja alike, and uses only those", () => {
    const dir = path.join(root, 'plugins', 'twilio-sidebar');
    const keys = (lang: string) =>
      Object.keys(JSON.parse(fs.readFileSync(path.join(dir, 'locales', lang, 'twilio-sidebar.json'), 'utf8')).sidebar).sort();
    assert.deepEqual(keys('de'), keys('en-US'));
    assert.deepEqual(keys('ja'), keys('en-US'));
    const script = fs.readFileSync(path.join(dir, 'twilio-sidebar.editor.ts'), 'utf8');
    const used = new Set([...script.matchAll(/\bt\('(\w+)'/g)].map((m) => m[1]));
    for (const key of used) assert.ok(keys('en-US').includes(key), `${key} is in the catalogue`);
  });

  it('hides all but the last four digits of a number', () => {
    assert.equal(maskNumber('+15017122661'), '+•••••••2661');
    assert.equal(maskNumber('whatsapp:+447700900123'), 'whatsapp:+••••••••0123');
    assert.equal(maskNumber('client:alice'), '••••••••lice');
    assert.equal(maskNumber('1234'), '••••');
    assert.equal(maskNumber(undefined), '');
    assert.equal(maskNumber(12345), '');
  });

  it('keeps the last 50 messages and calls, newest first, each once with its status as it changes', () => {
    const activity = new AccountActivity('acct', 'Home', 'AC' + 'a'.repeat(32), time.clock);
    for (let i = 0; i < TRAFFIC_KEPT + 10; i++)
      activity.sent('message', { sid: sid('SM', i), to: '+15558675310', from: '+15017122661', status: 'queued' });
    let traffic = activity.snapshot().traffic;
    assert.equal(traffic.length, TRAFFIC_KEPT);
    assert.equal(traffic[0].sid, sid('SM', TRAFFIC_KEPT + 9), 'the newest first');
    assert.equal(traffic.at(-1)!.sid, sid('SM', 10), 'the oldest ten gone');
    // A status callback for the newest: its row changes; a late `sent` after `delivered` does not take it back.
    const status = (s: string) => ({ kind: 'message-status', sid: sid('SM', TRAFFIC_KEPT + 9), params: { MessageStatus: s } });
    time.clock.set(time.clock.now() + 1000);
    activity.heard(status('delivered'));
    activity.heard(status('sent'));
    traffic = activity.snapshot().traffic;
    assert.equal(traffic.length, TRAFFIC_KEPT);
    assert.equal(traffic[0].status, 'delivered');
    assert.equal(traffic[0].updatedAt - traffic[0].at, 1000);
    // A status that comes before the create's answer (a fast callback) is not undone by the answer's `queued`.
    activity.heard({ kind: 'message-status', sid: sid('SM', 999), params: { MessageStatus: 'sent' } });
    activity.sent('message', { sid: sid('SM', 999), to: '+15558675310', from: '+15017122661', status: 'queued' });
    assert.equal(activity.snapshot().traffic[0].status, 'sent');
    // An incoming text and call.
    activity.heard({ kind: 'message', sid: sid('SM', 1000), from: '+15558675310', to: '+15017122661', params: {} });
    activity.heard({ kind: 'call', sid: sid('CA', 1), from: '+15558675310', to: '+15017122661', params: { CallStatus: 'ringing' } });
    const [call, text] = activity.snapshot().traffic;
    assert.deepEqual(
      [call.kind, call.direction, call.status, call.from, call.to],
      ['call', 'in', 'ringing', '+•••••••5310', '+•••••••2661'],
    );
    assert.deepEqual([text.kind, text.direction, text.status], ['message', 'in', 'received']);
    // What is not a Sid is not kept.
    activity.heard({ kind: 'message', sid: '<img src=x>', params: {} });
    activity.sent('message', { sid: 'SM123' });
    assert.equal(activity.snapshot().traffic[0].sid, sid('CA', 1));
  });

  it('keeps no body, no full number, no URL and no secret', () => {
    const activity = new AccountActivity('acct', 'Home', 'AC' + 'b'.repeat(32), time.clock);
    const secrets = ['Meet me at 5', 'token-s3cr3t', 'https://example.com/hook?x=1', '15558675310', '15017122661', 'b'.repeat(32)];
    activity.sent('message', {
      sid: sid('SM', 1),
      to: '+15558675310',
      from: '+15017122661',
      status: 'queued',
      body: 'Meet me at 5',
      uri: 'https://example.com/hook?x=1',
    } as never);
    activity.heard({
      kind: 'message',
      sid: sid('SM', 2),
      from: '+15558675310',
      to: '+15017122661',
      params: { Body: 'Meet me at 5', AuthToken: 'token-s3cr3t', MediaUrl0: 'https://example.com/hook?x=1' },
    });
    activity.heard({ kind: 'message-status', sid: sid('SM', 1), params: { MessageStatus: 'token-s3cr3t <b>' } });
    activity.polled('+15017122661', {
      at: 1,
      error: { code: 'AUTHENTICATION_CONNECTION_ERROR', twilioCode: 20003, message: 'token-s3cr3t' } as never,
    });
    activity.refused(403);
    const shown = JSON.stringify(activity.snapshot());
    for (const secret of secrets) assert.ok(!shown.includes(secret), `${secret} is not in ${shown}`);
    const snapshot = activity.snapshot();
    assert.equal(snapshot.accountSid, '…bbbb');
    assert.equal(
      snapshot.traffic[1].status,
      'queued',
      'a status that is not one of Twilio\'s words is "unknown", and does not replace one',
    );
    assert.deepEqual(snapshot.pollers, [
      {
        number: '+•••••••2661',
        lastLookAt: 1,
        failing: true,
        lastError: { code: 'AUTHENTICATION_CONNECTION_ERROR', twilioCode: 20003, at: 1 },
      },
    ]);
  });

  it('counts webhook refusals by reason', () => {
    const activity = new AccountActivity('acct', 'Home', '', time.clock);
    for (const status of [403, 403, 413, 415, 408, 400]) activity.refused(status);
    assert.deepEqual(activity.snapshot().refusals, { signature: 2, size: 1, type: 1, slow: 1, other: 1 });
    assert.equal(activity.snapshot().lastRefusalAt, time.clock.now());
  });

  it('charts the queue minute by minute over the last 15 minutes: requests, 429s and retries', async () => {
    // The queue's retry runs in real time; the chart's minutes on the test's clock.
    const queue = new RequestQueue({ initialConcurrency: 4, baseDelayMs: 1, random: () => 0, clock: livingClock });
    const { activity, detach } = attachActivity('chart-acct', 'Chart', 'AC' + 'c'.repeat(32), queue);
    try {
      assert.ok(runningActivities().includes(activity));
      await Promise.all(
        Array.from({ length: 5 }, () =>
          queue.schedule(
            async () => 1,
            () => done,
          ),
        ),
      );
      let tries = 0;
      await queue.schedule(
        async () => ++tries,
        (o) => (o.value === 1 ? { kind: 'retry', reason: 'rate-limited' } : done),
      );
      let minutes = activity.snapshot().minutes;
      assert.equal(minutes.length, CHART_MINUTES);
      const now = minutes.at(-1)!;
      assert.deepEqual([now.started, now.rateLimited, now.retried], [7, 1, 1]);
      assert.ok(now.inFlight >= 1 && now.queued >= 1, JSON.stringify(now));
      // Twenty minutes on, that minute has left the chart.
      time.clock.set(time.clock.now() + 20 * 60_000);
      await queue.schedule(
        async () => 1,
        () => done,
      );
      minutes = activity.snapshot().minutes;
      assert.equal(minutes.length, CHART_MINUTES);
      assert.deepEqual(
        minutes.map((m) => m.started),
        [...Array(CHART_MINUTES - 1).fill(0), 1],
      );
      assert.ok(minutes.every((m, i) => i === 0 || m.at - minutes[i - 1].at === 60_000));
    } finally {
      detach();
    }
    assert.ok(!runningActivities().includes(activity), 'a closed account is not shown');
  });

  it("lists each node's open waits with their deadlines, and says when they change", () => {
    const changes: number[] = [];
    const stop = onActivity(
      () => undefined,
      () => changes.push(1),
    );
    try {
      const room = new ShownWaits<{ id: string; record: unknown }>();
      room.show('node-a');
      room.set('w1', { id: 'w1', record: { deadline: 2000, msg: { payload: 'secret' } } });
      room.set('w2', { id: 'w2', record: { stepEnds: 1000 } });
      room.set('w3', { id: 'w3', record: {} });
      const listed = openWaits().filter((w) => w.nodeId === 'node-a');
      assert.deepEqual(listed, [
        { nodeId: 'node-a', id: 'w2', deadline: 1000 },
        { nodeId: 'node-a', id: 'w1', deadline: 2000 },
        { nodeId: 'node-a', id: 'w3' },
      ]);
      assert.ok(!JSON.stringify(openWaits()).includes('secret'));
      room.delete('w1');
      room.hide();
      assert.equal(openWaits().filter((w) => w.nodeId === 'node-a').length, 0);
      assert.equal(changes.length, 6, 'shown, three held, one ended, hidden');
    } finally {
      stop();
    }
  });

  it('starts no timer while idle, and pushes nothing while no editor is connected', async () => {
    const RED = fakeRed();
    const publisher = sidebar.startPublisher(RED);
    const queue = new RequestQueue();
    const { activity, detach } = attachActivity('idle-acct', 'Idle', 'AC' + 'd'.repeat(32), queue);
    const before = timeouts();
    try {
      for (let i = 0; i < 100; i++) activity.sent('message', { sid: sid('SM', i), to: '+15558675310', status: 'queued' });
      await queue.schedule(
        async () => 1,
        () => done,
      );
      assert.equal(RED.published.length, 0, 'no editor: nothing pushed');
      assert.equal(time.clock.pending, 0, 'no timer of the sidebar');
      assert.equal(timeouts(), before, 'no timer of any kind');

      // An editor connects: changes are pushed, at most twice a second, the latest state each time.
      RED.events.emit('comms:connection-added', {});
      for (let i = 100; i < 300; i++) activity.sent('message', { sid: sid('SM', i), to: '+15558675310', status: 'queued' });
      assert.equal(RED.published.length, 1, 'the first change at once');
      assert.equal(time.clock.pending, 1, 'the rest wait for one timer');
      await time.clock.advance(sidebar.PUSH_INTERVAL_MS);
      assert.equal(RED.published.length, 2);
      const last = RED.published[1] as { topic: string; data: { account: { traffic: Array<{ sid: string }> } } };
      assert.equal(last.topic, 'twilio/activity/idle-acct');
      assert.equal(last.data.account.traffic[0].sid, sid('SM', 299));
      await time.clock.advance(10_000);
      assert.equal(RED.published.length, 2, 'nothing changed: nothing pushed');
      assert.equal(time.clock.pending, 0, 'and no timer left');

      // The editor goes: quiet again.
      RED.events.emit('comms:connection-removed', {});
      activity.sent('message', { sid: sid('SM', 400), to: '+15558675310', status: 'queued' });
      assert.equal(RED.published.length, 2);
      assert.equal(time.clock.pending, 0);
    } finally {
      detach();
      publisher.stop();
    }
  });
});
