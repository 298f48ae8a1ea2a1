/**
 * Shared test setup: a real Node-RED runtime through node-red-node-test-helper (Node-RED 4 on Node 20,
 * Node-RED 5 on Node 22 or newer, or NODE_RED_PACKAGE), the package's nodes, and the simulator.
 */
import path from 'node:path';
import { after, afterEach, before } from 'node:test';
import { DEMO_ACCOUNT, SimulatorOptions, TwilioSimulator } from '../../simulator/server';
import { builtNodes } from './paths';
import { acquireStateEngine, closeIdleStateEngines, embeddedStateDir } from '../../lib/account/state-engines';

const helper = require('node-red-node-test-helper') as TestHelper;
// helper.setFlows waits only 300 ms for the flows to start, and only once the deploy call returned: a
// loaded machine (the nodes' closes run first: a page's hang-up, a send's waits) takes longer, and the
// event can come before it listens. The same deploy, listened for first, with time to finish.
const runtime = helper as unknown as {
  _redNodes: { setFlows(f: unknown, c: unknown, t: string): Promise<unknown> };
  _events: NodeJS.EventEmitter;
};
helper.setFlows = async (flow: unknown, type = 'full', credentials: unknown = {}) => {
  let heard: () => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the flows did not start within 30 s of the deploy')), 30_000);
    heard = () => {
      clearTimeout(timer);
      resolve();
    };
    runtime._events.once('flows:started', heard);
  });
  try {
    await runtime._redNodes.setFlows(flow, credentials ?? {}, typeof type === 'string' && type ? type : 'full');
  } catch (err) {
    runtime._events.off('flows:started', heard);
    started.catch(() => undefined);
    throw err;
  }
  await started;
};

export interface FlowNode {
  id: string;
  type: string;
  [key: string]: unknown;
}

export interface RuntimeNode {
  id: string;
  type: string;
  receive(msg: object): void;
  on(event: string, listener: (arg: any) => void): void;
  once(event: string, listener: (arg: any) => void): void;
  removeAllListeners(event?: string): void;
  removeListener(event: string, listener: (arg: any) => void): void;
  [key: string]: unknown;
}

export interface TestHelper {
  init(runtimePath: string, settings?: object): void;
  load(nodes: unknown[], flow: FlowNode[], credentials?: Record<string, object>): Promise<void>;
  setFlows(flow: FlowNode[], type?: string, credentials?: Record<string, object>): Promise<void>;
  unload(): Promise<void>;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  getNode(id: string): RuntimeNode;
  request(): any;
  settings(userSettings: object): object;
  _redNodes: { getFlows(): { flows: FlowNode[]; credentials?: object } };
  _RED: { version(): string };
}

export const nodeRedPackage =
  process.env.NODE_RED_PACKAGE || (Number(process.versions.node.split('.')[0]) >= 22 ? 'node-red-5' : 'node-red');
helper.init(require.resolve(nodeRedPackage));

/** A built node's module: dist/nodes/<type>/<type>.js. */
const builtNode = (type: string) => path.join(builtNodes, type, `${type}.js`);
export const twilioConfig = require(builtNode('twilio-config')) as unknown;
export const twilioSend = require(builtNode('twilio-send')) as unknown;
export const resourceNodes = ['get', 'query', 'update', 'delete'].map((a) => require(builtNode(`twilio-${a}`)) as unknown);
const twilioInModule = require(builtNode('twilio-in')) as (red: unknown) => void;
export const twilioReply = require(builtNode('twilio-reply')) as unknown;
export const twilioRequest = require(builtNode('twilio-request')) as unknown;
export const twilioAsk = require(builtNode('twilio-ask')) as unknown;
export const twilioPage = require(builtNode('twilio-page')) as unknown;

/** The RED object the nodes were last loaded with: its httpNode app serves twilio-in's routes. */
export let capturedRED: { httpNode: import('node:http').RequestListener } | undefined;
export const twilioIn = (red: { httpNode: import('node:http').RequestListener }) => {
  capturedRED = red;
  return twilioInModule(red);
};
export const allNodes = [twilioConfig, twilioSend, ...resourceNodes, twilioIn, twilioReply, twilioRequest, twilioAsk, twilioPage];
export { helper };

/**
 * The runtime with two context stores, as settings.js would configure them: `default` in memory and
 * `file` on disk in a temporary directory (removed as the process ends: the file store still writes
 * as the last test unloads). Call at the top of a file, before useRuntime.
 */
