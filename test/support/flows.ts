/**
 * Flows for the tests that run real red.js processes (test/process/, test/attacks-2x/): the account
 * node, the outcome-wait flow behind POST /go, the asking flow behind POST /ask, the paging flow
 * behind POST /smoke, and the recorders that append each msg's ending to a log file (a write a
 * SIGKILL does not take back), with its reader; a deploy as the editor makes it.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_ACCOUNT } from '../../simulator/server';

/** The house's number: every flow's default From. */
export const HOUSE = '+15017122661';
/** The credentials (flows_cred.json) of a flow whose account node is `account`: the simulator's demo account. */
export const CREDENTIALS = { account: { accountSid: DEMO_ACCOUNT.sid, authToken: DEMO_ACCOUNT.authToken } };
export const TAB = { id: 'tab', type: 'tab', label: 't' };

/** The flow's account node `account` (auth token) calling Twilio at `baseUrl`; `extra` adds or overrides settings. */
export function accountConfig(baseUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'account',
    type: 'twilio-config',
    name: 'a',
    authMode: 'authToken',
    region: '',
    edge: '',
    defaultFrom: HOUSE,
    baseUrl,
    ...extra,
  };
}

/**
 * settings.js for flows with recorders: they append to `logFile` (default: ended.log in the user dir,
 * where settings.js lives) and name the process `instance` in each line. `extra` is more settings.
 */
export function recorderSettings(opts: { logFile?: string; instance?: string } = {}, extra = ''): string {
  const logFile = opts.logFile ? JSON.stringify(opts.logFile) : `require('path').join(__dirname, 'ended.log')`;
  return `functionGlobalContext: { fs: require('fs'), logFile: ${logFile}, instance: ${JSON.stringify(opts.instance ?? '-')} }, ${extra}`;
}

/** A function node that appends "<what> <key> <instance> <detail>" to the log file of recorderSettings. */
export const recorder = (id: string, what: string, detail: string, key = 'msg.id') => ({
  id,
  type: 'function',
  z: 'tab',
  func: `global.get('fs').appendFileSync(global.get('logFile'), '${what} ' + ${key} + ' ' + global.get('instance') + ' ' + (${detail}) + '\\n');
return null;`,
  outputs: 0,
  wires: [],
});

/** The endings of node `node` (a twilio-send with a failure output): its two outputs and what a Catch of it hears. */
export const endingRecorders = (node: string, key = 'msg.id') => [
  recorder('reached', 'out1', 'msg.payload.status', key),
  recorder('missed', 'out2', 'msg.payload.status', key),
  { id: 'catcher', type: 'catch', z: 'tab', scope: [node], uncaught: false, wires: [['caught']] },
  recorder('caught', 'error', 'msg.error && msg.error.code', key),
];

/** ended.log in a user dir: the recorders' file when recorderSettings was given no logFile. */
export const endedLog = (userDir: string) => path.join(userDir, 'ended.log');

/** The endings the recorders wrote to `logFile`, by msg id: "<what> <detail>", and " on <instance>" when one was named. */
export function endings(logFile: string): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  if (!fs.existsSync(logFile)) return byId;
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!line) continue;
    const [what, id, instance, detail] = line.split(' ');
    byId.set(id, [...(byId.get(id) ?? []), `${what} ${detail}${instance === '-' ? '' : ` on ${instance}`}`]);
  }
  return byId;
}

