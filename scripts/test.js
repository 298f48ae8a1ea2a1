#!/usr/bin/env node
// Runs every compiled test file with Node's built-in test runner, on the Node-RED major that fits
// this Node (see test/support/harness.ts), and ends with the runner's own summary.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const testDir = path.resolve(__dirname, '..', 'dist', 'test');
const only = process.argv.slice(2);
// The longest files (a browser, whole Node-RED processes, waiting in real time) start first, so the
// short ones fill the gaps around them instead of leaving a long one to run alone at the end.
const LONGEST_FIRST = ['editor/', 'process/', 'attacks-24/', 'attacks-22/', 'conformance/'];
const startsEarly = (file) => {
  const at = LONGEST_FIRST.findIndex((folder) => file.split(path.sep).join('/').startsWith(folder));
  return at === -1 ? LONGEST_FIRST.length : at;
};
// Tests are grouped as the code is: unit/ (mirrors lib/), nodes/ (a real runtime per node), process/
// (whole Node-RED processes), conformance/, editor/, package/, simulator/.
const files = fs
  .readdirSync(testDir, { recursive: true })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort((a, b) => startsEarly(a) - startsEarly(b) || a.localeCompare(b))
  .map((f) => path.join(testDir, f));
const nodeRed = process.env.NODE_RED_PACKAGE || (Number(process.versions.node.split('.')[0]) >= 22 ? 'node-red-5' : 'node-red');
console.log(`test: Node ${process.version}, ${nodeRed} ${require(`${nodeRed}/package.json`).version}, ${files.length} files`);
const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (!fs.existsSync(chromium))
  console.log(`test: no browser at ${chromium}, so the editor tests are skipped: apt-get install chromium (or set CHROMIUM_PATH)`);
const redisServer = (process.env.PATH || '').split(path.delimiter).some((dir) => fs.existsSync(path.join(dir, 'redis-server')));
if (!process.env.REDIS_SERVER_PATH && !redisServer)
  console.log('test: no redis-server on the PATH, so the Redis state engine tests are skipped: apt-get install redis-server');
// A hung test fails after 5 minutes instead of holding CI to its limit.
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=6', '--test-timeout=300000', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(run.status === null ? 1 : run.status);
