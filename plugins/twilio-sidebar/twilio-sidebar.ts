/**
 * The Twilio sidebar's runtime side (its editor side is twilio-sidebar.html): what each account did
 * (lib/account/activity.ts) as a first snapshot from an admin endpoint that needs `twilio.read`, then
 * its changes pushed over Node-RED's comms, at most twice a second per account. Nothing is pushed,
 * and no timer runs, while no editor is connected; nothing is ever sent that is a secret or a text's body.
 */
import type { NodeAPI } from 'node-red';
import { AccountActivity, AccountSnapshot, OpenWait, onActivity, openWaits, runningActivities } from '../../lib/account/activity';
import { adminEndpoint } from '../../lib/node-red/admin-endpoints';
import { Timer, systemClock } from '../../lib/core/clock';

/** The comms topics the editor subscribes to: `twilio/activity/<account id>` and `twilio/activity-waits`. */
const ACCOUNT_TOPIC = 'twilio/activity/';
const WAITS_TOPIC = 'twilio/activity-waits';
/** The least time between two pushes of one account (and of the waits): at most two a second. */
const PUSH_INTERVAL_MS = 500;

export interface SidebarSnapshot {
  accounts: AccountSnapshot[];
  waits: OpenWait[];
  now: number;
}

function snapshot(): SidebarSnapshot {
  return { accounts: runningActivities().map((activity) => activity.snapshot()), waits: openWaits(), now: systemClock.now() };
}

/** Calls `push` after a change, at once when the last push is older than PUSH_INTERVAL_MS, else when it is. */
function throttle(push: () => void): { changed: () => void; stop: () => void } {
  let last = -Infinity;
  let timer: Timer | undefined;
  const run = () => {
    timer = undefined;
    last = systemClock.now();
    push();
  };
  return {
    changed: () => {
      if (timer) return;
      const wait = last + PUSH_INTERVAL_MS - systemClock.now();
      if (wait <= 0) run();
      else timer = systemClock.setTimeout(run, wait);
    },
    stop: () => {
      systemClock.clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Pushes changes while editors are connected (Node-RED says when one connects and goes:
 * comms:connection-added / -removed); `watching()` counts one more that asked for the snapshot
 * (an editor connected before this plugin loaded).
 */
function startPublisher(RED: NodeAPI): { watching: () => void; stop: () => void } {
  let editors = 0;
  /**
   * Counted by `watching()` before any connection was heard: most often an editor whose first look
   * came before its websocket did, so the next connection is that one, not one more (counted twice,
   * the count never came back to 0 when the tab closed, and pushes and timers ran on for no one).
   */
  let assumed = false;
  let stopListening: (() => void) | undefined;
  const accounts = new Map<AccountActivity, ReturnType<typeof throttle>>();
  const waits = throttle(() => RED.comms.publish(WAITS_TOPIC, { waits: openWaits(), now: systemClock.now() }, false));
  const listen = () => {
    if (stopListening) return;
    stopListening = onActivity((activity) => {
      let pusher = accounts.get(activity);
      if (!pusher) {
        const publish = () =>
          RED.comms.publish(ACCOUNT_TOPIC + activity.id, { account: activity.snapshot(), now: systemClock.now() }, false);
        accounts.set(activity, (pusher = throttle(publish)));
      }
      pusher.changed();
    }, waits.changed);
  };
  const quiet = () => {
    stopListening?.();
    stopListening = undefined;
    for (const pusher of accounts.values()) pusher.stop();
    accounts.clear();
    waits.stop();
  };
  const events = RED.events as unknown as { on(name: string, f: () => void): void; removeListener(name: string, f: () => void): void };
  const added = () => {
    if (assumed) assumed = false;
    else editors++;
    listen();
  };
  const removed = () => {
    editors = Math.max(0, editors - 1);
    assumed = false;
    if (editors === 0) quiet();
  };
  events.on('comms:connection-added', added);
  events.on('comms:connection-removed', removed);
  return {
    watching: () => {
      if (editors === 0) {
        editors = 1;
        assumed = true;
      }
      listen();
    },
    stop: () => {
      events.removeListener('comms:connection-added', added);
      events.removeListener('comms:connection-removed', removed);
      quiet();
    },
  };
}

/** The process's one publisher (a runtime loaded again, as in tests, replaces it). */
let current: ReturnType<typeof startPublisher> | undefined;

function registerTwilioSidebar(RED: NodeAPI): void {
  current?.stop();
  const publisher = (current = startPublisher(RED));
  // The first look: every running account and every open wait; the changes follow over comms.
  adminEndpoint(RED, 'get', '/twilio-activity', 'twilio.read', async () => {
    publisher.watching();
    return snapshot();
  });
  const plugins = (RED as unknown as { plugins?: { registerPlugin?(id: string, def: object): void } }).plugins;
  plugins?.registerPlugin?.('twilio-sidebar', { type: 'twilio-sidebar' });
}

module.exports = Object.assign(registerTwilioSidebar, { snapshot, startPublisher, ACCOUNT_TOPIC, WAITS_TOPIC, PUSH_INTERVAL_MS });
