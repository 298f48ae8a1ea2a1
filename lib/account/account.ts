/**
 * What a twilio-config node gives every other node: one Twilio account, built once from its
 * settings and credentials. Its SDK client, its request queue, the verdict on a webhook's signature,
 * and raw requests with its auth. Secrets stay in here: nodes get results, never the secret.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import type twilio from 'twilio';
import { TwilioNodeError, maskAnswerText, maskTexts, secretRedactor } from '../core/errors';
import { Translate, render, text } from '../core/texts';
import { Body, isValidSignature } from '../twilio/signature';
import { resolveEnvReferences } from '../node-red/typed-fields';
import { RawRequest, RawResponse, performRawRequest } from '../transport/raw-request';
import { RequestQueue } from '../transport/request-queue';
import type { StateEngine } from '../state/engine';
import { StateBackend, StateHealth, acquireStateEngine, embeddedStateDir, redactUrl, urlCarriesPassword } from './state-engines';
import { setInstanceHome, setInstanceLeaseMs } from '../state/instance';
import { AccountActivity, attachActivity } from './activity';
import {
  AuthMode,
  BaseUrlRequestClient,
  TwilioClientHandle,
  TwilioCredentials,
  basicAuthorization,
  createTwilioClient,
} from '../transport/sdk-client';

/** The account's settings as the config node stores them (typed in the editor, `${NAME}` allowed). */
export interface AccountSettings {
  name?: string;
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
  /** Where the account's nodes keep their state: the embedded store (default) or a shared Redis. */
  stateBackend?: StateBackend;
  /** Redis: `redis://host:port[/db]` or `rediss://…` (the password is a credential). */
  redisUrl?: string;
  /** This Node-RED's address as the internet sees it: where Twilio fetches media sent from bytes. */
  publicBaseUrl?: string;
}

/** The account's credentials, as Node-RED's credential store keeps them. */
export interface AccountCredentials {
  accountSid?: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  authToken?: string;
  redisPassword?: string;
}

/** What other nodes may use of a config node. */
export interface TwilioAccount {
  readonly accountSid: string;
  readonly defaultFrom: string;
  /** This Node-RED's public base URL, when the account sets one (MMS media from bytes is served under it). */
  readonly publicBaseUrl?: string;
  /** The SDK client, or a coded error saying why the account cannot be used. */
  getClient(): twilio.Twilio;
  /**
   * The SDK client whose requests belong to `owner` (a node: its close withdraws those still queued,
   * `queue.withdraw(owner)`), without `requestOwner.run` around them; a coded error as getClient.
   */
  clientFor(owner: object): twilio.Twilio;
  /** Masks this account's secrets in a text (for errors and logs). */
  redact(text: string): string;
  /** Whether an Auth Token is set: only it can check webhook signatures (an API Key cannot). */
  canValidateWebhooks(): boolean;
  /** Checks a webhook's X-Twilio-Signature; undefined when there is no Auth Token to check it with. */
  validateWebhook(signature: string | undefined, url: string, body: Body): boolean | undefined;
  /** Any REST call with this account's auth (twilio-request). */
  rawRequest(request: RawRequest, owner?: object): Promise<RawResponse>;
  /** The account's request queue: its depth and retries, for the nodes' status lines. */
  readonly queue: RequestQueue;
  /**
   * A closing node's last requests (a removed page hanging up its calls): Node-RED stops config
   * nodes after the nodes of the same deploy, so the account, closing too, takes requests until
   * `work` settles (within its close budget) before it stops.
   */
  finalRequests?(work: Promise<unknown>): void;
  /** The state engine of the account's nodes (see lib/account/node-state.ts); undefined when it could not open. */
  readonly state?: StateEngine;
  /**
   * Hears the state engine go down and come back (Redis unreachable; an embedded store never says so),
   * called at once when it is down now; returns how to stop. See lib/account/state-health.ts.
   */
  onStateHealth?(listener: (health: StateHealth) => void): () => void;
  /** What the Twilio sidebar shows of the account (lib/account/activity.ts): the layers above note their events here. */
  readonly activity?: AccountActivity;
}

