/**
 * The one way nodes read a field that the user set as a Node-RED typed input (str, num, bool, json,
 * msg, flow, global, env, jsonata). Flow and global context may be asynchronous stores and JSONata
 * may be asynchronous, so the callback form is used.
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';

interface TypedValue {
  value: string;
  type: string;
}

/** Types whose empty value means "not set": it must not become "" or 0 in a request. */
const EMPTY_MEANS_UNSET = new Set(['str', 'num', 'json', 'msg', 'flow', 'global', 'env', 'jsonata']);

/** The editor's explicit "not set", or an empty value of a type where empty means not set. */
function isUnset(typed: TypedValue): boolean {
  return typed.type === 'none' || (typed.value === '' && EMPTY_MEANS_UNSET.has(typed.type));
}

type Evaluated = (err: TwilioNodeError | null, value?: unknown) => void;

/** Evaluates one typed value; the callback comes at once for every type but async context stores and JSONata. */
function evaluateTyped(RED: NodeAPI, node: Node, msg: NodeMessage, field: string, typed: TypedValue, callback: Evaluated): void {
  try {
    RED.util.evaluateNodeProperty(typed.value, typed.type, node, msg, (err: Error | null, result: unknown) => {
      if (err) callback(new TwilioNodeError('INVALID_INPUT', text('fieldDetail', { field, detail: err.message })));
      else callback(null, result);
    });
  } catch (err) {
    // JSON parse errors and bad JSONata expressions throw synchronously in some versions.
    callback(new TwilioNodeError('INVALID_INPUT', text('fieldDetail', { field, detail: (err as Error).message })));
  }
}

export function readTypedProperty(
  RED: NodeAPI,
  node: Node,
  msg: NodeMessage,
  field: string,
  typed: TypedValue,
  keepEmptyText = false,
): Promise<unknown> {
  // Where the user added the field on purpose (a row), empty text is a value (a redacted message body is "").
  if (keepEmptyText && typed.type === 'str' && typed.value === '') return Promise.resolve('');
  if (isUnset(typed)) return Promise.resolve(undefined);
  return new Promise((resolve, reject) =>
    evaluateTyped(RED, node, msg, field, typed, (err, value) => (err ? reject(err) : resolve(value))),
  );
}

/**
 * Reads a node's typed fields, stored on its config as `<name>` and `<name>Type`, from each message.
 * Compiled once per node: fields left empty and fixed text cost nothing per message, the others are
 * evaluated together under one promise (a send node has a dozen fields; a burst is thousands of messages).
 * A field that reads as nothing (undefined, null, "") is left out.
 */
export function typedFieldsReader<K extends string>(
  RED: NodeAPI,
  node: Node,
  config: Record<string, unknown>,
  names: readonly K[],
): (msg: NodeMessage) => Promise<Partial<Record<K, unknown>>> {
  const fixed: Partial<Record<K, unknown>> = {};
  const evaluated: Array<{ name: K; typed: TypedValue }> = [];
  for (const name of names) {
    const typed = {
      value: config[name] === undefined || config[name] === null ? '' : String(config[name]),
      type: typeof config[`${name}Type`] === 'string' ? (config[`${name}Type`] as string) : 'str',
    };
    if (isUnset(typed)) continue;
    if (typed.type === 'str') fixed[name] = typed.value;
    else evaluated.push({ name, typed });
  }
  return (msg) => {
    const out = { ...fixed };
    if (evaluated.length === 0) return Promise.resolve(out);
    return new Promise((resolve, reject) => {
      let pending = evaluated.length;
      let failed = false;
      for (const { name, typed } of evaluated) {
        evaluateTyped(RED, node, msg, name, typed, (err, value) => {
          if (failed) return;
          if (err) {
            failed = true;
            return reject(err);
          }
          if (value !== undefined && value !== null && value !== '') out[name] = value;
          if (--pending === 0) resolve(out);
        });
      }
    });
  };
}

/** Whether a typed field holds the node's own text (type str): only such a text may be a template. */
export function isOwnText(config: Record<string, unknown>, name: string): boolean {
  const type = config[`${name}Type`];
  return type === undefined || type === 'str';
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${NAME}` references in a setting: from Node-RED's env as the node sees it (flow, group
 * and process variables), or from the process's environment where there is no node (editor endpoints).
 */
export function resolveEnvReferences(RED: NodeAPI, node: Node | null | undefined, value: string | undefined): string {
  return (value ?? '').trim().replace(ENV_REFERENCE, (_, name: string) => {
    const found: unknown = node ? RED.util.evaluateNodeProperty(name, 'env', node, {}) : process.env[name];
    return typeof found === 'string' ? found : '';
  });
}
