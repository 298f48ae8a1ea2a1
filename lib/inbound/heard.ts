/**
 * What an account has heard, remembered durably in the account's state engine: an event Twilio tells
 * us about (by a signed webhook or by a poll) is taken the first time only. It is a duplicate when its
 * identity was heard before (what Twilio signs: the message's or call's Sid, its status, a key press's
 * Digits or SpeechResult with the route it was posted to, a call step's SequenceNumber: see
 * `eventIdentity`), or when its delivery token (`I-Twilio-Idempotency-Token`, which Twilio does not
 * sign: anyone holding a captured webhook can change it) was.
 *
 * Each is one `claim` (first wins, atomic across every instance on one store, with expiry): O(1) per
 * event (three claims and two writes for a new webhook: its signature, identity and token; one claim
 * and one read for a replay, which writes nothing), bounded by the expiry. An identity is claimed as being taken, and marked heard once the
 * event was handed on (`handedOn`): a claim left "being taken" by a taker that is gone (a previous run
 * of this Node-RED, an instance whose lease expired: a crash, a power cut between the two), or for
 * TAKEOVER_MS, goes to the next arrival of the event (Twilio's retry, a poll, even a
 * replay: it was never handed on), by compare-and-set, so to one of them only. Keys are keyed by the Account SID, so every account node of one
 * Twilio account in this Node-RED, and every Node-RED on one Redis, shares the memory. What a
 * stranger controls (identities, tokens) is hashed before it becomes part of a key: fixed length,
 * nothing a store could read as a path or a pattern.
 */
import crypto from 'node:crypto';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { StateEngine } from '../state/engine';
import { systemClock } from '../core/clock';
import { instanceId, presenceOn } from '../state/instance';

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
 * How long an identity may stay "being taken" before its taker is presumed dead: well past Twilio's
 * 15 s webhook timeout and a slow hand-off, well under a restart's time to come back and poll again.
 */
export const TAKEOVER_MS = 60_000;

/** What an identity's claim holds while its event is being handed on. */
interface Taking {
  taking: number;
  /** The instance (process) taking it: one that is gone (a previous run, an instance whose lease expired) left it for good. */
  by?: string;
  /** The delivery token's digest: Twilio's own retry of the same delivery carries the same one. */
  token?: string;
}

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
 * A claim is made before the event is handed on, and the caller says `handedOn` after: a crash between
 * the two leaves the claim "being taken", and the next arrival of the event after TAKEOVER_MS (Twilio's
 * retry, the next poll) takes it. A "yes" is never taken twice while its first taker is alive.
 */
export async function heardFirst(
  engine: StateEngine | undefined,
  accountSid: string,
  identity: string | undefined,
  token?: DeliveryToken,
  now: number = systemClock.now(),
  signature?: string,
): Promise<boolean> {
  if (!engine) throw new HeardUnknownError();
  const prefix = heardPrefix(accountSid);
  const unknown = () => {
    throw new HeardUnknownError();
  };
  // Claimed in this instance's name once its lease is held: until then, another would find it gone.
  const presence = presenceOn(engine);
  if (presence.shared) await presence.ready().catch(unknown);
  const mine: Taking = { taking: now, by: instanceId, ...(token?.value ? { token: digest(token.value) } : {}) };
  // Twilio signs key+value with no separator: a captured request re-split at a boundary
  // (MessageSid=SMxNumMedia0) keeps its signature but not its identity, as does a body signed by its
  // hash posted under another Content-Type. The signature is the same for every such variant: claimed
  // first (as the identity is: taken over when its taker died), so a replay of any of them stops there
  // and writes nothing. The caller leaves it out only for what Twilio signs alike twice (a request
  // within a call, a <Redirect> loop: told apart by their tokens).
  let signatureKey: string | undefined;
  if (signature) {
    signatureKey = `${prefix}s/${digest(signature)}`;
    if (!(await engine.claim(signatureKey, HEARD_MEMORY_MS, mine).catch(unknown)) && !(await takeOver(engine, signatureKey, mine)))
      return false;
  }
  // The identity: a replay (a fresh token on what was heard) or the same event by a poll stops there.
  if (identity !== undefined) {
    const key = `${prefix}e/${digest(identity)}`;
    if (!(await engine.claim(key, HEARD_MEMORY_MS, mine).catch(unknown))) {
      const taken = await takeOver(engine, key, mine);
      // Another arrival (a poll) is taking the event: this delivery lets its signature go, so Twilio's
      // retry of it is judged as it was (a duplicate), not asked to come back while the claim lasts.
      if (!taken && signatureKey) await letGo(engine, signatureKey, mine);
      return taken;
    }
  }
  if (token && token.value && token.windowMs > 0) return engine.claim(`${prefix}t/${digest(token.value)}`, token.windowMs).catch(unknown);
  return true;
}

