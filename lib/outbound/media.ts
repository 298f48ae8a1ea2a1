/**
 * MMS media from bytes: Twilio fetches a message's media from a public URL, so a photo a flow holds
 * (a Buffer from a camera, an http request or a file-in node, or a file under the folder settings.js
 * allows) is kept in the account's state engine and served at an unguessable URL until Twilio has
 * fetched it and the message reached a final status, or for 15 minutes, whichever comes first.
 *
 * - collectMedia: what a msg gives (URLs, Buffers, paths) checked before anything is kept or sent:
 *   Twilio's size limit (MEDIA_TOO_LARGE), the types it takes for MMS (MEDIA_TYPE_UNSUPPORTED, by the
 *   bytes' magic numbers), a path only under `twilio.mediaDir` (MEDIA_PATH_REFUSED).
 * - MediaShelf: one account's media in its engine, committed before the create request (so a restart
 *   before Twilio fetched it still serves it), bounded per account (MEDIA_STORE_FULL).
 * - serveMedia: GET and HEAD `<httpNodeRoot>/twilio/media/<token>`; the token (256 random bits) is
 *   looked up by its SHA-256, so a wrong or expired one gets the same 404 and nothing else.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeAPI } from 'node-red';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock } from '../core/clock';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { StateEngine } from '../state/engine';

/** Twilio's limit for one MMS, all its media together (its docs: 5 MB). */
export const MAX_MMS_BYTES = 5_000_000;
export const MAX_MEDIA_ITEMS = 10;
/** How long media is served at most. */
export const MEDIA_TTL_MS = 15 * 60_000;
/** What one account holds at most, all its media together, and how many items. */
export const MEDIA_HELD_MAX_BYTES = 64 * 1024 * 1024;
export const MEDIA_HELD_MAX_ITEMS = 1000;
/** Where media is served, under httpNodeRoot. */
export const MEDIA_ROUTE = '/twilio/media';
/** A message's statuses after which Twilio fetches nothing more. */
const FINAL_STATUSES = new Set(['delivered', 'undelivered', 'failed', 'read', 'canceled']);

const ITEM = 'media/item/';
const SIZE = 'media/size/';
const FETCHED = 'media/fetched/';
const FINAL = 'media/final/';

/** Media as bytes, with the type its magic number says. */
export interface MediaBytes {
  readonly bytes: Buffer;
  readonly type: string;
}

/** A message's media in the order given: a URL as it is, or bytes to serve. */
export type MediaEntry = string | MediaBytes;

