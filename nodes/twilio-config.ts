/**
 * twilio-config: one Twilio account. Credentials live in Node-RED's credential store (never in the
 * flow JSON); the SDK client is built once here and shared by every node that uses this account.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type twilio from 'twilio';
import { CATALOGUE } from '../lib/catalogue/catalogue';
import { AuthMode, BaseUrlRequestClient, ClientSettings, TwilioCredentials, createTwilioClient } from '../lib/transport/sdk-client';
import { adminEndpoint, editorValue, findDeployed } from '../lib/node-red/admin-endpoints';
import { TwilioNodeError, secretRedactor, toTwilioNodeError } from '../lib/core/errors';
import { text } from '../lib/core/texts';
import { resolveEnvReferences } from '../lib/node-red/typed-fields';
import { RawRequest, RawResponse, performRawRequest } from '../lib/transport/raw-request';
import { RequestQueue } from '../lib/transport/request-queue';
import { Body, isValidSignature } from '../lib/inbound/webhook';

export interface TwilioConfigDef extends NodeDef {
  authMode: AuthMode;
  /** Requests in flight at most (the queue finds the account's limit below it). */
  maxConcurrency?: number | string;
  /** Requests started per second at most; empty or 0 for none. */
  ratePerSecond?: number | string;
  /** Retries of a request after 429, 503 or a refused connection (default 6). */
  maxRetries?: number | string;
  region: string;
  edge: string;
  defaultFrom: string;
  baseUrl: string;
}

export interface TwilioConfigCredentials {
  accountSid?: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  authToken?: string;
}

/** What other nodes may use of a config node. */
export interface TwilioAccount {
  readonly accountSid: string;
  readonly defaultFrom: string;
  /** The SDK client, or a coded error saying why the account cannot be used. */
  getClient(): twilio.Twilio;
  /** Masks this account's secrets in a text (for errors and logs). */
  redact(text: string): string;
  /** Whether an Auth Token is set: only it can check webhook signatures (an API Key cannot). */
  canValidateWebhooks(): boolean;
  /** Checks a webhook's X-Twilio-Signature; undefined when there is no Auth Token to check it with. */
  validateWebhook(signature: string | undefined, url: string, body: Body): boolean | undefined;
  /** Any REST call with this account's auth (twilio-request). */
  rawRequest(request: RawRequest): Promise<RawResponse>;
  /** The account's request queue: its depth and retries, for the nodes' status lines. */
  readonly queue: RequestQueue;
}

/** The settings that decide which host receives the account's credentials. */
const CONNECTION_SETTINGS = ['region', 'edge', 'baseUrl'] as const;
type ConnectionSetting = (typeof CONNECTION_SETTINGS)[number];

export type TwilioConfigNode = Node<TwilioConfigCredentials> & TwilioAccount;


