/** The code keeps one style: prettier formats it and eslint (with TypeScript's rules) finds nothing. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
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

/**
 * Both tools key their caches on Node's version too, so a check on another Node (CI runs Node 20,
 * then Node 22) checks every file again: 20 s of CPU for the same verdict. What they read is hashed
 * here (every file but what both ignore, and their configurations and versions in package-lock.json);
 * content that both passed as it is now passes again without running them.
 */
const IGNORED = ['.git', 'node_modules', 'dist', 'resources', '.demo', '.cache', 'test-artifacts', path.join('bench', 'results')];
const { contentHash } = require(path.join(root, 'scripts', 'content-hash.js')) as {
  contentHash(root: string, options: { ignored: string[] }): string;
};
const passedStamp = path.join(root, '.cache', `style-passed-${locked}`);
const content = contentHash(root, { ignored: IGNORED });
const passedBefore = fs.existsSync(passedStamp) && fs.readFileSync(passedStamp, 'utf8') === content;
const samePassedBefore = (t: TestContext) => {
  assert.equal(fs.readFileSync(passedStamp, 'utf8'), content, 'every file is as it was when both tools last passed it');
  t.diagnostic('unchanged since both tools last passed it (on another Node, perhaps): not run again');
};

describe('code style', { concurrency: true }, () => {
  const passed: string[] = [];
  after(() => {
    if (passed.length < 2 || passedBefore) return;
    fs.mkdirSync(path.dirname(passedStamp), { recursive: true });
    fs.writeFileSync(passedStamp, content);
  });

  it('is as prettier formats it (npm run format)', async (t) => {
    if (passedBefore) return samePassedBefore(t);
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
    passed.push('prettier');
  });

  it('passes eslint', async (t) => {
    if (passedBefore) return samePassedBefore(t);
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
    passed.push('eslint');
  });
});