/** The types Twilio formats for MMS delivery (and PDF, which it accepts), by their first bytes. */
const MAGIC: ReadonlyArray<[type: string, signature: number[]]> = [
  ['image/jpeg', [0xff, 0xd8, 0xff]],
  ['image/png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['image/gif', [0x47, 0x49, 0x46, 0x38, 0x37, 0x61]],
  ['image/gif', [0x47, 0x49, 0x46, 0x38, 0x39, 0x61]],
  ['application/pdf', [0x25, 0x50, 0x44, 0x46, 0x2d]],
];

/** The content type the bytes' magic number says; undefined for anything Twilio would not take. */
export function sniffType(bytes: Uint8Array): string | undefined {
  return MAGIC.find(([, signature]) => signature.length <= bytes.length && signature.every((b, i) => bytes[i] === b))?.[0];
}

const EXTENSIONS: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif', 'application/pdf': 'pdf' };

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const isUrl = (value: string) => /^https?:\/\//i.test(value);
/** A string with a scheme of its own (ftp:, file:, data:) is a URL, not a path: refused as one. */
const hasScheme = (value: string) => /^[a-z][a-z0-9+.-]*:/i.test(value) && !/^[a-z]:[\\/]/i.test(value);

const tooLarge = (size: number) =>
  new TwilioNodeError('MEDIA_TOO_LARGE', text('mediaTooLarge', { size: String(size), max: String(MAX_MMS_BYTES) }));
const refusedPath = (key: string, subs: Record<string, string> = {}) => new TwilioNodeError('MEDIA_PATH_REFUSED', text(key, subs));

/** Whether a media value holds anything but URLs (then it needs a public URL and the state engine). */
export function holdsBytes(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(holdsBytes);
  if (isBytes(value)) return true;
  return typeof value === 'string' && value.trim() !== '' && !isUrl(value.trim()) && !hasScheme(value.trim());
}

/**
 * A msg's media value as entries: URLs (a list, or one text of several split at commas and spaces, as
 * before), Buffers, and paths under `mediaDir`. Every check before anything is read in full: a
 * 100 MB Buffer is refused by its length, a file by its size.
 */
export async function collectMedia(value: unknown, mediaDir: string | undefined): Promise<MediaEntry[]> {
  const items = Array.isArray(value)
    ? (value as unknown[])
    : typeof value === 'string' && value.split(/[\s,]+/).every((part) => part === '' || isUrl(part) || hasScheme(part))
      ? value.split(/[\s,]+/)
      : [value];
  const given = items.filter((item) => !(typeof item === 'string' && item.trim() === '') && item !== undefined && item !== null);
  if (given.length > MAX_MEDIA_ITEMS)
    throw new TwilioNodeError('INVALID_INPUT', text('tooManyMedia', { max: MAX_MEDIA_ITEMS, count: given.length }));
  let total = 0;
  for (const item of given) if (isBytes(item)) total += item.length;
  if (total > MAX_MMS_BYTES) throw tooLarge(total);
  const entries: MediaEntry[] = [];
  for (const item of given) {
    if (isBytes(item)) entries.push(checked(Buffer.from(item.buffer, item.byteOffset, item.length)));
    else if (typeof item !== 'string') throw new TwilioNodeError('INVALID_INPUT', text('mediaValue', { type: typeof item }));
    else if (isUrl(item.trim()) || hasScheme(item.trim())) {
      if (!isUrl(item.trim())) throw new TwilioNodeError('INVALID_INPUT', text('httpUrl', { field: 'Media URL' }));
      entries.push(item.trim());
    } else {
      const bytes = await readAllowedFile(item, mediaDir, MAX_MMS_BYTES - total);
      total += bytes.length;
      entries.push(checked(bytes));
    }
  }
  return entries;
}

function checked(bytes: Buffer): MediaBytes {
  const type = sniffType(bytes);
  if (!type) throw new TwilioNodeError('MEDIA_TYPE_UNSUPPORTED', text('mediaType'));
  return { bytes, type };
}

/**
 * A file under `mediaDir` and nowhere else: no NUL, no `..`, the real path (symlinks followed) inside
 * the folder's real path, a regular file, opened without following a last symlink, its size read
 * from the open file (so it cannot grow past the check), at most `room` bytes.
 */
export async function readAllowedFile(given: string, mediaDir: string | undefined, room: number): Promise<Buffer> {
  if (!mediaDir) throw refusedPath('mediaNoFolder');
  if (given.includes('\0') || given.split(/[\\/]/).includes('..')) throw refusedPath('mediaOutside');
  let folder: string;
  try {
    folder = await fs.promises.realpath(mediaDir);
  } catch {
    throw refusedPath('mediaNotFound');
  }
  const inside = (candidate: string, base: string) => candidate.startsWith(base.endsWith(path.sep) ? base : base + path.sep);
  // Outside the folder (as written, or as its real path) is refused before the disk is asked about it:
  // whether a file exists elsewhere is nobody's business (a refusal may be texted back to a stranger).
  const candidate = path.resolve(folder, given);
  if (!inside(candidate, folder) && !inside(path.resolve(mediaDir, given), path.resolve(mediaDir))) throw refusedPath('mediaOutside');
  let real: string;
  try {
    real = await fs.promises.realpath(candidate);
  } catch {
    throw refusedPath('mediaNotFound');
  }
  if (!inside(real, folder)) throw refusedPath('mediaOutside');
  let handle: fs.promises.FileHandle;
  try {
    // Not following a last symlink, and never waiting on a FIFO (it is then refused as no regular file).
    handle = await fs.promises.open(real, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0));
  } catch {
    throw refusedPath('mediaNotFound');
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw refusedPath('mediaNotFound');
    if (stat.size > room) throw tooLarge(stat.size);
    const bytes = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(bytes, 0, stat.size, 0);
    return bytes.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A token's key: its SHA-256, so a lookup says nothing by how long it takes. */
const hashOf = (token: string) => crypto.createHash('sha256').update(token).digest('hex');
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

interface StoredMedia {
  /** base64 of the bytes (the engine stores JSON). */
  d: string;
  t: string;
  n: number;
  a: string;
}

/** Media held for one message: where each is served, and what to do once Twilio answered the create. */
export interface HeldMedia {
  /** The entries as URLs, in the order given. */
  readonly urls: string[];
  /** Keeps the bytes: before the create request. */
  commit(): Promise<void>;
  /** Twilio created this message: its media goes once fetched and the message is final. */
  sent(sid: string, status: string | undefined): void;
  /** Nothing was created: the media goes at once. */
  drop(): Promise<void>;
  /** A text (Twilio's error, which may quote a MediaUrl) with the tokens masked: a token is in no log line. */
  mask(text: string): string;
}

/** One account's media in its state engine. */
export class MediaShelf {
  /** Which media each message of this process sent (for its final status). */
  private readonly bySid = new Map<string, string[]>();

  constructor(
    readonly engine: StateEngine,
    private readonly accountSid: string,
  ) {}

  /**
   * Gives the entries' URLs under `base` at once (fresh tokens); `commit` keeps the bytes (committed
   * before it resolves, expiring in 15 minutes), refused with MEDIA_STORE_FULL when the account
   * already holds its share.
   */
  hold(entries: MediaEntry[], base: string): HeldMedia {
    const fresh: Array<[hash: string, entry: MediaBytes]> = [];
    const tokens: string[] = [];
    const urls = entries.map((entry) => {
      if (typeof entry === 'string') return entry;
      const token = crypto.randomBytes(32).toString('base64url');
      tokens.push(token);
      fresh.push([hashOf(token), entry]);
      return `${base.replace(/\/+$/, '')}${MEDIA_ROUTE}/${token}`;
    });
    const hashes = fresh.map(([hash]) => hash);
    return {
      urls,
      // One commit at a time per shelf: a burst's commits each checked the room the others were
      // about to take, and all were kept (40 photos of 5 MB held where 64 MiB is the bound).
      commit: () =>
        this.oneAtATime(async () => {
          if (fresh.length === 0) return;
          await this.checkRoom(
            fresh.reduce((sum, [, e]) => sum + e.bytes.length, 0),
            fresh.length,
          );
          // Room taken first, then counted again with it: another instance on the same Redis that
          // checked meanwhile sees it (two may both give theirs back; neither goes past the bound).
          for (const [hash, entry] of fresh)
            await this.engine.put(`${SIZE}${this.accountSid}/${hash}`, entry.bytes.length, { ttlMs: MEDIA_TTL_MS });
          try {
            await this.checkRoom(0, 0);
          } catch (err) {
            await Promise.all(fresh.map(([hash]) => this.engine.delete(`${SIZE}${this.accountSid}/${hash}`)));
            throw err;
          }
          for (const [hash, entry] of fresh) {
            const stored: StoredMedia = { d: entry.bytes.toString('base64'), t: entry.type, n: entry.bytes.length, a: this.accountSid };
            await this.engine.put(ITEM + hash, stored, { ttlMs: MEDIA_TTL_MS });
          }
        }),
      sent: (sid, status) => {
        this.bySid.set(sid, hashes);
        if (FINAL_STATUSES.has(status ?? '')) void this.finished(sid).catch(() => undefined);
      },
      drop: () => Promise.all(hashes.map((hash) => this.forget(hash))).then(() => undefined),
      mask: (text) => tokens.reduce((masked, token) => masked.split(token).join('…'), text),
    };
  }

  /** The commit running now (the room is checked and taken by one commit at a time). */
  private committing: Promise<void> = Promise.resolve();

  private oneAtATime(commit: () => Promise<void>): Promise<void> {
    const run = this.committing.then(commit);
    this.committing = run.catch(() => undefined);
    return run;
  }

  /** Stops waiting for a message's final status (its media expires by itself). */
  release(sid: string): void {
    this.bySid.delete(sid);
  }

  /** The Sids whose final status this shelf waits for. */
  get waiting(): string[] {
    return [...this.bySid.keys()];
  }

  /** A message status heard: once final, its media goes when Twilio has fetched it (or at once if it has). */
  async status(sid: string, status: string | undefined): Promise<void> {
    if (FINAL_STATUSES.has(status ?? '')) await this.finished(sid);
  }

  private async finished(sid: string): Promise<void> {
    const hashes = this.bySid.get(sid) ?? [];
    this.bySid.delete(sid);
    for (const hash of hashes) {
      if (await this.engine.get(FETCHED + hash)) await this.forget(hash);
      else await this.engine.put(FINAL + hash, true, { ttlMs: MEDIA_TTL_MS });
    }
  }

  /** Refuses when what is held and `bytes` more in `count` more items would pass the bound. */
  private async checkRoom(bytes: number, count: number): Promise<void> {
    const held = await this.engine.scan(`${SIZE}${this.accountSid}/`, MEDIA_HELD_MAX_ITEMS + 1);
    const total = held.reduce((sum, record) => sum + (typeof record.value === 'number' ? record.value : 0), bytes);
    if (total > MEDIA_HELD_MAX_BYTES || held.length + count > MEDIA_HELD_MAX_ITEMS)
      throw new TwilioNodeError('MEDIA_STORE_FULL', text('mediaStoreFull', { max: String(MEDIA_HELD_MAX_BYTES / 1024 / 1024) }));
  }

  async forget(hash: string): Promise<void> {
    const record = await this.engine.get(ITEM + hash);
    const account = (record?.value as StoredMedia | undefined)?.a ?? this.accountSid;
    await Promise.all([ITEM + hash, `${SIZE}${account}/${hash}`, FETCHED + hash, FINAL + hash].map((key) => this.engine.delete(key)));
  }
}

/** The shelves of this process, by engine and account. */
const shelves = new Map<StateEngine, Map<string, MediaShelf>>();
/**
 * The accounts whose nodes may send media, by Account SID (the newest config node of each): a media
 * request looks in their engines, opened only then (after a restart, before any node sent anything).
 * Each is the config node running now under that node's id: a deploy that removed every twilio-send
 * (a tab disabled) while Twilio had yet to fetch a photo left the closed node here, and the photo of a
 * message already created was a 404 (the MMS failed with 11200).
 */
const accounts = new Map<string, () => { state?: StateEngine } | undefined>();

/** The account's shelf in `engine` (one per engine and account in this process). */
export function mediaShelf(engine: StateEngine, accountSid: string): MediaShelf {
  let byAccount = shelves.get(engine);
  if (!byAccount) shelves.set(engine, (byAccount = new Map()));
  let shelf = byAccount.get(accountSid);
  if (!shelf) byAccount.set(accountSid, (shelf = new MediaShelf(engine, accountSid)));
  return shelf;
}

/** The media at `token` in any engine of this process; undefined when there is none (or it expired). */
async function lookUp(token: string): Promise<{ stored: StoredMedia; hash: string; engine: StateEngine } | undefined> {
  if (!TOKEN.test(token)) return undefined;
  const hash = hashOf(token);
  const engines = new Set<StateEngine>();
  for (const current of accounts.values()) {
    const engine = current()?.state; // undefined once closed
    if (engine) engines.add(engine);
  }
  for (const engine of engines) {
    const record = await engine.get(ITEM + hash).catch(() => undefined);
    const stored = record?.value as StoredMedia | undefined;
    if (stored && typeof stored.d === 'string' && typeof stored.t === 'string') return { stored, hash, engine };
  }
  return undefined;
}

/** What a GET or HEAD of a media URL gets; the one 404 for anything else there is to say. */
export async function answerMedia(method: string, token: string, res: ServerResponse): Promise<void> {
  // Bytes a stranger may have chosen, on Node-RED's origin: nothing in them runs, loads or frames there.
  const common = {
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'; sandbox",
  };
  if (method !== 'GET' && method !== 'HEAD') {
    res.writeHead(405, { ...common, Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
    return void res.end('Method Not Allowed');
  }
  const found = await lookUp(token).catch(() => undefined);
  if (!found) {
    res.writeHead(404, { ...common, 'Content-Type': 'text/plain' });
    return void res.end('Not Found');
  }
  const { stored, hash, engine } = found;
  const bytes = Buffer.from(stored.d, 'base64');
  res.writeHead(200, {
    ...common,
    'Content-Type': stored.t,
    'Content-Length': String(bytes.length),
    // A PDF (which a viewer may script) is downloaded, never opened on this origin; Twilio reads only the type.
    'Content-Disposition': `${stored.t.startsWith('image/') ? 'inline' : 'attachment'}; filename="media.${EXTENSIONS[stored.t] ?? 'bin'}"`,
  });
  res.end(method === 'HEAD' ? undefined : bytes);
  if (method === 'GET') await fetched(engine, stored.a, hash).catch(() => undefined);
}

/** Twilio fetched it: it goes now if its message is final already, else once it is. */
async function fetched(engine: StateEngine, accountSid: string, hash: string): Promise<void> {
  if (await engine.get(FINAL + hash)) return mediaShelf(engine, accountSid).forget(hash);
  await engine.put(FETCHED + hash, true, { ttlMs: MEDIA_TTL_MS });
}

type Handler = (req: IncomingMessage & { params: { token: string } }, res: ServerResponse, next?: () => void) => void;
interface ExpressLike {
  all(route: string, ...handlers: Handler[]): void;
  path?: () => string;
}
const served = new WeakSet<object>();

/** Mounts the media route on RED.httpNode once (its handlers outlive a redeploy, as the engines do), behind httpNodeMiddleware as twilio-in's routes are. */
export function serveMedia(RED: NodeAPI): void {
  const app = RED.httpNode as unknown as ExpressLike | undefined;
  if (!app || typeof app.all !== 'function' || served.has(app)) return;
  served.add(app);
  const middleware = (RED.settings as unknown as { httpNodeMiddleware?: unknown } | undefined)?.httpNodeMiddleware;
  const before = (typeof middleware === 'function' ? [middleware] : Array.isArray(middleware) ? middleware : []) as Handler[];
  app.all(
    `${MEDIA_ROUTE}/:token`,
    ...before,
    (req, res) => void answerMedia(req.method ?? 'GET', String(req.params.token), res).catch(() => res.destroy()),
  );
}

/** The URL base media is served under: the public base URL with httpNodeRoot after it. */
export function mediaBase(RED: NodeAPI, publicBase: string): string {
  const mount = (RED.httpNode as unknown as ExpressLike | undefined)?.path?.() ?? '';
  return `${publicBase.replace(/\/+$/, '')}${mount === '/' ? '' : mount.replace(/\/+$/, '')}`;
}

/** What a send needs to hold media: where it is served, where it is kept, and what may be read. */
export interface MediaSending {
  /** settings.js `twilio: { mediaDir }`: the one folder paths may name. */
  readonly mediaDir?: string;
  /** The public base URL (with httpNodeRoot) media is served under; undefined: MEDIA_NEEDS_PUBLIC_URL. */
  base(): string | undefined;
  /** The account's shelf; undefined when its state engine is not open. */
  shelf(): MediaShelf | undefined;
  /** Hears a message's statuses (a twilio-in's receipts, or its polls); returns how to stop. */
  watch?(sid: string, listener: (status: string | undefined) => void): () => void;
}

/** The config node running now with the id of `account` (a deploy replaces it), or `account` itself. */
function runningAccount<A extends { state?: StateEngine; id?: unknown }>(RED: NodeAPI, account: A): () => A | undefined {
  const id = typeof account.id === 'string' ? account.id : undefined;
  return () => {
    if (id === undefined) return account;
    const running = RED.nodes?.getNode?.(id) as unknown as A | null | undefined;
    return running ?? account;
  };
}

/** The media sending of an account, with the settings.js folder and a public base URL if one is set. */
export function mediaSending(
  RED: NodeAPI,
  account: { id?: string; state?: StateEngine; accountSid: string; publicBaseUrl?: string } | undefined,
  receiverBase?: () => string | undefined,
  watch?: MediaSending['watch'],
): MediaSending {
  const settings = (RED.settings as unknown as { twilio?: { mediaDir?: unknown } } | undefined)?.twilio;
  if (account?.accountSid) accounts.set(account.accountSid, runningAccount(RED, account));
  return {
    mediaDir: typeof settings?.mediaDir === 'string' && settings.mediaDir !== '' ? settings.mediaDir : undefined,
    base: () => {
      const base = receiverBase?.() || account?.publicBaseUrl;
      return base ? mediaBase(RED, base) : undefined;
    },
    shelf: () => (account?.state ? mediaShelf(account.state, account.accountSid) : undefined),
    watch,
  };
}

/**
 * A msg's media value as it is sent: undefined when it is all URLs (sent as before); otherwise the
 * bytes checked and given URLs (to commit before the create). Refused before anything is sent:
 * no public URL (MEDIA_NEEDS_PUBLIC_URL), no state engine (STATE_UNAVAILABLE), and every check of
 * collectMedia.
 */
export async function prepareMedia(value: unknown, sending: MediaSending | undefined): Promise<HeldMedia | undefined> {
  if (!holdsBytes(value)) return undefined;
  // What the value is first (a mistyped URL reads as a path: MEDIA_PATH_REFUSED says what a path needs).
  const entries = await collectMedia(value, sending?.mediaDir);
  const base = sending?.base();
  if (!base) throw new TwilioNodeError('MEDIA_NEEDS_PUBLIC_URL', text('mediaNeedsPublicUrl'));
  const shelf = sending?.shelf();
  if (!shelf) throw new TwilioNodeError('STATE_UNAVAILABLE', text('stateNotOpen'));
  return shelf.hold(entries, base);
}

/** Once Twilio answered the creates: each message's media goes when fetched and final; with none created, at once. */
export function afterCreates(
  held: HeldMedia,
  created: Iterable<{ sid?: unknown; status?: unknown }>,
  sending: MediaSending | undefined,
): void {
  let any = false;
  for (const record of created) {
    if (typeof record.sid !== 'string') continue;
    any = true;
    const sid = record.sid;
    const status = typeof record.status === 'string' ? record.status : undefined;
    // Final already (a failure Twilio knew at once): it goes once fetched. No way to hear its
    // statuses: it goes after its 15 minutes, and nothing is remembered of it meanwhile.
    if (FINAL_STATUSES.has(status ?? '') || !sending?.watch) {
      if (FINAL_STATUSES.has(status ?? '')) held.sent(sid, status);
      continue;
    }
    held.sent(sid, status);
    const shelf = sending.shelf();
    // Heard until final, 15 minutes at most (the media has expired by then).
    const timer = systemClock.setTimeout(() => {
      stop();
      shelf?.release(sid);
    }, MEDIA_TTL_MS);
    const stop = sending.watch(sid, (heard) => {
      if (!FINAL_STATUSES.has(heard ?? '')) return;
      systemClock.clearTimeout(timer);
      stop();
      void shelf?.status(sid, heard).catch(() => undefined);
    });
  }
  if (!any) void held.drop().catch(() => undefined);
}
