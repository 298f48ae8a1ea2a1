#!/usr/bin/env node
// `npm start`: Node-RED on http://127.0.0.1:1880 with this package installed and the examples
// loaded as a demo, each wired to the local Twilio simulator. No Twilio account needed: the account
// node reads the simulator's demo credentials from ${TWILIO_*} variables this script sets.
//   PORT (1880), SIMULATOR_PORT (3010), DEMO_USER_DIR (.demo), NODE_RED_PACKAGE (by Node version)
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { DEMO_ACCOUNT, TwilioSimulator } = require('../dist/simulator/server');

const root = path.resolve(__dirname, '..');
/**
 * Each tab that receives has a number of its own, so no tab sees another's texts (the SMS bot must not
 * answer a reply to a question): the main line +15017122661 is the SMS bot's, and these the others'.
 */
const HOUSE = '+15017122662'; // Text my house: no URL, polled
const QUESTIONS = '+15017122663'; // Ask before the garage closes: no URL, polled
const CONFIRM = '+15017122664'; // Yes or no from two people: no URL, polled
const PAGER = '+15017122665'; // Smoke alarm: texts come to the page's twilio-in by webhook
const pkg = require(path.join(root, 'package.json'));
const userDir = path.resolve(process.env.DEMO_USER_DIR || path.join(root, '.demo'));
const port = Number(process.env.PORT || 1880);
const nodeRed = process.env.NODE_RED_PACKAGE || (Number(process.versions.node.split('.')[0]) >= 22 ? 'node-red-5' : 'node-red');

/** Installs this package into the user dir the way npm link would: a symlink Node-RED scans. */
function installPackage() {
  const target = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.rmSync(target, { recursive: true, force: true });
  fs.symlinkSync(root, target, 'dir');
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-demo', private: true, dependencies: { [pkg.name]: `file:${root}` } }, null, 2),
  );
}

/** The demo's tabs from the simplest on; an example not listed comes after these, by name. */
const DEMO_ORDER = [
  'Send an SMS alert',
  'Doorbell photo',
  'Place a phone call',
  'Send to several recipients',
  'Check delivery status',
  'Wait for delivery',
  'Text my house',
  'Ask before the garage closes',
  'Yes or no from two people',
  'Smoke alarm: call until someone answers',
  'SMS bot with a reply',
  'Delivery receipts',
  "Query today's messages",
  'Delete old recordings',
  'Mute everyone in a conference',
  'Verify a code',
  'Any API call',
];
function byDemoOrder(a, b) {
  const rank = (file) => {
    const at = DEMO_ORDER.indexOf(file.replace(/\.json$/, ''));
    return at === -1 ? DEMO_ORDER.length : at;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}

/**
 * The demo's one account: the local simulator, its credentials ${TWILIO_*} references this script
 * fills in. The examples name no account (so that a second one imports into a real Node-RED in one
 * click, on the account already there): here each of their Twilio nodes gets this one.
 */
const DEMO_ACCOUNT_NODE = {
  id: 'twilio0demo0acct',
  type: 'twilio-config',
  name: 'Local simulator',
  authMode: 'apiKey',
  region: '',
  edge: '',
  defaultFrom: '+15017122661',
  baseUrl: '${TWILIO_SIMULATOR_URL}',
  // Where the simulator fetches MMS media sent from a Buffer (Doorbell photo), as Twilio would from the internet.
  publicBaseUrl: `http://127.0.0.1:${port}`,
};
const DEMO_ACCOUNT_CREDENTIALS = {
  accountSid: '${TWILIO_ACCOUNT}',
  apiKeySid: '${TWILIO_API_KEY}',
  apiKeySecret: '${TWILIO_API_SECRET}',
  authToken: '${TWILIO_TOKEN}',
};

/** One tab per example, the demo's account once, its credentials in flows_cred.json. */
function writeDemoFlows() {
  const flowFile = path.join(userDir, 'flows.json');
  if (fs.existsSync(flowFile)) return false; // keep the user's edits; delete the folder to start over
  const flows = [DEMO_ACCOUNT_NODE];
  const credentials = { [DEMO_ACCOUNT_NODE.id]: DEMO_ACCOUNT_CREDENTIALS };
  const examples = fs
    .readdirSync(path.join(root, 'examples'))
    .filter((f) => f.endsWith('.json'))
    .sort(byDemoOrder);
  examples.forEach((file, i) => {
    const tab = `demo0tab0000000${i}`;
    flows.push({ id: tab, type: 'tab', label: file.replace(/\.json$/, ''), disabled: false, info: '' });
    for (const node of JSON.parse(fs.readFileSync(path.join(root, 'examples', file), 'utf8'))) {
      if (flows.some((n) => n.id === node.id)) continue;
      const { credentials: nodeCredentials, ...rest } = node;
      if (nodeCredentials) credentials[node.id] = nodeCredentials;
      // A Twilio node with no account of its own takes the demo's, as the editor gives it the only one there is.
      if (rest.account === '') rest.account = DEMO_ACCOUNT_NODE.id;
      flows.push(rest.type === 'twilio-config' ? rest : { ...rest, z: tab });
    }
  });
  fs.writeFileSync(flowFile, JSON.stringify(flows, null, 2));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials, null, 2));
  return true;
}

