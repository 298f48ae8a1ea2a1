/**
 * What a stand-in account needs for its inbound path: a real embedded state engine in a temp dir
 * (closed and removed after the file's tests) and an Account SID of its own per call, so each
 * stand-in account has its own hub and its own memory of what it heard.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { EmbeddedStateEngine } from '../../../lib/state/embedded';
import type { WebhookSettings } from '../../../lib/inbound/webhook-receiver';
import { EMPTY_TWIML } from '../../../lib/twilio/twiml';

/** The file's engine: opened as the file loads, closed after its last test (an after() at the top level). */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-inbound-'));
const engine = new EmbeddedStateEngine({ dir });
after(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

export function testEngine(): EmbeddedStateEngine {
  return engine;
}

/** `{ accountSid, state }` for a stand-in account: a fresh Account SID on the file's engine. */
export function standInState(): { accountSid: string; state: EmbeddedStateEngine } {
  return { accountSid: 'AC' + crypto.randomBytes(16).toString('hex'), state: engine };
}

/** A webhook route's settings as twilio-in's defaults make them (on /hook, checked, answered at once), with `overrides`. */
export function webhookSettings(overrides: Partial<WebhookSettings> = {}): WebhookSettings {
  return {
    path: '/hook',
    validate: true,
    publicBaseUrl: () => undefined,
    trustProxy: false,
    reply: 'auto',
    replyTimeoutMs: 5_000,
    fallback: EMPTY_TWIML,
    bodyTimeoutMs: 10_000,
    ...overrides,
  };
}
