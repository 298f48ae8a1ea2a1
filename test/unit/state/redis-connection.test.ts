/**
 * How the Redis backend connects: a password in the URL or in the options, and a wrong one refused
 * (the engine rejects, it does not hang); `rediss://` to a TLS server (a self-signed certificate made
 * with openssl for the test). Skipped, with the reason, where redis-server (or openssl) is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { RedisStateEngine } from '../../../lib/state/redis';
import { freePort } from '../../support/prism';
import { noRedis, startRedis, suiteNeeding, type RedisServer } from '../../support/redis';

suiteNeeding(noRedis, 'redis state engine: connection', () => {
  let server: RedisServer;
  before(async () => (server = await startRedis(['--requirepass', 's3cret pass'])));
  after(() => server.stop());

  it('authenticates with a password in the URL or in the options', async () => {
    const port = new URL(server.url).port;
    for (const engine of [
      new RedisStateEngine({ url: `redis://:${encodeURIComponent('s3cret pass')}@127.0.0.1:${port}` }),
      new RedisStateEngine({ url: server.url, password: 's3cret pass' }),
    ]) {
      try {
        assert.ok(await engine.claim('hello', 60_000));
        assert.equal(await engine.claim('hello', 60_000), false);
        await engine.delete('hello');
      } finally {
        await engine.close();
      }
    }
  });

  it('rejects when the password is wrong, and tells onError', async () => {
    const errors: Error[] = [];
    const engine = new RedisStateEngine({ url: server.url, password: 'not-the-pass-42', onError: (err) => errors.push(err) });
    try {
      const refused = await engine.get('hello').then(
        () => assert.fail('a wrong password was taken'),
        (err: Error) => err,
      );
      assert.match(refused.message, /WRONGPASS|NOAUTH|invalid/i);
      // The password it was given never shows in what it reports.
      assert.ok(errors.length > 0);
      for (const text of [refused.message, ...errors.map((e) => e.message)]) assert.ok(!text.includes('not-the-pass-42'), text);
    } finally {
      await engine.close();
    }
  });
});

const noOpenssl =
  spawnSync('openssl', ['version']).status === 0 ? undefined : 'no openssl to make a test certificate: apt-get install openssl';

suiteNeeding(noRedis ?? noOpenssl, 'redis state engine: TLS', () => {
  let server: RedisServer;
  let port: number;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-redis-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  before(async () => {
    const made = spawnSync('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
    ]);
    assert.equal(made.status, 0, String(made.stderr));
    port = await freePort();
    server = await startRedis(['--tls-port', String(port), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no']);
  });
  after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('speaks rediss:// with the server CA given as tls.ca', async () => {
    const engine = new RedisStateEngine({ url: `rediss://127.0.0.1:${port}`, tls: { ca: fs.readFileSync(cert) } });
    try {
      assert.ok(await engine.put('over-tls', { ok: true }));
      assert.deepEqual((await engine.get('over-tls'))?.value, { ok: true });
    } finally {
      await engine.close();
    }
  });
});