export type AccountNode = Node & TwilioAccount;

/** The settings that decide which host receives the account's credentials. */
export const CONNECTION_SETTINGS = ['region', 'edge', 'baseUrl'] as const;
export type ConnectionSetting = (typeof CONNECTION_SETTINGS)[number];

/** The account a node selected, once deployed; a coded MISSING_INPUT when there is none. */
export function getAccount(RED: NodeAPI, id: string | undefined): AccountNode {
  const account = id ? (RED.nodes.getNode(id) as AccountNode | null) : null;
  if (!account || typeof account.getClient !== 'function') throw new TwilioNodeError('MISSING_INPUT', text('noAccount'));
  return account;
}

/** The account a node selected, or undefined (the node shows "no account" and refuses its input). */
export function findAccount(RED: NodeAPI, id: string | undefined): AccountNode | undefined {
  const account = id ? (RED.nodes.getNode(id) as AccountNode | null) : null;
  return account && typeof account.getClient === 'function' ? account : undefined;
}

/** How long a closing account waits for its requests in flight (Node-RED gives a close 15 s). */
const CLOSE_WAIT_MS = 10_000;
/** How long it waits for its nodes' final requests: their close budget (12 s) and a hang-up's answer. */
const FINAL_REQUESTS_MS = 13_000;
/** All of a close, within Node-RED's 15 s. */
const CLOSE_TOTAL_MS = 14_000;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Makes `node` (a twilio-config node) the account its settings and credentials describe. Returns
 * what its close must run: its nodes' final requests go out first (finalRequests), then queued
 * requests fail as NOT_SENT, those in flight get 10 s, then the client's sockets close.
 */
/**
 * Every answer to the account's SDK requests is masked before the SDK reads it (a record, a list, an
 * error): the one point where Twilio's texts come in, so a server that echoes the Authorization header
 * or a secret (a proxy or a stand-in at the base URL) cannot put it in a msg, a status or a log.
 */
function maskAnswers(requestClient: BaseUrlRequestClient, redact: (text: string) => string): void {
  const request = requestClient.request;
  // Not bound: a node's view of the client (forOwner) inherits this, and its requests stay the node's.
  requestClient.request = function (this: BaseUrlRequestClient, opts: Parameters<typeof request>[0]) {
    return request.call(this, opts).then((response) => {
      // Parsed and written again before it is masked: a JSON escape cannot spell a secret past the mask.
      if (typeof response?.body === 'string') (response as { body: unknown }).body = maskAnswerText(response.body, redact);
      return response;
    });
  } as typeof requestClient.request;
}

