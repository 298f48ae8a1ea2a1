#!/usr/bin/env node
// Builds what Node-RED loads into dist/: the compiled runtime (tsc), and beside each node's .js its
// .html, its icons and its locales. Each node's message catalogue is its own strings merged with
// the strings every node shares (locales/<lang>/_shared.json), so shared texts are written once.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const nodesOut = path.join(dist, 'nodes');

fs.rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status || 1);

const nodeNames = fs.readdirSync(path.join(root, 'nodes')).filter((f) => f.endsWith('.html')).map((f) => f.slice(0, -5));
for (const name of nodeNames) fs.copyFileSync(path.join(root, 'nodes', `${name}.html`), path.join(nodesOut, `${name}.html`));
fs.cpSync(path.join(root, 'icons'), path.join(nodesOut, 'icons'), { recursive: true });

const readJson = (file) => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {});
for (const lang of fs.readdirSync(path.join(root, 'locales'))) {
  const source = path.join(root, 'locales', lang);
  const target = path.join(nodesOut, 'locales', lang);
  fs.mkdirSync(target, { recursive: true });
  const shared = readJson(path.join(source, '_shared.json'));
  for (const name of nodeNames) {
    const own = readJson(path.join(source, `${name}.json`));
    fs.writeFileSync(path.join(target, `${name}.json`), JSON.stringify({ ...shared, ...own }, null, 2));
    const help = path.join(source, `${name}.html`);
    if (fs.existsSync(help)) fs.copyFileSync(help, path.join(target, `${name}.html`));
  }
}
console.log(`build: ${nodeNames.length} nodes (${nodeNames.join(', ')}) in dist/nodes`);
