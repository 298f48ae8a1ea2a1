/**
 * What twilio-page's settings mean, without Node-RED: the escalation ladder, the alert and the all
 * clear, the calls' voice and machine detection, and where the key presses go.
 */
import { StepAction, escalationPolicy } from './escalation';
import type { PagerOptions } from './pager';

/** The settings of a twilio-page node these read (part of TwilioPageDef). */
export interface PageDefinition {
  /** Each contact's ladder: what to do, and how long to wait for an acknowledgement after it. */
  steps?: Array<{ action: StepAction; wait: number | string }>;
  rounds?: number | string;
  /** The alert, texted and said: the node's own text, a template. */
  alert?: string;
  voice?: string;
  language?: string;
  ackKey?: string;
  ackWords?: string;
  /** Machine detection: voicemail answers go on to the next step. */
  skipVoicemail?: boolean;
  /** A twilio-in with a public URL that receives the key presses (without one, calls ask for a text). */
  keysNode?: string;
  /** Texted, when a page is cancelled, to those already alerted (empty: nothing). */
  allClear?: string;
}

/** A twilio-in as twilio-page sees it: whether it passes signed requests on, and its public URL. */
export interface KeysReceiver {
  publicUrl?: () => string | undefined;
  feedsInboundPath?: boolean;
}

/** The Pager's options of these settings; `receiver` finds a node by its id (RED.nodes.getNode). */
export function pageSettings(
  def: PageDefinition,
  receiver: (id: string) => KeysReceiver | null | undefined,
): Pick<PagerOptions, 'policy' | 'alert' | 'allClear' | 'keysUrl' | 'voice' | 'language' | 'machineDetection'> {
  return {
    policy: escalationPolicy(def),
    alert: def.alert ?? '',
    allClear: def.allClear,
    keysUrl: () => keysUrl(def.keysNode ? receiver(def.keysNode) : undefined),
    voice: def.voice,
    language: def.language,
    machineDetection: def.skipVoicemail !== false,
  };
}

/** The URL key presses go to: the chosen twilio-in's public URL, when it has one. */
export function keysUrl(receiver: KeysReceiver | null | undefined): string | undefined {
  // A twilio-in that does not check signatures passes nothing on: asking to press a key would be a lie.
  if (!receiver?.feedsInboundPath) return undefined;
  return receiver.publicUrl?.();
}