function writeSettings() {
  const settings = `// Written by scripts/demo.js for the local demo.
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: false, // the demo's credentials are \${ENV} references, not secrets
  diagnostics: { enabled: false },
  telemetry: { enabled: false, updateNotification: false },
  editorTheme: { projects: { enabled: false }, tours: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
`;
  fs.writeFileSync(path.join(userDir, 'settings.js'), settings);
}

async function startSimulator() {
  const simulator = new TwilioSimulator({ accounts: [DEMO_ACCOUNT] });
  const wanted = Number(process.env.SIMULATOR_PORT || 3010);
  try {
    await simulator.start(wanted);
  } catch (err) {
    if (err.code !== 'EADDRINUSE') throw err;
    await simulator.start(0);
  }
  return simulator;
}

async function main() {
  fs.mkdirSync(userDir, { recursive: true });
  installPackage();
  writeSettings();
  const fresh = writeDemoFlows();
  const simulator = await startSimulator();
  // The simulated number texts and rings this Node-RED, as a real one would once connected.
  const number = simulator.find('incomingPhoneNumbers');
  if (number) Object.assign(number, { sms_url: `http://127.0.0.1:${port}/twilio/sms`, voice_url: `http://127.0.0.1:${port}/twilio/voice` });
  // The house of "Text my house" has no URL at all: its texts wait at Twilio until twilio-in polls for them.
  // Someone asks it every two minutes; the tab's inject asks at once.
  simulator.addNumber(DEMO_ACCOUNT.sid, HOUSE, 'House (no URL: polled)');
  simulator.addNumber(DEMO_ACCOUNT.sid, QUESTIONS, 'Questions (no URL: polled)');
  simulator.addNumber(DEMO_ACCOUNT.sid, CONFIRM, 'Confirmations (no URL: polled)');
  Object.assign(simulator.addNumber(DEMO_ACCOUNT.sid, PAGER, 'Pager'), { sms_url: `http://127.0.0.1:${port}/twilio/page-keys` });
  simulator.scheduleTexts([{ from: '+15555550100', to: HOUSE, body: 'status', afterMs: 20_000, everyMs: 120_000 }]);
  console.log(`demo: Twilio simulator on ${simulator.url} (its messages: ${simulator.url}/_sim/messages)`);
  console.log(
    `demo: Node-RED ${require(`${nodeRed}/package.json`).version} on http://127.0.0.1:${port} (user dir ${userDir}${fresh ? ', demo flows written' : ', flows kept'})`,
  );

  const red = spawn(
    process.execPath,
    [require.resolve(`${nodeRed}/red.js`), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        TWILIO_SIMULATOR_URL: simulator.url,
        TWILIO_ACCOUNT: DEMO_ACCOUNT.sid,
        TWILIO_API_KEY: DEMO_ACCOUNT.apiKeys[0].sid,
        TWILIO_API_SECRET: DEMO_ACCOUNT.apiKeys[0].secret,
        TWILIO_TOKEN: DEMO_ACCOUNT.authToken,
        NODE_RED_PUBLIC_URL: `http://127.0.0.1:${port}`,
      },
    },
  );
  const stop = (signal) => red.kill(signal);
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  red.on('exit', async (code) => {
    await simulator.stop();
    process.exit(code ?? 0);
  });
}

main().catch((err) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});
