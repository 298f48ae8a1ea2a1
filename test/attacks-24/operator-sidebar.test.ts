/**
 * Attacks on the Twilio sidebar's runtime side (plugins/twilio-sidebar, lib/account/activity.ts) as an
 * operator's Node-RED lives: an editor whose first look (GET /twilio-activity) comes before its comms
 * websocket is heard, then the tab closed; and a long burst (50,000 sends) with no editor at all.
 * Promise: memory bounded, and no timer and no push while no editor is connected.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { AccountActivity, TRAFFIC_KEPT, attachActivity } from '../../lib/account/activity';
import { RequestQueue } from '../../lib/transport/request-queue';
import { useManualClock } from '../support/ticking';

const sidebar = require('../../plugins/twilio-sidebar/twilio-sidebar') as {
  startPublisher(RED: unknown): { watching(): void; stop(): void };
};
const sid = (prefix: string, n: number) => prefix + n.toString(16).padStart(32, '0');

function fakeRed() {
  const events = new EventEmitter();
  const published: Array<{ topic: string; data: unknown }> = [];
  return { events, published, comms: { publish: (topic: string, data: unknown) => published.push({ topic, data }) } };
}

describe('the sidebar under an operator', () => {
  const time = useManualClock();

  it('is quiet again once the editor whose first look came before its websocket closed', async () => {
    const RED = fakeRed();
    const publisher = sidebar.startPublisher(RED);
    const { activity, detach } = attachActivity('racy-acct', 'Racy', 'AC' + 'e'.repeat(32), new RequestQueue());
    try {
      // The sidebar's GET /twilio-activity answers before Node-RED hears the editor's comms connect.
      publisher.watching();
      RED.events.emit('comms:connection-added', {});
      activity.sent('message', { sid: sid('SM', 1), to: '+15558675310', status: 'queued' });
      assert.equal(RED.published.length, 1, 'the editor is told');
      await time.clock.advance(10_000);
      // The operator closes the editor's tab.
      RED.events.emit('comms:connection-removed', {});
      const pushed = RED.published.length;
      for (let i = 2; i < 1_000; i++) activity.sent('message', { sid: sid('SM', i), to: '+15558675310', status: 'queued' });
      assert.equal(RED.published.length, pushed, 'no editor: nothing pushed');
      assert.equal(time.clock.pending, 0, 'no editor: no timer');
    } finally {
      detach();
      publisher.stop();
    }
  });

  it('keeps its memory bounded over 50,000 sends and their statuses', () => {
    const activity = new AccountActivity('burst', 'Burst', 'AC' + 'f'.repeat(32), time.clock);
    const started = performance.now();
    for (let i = 0; i < 50_000; i++) {
      activity.sent('message', { sid: sid('SM', i), to: '+15558675310', from: '+15017122661', status: 'queued' });
      activity.heard({ kind: 'message-status', sid: sid('SM', i), params: { MessageStatus: 'delivered' } });
    }
    const ms = performance.now() - started;
    const snapshot = activity.snapshot();
    assert.equal(snapshot.traffic.length, TRAFFIC_KEPT);
    assert.equal(snapshot.traffic[0].sid, sid('SM', 49_999));
    assert.ok(JSON.stringify(snapshot).length < 50_000, `a snapshot of ${JSON.stringify(snapshot).length} bytes`);
    console.log(`# 50,000 sends and 50,000 statuses noted in ${ms.toFixed(0)} ms; snapshot ${JSON.stringify(snapshot).length} bytes`);
  });
});
