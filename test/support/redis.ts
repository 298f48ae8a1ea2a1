/**
 * A throwaway redis-server for the Redis backend's tests and bench: 127.0.0.1, a free port, no
 * persistence, stopped after. Where Debian's redis-server is not installed, `noRedis` says why, and
 * the tests that need it are skipped with that message (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
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
