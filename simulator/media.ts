/**
 * The simulator's MMS media fetch: before an MMS leaves, Twilio fetches each MediaUrl (a HEAD and a
 * GET, following no redirect) and checks its Content-Type and size; a fetch that fails makes the
 * message fail (11200 HTTP retrieval failure, 12300 Invalid Content-Type, 30019 too large). What it
 * fetched is kept here (bytes, type, size) so tests and the demo see the photo arrive. Like the
 * webhooks, it only ever calls this machine: any other URL is recorded as skipped, never requested.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { TwilioRecord } from './resources';
import type { StatusStep } from './people';
import { isLoopback } from './webhooks';

/** Twilio's MMS limit, all media of a message together. */
const MAX_BYTES = 5_000_000;
const TIMEOUT_MS = 10_000;
/** The types Twilio takes for MMS (those it formats, and a few it passes on). */
const ACCEPTED = new Set(['image/jpeg', 'image/jpg', 'image/png', 'image/gif', 'image/bmp', 'application/pdf', 'video/mp4', 'audio/mpeg']);
/** Fetches remembered at most (the oldest go first). */
const KEPT = 200;

export interface FetchedMedia {
  messageSid: string;
  url: string;
  /** HTTP status of the GET; 0 when it never answered. */
  status: number;
  /** Whether the HEAD before it answered 200 with the same Content-Type. */
  head?: number;
  contentType?: string;
  size: number;
  sha256?: string;
  /** The bytes (not in the JSON of /_sim/fetched-media). */
  bytes?: Buffer;
  skipped?: string;
  error?: string;
  at: number;
}

/** Why a message's media failed, as Twilio says it. */
export interface MediaFailure {
  code: number;
  message: string;
}

function request(method: 'GET' | 'HEAD', url: string, room: number): Promise<{ status: number; type?: string; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, timeout: TIMEOUT_MS, headers: { 'User-Agent': 'TwilioProxy/1.1' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > room) return req.destroy(Object.assign(new Error('too large'), { tooLarge: true }));
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export class MediaFetcher {
  readonly fetched: FetchedMedia[] = [];
  /** How long after the create Twilio fetches (0: at once; a test of a restart before the fetch sets more). */
  delayMs = 0;

  /** What was fetched for one message, in MediaUrl order. */
  of(messageSid: string): FetchedMedia[] {
    return this.fetched.filter((f) => f.messageSid === messageSid);
  }

  /** Waits before a fetch, cut short by a reset (the fetch then does not happen). */
  private readonly waiting = new Set<() => void>();

  reset(): void {
    this.fetched.length = 0;
    for (const cut of [...this.waiting]) cut();
  }

  toJSON(): object[] {
    return this.fetched.map(({ bytes: _bytes, ...rest }) => rest);
  }

  /**
   * Fetches a message's media as Twilio does; the failure that fails the message, if any. Media
   * records of the message (collection `media`) get the type fetched.
   */
  async fetchFor(message: TwilioRecord, urls: string[], mediaRecords: Iterable<TwilioRecord>): Promise<MediaFailure | undefined> {
    if (urls.length === 0) return undefined;
    if (this.delayMs > 0 && !(await this.wait(this.delayMs))) return undefined;
    const sid = String(message.sid);
    const records = [...mediaRecords].filter((r) => r.parent_sid === sid);
    let room = MAX_BYTES;
    for (const [i, url] of urls.entries()) {
      const entry: FetchedMedia = { messageSid: sid, url, status: 0, size: 0, at: Date.now() };
      this.keep(entry);
      if (!isLoopback(url)) {
        entry.skipped = 'not on this machine';
        continue;
      }
      try {
        const head = await request('HEAD', url, 0);
        entry.head = head.status;
        const got = await request('GET', url, room);
        Object.assign(entry, { status: got.status, contentType: got.type, size: got.bytes.length, bytes: got.bytes });
        entry.sha256 = crypto.createHash('sha256').update(got.bytes).digest('hex');
        if (got.status !== 200 || head.status !== 200) return { code: 11200, message: 'HTTP retrieval failure' };
        const type = String(got.type ?? '')
          .split(';')[0]
          .trim()
          .toLowerCase();
        if (!ACCEPTED.has(type) || head.type !== got.type) return { code: 12300, message: 'Invalid Content-Type' };
        room -= got.bytes.length;
        if (records[i]) records[i].content_type = type;
      } catch (err) {
        entry.error = (err as Error).message;
        if ((err as { tooLarge?: boolean }).tooLarge) return { code: 30019, message: 'Content size exceeds carrier limit' };
        return { code: 11200, message: 'HTTP retrieval failure' };
      }
    }
    return undefined;
  }

  /** True after `ms`; false when a reset cut it short. */
  private wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const cut = () => {
        clearTimeout(timer);
        this.waiting.delete(cut);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.waiting.delete(cut);
        resolve(true);
      }, ms);
      this.waiting.add(cut);
    });
  }

  private keep(entry: FetchedMedia): void {
    this.fetched.push(entry);
    if (this.fetched.length > KEPT) this.fetched.splice(0, this.fetched.length - KEPT);
  }
}

/** A message whose media Twilio could not fetch fails, with the code saying why. */
export function mediaFailedSteps(message: TwilioRecord, failure: MediaFailure, now: string): StatusStep[] {
  return [
    {
      fields: { status: 'failed', date_sent: now, error_code: failure.code, error_message: failure.message },
      callback: {
        MessageSid: String(message.sid),
        SmsSid: String(message.sid),
        MessageStatus: 'failed',
        SmsStatus: 'failed',
        ErrorCode: String(failure.code),
      },
    },
  ];
}
