/**
 * The Redis backend, for several Node-RED instances on one Redis (ioredis; `redis://` or `rediss://`,
 * with a password in the URL or the options). Every guarded step is ONE Lua script, which Redis runs
 * alone: compare-and-set, claims, the lease's fencing check on each guarded write, and takeDue (the
 * script that removes a due timer from the sorted set is the one that hands it out, so each goes to
 * exactly one taker). Expiry is read by the engine's Clock (so every instance and the tests agree on
 * it); each expiring key also carries Redis's own PX for the same span, so Redis drops it itself.
 * A claim is therefore a script rather than a bare `SET NX PX`: it must also see a key the Clock
 * says has expired. Versions and fencing tokens come from INCR counters: they never repeat.
 * Durable as the server is configured (AOF with fsync for a crash of Redis itself). Events are
 * pub/sub: heard by instances connected at the time, not replayed. Keys are plain (not Cluster
 * hash-tagged): one Redis server or a primary with replicas.
 */
import type { ConnectionOptions } from 'node:tls';
import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../core/clock';
import { TwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import type { DueTimer, EngineGuarantees, Lease, StateEngine, StoredRecord, WriteOptions } from './engine';
import { decodeRecord, expiryOf, isLive, toJson } from './envelope';

export interface RedisOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://…` (TLS). */
  url: string;
  password?: string;
  /** TLS options beyond what `rediss://` turns on (e.g. the `ca` of a private server). */
  tls?: ConnectionOptions;
  /** What every key starts with, so deployments can share a server; `nr-twilio:` by default. */
  prefix?: string;
  clock?: Clock;
  /** Connection errors (ioredis reconnects by itself); a command in flight rejects meanwhile. */
  onError?: (err: Error) => void;
  /** Reconnection backoff: the first delay, doubled each attempt up to `maxMs` (default 100 ms … 5 s), with jitter. */
  backoff?: { firstMs?: number; maxMs?: number };
}

/** Whether the engine's server is reachable; `reason` (no secret in it) when it is not. */
export interface StateHealth {
  readonly up: boolean;
  readonly reason?: string;
}

/** An engine whose store can be unreachable (Redis): it says when it goes and when it returns. */
export interface HealthReporting {
  readonly health: StateHealth;
  /** Hears every change (down, then up again); returns how to stop. */
  onHealth(listener: (health: StateHealth) => void): () => void;
}

/** Whether `engine` reports its health (only a networked backend does). */
export function reportsHealth(engine: object): engine is HealthReporting {
  return typeof (engine as Partial<HealthReporting>).onHealth === 'function';
}

/** A URL's password (`redis://:secret@host`) masked, for anything shown. */
export const redactUrl = (message: string): string =>
  message.replace(/(rediss?:\/\/[^:@/\s]*:)[^@\s]*@/g, '$1***@').replace(/(rediss?:\/\/[^\s?]*\?(?:[^\s]*&)?password=)[^&\s]*/gi, '$1***');

/** Whether a Redis URL carries a password as the client reads one: `:pw@`, or a `password` in its query (ioredis takes both). */
export const urlCarriesPassword = (url: string): boolean =>
  /^rediss?:\/\/[^/@\s]*:[^@\s]*@/i.test(url) || /^rediss?:\/\/[^\s?]*\?(?:[^\s]*&)?password=/i.test(url);

/** An error that says the server could not be reached or would not serve (not a caller's mistake, not a reply to the command). */
function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|^(NOAUTH|WRONGPASS|LOADING|MASTERDOWN)/.test(
    err.message,
  );
}

/** The Lua helpers every script shares: a record's version (0 when absent, expired or damaged) and the fence check. */
const HELPERS = `
local function stored(k)
  local s = redis.pcall('GET', k)
  if type(s) == 'table' then return '' end
  return s
end
local function version_of(s, now)
  if not s then return 0 end
  local v, e = string.match(s, '^(%d+) (%d*)\\n')
  if not v then return 0 end
  if e ~= '' and tonumber(e) <= now then return 0 end
  return tonumber(v)
end
local function fenced(leaseKey, token, now)
  local held = redis.call('GET', leaseKey)
  if not held then return false end
  local t, e = string.match(held, '^(%d+) (%d+) ')
  return t == token and tonumber(e) > now
end
`;

