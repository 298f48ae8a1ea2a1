/**
 * lib/ in layers, one dependency direction: a module imports only from its own folder or from a
 * layer below it, and nothing in lib/ imports nodes/. The layers, from the top:
 *   conversation, waits → outbound, inbound, resources → account → catalogue, transport, state → twilio, node-red → core
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { root } from '../support/paths';

const LEVEL: Record<string, number> = {
  core: 0,
  twilio: 1,
  'node-red': 1,
  catalogue: 2,
  transport: 2,
  state: 2,
  account: 3,
  outbound: 4,
  inbound: 4,
  resources: 4,
  conversation: 5,
  waits: 5,
};

describe('lib layers', () => {
  it('imports only downwards, and never from nodes/', () => {
    const lib = path.join(root, 'lib');
    const folders = fs.readdirSync(lib).filter((f) => fs.statSync(path.join(lib, f)).isDirectory());
    assert.deepEqual(folders.sort(), Object.keys(LEVEL).sort(), 'every folder of lib/ has a layer');
    assert.deepEqual(
      fs.readdirSync(lib).filter((f) => f.endsWith('.ts')),
      [],
      'no module outside a layer',
    );
    const wrong: string[] = [];
    for (const folder of folders) {
      for (const file of fs.readdirSync(path.join(lib, folder)).filter((f) => f.endsWith('.ts'))) {
        const source = fs.readFileSync(path.join(lib, folder, file), 'utf8');
        for (const [, spec] of source.matchAll(/from '(\.[^']+)'/g)) {
          const target = path.relative(lib, path.resolve(lib, folder, spec)).split(path.sep);
          if (target[0] === '..') wrong.push(`${folder}/${file} → ${spec} (outside lib/)`);
          else if (target[0] !== folder && !(LEVEL[target[0]] < LEVEL[folder])) wrong.push(`${folder}/${file} → ${target.join('/')}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('keeps each node in its own folder: nodes/<a>/ never imports nodes/<b>/', () => {
    const nodes = path.join(root, 'nodes');
    const wrong: string[] = [];
    for (const folder of fs.readdirSync(nodes).filter((f) => fs.statSync(path.join(nodes, f)).isDirectory())) {
      for (const file of fs.readdirSync(path.join(nodes, folder)).filter((f) => f.endsWith('.ts'))) {
        const source = fs.readFileSync(path.join(nodes, folder, file), 'utf8');
        for (const [, spec] of source.matchAll(/from '(\.[^']+)'/g)) {
          const target = path.relative(nodes, path.resolve(nodes, folder, spec)).split(path.sep);
          if (target[0] !== '..' && target[0] !== folder) wrong.push(`${folder}/${file} → ${target.join('/')}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });
});
