#!/usr/bin/env node
// Runs every compiled test file with Node's built-in test runner, on the Node-RED major that fits
// this Node (see test/support/harness.ts), and ends with the runner's own summary.
'use strict';
const fs = require('fs');
const path = require('path');
const { run } = require('node:test');
const { spec } = require('node:test/reporters');

const testDir = path.resolve(__dirname, '..', 'dist', 'test');
const only = process.argv.slice(2);
// The longest files (a browser, whole Node-RED processes, waiting in real time) start first, so the
// short ones fill the gaps around them instead of leaving a long one to run alone at the end. These
// are the longest of a full run (about 13 to 75 s each on 2 cores), longest first; then the folders
// whose files are long. `node --test <files>` sorts the files by name whatever order it is given,
// so the runner is started through run(), which keeps this order.
const LONGEST_FILES = [
  'process/twilio-page.power-cut',
  'attacks-24/operator-media',
  'editor/editor',
  'process/twilio-ask.power-cut',
  'attacks-22/operator',
  'process/twilio-send.power-cut',
  'attacks-22/reconcile-and-switch',
  'attacks-26/operator-cancel-power-cut',
  'process/several-instances',
  'process/demo',
  'attacks-24/operator-redis-stall',
  'attacks-25/redeploy-during-look',
  'attacks-24/operator-all-clear',
  'attacks-25/ask-during-look',
  'attacks-24/operator-media-cap',
  'nodes/twilio-in.poll',
  'attacks-24/operator-reconcile',
  'attacks-25/redeploy-during-look-page',
  'process/twilio-in.attacks',
  'attacks-25/kill-during-look',
  'attacks-26/page-cancel-redis',
  'process/twilio-page.removal',
  'attacks-26/page-cancel-ends-once',
  'attacks-29/kill-during-burst',
  'conformance/conformance',
  // Not long, but busy (eslint and prettier over every file; 20,000 polled texts), so not left for the end.
  'package/style',
  'unit/inbound/poller',
];
const LONGEST_FIRST = ['editor/', 'process/', 'attacks-25/', 'attacks-24/', 'attacks-22/', 'conformance/', 'nodes/'];
const startsEarly = (file) => {
  const name = file.split(path.sep).join('/');
  const long = LONGEST_FILES.indexOf(name.replace(/\.test\.js$/, ''));
  if (long !== -1) return long;
  const at = LONGEST_FIRST.findIndex((folder) => name.startsWith(folder));
  return LONGEST_FILES.length + (at === -1 ? LONGEST_FIRST.length : at);
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
// Node 22 keeps the code it compiled for each module (node-red, twilio, the package) in .cache/ for
// the next process that loads it: every test file and every red.js a test starts (they inherit this
// environment). A module whose source changed is compiled again.
process.env.NODE_COMPILE_CACHE = process.env.NODE_COMPILE_CACHE || path.resolve(__dirname, '..', '.cache', 'node-compile');
// Every test process (and what it starts) loads these first: see each file. Node 20, which has no
// compile cache of its own, gets one.
const preloads = ['untracked-promises.js', ...(require('module').enableCompileCache ? [] : ['compile-cache.js'])];
for (const preload of preloads.map((file) => `--require "${path.join(__dirname, file)}"`))
  if (!(process.env.NODE_OPTIONS || '').includes(preload)) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS || ''} ${preload}`.trim();
// Twelve files at once on 2 cores: the longest files mostly wait (a process starting, a lease running
// out, a page's step), and with eight at once they held every slot for their first minute while the
// cores idled (a full run on Node 20: 168 s with eight, 138 s with twelve, 137 s with fourteen).
// A hung test fails after 5 minutes instead of holding CI to its limit.
const stream = run({ files, concurrency: 12, timeout: 300_000 });
// The run fails as `node --test` would: a test failed (not a todo one), or the summary counts a
// failure or a cancelled test (a file that crashed or timed out).
stream.on('test:fail', (data) => {
  if (data.todo === undefined || data.todo === false) process.exitCode = 1;
});
stream.on('test:diagnostic', (data) => {
  if (data.nesting === 0 && /^(fail|cancelled) [1-9]/.test(data.message)) process.exitCode = 1;
});
stream.compose(new spec()).pipe(process.stdout);
