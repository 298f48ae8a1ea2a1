/**
 * What twilio-ask's settings mean, without Node-RED: its answer rules and their problems, the mode,
 * what a reply that matches nothing does, the timeout (bounded); the status of its open questions;
 * and the check that some twilio-in feeds the account (without one, no answer can come).
 */
import { Clock, systemClock } from '../core/clock';
import type { NodeStatus } from '../node-red/status';
import { LIMITS, seconds } from '../twilio/values';
import { answerProblem } from './answers';
import type { AskingOptions, LabelledAnswer } from './asking';

/** The settings of a twilio-ask node these read (part of TwilioAskDef). */
export interface AskDefinition {
  answers?: LabelledAnswer[];
  /** Seconds to wait for a reply. */
  timeout?: number | string;
  /** Several recipients: the first valid answer wins (`first`), or every answer goes out (`each`). */
  mode?: 'first' | 'each';
  /** A reply that matches no answer ends that person's question (`end`, the default), or it keeps waiting (`wait`). */
  anythingElse?: 'end' | 'wait';
  /** `first`: what the others are told once someone answered (the node's own text, a template). */
  tellOthers?: string;
}

export interface AskSettings {
  /** "<rule>: <problem>" for each answer rule with a problem (it keeps its output, the outputs after it stay as wired, and matches nothing). */
  problems: string[];
  /** Asking's options of these settings. */
  asking: Pick<AskingOptions, 'answers' | 'mode' | 'anythingElse' | 'timeoutMs' | 'tellOthers'>;
}

export function askSettings(def: AskDefinition): AskSettings {
  const answers = def.answers ?? [];
  return {
    problems: answers.flatMap((a) => (answerProblem(a) ? [`${a.value}: ${answerProblem(a)}`] : [])),
    asking: {
      answers,
      mode: def.mode === 'first' ? 'first' : 'each',
      anythingElse: def.anythingElse === 'wait' ? 'wait' : 'end',
      timeoutMs: Math.min(seconds(def.timeout, 3600), LIMITS.askWaitSeconds.max) * 1000,
      tellOthers: def.tellOthers,
    },
  };
}

/** The status: how many questions are open and the nearest deadline, or none open. */
export function showOpen(status: Pick<NodeStatus, 'success' | 'working'>, summary: { open: number; nearest: number }): void {
  if (summary.open === 0) status.success('twilio-ask.status.idle');
  else status.working('twilio-ask.status.open', { count: summary.open, time: new Date(summary.nearest).toLocaleTimeString() });
}

/**
 * Calls `warn` a second after the start (when the account's twilio-in nodes have started too) if
 * none feeds `hub`; the answer stops the check.
 */
export function warnWithoutInbound(hub: { sources: number } | undefined, warn: () => void, clock: Clock = systemClock): () => void {
  const timer = clock.setTimeout(() => hub?.sources === 0 && warn(), 1000);
  return () => clock.clearTimeout(timer);
}