const SCRIPTS = {
  // KEYS: record, sequence, key index, lease, expiries, record prefix. ARGV: key, JSON, now, expiresAt|'', ifVersion|'', token|'', ttl|''
  statePut: {
    keys: 6,
    lua: `${HELPERS}
local now = tonumber(ARGV[3])
if ARGV[5] ~= '' and version_of(stored(KEYS[1]), now) ~= tonumber(ARGV[5]) then return false end
if ARGV[6] ~= '' and not fenced(KEYS[4], ARGV[6], now) then return false end
-- Records expired by the Clock leave the key index (and Redis) a few at a time, as writes come.
local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 8)
for _, k in ipairs(expired) do
  redis.call('ZREM', KEYS[5], k)
  redis.call('ZREM', KEYS[3], k)
  redis.call('DEL', KEYS[6] .. k)
end
local v = redis.call('INCR', KEYS[2])
local text = v .. ' ' .. ARGV[4] .. '\\n' .. ARGV[2]
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[1], text, 'PX', ARGV[7])
  redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
else
  redis.call('SET', KEYS[1], text)
  redis.call('ZREM', KEYS[5], ARGV[1])
end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return v`,
  },
  // KEYS: record, key index, lease, expiries. ARGV: key, now, ifVersion|'', token|''
  stateDelete: {
    keys: 4,
    lua: `${HELPERS}
local now = tonumber(ARGV[2])
local v = version_of(stored(KEYS[1]), now)
if v == 0 or (ARGV[3] ~= '' and v ~= tonumber(ARGV[3])) then return 0 end
if ARGV[4] ~= '' and not fenced(KEYS[3], ARGV[4], now) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1`,
  },
  // KEYS: lease, fence counter. ARGV: holder, now, expiresAt, ttl
  stateLease: {
    keys: 2,
    lua: `
local held = redis.call('GET', KEYS[1])
local token
if held then
  local t, e, h = string.match(held, '^(%d+) (%d+) (.*)$')
  if t and tonumber(e) > tonumber(ARGV[2]) then
    if h ~= ARGV[1] then return false end
    token = t
  end
end
if not token then token = redis.call('INCR', KEYS[2]) end
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[3] .. ' ' .. ARGV[1], 'PX', ARGV[4])
return tonumber(token)`,
  },
  // KEYS: lease. ARGV: token, holder, expiresAt, ttl
  stateRenew: {
    keys: 1,
    lua: `
local held = redis.call('GET', KEYS[1])
if not held or string.match(held, '^(%d+) ') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[3] .. ' ' .. ARGV[2], 'PX', ARGV[4])
return 1`,
  },
  // KEYS: lease. ARGV: token
  stateRelease: {
    keys: 1,
    lua: `
local held = redis.call('GET', KEYS[1])
if not held or string.match(held, '^(%d+) ') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`,
  },
  // KEYS: timers. ARGV: now, limit. Whoever's script removes an entry owns it.
  stateTakeDue: {
    keys: 1,
    lua: `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #due, 2 do redis.call('ZREM', KEYS[1], due[i]) end
return due`,
  },
} as const;

type Scripts = { [name in keyof typeof SCRIPTS]: (...args: (string | number)[]) => Promise<unknown> };

export class RedisStateEngine implements StateEngine {
  readonly backend = 'redis';
  readonly guarantees: EngineGuarantees = { durable: 'server', instances: 'many' };
  private readonly clock: Clock;
  private readonly prefix: string;
  private readonly redis: Redis;
  private subscriber: Redis | undefined;
  private readonly listeners = new Map<string, Set<(message: unknown) => void>>();
  /** 'starting' until the first connection is ready (commands wait for it, within one reconnection). */
  private state: 'starting' | 'up' | 'down' = 'starting';
  private reason = '';
  private closing = false;
  private readonly healthListeners = new Set<(health: StateHealth) => void>();

