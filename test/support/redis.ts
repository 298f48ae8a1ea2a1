/**
 * A throwaway redis-server for the Redis backend's tests and bench: 127.0.0.1, a free port, no
 * persistence, stopped after. Where Debian's redis-server is not installed, `noRedis` says why, and
 * the tests that need it are skipped with that message (.ci/run installs it).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from './prism';

const REDIS_SERVER =
  process.env.REDIS_SERVER_PATH ||
  (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, 'redis-server'))
    .find((file) => fs.existsSync(file));

export const noRedis = REDIS_SERVER
  ? undefined
  : "no redis-server on the PATH: install Debian's (apt-get install redis-server) or set REDIS_SERVER_PATH";

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/** `args`: more redis-server options, e.g. `['--requirepass', 'secret']`. */
export async function startRedis(args: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    REDIS_SERVER!,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${seen}`)), 10_000);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${seen}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (/Ready to accept connections/.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stdout!.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * A suite that needs something the machine may lack (redis-server, openssl): without it, one skipped
 * test with the reason, so the runner's summary counts it as skipped (a skipped describe counts nothing).
 */
export function suiteNeeding(missing: string | undefined, name: string, fn: () => void, options: { timeout?: number } = {}): void {
  if (missing) it(name, { skip: missing }, () => undefined);
  else describe(name, options, fn);
}

/** The process id of the redis-server at `url` (started by startRedis), to stop (SIGSTOP) and continue it as a stall does. */
export function redisPidOf(url: string): number {
  const port = new URL(url).port;
  return Number(
    execFileSync('pgrep', ['-f', `redis-server 127.0.0.1:${port}`])
      .toString()
      .trim()
      .split('\n')[0],
  );
}
