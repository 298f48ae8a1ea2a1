/**
 * twilio-request: any Twilio REST call with the account's auth (a "raw request"), for the
 * APIs the catalogue does not describe: Verify, Conversations, Studio, …
 */
import { upgradeConfig } from '../../lib/node-red/config-version';
import { numberInRange } from '../../lib/twilio/values';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { TwilioNodeError, toTwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { typedFieldsReader } from '../../lib/node-red/typed-fields';
import { FilePart, RawRequest, ResponseType } from '../../lib/transport/raw-request';
import { getAccount } from '../../lib/account/account';
import { nodeStatus } from '../../lib/node-red/status';
import { onInput } from '../../lib/node-red/input';

export interface TwilioRequestDef extends NodeDef {
  account: string;
  domain: string;
  method: string;
  responseType: ResponseType;
  timeout: number | string;
  retries: number | string;
  retryDelay: number | string;
  backoff: number | string;
  retryOn: 'server' | 'all';
  [field: string]: unknown;
}

const TYPED_FIELDS = ['path', 'query', 'form', 'json', 'files', 'headers'] as const;

function object(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TwilioNodeError('INVALID_INPUT', text('objectOfNames', { field: name }));
  return value as Record<string, unknown>;
}

/** Files as [{ field, filename, contentType, data }]; data a Buffer or text. */
function files(value: unknown): FilePart[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, i) => {
    const f = item as Partial<FilePart>;
    if (typeof f !== 'object' || f === null || (!Buffer.isBuffer(f.data) && typeof f.data !== 'string') || typeof f.filename !== 'string') {
      throw new TwilioNodeError('INVALID_INPUT', text('fileShape', { index: i + 1 }));
    }
    return { field: f.field || 'file', filename: f.filename, contentType: f.contentType, data: f.data };
  });
}

module.exports = function registerTwilioRequest(RED: NodeAPI): void {
  function TwilioRequest(this: Node, def: TwilioRequestDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-request', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const readFields = typedFieldsReader(RED, node, def, TYPED_FIELDS);

    onInput(node, status, async (msg, send) => {
      const account = getAccount(RED, def.account);
      const fields = await readFields(msg);
      if (typeof fields.path !== 'string') throw new TwilioNodeError('MISSING_INPUT', text('notSet', { field: 'Path' }));
      const request: RawRequest = {
        domain: def.domain || 'api',
        method: def.method || 'GET',
        path: fields.path,
        query: object('Query', fields.query),
        form: object('Form data', fields.form),
        json: fields.json,
        files: files(fields.files),
        headers: object('Headers', fields.headers),
        responseType: def.responseType ?? 'json',
        timeoutMs: numberInRange('Timeout', def.timeout, { min: 0.1, max: 600 }, 30) * 1000,
        retry: {
          count: numberInRange('Retries', def.retries, { min: 0, max: 10 }, 0),
          delayMs: numberInRange('Retry delay', def.retryDelay, { min: 0, max: 60_000 }, 1000),
          backoff: numberInRange('Backoff', def.backoff, { min: 1, max: 10 }, 2),
          on: def.retryOn === 'all' ? 'all' : 'server',
        },
      };
      status.working('twilio.status.requesting');
      try {
        const response = await account.rawRequest(request);
        msg.payload = response.body;
        Object.assign(msg, {
          statusCode: response.statusCode,
          headers: response.headers,
          twilio: { url: response.url, attempts: response.attempts },
        });
        if (response.attempts === 1) status.success('twilio-request.status.doneFirstTry', { status: response.statusCode });
        else status.success('twilio-request.status.done', { status: response.statusCode, attempts: response.attempts });
      } catch (err) {
        const error = toTwilioNodeError(err, account.redact);
        Object.assign(msg, { statusCode: error.status, twilio: { attempts: (err as { attempts?: number }).attempts } });
        throw error;
      }
      send(msg);
    });
    node.on('close', () => status.clear());
  }

  RED.nodes.registerType('twilio-request', TwilioRequest);
};
