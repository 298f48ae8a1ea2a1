/**
 * twilio-config: one Twilio account. Credentials live in Node-RED's credential store (never in the
 * flow JSON); the SDK client is built once here and shared by every node that uses this account.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type twilio from 'twilio';
import { CATALOGUE } from '../lib/catalogue';
import { AuthMode, BaseUrlRequestClient, TwilioCredentials, createTwilioClient } from '../lib/client';
import { TwilioNodeError, secretRedactor, toTwilioNodeError } from '../lib/errors';
import { text } from '../lib/messages';
import { resolveEnvReferences } from '../lib/properties';
import { RawRequest, RawResponse, performRawRequest } from '../lib/raw-request';
import { RequestQueue } from '../lib/request-queue';
import { Body, isValidSignature } from '../lib/webhook';

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
  RED.httpAdmin.get('/twilio-catalogue', RED.auth.needsPermission('twilio-config.read'), (_req, res) => {
    res.json(CATALOGUE);
  });

  // "Test connection" in the editor: fetches the account with the dialog's values (saved secrets are
  // used where the dialog shows a password unchanged), so unsaved edits can be checked before deploy.
  RED.httpAdmin.post('/twilio-config/test', RED.auth.needsPermission('twilio-config.write'), (req, res) => {
    const body = (req.body ?? {}) as { id?: string; authMode?: string; region?: string; edge?: string; baseUrl?: string; credentials?: Record<string, string> };
    const deployed = typeof body.id === 'string' ? (RED.nodes.getNode(body.id) as Node | null) : null;
    const saved = (typeof body.id === 'string' ? RED.nodes.getCredentials(body.id) : undefined) as TwilioConfigCredentials | undefined;
    const resolveEnv = (value: string | undefined) => resolveEnvReferences(RED, deployed, value);
    const pick = (name: keyof TwilioConfigCredentials) => {
      const given = body.credentials?.[name];
      return resolveEnv(given === undefined || given === '__PWRD__' ? saved?.[name] : given);
    };
    const credentials: TwilioCredentials = {
      accountSid: pick('accountSid'),
      authMode: body.authMode === 'authToken' ? 'authToken' : 'apiKey',
      apiKeySid: pick('apiKeySid'),
      apiKeySecret: pick('apiKeySecret'),
      authToken: pick('authToken'),
    };
    const redact = secretRedactor([credentials.apiKeySecret, credentials.authToken]);
    (async () => {
      const handle = createTwilioClient(credentials, { region: resolveEnv(body.region), edge: resolveEnv(body.edge), baseUrl: resolveEnv(body.baseUrl) });
      try {
        const account = await handle.client.api.v2010.accounts(credentials.accountSid).fetch();
        res.json({ ok: true, friendlyName: account.friendlyName, status: account.status, type: account.type });
      } finally {
        handle.requestClient.destroy();
      }
    })().catch((err: unknown) => {
      const error = toTwilioNodeError(err, redact).localise(RED._);
      res.json({ ok: false, code: error.code, message: error.message });
    });
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
