#!/usr/bin/env node
// Builds what Node-RED loads into dist/: the compiled runtime (tsc), and for each node folder
// (nodes/<type>/) dist/nodes/<type>/ with its .js, its .html (its editor script built in), its icons
// and its locales. Each node's message catalogue is its own strings merged with the strings every
// node shares (locales/<lang>/_shared.json), so shared texts are written once.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const nodesOut = path.join(dist, 'nodes');

// A build whose inputs are the last build's, byte for byte, is that build: `npm test` on a second
// runtime (CI runs Node 20, then Node 22, on one checkout) does not compile the same sources again.
const INPUTS = ['nodes', 'plugins', 'lib', 'simulator', 'test', 'bench', 'editor', 'locales', 'scripts'];
const stampFile = path.join(dist, '.inputs.sha256');
const inputs = require('./content-hash').contentHash(root, {
  entries: [...INPUTS, 'package.json', 'package-lock.json', 'tsconfig.json'],
});
const built = (file) => fs.existsSync(file) && fs.readFileSync(file, 'utf8');
if (built(stampFile) === inputs && fs.existsSync(path.join(root, 'resources', 'twilio-editor.js'))) {
  console.log('build: dist/ is up to date (its inputs are those of the last build)');
  process.exit(0);
}

fs.rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status || 1);

// A node is a folder of nodes/ with its .html: nodes/<type>/<type>.html.
const nodeNames = fs.readdirSync(path.join(root, 'nodes')).filter((f) => fs.existsSync(path.join(root, 'nodes', f, `${f}.html`)));
const nodeDir = (name) => path.join(root, 'nodes', name);
// The editor's code is TypeScript (editor/twilio-editor.ts and each node's <type>.editor.ts, their own
// tsconfig for the browser): compiled
// here, it is a script, not a module (its imports are types only).
const editorTsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'editor')], {
  stdio: 'inherit',
});
if (editorTsc.status !== 0) process.exit(editorTsc.status || 1);
const compiledEditor = (file) =>
  fs
    .readFileSync(path.join(dist, 'editor-build', 'editor', file), 'utf8')
    .replace(/^export \{\};\s*$/m, '')
    .trim();
const editorScript = compiledEditor('twilio-editor.js');

// The four resource nodes share one dialog, an HTML template (editor/templates/) with the action's
// rows: each node's .html says where it goes, <!-- twilio:resource-dialog <action> -->.
const template = (name) => fs.readFileSync(path.join(root, 'editor', 'templates', `${name}.html`), 'utf8').trim();
const ACTION_ROWS = { query: 'query-rows', update: 'update-rows' };
const resourceDialog = (action) =>
  `<script type="text/html" data-template-name="twilio-${action}">\n${template('resource-dialog').replace("<!-- the action's rows -->", ACTION_ROWS[action] ? template(ACTION_ROWS[action]) : '')}\n</script>`;
for (const name of nodeNames) {
  const html = fs.readFileSync(path.join(nodeDir(name), `${name}.html`), 'utf8');
  // Each node's editor script, compiled from nodes/<type>/<type>.editor.ts, goes where its .html says.
  const script = () => `<script type="text/javascript">\n${compiledEditor(path.join('..', 'nodes', name, `${name}.editor.js`))}\n</script>`;
  fs.writeFileSync(
    path.join(nodesOut, name, `${name}.html`),
    html
      .replace('<!-- twilio:editor-script -->', script)
      .replace(/<!-- twilio:resource-dialog (\w+) -->/g, (_, action) => resourceDialog(action)),
  );
}
for (const name of nodeNames) {
  const icons = path.join(nodeDir(name), 'icons');
  if (fs.existsSync(icons)) fs.cpSync(icons, path.join(nodesOut, name, 'icons'), { recursive: true });
}

// The editor's shared script (compiled) as Node-RED serves it from the package's
// resources/, with the value rules the runtime checks with (lib/twilio/values.ts) and each node type's
// config version (lib/node-red/config-version.ts) in front: one definition, one file to load.
const { PATTERNS, LIMITS } = require(path.join(dist, 'lib', 'twilio', 'values.js'));
const { MIGRATIONS, currentConfigVersion } = require(path.join(dist, 'lib', 'node-red', 'config-version.js'));
const configVersions = Object.fromEntries(Object.keys(MIGRATIONS).map((type) => [type, currentConfigVersion(type)]));
const { TWILIO_DOMAINS } = require(path.join(dist, 'lib', 'transport', 'raw-request.js'));
// twilio-ask's check of answer patterns: the runtime's own function (self-contained), so both refuse the same patterns.
const { regexHazard } = require(path.join(dist, 'lib', 'conversation', 'answers.js'));
fs.mkdirSync(path.join(root, 'resources'), { recursive: true });
fs.writeFileSync(
  path.join(root, 'resources', 'twilio-editor.js'),
  [
    '/* Built by scripts/build.js from editor/twilio-editor.ts, lib/twilio/values.ts, lib/node-red/config-version.ts and lib/conversation/answers.ts (regexHazard): edit those. */',
    `window.TwilioRules = ${JSON.stringify({ patterns: PATTERNS, limits: LIMITS, configVersions, twilioDomains: TWILIO_DOMAINS }, null, 2)};`,
    `window.TwilioRules.regexHazard = ${regexHazard.toString()};`,
    editorScript,
  ].join('\n'),
);

