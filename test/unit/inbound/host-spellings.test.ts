/**
 * Host spellings (attack23, ATTACK 2: what held, kept as guards; own names at another port: fixed) against acceptedHost (lib/inbound/webhook.ts) and the host the
 * receiver reads (requestHost). All pass today; kept as guards.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptedHost, requestHost, requestProto, signedUrl } from '../../../lib/inbound/webhook';

const own = () => new Set(['localhost', '127.0.0.1', '::1', 'myhost']);
const named = ['home.example.com', 'tunnel.example.net:8443'];

describe('Host spellings', () => {
  it('refuses look-alikes of our names', () => {
    for (const host of [
      'localhost.',
      '127.0.0.1.',
      'home.example.com.',
      '127%2e0%2e0%2e1',
      'a@127.0.0.1',
      '127.0.0.1@other.example.com',
      '127.0.0.1:1@other.example.com',
      'other.example.com#127.0.0.1',
      'other.example.com/127.0.0.1',
      'other.example.com?127.0.0.1',
      '127.0.0.1 other.example.com',
      'home.example.com.evil.com',
      'evilhome.example.com',
      '[::1].evil.com',
      '[::1]evil',
      'tunnel.example.net:443',
      'tunnel.example.net',
      'http://127.0.0.1',
      '',
    ])
      assert.equal(acceptedHost(host, named, own), false, JSON.stringify(host));
  });
  it('accepts case and IPv6 spellings of ours', () => {
    for (const host of ['LOCALHOST', '[::1]:1880', '::1', 'Home.Example.COM:80', 'TUNNEL.example.net:8443', 'myhost:1880'])
      assert.equal(acceptedHost(host, named, own), true, host);
  });
  it('reads the first of an X-Forwarded-Host list only when the proxy is trusted; a Host list is its first', () => {
    const req = (headers: Record<string, string | string[]>) => ({ originalUrl: '/hook', protocol: 'http', headers });
    assert.equal(
      requestHost(req({ host: 'localhost', 'x-forwarded-host': 'other.example.com, localhost' }), { trustProxy: true }),
      'other.example.com',
    );
    assert.equal(requestHost(req({ host: 'localhost', 'x-forwarded-host': 'other.example.com' })), 'localhost');
    assert.equal(requestHost(req({ host: 'other.example.com, localhost' })), 'other.example.com');
  });
  it("takes this machine's own names with no port or at Node-RED's ports only; another port must be named", () => {
    for (const host of ['localhost:8080', '127.0.0.1:1', '[::1]:8080', 'myhost:65535'])
      assert.equal(acceptedHost(host, named, own), false, host);
    assert.equal(acceptedHost('localhost:8080', named, own, [8080]), true);
    assert.equal(acceptedHost('localhost:1880', named, own, [8080]), false);
    assert.equal(acceptedHost('[::1]:8080', named, own, [8080]), true);
    assert.equal(acceptedHost('localhost', named, own, []), true);
    assert.equal(acceptedHost('localhost:8080', ['localhost:8080'], own, []), true);
    assert.equal(acceptedHost('localhost:8081', ['localhost:8080'], own, []), false);
  });
  it('takes X-Forwarded-Proto only as http or https (first of a list, any case); anything else is none', () => {
    const req = (proto: string | undefined) => ({
      originalUrl: '/hook',
      protocol: 'http',
      headers: { host: 'localhost', 'x-forwarded-proto': proto },
    });
    assert.equal(requestProto(req('HTTPS'), { trustProxy: true }), 'https');
    assert.equal(requestProto(req(' https , http'), { trustProxy: true }), 'https');
    assert.equal(requestProto(req(undefined), { trustProxy: true }), 'http');
    assert.equal(requestProto(req('https://other.example.com/sms?a='), { trustProxy: false }), 'http');
    for (const proto of ['https://other.example.com/sms?a=', 'ftp', 'https:', 'http ://x', 'javascript'])
      assert.equal(requestProto(req(proto), { trustProxy: true }), undefined, proto);
    assert.throws(() => signedUrl(req('https://other.example.com/x'), { trustProxy: true }));
    assert.equal(signedUrl(req('HTTPS'), { trustProxy: true }), 'https://localhost/hook');
  });
});