/**
 * An identity claimed before: a duplicate, unless its taker never said it was handed on and is
 * presumed dead (TAKEOVER_MS): then this arrival takes it, if no other one did first. Twilio's retry
 * of a delivery still being taken is asked to come back later (a 503), never answered as a duplicate.
 */
async function takeOver(engine: StateEngine, key: string, mine: Taking): Promise<boolean> {
  const record = await engine.get(key).catch(() => {
    throw new HeardUnknownError();
  });
  const value = record?.value as Partial<Taking> | undefined;
  // Heard (handed on), or a record that is not ours to read: a duplicate, on the safe side.
  if (!record || typeof value !== 'object' || value === null || typeof value.taking !== 'number') return false;
  // Its taker is gone when it was a previous run of this Node-RED (after a power cut, the event's
  // next arrival is taken at once) or an instance whose lease expired; or when it took too long.
  const gone =
    mine.taking - value.taking >= TAKEOVER_MS ||
    (typeof value.by === 'string' &&
      value.by !== instanceId &&
      (await presenceOn(engine)
        .isGone(value.by)
        .catch(() => false)));
  if (!gone) {
    if (mine.token !== undefined && value.token === mine.token) throw new HeardUnknownError();
    return false;
  }
  const taken = await engine.put(key, mine, { ttlMs: HEARD_MEMORY_MS, ifVersion: record.version }).catch(() => {
    throw new HeardUnknownError();
  });
  return taken !== undefined;
}

/**
 * An event claimed by heardFirst (at `taking`, by this process) that its taker then did not hand on
 * (it stopped first): the claim is given back, so the next arrival takes it at once, not after
 * TAKEOVER_MS. Best effort.
 */
export async function notHandedOn(
  engine: StateEngine | undefined,
  accountSid: string,
  identity: string | undefined,
  taking: number,
): Promise<void> {
  if (!engine || identity === undefined) return;
  await letGo(engine, `${heardPrefix(accountSid)}e/${digest(identity)}`, { taking, by: instanceId });
}

/** Deletes a claim this arrival made (still as it wrote it), as if it had not come. Best effort. */
async function letGo(engine: StateEngine, key: string, mine: Taking): Promise<void> {
  const record = await engine.get(key).catch(() => undefined);
  const value = record?.value as Partial<Taking> | undefined;
  if (record && value?.by === mine.by && value?.taking === mine.taking && value?.token === mine.token)
    await engine.delete(key, { ifVersion: record.version }).catch(() => undefined);
}

/**
 * The event heard first (heardFirst) was handed on: its identity is heard for good. Best effort: if
 * the engine cannot take it now, the claim stays "being taken" and a later arrival after TAKEOVER_MS
 * is handed on again (at least once, never lost). False when a write failed (the caller may say it again).
 */
export async function handedOn(
  engine: StateEngine | undefined,
  accountSid: string,
  identity: string | undefined,
  signature?: string,
): Promise<boolean> {
  if (!engine) return false;
  const heard = (key: string) =>
    engine.put(key, { heard: true }, { ttlMs: HEARD_MEMORY_MS }).then(
      (version) => version !== undefined,
      () => false,
    );
  const prefix = heardPrefix(accountSid);
  const written = await Promise.all([
    identity === undefined ? true : heard(`${prefix}e/${digest(identity)}`),
    signature ? heard(`${prefix}s/${digest(signature)}`) : true,
  ]);
  return written.every(Boolean);
}
