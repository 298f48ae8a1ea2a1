/**
 * twilio-in: receives what Twilio tells the account (incoming messages and calls, status callbacks),
 * either on a POST route of Node-RED's HTTP server (webhook: lib/inbound/webhook-receiver) or by
 * looking every few seconds (poll: lib/inbound/poll-receiver). Both publish on the account's inbound
 * path in lib; this node sends on what no one there took as its own.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { findAccount } from '../../lib/account/account';
import { DuplicateWindow } from '../../lib/inbound/dedupe';
import type { InboundMsg, ReceiverCallbacks } from '../../lib/inbound/inbound-message';
import { PollReceiver, PollSettings } from '../../lib/inbound/poll-receiver';
import { BODY_TIMEOUT_MS, mountWebhookRoute, publicWebhookUrl } from '../../lib/inbound/route';
import { WebhookReceiver, WebhookSettings, fallbackTwiml } from '../../lib/inbound/webhook-receiver';
import { parseHostList } from '../../lib/inbound/webhook';
import { upgradeConfig } from '../../lib/node-red/config-version';
import type { KeyValueStore } from '../../lib/node-red/context';
import { NodeStateSettings, nodeState } from '../../lib/account/node-state';
import { watchStateHealth } from '../../lib/account/state-health';
import { nodeStatus } from '../../lib/node-red/status';
import { resolveEnvReferences } from '../../lib/node-red/typed-fields';
import { LIMITS, seconds } from '../../lib/twilio/values';
import { registerConnectEndpoints } from './admin';

export interface TwilioInDef extends NodeDef, NodeStateSettings {
  account: string;
  path: string;
  publicBaseUrl: string;
  trustProxy: boolean;
  /** Without a public URL: hosts a request may name besides this machine's own ("home.example.com, x.example.net:8443"). */
  hosts?: string;
  validate: boolean;
  reply: 'auto' | 'flow';
  replyTimeout: number | string;
  /** What to answer when no reply comes in time: nothing (empty TwiML), a message, a spoken text, or TwiML. */
  fallback?: 'empty' | 'message' | 'say' | 'twiml';
  fallbackText?: string;
  dedupe: boolean;
  dedupeWindow: number | string;
  /** How Twilio's news arrives: Twilio calls our route (webhook), or we look every few seconds (poll). */
  receive?: 'webhook' | 'poll';
  /** Polling: one of the account's numbers, or empty for all of them. */
  pollNumber?: string;
  pollCalls?: boolean;
  pollInterval?: number | string;
}

export interface TwilioInNode extends Node {
  /** The URL Twilio should call, when a public base URL is set: for status callbacks and numbers. */
  publicUrl(): string | undefined;
  publicBase?(): string | undefined;
  /** Whether what it receives reaches the account's other nodes (a webhook with the signature check on). */
  feedsInboundPath: boolean;
}

/** Tokens remembered at most: a broadcast's receipts, or a stranger's fresh tokens, cannot grow it further. */
const DEDUPE_CAPACITY = 100_000;

/** Polling, as configured; out of bounds (a flow written by hand): the nearest interval allowed, never a flood of requests. */
function pollSettings(def: TwilioInDef, store: KeyValueStore): PollSettings {
  const interval = Math.min(Math.max(seconds(def.pollInterval, 10), LIMITS.pollSeconds.min), LIMITS.pollSeconds.max);
  return { store, to: def.pollNumber?.trim() || undefined, calls: def.pollCalls === true, intervalMs: interval * 1000 };
}

/** The port settings.js has Node-RED listen on (uiPort), when it names one. */
function uiPorts(RED: NodeAPI): number[] {
  const port = Number((RED.settings as unknown as { uiPort?: unknown }).uiPort);
  return Number.isInteger(port) && port > 0 && port < 65536 ? [port] : [];
}

/** The webhook route, as configured (and as settings.js may bound how long a body takes: `twilioInBodyTimeout` in ms). */
function webhookSettings(
  RED: NodeAPI,
  node: Node,
  def: TwilioInDef,
  path: string,
  publicBaseUrl: () => string | undefined,
  store: KeyValueStore,
): WebhookSettings {
  const dedupe = { windowMs: seconds(def.dedupeWindow, 600) * 1000, capacity: DEDUPE_CAPACITY, prefix: 'twilio-in-dedupe' };
  return {
    path,
    validate: def.validate !== false,
    publicBaseUrl,
    trustProxy: def.trustProxy === true,
    hosts: () => parseHostList(resolveEnvReferences(RED, node, def.hosts)),
    ports: () => uiPorts(RED),
    duplicates: def.dedupe === false || def.validate !== false ? undefined : new DuplicateWindow(store, dedupe),
    tokenWindowMs: def.dedupe === false ? 0 : dedupe.windowMs,
    reply: def.reply,
    replyTimeoutMs: Math.min(seconds(def.replyTimeout, 10), LIMITS.replyWaitSeconds.max) * 1000,
    fallback: fallbackTwiml(def.fallback, def.fallbackText),
    bodyTimeoutMs: Number((RED.settings as unknown as { twilioInBodyTimeout?: unknown }).twilioInBodyTimeout) || BODY_TIMEOUT_MS,
  };
}

module.exports = function registerTwilioIn(RED: NodeAPI): void {
  function TwilioIn(this: TwilioInNode, def: TwilioInDef): void {
    RED.nodes.createNode(this, def);
    def = upgradeConfig('twilio-in', def);
    const node = this;
    const status = nodeStatus(RED, node);
    const account = findAccount(RED, def.account);
    const polling = def.receive === 'poll';
    const path = def.path?.startsWith('/') ? def.path : `/${def.path ?? ''}`;
    const state = nodeState(RED, node, account, def);
    const store = state.store;
    const health = watchStateHealth(account, state, status);
    const publicBaseUrl = () => resolveEnvReferences(RED, node, def.publicBaseUrl) || undefined;
    node.feedsInboundPath = !polling && def.validate !== false;
    node.publicUrl = () => {
      const base = polling ? undefined : publicBaseUrl(); // a polling node has no route
      return base ? publicWebhookUrl(RED, base, path) : undefined;
    };
    node.publicBase = () => (polling ? undefined : publicBaseUrl()); // where a twilio-send's MMS media is served
    const callbacks: ReceiverCallbacks = {
      status,
      emit: (msg: InboundMsg) => node.send({ _msgid: RED.util.generateId(), ...msg } as NodeMessageInFlow),
      warn: (key, subs) => node.warn(RED._(key, subs)),
    };

    let close: () => Promise<void> | void;
    if (polling) {
      if (!account) status.failed('twilio-in.status.noAccount');
      const receiver = account && new PollReceiver(account, pollSettings(def, store), { ...callbacks, log: (key) => node.log(RED._(key)) });
      close = () => receiver?.close();
    } else {
      const receiver = new WebhookReceiver(account, webhookSettings(RED, node, def, path, publicBaseUrl, store), callbacks);
      const route = mountWebhookRoute(RED, path, (req, res) => void receiver.handle(req, res));
      close = () => {
        receiver.close();
        route.remove();
      };
    }

    node.on('close', (removed: boolean, done: () => void) => {
      health.stop();
      void Promise.resolve(close())
        .then(() => (removed ? state.forget() : undefined))
        .catch((err: Error) => node.warn(err.message))
        .finally(() => {
          status.clear();
          done();
        });
    });
  }

  RED.nodes.registerType('twilio-in', TwilioIn);

  registerConnectEndpoints(RED);
};
