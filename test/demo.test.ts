/**
 * `npm start` as a user runs it: a real Node-RED (4 on Node 20, 5 on Node 22) loads this package from
 * its user dir, with the examples as demo flows on the local simulator; each example's inject reaches it.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeRedPackage } from './support/harness';
import { freePort } from './support/prism';

const root = path.resolve(__dirname, '..', '..');

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('npm start (the demo)', () => {
  let demo: ChildProcess;
  let log = '';
  let editor: string;
  let simulator: string;
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-demo-'));

  before(async () => {
    const [port, simulatorPort] = [await freePort(), await freePort()];
    editor = `http://127.0.0.1:${port}`;
    simulator = `http://127.0.0.1:${simulatorPort}`;
    demo = spawn(process.execPath, [path.join(root, 'scripts', 'demo.js')], {
      env: { ...process.env, PORT: String(port), SIMULATOR_PORT: String(simulatorPort), DEMO_USER_DIR: userDir, NODE_RED_PACKAGE: nodeRedPackage },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('Node-RED to start flows', async () => (log.includes('Started flows') ? true : undefined));
  });

  after(async () => {
    if (demo && demo.exitCode === null) {
      const exited = new Promise((r) => demo.once('exit', r));
      demo.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('serves the editor on 127.0.0.1 with this package loaded and no load errors', async () => {
    const nodes = (await (await fetch(`${editor}/nodes`, { headers: { Accept: 'application/json' } })).json()) as Array<{ id: string; enabled: boolean; err?: string; types: string[]; module: string; version: string }>;
    const ours = nodes.filter((n) => n.module === '@nr-twilio/node-red-twilio');
    assert.deepEqual(ours.map((n) => n.types).flat().sort(), ['twilio-config', 'twilio-delete', 'twilio-get', 'twilio-query', 'twilio-send', 'twilio-update']);
    for (const set of ours) assert.equal(set.err, undefined, `${set.id}: ${set.err}`);
    const expectedMajor = nodeRedPackage === 'node-red-5' ? 'v5.' : 'v4.';
    assert.ok(log.includes(`Node-RED version: ${expectedMajor}`), `runs Node-RED ${expectedMajor}`);
    const html = await (await fetch(`${editor}/nodes`, { headers: { Accept: 'text/html' } })).text();
    assert.match(html, /RED\.nodes\.registerType\('twilio-send'/);
    assert.match(html, /data-help-name="twilio-send"/);
    const icon = await fetch(`${editor}/icons/@nr-twilio/node-red-twilio/twilio-send.svg`);
    assert.equal(icon.status, 200);
  });

  it('runs every example flow against the simulator', async () => {
    for (const inject of ['a1inject00000001', 'a2inject00000001', 'a3inject00000001']) {
      assert.equal((await fetch(`${editor}/inject/${inject}`, { method: 'POST' })).status, 200);
    }
    const messages = await waitFor('three messages and a call', async () => {
      const m = (await (await fetch(`${simulator}/_sim/messages`)).json()) as Array<{ body: string; to: string }>;
      const c = (await (await fetch(`${simulator}/_sim/calls`)).json()) as unknown[];
      return m.length >= 3 && c.length >= 1 ? m : undefined;
    });
    assert.ok(messages.some((m) => m.body === 'Alert: the greenhouse is at 31 °C'));
    assert.equal(messages.filter((m) => m.body === '[ops] Disk 92% full on db-1').length, 2, 'the invalid test number is refused, the others sent');
  });

  it('keeps the demo credentials out of the flow file', () => {
    const flows = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
    assert.ok(!flows.includes('credentials'));
    assert.ok(!log.includes('demo-api-key-secret'));
  });
});
