/**
 * twilio-in against what a stranger can send, in a real Node-RED process (the root app, the editor's
 * body parsers and httpNodeAuth exist only there): bodies too large (declared or chunked), cut off,
 * too slow, with a garbage Content-Length, and many at once. After each, Node-RED is alive and a
 * valid signed webhook still gets its TwiML answer.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import twilio from 'twilio';
import { DEMO_ACCOUNT } from '../../simulator/server';
import { CREDENTIALS, postWebhook, replyFlow } from '../support/flows';
import { RedProcess, startRed } from '../support/red-process';

const TOKEN = DEMO_ACCOUNT.authToken;
const PARAMS = {
  MessageSid: 'SM' + 'c'.repeat(32),
  AccountSid: DEMO_ACCOUNT.sid,
  From: '+15558675310',
  To: '+15017122661',
  Body: 'still here',
};
/** A text of its own each time: what Twilio signs of one text is heard once (a second post of it is a duplicate, answered empty). */
const freshText = () => ({ ...PARAMS, MessageSid: 'SM' + crypto.randomBytes(16).toString('hex') });
const BODY_TIMEOUT_MS = 1500;

interface RawAnswer {
  status: number;
  text: string;
  ms: number;
}

/**
 * Sends `head` and then `body` (chunks, with pauses between them when asked) on a raw socket and
 * reads what comes back until the server closes or `waitMs` pass. `cut` closes the socket after the body.
 */
function raw(
  port: number,
  head: string,
  body: Array<string | Buffer> = [],
  opts: { pauseMs?: number; cut?: boolean; waitMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let ended = false;
    let answeredAt: number | undefined;
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text, ms: (answeredAt ?? Date.now()) - started });
    };
    const timer = setTimeout(end, opts.waitMs ?? 5000);
    socket.on('data', (d) => {
      answeredAt ??= Date.now();
      text += d.toString();
      // A whole answer (headers and a Content-Length body) is enough: a server may keep the connection.
      const split = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split))?.[1];
      if (split !== -1 && length !== undefined && Buffer.byteLength(text.slice(split + 4)) >= Number(length)) end();
    });
    socket.on('error', () => undefined); // a refused body may reset the connection: what was read counts
    socket.on('close', end);
    socket.on('connect', async () => {
      socket.write(head);
      for (const chunk of body) {
        if (socket.destroyed) return;
        if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
        if (socket.destroyed) return;
        socket.write(chunk);
      }
      if (opts.cut) socket.destroy();
    });
  });
}

