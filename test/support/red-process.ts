/**
 * A real Node-RED process (red.js of the runtime under test) with this package in a fresh user dir,
 * given flows, credentials and settings: for what only a whole process shows (the root app, the
 * editor's body parsers, httpNodeAuth, a crash).
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeRedPackage } from './harness';
import { root } from './demo';
import { freePort } from './prism';

export interface RedProcess {
  url: string;
  /** Its user dir: flows, settings and the embedded state store (`twilio-state/`). */
  userDir: string;
  log(): string;
  alive(): boolean;
  /** The red.js process's id (to pause it with SIGSTOP, as a stalled VM would). */
  pid: number;
  /** SIGTERM (a clean shutdown), then the user dir is removed. */
  stop(): Promise<void>;
  /** SIGKILL, as a power cut would stop it: nothing of it runs after; its user dir stays for a restart. */
  kill(): Promise<void>;
}

/**
 * What red.js loads: this package and the core nodes the suite's flows use. The rest of the core
 * palette (mqtt, websocket, tcp, exec, the parsers…) took a fifth of each start's CPU, and the suite
 * starts red.js about 90 times. The http request, json and file nodes (their dependencies took a
 * quarter of what was left) load only where the flow has one. A flow with a type left out fails at
 * once, naming it (see below).
 */
const CORE_NODES = [
  ...['05-junction', '20-inject', '21-debug', '24-complete', '25-catch', '25-status', '60-link', '90-comment', '91-global-config'],
  ...['98-unknown', '10-function', '10-switch', '15-change', '80-template', '89-delay', '89-trigger', '05-tls', '06-httpproxy'],
  '21-httpin',
];
const CORE_NODES_BY_TYPE: Record<string, string> = {
  'http request': '21-httprequest',
  json: '70-JSON',
  file: '10-file',
  'file in': '10-file',
};
const PACKAGE = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  'node-red': { nodes: Record<string, string>; plugins?: Record<string, string> };
};
/** The files red.js loads for the flows in `userDir`. */
function nodesIncluded(userDir: string): string[] {
  const flows = JSON.parse(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8')) as { type?: string }[];
  const onDemand = flows.map((node) => CORE_NODES_BY_TYPE[node.type ?? '']).filter((file) => file !== undefined);
  return [
    path.basename(PACKAGE.name),
    ...[...new Set([...CORE_NODES, ...onDemand])].map((name) => `${name}.js`),
    ...[...Object.values(PACKAGE['node-red'].nodes), ...Object.values(PACKAGE['node-red'].plugins ?? {})].map((file) =>
      path.basename(file),
    ),
  ];
}

/** `settings` is the body of settings.js's object literal beyond port, host and files. */
export async function startRed(flows: object[], credentials: Record<string, object>, settings = ''): Promise<RedProcess> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-red-'));
  prepareUserDir(userDir, flows, credentials);
  return launchRed(userDir, settings);
}

/** Starts Node-RED again on the user dir a killed (or stopped) one left: its flows, its state store. */
export function restartRed(killed: RedProcess, settings = ''): Promise<RedProcess> {
  return launchRed(killed.userDir, settings);
}

function prepareUserDir(userDir: string, flows: object[], credentials: Record<string, object>): void {
  const target = path.join(userDir, 'node_modules', ...PACKAGE.name.split('/'));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.symlinkSync(root, target, 'dir');
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'red-under-test', private: true, dependencies: { [PACKAGE.name]: `file:${root}` } }),
  );
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials));
}

/**
 * In settings.js: what a Node-RED that does not stop says in its log (which the suite prints when
 * it kills it): that SIGTERM came, what is still open 10 s later, and whether it began to exit.
 */
const STOP_DIAGNOSTICS = `process.on('SIGTERM', () => {
  console.log('red-process: SIGTERM');
  const handles = () => process._getActiveHandles().map((h) => h.constructor.name + (h.remotePort ? ':' + h.remotePort : '')).join(', ');
  setTimeout(() => console.log('red-process: alive 10 s after SIGTERM; open: ' + handles()), 10000).unref();
});
process.on('exit', () => console.log('red-process: exiting'));`;

/** Each thread of process `pid` and what it waits in (Linux /proc): where a process that does not exit is stuck. */
function threadsOf(pid: number): string {
  const dir = `/proc/${pid}/task`;
  if (!fs.existsSync(dir)) return '';
  const read = (tid: string, file: string) => {
    try {
      return fs.readFileSync(path.join(dir, tid, file), 'utf8').trim();
    } catch {
      return '?';
    }
  };
  return fs
    .readdirSync(dir)
    .map(
      (tid) =>
        `thread ${tid} ${read(tid, 'comm')}: state ${read(tid, 'stat').split(') ')[1]?.split(' ')[0]}, waits in ${read(tid, 'wchan')}`,
    )
    .join('\n');
}

async function launchRed(userDir: string, settings: string, attempt = 1): Promise<RedProcess> {
  const port = await freePort();
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `${STOP_DIAGNOSTICS}
module.exports = {
  uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', credentialSecret: false,
  diagnostics: { enabled: false }, telemetry: { enabled: false, updateNotification: false },
  editorTheme: { projects: { enabled: false }, tours: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
  // No palette installs: Node-RED would otherwise run \`npm -v\` before it loads its nodes, on every start.
  externalModules: { palette: { allowInstall: false } },
  nodesIncludes: ${JSON.stringify(nodesIncluded(userDir))},
  ${settings}
};\n`,
  );
  let log = '';
  const child: ChildProcess = spawn(
    process.execPath,
    [require.resolve(`${nodeRedPackage}/red.js`), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const red: RedProcess = {
    url: `http://127.0.0.1:${port}`,
    userDir,
    pid: child.pid!,
    log: () => log,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (red.alive()) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        // Node-RED gives its nodes 15 s to close; one that takes longer is killed, and said, rather than holding the suite.
        const timer = setTimeout(() => {
          const threads = threadsOf(child.pid!);
          process.stderr.write(`red-process: Node-RED did not stop within 20 s of SIGTERM; killed\n${log.slice(-2000)}\n${threads}\n`);
          child.kill('SIGKILL');
        }, 20_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(userDir, { recursive: true, force: true });
    },
    kill: async () => {
      if (!red.alive()) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
  // red.js starts the flows and listens at the same time: "Started flows" can come before the port
  // accepts (a POST then met ECONNREFUSED in CI), so both lines are awaited. A port taken meanwhile
  // (red.js says so and exits) is tried again with another; any other exit fails at once, with its log.
  const deadline = Date.now() + 60_000;
  while (!(log.includes('Started flows') && log.includes('Server now running at'))) {
    if (!red.alive()) {
      if (/port in use|Unable to listen/.test(log) && attempt < 4) return launchRed(userDir, settings, attempt + 1);
      fs.rmSync(userDir, { recursive: true, force: true });
      throw new Error(`Node-RED exited before it started:\n${log.slice(-3000)}`);
    }
    if (/Waiting for missing types/.test(log)) {
      await red.stop();
      throw new Error(
        `a flow uses a node type red.js did not load (add its core file to CORE_NODES or CORE_NODES_BY_TYPE in red-process.ts):\n${log.slice(-3000)}`,
      );
    }
    if (Date.now() > deadline) {
      await red.stop();
      throw new Error(`timed out waiting for Node-RED to start flows and listen:\n${log.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return red;
}