module.exports = function registerTwilioConfig(RED: NodeAPI): void {
  function TwilioConfig(this: TwilioConfigNode, def: TwilioConfigDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    const resolve = (value: string | undefined): string => resolveEnvReferences(RED, node, value);

    const creds = node.credentials ?? {};
    const credentials: TwilioCredentials = {
      accountSid: resolve(creds.accountSid),
      authMode: def.authMode === 'authToken' ? 'authToken' : 'apiKey',
      apiKeySid: resolve(creds.apiKeySid),
      apiKeySecret: resolve(creds.apiKeySecret),
      authToken: resolve(creds.authToken),
    };
    const redact = secretRedactor([credentials.apiKeySecret, credentials.authToken]);

    const positive = (value: unknown, fallback: number) => (Number(value) > 0 ? Number(value) : fallback);
    const retries = def.maxRetries === undefined || def.maxRetries === '' ? 6 : Math.max(0, Math.floor(Number(def.maxRetries) || 0));
    const queue = new RequestQueue({ maxConcurrency: positive(def.maxConcurrency, 100), ratePerSecond: positive(def.ratePerSecond, 0), maxRetries: retries });
    Object.defineProperty(node, 'queue', { value: queue, enumerable: false });
    const settings = { region: resolve(def.region), edge: resolve(def.edge), baseUrl: resolve(def.baseUrl) };
    let handle: { client: twilio.Twilio; requestClient: BaseUrlRequestClient } | undefined;
    let configError: TwilioNodeError | undefined;
    try {
      handle = createTwilioClient(credentials, { ...settings, queue });
    } catch (err) {
      configError = err as TwilioNodeError;
    }

    Object.defineProperty(node, 'accountSid', { value: credentials.accountSid, enumerable: false });
    Object.defineProperty(node, 'defaultFrom', { value: resolve(def.defaultFrom), enumerable: false });
    node.redact = redact;
    // The token stays in here: nodes ask for a verdict, never for the secret.
    node.canValidateWebhooks = () => Boolean(credentials.authToken);
    node.validateWebhook = (signature, url, body) => (credentials.authToken ? isValidSignature(credentials.authToken, signature, url, body) : undefined);
    node.rawRequest = (request) => {
      if (!handle) return Promise.reject(clientError());
      const [username, password] = credentials.authMode === 'apiKey' ? [credentials.apiKeySid, credentials.apiKeySecret] : [credentials.accountSid, credentials.authToken];
      const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      // In the account's queue like every other request; twilio-request retries by its own settings.
      return queue.schedule(() => performRawRequest(request, { accountSid: credentials.accountSid, authorization, ...settings }, redact), () => ({ kind: 'done' }));
    };
    const clientError = () =>
      new TwilioNodeError(configError?.code ?? 'AUTHENTICATION_CONNECTION_ERROR', text('accountUnusable', { name: def.name || node.id, detail: configError?.text ?? configError?.message ?? text('accountClosed') }));
    node.getClient = () => {
      if (handle) return handle.client;
      throw clientError();
    };

    node.on('close', (done: () => void) => {
      // Queued requests fail now (each node reports its own); those in flight get 10 s to finish.
      const drained = Promise.race([queue.close(), new Promise((r) => setTimeout(r, 10_000).unref())]);
      void drained.then(() => {
        handle?.requestClient.destroy();
        handle = undefined;
        done();
      });
    });
  }

  // The editor builds its object, filter and field lists from the same catalogue the runtime runs.
  adminEndpoint(RED, 'get', '/twilio-catalogue', 'twilio-config.read', async () => CATALOGUE);

  // "Test connection" in the editor: fetches the account with the dialog's values, so unsaved edits
  // can be checked before deploy. A saved secret (the dialog shows it as unchanged) is used only with
  // the deployed API base URL, region and edge: the editor never learns it, and cannot send it elsewhere.
  adminEndpoint(RED, 'post', '/twilio-config/test', 'twilio-config.write', async (req) => {
    const body = (req.body ?? {}) as { id?: unknown; authMode?: unknown; region?: unknown; edge?: unknown; baseUrl?: unknown; credentials?: Record<string, unknown> };
    const deployed = findDeployed(RED, body.id, 'twilio-config');
    const saved = (deployed ? RED.nodes.getCredentials(deployed.node.id) : undefined) as TwilioConfigCredentials | undefined;
    let redact = (t: string) => t;
    try {
      const authMode: AuthMode = body.authMode === 'authToken' ? 'authToken' : 'apiKey';
      const secretName = authMode === 'apiKey' ? 'apiKeySecret' : 'authToken';
      const given = (name: keyof TwilioConfigCredentials) => body.credentials?.[name];
      // The dialog shows a saved secret as __PWRD__; the saved text itself (a `${NAME}` someone knows) is the saved secret too.
      const keepsSavedSecret = given(secretName) === undefined || given(secretName) === '__PWRD__' || (saved?.[secretName] !== undefined && String(given(secretName)).trim() === saved[secretName]!.trim());
      const usesSavedSecret = keepsSavedSecret && Boolean(saved?.[secretName]);
      const credential = (name: keyof TwilioConfigCredentials, label: string) => {
        const value = name === secretName && keepsSavedSecret ? saved?.[name] : given(name);
        return editorValue(RED, label, value, deployed, saved?.[name]);
      };
      const credentials: TwilioCredentials = {
        accountSid: credential('accountSid', 'Account SID'),
        authMode,
        apiKeySid: authMode === 'apiKey' ? credential('apiKeySid', 'API Key SID') : '',
        apiKeySecret: authMode === 'apiKey' ? credential('apiKeySecret', 'API Key secret') : '',
        authToken: authMode === 'authToken' ? credential('authToken', 'Auth Token') : '',
      };
      redact = secretRedactor([credentials.apiKeySecret, credentials.authToken]);
      const settings = Object.fromEntries(CONNECTION_SETTINGS.map((name) => {
        if (usesSavedSecret && String(body[name] ?? '').trim() !== String(deployed?.config[name] ?? '').trim()) {
          throw new TwilioNodeError('INVALID_INPUT', text('savedSecretElsewhere'));
        }
        return [name, editorValue(RED, name, body[name], deployed, deployed?.config[name])];
      })) as Pick<ClientSettings, ConnectionSetting>;
      const handle = createTwilioClient(credentials, settings);
      try {
        const account = await handle.client.api.v2010.accounts(credentials.accountSid).fetch();
        return { ok: true, friendlyName: account.friendlyName, status: account.status, type: account.type };
      } finally {
        handle.requestClient.destroy();
      }
    } catch (err) {
      const error = toTwilioNodeError(err, redact).localise(RED._);
      return { ok: false, code: error.code, message: error.message };
    }
  });

  RED.nodes.registerType<TwilioConfigNode, TwilioConfigDef, object, TwilioConfigCredentials>('twilio-config', TwilioConfig, {
    credentials: {
      accountSid: { type: 'text' },
      apiKeySid: { type: 'text' },
      apiKeySecret: { type: 'password' },
      authToken: { type: 'password' },
    },
  });
};
