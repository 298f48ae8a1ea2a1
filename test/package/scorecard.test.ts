/** The Node-RED Flow Library scorecard (node-red-dev validate, through scripts/scorecard.js). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { root } from '../support/paths';

describe('Flow Library scorecard', () => {
  it('passes every check', () => {
    const run = spawnSync(process.execPath, [path.join(root, 'scripts', 'scorecard.js')], { cwd: root, encoding: 'utf8' });
    const lines = run.stdout.split('\n');
    const summary = lines.find((l) => l.startsWith('scorecard:')) ?? '';
    assert.equal(run.status, 0, lines.filter((l) => l.startsWith('FAIL')).join('\n') || run.stderr);
    assert.match(summary, /^scorecard: (\d+) passed, 0 failed/);
    assert.ok(Number(/(\d+) passed/.exec(summary)![1]) >= 10, summary);
  });
});