  constructor(private readonly options: RedisOptions) {
    this.clock = options.clock ?? systemClock;
    this.prefix = options.prefix ?? 'nr-twilio:';
    const first = options.backoff?.firstMs ?? 100;
    const max = options.backoff?.maxMs ?? 5_000;
    // ioredis loads with the first Redis engine: a Node-RED on the embedded store never loads it.
    const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
    this.redis = this.connect(
      new RedisClient(options.url, {
        ...(options.password ? { password: options.password } : {}),
        ...(options.tls ? { tls: options.tls } : {}),
        // Reconnects for ever, backing off (with jitter, so instances do not all come back at once).
        retryStrategy: (attempt: number) => Math.round(Math.min(max, first * 2 ** Math.min(attempt - 1, 16)) * (0.8 + Math.random() * 0.4)),
        // A command never queues for ever: before the first connection it waits one reconnection at most;
        // once the server has gone, the engine refuses at once (guard), and ioredis gives up after one retry.
        maxRetriesPerRequest: 1,
        // A command in flight when the connection broke is not sent again: its caller hears STATE_UNAVAILABLE.
        autoResendUnfulfilledCommands: false,
        connectTimeout: 5_000,
      }),
    );
    this.redis.on('ready', () => this.setHealth(true));
    this.redis.on('error', (err: Error) => {
      this.reason = redactUrl(err.message || err.name);
      if (this.redis.status !== 'ready') this.setHealth(false);
    });
    this.redis.on('close', () => this.setHealth(false));
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) this.redis.defineCommand(name, { numberOfKeys: keys, lua });
  }

  get health(): StateHealth {
    return this.state === 'down' ? { up: false, reason: this.reason || 'connection closed' } : { up: true };
  }

  onHealth(listener: (health: StateHealth) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  private setHealth(up: boolean): void {
    if (this.closing) return;
    const next = up ? 'up' : 'down';
    if (this.state === next || (!up && this.state === 'starting' && this.redis.status === 'connecting' && !this.reason)) return;
    this.state = next;
    if (up) this.reason = '';
    const health = this.health;
    for (const listener of [...this.healthListeners]) {
      try {
        listener(health);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Runs a command: refused at once while the server is known to be down, its connection failure a coded STATE_UNAVAILABLE. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.state === 'down') throw this.unavailable();
    try {
      return await work();
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      if (!this.reason) this.reason = redactUrl((err as Error).message);
      throw this.unavailable((err as Error).message);
    }
  }

  private unavailable(message?: string): TwilioNodeError {
    return new TwilioNodeError(
      'STATE_UNAVAILABLE',
      text('redisDown', { message: redactUrl(message || this.health.reason || 'connection closed') }),
    );
  }

  async get(key: string): Promise<StoredRecord | undefined> {
    return this.guard(async () => {
      let stored: string | null;
      try {
        stored = await this.redis.get(this.recordKey(key));
      } catch (err) {
        // A key of another type put there by hand is damaged, not an error of the caller's.
        if (/WRONGTYPE/.test(String(err))) return { key, value: undefined, version: 0 };
        throw err;
      }
      const record = stored === null ? undefined : decodeRecord(key, stored);
      return isLive(record, this.clock.now()) ? record : undefined;
    });
  }

  async put(key: string, value: unknown, options: WriteOptions = {}): Promise<number | undefined> {
    return this.guard(async () => {
      const now = this.clock.now();
      const expiresAt = expiryOf(now, options.ttlMs);
      const version = await this.scripts.statePut(
        this.recordKey(key),
        this.key('sequence'),
        this.key('keys'),
        this.key(`lease:${options.fence?.name ?? ''}`),
        this.key('expiries'),
        this.recordKey(''),
        key,
        toJson(value),
        now,
        expiresAt ?? '',
        options.ifVersion ?? '',
        options.fence?.token ?? '',
        expiresAt === undefined ? '' : expiresAt - now,
      );
      return version === null ? undefined : Number(version);
    });
  }

  async delete(key: string, options: Omit<WriteOptions, 'ttlMs'> = {}): Promise<boolean> {
    return this.guard(async () => {
      const deleted = await this.scripts.stateDelete(
        this.recordKey(key),
        this.key('keys'),
        this.key(`lease:${options.fence?.name ?? ''}`),
        this.key('expiries'),
        key,
        this.clock.now(),
        options.ifVersion ?? '',
        options.fence?.token ?? '',
      );
      return deleted === 1;
    });
  }

  async claim(key: string, ttlMs: number, value: unknown = true): Promise<boolean> {
    return (await this.put(key, value, { ttlMs, ifVersion: 0 })) !== undefined;
  }

  async scan(prefix: string, limit: number, after?: string): Promise<StoredRecord[]> {
    return this.guard(async () => {
      const found: StoredRecord[] = [];
      let from: Buffer = Buffer.from(after === undefined ? `[${prefix}` : `(${after}`);
      const to = Buffer.concat([Buffer.from(`[${prefix}`), Buffer.from([0xff])]);
      while (found.length < limit) {
        const keys = await this.redis.zrangebylex(this.key('keys'), from, to, 'LIMIT', 0, Math.max(limit, 16));
        if (keys.length === 0) break;
        const stored = await this.redis.mget(...keys.map((key) => this.recordKey(key)));
        const gone: string[] = [];
        const now = this.clock.now();
        keys.forEach((key, i) => {
          const record = stored[i] === null ? undefined : decodeRecord(key, stored[i]);
          if (record === undefined) gone.push(key);
          else if (isLive(record, now) && found.length < limit) found.push(record);
        });
        // Keys Redis expired by itself leave the index here, as they are met.
        if (gone.length > 0) await this.redis.zrem(this.key('keys'), ...gone);
        from = Buffer.from(`(${keys[keys.length - 1]}`);
      }
      return found;
    });
  }

  async lease(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    return this.guard(async () => {
      const now = this.clock.now();
      const expiresAt = expiryOf(now, ttlMs)!;
      const token = await this.scripts.stateLease(
        this.key(`lease:${name}`),
        this.key(`fence:${name}`),
        holder,
        now,
        expiresAt,
        expiresAt - now,
      );
      return token === null ? undefined : { name, holder, token: Number(token), expiresAt };
    });
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    return this.guard(async () => {
      const now = this.clock.now();
      const expiresAt = expiryOf(now, ttlMs)!;
      const renewed = await this.scripts.stateRenew(this.key(`lease:${lease.name}`), lease.token, lease.holder, expiresAt, expiresAt - now);
      return renewed === 1 ? { ...lease, expiresAt } : undefined;
    });
  }

  async release(lease: Lease): Promise<boolean> {
    return this.guard(async () => {
      return (await this.scripts.stateRelease(this.key(`lease:${lease.name}`), lease.token)) === 1;
    });
  }

  async schedule(key: string, dueAt: number): Promise<void> {
    return this.guard(async () => {
      await this.redis.zadd(this.key('timers'), dueAt, key);
    });
  }

  async unschedule(key: string): Promise<boolean> {
    return this.guard(async () => {
      return (await this.redis.zrem(this.key('timers'), key)) === 1;
    });
  }

  async takeDue(now: number, limit: number): Promise<DueTimer[]> {
    return this.guard(async () => {
      const flat = (await this.scripts.stateTakeDue(this.key('timers'), now, limit)) as string[];
      const taken: DueTimer[] = [];
      for (let i = 0; i < flat.length; i += 2) taken.push({ key: flat[i], dueAt: Number(flat[i + 1]) });
      return taken;
    });
  }

  async publish(channel: string, message: unknown): Promise<void> {
    return this.guard(async () => {
      await this.redis.publish(this.key(`events:${channel}`), toJson(message));
    });
  }

  async subscribe(channel: string, listener: (message: unknown) => void): Promise<() => Promise<void>> {
    return this.guard(async () => {
      const subscriber = this.subscriber ?? this.openSubscriber();
      const wire = this.key(`events:${channel}`);
      let set = this.listeners.get(wire);
      if (!set) {
        this.listeners.set(wire, (set = new Set()));
        await subscriber.subscribe(wire);
      }
      const wrapped = (message: unknown) => listener(message);
      set.add(wrapped);
      return async () => {
        set.delete(wrapped);
        if (set.size === 0 && this.listeners.get(wire) === set) {
          this.listeners.delete(wire);
          await subscriber.unsubscribe(wire);
        }
      };
    });
  }

  async close(): Promise<void> {
    // Closed on purpose: no "down" to report.
    this.closing = true;
    this.healthListeners.clear();
    await Promise.all([this.redis, this.subscriber].filter((c) => c !== undefined).map((c) => c.quit().catch(() => c.disconnect())));
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  private recordKey(key: string): string {
    return this.key(`r:${key}`);
  }

  private connect(client: Redis): Redis {
    client.on('error', (err: Error) => this.options.onError?.(err));
    return client;
  }

  private openSubscriber(): Redis {
    const subscriber = (this.subscriber = this.connect(this.redis.duplicate()));
    subscriber.on('message', (wire: string, text: string) => {
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch {
        message = text;
      }
      for (const listener of [...(this.listeners.get(wire) ?? [])]) {
        try {
          listener(message);
        } catch {
          // One listener's failure is not the others'.
        }
      }
    });
    return subscriber;
  }
}
