/** The Node-RED Flow Library scorecard (node-red-dev validate, run offline by ../shared/tools/scorecard.js). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const scorecard = path.resolve(root, '..', 'shared', 'tools', 'scorecard.js');

describe('Flow Library scorecard', () => {
  it('passes every check', { skip: !fs.existsSync(scorecard) && 'shared/tools/scorecard.js is not beside the project' }, () => {
    const run = spawnSync(process.execPath, [scorecard], { cwd: root, encoding: 'utf8' });
    const summary = run.stdout.split('\n').find((l) => l.startsWith('scorecard:')) ?? '';
    assert.equal(run.status, 0, run.stdout.split('\n').filter((l) => l.startsWith('FAIL')).join('\n') || run.stderr);
    assert.match(summary, /, 0 failed/);
  });
});
