/**
 * The editor as a user meets it, in Debian's Chromium driven by playwright-core, against `npm start`
 * (a real Node-RED with the package, the examples and the simulator). Screenshots of every dialog go
 * to test-artifacts/. Skipped, with the reason, where /usr/bin/chromium is not installed (.ci/run
 * installs it).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Demo, root, startDemo, waitFor } from '../support/demo';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const noBrowser = fs.existsSync(CHROMIUM)
  ? undefined
  : `no browser at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`;
const artifacts = path.join(root, 'test-artifacts');
const TYPES = [
  'twilio-send',
  'twilio-get',
  'twilio-query',
  'twilio-update',
  'twilio-delete',
  'twilio-in',
  'twilio-reply',
  'twilio-request',
  'twilio-ask',
  'twilio-page',
  'twilio-verify',
];

// Without a browser the suite is one skipped test, so the runner's summary counts it as skipped.
if (noBrowser) it('the editor in a real browser', { skip: noBrowser }, () => undefined);
else
  describe('the editor in a real browser', { timeout: 300_000 }, () => {
    let demo: Demo;
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];
    let firstShownTab = '';

    before(async () => {
      fs.mkdirSync(artifacts, { recursive: true });
      demo = await startDemo();
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          '--disable-quic',
        ],
      });
      page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(demo.editor);
      await page.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 60_000 });
      await page.waitForFunction(() => (window as any).TwilioEditor && (window as any).TwilioEditor.find('Message'));
      firstShownTab = (await page.textContent('#red-ui-workspace-tabs .red-ui-tab.active')) ?? '';
    });

    after(async () => {
      await browser?.close();
      await demo?.stop();
    });

    /** Opens a node's edit dialog by id (config nodes too) and waits for it. */
    async function openDialog(id: string, slideIn = true): Promise<void> {
      await page.evaluate((nodeId) => {
        const RED = (window as any).RED;
        const node = RED.nodes.node(nodeId);
        if (node.z) RED.workspaces.show(node.z);
        if (node._def.category === 'config') RED.editor.editConfig('', node.type, node.id);
        else RED.editor.edit(node);
      }, id);
      await page.waitForSelector('.red-ui-tray .red-ui-tray-body', { state: 'visible' });
      // Its values are in place once oneditprepare ran (the catalogue is cached after the first dialog);
      // a test that looks at or clicks in it waits until it has slid in.
      if (slideIn) await trayAtRest();
      else await trayBuilt();
    }

    /**
     * Waits until Node-RED has built the top dialog and set it sliding in (its right edge set to 0).
     * Node-RED builds a node's dialog when its panes are ready, and resizes them 150 ms later: a
     * dialog closed before it was built had that resize come after its close (on CI, "Cannot read
     * properties of null (reading 'resize')" from the description pane Node-RED had destroyed).
     */
    const trayBuilt = () => page.waitForFunction(() => (window as any).$('.red-ui-tray:last')[0]?.style.right === '0px');

    /** Waits until the top dialog has slid in (its right edge at 0 once the 0.25 s transition ends): its rows are built. */
    const trayAtRest = () =>
      page.waitForFunction(() => {
        const tray = (window as any).$('.red-ui-tray:last');
        return tray.length > 0 && tray.css('right') === '0px';
      });

    /** Waits until every dialog is gone (OK or Cancel slides the tray away, then removes it). */
    const traysClosed = () => page.waitForFunction(() => !document.querySelector('.red-ui-tray'));

    /** Cancels the open dialogs one by one (a tray slides away before the next can close). */
    async function closeDialogs(): Promise<void> {
      // RED.tray.close calls back once its tray is removed (and the one below it shows again).
      for (let i = 0; i < 5 && (await page.$('.red-ui-tray')); i++)
        await page.evaluate(() => new Promise<void>((resolve) => (window as any).RED.tray.close(() => setTimeout(resolve, 0))));
    }

    /** Whether the form row holding an input shows (typed inputs wrap, and may hide, the input itself). */
    const visible = (selector: string) => page.evaluate((sel) => (window as any).$(sel).closest('.form-row').is(':visible'), selector);
    const firstOfType = (type: string) =>
      page.evaluate((t) => {
        let id: string | undefined;
        (window as any).RED.nodes.eachNode((n: any) => {
          if (!id && n.type === t) id = n.id;
        });
        return id;
      }, type);

    it('shows every node in its own palette category, with the demo flows valid', async () => {
      for (const type of TYPES)
        assert.ok(await page.$(`#red-ui-palette .red-ui-palette-node[data-palette-type="${type}"]`), `${type} is in the palette`);
      const invalid = await page.evaluate(() => {
        const out: string[] = [];
        (window as any).RED.nodes.eachNode((n: any) => {
          if (/^twilio/.test(n.type) && !n.valid) out.push(`${n.type} ${n.id}`);
        });
        return out;
      });
      assert.deepEqual(invalid, []);
      await page.evaluate(() =>
        document.querySelector('#red-ui-palette-Twilio, [id^="red-ui-palette-base-category-Twilio"]')?.scrollIntoView(),
      );
      await page.screenshot({ path: path.join(artifacts, 'palette.png') });
    });

    it("opens each node's dialog with its fields", async () => {
      const expected: Record<string, string[]> = {
        'twilio-send': ['#node-input-account', '#node-input-resource', '#node-input-to', '#node-input-body'],
        'twilio-get': ['#node-input-object', '#node-input-sid'],
        'twilio-query': ['#node-input-object', '#twilio-rows', '#node-input-limit', '#node-input-output'],
        'twilio-update': ['#node-input-object', '#node-input-sid', '#twilio-rows'],
        'twilio-delete': ['#node-input-object', '#node-input-sid'],
        'twilio-in': ['#node-input-path', '#node-input-validate', '#node-input-reply'],
        'twilio-reply': ['#node-input-action', '#node-input-text'],
        'twilio-request': ['#node-input-method', '#node-input-domain', '#node-input-path'],
        'twilio-page': ['#node-input-contacts', '#node-input-alert', '#node-input-steps-container', '#node-input-keysNode'],
        'twilio-ask': ['#node-input-to', '#node-input-body', '#node-input-answers-container', '#node-input-timeout', '#node-input-mode'],
        'twilio-verify': ['#node-input-action', '#node-input-serviceSid', '#node-input-to', '#node-input-channel', '#node-input-code'],
      };
      for (const type of TYPES) {
        const id = await firstOfType(type);
        assert.ok(id, `the demo has a ${type}`);
        await openDialog(id!);
        for (const selector of expected[type]) assert.ok(await page.$(selector), `${type}: ${selector}`);
        const untranslated = await page.$$eval('.red-ui-tray label, .red-ui-tray .form-tips, .red-ui-tray option', (els) =>
          // An i18n key shown as it is: "twilio-send.label.to", "twilio.editor.sid".
          els.map((e) => (e.textContent ?? '').trim()).filter((t) => /^(twilio[\w-]*|node-red)(:[\w-]+)?\.[\w.]+$/.test(t)),
        );
        assert.deepEqual(untranslated, [], `${type}: every label is translated`);
        await page.screenshot({ path: path.join(artifacts, `dialog-${type}.png`) });
        await closeDialogs();
      }
      const configId = await page.evaluate(() => {
        let id;
        (window as any).RED.nodes.eachConfig((n: any) => {
          if (n.type === 'twilio-config') id = n.id;
        });
        return id;
      });
      await openDialog(configId!);
      await page.screenshot({ path: path.join(artifacts, 'dialog-twilio-config.png') });
      await closeDialogs();
    });

    it('flags bad literal values: numbers, Sids, URLs', async () => {
      const verdicts = await page.evaluate(() => {
        const defaults = (window as any).RED.nodes.getType('twilio-send').defaults;
        const check = (field: string, value: string) => defaults[field].validate.call({ [`${field}Type`]: 'str' }, value);
        return {
          goodTo: check('to', '+1 (415) 555-0100, whatsapp:+447700900123; client:alice'),
          badTo: check('to', '415 555 0100'),
          goodFrom: check('from', 'MyBrand'),
          badFrom: check('from', 'Far too long a sender'),
          badService: check('messagingServiceSid', 'MG123'),
          badCallback: check('statusCallback', 'example.com/cb'),
          fromMsg: defaults.to.validate.call({ toType: 'msg' }, 'anything'),
          // Nobody to reach: flagged with the reason for a message or a call, not for another object's create.
          emptyTo: defaults.to.validate.call({ toType: 'str', resource: 'message', _: (key: string) => key }, ' '),
          emptyToCall: defaults.to.validate.call({ resource: 'call', _: (key: string) => key }, ''),
          emptyToQueue: defaults.to.validate.call({ toType: 'str', resource: 'Queue', _: (key: string) => key }, ''),
          noAnswers: (window as any).RED.nodes.getType('twilio-ask').defaults.answers.validate.call({ _: (key: string) => key }, []),
        };
      });
      assert.deepEqual(verdicts, {
        goodTo: true,
        badTo: false,
        goodFrom: true,
        badFrom: false,
        badService: false,
        badCallback: false,
        fromMsg: true,
        emptyTo: 'twilio-send.errors.noTo',
        emptyToCall: 'twilio-send.errors.noTo',
        emptyToQueue: true,
        noAnswers: 'twilio-ask.errors.noAnswers',
      });
    });

    it("checks twilio-in's TwiML fallback as the runtime does, with its dialog closed too", async () => {
      const verdicts = await page.evaluate(() => {
        const check = (window as any).RED.nodes.getType('twilio-in').defaults.fallbackText.validate;
        return [
          check.call({ fallback: 'twiml' }, 'not TwiML'),
          check.call({ fallback: 'twiml' }, '<?xml version="1.0"?><Response><Hangup/></Response>'),
          check.call({ fallback: 'message' }, 'not TwiML, a message'),
        ];
      });
      assert.deepEqual(verdicts, [false, true, true]);
    });

    it("takes only Twilio's names for the account's region and edge", async () => {
      const verdicts = await page.evaluate(() => {
        const defaults = (window as any).RED.nodes.getType('twilio-config').defaults;
        const check = (field: string, value: string) => defaults[field].validate.call({}, value);
        return ['', 'ie1', 'us1', 'dublin', 'sydney', '${TWILIO_REGION}', 'evil.example#', 'IE1', 'ie1.evil', 'a b', 'a/b'].map((v) => [
          v,
          check('region', v),
          check('edge', v),
        ]);
      });
      for (const [value, region, edge] of verdicts) {
        const good = ['', 'ie1', 'us1', 'dublin', 'sydney', '${TWILIO_REGION}'].includes(value as string);
        assert.deepEqual([region, edge], [good, good], String(value));
      }
    });

    it('switches fields with Message / Call and with the object', async () => {
      await openDialog('a1send0000000001'); // the SMS alert example: a message
      assert.ok(await visible('#node-input-body'));
      await page.selectOption('#node-input-resource', 'call');
      assert.ok(await visible('#node-input-say'), 'a call says a text');
      assert.ok(!(await visible('#node-input-body')), 'a call has no body');
      await page.selectOption('#node-input-callAction', 'url');
      assert.ok(await visible('#node-input-url'));
      assert.ok(!(await visible('#node-input-say')));
      await page.selectOption('#node-input-resource', 'Queue');
      assert.ok(await visible('#twilio-rows-row'), 'other objects take field rows');
      assert.ok(!(await visible('#node-input-to')));
      await page.screenshot({ path: path.join(artifacts, 'send-queue.png') });
      await closeDialogs();

      await openDialog((await firstOfType('twilio-query'))!);
      await page.selectOption('#node-input-object', 'Call');
      await page.click('#twilio-rows-row .red-ui-editableList-addButton');
      const choices = await page.$$eval('#twilio-rows-row li select:first-of-type option', (options) =>
        options.map((o) => (o as HTMLOptionElement).value),
      );
      assert.ok(choices.includes('status') && choices.includes('startTime'), `Call filters from the catalogue: ${choices.join(', ')}`);
      assert.match((await page.textContent('#twilio-sid-hint')) ?? '', /AC…/);
      // With no parent record, a query's row only picks a subaccount, and says so.
      assert.equal((await page.textContent('label[for="node-input-sid"] span'))?.trim(), 'Subaccount');
      assert.match(
        (await page.textContent('#twilio-sid-hint')) ?? '',
        /^Empty: this account's records\. A subaccount's Account SID \(AC…\)/,
      );
      await page.selectOption('#node-input-object', 'ConferenceParticipant');
      assert.match((await page.textContent('#twilio-sid-hint')) ?? '', /^CF…/);
      assert.equal((await page.textContent('label[for="node-input-sid"] span'))?.trim(), 'Parent Sid');
      await page.screenshot({ path: path.join(artifacts, 'query-parent-sid.png') });
      await closeDialogs();
    });

    it("switches twilio-in between webhook and polling, and twilio-send's outputs with its outcome choice", async () => {
      await openDialog('h1in000000000001'); // Text my house: polling
      assert.ok(await visible('#node-input-pollNumber'));
      assert.ok(await visible('#node-input-pollInterval'));
      assert.ok(!(await visible('#node-input-path')), 'a polling node has no route');
      assert.ok(!(await visible('#node-input-validate')));
      assert.match((await page.textContent('#twilio-in-receive-tip')) ?? '', /cannot be answered/);
      await page.screenshot({ path: path.join(artifacts, 'in-polling.png') });
      await page.selectOption('#node-input-receive', 'webhook');
      assert.ok(await visible('#node-input-path'));
      assert.ok(!(await visible('#node-input-pollNumber')));
      await closeDialogs();

      const outputsOf = (id: string) =>
        page.evaluate((nodeId) => {
          const node = (window as any).RED.nodes.node(nodeId);
          return { outputs: node.outputs, labels: [0, 1].slice(0, node.outputs).map((i) => node._def.outputLabels.call(node, i)) };
        }, id);
      assert.deepEqual(await outputsOf('w1send0000000001'), {
        outputs: 2,
        labels: ['reached: delivered, read, answered', 'not reached: undelivered, failed, busy, no answer, unknown'],
      });
      await openDialog('w1send0000000001');
      assert.ok(await visible('#node-input-outcomeTimeout'));
      await page.screenshot({ path: path.join(artifacts, 'send-waiting.png') });
      await page.uncheck('#node-input-failureOutput');
      await page.click('#node-dialog-ok');
      await traysClosed();
      assert.equal((await outputsOf('w1send0000000001')).outputs, 1, 'one output: the outcome says what happened');
      await openDialog('w1send0000000001');
      await page.check('#node-input-failureOutput');
      await page.click('#node-dialog-ok');
      await traysClosed();
      assert.equal((await outputsOf('w1send0000000001')).outputs, 2);
      await openDialog('w1send0000000001');
      await page.selectOption('#node-input-waitFor', 'queued');
      assert.ok(!(await visible('#node-input-outcomeTimeout')));
      assert.ok(!(await visible('#node-input-failureOutput')));
      await closeDialogs();
    });

    it('gives twilio-ask an output per answer, labelled, and keeps each wire on its output as answers come and go', async () => {
      const ASK = 'g1ask00000000001'; // Ask before the garage closes
      const ports = () =>
        page.evaluate((id) => {
          const RED = (window as any).RED;
          const node = RED.nodes.node(id);
          const wires: Record<string, number> = {};
          RED.nodes.filterLinks({ source: node }).forEach((l: any) => (wires[l.target.id] = Number(l.sourcePort)));
          return {
            outputs: node.outputs,
            labels: Array.from({ length: node.outputs }, (_, i) => node._def.outputLabels.call(node, i)),
            elseWire: wires.g1debug000000003,
            closeWire: wires.g1change00000001,
          };
        }, ASK);
      assert.deepEqual(await ports(), {
        outputs: 5,
        labels: ['answer: close', 'answer: leave it', 'anything else', 'no reply in time (or cancelled)', 'not delivered'],
        elseWire: 2,
        closeWire: 0,
      });
      await openDialog(ASK);
      await page.click('.node-input-answers-row .red-ui-editableList-addButton');
      const rows = page.locator('#node-input-answers-container li');
      await rows.nth(2).locator('.twilio-ask-value').fill('later, tomorrow');
      await rows.nth(2).locator('.twilio-ask-label').fill('later');
      await page.screenshot({ path: path.join(artifacts, 'dialog-ask-answers.png') });
      await page.click('#node-dialog-ok');
      await traysClosed();
      const added = await ports();
      assert.equal(added.outputs, 6);
      assert.equal(added.labels[2], 'answer: later');
      assert.equal(added.elseWire, 3, '"anything else" keeps its wire, one output further on');
      assert.equal(added.closeWire, 0);
      await openDialog(ASK);
      await rows.nth(2).locator('.red-ui-editableList-item-remove').click();
      await page.waitForFunction(() => document.querySelectorAll('#node-input-answers-container li').length === 2);
      await page.click('#node-dialog-ok');
      await traysClosed();
      assert.deepEqual((await ports()).elseWire, 2);
      assert.equal((await ports()).outputs, 5);
    });

    it("shows twilio-page's ladder of steps, and says what calls do without a URL for the keys", async () => {
      await openDialog('p1page0000000001'); // the smoke alarm
      const steps = await page.$$eval('#node-input-steps-container li', (rows) =>
        rows.map((r) => [
          (r.querySelector('.twilio-page-action') as HTMLSelectElement).value,
          (r.querySelector('.twilio-page-wait') as HTMLInputElement).value,
        ]),
      );
      assert.deepEqual(steps, [
        ['text', '10'],
        ['call', '30'],
      ]);
      assert.equal(await page.isVisible('#twilio-page-no-keys'), false, 'keys go to a twilio-in');
      await page.selectOption('#node-input-keysNode', '');
      assert.match((await page.textContent('#twilio-page-no-keys')) ?? '', /ask to reply by text/);
      assert.equal(await page.isVisible('#twilio-page-no-keys'), true);
      await page.screenshot({ path: path.join(artifacts, 'dialog-page.png') });
      await closeDialogs();
      const labels = await page.evaluate(() => {
        const node = (window as any).RED.nodes.node('p1page0000000001');
        return [0, 1, 2].map((i) => node._def.outputLabels.call(node, i));
      });
      assert.deepEqual(labels, ['acknowledged', 'nobody acknowledged', 'cancelled']);
    });

    it("gives twilio-verify its action's outputs, labelled, and its action's fields; wires stay on their outputs", async () => {
      const START = 'v1start000000001'; // Verify a code
      const ports = () =>
        page.evaluate((id) => {
          const RED = (window as any).RED;
          const node = RED.nodes.node(id);
          const wires: Record<string, number> = {};
          RED.nodes.filterLinks({ source: node }).forEach((l: any) => (wires[l.target.id] = Number(l.sourcePort)));
          return {
            outputs: node.outputs,
            labels: Array.from({ length: node.outputs }, (_, i) => node._def.outputLabels.call(node, i)),
            wires,
          };
        }, START);
      const wires = { v1simurl00000001: 0, v1debug000000002: 1 };
      assert.deepEqual(await ports(), { outputs: 2, labels: ['sent', 'not delivered'], wires });
      await openDialog(START);
      assert.ok(await visible('#node-input-channel'));
      assert.ok(!(await visible('#node-input-code')));
      await page.selectOption('#node-input-action', 'check');
      assert.ok(await visible('#node-input-code'));
      assert.ok(!(await visible('#node-input-channel')));
      await page.screenshot({ path: path.join(artifacts, 'dialog-verify.png') });
      await page.click('#node-dialog-ok');
      await traysClosed();
      assert.deepEqual(await ports(), {
        outputs: 3,
        labels: ['approved', 'wrong code (still pending)', 'expired or too many attempts'],
        wires,
      });
      // Back to start, as the demo has it.
      await openDialog(START);
      await page.selectOption('#node-input-action', 'start');
      await page.click('#node-dialog-ok');
      await traysClosed();
      assert.deepEqual((await ports()).outputs, 2);
      assert.deepEqual((await ports()).wires, wires);
    });

    it('opens on the simplest example: the first demo tab is the SMS alert', async () => {
      const tabs = await page.evaluate(() => {
        const labels: string[] = [];
        (window as any).RED.nodes.eachWorkspace((w: any) => labels.push(w.label));
        return labels;
      });
      assert.equal(tabs[0], 'Send an SMS alert');
      assert.equal(tabs.at(-1), 'Any API call', 'the most advanced one last');
      assert.match(firstShownTab, /Send an SMS alert/, 'the editor opened on it');
    });

    it("shows each node's help in the sidebar", async () => {
      for (const type of [...TYPES, 'twilio-config']) {
        const text = await page.evaluate((t) => {
          (window as any).RED.sidebar.help.show(t);
          return document.querySelector('.red-ui-sidebar-help-stack .red-ui-help')?.textContent ?? '';
        }, type);
        assert.ok(text.length > 200, `${type} has help (${text.length} characters)`);
        assert.ok(!/data-help-name|__\w+__/.test(text), `${type}: no raw markup`);
      }
      await page.screenshot({ path: path.join(artifacts, 'help.png') });
    });

    it("tests the account's connection from its dialog", async () => {
      const configId = await page.evaluate(() => {
        let id;
        (window as any).RED.nodes.eachConfig((n: any) => {
          if (n.type === 'twilio-config') id = n.id;
        });
        return id;
      });
      await openDialog(configId!);
      await page.click('#twilio-config-test');
      await page.waitForFunction(() => /connected|failed/.test(document.querySelector('#twilio-config-test-result')?.textContent ?? ''));
      assert.match((await page.textContent('#twilio-config-test-result')) ?? '', /connected: Simulated demo account \(active\)/);
      await page.screenshot({ path: path.join(artifacts, 'test-connection.png') });
      await closeDialogs();
    });

    it('deploys a flow built in the editor (inject → send → debug) that delivers to the simulator', async () => {
      const body = `built in the editor ${Date.now()}`;
      await page.evaluate((text) => {
        const RED = (window as any).RED;
        const tab = RED.workspaces.add();
        let account: string | undefined;
        RED.nodes.eachConfig((n: any) => {
          if (n.type === 'twilio-config') account = n.id;
        });
        RED.view.importNodes(
          [
            {
              id: 'e2einject0000001',
              type: 'inject',
              z: tab.id,
              name: 'e2e',
              props: [{ p: 'payload' }],
              payload: text,
              payloadType: 'str',
              repeat: '',
              crontab: '',
              once: false,
              x: 120,
              y: 80,
              wires: [['e2esend00000001']],
            },
            {
              id: 'e2esend00000001',
              type: 'twilio-send',
              z: tab.id,
              account,
              resource: 'message',
              to: '+15558675310',
              toType: 'str',
              body: '{{payload}}',
              bodyType: 'str',
              x: 300,
              y: 80,
              wires: [['e2edebug0000001']],
            },
            {
              id: 'e2edebug0000001',
              type: 'debug',
              z: tab.id,
              name: 'e2e out',
              active: true,
              tosidebar: true,
              complete: 'payload',
              targetType: 'msg',
              x: 480,
              y: 80,
              wires: [],
            },
          ],
          { generateIds: false, addFlow: false },
        );
      }, body);
      await page.click('#red-ui-header-button-deploy');
      await page.waitForFunction(() => !(window as any).RED.nodes.dirty(), undefined, { timeout: 20_000 });
      // The deploy answers before the new flows may have started: press the inject until it exists.
      await waitFor(
        'the deployed inject',
        async () => ((await fetch(`${demo.editor}/inject/e2einject0000001`, { method: 'POST' })).status === 200 ? true : undefined),
        20_000,
      );
      const delivered = await waitFor(
        'the message at the simulator',
        async () => {
          const messages = (await (await fetch(`${demo.simulator}/_sim/messages`)).json()) as Array<{ body: string }>;
          return messages.find((m) => m.body === body);
        },
        20_000,
      );
      assert.equal(delivered.body, body);
      await page.screenshot({ path: path.join(artifacts, 'deployed-flow.png') });
    });

    it('explains fields on hover, from the catalogue', async () => {
      for (const [type, least] of [
        ['twilio-send', 12],
        ['twilio-in', 6],
        ['twilio-get', 2],
        ['twilio-request', 6],
        ['twilio-ask', 7],
        ['twilio-page', 8],
        ['twilio-verify', 4],
      ] as const) {
        await openDialog((await firstOfType(type))!);
        const tips = await page.evaluate(() => (window as any).$('.red-ui-editor .twilio-has-tip').length);
        assert.ok(tips >= least, `${type}: ${tips} labels with a tooltip`);
        await closeDialogs();
      }
      await openDialog((await firstOfType('twilio-send'))!);
      await page.hover('label[for="node-input-to"]');
      const shown = await page.waitForSelector('.red-ui-popover', { timeout: 5_000 });
      assert.match((await shown.textContent()) ?? '', /comma-separated list/);
      await page.screenshot({ path: path.join(artifacts, 'tooltip.png') });
      await page.mouse.move(0, 0);
      await closeDialogs();
    });

    it('speaks German and Japanese where the browser does: palette, dialog, help', async () => {
      const expectations = [
        {
          locale: 'de-DE',
          help: /Sendet eine SMS, MMS oder WhatsApp-Nachricht/,
          objects: 'Objekte',
          reason: 'Eine Validierungsanfrage lässt sich nicht abrufen',
        },
        {
          locale: 'ja-JP',
          help: /Twilio で SMS、MMS、WhatsApp メッセージを送信/,
          objects: 'オブジェクト',
          reason: '検証リクエストは取得できません',
        },
      ];
      for (const expected of expectations) {
        const context = await browser.newContext({ locale: expected.locale, viewport: { width: 1400, height: 1000 } });
        const localised = await context.newPage();
        localised.on('pageerror', (err) => pageErrors.push(`${expected.locale}: ${err.message}`));
        try {
          await localised.goto(demo.editor);
          await localised.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 60_000 });
          // The palette comes before the flows: wait for the demo's nodes too (more tabs load later).
          await localised.waitForFunction(
            () => {
              let found = false;
              (window as any).RED.nodes.eachNode((n: any) => {
                if (n.type === 'twilio-get') found = true;
              });
              return found;
            },
            undefined,
            { timeout: 60_000 },
          );
          const help = await localised.evaluate(() => {
            const RED = (window as any).RED;
            const read = (type: string) => {
              RED.sidebar.help.show(type);
              return (document.querySelector('.red-ui-sidebar-help-stack .red-ui-help')?.textContent ?? '').trim();
            };
            return { send: read('twilio-send'), get: read('twilio-get') };
          });
          assert.match(help.send, expected.help, `${expected.locale}: twilio-send help`);
          assert.ok(
            help.get.includes(expected.objects) && help.get.includes(expected.reason),
            `${expected.locale}: the catalogue's list in the help`,
          );
          // A dialog's labels come from the same catalogue: the Get dialog's "not supported" note too.
          const note = await localised.evaluate(async () => {
            const RED = (window as any).RED;
            let id: string | undefined;
            RED.nodes.eachNode((n: any) => {
              if (!id && n.type === 'twilio-get') id = n.id;
            });
            const node = RED.nodes.node(id);
            RED.workspaces.show(node.z);
            RED.editor.edit(node);
            await new Promise((r) => setTimeout(r, 800));
            (window as any).$('#node-input-object').val('CallerIdValidation').trigger('change');
            await new Promise((r) => setTimeout(r, 200));
            return (window as any).$('#twilio-not-supported').text();
          });
          assert.ok(note.startsWith(expected.reason), `${expected.locale}: ${note}`);
          await localised.screenshot({ path: path.join(artifacts, `get-dialog-${expected.locale}.png`) });
        } finally {
          await context.close();
        }
      }
    });

    it('finds every example saved as the current editor saves it: each property of each node present', async () => {
      const properties = await page.evaluate(() => {
        const RED = (window as any).RED;
        const out: Record<string, string[]> = {};
        for (const type of RED.nodes.registry.getNodeTypes().filter((t: string) => /^twilio-/.test(t)))
          out[type] = Object.keys(RED.nodes.getType(type).defaults);
        return out;
      });
      const absent: string[] = [];
      for (const file of fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.json')))
        for (const node of JSON.parse(fs.readFileSync(path.join(root, 'examples', file), 'utf8')) as Array<Record<string, unknown>>)
          for (const property of properties[String(node.type)] ?? [])
            if (!(property in node)) absent.push(`${file} ${node.id}: ${property}`);
      assert.ok(Object.keys(properties).length >= 10);
      assert.deepEqual(absent, []);
    });

    it('opens every node of every example with no blank choice, and finds it valid', async () => {
      // One node per type and set of saved properties: two nodes that lack the same properties open alike.
      const ids = await page.evaluate(() => {
        const RED = (window as any).RED;
        const byShape = new Map<string, string>();
        const add = (n: any) => {
          if (!/^twilio-/.test(n.type)) return;
          const saved = Object.keys(n._def.defaults).filter((k) => n[k] !== undefined);
          const shape = `${n.type}|${saved.join(',')}`;
          if (!byShape.has(shape)) byShape.set(shape, n.id);
        };
        RED.nodes.eachNode(add);
        RED.nodes.eachConfig(add);
        const out = [...byShape.values()];
        return out;
      });
      assert.ok(ids.length > 10, `${ids.length} kinds of Twilio node in the demo's examples`);
      const problems: string[] = [];
      for (const id of ids) {
        await openDialog(id, false);
        // A property's drop-down showing nothing: its value names no option (a property the saved flow lacks).
        const blank = await page.evaluate(() =>
          (window as any)
            .$('.red-ui-tray:last select:visible[id^="node-input-"], .red-ui-tray:last select:visible[id^="node-config-input-"]')
            .toArray()
            .filter((select: HTMLSelectElement) => select.selectedIndex < 0)
            .map((select: HTMLSelectElement) => select.id || select.className),
        );
        // Done: #node-dialog-ok, or #node-config-dialog-ok for the account.
        await page.evaluate(() => (window as any).$('#node-dialog-ok:visible, #node-config-dialog-ok:visible').first().trigger('click'));
        await traysClosed();
        const node = await page.evaluate((nodeId) => {
          const n = (window as any).RED.nodes.node(nodeId);
          return { type: n.type, name: n.name, valid: n.valid !== false };
        }, id);
        if (blank.length > 0) problems.push(`${node.type} ${id} (${node.name}): blank ${blank.join(', ')}`);
        if (!node.valid) problems.push(`${node.type} ${id} (${node.name}): invalid after Done`);
      }
      assert.deepEqual(problems, []);
    });

    it('lays out every example so no status line lies under another node, and all of it shows in a 1600 px window', async () => {
      await page.setViewportSize({ width: 1600, height: 900 });
      // The demo's tabs are the examples (a flow another test built is not one).
      const exampleNames = fs
        .readdirSync(path.join(root, 'examples'))
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.replace(/\.json$/, ''));
      try {
        const problems = await page.evaluate(async (names: string[]) => {
          const RED = (window as any).RED;
          const pause = () => new Promise((resolve) => setTimeout(resolve, 50));
          // A status line as long as ours get (the status texts stay under ~30 characters).
          const SAMPLE = 'waiting for 12 outcomes ·';
          // Which nodes show a status: ours, an http request, a debug set to, a delay that limits a rate (a plain delay shows none).
          const showsStatus = (n: any) =>
            n.type === 'debug'
              ? n.tostatus === true
              : n.type === 'delay'
                ? n.pauseType !== 'delay'
                : /^twilio-|^http request$/.test(n.type);
          type Box = { left: number; top: number; right: number; bottom: number };
          const overlap = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
          const tabs: any[] = [];
          RED.nodes.eachWorkspace((w: any) => {
            if (names.includes(w.label)) tabs.push(w);
          });
          const out: string[] = [];
          for (const tab of tabs) {
            RED.workspaces.show(tab.id);
            await pause();
            const nodes: any[] = [];
            RED.nodes.eachNode((n: any) => {
              if (n.z === tab.id) nodes.push(n);
            });
            const saved = nodes.map((n) => n.status);
            for (const n of nodes.filter(showsStatus))
              Object.assign(n, { status: { fill: 'green', shape: 'dot', text: SAMPLE }, dirty: true, dirtyStatus: true });
            RED.view.redraw(true);
            await pause();
            // The canvas a 1600 px window shows, between the palette and the sidebar (at zoom 1, scrolled to the top left).
            const visible = document.getElementById('red-ui-workspace-chart')!.clientWidth;
            const shapes = nodes.map((n) => {
              // A node's box from its x, y (its centre), w and h; an inject's or debug's button sticks out 25 px.
              const button = n._def.button ? (n._def.align === 'right' ? { right: 25 } : { left: 25 }) : {};
              const body = {
                left: n.x - n.w / 2 - ((button as any).left ?? 0),
                right: n.x + n.w / 2 + ((button as any).right ?? 0),
                top: n.y - n.h / 2,
                bottom: n.y + n.h / 2,
              };
              // Its status line as drawn below it (the SVG group's box, in the node's own coordinates).
              const group = document.getElementById(n.id)?.querySelector('.red-ui-flow-node-status-group') as SVGGraphicsElement | null;
              const drawn = showsStatus(n) && group ? group.getBBox() : undefined;
              const status =
                drawn && drawn.width > 0
                  ? {
                      left: n.x - n.w / 2 + drawn.x,
                      right: n.x - n.w / 2 + drawn.x + drawn.width,
                      top: n.y - n.h / 2 + drawn.y,
                      bottom: n.y - n.h / 2 + drawn.y + drawn.height,
                    }
                  : undefined;
              return { label: `${n.type} "${n.name || n.id}"`, body, status };
            });
            for (const a of shapes) {
              const right = Math.max(a.body.right, a.status?.right ?? 0);
              if (right > visible)
                out.push(`${tab.label}: ${a.label} reaches x=${Math.round(right)}, past the ${visible} px a 1600 px window shows`);
              for (const b of shapes) {
                if (a === b) continue;
                if (a.status && overlap(a.status, b.body)) out.push(`${tab.label}: the status of ${a.label} lies under ${b.label}`);
                if (a.label < b.label && overlap(a.body, b.body)) out.push(`${tab.label}: ${a.label} and ${b.label} overlap`);
              }
            }
            nodes.forEach((n, i) => Object.assign(n, { status: saved[i], dirty: true, dirtyStatus: true }));
            RED.view.redraw(true);
          }
          return out;
        }, exampleNames);
        assert.ok(exampleNames.length >= 10);
        assert.deepEqual(problems, []);
      } finally {
        await page.setViewportSize({ width: 1400, height: 1000 });
      }
    });

    it("lays out twilio-send's rows on one line at the default dialog width in English, German and Japanese: an icon beside its label, a checkbox beside its text", async () => {
      for (const locale of ['en-US', 'de-DE', 'ja-JP']) {
        const context = await browser.newContext({ locale, viewport: { width: 1400, height: 1000 } });
        const localised = await context.newPage();
        localised.on('pageerror', (err) => pageErrors.push(`${locale}: ${err.message}`));
        try {
          await localised.goto(demo.editor);
          await localised.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 60_000 });
          await localised.waitForFunction(() => (window as any).TwilioEditor && (window as any).TwilioEditor.find('Message'), undefined, {
            timeout: 60_000,
          });
          // The palette can show before the flows are loaded: wait for the demo's twilio-send itself.
          await localised.waitForFunction(
            () => {
              let found = false;
              (window as any).RED.nodes.eachNode((n: any) => {
                found ||= n.type === 'twilio-send' && n.resource === 'message';
              });
              return found;
            },
            undefined,
            { timeout: 60_000 },
          );
          await localised.evaluate(() => {
            const RED = (window as any).RED;
            let node: any;
            RED.nodes.eachNode((n: any) => {
              if (!node && n.type === 'twilio-send' && n.resource === 'message') node = n;
            });
            RED.workspaces.show(node.z);
            RED.editor.edit(node);
          });
          await localised.waitForFunction(() => (window as any).$('.red-ui-tray:last').css('right') === '0px');
          const problems = await localised.evaluate(async () => {
            const $ = (window as any).$;
            // Every row this dialog can show: waiting for the outcome shows the second-output checkbox.
            $('#node-input-waitFor').val('outcome').trigger('change');
            // Node-RED's default dialog width: a tray is 500 px unless its content needs more.
            const tray = $('.red-ui-tray:last');
            tray.find('.red-ui-tray-body').css('min-width', 0);
            tray.width(500);
            await new Promise((resolve) => setTimeout(resolve, 100));
            const out: string[] = [];
            const top = (el: Element) => el.getClientRects()[0]?.top ?? NaN;
            for (const row of tray.find('.form-row:visible').toArray() as HTMLElement[]) {
              const icon = row.querySelector(':scope > label > i.fa');
              const words = icon?.nextElementSibling;
              if (icon && words && Math.abs(top(icon) - top(words)) > 4)
                out.push(`the icon of "${row.querySelector('label')!.textContent!.trim()}" sits on a line of its own`);
              const box = row.querySelector(':scope > input[type=checkbox]');
              const text = box && row.querySelector(`label[for="${box.id}"]`);
              if (box && text) {
                const b = box.getBoundingClientRect();
                const t = text.getBoundingClientRect();
                if (t.top > b.bottom || t.height > 24)
                  out.push(`"${text.textContent!.trim()}" does not sit on one line beside its checkbox`);
              }
            }
            $('#node-input-statusCallbackNode')[0].scrollIntoView();
            return out;
          });
          await localised
            .locator('.red-ui-tray')
            .last()
            .screenshot({ path: path.join(artifacts, `send-dialog-rows-${locale}.png`) });
          assert.deepEqual(problems, [], locale);
        } finally {
          await context.close();
        }
      }
    });

    it('imports a second example from Import > Examples in one click, on the account already there', async () => {
      // The examples carry no account: each of their Twilio nodes names none, and none brings a twilio-config.
      for (const file of fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.json'))) {
        const nodes = JSON.parse(fs.readFileSync(path.join(root, 'examples', file), 'utf8')) as Array<Record<string, unknown>>;
        assert.ok(!nodes.some((n) => n.type === 'twilio-config'), `${file} brings no account`);
        for (const n of nodes.filter((n) => 'account' in n)) assert.equal(n.account, '', `${file}: ${String(n.type)} ${String(n.id)}`);
      }
      const result = await page.evaluate(async () => {
        const RED = (window as any).RED;
        const name = 'Place a phone call';
        // This Node-RED has the demo's account and other flows; the example itself is not here yet.
        let tab: any;
        RED.nodes.eachWorkspace((w: any) => {
          if (w.label === name) tab = w;
        });
        RED.workspaces.delete(tab);
        const accountsBefore: string[] = [];
        RED.nodes.eachConfig((c: any) => {
          if (c.type === 'twilio-config') accountsBefore.push(c.id);
        });
        // What Import > Examples fetches, and imports as its Import button does (a conflict throws, and asks the user).
        const example = await (await fetch(`library/examples/flows/@nr-twilio/node-red-twilio/${encodeURIComponent(name)}`)).json();
        let conflict: string | undefined;
        try {
          RED.view.importNodes(example, { generateIds: false, addFlow: true });
        } catch (err: any) {
          conflict = `${err.code}: ${err.message}`;
        }
        const imported = example
          .map((n: any) => RED.nodes.node(n.id))
          .filter((n: any) => n && /^twilio-/.test(n.type))
          .map((n: any) => ({ type: n.type, account: n.account, valid: n.valid }));
        const accountsAfter: string[] = [];
        RED.nodes.eachConfig((c: any) => {
          if (c.type === 'twilio-config') accountsAfter.push(c.id);
        });
        return { conflict, imported, accountsBefore, accountsAfter, users: RED.nodes.node(accountsBefore[0]).users.length };
      });
      await page.screenshot({ path: path.join(artifacts, 'example-imported.png') });
      assert.equal(result.conflict, undefined, 'imported without asking');
      assert.equal(result.accountsBefore.length, 1);
      assert.deepEqual(result.accountsAfter, result.accountsBefore, 'no second account');
      assert.ok(result.imported.length > 0);
      for (const n of result.imported) assert.deepEqual(n, { type: n.type, account: result.accountsBefore[0], valid: true });
    });

    it("shows the account's shared state choice, checks the Redis URL, and saves the URL and the password (a credential)", async () => {
      const configId = await page.evaluate(() => {
        let id;
        (window as any).RED.nodes.eachConfig((n: any) => {
          if (n.type === 'twilio-config') id = n.id;
        });
        return id;
      });
      await openDialog(configId!);
      assert.equal(await page.inputValue('#node-config-input-stateBackend'), 'embedded', 'embedded by default');
      assert.equal(await visible('#node-config-input-redisUrl'), false, 'no Redis fields for the embedded store');
      assert.match((await page.textContent('#twilio-config-state-hint')) ?? '', /twilio-state/);
      await page.selectOption('#node-config-input-stateBackend', 'redis');
      assert.equal(await visible('#node-config-input-redisUrl'), true);
      assert.equal(await visible('#node-config-input-redisPassword'), true);
      assert.match((await page.textContent('#twilio-config-state-hint')) ?? '', /AOF/);
      const flagged = async (value: string) => {
        await page.fill('#node-config-input-redisUrl', value);
        await page.dispatchEvent('#node-config-input-redisUrl', 'change');
        return page.evaluate(() => (window as any).$('#node-config-input-redisUrl').hasClass('input-error'));
      };
      assert.equal(await flagged('http://cache:6379'), true, 'not a Redis URL');
      assert.equal(await flagged('redis://:pw@cache:6379'), true, 'a password in the URL would be exported');
      assert.equal(await flagged('${REDIS_URL}'), false);
      assert.equal(await flagged('rediss://cache.example.com:6380/1'), false);
      await page.fill('#node-config-input-redisPassword', 'editor-redis-pw');
      await page.click('#node-config-dialog-ok');
      await traysClosed();
      const saved = await page.evaluate((id) => {
        const n = (window as any).RED.nodes.node(id);
        return { backend: n.stateBackend, url: n.redisUrl, password: n.credentials?.redisPassword, valid: n.valid !== false };
      }, configId!);
      assert.deepEqual(saved, { backend: 'redis', url: 'rediss://cache.example.com:6380/1', password: 'editor-redis-pw', valid: true });
      // The password is a credential: an export of the flow does not carry it.
      const exported = await page.evaluate(() => JSON.stringify((window as any).RED.nodes.createCompleteNodeSet({ credentials: false })));
      assert.ok(!exported.includes('editor-redis-pw'), 'no password in the export');
      // Back as it was: nothing after this deploys, but the page stays as the demo left it.
      await page.evaluate((id) => {
        const n = (window as any).RED.nodes.node(id);
        n.stateBackend = 'embedded';
        n.redisUrl = '';
        delete n.credentials.redisPassword;
      }, configId!);
    });

    it('raised no errors in the page', () => {
      assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join(' | ')}`);
    });
  });
