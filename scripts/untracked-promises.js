'use strict';
// Loaded into every test process (scripts/test.js puts it in NODE_OPTIONS) before node:test is.
//
// Node's test runner (20 and 22) maps each async resource to the test that made it, with an
// async_hooks hook that has a destroy callback. Any destroy callback makes V8 track the destruction
// of every promise in the process, which cost the promise-heavy files a third of their CPU (the
// poller's unit tests: 3.7 s of CPU, 2.4 s without it). This keeps the runner's hook but hands it no
// promise, immediate or next-tick resource, and no destroy callback. What the runner loses: an
// error thrown in one of those after its test ended is reported for the file, not for the test, and
// still fails the run. The map of the other resources (timers, sockets, files) is not pruned: a
// test process lives for one file.
const asyncHooks = require('async_hooks');
const UNTRACKED = new Set(['PROMISE', 'Immediate', 'TickObject']);
const createHook = asyncHooks.createHook;
asyncHooks.createHook = function (callbacks) {
  const names = Object.keys(callbacks).sort().join(',');
  // The runner's hook alone: init and destroy over its map of test resources.
  if (names !== 'destroy,init' || !String(callbacks.init).includes('testResources')) return createHook.call(this, callbacks);
  const init = callbacks.init;
  return createHook.call(this, {
    init(asyncId, type, triggerAsyncId, resource) {
      if (!UNTRACKED.has(type)) init(asyncId, type, triggerAsyncId, resource);
    },
  });
};