export function initWithFileContext(): void {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-context-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  helper.init(require.resolve(nodeRedPackage), {
    contextStorage: { default: { module: 'memory' }, file: { module: 'localfilesystem', config: { dir } } },
  });
  fileContext = true;
}
/** Whether this file's runtime has the file store, whose writes wait on a 30 s timer (see useRuntime). */
let fileContext = false;

export const ACCOUNT = DEMO_ACCOUNT;
export const API_KEY = DEMO_ACCOUNT.apiKeys![0];

/**
 * Each test starts with an empty state store: the runtime of these tests has no user dir, so every
 * account of the process shares one embedded store (lib/account/state-engines.ts), which outlives a
 * test's unload as it outlives a redeploy.
 */
export async function forgetEmbeddedState(): Promise<void> {
  const { engine, release } = acquireStateEngine({ backend: 'embedded', dir: embeddedStateDir(undefined) });
  try {
    for (let page = await engine.scan('', 1000); page.length > 0; page = await engine.scan('', 1000))
      // A page in one go: the store commits it once (a durable commit each is seconds on a disk with slow fsync).
      await Promise.all(page.map((record) => engine.delete(record.key)));
  } finally {
    await release();
  }
}

/** Starts the Node-RED test server and one simulator for the file; both stop after it. */
export function useRuntime(options: SimulatorOptions = {}): { simulator: TwilioSimulator } {
  const context = { simulator: new TwilioSimulator({ accounts: [DEMO_ACCOUNT], ...options }) };
  before(async () => {
    await context.simulator.start();
    await helper.startServer();
  });
  afterEach(async () => {
    // Each load makes new context stores; the file store writes its cache 30 s after a change, on a timer that
    // would hold the process that long after the last test. Flushed and closed before the nodes go (whose
    // removal deletes their context: a write then would race it).
    if (fileContext) await (helper as unknown as { _context: { close(): Promise<void> } })._context.close();
    await helper.unload();
    await forgetEmbeddedState();
    context.simulator.reset();
  });
  after(async () => {
    await helper.stopServer();
    await context.simulator.stop();
    // Its accounts are gone: their engines close now, not when idle (a Redis one would hold the file open).
    await closeIdleStateEngines();
  });
  return context;
}

/**
 * An HTTP server on 127.0.0.1 (a free port) serving the loaded runtime's RED.httpNode, where
 * twilio-in mounts its routes: `base()` is its URL once the file's tests start.
 */
export function useHttpNode(): { base(): string } {
  let server: import('node:http').Server | undefined;
  let url = '';
  before(async () => {
    const http = await import('node:http');
    server = http.createServer((req, res) => (capturedRED ? capturedRED.httpNode(req, res) : res.writeHead(503).end()));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
  });
  return { base: () => url };
}

export type AuthMode = 'apiKey' | 'authToken';

/** A twilio-config node and its credentials, pointed at the simulator. */
export function accountNode(
  simulatorUrl: string,
  mode: AuthMode = 'apiKey',
  extra: Record<string, unknown> = {},
): { node: FlowNode; credentials: object } {
  return {
    node: {
      id: 'account',
      type: 'twilio-config',
      name: 'test account',
      authMode: mode,
      region: '',
      edge: '',
      defaultFrom: '+15017122661',
      baseUrl: simulatorUrl,
      ...extra,
    },
    credentials:
      mode === 'apiKey'
        ? { accountSid: ACCOUNT.sid, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret }
        : { accountSid: ACCOUNT.sid, authToken: ACCOUNT.authToken },
  };
}

export interface SendResult {
  output?: any;
  /** Every msg the node sent, in order (a query in per-record mode sends several). */
  outputs: any[];
  warnings: string[];
  error?: { code: string; message: string; cause?: any };
  statuses: Array<{ fill?: string; shape?: string; text?: string }>;
}

/**
 * Loads account → a node of `type` → helper, sends one msg and resolves when the node has finished
 * (done called): with the output msg if any and the error given to done(err) if any.
 */
export async function runNode(
  simulatorUrl: string,
  type: string,
  config: Record<string, unknown>,
  msg: Record<string, unknown>,
  opts: { mode?: AuthMode; account?: Record<string, unknown>; credentials?: object } = {},
): Promise<SendResult> {
  const account = accountNode(simulatorUrl, opts.mode, opts.account);
  const flow: FlowNode[] = [
    { id: 'tab', type: 'tab', label: 'test' },
    account.node,
    { id: 'node', type, z: 'tab', account: 'account', wires: [['out']], ...config },
    { id: 'out', type: 'helper', z: 'tab' },
  ];
  await helper.load(allNodes, flow, { account: opts.credentials ?? account.credentials });
  return sendTo(helper.getNode('node'), helper.getNode('out'), msg);
}

