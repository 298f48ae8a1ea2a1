/** What `npm pack` publishes: the built nodes, their editor files, locales, icons and examples; no source maps, tests or tools. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { root } from '../support/paths';

describe('the published package', () => {
  it('holds what Node-RED loads, and nothing it cannot use', () => {
    const npm =
      process.env.npm_execpath && fs.existsSync(process.env.npm_execpath) ? [process.execPath, process.env.npm_execpath] : ['npm'];
    const run = spawnSync(npm[0], [...npm.slice(1), 'pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const files = (JSON.parse(run.stdout) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
    for (const js of Object.values(pkg['node-red'].nodes)) {
      assert.ok(files.includes(js), js);
      assert.ok(files.includes(js.replace(/\.js$/, '.html')), `${js}'s editor`);
    }
    assert.ok(files.includes('resources/twilio-editor.js'));
    assert.ok(
      files.includes('dist/nodes/twilio-send/locales/de/twilio-send.html') &&
        files.includes('dist/nodes/twilio-send/icons/twilio-send.svg'),
    );
    assert.ok(files.filter((f) => f.startsWith('examples/')).length >= 10);
    assert.deepEqual(
      files.filter((f) => /\.(map|ts)$/.test(f) || /^dist\/(test|simulator|bench)\//.test(f)),
      [],
      'no source maps, sources, tests or tools',
    );
  });

  it('loads no Redis client for a Node-RED on the embedded store: ioredis comes with the first Redis engine', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
    const script = `for (const file of ${JSON.stringify(Object.values(pkg['node-red'].nodes))}) require('./' + file);
      console.log(Object.keys(require.cache).filter((file) => file.includes('/node_modules/ioredis/')).length);`;
    const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), '0', 'no ioredis module was loaded');
  });
});
