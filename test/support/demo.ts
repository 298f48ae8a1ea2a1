/** Starts `scripts/demo.js` (a real Node-RED with the package and the simulator) on free ports. */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeRedPackage } from './harness';
import { freePort } from './prism';

export { root } from './paths';
import { root } from './paths';

/** Thrown by a waitFor probe: stop waiting now (anything else a probe throws means "not yet"). */
export class GiveUp extends Error {}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch((err: unknown) => {
      if (err instanceof GiveUp) throw err;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface Demo {
  editor: string;
  simulator: string;
  userDir: string;
  log(): string;
  stop(): Promise<void>;
}

/** `env` adds to the demo's environment, e.g. LANG for Node-RED's runtime language. */
export async function startDemo(env: Record<string, string> = {}): Promise<Demo> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-demo-'));
  const [port, simulatorPort] = [await freePort(), await freePort()];
  let log = '';
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'scripts', 'demo.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      SIMULATOR_PORT: String(simulatorPort),
      DEMO_USER_DIR: userDir,
      NODE_RED_PACKAGE: nodeRedPackage,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const demo: Demo = {
    editor: `http://127.0.0.1:${port}`,
    simulator: `http://127.0.0.1:${simulatorPort}`,
    userDir,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
  try {
    // Node-RED logs in its runtime language: the tests run it in English, German and Japanese.
    const started = ['Started flows', 'Flows sind gestartet', 'フローを開始しました'];
    await waitFor('Node-RED to start flows', async () => {
      if (child.exitCode !== null) throw new GiveUp(`the demo exited before it started:\n${log.slice(-3000)}`);
      return started.some((s) => log.includes(s)) ? true : undefined;
    });
    // Flows start while red.js begins to listen: the editor is asked until it answers.
    await waitFor('the editor to answer', async () => ((await fetch(demo.editor)).ok ? true : undefined));
  } catch (err) {
    await demo.stop();
    throw err;
  }
  return demo;
}
