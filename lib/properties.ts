/**
 * The one way nodes read a field that the user set as a Node-RED typed input (str, num, bool, json,
 * msg, flow, global, env, jsonata). Flow and global context may be asynchronous stores and JSONata
 * may be asynchronous, so the callback form is used.
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { TwilioNodeError } from './errors';
import { text } from './messages';

export interface TypedValue {
  value: string;
  type: string;
}

export function readTypedProperty(RED: NodeAPI, node: Node, msg: NodeMessage, field: string, typed: TypedValue, keepEmptyText = false): Promise<unknown> {
  // An empty literal means "not set": it must not become "" or 0 in a request. Where the user added
  // the field on purpose (a row), empty text is a value (a redacted message body is "").
  if (typed.type === 'none') return Promise.resolve(undefined); // the editor's explicit "not set"
  if (keepEmptyText && typed.type === 'str' && typed.value === '') return Promise.resolve('');
  if (typed.value === '' && ['str', 'num', 'json', 'msg', 'flow', 'global', 'env', 'jsonata'].includes(typed.type)) {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    try {
      RED.util.evaluateNodeProperty(typed.value, typed.type, node, msg, (err: Error | null, result: unknown) => {
        if (err) reject(new TwilioNodeError('INVALID_INPUT', text('fieldDetail', { field, detail: err.message })));
        else resolve(result);
      });
    } catch (err) {
      // JSON parse errors and bad JSONata expressions throw synchronously in some versions.
      reject(new TwilioNodeError('INVALID_INPUT', text('fieldDetail', { field, detail: (err as Error).message })));
    }
  });
}

/** Reads several typed fields stored on a node's config as `<name>` and `<name>Type`. */
export async function readTypedFields<K extends string>(
  RED: NodeAPI,
  node: Node,
  msg: NodeMessage,
  config: Record<string, unknown>,
  names: readonly K[],
): Promise<Partial<Record<K, unknown>>> {
  const values = await Promise.all(
    names.map((name) =>
      readTypedProperty(RED, node, msg, name, {
        value: config[name] === undefined || config[name] === null ? '' : String(config[name]),
        type: typeof config[`${name}Type`] === 'string' ? (config[`${name}Type`] as string) : 'str',
      }),
    ),
  );
  const out: Partial<Record<K, unknown>> = {};
  names.forEach((name, i) => {
    if (values[i] !== undefined && values[i] !== null && values[i] !== '') out[name] = values[i];
  });
  return out;
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
