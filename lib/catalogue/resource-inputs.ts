/**
 * What a node reads of a msg for a catalogue action: the object it names, the Sid (and parent Sids)
 * from its typed input, and the fields to write from msg.payload and its rows. twilio-send (create)
 * and the four resource nodes (get, query, update, delete) read them alike.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { asWholeNumber, wholeNumber } from '../twilio/values';
import { Action, ObjectSpec, findObject } from './catalogue';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { readTypedProperty } from '../node-red/typed-fields';
import { FilterRow, Target, buildFields, parseCompoundSid } from './actions';

interface TypedRow {
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

export async function readTarget(
  RED: NodeAPI,
  node: Node,
  msg: NodeMessageInFlow,
  def: ResourceNodeDef,
  object: ObjectSpec,
  action: Action,
): Promise<{ raw: unknown; target: Target }> {
  const raw = await readTypedProperty(RED, node, msg, 'Sid', { value: def.sid ?? '', type: def.sidType ?? 'str' });
  return { raw, target: parseCompoundSid(raw, object, action) };
}

/** A row's value; a row whose value reads as nothing (an absent msg property) is left out. */
export async function readRows(
  RED: NodeAPI,
  node: Node,
  msg: NodeMessageInFlow,
  rows: readonly TypedRow[] = [],
  keepEmptyText = false,
): Promise<Array<{ row: TypedRow; value: unknown }>> {
  const values = await Promise.all(
    rows.map((row) => readTypedProperty(RED, node, msg, row.name, { value: row.value ?? '', type: row.valueType ?? 'str' }, keepEmptyText)),
  );
  return rows.map((row, i) => ({ row, value: values[i] })).filter(({ value }) => value !== undefined && (keepEmptyText || value !== ''));
}

/** Values to write: msg.payload's keys (when it is an object), then the node's rows, which win. */
export async function readFieldValues(
  RED: NodeAPI,
  node: Node,
  msg: NodeMessageInFlow,
  def: ResourceNodeDef,
  object: ObjectSpec,
  action: Action,
): Promise<Record<string, unknown>> {
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
export function positiveInteger(name: string, value: unknown, fallback: number, allowZero: boolean): number {
  if (value === undefined || value === '') return fallback;
  if (allowZero) {
    const n = asWholeNumber(value, { min: 0 });
    if (n === undefined) throw new TwilioNodeError('INVALID_INPUT', text('wholeNumberOrZero', { field: name }));
    return n;
  }
  return wholeNumber(name, value, { min: 1 });
}
