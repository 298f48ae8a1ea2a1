// A sha256 of files as they are: each file's path (relative to `root`) and bytes, in path order. What
// the build (are dist/'s inputs those of the last build?) and the style test (are these the files both
// tools passed?) compare with what they stored last time.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

/**
 * `entries`: the files and directories (relative to `root`) to read, all of `root` by default;
 * `ignored`: relative paths left out wherever they are met. A missing entry is skipped.
 */
function contentHash(root, { entries = [''], ignored = [] } = {}) {
  const skip = new Set(ignored);
  const hash = crypto.createHash('sha256');
  const add = (rel) => {
    if (skip.has(rel)) return;
    const full = path.join(root, rel);
    const stat = fs.statSync(full, { throwIfNoEntry: false });
    if (stat?.isDirectory()) for (const name of fs.readdirSync(full).sort()) add(path.join(rel, name));
    else if (stat?.isFile()) hash.update(`${rel}\0`).update(fs.readFileSync(full)).update('\0');
  };
  for (const entry of entries) add(entry);
  return hash.digest('hex');
}

module.exports = { contentHash };
