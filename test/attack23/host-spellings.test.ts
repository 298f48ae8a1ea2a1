/**
 * ATTACK 2 (what held): Host spellings against acceptedHost (lib/inbound/webhook.ts) and the host the
 * receiver reads (requestHost). All pass today; kept as guards.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptedHost, requestHost } from '../../lib/inbound/webhook';

const own = () => new Set(['localhost', '127.0.0.1', '::1', 'myhost']);
const named = ['home.example.com', 'tunnel.example.net:8443'];

describe('attack23 (held): Host spellings', () => {
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
});
