/**
 * What an account has heard, remembered durably in the account's state engine: an event Twilio tells
 * us about (by a signed webhook or by a poll) is taken the first time only. It is a duplicate when its
 * identity was heard before (what Twilio signs: the message's or call's Sid, its status, a key press's
 * Digits or SpeechResult with the route it was posted to, a call step's SequenceNumber: see
 * `eventIdentity`), or when its delivery token (`I-Twilio-Idempotency-Token`, which Twilio does not
 * sign: anyone holding a captured webhook can change it) was.
 *
 * Each is one `claim` (first wins, atomic across every instance on one store, with expiry): O(1) per
 * event (three claims for a new webhook: identity, signature, token; one for a replay, which writes nothing), bounded by the expiry. Keys are keyed by the Account SID, so every account node of one
 * Twilio account in this Node-RED, and every Node-RED on one Redis, shares the memory. What a
 * stranger controls (identities, tokens) is hashed before it becomes part of a key: fixed length,
 * nothing a store could read as a path or a pattern.
 */
import crypto from 'node:crypto';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { StateEngine } from '../state/engine';

/**
 * How long an identity is remembered: 30 days. A signed webhook carries no timestamp, so a captured
 * one stays valid; for as long as it is remembered, a replay answers nothing. 30 days is twice the
 * longest wait a node can hold (a question or an outcome of up to 14 days), and as long as a poller
 * remembers the Sids it handed on (poll-receiver.ts) and a stored poll mark may be old: a text heard
 * by webhook is never handed on again by a poll. It costs one small record per event for 30 days
 * (about 200 bytes in the embedded store: a million events a month is about 200 MB), expired records
 * swept as new ones are written.
 */
export const HEARD_MEMORY_MS = 30 * 24 * 60 * 60_000;

/**
 * The engine could not say whether an event was heard before (it is closed, unreachable, or could not
 * open): STATE_UNAVAILABLE (a poll's status line shows the code; the engine's own error is not passed on).
 */
export class HeardUnknownError extends TwilioNodeError {
  constructor() {
    super('STATE_UNAVAILABLE', text('stateNotOpen'));
    this.name = 'HeardUnknownError';
  }
}

/** A fixed-length, key-safe digest of a text a stranger may control. */
export const digest = (text: string): string => crypto.createHash('sha256').update(text).digest('base64url').slice(0, 22);

/** Where an account's memory of what it heard lives in its engine. */
export const heardPrefix = (accountSid: string): string => `inbound/${digest(accountSid)}/`;

/** The events channel of an account: every instance's hub hears what another one heard for its Sid subscribers. */
export const inboundChannel = (accountSid: string): string => `inbound/${digest(accountSid)}`;

export interface DeliveryToken {
  value: string;
  /** How long it is remembered (the node's duplicate window). */
  windowMs: number;
}

/**
 * True the first time an event is heard on this account (and remembers it); false for a duplicate:
 * its identity was heard within HEARD_MEMORY_MS, or its delivery token within its window. Rejects with
 * HeardUnknownError when the engine cannot answer: the caller must not hand the event on (a webhook
 * answers 503, so Twilio tries again later; a poll looks again later).
 *
 * A claim is made before the event is handed on: a crash between the two (or a claim whose answer was
 * lost) drops that one event rather than handing on twice; a "yes" is never taken twice.
 */
export async function heardFirst(
  engine: StateEngine | undefined,
  accountSid: string,
  identity: string | undefined,
  token?: DeliveryToken,
  signature?: string,
): Promise<boolean> {
  if (!engine) throw new HeardUnknownError();
  const prefix = heardPrefix(accountSid);
  const claim = (key: string, ttlMs: number) =>
    engine.claim(key, ttlMs).catch(() => {
      throw new HeardUnknownError();
    });
  // Twilio signs key+value with no separator: a captured request re-split at a boundary
  // (MessageSid=SMxNumMedia0) keeps its signature but not its identity, as does a body signed by its
  // hash posted under another Content-Type. The signature is the same for every such variant: claimed
  // first, so a replay of any of them stops there and writes nothing. The caller leaves it out only
  // for what Twilio signs alike twice (a request within a call, a <Redirect> loop: told apart by tokens).
  if (signature && !(await claim(`${prefix}s/${digest(signature)}`, HEARD_MEMORY_MS))) return false;
  // Then the identity: the same event by another way (a poll, a retry Twilio signed again) stops there.
  if (identity !== undefined && !(await claim(`${prefix}e/${digest(identity)}`, HEARD_MEMORY_MS))) return false;
  if (token && token.value && token.windowMs > 0) return claim(`${prefix}t/${digest(token.value)}`, token.windowMs);
  return true;
}
