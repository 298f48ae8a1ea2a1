/**
 * The body shared by twilio-get, twilio-query, twilio-update and twilio-delete: each is one catalogue
 * action over the object chosen in the node. Reads the Sid, filters and fields from the node's typed
 * inputs (and, for writes, msg.payload), runs the action, and passes the msg on with the result.
 */
import { upgradeConfig } from '../node-red/config-version';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { getAccount } from '../account/account';
import { asWholeNumber, wholeNumber } from '../twilio/values';
import { Action, ObjectSpec, findObject, notSupportedText } from '../catalogue/catalogue';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { readTypedProperty } from '../node-red/typed-fields';
import { FilterRow, Target, buildFields, buildFilters, parseCompoundSid, runAction, runQuery } from '../catalogue/actions';
import { nodeStatus } from '../node-red/status';
import { onInput } from '../node-red/input';

export interface TypedRow {
  name: string;
  value: string;
  valueType: string;
  op?: FilterRow['op'];
}

export interface ResourceNodeDef extends NodeDef {
  account: string;
  object: string;
  sid?: string;
  sidType?: string;
  filters?: TypedRow[];
  fields?: TypedRow[];
  limit?: string | number;
  pageSize?: string | number;
  output?: 'array' | 'each';
  /** Whether msg.payload's keys are fields to write (default true); off when payload is a record. */
  payloadFields?: boolean;
}

/** Deprecation warnings are said once per node, not once per message. */
const warned = new WeakSet<Node>();

export function getObject(name: string, action: Action): ObjectSpec {
  const object = findObject(name);
  if (!object || !object.actions[action]) throw new TwilioNodeError('INVALID_INPUT', text('notAnObjectFor', { name, action }));
  return object;
}

export function warnIfDeprecated(RED: NodeAPI, node: Node, object: ObjectSpec): void {
  if (!object.deprecatedFor || warned.has(node)) return;
  warned.add(node);
  node.warn(RED._('twilio.warnings.deprecated', { object: object.name, replacement: object.deprecatedFor }));
}

export async function readTarget(RED: NodeAPI, node: Node, msg: NodeMessageInFlow, def: ResourceNodeDef, object: ObjectSpec, action: Action): Promise<{ raw: unknown; target: Target }> {
  const raw = await readTypedProperty(RED, node, msg, 'Sid', { value: def.sid ?? '', type: def.sidType ?? 'str' });
  return { raw, target: parseCompoundSid(raw, object, action) };
}

/** A row's value; a row whose value reads as nothing (an absent msg property) is left out. */
async function readRows(RED: NodeAPI, node: Node, msg: NodeMessageInFlow, rows: readonly TypedRow[] = [], keepEmptyText = false): Promise<Array<{ row: TypedRow; value: unknown }>> {
  const values = await Promise.all(rows.map((row) => readTypedProperty(RED, node, msg, row.name, { value: row.value ?? '', type: row.valueType ?? 'str' }, keepEmptyText)));
  return rows.map((row, i) => ({ row, value: values[i] })).filter(({ value }) => value !== undefined && (keepEmptyText || value !== ''));
}

/** Values to write: msg.payload's keys (when it is an object), then the node's rows, which win. */
export async function readFieldValues(RED: NodeAPI, node: Node, msg: NodeMessageInFlow, def: ResourceNodeDef, object: ObjectSpec, action: Action): Promise<Record<string, unknown>> {
  const usePayload = def.payloadFields !== false && typeof msg.payload === 'object' && msg.payload !== null && !Array.isArray(msg.payload);
  const fromPayload = usePayload ? (msg.payload as Record<string, unknown>) : {};
  if (typeof fromPayload.sid === 'string' && 'accountSid' in fromPayload) {
    // A record from an earlier Twilio node is not a list of changes.
    throw new TwilioNodeError('INVALID_INPUT', text('payloadIsRecord', { action }));
  }
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(fromPayload)) values[key] = fromPayload[key]; // own keys only: no __proto__ games
  for (const { row, value } of await readRows(RED, node, msg, def.fields, true)) values[row.name] = value;
  return buildFields(object, action, values);
}

/** A query's limit (0: every record) or page size (from 1), empty for the default. */
function positiveInteger(name: string, value: unknown, fallback: number, allowZero: boolean): number {
  if (value === undefined || value === '') return fallback;
  if (allowZero) {
    const n = asWholeNumber(value, { min: 0 });
    if (n === undefined) throw new TwilioNodeError('INVALID_INPUT', text('wholeNumberOrZero', { field: name }));
    return n;
  }
  return wholeNumber(name, value, { min: 1 });
}

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