const head = (path: string, headers: Record<string, string | number>) =>
  `POST ${path} HTTP/1.1\r\n${Object.entries({ Host: '127.0.0.1', ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

function chunked(parts: Array<string | Buffer>): Buffer[] {
  return [
    ...parts.map((p) => Buffer.concat([Buffer.from(`${Buffer.byteLength(p).toString(16)}\r\n`), Buffer.from(p), Buffer.from('\r\n')])),
    Buffer.from('0\r\n\r\n'),
  ];
}

const variants = [
  {
    name: 'editor and nodes on one root (the default)',
    root: '',
    settings: `twilioInBodyTimeout: ${BODY_TIMEOUT_MS},`,
    auth: undefined as string | undefined,
  },
  {
    name: 'httpNodeRoot /hooks, httpAdminRoot /admin',
    root: '/hooks',
    settings: `httpNodeRoot: '/hooks', httpAdminRoot: '/admin', twilioInBodyTimeout: ${BODY_TIMEOUT_MS},`,
    auth: undefined,
  },
  {
    name: 'behind httpNodeAuth',
    root: '',
    settings: `httpNodeAuth: { user: 'hook', pass: ${JSON.stringify((require('bcryptjs') as { hashSync(p: string, r: number): string }).hashSync('hook-secret', 4))} }, twilioInBodyTimeout: ${BODY_TIMEOUT_MS},`,
    auth: `Basic ${Buffer.from('hook:hook-secret').toString('base64')}`,
  },
];

for (const variant of variants) {
  describe(`twilio-in under hostile requests: ${variant.name}`, { timeout: 120_000 }, () => {
    let red: RedProcess;
    let port: number;
    const path = `${variant.root}/twilio/sms`;
    const authHeader: Record<string, string> = variant.auth ? { Authorization: variant.auth } : {};

    before(async () => {
      red = await startRed(replyFlow('/twilio/sms'), CREDENTIALS, variant.settings);
      port = Number(new URL(red.url).port);
    });
    after(async () => {
      await red?.stop();
    });

    /** A webhook signed as Twilio signs it still gets the flow's TwiML answer, and Node-RED is alive. */
    async function stillServes(): Promise<void> {
      assert.ok(red.alive(), `Node-RED died:\n${red.log().slice(-2000)}`);
      const params = freshText();
      const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://127.0.0.1:${port}${path}`, params);
      const answer = await postWebhook(`http://127.0.0.1:${port}${path}`, params, signature, { headers: authHeader });
      assert.equal(answer.status, 200);
      assert.match(await answer.text(), /<Message>got still here<\/Message>/);
      assert.ok(!/Uncaught|TypeError/.test(red.log()), red.log().slice(-2000));
    }

    const signed = { 'X-Twilio-Signature': 'forged', 'Content-Type': 'application/x-www-form-urlencoded' };

    it('answers 413 to a body over 1 MiB, declared or chunked, and keeps serving', async () => {
      const big = Buffer.alloc(1024 * 1024 + 1, 'a');
      const declared = await raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': big.length }), [big]);
      assert.equal(declared.status, 413);
      const streamed = await raw(
        port,
        head(path, { ...signed, ...authHeader, 'Transfer-Encoding': 'chunked' }),
        chunked(Array.from({ length: 17 }, () => Buffer.alloc(64 * 1024, 'b'))),
      );
      assert.equal(streamed.status, 413);
      const declaredOnly = await raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': 50 * 1024 * 1024 }));
      assert.equal(declaredOnly.status, 413, 'a declared length over the cap is refused before any of it is sent');
      await stillServes();
    });

    it('drops a body cut off mid-way, declared or chunked, and keeps serving', async () => {
      const cut = await raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': 5000 }), ['From=%2B1555'], { cut: true });
      assert.equal(cut.status, 0, 'nothing is answered to a client that left');
      const cutChunked = await raw(port, head(path, { ...signed, ...authHeader, 'Transfer-Encoding': 'chunked' }), ['5\r\nFrom='], {
        cut: true,
      });
      assert.equal(cutChunked.status, 0);
      await new Promise((r) => setTimeout(r, 200));
      await stillServes();
    });

    it('times a slow body out with 408', async () => {
      const slow = await raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': 100 }), ['Fr', 'om'], {
        pauseMs: 200,
        waitMs: BODY_TIMEOUT_MS * 4,
      });
      assert.equal(slow.status, 408);
      assert.ok(slow.ms >= BODY_TIMEOUT_MS - 100, `after the deadline (${slow.ms} ms)`);
      await stillServes();
    });

    it('refuses a garbage Content-Length with a 4xx, never a crash', async () => {
      for (const length of ['abc', '-1', '1, 2', '99999999999999999999999', '0x10', ' ']) {
        const answer = await raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': length }), ['From=x']);
        assert.ok(answer.status >= 400 && answer.status < 500, `Content-Length "${length}" → ${answer.status}`);
      }
      const twoLengths = await raw(
        port,
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Twilio-Signature: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc`,
      );
      assert.ok(twoLengths.status >= 400 && twoLengths.status < 500, `two lengths → ${twoLengths.status}`);
      await stillServes();
    });

    it('takes a chunked, correctly signed webhook', async () => {
      const params = freshText();
      const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://127.0.0.1:${port}${path}`, params);
      const form = new URLSearchParams(params).toString();
      const answer = await raw(
        port,
        head(path, {
          Host: `127.0.0.1:${port}`,
          'X-Twilio-Signature': signature,
          'Content-Type': 'application/x-www-form-urlencoded',
          'Transfer-Encoding': 'chunked',
          ...authHeader,
        }),
        chunked([form.slice(0, 20), form.slice(20)]),
      );
      assert.equal(answer.status, 200);
      assert.match(answer.text, /got still here/);
    });

    it("takes a JSON webhook by its bodySHA256: the editor's body parsers leave its bytes alone", async () => {
      const body = JSON.stringify({
        MessageSid: freshText().MessageSid,
        AccountSid: DEMO_ACCOUNT.sid,
        Body: 'still here',
        MessageStatus: 'received',
      });
      const hashed = `${path}?bodySHA256=${crypto.createHash('sha256').update(body).digest('hex')}`;
      const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://127.0.0.1:${port}${hashed}`, {});
      const answer = await fetch(`http://127.0.0.1:${port}${hashed}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': signature, ...authHeader },
        body,
      });
      assert.equal(answer.status, 200);
      assert.match(await answer.text(), /got still here/);
      const empty = await fetch(`http://127.0.0.1:${port}${hashed}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature, ...authHeader },
        body: '',
      });
      assert.equal(empty.status, 403, "the URL's signature does not cover another body");
    });

    it('refuses what Twilio never sends before spending work on it: other types, huge forms, deep JSON', async () => {
      const junk = { ...authHeader, 'X-Twilio-Signature': 'forged' };
      const asText = await raw(port, head(path, { ...junk, 'Content-Type': 'text/plain', 'Content-Length': 6 }), ['From=x']);
      const noType = await raw(port, head(path, { ...junk, 'Content-Length': 6 }), ['From=x']);
      const multipart = await raw(port, head(path, { ...junk, 'Content-Type': 'multipart/form-data; boundary=x', 'Content-Length': 6 }), [
        'From=x',
      ]);
      for (const answer of [asText, noType, multipart]) assert.equal(answer.status, 415);
      const manyKeys = Array.from({ length: 20_000 }, (_, i) => `k${i}=`).join('&');
      const many = await raw(
        port,
        head(path, { ...junk, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': manyKeys.length }),
        [manyKeys],
      );
      assert.equal(many.status, 413, 'a form with 20,000 parameters');
      const long = 'Body=' + 'a'.repeat(200 * 1024);
      const big = await raw(
        port,
        head(path, { ...junk, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': long.length }),
        [long],
      );
      assert.equal(big.status, 413, 'a form of 200 KiB');
      // Spellings of the target that Express routes here: the body waits for the route under each.
      for (const target of [`${path}#fragment`, `http://127.0.0.1:${port}${path}`, `${path}?a=1#b`]) {
        const spelled = await raw(
          port,
          head(target, { ...junk, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': long.length }),
          [long],
        );
        assert.equal(spelled.status, 413, `a 200 KiB form to ${target}`);
      }
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      const nested = await raw(
        port,
        head(`${path}?bodySHA256=${crypto.createHash('sha256').update(deep).digest('hex')}`, {
          ...junk,
          'Content-Type': 'application/json',
          'Content-Length': deep.length,
        }),
        [deep],
      );
      assert.equal(nested.status, 413, 'JSON nested 100,000 deep');
      await stillServes();
    });

    it('defers the body of the route under any spelling Express routes to it (case, trailing slash)', async () => {
      for (const spelling of [path.toUpperCase(), `${path}/`, path.replace('sms', 'SMS')]) {
        const body = JSON.stringify({ MessageSid: freshText().MessageSid, AccountSid: DEMO_ACCOUNT.sid, Body: 'still here' });
        const hashed = `${spelling}?bodySHA256=${crypto.createHash('sha256').update(body).digest('hex')}`;
        const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://127.0.0.1:${port}${hashed}`, {});
        const answer = await fetch(`http://127.0.0.1:${port}${hashed}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': signature, ...authHeader },
          body,
        });
        assert.equal(answer.status, 200, spelling);
        assert.match(await answer.text(), /got still here/, `${spelling}: the exact bytes reached the signature check`);
      }
    });

    it('survives 120 hostile requests at once', async () => {
      const big = Buffer.alloc(1024 * 1024 + 10, 'a');
      const attacks = Array.from({ length: 120 }, (_, i) => {
        switch (i % 5) {
          case 0:
            return raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': big.length }), [big]);
          case 1:
            return raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': 9000 }), ['From=1'], { cut: true });
          case 2:
            return raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': 'zz' }));
          case 3:
            return raw(port, head(path, { ...signed, ...authHeader, 'Content-Length': 40 }), ['a'], {
              pauseMs: 100,
              waitMs: BODY_TIMEOUT_MS * 4,
            });
          default:
            return raw(port, head(path, { ...signed, ...authHeader, 'Transfer-Encoding': 'chunked' }), chunked(['From=%2B1&Body=x']));
        }
      });
      const answers = await Promise.all(attacks);
      for (const answer of answers)
        assert.ok(answer.status === 0 || (answer.status >= 400 && answer.status < 500), `never a 5xx: ${answer.status}`);
      await stillServes();
    });

    if (variant.auth) {
      it('refuses what httpNodeAuth refuses before reading its body', async () => {
        const huge = await raw(port, head(path, { ...signed, 'Content-Length': 50 * 1024 * 1024 }), [Buffer.alloc(64 * 1024, 'a')]);
        assert.equal(huge.status, 401);
        const slow = await raw(port, head(path, { ...signed, 'Content-Length': 100 }), ['a'], { pauseMs: 50, waitMs: BODY_TIMEOUT_MS * 4 });
        assert.equal(slow.status, 401);
        assert.ok(slow.ms < BODY_TIMEOUT_MS, `refused at once, not after the body deadline (${slow.ms} ms)`);
        const wrong = await raw(
          port,
          head(path, { ...signed, Authorization: `Basic ${Buffer.from('hook:guess').toString('base64')}`, 'Content-Length': 6 }),
          ['From=x'],
        );
        assert.equal(wrong.status, 401);
        await stillServes();
      });
    }
  });
}
