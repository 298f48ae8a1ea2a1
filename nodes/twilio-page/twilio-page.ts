/**
 * twilio-page: alerts people in turn until someone acknowledges ("Smoke detected. Press 1 to
 * acknowledge."). Contacts in order, for a number of rounds, each through a ladder of steps (text,
 * then call, with a wait after each); a key pressed in the call or a reply to the text acknowledges.
 * Outputs: acknowledged, exhausted (every step's outcome), cancelled. A running page lives in the
 * node's state store, each step stored as an intent before its request goes (its Sid after), so a
 * redeploy, a restart or a crash keeps it: an intent left without a Sid is reconciled with Twilio
 * before the page goes on (lib/conversation/pager). This file wires: the ladder is
 * lib/conversation/escalation, run by lib/conversation/pager; pages wait in lib/waits/waiting-room.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { TwilioAccount, findAccount } from '../../lib/account/account';
import { PageRecord, isPageRecord } from '../../lib/conversation/escalation';
import { KeysReceiver, PageDefinition, pageSettings } from '../../lib/conversation/page-settings';
import { Pager } from '../../lib/conversation/pager';
import { TwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { inboundHubFor } from '../../lib/inbound/hub';
import { upgradeConfig } from '../../lib/node-red/config-version';
import { nodeErrors } from '../../lib/account/node-errors';
import { NodeStateSettings, nodeState } from '../../lib/account/node-state';
import { watchStateHealth } from '../../lib/account/state-health';
import type { KeyValueStore } from '../../lib/node-red/context';
import { NodeStatus, nodeStatus } from '../../lib/node-red/status';
import { typedFieldsReader } from '../../lib/node-red/typed-fields';
import { WaitingRoom, isCancel } from '../../lib/waits/waiting-room';

/** The node's settings: its account, its ladder and alert (PageDefinition), where its state lives. */
export interface TwilioPageDef extends NodeDef, NodeStateSettings, PageDefinition {
  account: string;
  cancelTopic?: string;
  [field: string]: unknown;
}

const MAX_PAGES = 1_000;

/** The node's pages wait here: stored in its state store, their msgs held until they end. */
function pageRoom(node: Node, store: KeyValueStore, status: NodeStatus): WaitingRoom<PageRecord> {
  return new WaitingRoom<PageRecord>({
    node,
    store,
    prefix: 'twilio-page-',
    capacity: MAX_PAGES,
    outputs: 3,
    isRecord: isPageRecord,
    notSent: () => new TwilioNodeError('NOT_SENT', text('nodeStopped')),
    abandoned: () => new TwilioNodeError('REQUEST_TIMEOUT', text('stoppedWaiting')),
    translate: status.translate,
  });
}

/** The pager of the node's settings. */
function pagerFor(RED: NodeAPI, node: Node, def: TwilioPageDef, account: TwilioAccount, room: WaitingRoom<PageRecord>, status: NodeStatus) {
  const receiver = (id: string) => RED.nodes.getNode(id) as (Node & KeysReceiver) | null;
  return new Pager({ node, account, hub: inboundHubFor(account), waits: room, ...pageSettings(def, receiver), status });
}

module.exports = function registerTwilioPage(RED: NodeAPI): void {
  function TwilioPage(this: Node, def: TwilioPageDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-page', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const account = findAccount(RED, def.account);
    if (!account) status.failed('twilio.status.failed', { code: 'MISSING_INPUT' });
    const readFields = typedFieldsReader(RED, node, def, ['contacts', 'from', 'alarmId']);
    const readAlarmId = typedFieldsReader(RED, node, def, ['alarmId']);
    const state = nodeState(RED, node, account, def);
    const room = pageRoom(node, state.store, status);
    const health = watchStateHealth(account, state, status);
    const pager = account && pagerFor(RED, node, def, account, room, status);

    node.on(
      'input',
      room.input(
        health.guard(async (msg, accepted) => {
          if (!pager) throw new TwilioNodeError('MISSING_INPUT', text('noAccount'));
          if (!isCancel(msg, def.cancelTopic)) return pager.start(msg, accepted, await readFields(msg));
          // A cancel reads only its alarm id: one that cannot be read cancels nothing (its msg ends with why).
          const { alarmId } = await readAlarmId(msg);
          await pager.cancel(alarmId ?? (msg as { topic?: unknown }).topic, def.cancelTopic);
          accepted.done();
        }),
        nodeErrors(account, status).failed,
      ),
    );

    // Pages a previous run left: each resumes its step with the time it had left (input that comes
    // meanwhile waits for them: the same alarm is merged, a cancel cancels).
    if (pager) health.retryWhenBack(() => room.restore((restored) => pager.resume(restored))).catch((err: Error) => node.warn(err.message));

    node.on('close', (removed: boolean, done: () => void) => {
      pager?.stop();
      health.stop();
      // Steps being sent get their answer first (the room's close budget): a call placed is then known,
      // to watch after a redeploy, or to hang up when the node is removed.
      const hangUps: Array<Promise<void>> = [];
      const closed = room
        .close(removed, (wait) => void (pager && hangUps.push(pager.hangUp(wait.record))))
        .then(() => Promise.all(hangUps));
      // A full deploy closes the account too, after this node: it takes these last requests first.
      account?.finalRequests?.(closed);
      void closed
        .then(() => (removed ? state.forget() : undefined))
        .catch((err: Error) => node.warn(err.message))
        .finally(() => {
          account?.queue.withdraw(node);
          status.clear();
          done();
        });
    });
  }

  RED.nodes.registerType('twilio-page', TwilioPage);
};