/** Log files outside every user dir (several processes may append to one); `remove()` deletes them all. */
export function logFiles(): { next(): string; remove(): void } {
  const dirs: string[] = [];
  return {
    next: () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attack-22-'));
      dirs.push(dir);
      return path.join(dir, 'ended.log');
    },
    remove: () => {
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** POST `url` (answered 200 "ok" at once) → `prep` (a function's code, on the msg without req and res) → node `next`. */
export function httpTrigger(url: string, prep: string, next: string): object[] {
  return [
    { id: 'in', type: 'http in', z: 'tab', url, method: 'post', wires: [['prep']] },
    {
      id: 'prep',
      type: 'function',
      z: 'tab',
      func: `${prep}
const reply = { req: msg.req, res: msg.res, payload: 'ok', statusCode: 200 };
delete msg.req; delete msg.res;
return [msg, reply];`,
      outputs: 2,
      wires: [[next], ['reply']],
    },
    { id: 'reply', type: 'http response', z: 'tab', wires: [] },
  ];
}

/**
 * twilio-page `page` (its settings `page`) behind two POSTs: /page {alarm} starts a page for the alarm
 * (answered at once); /cancel {alarm} cancels it, answered once twilio-page ended the cancel msg (a
 * complete node: from then on a power cut still cancels). Each output, and each error a Catch hears,
 * is appended as "<acked|exhausted|cancelled|error> <alarm> …" to recorderSettings' log file.
 */
export function pageCancelFlow(baseUrl: string, page: Record<string, unknown>): object[] {
  const detail = "msg.error ? msg.error.code : '-'";
  return [
    TAB,
    accountConfig(baseUrl),
    ...httpTrigger('/page', 'msg.topic = msg.payload.alarm;', 'page'),
    { id: 'cancel-in', type: 'http in', z: 'tab', url: '/cancel', method: 'post', wires: [['cancel-prep']] },
    {
      id: 'cancel-prep',
      type: 'function',
      z: 'tab',
      func: 'msg.topic = msg.payload.alarm; msg.cancel = true; return msg;',
      outputs: 1,
      wires: [['page']],
    },
    { id: 'cancel-ended', type: 'complete', z: 'tab', scope: ['page'], uncaught: false, wires: [['cancel-reply']] },
    {
      id: 'cancel-reply',
      type: 'function',
      z: 'tab',
      func: "if (!msg.cancel || !msg.res) return null; msg.payload = 'ok'; msg.statusCode = 200; return msg;",
      outputs: 1,
      wires: [['reply']],
    },
    { id: 'page', type: 'twilio-page', z: 'tab', account: 'account', ...page, wires: [['acked'], ['exhausted'], ['cancelled']] },
    ...['acked', 'exhausted', 'cancelled'].map((output) => recorder(output, output, detail, 'msg.topic')),
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['page'], uncaught: false, wires: [['caught']] },
    recorder('caught', 'error', detail, 'msg.topic'),
  ];
}

/**
 * POST /go (answered 200 at once) → `prep` (a function's code: sets msg.id and what the send reads,
 * by default msg.to and msg.text) → twilio-send `send` "wait for the outcome" with a failure output →
 * the ending recorders. `account` and `send` add to or override the account's and the send's settings.
 */
export function outcomeFlow(
  baseUrl: string,
  prep: string,
  opts: { account?: Record<string, unknown>; send?: Record<string, unknown> } = {},
): object[] {
  return [
    TAB,
    accountConfig(baseUrl, opts.account),
    ...httpTrigger('/go', prep, 'send'),
    {
      id: 'send',
      type: 'twilio-send',
      z: 'tab',
      account: 'account',
      resource: 'message',
      to: 'to',
      toType: 'msg',
      body: 'text',
      bodyType: 'msg',
      waitFor: 'outcome',
      outcomeTimeout: 600,
      failureOutput: true,
      outputs: 2,
      wires: [['reached'], ['missed']],
      ...opts.send,
    },
    ...endingRecorders('send'),
  ];
}

/**
 * POST /ask {to, payload, …} (answered 200) → `unpack` (a function's code) → twilio-ask `ask` ("yes" or
 * "no", each asked on their own) whose five outputs go to `label(port)` (a node `out<port>`); twilio-in
 * `in` at /sms (signed for `publicBaseUrl`, duplicates dropped) hears the answers, its news to `news`.
 */
export function askFlow(
  baseUrl: string,
  opts: { publicBaseUrl: string; timeout: number; unpack: string; label: (port: number) => object; news: object },
): object[] {
  return [
    TAB,
    accountConfig(baseUrl),
    { id: 'asks', type: 'http in', z: 'tab', url: '/ask', method: 'post', upload: false, wires: [['unpack', 'ok']] },
    { id: 'unpack', type: 'function', z: 'tab', func: opts.unpack, outputs: 1, wires: [['ask']] },
    { id: 'ok', type: 'http response', z: 'tab', statusCode: '200', headers: {}, wires: [] },
    {
      id: 'ask',
      type: 'twilio-ask',
      z: 'tab',
      account: 'account',
      to: 'to',
      toType: 'msg',
      body: 'payload',
      bodyType: 'msg',
      answers: [
        { type: 'words', value: 'yes' },
        { type: 'words', value: 'no' },
      ],
      timeout: opts.timeout,
      mode: 'each',
      outputs: 5,
      wires: [['out0'], ['out1'], ['out2'], ['out3'], ['out4']],
    },
    ...[0, 1, 2, 3, 4].map(opts.label),
    {
      id: 'in',
      type: 'twilio-in',
      z: 'tab',
      account: 'account',
      path: '/sms',
      publicBaseUrl: opts.publicBaseUrl,
      validate: true,
      reply: 'auto',
      dedupe: true,
      wires: [['news']],
    },
    opts.news,
  ];
}

/**
 * POST /smoke (answered 202) → twilio-page `page` paging `contact` ("Alice") with one text step, one
 * round, for the alarm "smoke"; its three outputs and a Catch of it recorded under the key "page".
 */
export function pageFlow(baseUrl: string, contact: string): object[] {
  return [
    TAB,
    accountConfig(baseUrl),
    { id: 'trigger', type: 'http in', z: 'tab', url: '/smoke', method: 'post', wires: [['page', 'answer']] },
    { id: 'answer', type: 'http response', z: 'tab', statusCode: '202', wires: [] },
    {
      id: 'page',
      type: 'twilio-page',
      z: 'tab',
      account: 'account',
      contacts: `Alice ${contact}`,
      contactsType: 'str',
      alarmId: 'smoke',
      alarmIdType: 'str',
      alert: 'Smoke in the kitchen.',
      steps: [{ action: 'text', wait: 2 }],
      rounds: 1,
      wires: [['port0'], ['port1'], ['port2']],
    },
    ...[0, 1, 2].map((port) => recorder(`port${port}`, `out${port}`, 'msg.page && msg.page.steps', "'page'")),
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['page'], uncaught: false, wires: [['caught']] },
    recorder('caught', 'error', 'msg.error && msg.error.code', "'page'"),
  ];
}

/** POSTs an alarm to pageFlow's /smoke and asserts it was answered 202. */
export async function postSmoke(url: string): Promise<void> {
  const res = await fetch(`${url}/smoke`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 202);
  await res.body?.cancel();
}

/** twilio-in at `path` (signed, duplicates dropped, the flow replies) → a twilio-reply "got <Body>"; no Twilio behind it. */
export function replyFlow(path: string, inbound: Record<string, unknown> = {}): object[] {
  return [
    TAB,
    accountConfig('http://127.0.0.1:9', { defaultFrom: '' }),
    {
      id: 'in',
      type: 'twilio-in',
      z: 'tab',
      account: 'account',
      path,
      validate: true,
      reply: 'flow',
      dedupe: true,
      wires: [['reply']],
      ...inbound,
    },
    { id: 'reply', type: 'twilio-reply', z: 'tab', action: 'message', text: 'got {{payload.Body}}', textType: 'str', wires: [] },
  ];
}

/** POSTs `body` as JSON to `url` and asserts it was answered 200. */
export async function postJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

/** Deploys `flows` to the Node-RED at `url` as the editor does (`type`: full, nodes or flows); Node-RED's answer. */
export function deployFlows(url: string, flows: object[], type: 'full' | 'nodes' | 'flows' = 'full'): Promise<Response> {
  return fetch(`${url}/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': type, 'Node-RED-API-Version': 'v1' },
    body: JSON.stringify(flows),
  });
}

/**
 * POSTs `params` as Twilio posts a webhook: a form with `signature` and an I-Twilio-Idempotency-Token
 * (a fresh one unless `token` names one; none when it is null); `headers` adds to them.
 */
export function postWebhook(
  url: string,
  params: Record<string, string>,
  signature: string,
  opts: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const token = opts.token === undefined ? crypto.randomUUID() : opts.token;
  return fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-Twilio-Signature': signature,
      ...(token === null ? {} : { 'I-Twilio-Idempotency-Token': token }),
      ...opts.headers,
    },
    body: new URLSearchParams(params).toString(),
  });
}