export function openAccount(RED: NodeAPI, node: Node, settings: AccountSettings, stored: AccountCredentials): () => Promise<void> {
  const resolve = (value: string | undefined): string => resolveEnvReferences(RED, node, value);
  const credentials: TwilioCredentials = {
    accountSid: resolve(stored.accountSid),
    authMode: settings.authMode === 'authToken' ? 'authToken' : 'apiKey',
    apiKeySid: resolve(stored.apiKeySid),
    apiKeySecret: resolve(stored.apiKeySecret),
    authToken: resolve(stored.authToken),
  };
  // The secrets, and the Authorization header made of them (a server that echoes it must not put it in a log).
  const encodedPairs = [credentials.authToken, credentials.apiKeySecret].map((secret) => {
    const username = secret === credentials.authToken ? credentials.accountSid : credentials.apiKeySid;
    return secret && username ? Buffer.from(`${username}:${secret}`).toString('base64') : undefined;
  });
  const redact = secretRedactor([credentials.apiKeySecret, credentials.authToken, ...encodedPairs]);
  // The account's limits: empty (or not a number) means the default.
  const positive = (value: unknown, fallback: number) => (Number(value) > 0 ? Number(value) : fallback);
  const retries =
    settings.maxRetries === undefined || settings.maxRetries === '' ? 6 : Math.max(0, Math.floor(Number(settings.maxRetries) || 0));
  const queue = new RequestQueue({
    maxConcurrency: positive(settings.maxConcurrency, 100),
    ratePerSecond: positive(settings.ratePerSecond, 0),
    maxRetries: retries,
  });
  const connection = { region: resolve(settings.region), edge: resolve(settings.edge), baseUrl: resolve(settings.baseUrl) };
  let handle: TwilioClientHandle | undefined;
  let configError: TwilioNodeError | undefined;
  const finals = new Set<Promise<unknown>>();
  let closed = false;
  try {
    handle = createTwilioClient(credentials, { ...connection, queue });
    maskAnswers(handle.requestClient, redact);
  } catch (err) {
    configError = err as TwilioNodeError;
  }
  const unusable = () =>
    new TwilioNodeError(
      configError?.code ?? 'AUTHENTICATION_CONNECTION_ERROR',
      text('accountUnusable', {
        name: settings.name || node.id,
        detail: configError?.text ?? configError?.message ?? text('accountClosed'),
      }),
    );

  // Opened when a node first needs it (most flows only send): then shared by this process's accounts.
  let state: ReturnType<typeof openState> | null = null;
  const stateOf = () => (state === null ? (state = openState(RED, node, settings, resolve(stored.redisPassword))) : state);

  const shown = attachActivity(node.id, settings.name || '', credentials.accountSid, queue);
  const publicBaseUrl = resolve(settings.publicBaseUrl) || undefined;
  // Media tokens travel in its URLs: over plain http on the internet anyone on the way can read them.
  if (publicBaseUrl && plainOverInternet(publicBaseUrl))
    node.warn(render(text('publicUrlPlain', { url: publicBaseUrl }), RED._ as Translate));
  const account: TwilioAccount = {
    accountSid: credentials.accountSid,
    defaultFrom: resolve(settings.defaultFrom),
    publicBaseUrl,
    queue,
    activity: shown.activity,
    redact,
    getClient() {
      if (handle) return handle.client;
      throw unusable();
    },
    clientFor(owner) {
      if (handle) return handle.clientFor(owner);
      throw unusable();
    },
    canValidateWebhooks: () => Boolean(credentials.authToken),
    validateWebhook: (signature, url, body) =>
      credentials.authToken ? isValidSignature(credentials.authToken, signature, url, body) : undefined,
    rawRequest(request, owner) {
      if (!handle) return Promise.reject(unusable());
      const { requestClient } = handle;
      // Over the account's transport and through its queue, like every other request; the queue
      // repeats it by twilio-request's own retry settings.
      const transport = {
        accountSid: credentials.accountSid,
        authorization: basicAuthorization(credentials),
        ...connection,
        agentFor: (url: URL) => requestClient.agentFor(url),
        // The owner (a node) is passed with each attempt: a close withdraws what still waits.
        schedule: ((run, judge, policy) => queue.schedule(run, judge, policy, owner)) as typeof queue.schedule,
      };
      return performRawRequest(request, transport, redact).then((response) => maskTexts(response, redact));
    },
    onStateHealth(listener) {
      const opened = closed ? undefined : stateOf();
      return opened ? opened.onHealth(listener) : () => undefined;
    },
    finalRequests(work) {
      const settled: Promise<unknown> = work.catch(() => undefined).finally(() => finals.delete(settled));
      finals.add(settled);
    },
  };
  // Not enumerable: nothing of the account shows when Node-RED or a flow inspects the node.
  for (const [key, value] of Object.entries(account)) Object.defineProperty(node, key, { value, enumerable: false, configurable: true });
  Object.defineProperty(node, 'state', { get: () => (closed ? undefined : stateOf()?.engine), enumerable: false, configurable: true });

  return async () => {
    const started = Date.now();
    // The nodes of this deploy closed first: what they still send (a hang-up) goes out before the queue closes.
    if (finals.size > 0) await Promise.race([Promise.all(finals), delay(FINAL_REQUESTS_MS)]);
    const left = Math.max(1_000, Math.min(CLOSE_WAIT_MS, CLOSE_TOTAL_MS - (Date.now() - started)));
    await Promise.race([queue.close(), delay(left)]);
    handle?.requestClient.destroy();
    handle = undefined;
    closed = true;
    shown.detach();
    await state?.release();
  };
}

