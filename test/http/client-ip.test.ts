/**
 * Forged client IP behind a proxy (audit item 5), as a table: the client's address from the socket
 * peer, X-Forwarded-For and TRUST_PROXY. A proxy appends the address it saw to whatever the client
 * sent, so only the right-hand entries added by trusted proxies may be believed.
 */
import { describe, expect, it } from '@jest/globals';
import { clientAddress, parseTrustProxy } from '../../src/http/client-ip.js';
import { ConfigError, loadSettings } from '../../src/config/settings.js';

const none = parseTrustProxy('false');
const one = parseTrustProxy('1');
const two = parseTrustProxy('2');
const nginx = parseTrustProxy('10.0.0.0/8, 127.0.0.1');

describe('the client IP', () => {
  it.each([
    // [what, socket peer, X-Forwarded-For, setting, client]
    ['no proxy: the header is ignored', '198.51.100.9', '203.0.113.77', none, '198.51.100.9'],
    ['no proxy: a dual-stack socket\'s mapped address reads as IPv4', '::ffff:198.51.100.9', undefined, none, '198.51.100.9'],
    ['one proxy: the last entry (what nginx appended)', '127.0.0.1', '203.0.113.77, 127.0.0.1', one, '127.0.0.1'],
    ['one proxy: a client that sent nothing', '127.0.0.1', '81.2.69.142', one, '81.2.69.142'],
    ['one proxy: no header at all is the proxy itself', '127.0.0.1', undefined, one, '127.0.0.1'],
    ['one proxy: several header lines joined', '127.0.0.1', '203.0.113.77,203.0.113.78, 81.2.69.142', one, '81.2.69.142'],
    ['one proxy: junk in the last entry stops the walk', '127.0.0.1', '203.0.113.77, unknown', one, '127.0.0.1'],
    ['one proxy: an entry with a port', '127.0.0.1', '81.2.69.142:51234', one, '81.2.69.142'],
    ['one proxy: IPv6 entries in brackets with a port', '127.0.0.1', '[2001:db8::7]:443', one, '2001:db8::7'],
    ['two proxies: the second entry from the right', '10.0.0.2', '203.0.113.77, 81.2.69.142, 10.0.0.1', two, '81.2.69.142'],
    ['two proxies but one in the header: the farthest known', '10.0.0.2', '81.2.69.142', two, '81.2.69.142'],
    ['listed proxies: trusted entries are skipped', '127.0.0.1', '203.0.113.77, 81.2.69.142, 10.1.1.1', nginx, '81.2.69.142'],
    ['listed proxies: an untrusted peer is the client, whatever it writes', '198.51.100.9', '81.2.69.142', nginx, '198.51.100.9'],
    ['listed proxies: a mapped peer matches its IPv4 range', '::ffff:127.0.0.1', '81.2.69.142', nginx, '81.2.69.142'],
    ['listed proxies: all trusted, the left-most is the best we know', '127.0.0.1', '10.0.0.5, 10.0.0.6', nginx, '10.0.0.5'],
    ['listed proxies: junk stops at the last trusted proxy', '127.0.0.1', '203.0.113.77, bogus, 10.0.0.6', nginx, '10.0.0.6'],
  ])('%s', (_what, peer, xff, trust, expected) => {
    expect(clientAddress(peer, xff, trust)).toBe(expected);
  });
});

describe('TRUST_PROXY', () => {
  it.each([
    [undefined, { kind: 'none' }], ['', { kind: 'none' }], ['false', { kind: 'none' }], ['0', { kind: 'none' }], ['off', { kind: 'none' }],
    ['true', { kind: 'hops', hops: 1 }], ['1', { kind: 'hops', hops: 1 }], ['3', { kind: 'hops', hops: 3 }],
  ])('%s reads as %j', (raw, expected) => {
    expect(parseTrustProxy(raw)).toEqual(expected);
  });

  it('reads addresses and ranges', () => {
    const t = parseTrustProxy('127.0.0.1, 10.0.0.0/8, fd00::/8');
    expect(t.kind).toBe('addresses');
    expect(t.kind === 'addresses' && t.ranges).toHaveLength(3);
  });

  it.each([['maybe'], ['10.0.0.0/99'], ['33'], ['10.0.0.1, nginx']])('stops the start on %s, naming TRUST_PROXY', (raw) => {
    let error: unknown;
    try {
      loadSettings({ TRUST_PROXY: raw }, '/tmp');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^environment: TRUST_PROXY: /);
  });
});
