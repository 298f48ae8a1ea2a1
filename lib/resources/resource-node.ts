/**
 * The body shared by twilio-get, twilio-query, twilio-update and twilio-delete: each is one catalogue
 * action over the object chosen in the node. Reads the Sid, filters and fields from the node's typed
 * inputs (and, for writes, msg.payload), runs the action, and passes the msg on with the result.
 */
import { upgradeConfig } from '../node-red/config-version';
import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import { getAccount } from '../account/account';
import { findObject, notSupportedText } from '../catalogue/catalogue';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { buildFields, buildFilters, runAction, runQuery } from '../catalogue/actions';
import {
  ResourceNodeDef,
  getObject,
  positiveInteger,
  readFieldValues,
  readRows,
  readTarget,
  warnIfDeprecated,
} from '../catalogue/resource-inputs';
import { nodeStatus } from '../node-red/status';
import { onInput } from '../node-red/input';

/** Registers one of the four resource nodes. */
export function registerResourceNode(RED: NodeAPI, type: string, action: 'get' | 'query' | 'update' | 'delete'): void {
  function ResourceNode(this: Node, def: ResourceNodeDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig(type, def);
    const node = this;
    const status = nodeStatus(RED, node);
    const object = findObject(def.object);
    const spec = object?.actions[action];
    // Say it at deploy too: a node that can never work should not look ready.
    if (!object || !spec) status.failed('twilio.status.unknownObject', { object: def.object });
    else if (spec.notSupported) status.warning('twilio.status.notSupported');

    async function handle(msg: NodeMessageInFlow, send: (msg: NodeMessageInFlow | NodeMessageInFlow[]) => void): Promise<void> {
      const account = getAccount(RED, def.account);
      const chosen = getObject(def.object, action);
      if (chosen.actions[action]!.notSupported) throw new TwilioNodeError('NOT_SUPPORTED', notSupportedText(chosen, action));
      warnIfDeprecated(RED, node, chosen);
      const { raw, target } = await readTarget(RED, node, msg, def, chosen, action);
      const client = account.getClient();
      const twilioInfo = { object: chosen.name, action, sid: typeof raw === 'string' ? raw : target.parts.sid, accountSid: target.accountSid ?? account.accountSid };
      status.working('twilio.status.requesting');
      try {
        if (action === 'query') {
          const rows = await readRows(RED, node, msg, def.filters);
          const filters = buildFilters(chosen, rows.map(({ row, value }) => ({ name: row.name, op: row.op, value })));
          const records = await runQuery(client, chosen, target, {
            filters,
            limit: positiveInteger('Limit', def.limit, 50, true),
            pageSize: Math.min(positiveInteger('Page size', def.pageSize, 50, false), 1000),
            onPage: (count) => status.working(count === 1 ? 'twilio.status.record' : 'twilio.status.records', { count }),
          });
          status.success(records.length === 1 ? 'twilio.status.record' : 'twilio.status.records', { count: records.length });
          if (def.output === 'each') {
            const id = RED.util.generateId();
            records.forEach((record, index) => {
              const part = RED.util.cloneMessage(msg);
              part.payload = record;
              (part as Record<string, unknown>).twilio = twilioInfo;
              // What a split node writes, so a join node in automatic mode rebuilds the array.
              (part as Record<string, unknown>).parts = { id, index, count: records.length, type: 'array', len: 1 };
              send(part);
            });
            return;
          }
          msg.payload = records;
        } else {
          const params = action === 'update' ? await readFieldValues(RED, node, msg, def, chosen, action) : buildFields(chosen, action, {});
          msg.payload = await runAction(client, chosen, action, target, params);
          status.success(`twilio.status.${action}`);
        }
      } catch (err) {
        throw toTwilioNodeError(err, account.redact);
      }
      (msg as Record<string, unknown>).twilio = twilioInfo;
      send(msg);
    }

    onInput(node, status, handle);
    node.on('close', () => status.clear());
  }

  RED.nodes.registerType(type, ResourceNode);
}