/** twilio-send with a message by default. */
export function runSend(
  simulatorUrl: string,
  send: Record<string, unknown>,
  msg: Record<string, unknown>,
  opts: Parameters<typeof runNode>[4] = {},
): Promise<SendResult> {
  return runNode(simulatorUrl, 'twilio-send', { resource: 'message', ...send }, msg, opts);
}

/**
 * Sends msg into a loaded node and resolves once the node has called done and everything it sent
 * has reached the helper node (Node-RED delivers messages asynchronously).
 */
export function sendTo(node: RuntimeNode, out: RuntimeNode, msg: Record<string, unknown>): Promise<SendResult> {
  const outputs: any[] = [];
  const result: SendResult = { statuses: [], outputs, warnings: [] };
  let sent = 0;
  return new Promise((resolve, reject) => {
    const onOutput = (m: any) => {
      outputs.push(m);
      result.output = m;
    };
    const onStatus = (call: any) => result.statuses.push(call.args[0]);
    const onWarn = (call: any) => result.warnings.push(String(call.args[0]));
    out.on('input', onOutput);
    node.on('call:status', onStatus);
    node.on('call:warn', onWarn);
    const send = node.send as (...args: unknown[]) => void;
    node.send = (...args: unknown[]) => {
      sent++;
      send.apply(node, args);
    };
    const complete = node._complete as (m: unknown, err?: any) => void;
    // A node may get many messages one after another (the property tests): each call leaves it as it found it.
    const restore = () => {
      out.removeListener('input', onOutput);
      node.removeListener('call:status', onStatus);
      node.removeListener('call:warn', onWarn);
      node.send = send;
      node._complete = complete;
    };
    node._complete = (m: unknown, err?: any) => {
      if (err) result.error = { code: err.code, message: err.message, cause: err.cause };
      complete.call(node, m, err);
      const started = Date.now();
      const settle = () => {
        if (outputs.length >= sent) {
          restore();
          return resolve(result);
        }
        if (Date.now() - started > 2000) {
          restore();
          return reject(new Error(`node sent ${sent} messages, ${outputs.length} arrived`));
        }
        setTimeout(settle, 1);
      };
      // Status and error spies report on the next tick: let them land first.
      setImmediate(settle);
    };
    node.receive(msg);
  });
}

/** Every status a node has shown since it was loaded (read from the helper's spy on Node.status). */
export function statusesOf(node: RuntimeNode): Array<{ fill?: string; shape?: string; text?: string }> {
  const spy = node.status as unknown as { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
  return spy
    .getCalls()
    .filter((call) => call.thisValue === node)
    .map((call) => call.args[0] as { text?: string });
}

/** Loads `flow` (nodes on tab `tab`) beside the account node `account` (auth token) pointed at the simulator. */
export async function loadWithAccount(simulatorUrl: string, flow: FlowNode[]): Promise<void> {
  const { node, credentials } = accountNode(simulatorUrl, 'authToken');
  await helper.load(allNodes, [{ id: 'tab', type: 'tab', label: 't' }, { ...node, id: 'account' }, ...flow], { account: credentials });
}

/** twilio-in `in` at `path`: signed, answered at once, duplicates dropped for 10 minutes; its news to helper `news`. */
export function signedInbound(path: string): FlowNode[] {
  return [
    {
      id: 'in',
      type: 'twilio-in',
      z: 'tab',
      account: 'account',
      path,
      validate: true,
      reply: 'auto',
      dedupe: true,
      dedupeWindow: 600,
      wires: [['news']],
    },
    { id: 'news', type: 'helper', z: 'tab' },
  ];
}

/** Every msg each of the loaded helper nodes `ids` receives from now on, by id. */
export function received(ids: string[]): Record<string, any[]> {
  const got: Record<string, any[]> = {};
  for (const id of ids) {
    got[id] = [];
    helper.getNode(id).on('input', (m: any) => got[id].push(m));
  }
  return got;
}

/** The string Twilio signs after the URL: the sorted keys, each key then its value, no separator. */
export const signedText = (params: Record<string, string>) =>
  Object.keys(params)
    .sort()
    .map((k) => k + params[k])
    .join('');
