'use strict';
// Node 20 has no compile cache (Node 22's NODE_COMPILE_CACHE, set by scripts/test.js). Loaded into
// every test process on Node 20 (NODE_OPTIONS), this keeps V8's code cache of each CommonJS module
// under node_modules/ and dist/ in .cache/node20-compile/, one file per module (its source's hash
// inside: a changed module is compiled again and its entry replaced). Loading the test harness went
// from 300 to 240 ms of CPU, for each of about 190 processes a run starts.
//
// It compiles the module as Node does when Module.wrap is patched (a vm.Script of the wrapped
// source), with V8's cached data. What it does not take: a module with import() (a vm.Script made
// here cannot load ES modules), an ES module, a file outside the project. Those, and any module
// whose compile fails here, go to Node's own loader.
const Module = require('module');
const vm = require('vm');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const root = path.resolve(__dirname, '..');
const dir = path.join(root, '.cache', 'node20-compile');
const inProject = (filename) =>
  filename.startsWith(path.join(root, 'node_modules') + path.sep) || filename.startsWith(path.join(root, 'dist') + path.sep);
const HASH_BYTES = 20;

/** Whether the cache's folder can be made (not in a read-only checkout); if not, Node compiles as always. */
function usable() {
  try {
    fs.mkdirSync(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

if (typeof Module.enableCompileCache !== 'function' && !process.env.NO_COMPILE_CACHE && usable()) {
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename, format) {
    if (format === 'module' || !/\.c?js$/.test(filename) || !inProject(filename) || content.includes('import(')) {
      return compile.call(this, content, filename, format);
    }
    const hash = crypto.createHash('sha1').update(content).digest();
    const entry = path.join(dir, crypto.createHash('sha1').update(filename).digest('hex'));
    let cachedData;
    try {
      const stored = fs.readFileSync(entry);
      if (stored.subarray(0, HASH_BYTES).equals(hash)) cachedData = stored.subarray(HASH_BYTES);
    } catch {
      // not cached yet
    }
    let script;
    try {
      script = new vm.Script(Module.wrap(content), { filename, cachedData });
    } catch {
      return compile.call(this, content, filename, format); // Node's loader gives the error (or reads the module another way)
    }
    const wrapper = script.runInThisContext({ displayErrors: true });
    const result = wrapper.call(this.exports, this.exports, requireFor(this), this, filename, path.dirname(filename));
    // After the module ran: the cache then holds the functions it compiled lazily too.
    if (cachedData === undefined || script.cachedDataRejected) store(entry, hash, script.createCachedData());
    return result;
  };
}

/** The require a module gets, as Node's loader makes it. */
function requireFor(mod) {
  const require = (id) => mod.require(id);
  require.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
  require.resolve.paths = (request) => Module._resolveLookupPaths(request, mod);
  require.main = process.mainModule;
  require.extensions = Module._extensions;
  require.cache = Module._cache;
  return require;
}

/** Written aside, then renamed: a process reading it at the same moment sees the old entry or the new one. */
function store(entry, hash, data) {
  const aside = `${entry}.${process.pid}`;
  try {
    fs.writeFileSync(aside, Buffer.concat([hash, data]));
    fs.renameSync(aside, entry);
  } catch {
    fs.rmSync(aside, { force: true });
  }
}
