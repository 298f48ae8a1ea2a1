#!/usr/bin/env node
// The Node-RED Flow Library scorecard for this package: `node-red-dev validate` (a devDependency) on
// the project folder, with the Flow Library's own catalogue answered offline (flow-library-offline.js;
// P08 and N01, which compare names with the published catalogue, are then vacuous). Run after
// `npm run build`. Prints every check and a summary line; exits 1 if a check fails.
//   usage: node scripts/scorecard.js [--json FILE]
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const validator = require.resolve('node-red-dev/bin/run', { paths: [root] });
const jsonFlag = process.argv.indexOf('--json');
// Without --json the report goes to a directory of its own, removed as this script exits.
const tempDir = jsonFlag > 0 ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'scorecard-'));
if (tempDir) process.on('exit', () => fs.rmSync(tempDir, { recursive: true, force: true }));
const report = tempDir ? path.join(tempDir, 'scorecard.json') : path.resolve(process.argv[jsonFlag + 1]);

const run = spawnSync(process.execPath, ['-r', path.join(__dirname, 'flow-library-offline.js'), validator, 'validate', '-o', report], {
  cwd: root,
  encoding: 'utf8',
});
process.stdout.write(run.stdout ?? '');
process.stderr.write(run.stderr ?? '');
if (!fs.existsSync(report)) {
  console.error('scorecard: node-red-dev wrote no scorecard');
  process.exit(1);
}
const checks = Object.entries(JSON.parse(fs.readFileSync(report, 'utf8'))).filter(([name]) => name !== 'package');
const failed = checks.filter(([, result]) => !(result && result.test === true));
for (const [name, result] of checks) console.log(`${failed.some(([f]) => f === name) ? 'FAIL' : 'pass'} ${name} ${JSON.stringify(result)}`);
console.log(`scorecard: ${checks.length - failed.length} passed, ${failed.length} failed (P08 and N01 offline: vacuous)`);
process.exit(failed.length > 0 ? 1 : 0);