// Help pages list the catalogue's objects where they say <!-- catalogue:<action> -->, so the help
// is written from the same table the runtime runs, in the help's language (locales/<lang>/_shared.json).
const { CATALOGUE, partsFor, fieldsFor } = require(path.join(dist, 'lib', 'catalogue', 'catalogue.js'));
const escapeHtml = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
function catalogueHelp(action, strings) {
  const words = strings.twilio.help;
  const reason = (o) => (strings.twilio.notSupported[o.name] || {})[action] || o.actions[action].notSupported;
  const rows = CATALOGUE.filter((o) => o.actions[action]).map((o) => {
    const spec = o.actions[action];
    if (spec.notSupported)
      return `<dt>${o.label} <span class="property-type">${words.notSupported}</span></dt><dd>${escapeHtml(reason(o))}</dd>`;
    const sid = partsFor(o, action)
      .map((p) => p.example)
      .join(':');
    const names = (action === 'query' ? o.filters || [] : fieldsFor(o, action)).map((f) => f.name);
    const extra = names.length
      ? `${action === 'query' ? words.filters : words.fields}: <code>${names.join('</code>, <code>')}</code>.`
      : '';
    const deprecated = o.deprecatedFor ? ` ${words.deprecated.replace('__replacement__', o.deprecatedFor)}` : '';
    return `<dt>${o.label}${sid ? ` <span class="property-type">${escapeHtml(sid)}</span>` : ''}</dt><dd>${extra}${deprecated}</dd>`;
  });
  return `<h4>${words.objects}</h4>\n  <dl class="message-properties">\n    ${rows.join('\n    ')}\n  </dl>`;
}
const withCatalogue = (html, strings) => html.replace(/<!-- catalogue:(\w+) -->/g, (_, action) => catalogueHelp(action, strings));

const readJson = (file) => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {});
// The lib composes its error texts, and what nodes text to people, in English from the en-US catalogue (lib/core/texts.ts).
const englishShared = readJson(path.join(root, 'locales', 'en-US', '_shared.json'));
fs.writeFileSync(
  path.join(dist, 'lib', 'core', 'texts.en-US.json'),
  JSON.stringify(
    {
      twilio: { errors: englishShared.twilio.errors, notSupported: englishShared.twilio.notSupported, people: englishShared.twilio.people },
    },
    null,
    2,
  ),
);
// Node-RED finds a node's messages at <dir>/locales/<lang>/<type>.json beside its .js.
for (const lang of fs.readdirSync(path.join(root, 'locales'))) {
  const shared = readJson(path.join(root, 'locales', lang, '_shared.json'));
  for (const name of nodeNames) {
    const source = path.join(nodeDir(name), 'locales', lang);
    const target = path.join(nodesOut, name, 'locales', lang);
    fs.mkdirSync(target, { recursive: true });
    const own = readJson(path.join(source, `${name}.json`));
    fs.writeFileSync(path.join(target, `${name}.json`), JSON.stringify({ ...shared, ...own }, null, 2));
    const help = path.join(source, `${name}.html`);
    if (fs.existsSync(help)) fs.writeFileSync(path.join(target, `${name}.html`), withCatalogue(fs.readFileSync(help, 'utf8'), shared));
  }
}
// Each editor plugin (plugins/<name>/: the Twilio sidebar) likewise: its .html with its editor script
// built in, and its locales beside its .js (Node-RED serves them as the plugin's catalogue).
const pluginNames = fs.existsSync(path.join(root, 'plugins')) ? fs.readdirSync(path.join(root, 'plugins')) : [];
for (const name of pluginNames) {
  const source = path.join(root, 'plugins', name);
  const target = path.join(dist, 'plugins', name);
  const script = () =>
    `<script type="text/javascript">\n${compiledEditor(path.join('..', 'plugins', name, `${name}.editor.js`))}\n</script>`;
  fs.writeFileSync(
    path.join(target, `${name}.html`),
    fs.readFileSync(path.join(source, `${name}.html`), 'utf8').replace('<!-- twilio:editor-script -->', script),
  );
  fs.cpSync(path.join(source, 'locales'), path.join(target, 'locales'), { recursive: true });
}
fs.writeFileSync(stampFile, inputs);
console.log(`build: ${nodeNames.length} nodes (${nodeNames.join(', ')}) in dist/nodes/<type>/`);
