/**
 * The Twilio sidebar as a user meets it, in Debian's Chromium driven by playwright-core against
 * `npm start` (a real Node-RED with the package, the demo flows and the simulator): the tab opens,
 * a text is sent (with delivery receipts) and one received through the simulator, and the rows it
 * shows are what the simulator recorded: Sids, numbers with all but the last four digits hidden,
 * directions and statuses. An open question shows with its deadline and a link that reveals its node.
 * A screenshot goes to test-artifacts/sidebar.png. Skipped, with the reason, without /usr/bin/chromium.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { maskNumber } from '../../lib/account/activity';
import { Demo, root, startDemo, waitFor } from '../support/demo';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const noBrowser = fs.existsSync(CHROMIUM)
  ? undefined
  : `no browser at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`;
const artifacts = path.join(root, 'test-artifacts');
const DEMO_ACCOUNT_ID = 'twilio0demo0acct';
const MAIN_NUMBER = '+15017122661';

interface Row {
  sid: string;
  direction: string;
  from: string;
  to: string;
  status: string;
}
interface SimRecord {
  sid: string;
  from: string;
  to: string;
  status: string;
  direction: string;
}

if (noBrowser) it('the Twilio sidebar in a real browser', { skip: noBrowser }, () => undefined);
else
  describe('the Twilio sidebar in a real browser', { timeout: 300_000 }, () => {
    let demo: Demo;
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];

    before(async () => {
      fs.mkdirSync(artifacts, { recursive: true });
      demo = await startDemo();
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-sync', '--no-first-run'],
      });
      page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(demo.editor);
      await page.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 60_000 });
    });

    after(async () => {
      await browser?.close();
      await demo?.stop();
    });

    const simulated = async (collection: 'messages' | 'calls'): Promise<SimRecord[]> =>
      (await fetch(`${demo.simulator}/_sim/${collection}`)).json() as Promise<SimRecord[]>;
    const rows = (): Promise<Row[]> =>
      page.$$eval(`.twilio-sidebar-account[data-account="${DEMO_ACCOUNT_ID}"] tr[data-sid]`, (trs) =>
        trs.map((tr) => ({
          sid: tr.getAttribute('data-sid') ?? '',
          direction: tr.querySelector('.direction')?.getAttribute('data-direction') ?? '',
          from: tr.querySelector('.from')?.textContent ?? '',
          to: tr.querySelector('.to')?.textContent ?? '',
          status: tr.querySelector('.status')?.textContent ?? '',
        })),
      );
    /** Presses an inject button of the demo, as its button in the editor does. */
    const inject = (id: string) =>
      page.evaluate(
        (nodeId) => new Promise((resolve, reject) => (window as any).$.post(`inject/${nodeId}`).done(resolve).fail(reject)),
        id,
      );

    it('opens, shows a text sent and one received as the simulator recorded them, and an open question that reveals its node', async () => {
      await page.evaluate(() => (window as any).RED.sidebar.show('twilio'));
      await page.waitForSelector(`.twilio-sidebar-account[data-account="${DEMO_ACCOUNT_ID}"]`, { timeout: 30_000 });
      // Drawn once the account's first snapshot is in (a moment after its section): waited for, not polled once.
      await page.waitForSelector('.twilio-sidebar .twilio-sidebar-chart', { state: 'visible', timeout: 10_000 });
      assert.ok(await page.isVisible('.twilio-sidebar .twilio-sidebar-chart'), 'the queue chart shows');

      // A text with delivery receipts (its status comes back by callback), a text in, and a question no one answers.
      await inject('c2inject00000001');
      const answer = await fetch(`${demo.simulator}/_sim/inbound/message`, {
        method: 'POST',
        body: JSON.stringify({ from: '+15558675399', to: MAIN_NUMBER, body: 'Lights off' }),
      });
      assert.equal(answer.status, 200, await answer.clone().text());
      await inject('g1inject00000003');

      // The sidebar follows by comms pushes (no reload): wait until it shows what the simulator has.
      const sent = await waitFor('the receipted text delivered', async () =>
        (await simulated('messages')).find((m) => m.to === '+15558675310' && m.direction === 'outbound-api' && m.status === 'delivered'),
      );
      const received = await waitFor('the text in', async () =>
        (await simulated('messages')).find((m) => m.from === '+15558675399' && m.direction === 'inbound'),
      );
      let shown: Row[] = [];
      await waitFor(
        'the sidebar to show both as the simulator has them',
        async () => {
          shown = await rows();
          const sentRow = shown.find((r) => r.sid === sent.sid);
          const receivedRow = shown.find((r) => r.sid === received.sid);
          return sentRow?.status === 'delivered' && receivedRow ? true : undefined;
        },
        30_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(shown)}`);
      });
      assert.deepEqual(
        shown.find((r) => r.sid === sent.sid),
        { sid: sent.sid, direction: 'out', from: maskNumber(sent.from), to: maskNumber(sent.to), status: sent.status },
      );
      assert.deepEqual(
        shown.find((r) => r.sid === received.sid),
        { sid: received.sid, direction: 'in', from: maskNumber(received.from), to: maskNumber(received.to), status: 'received' },
      );
      assert.equal(maskNumber(sent.to), '+•••••••5310');
      // Every row is one of the simulator's records, its numbers masked alike and its direction Twilio's.
      const records = new Map([...(await simulated('messages')), ...(await simulated('calls'))].map((r) => [r.sid, r]));
      for (const row of shown) {
        const record = records.get(row.sid);
        assert.ok(record, `${row.sid} is a record of the simulator`);
        assert.equal(row.from, maskNumber(record.from), row.sid);
        assert.equal(row.to, maskNumber(record.to), row.sid);
        assert.equal(row.direction, record.direction === 'inbound' ? 'in' : 'out', row.sid);
      }
      const text = await page.textContent('.twilio-sidebar');
      for (const secret of ['Lights off', '+15558675399', '+15558675310', MAIN_NUMBER])
        assert.ok(!text!.includes(secret), `${secret} is not shown`);

      // The question waits, with its deadline; its link shows the twilio-ask in its flow.
      await page.waitForSelector('.twilio-sidebar-wait[data-node="g1ask00000000001"] .deadline', { timeout: 20_000 });
      const deadline = await page.textContent('.twilio-sidebar-wait[data-node="g1ask00000000001"] .deadline');
      assert.ok(deadline && /\d/.test(deadline), `a deadline: ${deadline}`);
      await page.screenshot({ path: path.join(artifacts, 'sidebar.png') });
      await page.click('.twilio-sidebar-wait[data-node="g1ask00000000001"] a.reveal');
      await page.waitForFunction(() => {
        const RED = (window as any).RED;
        return RED.workspaces.active() === RED.nodes.node('g1ask00000000001').z;
      });
      assert.deepEqual(pageErrors, []);
    });
  });
