/** The code keeps one style: prettier formats it and eslint (with TypeScript's rules) finds nothing. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { root } from '../support/paths';

/** Runs a tool's command-line script from node_modules (eslint exports no path to its own bin). */
const run = (bin: string, args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'node_modules', bin), ...args], { cwd: root, encoding: 'utf8' });

describe('code style', () => {
  it('is as prettier formats it (npm run format)', () => {
    const check = run('prettier/bin/prettier.cjs', ['--check', '.']);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });

  it('passes eslint', () => {
    const lint = run('eslint/bin/eslint.js', ['--max-warnings', '0', '.']);
    assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  });
});
