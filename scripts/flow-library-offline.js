// Preloaded (node -r) into `node-red-dev validate` by scripts/scorecard.js: the Flow Library's
// catalogue (catalogue.nodered.org) is not reachable from CI, so the validator's requests to it get
// an empty catalogue. Every other request (the npm registry) goes out as usual.
'use strict';
const Module = require('module');
const originalLoad = Module._load;
const CATALOGUE = 'catalogue.nodered.org';
Module._load = function loadWithOfflineCatalogue(request, ...rest) {
  const loaded = originalLoad.call(this, request, ...rest);
  if (request === 'axios' && loaded && typeof loaded.get === 'function' && !loaded.offlineCatalogue) {
    const get = loaded.get.bind(loaded);
    loaded.get = (url, ...args) => (String(url).includes(CATALOGUE) ? Promise.resolve({ data: { modules: [] } }) : get(url, ...args));
    loaded.offlineCatalogue = true;
  }
  return loaded;
};