/**
 * An account switched to Redis while its nodes still held waits in this Node-RED's embedded store:
 * they are not moved (another instance may hold the same nodes' waits in Redis), and not silently
 * dropped either: the log says how many and where, once.
 */
/** An http:// URL to a host other than this machine (a tunnel's or a router's address): read by anyone on the way. */
export function plainOverInternet(url: string): boolean {
  try {
    const { protocol, hostname } = new URL(url);
    return protocol === 'http:' && !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(hostname);
  } catch {
    return false;
  }
}

async function sayWhatIsLeftBehind(dir: string, warn: (count: number, dir: string) => void): Promise<void> {
  if (!fs.existsSync(path.join(dir, 'state.mdb'))) return;
  try {
    const { engine, release } = acquireStateEngine({ backend: 'embedded', dir });
    try {
      const left = (await engine.scan('node/', 1000)).filter((record) => !/\/damaged-/.test(record.key)).length;
      if (left > 0) warn(left, dir);
    } finally {
      await release();
    }
  } catch {
    // In use by another Node-RED, or unreadable: not this account's to report.
  }
}

/**
 * The account's state engine, shared with every account node of this Node-RED that chose the same
 * (see state-engines.ts); undefined, said in the log, when it cannot open (its nodes then refuse
 * what they would have to keep: see node-state.ts).
 */
function openState(RED: NodeAPI, node: Node, settings: AccountSettings, redisPassword: string | undefined) {
  const userDir = (RED.settings as unknown as { userDir?: string } | undefined)?.userDir;
  // settings.js `twilio: { leaseMs }`: the instance and poll leases' time (several instances; 30 s by default).
  setInstanceLeaseMs((RED.settings as unknown as { twilio?: { leaseMs?: number } } | undefined)?.twilio?.leaseMs);
  // A restart on the same host and user dir takes over what the process before it held at once (several instances).
  setInstanceHome(userDir);
  const say = (key: string, subs: Record<string, string> = {}) => render(text(key, subs), RED._ as Translate);
  try {
    if (settings.stateBackend === 'redis') {
      const url = resolveEnvReferences(RED, node, settings.redisUrl);
      if (!/^rediss?:\/\//.test(url)) throw new Error(say('redisUrlInvalid'));
      // A password typed into the URL would travel in every flow export: it belongs in the credential store.
      // (One read from an environment variable, `${REDIS_URL}`, is not in the flow: it is taken, and masked in logs.)
      if (urlCarriesPassword(settings.redisUrl ?? '')) throw new Error(say('redisUrlPassword'));
      const log = {
        down: (at: string, message: string) => node.warn(say('redisWentDown', { url: at, message: redactUrl(message) })),
        up: (at: string) => node.log(say('redisCameBack', { url: at })),
      };
      void sayWhatIsLeftBehind(embeddedStateDir(userDir), (count, dir) => node.warn(say('stateLeftBehind', { count: String(count), dir })));
      return acquireStateEngine({ backend: 'redis', dir: '', redisUrl: url, redisPassword, log });
    }
    return acquireStateEngine({ backend: 'embedded', dir: embeddedStateDir(userDir) });
  } catch (err) {
    node.error(say('stateUnavailable', { message: redactUrl(err instanceof Error ? err.message : String(err)) }));
    return undefined;
  }
}
