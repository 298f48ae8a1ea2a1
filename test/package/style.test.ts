/** The code keeps one style: prettier formats it and eslint (with TypeScript's rules) finds nothing. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { root } from '../support/paths';

/** Runs a tool's command-line script from node_modules (eslint exports no path to its own bin). */
const run = (bin: string, args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'node_modules', bin), ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });

/**
 * Each tool keeps a cache in .cache/ (git and both tools ignore it) keyed on every file's content and
 * the tool's version and configuration (eslint's rules here are per file, without type information):
 * a file unchanged since the last check is not checked again, and any change is. The cache is one per
 * package-lock.json, so a plugin upgraded under the same configuration checks every file again. Both
 * run at once.
 */
const locked = crypto
  .createHash('sha256')
  .update(fs.readFileSync(path.join(root, 'package-lock.json')))
  .digest('hex')
  .slice(0, 16);
const cache = (tool: string) => path.join(root, '.cache', `${tool}-${locked}`);

describe('code style', { concurrency: true }, () => {
  it('is as prettier formats it (npm run format)', async () => {
    const check = await run('prettier/bin/prettier.cjs', [
      '--check',
      '--cache',
      '--cache-strategy',
      'content',
      '--cache-location',
      path.join(cache('prettier'), '.prettier-cache'),
      '.',
    ]);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });

  it('passes eslint', async () => {
    const lint = await run('eslint/bin/eslint.js', [
      '--max-warnings',
      '0',
      '--cache',
      '--cache-strategy',
      'content',
      '--cache-location',
      `${cache('eslint')}/`,
      '.',
    ]);
    assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  });
});
