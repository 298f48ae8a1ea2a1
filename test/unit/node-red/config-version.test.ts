/** Node configs carry a version; an older config is brought up to date step by step, at run time and in the editor alike. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MIGRATIONS, currentConfigVersion, upgradeConfig } from '../../../lib/node-red/config-version';
import { root } from '../../support/paths';

describe('config versions', () => {
  it('brings a config up one step per version, from 0 when it has none, without touching the original', () => {
    const migrations = {
      'twilio-x': [
        () => undefined,
        (c: Record<string, unknown>) => {
          c.renamed = c.old;
          delete c.old;
        },
        (c: Record<string, unknown>) => {
          c.count = Number(c.count) * 2;
        },
      ],
    };
    const saved = { old: 'value', count: 2 };
    assert.deepEqual(upgradeConfig('twilio-x', saved, migrations), { renamed: 'value', count: 4, configVersion: 3 });
    assert.deepEqual(saved, { old: 'value', count: 2 }, 'the deployed config stays as it was');
    assert.deepEqual(
      upgradeConfig('twilio-x', { renamed: 'v', count: 3, configVersion: 2 }, migrations),
      { renamed: 'v', count: 6, configVersion: 3 },
      'only the steps it lacks',
    );
    assert.deepEqual(
      upgradeConfig('twilio-x', { configVersion: 9 }, migrations),
      { configVersion: 9 },
      "a newer release's config is left alone",
    );
  });

  it('gives every node type a version, and the editor the same numbers', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
    const types = Object.keys(pkg['node-red'].nodes).sort();
    assert.deepEqual(Object.keys(MIGRATIONS).sort(), types);
    for (const type of types) assert.ok(currentConfigVersion(type) >= 1, type);
    const rules = fs.readFileSync(path.join(root, 'resources', 'twilio-editor.js'), 'utf8');
    const start = rules.indexOf('window.TwilioRules = ') + 'window.TwilioRules = '.length;
    const editor = JSON.parse(rules.slice(start, rules.indexOf('};', start) + 1)) as { configVersions: Record<string, number> };
    assert.deepEqual(editor.configVersions, Object.fromEntries(types.map((t) => [t, currentConfigVersion(t)])));
  });

  it('1 → 2 moves the state of twilio-send, -in, -ask and -page from contextStore to stateIn, noting where it was', () => {
    for (const type of ['twilio-send', 'twilio-in', 'twilio-ask', 'twilio-page']) {
      assert.deepEqual(
        upgradeConfig(type, { configVersion: 1, contextStore: 'file', name: 'n' }),
        { configVersion: 2, name: 'n', stateIn: '', stateMovedFrom: 'file' },
        `${type}: the file context store`,
      );
      assert.deepEqual(
        upgradeConfig(type, { configVersion: 1, contextStore: '' }),
        { configVersion: 2, stateIn: '', stateMovedFrom: '' },
        `${type}: the default context store`,
      );
      assert.deepEqual(
        upgradeConfig(type, { configVersion: 1 }),
        { configVersion: 2, stateIn: '', stateMovedFrom: '' },
        `${type}: a flow saved without the field (the default store)`,
      );
      assert.deepEqual(upgradeConfig(type, {}), { configVersion: 2, stateIn: '', stateMovedFrom: '' }, `${type}: from version 0`);
    }
  });

  it('1 → 2 keeps an explicit stateIn (and moves nothing), and leaves a version 2 config alone', () => {
    assert.deepEqual(upgradeConfig('twilio-send', { configVersion: 1, contextStore: 'file', stateIn: 'context:file' }), {
      configVersion: 2,
      stateIn: 'context:file',
    });
    assert.deepEqual(upgradeConfig('twilio-ask', { configVersion: 1, stateIn: '' }), { configVersion: 2, stateIn: '' });
    const current = { configVersion: 2, stateIn: 'context:memory', contextStore: 'left as is' };
    assert.deepEqual(upgradeConfig('twilio-page', current), current);
    assert.deepEqual(upgradeConfig('twilio-config', { configVersion: 1, stateBackend: 'redis' }), {
      configVersion: 1,
      stateBackend: 'redis',
    });
  });
});
